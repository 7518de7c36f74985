import { ShapeError, shapeStr } from "../errors.js";
import { checkTensor, tensor, toFloat64Array, zeros, type Tensor } from "../tensor.js";
import type { LayerOutput } from "./layers.js";

/**
 * Batch normalization's settings and running statistics. `runningMean` and `runningVar` are written by
 * every train-mode call (zeros before the first); test mode reads them.
 */
export interface BatchnormParam {
  mode: "train" | "test";
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** running = momentum·running + (1 − momentum)·batch (default 0.9). */
  momentum?: number;
  runningMean?: Tensor;
  runningVar?: Tensor;
}

/** What a train-mode batchnormForward keeps for the backward pass. */
export interface BatchnormCache {
  /** The normalized input (x − μ)/√(σ² + eps), (N, D). */
  xhat: Tensor;
  gamma: Tensor;
  /** 1/√(σ² + eps) per feature, (D). */
  invStd: Tensor;
  mode: "train" | "test";
}

/**
 * Batch normalization over the N examples of each of the D features: out = gamma·(x − μ)/√(σ² + eps) + beta.
 * Train mode uses the batch mean and biased variance and updates bnParam's running statistics; test mode
 * uses the running statistics.
 * x: (N, D), gamma: (D), beta: (D), out: (N, D)
 */
export function batchnormForward(x: Tensor, gamma: Tensor, beta: Tensor, bnParam: BatchnormParam): LayerOutput<BatchnormCache> {
  const fn = "batchnormForward";
  checkTensor(fn, "x", x, 2);
  const [n, d] = x.shape;
  checkTensor(fn, "gamma", gamma, [d]);
  checkTensor(fn, "beta", beta, [d]);
  if (bnParam === null || typeof bnParam !== "object") {
    throw new TypeError(`${fn}: bnParam must be an object { mode, eps, momentum }, got ${String(bnParam)}`);
  }
  const { mode, eps = 1e-5, momentum = 0.9 } = bnParam;
  if (mode !== "train" && mode !== "test") {
    throw new RangeError(`${fn}: bnParam.mode must be "train" or "test", got ${JSON.stringify(mode)}`);
  }
  if (!(typeof eps === "number" && eps >= 0)) throw new RangeError(`${fn}: bnParam.eps must be a non-negative number, got ${String(eps)}`);
  if (!(typeof momentum === "number" && momentum >= 0 && momentum <= 1)) {
    throw new RangeError(`${fn}: bnParam.momentum must be in [0, 1], got ${String(momentum)}`);
  }
  const running = (name: "runningMean" | "runningVar"): Float64Array => {
    const t = bnParam[name];
    if (t === undefined) return new Float64Array(d);
    return toFloat64Array(checkTensor(fn, `bnParam.${name}`, t, [d]));
  };
  const rm = running("runningMean");
  const rv = running("runningVar");
  const xs = toFloat64Array(x);
  const g = toFloat64Array(gamma);
  const b = toFloat64Array(beta);
  let mu: Float64Array;
  let variance: Float64Array;
  if (mode === "train") {
    if (n === 0) throw new ShapeError(`${fn}: train mode needs at least one example, got x of shape ${shapeStr(x.shape)}`);
    mu = new Float64Array(d);
    variance = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += xs[i * d + j];
    for (let j = 0; j < d; j++) mu[j] /= n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const c = xs[i * d + j] - mu[j];
        variance[j] += c * c;
      }
    }
    for (let j = 0; j < d; j++) variance[j] /= n;
    const nextMean = new Float64Array(d);
    const nextVar = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      nextMean[j] = momentum * rm[j] + (1 - momentum) * mu[j];
      nextVar[j] = momentum * rv[j] + (1 - momentum) * variance[j];
    }
    bnParam.runningMean = tensor(nextMean, [d]);
    bnParam.runningVar = tensor(nextVar, [d]);
  } else {
    mu = rm;
    variance = rv;
  }
  const invStd = new Float64Array(d);
  for (let j = 0; j < d; j++) invStd[j] = 1 / Math.sqrt(variance[j] + eps);
  const xhat = new Float64Array(n * d);
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const k = i * d + j;
      xhat[k] = (xs[k] - mu[j]) * invStd[j];
      out[k] = g[j] * xhat[k] + b[j];
    }
  }
  return { out: tensor(out, [n, d]), cache: { xhat: tensor(xhat, [n, d]), gamma, invStd: tensor(invStd, [d]), mode } };
}

/**
 * Backward pass of a train-mode batchnormForward, through the batch statistics:
 * dx = gamma/(N·√(σ² + eps)) · (N·dout − Σ dout − x̂·Σ(dout·x̂)), sums over the examples.
 * dout: (N, D), dx: (N, D), dgamma: (D), dbeta: (D)
 */
export function batchnormBackward(dout: Tensor, cache: BatchnormCache): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const fn = "batchnormBackward";
  const [n, d] = cache.xhat.shape;
  checkTensor(fn, "dout", dout, [n, d]);
  if (cache.mode !== "train") {
    throw new RangeError(`${fn}: the cache comes from a test-mode forward pass; backpropagate through train mode`);
  }
  const dy = toFloat64Array(dout);
  const xh = cache.xhat.data;
  const g = toFloat64Array(cache.gamma);
  const inv = cache.invStd.data;
  const dgamma = zeros([d]);
  const dbeta = zeros([d]);
  const dg = dgamma.data;
  const db = dbeta.data;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const k = i * d + j;
      db[j] += dy[k];
      dg[j] += dy[k] * xh[k];
    }
  }
  const dx = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const k = i * d + j;
      dx[k] = ((g[j] * inv[j]) / n) * (n * dy[k] - db[j] - xh[k] * dg[j]);
    }
  }
  return { dx: tensor(dx, [n, d]), dgamma, dbeta };
}
