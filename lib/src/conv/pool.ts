import { ShapeError } from "../errors.js";
import { contiguous, zeros, type Tensor } from "../tensor.js";
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
  const { N, C, H, W, ph, pw, stride, Ho, Wo } = g;
  const xc = contiguous(x);
  const xs = xc.data;
  const out = zeros([N, C, Ho, Wo]);
  const o = out.data;
  const argmax = new Int32Array(o.length);
  const plane = H * W;
  const P = Ho * Wo;
  const tiled = stride === ph && stride === pw;
  for (let q = 0; q < N * C; q++) {
    const base = xc.offset + q * plane;
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
  return { out, cache: { kind: "maxPoolFast", poolParam, geometry: g, argmax, tiled } };
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
  const ds = d.data;
  const dx = zeros([N, C, H, W]);
  const dxs = dx.data;
  const plane = H * W;
  const P = Ho * Wo;
  const { argmax, tiled } = cache;
  for (let q = 0; q < N * C; q++) {
    const base = q * plane;
    const ob = q * P;
    const src = d.offset + ob;
    if (tiled) {
      for (let k = 0; k < P; k++) dxs[base + argmax[ob + k]] = ds[src + k];
    } else {
      for (let k = 0; k < P; k++) dxs[base + argmax[ob + k]] += ds[src + k];
    }
  }
  return { dx };
}
