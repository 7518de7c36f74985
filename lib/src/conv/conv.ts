import { ShapeError } from "../errors.js";
import { instantiateKernel } from "../wasm/loader.js";
import { contiguous, zeros, type Tensor } from "../tensor.js";
import { checkDout, convGeometry, type ConvGeometry, type ConvParam } from "./geometry.js";
import { col2im, im2col } from "./im2col.js";

// One image at a time: im2col writes the image's column matrix (one row per filter tap (c, kh, kw),
// one column per output position) straight into the WebAssembly kernel's memory, and the kernel
// multiplies it by the filters there (lib/src/wasm/conv.wat). Every buffer is padded with zeros to the
// kernel's tile sizes, so the kernel never needs an edge case.

interface ConvKernel {
  nn(pat: number, ldat: number, pb: number, ldb: number, pc: number, ldc: number, m: number, n: number, k: number, acc: number): void;
  nt(pa: number, lda: number, pb: number, ldb: number, pc: number, ldc: number, m: number, n: number, k: number): void;
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
}
let kernel: ConvKernel | null = null;
let mem = new Float64Array(0);

function loadKernel(): ConvKernel {
  if (kernel) return kernel;
  kernel = instantiateKernel<ConvKernel>("conv");
  mem = new Float64Array(kernel.memory.buffer);
  return kernel;
}

/** The kernel's memory as doubles, grown to hold at least `doubles` values. */
function memoryFor(doubles: number): Float64Array {
  const k = loadKernel();
  const bytes = doubles * 8;
  if (k.memory.buffer.byteLength < bytes) {
    k.memory.grow(Math.ceil((bytes - k.memory.buffer.byteLength) / 65536));
  }
  if (mem.buffer !== k.memory.buffer) mem = new Float64Array(k.memory.buffer);
  return mem;
}

const up = (v: number, m: number): number => Math.ceil(v / m) * m;

// Where each buffer lives in the kernel's memory (in doubles; all multiples of 4, so 32-byte aligned).
interface Layout {
  K: number; // filter taps C·HH·WW
  P: number; // output positions Ho·Wo
  Pp: number; // P padded to 4: the row length of cols, dout and the product
  Fp: number; // F padded to 4
  Kp: number; // K padded to 4
  wt: number; // forward filters, transposed: (K, Fp)
  wd: number; // filters for the input gradient: (F, Kp)
  cols: number; // (Kp, Pp)
  dout: number; // (Fp, Pp)
  prod: number; // (max(Fp, Kp), Pp)
  dw: number; // (Fp, Kp)
  end: number;
}

function layoutOf(g: ConvGeometry): Layout {
  const K = g.C * g.HH * g.WW;
  const P = g.Ho * g.Wo;
  const Pp = up(P, 4);
  const Fp = up(g.F, 4);
  const Kp = up(K, 4);
  const wt = 0;
  const wd = wt + K * Fp;
  const cols = wd + g.F * Kp;
  const dout = cols + Kp * Pp;
  const prod = dout + Fp * Pp;
  const dw = prod + Math.max(Fp, Kp) * Pp;
  return { K, P, Pp, Fp, Kp, wt, wd, cols, dout, prod, dw, end: dw + Fp * Kp };
}

/** What convForwardFast keeps for convBackwardFast. */
export interface ConvCache {
  readonly kind: "convFast";
  x: Tensor;
  w: Tensor;
  b: Tensor;
  convParam: ConvParam;
  geometry: ConvGeometry;
  /** Every image's column matrix (K·Pp values each) when the batch is small enough to keep, else null. */
  cols: Float64Array | null;
}

// Column matrices of at most this many doubles (32 MiB) are kept for the backward pass, which then copies
// them back instead of gathering them again; larger batches (a test set scored at once) are not kept.
const MAX_KEPT_COLS = 1 << 22;

function denseData(t: Tensor): { data: Float64Array; off: number } {
  const c = contiguous(t);
  return { data: c.data, off: c.offset };
}

/** Lays the filters out for the kernel; `transposed` = (K, Fp) for the forward pass, else (F, Kp). */
function stageFilters(m: Float64Array, w: { data: Float64Array; off: number }, g: ConvGeometry, L: Layout, transposed: boolean): void {
  const { F } = g;
  const { K, Fp, Kp } = L;
  if (transposed) {
    m.fill(0, L.wt, L.wt + K * Fp);
    for (let f = 0; f < F; f++) for (let k = 0; k < K; k++) m[L.wt + k * Fp + f] = w.data[w.off + f * K + k];
  } else {
    m.fill(0, L.wd, L.wd + F * Kp);
    for (let f = 0; f < F; f++) m.set(w.data.subarray(w.off + f * K, w.off + (f + 1) * K), L.wd + f * Kp);
  }
}

/**
 * Convolution (cross-correlation, zero padding) by im2col and a WebAssembly SIMD product, image by image.
 * x: (N, C, H, W), w: (F, C, HH, WW), b: (F), out: (N, F, 1 + (H + 2·pad − HH)/stride, 1 + (W + 2·pad − WW)/stride)
 */
export function convForwardFast(x: Tensor, w: Tensor, b: Tensor, convParam: ConvParam): { out: Tensor; cache: ConvCache } {
  const g = convGeometry("convForwardFast", x, w, b, convParam);
  const { N, F, Ho, Wo } = g;
  const L = layoutOf(g);
  const { P, Pp, Fp } = L;
  const xd = denseData(x);
  const k = loadKernel();
  const m = memoryFor(L.end);
  stageFilters(m, denseData(w), g, L, true);
  m.fill(0, L.cols, L.dout);
  const bias = new Float64Array(F);
  for (let f = 0; f < F; f++) bias[f] = b.data[b.offset + f * b.stride[0]];
  const out = zeros([N, F, Ho, Wo]);
  const o = out.data;
  const per = L.K * Pp;
  const kept = N * per <= MAX_KEPT_COLS ? new Float64Array(N * per) : null;
  for (let n = 0; n < N; n++) {
    im2col(xd.data, xd.off, n, 1, g, m, L.cols, Pp);
    if (kept) kept.set(m.subarray(L.cols, L.cols + per), n * per);
    k.nn(L.wt * 8, Fp * 8, L.cols * 8, Pp * 8, L.prod * 8, Pp * 8, Fp, Pp, L.K, 0);
    for (let f = 0; f < F; f++) {
      const src = L.prod + f * Pp;
      const dst = (n * F + f) * P;
      const bf = bias[f];
      for (let p = 0; p < P; p++) o[dst + p] = m[src + p] + bf;
    }
  }
  return { out, cache: { kind: "convFast", x, w, b, convParam, geometry: g, cols: kept } };
}

/**
 * Gradients of convForwardFast, image by image: dw += dout·colsᵀ, db += Σ dout, dx = col2im(wᵀ·dout).
 * dout: (N, F, Ho, Wo); dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F)
 */
export function convBackwardFast(dout: Tensor, cache: ConvCache): { dx: Tensor; dw: Tensor; db: Tensor } {
  const { dx, dw, db } = convBackward("convBackwardFast", dout, cache, true);
  return { dx: dx!, dw, db };
}

/**
 * convBackwardFast without the input gradient, for a first layer, whose input (the images) needs none:
 * about half the work.
 * dout: (N, F, Ho, Wo); dw: (F, C, HH, WW), db: (F)
 */
export function convBackwardFastParams(dout: Tensor, cache: ConvCache): { dw: Tensor; db: Tensor } {
  const { dw, db } = convBackward("convBackwardFastParams", dout, cache, false);
  return { dw, db };
}

function convBackward(fn: string, dout: Tensor, cache: ConvCache, inputGrad: boolean): { dx: Tensor | null; dw: Tensor; db: Tensor } {
  if (!cache || cache.kind !== "convFast") {
    throw new ShapeError(`${fn}: cache must be the cache returned by convForwardFast`);
  }
  const g = cache.geometry;
  const { N, C, H, W, F, HH, WW, Ho, Wo } = g;
  const dd = denseData(checkDout(fn, dout, [N, F, Ho, Wo]));
  const L = layoutOf(g);
  const { K, P, Pp, Fp, Kp } = L;
  const xd = denseData(cache.x);
  const k = loadKernel();
  const m = memoryFor(L.end);
  stageFilters(m, denseData(cache.w), g, L, false);
  m.fill(0, L.cols, L.end);
  const dx = inputGrad ? zeros([N, C, H, W]) : null;
  const db = zeros([F]);
  const per = K * Pp;
  for (let n = 0; n < N; n++) {
    if (cache.cols) m.set(cache.cols.subarray(n * per, (n + 1) * per), L.cols);
    else im2col(xd.data, xd.off, n, 1, g, m, L.cols, Pp);
    for (let f = 0; f < F; f++) {
      const src = dd.off + (n * F + f) * P;
      m.set(dd.data.subarray(src, src + P), L.dout + f * Pp);
      let s = 0;
      for (let p = 0; p < P; p++) s += dd.data[src + p];
      db.data[f] += s;
    }
    k.nt(L.dout * 8, Pp * 8, L.cols * 8, Pp * 8, L.dw * 8, Kp * 8, Fp, Kp, Pp);
    if (dx) {
      k.nn(L.wd * 8, Kp * 8, L.dout * 8, Pp * 8, L.prod * 8, Pp * 8, Kp, Pp, F, 0);
      col2im(m, L.prod, Pp, n, 1, g, dx.data);
    }
  }
  const dw = zeros([F, C, HH, WW]);
  for (let f = 0; f < F; f++) dw.data.set(m.subarray(L.dw + f * Kp, L.dw + f * Kp + K), f * K);
  return { dx, dw, db };
}
