import { ShapeError, checkTensor, shapeStr, toFloat64Array, zeros, type ConvParam, type PoolParam, type Tensor } from "@semantic-gap/lib";
import type { BatchnormParam } from "./layers.js";

// Convolution, pooling and spatial batch normalization written as plain loops: slow, but every index is
// in sight. The library's fast versions (convForwardFast, maxPoolForwardFast, ...) compute the same thing
// with matrix multiplies; the notebook compares the two. Images are (N, C, H, W) and filters (F, C, HH, WW).
// Read x and w through toFloat64Array (a row-major copy of any view), so element (n, c, i, j) of x sits at
// ((n·C + c)·H + i)·W + j.

// The hyperparameter objects are the library's (the fast layers take the same ones), and bnParam is
// layers.ts's, shared with batchnormForward.
export type { BatchnormParam, ConvParam, PoolParam };

export interface ConvCache {
  x: Tensor;
  w: Tensor;
  b: Tensor;
  convParam: ConvParam;
}

export interface PoolCache {
  x: Tensor;
  poolParam: PoolParam;
}

export interface GlobalPoolCache {
  shape: number[];
}

export interface SpatialBatchnormCache {
  /** The normalized input (x − μ)/√(σ² + eps), (N, C, H, W). */
  xhat: Tensor;
  gamma: Tensor;
  /** 1/√(σ² + eps) per channel, (C). */
  invStd: Tensor;
}

function checkPositiveInt(fn: string, name: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new RangeError(`${fn}: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

/**
 * The number of window positions along one axis, 1 + (size + 2·pad − window)/stride, or an error that names
 * the sizes when the window does not fit or the stride does not divide.
 */
export function windowCount(fn: string, axis: string, size: number, window: number, pad: number, stride: number): number {
  const span = size + 2 * pad - window;
  if (span < 0) {
    throw new ShapeError(`${fn}: the window (${window}) is larger than the padded ${axis} (${size} + 2·${pad} = ${size + 2 * pad})`);
  }
  if (span % stride !== 0) {
    throw new ShapeError(
      `${fn}: the ${axis} does not divide: ${axis} ${size} + 2·pad ${pad} − window ${window} = ${span} is not a multiple of stride ${stride}`,
    );
  }
  return 1 + span / stride;
}

function readConvParam(fn: string, convParam: ConvParam): { stride: number; pad: number } {
  if (convParam === null || typeof convParam !== "object") throw new TypeError(`${fn}: convParam must be an object { stride, pad }`);
  return {
    stride: checkPositiveInt(fn, "convParam.stride", convParam.stride, 1),
    pad: checkPositiveInt(fn, "convParam.pad", convParam.pad, 0),
  };
}

function readPoolParam(fn: string, poolParam: PoolParam): PoolParam {
  if (poolParam === null || typeof poolParam !== "object") {
    throw new TypeError(`${fn}: poolParam must be an object { poolHeight, poolWidth, stride }`);
  }
  return {
    poolHeight: checkPositiveInt(fn, "poolParam.poolHeight", poolParam.poolHeight, 1),
    poolWidth: checkPositiveInt(fn, "poolParam.poolWidth", poolParam.poolWidth, 1),
    stride: checkPositiveInt(fn, "poolParam.stride", poolParam.stride, 1),
  };
}

function checkGradShape(fn: string, dout: Tensor, expected: number[]): void {
  checkTensor(fn, "dout", dout);
  if (dout.shape.length !== expected.length || dout.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${fn}: dout must have the forward output's shape ${shapeStr(expected)}, got ${shapeStr(dout.shape)}`);
  }
}

/**
 * The forward pass of a convolutional layer: each of the F filters slides over the zero-padded input and
 * takes a dot product with every window it visits (cross-correlation: the filter is not flipped), plus its bias.
 * x: (N, C, H, W), w: (F, C, HH, WW), b: (F), out: (N, F, 1 + (H + 2·pad − HH)/stride, 1 + (W + 2·pad − WW)/stride)
 */
export function convForwardNaive(x: Tensor, w: Tensor, b: Tensor, convParam: ConvParam): { out: Tensor; cache: ConvCache } {
  const fn = "convForwardNaive";
  checkTensor(fn, "x", x, 4);
  checkTensor(fn, "w", w, 4);
  checkTensor(fn, "b", b, 1);
  const { stride, pad } = readConvParam(fn, convParam);
  const [N, C, H, W] = x.shape;
  const [F, , HH, WW] = w.shape;
  // TODO: Check the geometry: w must have x's channel count (an error naming both counts, e.g.
  // TODO: "w.shape[1] (2) must equal x.shape[1] (3)"), b one bias per filter, and windowCount gives the
  // TODO: output's height Hout and width Wout (it throws a clear error when the stride does not divide).
  // TODO: Then out[n, f, i, j] = b[f] + Σ_{c, u, v} w[f, c, u, v] · xpad[n, c, i·stride + u, j·stride + v],
  // TODO: where xpad is x with `pad` zeros on every side of H and W (read a position outside x as 0 rather
  // TODO: than building xpad). out: (N, F, Hout, Wout). Return { out, cache: { x, w, b, convParam } }.
  throw new Error("Not implemented: convForwardNaive");
}

/**
 * The backward pass of a convolutional layer.
 * dout: (N, F, Hout, Wout), dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F)
 */
export function convBackwardNaive(dout: Tensor, cache: ConvCache): { dx: Tensor; dw: Tensor; db: Tensor } {
  const fn = "convBackwardNaive";
  const { x, w } = cache;
  const { stride, pad } = readConvParam(fn, cache.convParam);
  const [N, C, H, W] = x.shape;
  const [F, , HH, WW] = w.shape;
  const Hout = 1 + (H + 2 * pad - HH) / stride;
  const Wout = 1 + (W + 2 * pad - WW) / stride;
  checkGradShape(fn, dout, [N, F, Hout, Wout]);
  // TODO: Every product w[f, c, u, v] · xpad[n, c, i·stride + u, j·stride + v] of the forward pass sends
  // TODO: dout[n, f, i, j] times the other factor to each factor's gradient: dw[f, c, u, v] gets
  // TODO: dout · xpad[...], and dx[n, c, r, q] gets dout · w[f, c, u, v] when (r, q) lies inside x (padding
  // TODO: positions have no gradient); db[f] is the sum of dout[:, f, :, :]. Shapes: dx like x, dw like w, db (F).
  throw new Error("Not implemented: convBackwardNaive");
}

/**
 * Max pooling: the largest value of each poolHeight x poolWidth window, windows `stride` apart.
 * x: (N, C, H, W), out: (N, C, 1 + (H − poolHeight)/stride, 1 + (W − poolWidth)/stride)
 */
export function maxPoolForwardNaive(x: Tensor, poolParam: PoolParam): { out: Tensor; cache: PoolCache } {
  const fn = "maxPoolForwardNaive";
  checkTensor(fn, "x", x, 4);
  const p = readPoolParam(fn, poolParam);
  const [N, C, H, W] = x.shape;
  // TODO: Hout and Wout from windowCount (no padding); out[n, c, i, j] is the maximum of
  // TODO: x[n, c, i·stride .. i·stride + poolHeight − 1, j·stride .. j·stride + poolWidth − 1].
  // TODO: out: (N, C, Hout, Wout). Return { out, cache: { x, poolParam } }.
  throw new Error("Not implemented: maxPoolForwardNaive");
}

/**
 * The backward pass of max pooling: each window's gradient goes to the position of its maximum; when
 * several positions tie, to the first of them in row-major order.
 * dout: (N, C, Hout, Wout), dx: (N, C, H, W)
 */
export function maxPoolBackwardNaive(dout: Tensor, cache: PoolCache): { dx: Tensor } {
  const fn = "maxPoolBackwardNaive";
  const { x } = cache;
  const p = readPoolParam(fn, cache.poolParam);
  const [N, C, H, W] = x.shape;
  const Hout = 1 + (H - p.poolHeight) / p.stride;
  const Wout = 1 + (W - p.poolWidth) / p.stride;
  checkGradShape(fn, dout, [N, C, Hout, Wout]);
  // TODO: For each window, find the position of its maximum (scanning rows top to bottom and each row left to
  // TODO: right, keep the first maximum: replace only on a strictly larger value) and add dout[n, c, i, j]
  // TODO: to dx there. Overlapping windows (stride < pool size) add up. dx: (N, C, H, W).
  throw new Error("Not implemented: maxPoolBackwardNaive");
}

/**
 * Average pooling: the mean of each poolHeight x poolWidth window, windows `stride` apart.
 * x: (N, C, H, W), out: (N, C, 1 + (H − poolHeight)/stride, 1 + (W − poolWidth)/stride)
 */
export function avgPoolForwardNaive(x: Tensor, poolParam: PoolParam): { out: Tensor; cache: PoolCache } {
  const fn = "avgPoolForwardNaive";
  checkTensor(fn, "x", x, 4);
  const p = readPoolParam(fn, poolParam);
  const [N, C, H, W] = x.shape;
  // TODO: As max pooling, with the mean of each window instead of its maximum. out: (N, C, Hout, Wout).
  // TODO: Return { out, cache: { x, poolParam } }.
  throw new Error("Not implemented: avgPoolForwardNaive");
}

/**
 * The backward pass of average pooling: each window's gradient is shared equally by its positions.
 * dout: (N, C, Hout, Wout), dx: (N, C, H, W)
 */
export function avgPoolBackwardNaive(dout: Tensor, cache: PoolCache): { dx: Tensor } {
  const fn = "avgPoolBackwardNaive";
  const { x } = cache;
  const p = readPoolParam(fn, cache.poolParam);
  const [N, C, H, W] = x.shape;
  const Hout = 1 + (H - p.poolHeight) / p.stride;
  const Wout = 1 + (W - p.poolWidth) / p.stride;
  checkGradShape(fn, dout, [N, C, Hout, Wout]);
  // TODO: Add dout[n, c, i, j] / (poolHeight·poolWidth) to every position of window (i, j). dx: (N, C, H, W).
  throw new Error("Not implemented: avgPoolBackwardNaive");
}

/**
 * Global average pooling: the mean of each channel over the whole image.
 * x: (N, C, H, W), out: (N, C)
 */
export function globalAvgPoolForward(x: Tensor): { out: Tensor; cache: GlobalPoolCache } {
  const fn = "globalAvgPoolForward";
  checkTensor(fn, "x", x, 4);
  const [N, C, H, W] = x.shape;
  // TODO: out[n, c] = the mean of x[n, c, :, :]. out: (N, C). Return { out, cache: { shape: x.shape } }.
  throw new Error("Not implemented: globalAvgPoolForward");
}

/**
 * The backward pass of global average pooling.
 * dout: (N, C), dx: (N, C, H, W)
 */
export function globalAvgPoolBackward(dout: Tensor, cache: GlobalPoolCache): { dx: Tensor } {
  const fn = "globalAvgPoolBackward";
  const [N, C, H, W] = cache.shape;
  checkGradShape(fn, dout, [N, C]);
  // TODO: Every pixel of channel c of image n gets dout[n, c] / (H·W). dx: (N, C, H, W).
  throw new Error("Not implemented: globalAvgPoolBackward");
}

/**
 * Batch normalization for images: one mean and variance per channel, over the N images and all H·W pixels,
 * then out = gamma[c]·(x − μ_c)/√(σ²_c + eps) + beta[c]. bnParam works as in batchnormForward: train mode
 * uses the batch's statistics (biased variance) and updates bnParam.runningMean/runningVar (zeros before the
 * first call) to momentum·running + (1 − momentum)·batch; test mode uses the running statistics.
 * x: (N, C, H, W), gamma: (C), beta: (C), out: (N, C, H, W)
 */
export function spatialBatchnormForward(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  bnParam: BatchnormParam,
): { out: Tensor; cache: SpatialBatchnormCache } {
  const fn = "spatialBatchnormForward";
  checkTensor(fn, "x", x, 4);
  const [N, C, H, W] = x.shape;
  checkTensor(fn, "gamma", gamma, [C]);
  checkTensor(fn, "beta", beta, [C]);
  if (bnParam === null || typeof bnParam !== "object" || (bnParam.mode !== "train" && bnParam.mode !== "test")) {
    throw new TypeError(`${fn}: bnParam must be an object with mode "train" or "test"`);
  }
  const { eps = 1e-5, momentum = 0.9 } = bnParam;
  const runningMean = bnParam.runningMean ?? zeros([C]);
  const runningVar = bnParam.runningVar ?? zeros([C]);
  checkTensor(fn, "bnParam.runningMean", runningMean, [C]);
  checkTensor(fn, "bnParam.runningVar", runningVar, [C]);
  // TODO: For each channel c, over the M = N·H·W values x[:, c, :, :]: in train mode take their mean μ_c and
  // TODO: biased variance σ²_c and set bnParam.runningMean and bnParam.runningVar to new (C) tensors
  // TODO: momentum·running + (1 − momentum)·batch; in test mode use the running ones instead. Then
  // TODO: xhat = (x − μ_c)/√(σ²_c + eps) and out = gamma[c]·xhat + beta[c]. (Or move the channel axis last,
  // TODO: reshape to (N·H·W, C), and reuse batchnormForward.) out: (N, C, H, W).
  // TODO: Return { out, cache: { xhat, gamma, invStd } } with invStd[c] = 1/√(σ²_c + eps).
  throw new Error("Not implemented: spatialBatchnormForward");
}

/**
 * The backward pass of spatial batch normalization (train mode).
 * dout: (N, C, H, W), dx: (N, C, H, W), dgamma: (C), dbeta: (C)
 */
export function spatialBatchnormBackward(
  dout: Tensor,
  cache: SpatialBatchnormCache,
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const fn = "spatialBatchnormBackward";
  const shape = cache.xhat.shape;
  checkGradShape(fn, dout, shape);
  const [N, C, H, W] = shape;
  // TODO: Per channel, over its M = N·H·W values: dbeta[c] = Σ dout, dgamma[c] = Σ dout·xhat, and with
  // TODO: dxhat = gamma[c]·dout, dx = invStd[c]/M · (M·dxhat − Σ dxhat − xhat·Σ(dxhat·xhat)) (the batchnorm
  // TODO: gradient, with every pixel of the channel counted as one example). dx: (N, C, H, W), dgamma, dbeta: (C).
  throw new Error("Not implemented: spatialBatchnormBackward");
}
