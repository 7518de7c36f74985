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
  // BEGIN SOLUTION
  if (w.shape[1] !== C) throw new ShapeError(`${fn}: w.shape[1] (${w.shape[1]}) must equal x.shape[1] (${C}): a filter has one slice per input channel`);
  if (b.shape[0] !== F) throw new ShapeError(`${fn}: b.shape[0] (${b.shape[0]}) must equal w.shape[0] (${F}), one bias per filter`);
  const Hout = windowCount(fn, "height", H, HH, pad, stride);
  const Wout = windowCount(fn, "width", W, WW, pad, stride);
  const xd = toFloat64Array(x);
  const wd = toFloat64Array(w);
  const bd = toFloat64Array(b);
  const out = zeros([N, F, Hout, Wout]);
  const od = out.data;
  for (let n = 0; n < N; n++) {
    for (let f = 0; f < F; f++) {
      for (let i = 0; i < Hout; i++) {
        for (let j = 0; j < Wout; j++) {
          let s = bd[f];
          for (let c = 0; c < C; c++) {
            for (let u = 0; u < HH; u++) {
              const r = i * stride + u - pad;
              if (r < 0 || r >= H) continue;
              for (let v = 0; v < WW; v++) {
                const q = j * stride + v - pad;
                if (q < 0 || q >= W) continue;
                s += wd[((f * C + c) * HH + u) * WW + v] * xd[((n * C + c) * H + r) * W + q];
              }
            }
          }
          od[((n * F + f) * Hout + i) * Wout + j] = s;
        }
      }
    }
  }
  return { out, cache: { x, w, b, convParam: { stride, pad } } };
  // END SOLUTION
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
  // BEGIN SOLUTION
  const xd = toFloat64Array(x);
  const wd = toFloat64Array(w);
  const gd = toFloat64Array(dout);
  const dx = zeros([N, C, H, W]);
  const dw = zeros([F, C, HH, WW]);
  const db = zeros([F]);
  for (let n = 0; n < N; n++) {
    for (let f = 0; f < F; f++) {
      for (let i = 0; i < Hout; i++) {
        for (let j = 0; j < Wout; j++) {
          const g = gd[((n * F + f) * Hout + i) * Wout + j];
          db.data[f] += g;
          for (let c = 0; c < C; c++) {
            for (let u = 0; u < HH; u++) {
              const r = i * stride + u - pad;
              if (r < 0 || r >= H) continue;
              for (let v = 0; v < WW; v++) {
                const q = j * stride + v - pad;
                if (q < 0 || q >= W) continue;
                const wi = ((f * C + c) * HH + u) * WW + v;
                const xi = ((n * C + c) * H + r) * W + q;
                dw.data[wi] += g * xd[xi];
                dx.data[xi] += g * wd[wi];
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw, db };
  // END SOLUTION
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
  // BEGIN SOLUTION
  const Hout = windowCount(fn, "height", H, p.poolHeight, 0, p.stride);
  const Wout = windowCount(fn, "width", W, p.poolWidth, 0, p.stride);
  const xd = toFloat64Array(x);
  const out = zeros([N, C, Hout, Wout]);
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < Hout; i++) {
      for (let j = 0; j < Wout; j++) {
        let best = -Infinity;
        for (let u = 0; u < p.poolHeight; u++) {
          for (let v = 0; v < p.poolWidth; v++) {
            best = Math.max(best, xd[(nc * H + i * p.stride + u) * W + j * p.stride + v]);
          }
        }
        out.data[(nc * Hout + i) * Wout + j] = best;
      }
    }
  }
  return { out, cache: { x, poolParam: p } };
  // END SOLUTION
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
  // BEGIN SOLUTION
  const xd = toFloat64Array(x);
  const gd = toFloat64Array(dout);
  const dx = zeros([N, C, H, W]);
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < Hout; i++) {
      for (let j = 0; j < Wout; j++) {
        let best = -Infinity;
        let at = -1;
        for (let u = 0; u < p.poolHeight; u++) {
          for (let v = 0; v < p.poolWidth; v++) {
            const k = (nc * H + i * p.stride + u) * W + j * p.stride + v;
            if (xd[k] > best || at < 0) {
              best = xd[k];
              at = k;
            }
          }
        }
        dx.data[at] += gd[(nc * Hout + i) * Wout + j];
      }
    }
  }
  return { dx };
  // END SOLUTION
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
  // BEGIN SOLUTION
  const Hout = windowCount(fn, "height", H, p.poolHeight, 0, p.stride);
  const Wout = windowCount(fn, "width", W, p.poolWidth, 0, p.stride);
  const xd = toFloat64Array(x);
  const out = zeros([N, C, Hout, Wout]);
  const area = p.poolHeight * p.poolWidth;
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < Hout; i++) {
      for (let j = 0; j < Wout; j++) {
        let s = 0;
        for (let u = 0; u < p.poolHeight; u++) {
          for (let v = 0; v < p.poolWidth; v++) s += xd[(nc * H + i * p.stride + u) * W + j * p.stride + v];
        }
        out.data[(nc * Hout + i) * Wout + j] = s / area;
      }
    }
  }
  return { out, cache: { x, poolParam: p } };
  // END SOLUTION
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
  // BEGIN SOLUTION
  const gd = toFloat64Array(dout);
  const dx = zeros([N, C, H, W]);
  const area = p.poolHeight * p.poolWidth;
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < Hout; i++) {
      for (let j = 0; j < Wout; j++) {
        const g = gd[(nc * Hout + i) * Wout + j] / area;
        for (let u = 0; u < p.poolHeight; u++) {
          for (let v = 0; v < p.poolWidth; v++) dx.data[(nc * H + i * p.stride + u) * W + j * p.stride + v] += g;
        }
      }
    }
  }
  return { dx };
  // END SOLUTION
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
  // BEGIN SOLUTION
  if (H * W === 0) throw new ShapeError(`${fn}: x must have at least one pixel, got shape ${shapeStr(x.shape)}`);
  const xd = toFloat64Array(x);
  const out = zeros([N, C]);
  for (let nc = 0; nc < N * C; nc++) {
    let s = 0;
    for (let k = 0; k < H * W; k++) s += xd[nc * H * W + k];
    out.data[nc] = s / (H * W);
  }
  return { out, cache: { shape: [N, C, H, W] } };
  // END SOLUTION
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
  // BEGIN SOLUTION
  const gd = toFloat64Array(dout);
  const dx = zeros([N, C, H, W]);
  for (let nc = 0; nc < N * C; nc++) dx.data.fill(gd[nc] / (H * W), nc * H * W, (nc + 1) * H * W);
  return { dx };
  // END SOLUTION
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
  // BEGIN SOLUTION
  const M = N * H * W;
  if (bnParam.mode === "train" && M === 0) throw new ShapeError(`${fn}: train mode needs at least one value per channel, got x of shape ${shapeStr(x.shape)}`);
  const xd = toFloat64Array(x);
  const g = toFloat64Array(gamma);
  const bt = toFloat64Array(beta);
  const HW = H * W;
  const mu = new Float64Array(C);
  const vr = new Float64Array(C);
  if (bnParam.mode === "train") {
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) for (let k = 0; k < HW; k++) mu[c] += xd[(n * C + c) * HW + k];
    }
    for (let c = 0; c < C; c++) mu[c] /= M;
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        for (let k = 0; k < HW; k++) {
          const d = xd[(n * C + c) * HW + k] - mu[c];
          vr[c] += d * d;
        }
      }
    }
    for (let c = 0; c < C; c++) vr[c] /= M;
    const rm = toFloat64Array(runningMean);
    const rv = toFloat64Array(runningVar);
    bnParam.runningMean = zeros([C]);
    bnParam.runningVar = zeros([C]);
    for (let c = 0; c < C; c++) {
      bnParam.runningMean.data[c] = momentum * rm[c] + (1 - momentum) * mu[c];
      bnParam.runningVar.data[c] = momentum * rv[c] + (1 - momentum) * vr[c];
    }
  } else {
    mu.set(toFloat64Array(runningMean));
    vr.set(toFloat64Array(runningVar));
  }
  const invStd = zeros([C]);
  for (let c = 0; c < C; c++) invStd.data[c] = 1 / Math.sqrt(vr[c] + eps);
  const xhat = zeros([N, C, H, W]);
  const out = zeros([N, C, H, W]);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < HW; k++) {
        const i = (n * C + c) * HW + k;
        xhat.data[i] = (xd[i] - mu[c]) * invStd.data[c];
        out.data[i] = g[c] * xhat.data[i] + bt[c];
      }
    }
  }
  return { out, cache: { xhat, gamma, invStd } };
  // END SOLUTION
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
  // BEGIN SOLUTION
  const HW = H * W;
  const M = N * HW;
  const gd = toFloat64Array(dout);
  const xh = toFloat64Array(cache.xhat);
  const g = toFloat64Array(cache.gamma);
  const inv = toFloat64Array(cache.invStd);
  const dgamma = zeros([C]);
  const dbeta = zeros([C]);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < HW; k++) {
        const i = (n * C + c) * HW + k;
        dbeta.data[c] += gd[i];
        dgamma.data[c] += gd[i] * xh[i];
      }
    }
  }
  // Σ dxhat = gamma·dbeta and Σ dxhat·xhat = gamma·dgamma.
  const dx = zeros(shape);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < HW; k++) {
        const i = (n * C + c) * HW + k;
        dx.data[i] = ((g[c] * inv[c]) / M) * (M * gd[i] - dbeta.data[c] - xh[i] * dgamma.data[c]);
      }
    }
  }
  return { dx, dgamma, dbeta };
  // END SOLUTION
}
