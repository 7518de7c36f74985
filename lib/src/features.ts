import { ShapeError, shapeStr } from "./errors.js";
import { checkTensor, reshape, zeros, type Tensor } from "./tensor.js";

// Hand-designed image features: a histogram of edge orientations per cell, in the spirit of SIFT and HOG.
// Each pixel's gradient votes, with its magnitude, for the orientation bins nearest its direction; a cell's
// votes form one histogram; each histogram is normalised to unit length, so that a brighter or more
// contrasted picture of the same shape gives the same feature.

export interface EdgeHistogramOptions {
  /** Side of the square cells, in pixels; must divide the image's height and width (default 7). */
  cellSize?: number;
  /** Orientation bins over 0..180 degrees (default 9). */
  numBins?: number;
  /** Normalise each cell's histogram to unit L2 length (default true). */
  normalize?: boolean;
}

/**
 * Edge-orientation histograms of gray images: for every cell of cellSize x cellSize pixels, the gradient
 * magnitudes of its pixels summed into numBins unsigned orientation bins (0..180 degrees; a vote is shared
 * between the two nearest bin centres in proportion to closeness), each cell's histogram scaled to unit
 * length. Gradients are centred differences, one-sided at the border (as numpy.gradient computes them).
 * images: (N, 1, H, W) or (N, H, W), out: (N, (H/cellSize)·(W/cellSize)·numBins) in the order cell row,
 * cell column, bin.
 */
export function edgeOrientationHistograms(images: Tensor, opts: EdgeHistogramOptions = {}): Tensor {
  const fn = "edgeOrientationHistograms";
  checkTensor(fn, "images", images);
  let x = images;
  if (x.shape.length === 4) {
    if (x.shape[1] !== 1) throw new ShapeError(`${fn}: images must have one channel, got shape ${shapeStr(x.shape)}`);
    x = reshape(x, [x.shape[0], x.shape[2], x.shape[3]]);
  }
  if (x.shape.length !== 3) throw new ShapeError(`${fn}: images must have shape (N, 1, H, W) or (N, H, W), got ${shapeStr(images.shape)}`);
  const [n, h, w] = x.shape;
  const cell = opts.cellSize ?? 7;
  const bins = opts.numBins ?? 9;
  const normalize = opts.normalize ?? true;
  if (!Number.isInteger(cell) || cell < 1 || h % cell !== 0 || w % cell !== 0) {
    throw new RangeError(`${fn}: cellSize must be a positive integer that divides the image size ${h}x${w}, got ${cell}`);
  }
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`${fn}: numBins must be a positive integer, got ${bins}`);
  const cy = h / cell;
  const cx = w / cell;
  const perImage = cy * cx * bins;
  const out = zeros([n, perImage]);
  const o = out.data;
  const d = x.data;
  const [s0, s1, s2] = x.stride;
  const binWidth = Math.PI / bins;
  for (let i = 0; i < n; i++) {
    const base = x.offset + i * s0;
    const at = (r: number, c: number): number => d[base + r * s1 + c * s2];
    const outBase = i * perImage;
    for (let r = 0; r < h; r++) {
      const r0 = r > 0 ? r - 1 : r;
      const r1 = r < h - 1 ? r + 1 : r;
      for (let c = 0; c < w; c++) {
        const c0 = c > 0 ? c - 1 : c;
        const c1 = c < w - 1 ? c + 1 : c;
        // Per-pixel slopes, so that a one-sided difference at the border measures the same edge.
        const gx = (at(r, c1) - at(r, c0)) / (c1 - c0 || 1);
        const gy = (at(r1, c) - at(r0, c)) / (r1 - r0 || 1);
        const mag = Math.sqrt(gx * gx + gy * gy);
        if (mag === 0) continue;
        let theta = Math.atan2(gy, gx);
        if (theta < 0) theta += Math.PI;
        if (theta >= Math.PI) theta -= Math.PI;
        // Bin b's centre is (b + 0.5)·binWidth; the vote splits between the two centres around theta, cyclically.
        const pos = theta / binWidth - 0.5;
        const lo = Math.floor(pos);
        const frac = pos - lo;
        const b0 = (lo + bins) % bins;
        const b1 = (lo + 1) % bins;
        const cellBase = outBase + (Math.floor(r / cell) * cx + Math.floor(c / cell)) * bins;
        o[cellBase + b0] += mag * (1 - frac);
        o[cellBase + b1] += mag * frac;
      }
    }
    if (normalize) {
      for (let k = outBase; k < outBase + perImage; k += bins) {
        let sq = 0;
        for (let b = 0; b < bins; b++) sq += o[k + b] * o[k + b];
        const norm = Math.sqrt(sq);
        // A flat cell (no gradient at all) stays all zeros.
        if (norm > 0) for (let b = 0; b < bins; b++) o[k + b] /= norm;
      }
    }
  }
  return out;
}
