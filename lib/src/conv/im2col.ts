import type { ConvGeometry } from "./geometry.js";

// The column matrix of a chunk of images: one row per filter tap (c, kh, kw), one column per output
// position (n, oh, ow) of the chunk, so that a convolution is one matrix product w (F, C·HH·WW) · cols.
// Entries that fall into the zero padding are zero.

// The output columns ow whose input column ow·stride + kw − pad lies inside [0, W): [lo, hi).
function validRange(kw: number, g: ConvGeometry): [number, number] {
  const { W, stride, pad, Wo } = g;
  const lo = Math.max(0, Math.ceil((pad - kw) / stride));
  const hi = Math.min(Wo, Math.floor((W - 1 + pad - kw) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/**
 * Writes the columns of images n0..n0+count−1 of x into cols: row r (a filter tap) starts at
 * colsOff + r·ld and holds count·Ho·Wo values, image by image; the rest of each row is left alone.
 * x: a dense (N, C, H, W) buffer starting at xOff.
 */
export function im2col(
  x: Float64Array,
  xOff: number,
  n0: number,
  count: number,
  g: ConvGeometry,
  cols: Float64Array,
  colsOff: number,
  ld: number,
): void {
  const { C, H, W, HH, WW, stride, pad, Ho, Wo } = g;
  const P = Ho * Wo;
  const plane = H * W;
  for (let c = 0; c < C; c++) {
    for (let kh = 0; kh < HH; kh++) {
      for (let kw = 0; kw < WW; kw++) {
        const row = colsOff + ((c * HH + kh) * WW + kw) * ld;
        const [lo, hi] = validRange(kw, g);
        for (let n = 0; n < count; n++) {
          const src = xOff + ((n0 + n) * C + c) * plane + kw - pad;
          for (let oh = 0; oh < Ho; oh++) {
            const dst = row + n * P + oh * Wo;
            const ih = oh * stride + kh - pad;
            if (ih < 0 || ih >= H) {
              cols.fill(0, dst, dst + Wo);
              continue;
            }
            for (let ow = 0; ow < lo; ow++) cols[dst + ow] = 0;
            const s = src + ih * W;
            if (stride === 1) {
              for (let ow = lo; ow < hi; ow++) cols[dst + ow] = x[s + ow];
            } else {
              for (let ow = lo; ow < hi; ow++) cols[dst + ow] = x[s + ow * stride];
            }
            for (let ow = hi; ow < Wo; ow++) cols[dst + ow] = 0;
          }
        }
      }
    }
  }
}

/**
 * The adjoint of im2col: adds each column entry back onto the input pixel it was read from.
 * dcols: laid out as im2col writes cols (row r at dOff + r·ld); dx: a dense (N, C, H, W) buffer
 * (offset 0), accumulated into.
 */
export function col2im(
  dcols: Float64Array,
  dOff: number,
  ld: number,
  n0: number,
  count: number,
  g: ConvGeometry,
  dx: Float64Array,
): void {
  const { C, H, W, HH, WW, stride, pad, Ho, Wo } = g;
  const P = Ho * Wo;
  const plane = H * W;
  for (let c = 0; c < C; c++) {
    for (let kh = 0; kh < HH; kh++) {
      for (let kw = 0; kw < WW; kw++) {
        const row = dOff + ((c * HH + kh) * WW + kw) * ld;
        const [lo, hi] = validRange(kw, g);
        for (let n = 0; n < count; n++) {
          const dst = ((n0 + n) * C + c) * plane + kw - pad;
          for (let oh = 0; oh < Ho; oh++) {
            const ih = oh * stride + kh - pad;
            if (ih < 0 || ih >= H) continue;
            const src = row + n * P + oh * Wo;
            const d = dst + ih * W;
            if (stride === 1) {
              for (let ow = lo; ow < hi; ow++) dx[d + ow] += dcols[src + ow];
            } else {
              for (let ow = lo; ow < hi; ow++) dx[d + ow * stride] += dcols[src + ow];
            }
          }
        }
      }
    }
  }
}
