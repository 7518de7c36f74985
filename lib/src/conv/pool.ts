import { ShapeError } from "../errors.js";
import { contiguous, zeros, type Tensor } from "../tensor.js";
import { sharedZeros } from "../gemm.js";
import { jobThreads, runJob, sharedCopy } from "../threads/pool.js";

// Planes (one image's one channel) are independent, so a batch's planes are shared among lib's threads in
// fixed chunks; each plane's outputs (and its input gradient) are the same on any number of threads.
const PLANES_PER_TASK = 16;
/** Inputs with fewer values than this are pooled on the calling thread. */
const THREAD_MIN_VALUES = 1 << 18;

import { checkDout, poolGeometry, type PoolGeometry, type PoolParam } from "./geometry.js";

/** What maxPoolForwardFast keeps for maxPoolBackwardFast. */
export interface MaxPoolCache {
  readonly kind: "maxPoolFast";
  poolParam: PoolParam;
  geometry: PoolGeometry;
  /** For each output, the position (ih·W + iw) of its window's maximum within its (H, W) plane. */
  argmax: Int32Array;
  /** Whether the windows tile the input without overlap (then each input gets at most one gradient). */
  tiled: boolean;
}

/**
 * Max pooling; a tie goes to the first maximum of the window in row-major order.
 * x: (N, C, H, W), out: (N, C, 1 + (H − poolHeight)/stride, 1 + (W − poolWidth)/stride)
 */
export function maxPoolForwardFast(x: Tensor, poolParam: PoolParam): { out: Tensor; cache: MaxPoolCache } {
  const g = poolGeometry("maxPoolForwardFast", x, poolParam);
  const { N, C, Ho, Wo } = g;
  const planes = N * C;
  const tasks = Math.ceil(planes / PLANES_PER_TASK);
  const threads = jobThreads(tasks, planes * g.H * g.W >= THREAD_MIN_VALUES);
  const shared = threads > 1;
  const xc = contiguous(x);
  let xs = xc.data;
  let xOff = xc.offset;
  if (shared) {
    xs = sharedCopy(xs.subarray(xOff, xOff + planes * g.H * g.W));
    xOff = 0;
  }
  const out = shared ? sharedZeros([N, C, Ho, Wo]) : zeros([N, C, Ho, Wo]);
  const argmax = shared ? new Int32Array(new SharedArrayBuffer(4 * out.data.length)) : new Int32Array(out.data.length);
  const tiled = g.stride === g.ph && g.stride === g.pw;
  const job: PoolForwardJob = { g, x: xs, xOff, out: out.data, argmax, tiled, chunk: PLANES_PER_TASK };
  runJob("maxPoolForward", job, tasks, threads);
  return { out, cache: { kind: "maxPoolFast", poolParam, geometry: g, argmax, tiled } };
}

/** Max pooling as a pool job: task t pools planes (n, c) [t·chunk, (t+1)·chunk) into their own outputs. */
export interface PoolForwardJob {
  g: PoolGeometry;
  x: Float64Array;
  xOff: number;
  out: Float64Array;
  argmax: Int32Array;
  tiled: boolean;
  chunk: number;
}

/** Runs task t of a forward pooling job (on any thread). */
export function maxPoolForwardTask(job: PoolForwardJob, t: number): void {
  const { g, x: xs, out: o, argmax, tiled } = job;
  const { N, C, H, W, ph, pw, stride, Ho, Wo } = g;
  const plane = H * W;
  const P = Ho * Wo;
  const q1 = Math.min(N * C, (t + 1) * job.chunk);
  for (let q = t * job.chunk; q < q1; q++) {
    const base = job.xOff + q * plane;
    const ob = q * P;
    if (tiled && ph === 2 && pw === 2) {
      // The usual 2x2 windows of stride 2: four reads each, compared in row-major order (strict >, so
      // the first maximum wins; a NaN first value stays, as in the general loop).
      for (let oh = 0; oh < Ho; oh++) {
        const r0 = 2 * oh * W;
        const r1 = r0 + W;
        const orow = ob + oh * Wo;
        for (let ow = 0; ow < Wo; ow++) {
          const c = 2 * ow;
          let best = xs[base + r0 + c];
          let at = r0 + c;
          let v = xs[base + r0 + c + 1];
          if (v > best) {
            best = v;
            at = r0 + c + 1;
          }
          v = xs[base + r1 + c];
          if (v > best) {
            best = v;
            at = r1 + c;
          }
          v = xs[base + r1 + c + 1];
          if (v > best) {
            best = v;
            at = r1 + c + 1;
          }
          o[orow + ow] = best;
          argmax[orow + ow] = at;
        }
      }
    } else if (tiled) {
      // Windows tile the plane: view it as (Ho, ph, Wo, pw) and reduce over the two window axes, reading
      // each input row once from left to right. Visiting (i, then ow, then j) keeps each window's own
      // order row-major, so the strict > keeps the first maximum.
      for (let oh = 0; oh < Ho; oh++) {
        const orow = ob + oh * Wo;
        for (let i = 0; i < ph; i++) {
          const ih = oh * ph + i;
          const r = base + ih * W;
          for (let ow = 0; ow < Wo; ow++) {
            const iw0 = ow * pw;
            let best = i === 0 ? -Infinity : o[orow + ow];
            let at = i === 0 ? -1 : argmax[orow + ow];
            for (let j = 0; j < pw; j++) {
              const v = xs[r + iw0 + j];
              if (v > best || at < 0) {
                best = v;
                at = ih * W + iw0 + j;
              }
            }
            o[orow + ow] = best;
            argmax[orow + ow] = at;
          }
        }
      }
    } else {
      for (let oh = 0; oh < Ho; oh++) {
        for (let ow = 0; ow < Wo; ow++) {
          let best = -Infinity;
          let at = -1;
          for (let i = 0; i < ph; i++) {
            const ih = oh * stride + i;
            const r = base + ih * W;
            for (let j = 0; j < pw; j++) {
              const iw = ow * stride + j;
              const v = xs[r + iw];
              if (v > best || at < 0) {
                best = v;
                at = ih * W + iw;
              }
            }
          }
          o[ob + oh * Wo + ow] = best;
          argmax[ob + oh * Wo + ow] = at;
        }
      }
    }
  }
}


/**
 * Gradient of maxPoolForwardFast: each output's gradient goes to its window's (first) maximum.
 * dout: (N, C, Ho, Wo); dx: (N, C, H, W)
 */
export function maxPoolBackwardFast(dout: Tensor, cache: MaxPoolCache): { dx: Tensor } {
  if (!cache || cache.kind !== "maxPoolFast") {
    throw new ShapeError("maxPoolBackwardFast: cache must be the cache returned by maxPoolForwardFast");
  }
  const { N, C, H, W, Ho, Wo } = cache.geometry;
  const d = contiguous(checkDout("maxPoolBackwardFast", dout, [N, C, Ho, Wo]));
  const planes = N * C;
  const tasks = Math.ceil(planes / PLANES_PER_TASK);
  const threads = jobThreads(tasks, planes * H * W >= THREAD_MIN_VALUES);
  const shared = threads > 1;
  let ds = d.data;
  let dOff = d.offset;
  if (shared) {
    ds = sharedCopy(ds.subarray(dOff, dOff + planes * Ho * Wo));
    dOff = 0;
  }
  const argmax = shared ? sharedCopy(cache.argmax) : cache.argmax;
  const dx = shared ? sharedZeros([N, C, H, W]) : zeros([N, C, H, W]);
  const job: PoolBackwardJob = { g: cache.geometry, dout: ds, doutOff: dOff, argmax, tiled: cache.tiled, dx: dx.data, chunk: PLANES_PER_TASK };
  runJob("maxPoolBackward", job, tasks, threads);
  return { dx };
}

/** The gradient of max pooling as a pool job: task t fills the input gradient of planes [t·chunk, (t+1)·chunk). */
export interface PoolBackwardJob {
  g: PoolGeometry;
  dout: Float64Array;
  doutOff: number;
  argmax: Int32Array;
  tiled: boolean;
  dx: Float64Array;
  chunk: number;
}

/** Runs task t of a backward pooling job (on any thread). */
export function maxPoolBackwardTask(job: PoolBackwardJob, t: number): void {
  const { g, dout: ds, argmax, tiled, dx: dxs } = job;
  const { N, C, H, W, Ho, Wo } = g;
  const plane = H * W;
  const P = Ho * Wo;
  const q1 = Math.min(N * C, (t + 1) * job.chunk);
  for (let q = t * job.chunk; q < q1; q++) {
    const base = q * plane;
    const ob = q * P;
    const src = job.doutOff + ob;
    if (tiled) {
      for (let k = 0; k < P; k++) dxs[base + argmax[ob + k]] = ds[src + k];
    } else {
      for (let k = 0; k < P; k++) dxs[base + argmax[ob + k]] += ds[src + k];
    }
  }
}
