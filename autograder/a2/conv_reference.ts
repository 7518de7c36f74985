import { toFloat64Array, zeros, type Rng, type Tensor } from "@semantic-gap/lib";
import { intBetween } from "../src/cases.js";

export { intBetween };

// The grader's own convolution, pooling and spatial batchnorm, written apart from the reference solutions
// (explicitly padded input, loops over filter offsets outermost; statistics from channel-major copies), so
// the hidden tests never trust the code they grade against. Inputs are valid: the tests build them.

/** x with `pad` zeros on each side of its last two axes, as a flat row-major array. x: (N, C, H, W) */
function padded(x: Tensor, pad: number): { d: Float64Array; Hp: number; Wp: number } {
  const [N, C, H, W] = x.shape;
  const Hp = H + 2 * pad;
  const Wp = W + 2 * pad;
  const src = toFloat64Array(x);
  const d = new Float64Array(N * C * Hp * Wp);
  for (let nc = 0; nc < N * C; nc++) {
    for (let r = 0; r < H; r++) d.set(src.subarray((nc * H + r) * W, (nc * H + r + 1) * W), (nc * Hp + r + pad) * Wp + pad);
  }
  return { d, Hp, Wp };
}

export interface ConvGeometry {
  stride: number;
  pad: number;
}

/** Cross-correlation of x with every filter, plus bias. x: (N, C, H, W), w: (F, C, HH, WW), b: (F) */
export function refConvForward(x: Tensor, w: Tensor, b: Tensor, { stride, pad }: ConvGeometry): Tensor {
  const [N, C] = x.shape;
  const [F, , HH, WW] = w.shape;
  const { d, Hp, Wp } = padded(x, pad);
  const Ho = 1 + (Hp - HH) / stride;
  const Wo = 1 + (Wp - WW) / stride;
  const wd = toFloat64Array(w);
  const bd = toFloat64Array(b);
  const out = zeros([N, F, Ho, Wo]);
  const o = out.data;
  for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) o.fill(bd[f], (n * F + f) * Ho * Wo, (n * F + f + 1) * Ho * Wo);
  for (let u = 0; u < HH; u++) {
    for (let v = 0; v < WW; v++) {
      for (let c = 0; c < C; c++) {
        for (let f = 0; f < F; f++) {
          const wv = wd[((f * C + c) * HH + u) * WW + v];
          for (let n = 0; n < N; n++) {
            for (let i = 0; i < Ho; i++) {
              const row = ((n * C + c) * Hp + u + i * stride) * Wp + v;
              const orow = ((n * F + f) * Ho + i) * Wo;
              for (let j = 0; j < Wo; j++) o[orow + j] += wv * d[row + j * stride];
            }
          }
        }
      }
    }
  }
  return out;
}

/** The gradients of refConvForward for upstream gradient dout. */
export function refConvBackward(dout: Tensor, x: Tensor, w: Tensor, { stride, pad }: ConvGeometry): { dx: Tensor; dw: Tensor; db: Tensor } {
  const [N, C, H, W] = x.shape;
  const [F, , HH, WW] = w.shape;
  const { d, Hp, Wp } = padded(x, pad);
  const Ho = 1 + (Hp - HH) / stride;
  const Wo = 1 + (Wp - WW) / stride;
  const wd = toFloat64Array(w);
  const g = toFloat64Array(dout);
  const dpad = new Float64Array(d.length);
  const dw = zeros([F, C, HH, WW]);
  const db = zeros([F]);
  for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) for (let k = 0; k < Ho * Wo; k++) db.data[f] += g[(n * F + f) * Ho * Wo + k];
  for (let u = 0; u < HH; u++) {
    for (let v = 0; v < WW; v++) {
      for (let c = 0; c < C; c++) {
        for (let f = 0; f < F; f++) {
          const wi = ((f * C + c) * HH + u) * WW + v;
          let acc = 0;
          for (let n = 0; n < N; n++) {
            for (let i = 0; i < Ho; i++) {
              const row = ((n * C + c) * Hp + u + i * stride) * Wp + v;
              const grow = ((n * F + f) * Ho + i) * Wo;
              for (let j = 0; j < Wo; j++) {
                acc += g[grow + j] * d[row + j * stride];
                dpad[row + j * stride] += g[grow + j] * wd[wi];
              }
            }
          }
          dw.data[wi] = acc;
        }
      }
    }
  }
  const dx = zeros([N, C, H, W]);
  for (let nc = 0; nc < N * C; nc++) {
    for (let r = 0; r < H; r++) dx.data.set(dpad.subarray((nc * Hp + r + pad) * Wp + pad, (nc * Hp + r + pad) * Wp + pad + W), (nc * H + r) * W);
  }
  return { dx, dw, db };
}

export interface PoolGeometry {
  poolHeight: number;
  poolWidth: number;
  stride: number;
}

/**
 * Max or average pooling with its gradient routing: for each output position, the flat input indices of
 * its window in row-major order. x: (N, C, H, W)
 */
function windows(shape: number[], p: PoolGeometry): { Ho: number; Wo: number; at: (k: number) => number[] } {
  const [, , H, W] = shape;
  const Ho = 1 + (H - p.poolHeight) / p.stride;
  const Wo = 1 + (W - p.poolWidth) / p.stride;
  const at = (k: number): number[] => {
    const j = k % Wo;
    const i = Math.floor(k / Wo) % Ho;
    const nc = Math.floor(k / (Ho * Wo));
    const idx: number[] = [];
    for (let u = 0; u < p.poolHeight; u++) for (let v = 0; v < p.poolWidth; v++) idx.push((nc * H + i * p.stride + u) * W + j * p.stride + v);
    return idx;
  };
  return { Ho, Wo, at };
}

/** The pooled output and, for each output, the input position its gradient goes to (max: the first maximum). */
export function refPoolForward(x: Tensor, p: PoolGeometry, kind: "max" | "avg"): Tensor {
  const [N, C] = x.shape;
  const { Ho, Wo, at } = windows(x.shape, p);
  const xd = toFloat64Array(x);
  const out = zeros([N, C, Ho, Wo]);
  for (let k = 0; k < out.data.length; k++) {
    const vals = at(k).map((i) => xd[i]);
    out.data[k] = kind === "max" ? Math.max(...vals) : vals.reduce((a, v) => a + v, 0) / vals.length;
  }
  return out;
}

/** The gradient of refPoolForward; a max window sends its gradient to its first maximum in row-major order. */
export function refPoolBackward(dout: Tensor, x: Tensor, p: PoolGeometry, kind: "max" | "avg"): Tensor {
  const { at } = windows(x.shape, p);
  const xd = toFloat64Array(x);
  const g = toFloat64Array(dout);
  const dx = zeros(x.shape);
  for (let k = 0; k < g.length; k++) {
    const idx = at(k);
    if (kind === "avg") {
      for (const i of idx) dx.data[i] += g[k] / idx.length;
    } else {
      const vals = idx.map((i) => xd[i]);
      dx.data[idx[vals.indexOf(Math.max(...vals))]] += g[k];
    }
  }
  return dx;
}

/** The values of each channel, gathered channel by channel: (C) arrays of N·H·W values. */
function byChannel(x: Tensor): Float64Array[] {
  const [N, C, H, W] = x.shape;
  const xd = toFloat64Array(x);
  const HW = H * W;
  return Array.from({ length: C }, (_, c) => {
    const v = new Float64Array(N * HW);
    for (let n = 0; n < N; n++) v.set(xd.subarray((n * C + c) * HW, (n * C + c + 1) * HW), n * HW);
    return v;
  });
}

function fromChannels(chans: Float64Array[], shape: number[]): Tensor {
  const [N, C, H, W] = shape;
  const HW = H * W;
  const out = zeros(shape);
  for (let c = 0; c < C; c++) for (let n = 0; n < N; n++) out.data.set(chans[c].subarray(n * HW, (n + 1) * HW), (n * C + c) * HW);
  return out;
}

const meanOf = (v: Float64Array): number => v.reduce((a, b) => a + b, 0) / v.length;

export interface RefBnParam {
  mode: "train" | "test";
  eps?: number;
  momentum?: number;
  runningMean?: Tensor;
  runningVar?: Tensor;
}

/** Spatial batchnorm forward; returns the output and the running statistics after the call (C). */
export function refSpatialBnForward(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  bn: RefBnParam,
): { out: Tensor; runningMean: Float64Array; runningVar: Float64Array } {
  const C = x.shape[1];
  const eps = bn.eps ?? 1e-5;
  const momentum = bn.momentum ?? 0.9;
  const rm = bn.runningMean ? toFloat64Array(bn.runningMean) : new Float64Array(C);
  const rv = bn.runningVar ? toFloat64Array(bn.runningVar) : new Float64Array(C);
  const g = toFloat64Array(gamma);
  const b = toFloat64Array(beta);
  const chans = byChannel(x);
  const newMean = new Float64Array(C);
  const newVar = new Float64Array(C);
  const outs = chans.map((v, c) => {
    let mu: number;
    let va: number;
    if (bn.mode === "train") {
      mu = meanOf(v);
      va = meanOf(v.map((t) => (t - mu) * (t - mu)));
      newMean[c] = momentum * rm[c] + (1 - momentum) * mu;
      newVar[c] = momentum * rv[c] + (1 - momentum) * va;
    } else {
      mu = rm[c];
      va = rv[c];
      newMean[c] = rm[c];
      newVar[c] = rv[c];
    }
    const s = Math.sqrt(va + eps);
    return v.map((t) => (g[c] * (t - mu)) / s + b[c]);
  });
  return { out: fromChannels(outs, x.shape), runningMean: newMean, runningVar: newVar };
}

/** Spatial batchnorm backward in train mode (from x, not from a cache). */
export function refSpatialBnBackward(dout: Tensor, x: Tensor, gamma: Tensor, eps = 1e-5): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const C = x.shape[1];
  const g = toFloat64Array(gamma);
  const xs = byChannel(x);
  const ds = byChannel(dout);
  const dgamma = zeros([C]);
  const dbeta = zeros([C]);
  const dxs = xs.map((v, c) => {
    const M = v.length;
    const mu = meanOf(v);
    const va = meanOf(v.map((t) => (t - mu) * (t - mu)));
    const inv = 1 / Math.sqrt(va + eps);
    const xhat = v.map((t) => (t - mu) * inv);
    const d = ds[c];
    const sumD = d.reduce((a, t) => a + t, 0);
    const sumDX = d.reduce((a, t, i) => a + t * xhat[i], 0);
    dbeta.data[c] = sumD;
    dgamma.data[c] = sumDX;
    return d.map((t, i) => (g[c] * inv * (t - sumD / M - (xhat[i] * sumDX) / M)));
  });
  return { dx: fromChannels(dxs, x.shape), dgamma, dbeta };
}

/** True when `message` contains the number n as a whole number (not as part of 13 or 1.3). */
export function namesNumber(message: string, n: number): boolean {
  return new RegExp(`(^|[^0-9.])${n}([^0-9.]|$)`).test(message);
}
