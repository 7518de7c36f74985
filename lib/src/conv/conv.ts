import { ShapeError } from "../errors.js";
import { gemmRaw } from "../gemm.js";
import { contiguous, zeros, type Tensor } from "../tensor.js";
import { checkDout, convGeometry, type ConvGeometry, type ConvParam } from "./geometry.js";
import { col2im, im2col } from "./im2col.js";

/** What convForwardFast keeps for convBackwardFast. */
export interface ConvCache {
  readonly kind: "convFast";
  x: Tensor;
  w: Tensor;
  b: Tensor;
  convParam: ConvParam;
  geometry: ConvGeometry;
  /** The column matrix of the whole batch when it was small enough to keep, else null (recomputed). */
  cols: Float64Array | null;
}

// At most this many doubles (32 MiB) of column matrix at a time: large batches (a whole test set in
// one call) are convolved in chunks of images, so memory stays bounded.
const MAX_COLS = 1 << 22;

function imagesPerChunk(g: ConvGeometry): number {
  const perImage = g.C * g.HH * g.WW * g.Ho * g.Wo;
  return Math.max(1, Math.min(g.N, Math.floor(MAX_COLS / Math.max(1, perImage))));
}

function denseData(t: Tensor): { data: Float64Array; off: number } {
  const c = contiguous(t);
  return { data: c.data, off: c.offset };
}

/**
 * Convolution (cross-correlation, zero padding) by im2col and one matrix product per chunk of images.
 * x: (N, C, H, W), w: (F, C, HH, WW), b: (F), out: (N, F, 1 + (H + 2·pad − HH)/stride, 1 + (W + 2·pad − WW)/stride)
 */
export function convForwardFast(x: Tensor, w: Tensor, b: Tensor, convParam: ConvParam): { out: Tensor; cache: ConvCache } {
  const g = convGeometry("convForwardFast", x, w, b, convParam);
  const { N, F, Ho, Wo } = g;
  const K = g.C * g.HH * g.WW;
  const P = Ho * Wo;
  const xd = denseData(x);
  const wd = denseData(w);
  const out = zeros([N, F, Ho, Wo]);
  const o = out.data;
  const chunk = imagesPerChunk(g);
  let kept: Float64Array | null = null;
  let prod: Float64Array | null = null;
  for (let n0 = 0; n0 < N; n0 += chunk) {
    const count = Math.min(chunk, N - n0);
    const L = count * P;
    const cols = new Float64Array(K * L);
    im2col(xd.data, xd.off, n0, count, g, cols);
    if (count === N) kept = cols;
    if (!prod || prod.length < F * L) prod = new Float64Array(F * L);
    // prod (F, L) = w (F, K) · cols (K, L)
    gemmRaw(F, L, K, 1, wd.data, wd.off, K, 1, cols, 0, L, 1, 0, prod, 0, L, 1);
    // (F, count, P) -> (count, F, P), adding the bias.
    for (let n = 0; n < count; n++) {
      for (let f = 0; f < F; f++) {
        const bias = b.data[b.offset + f * b.stride[0]];
        const src = f * L + n * P;
        const dst = ((n0 + n) * F + f) * P;
        for (let p = 0; p < P; p++) o[dst + p] = prod[src + p] + bias;
      }
    }
  }
  return { out, cache: { kind: "convFast", x, w, b, convParam, geometry: g, cols: kept } };
}

/**
 * Gradients of convForwardFast: dw and dx by matrix products with the column matrix, then col2im.
 * dout: (N, F, Ho, Wo); dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F)
 */
export function convBackwardFast(dout: Tensor, cache: ConvCache): { dx: Tensor; dw: Tensor; db: Tensor } {
  if (!cache || cache.kind !== "convFast") {
    throw new ShapeError("convBackwardFast: cache must be the cache returned by convForwardFast");
  }
  const g = cache.geometry;
  const { N, C, H, W, F, HH, WW, Ho, Wo } = g;
  const d = checkDout("convBackwardFast", dout, [N, F, Ho, Wo]);
  const dd = denseData(d);
  const K = C * HH * WW;
  const P = Ho * Wo;
  const xd = denseData(cache.x);
  const wd = denseData(cache.w);
  const dx = zeros([N, C, H, W]);
  const dw = zeros([F, C, HH, WW]);
  const db = zeros([F]);
  const chunk = imagesPerChunk(g);
  let dT: Float64Array | null = null;
  let dcols: Float64Array | null = null;
  for (let n0 = 0; n0 < N; n0 += chunk) {
    const count = Math.min(chunk, N - n0);
    const L = count * P;
    let cols = cache.cols;
    if (!cols || count !== N) {
      cols = new Float64Array(K * L);
      im2col(xd.data, xd.off, n0, count, g, cols);
    }
    if (!dT || dT.length < F * L) dT = new Float64Array(F * L);
    // dout (count, F, P) -> dT (F, count·P), summing db on the way.
    for (let n = 0; n < count; n++) {
      for (let f = 0; f < F; f++) {
        const src = dd.off + ((n0 + n) * F + f) * P;
        const dst = f * L + n * P;
        let s = 0;
        for (let p = 0; p < P; p++) {
          const v = dd.data[src + p];
          dT[dst + p] = v;
          s += v;
        }
        db.data[f] += s;
      }
    }
    // dw (F, K) += dT (F, L) · colsᵀ (L, K)
    gemmRaw(F, K, L, 1, dT, 0, L, 1, cols, 0, 1, L, 1, dw.data, 0, K, 1);
    // dcols (K, L) = wᵀ (K, F) · dT (F, L), then scattered back onto dx.
    if (!dcols || dcols.length < K * L) dcols = new Float64Array(K * L);
    gemmRaw(K, L, F, 1, wd.data, wd.off, 1, K, dT, 0, L, 1, 0, dcols, 0, L, 1);
    col2im(dcols, n0, count, g, dx.data);
  }
  return { dx, dw, db };
}
