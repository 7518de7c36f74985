import { ShapeError } from "../errors.js";
import { instantiateKernel } from "../wasm/loader.js";
import { contiguous, zeros, type Tensor } from "../tensor.js";
import { sharedZeros } from "../gemm.js";
import { jobThreads, runJob, sharedCopy } from "../threads/pool.js";
import { checkDout, convGeometry, type ConvGeometry, type ConvParam } from "./geometry.js";
import { col2im, im2col } from "./im2col.js";

// One image at a time: im2col writes the image's column matrix (one row per filter tap (c, kh, kw),
// one column per output position) straight into the WebAssembly kernel's memory, and the kernel
// multiplies it by the filters there (lib/src/wasm/conv.wat). Every buffer is padded with zeros to the
// kernel's tile sizes, so the kernel never needs an edge case. A batch's images are shared among lib's
// threads (threads/pool.ts), each with its own kernel; every thread runs the same task functions.

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
  /** x's values, dense (in shared memory when the forward pass ran on the pool), and where they start. */
  xData: Float64Array;
  xOff: number;
}

// Column matrices of at most this many doubles (32 MiB) are kept for the backward pass, which then copies
// them back instead of gathering them again; larger batches (a test set scored at once) are not kept.
const MAX_KEPT_COLS = 1 << 22;

/** Images per task of a forward job; images per segment of a backward job (see ConvBackwardJob). */
const FORWARD_CHUNK = 4;
const BACKWARD_SEGMENT = 4;
/** Batches with less work than this (multiply-adds) run on the calling thread. */
const THREAD_MIN_MACS = 2e6;

function denseData(t: Tensor): { data: Float64Array; off: number } {
  const c = contiguous(t);
  return { data: c.data, off: c.offset };
}

/** Lays the filters out for the kernel; `transposed` = (K, Fp) for the forward pass, else (F, Kp). */
function stageFilters(m: Float64Array, w: Float64Array, g: ConvGeometry, L: Layout, transposed: boolean): void {
  const { F } = g;
  const { K, Fp, Kp } = L;
  if (transposed) {
    m.fill(0, L.wt, L.wt + K * Fp);
    for (let f = 0; f < F; f++) for (let k = 0; k < K; k++) m[L.wt + k * Fp + f] = w[f * K + k];
  } else {
    m.fill(0, L.wd, L.wd + F * Kp);
    for (let f = 0; f < F; f++) m.set(w.subarray(f * K, (f + 1) * K), L.wd + f * Kp);
  }
}

/** A dense copy of t's values (in shared memory when `shared`), or t's own buffer when that will do. */
function valuesOf(t: Tensor, shared: boolean): { data: Float64Array; off: number } {
  const d = denseData(t);
  if (!shared) return d;
  return { data: sharedCopy(d.data.subarray(d.off, d.off + t.shape.reduce((a, b) => a * b, 1))), off: 0 };
}

function allocate(n: number, shared: boolean): Float64Array {
  return shared ? new Float64Array(new SharedArrayBuffer(8 * n)) : new Float64Array(n);
}

/** The threads a convolution of this size runs on (1 for small batches, inside pool jobs, or with no pool). */
function convThreads(g: ConvGeometry, tasks: number): number {
  return jobThreads(tasks, g.N * g.F * g.C * g.HH * g.WW * g.Ho * g.Wo >= THREAD_MIN_MACS);
}

/** A forward pass as a pool job: task t convolves images [t·chunk, (t+1)·chunk) into their own rows of out. */
export interface ConvForwardJob {
  g: ConvGeometry;
  x: Float64Array;
  xOff: number;
  /** The filters, dense (F, K). */
  w: Float64Array;
  bias: Float64Array;
  out: Float64Array;
  /** (N, K·Pp) column matrices kept for the backward pass, or null. */
  kept: Float64Array | null;
  chunk: number;
}

/** Runs task t of a forward job (on any thread, with that thread's kernel). */
export function convForwardTask(job: ConvForwardJob, t: number): void {
  const { g, x, xOff, out: o, kept, bias } = job;
  const { N, F } = g;
  const L = layoutOf(g);
  const { P, Pp, Fp } = L;
  const k = loadKernel();
  const m = memoryFor(L.end);
  stageFilters(m, job.w, g, L, true);
  m.fill(0, L.cols, L.dout);
  const per = L.K * Pp;
  const n1 = Math.min(N, (t + 1) * job.chunk);
  for (let n = t * job.chunk; n < n1; n++) {
    im2col(x, xOff, n, 1, g, m, L.cols, Pp);
    if (kept) kept.set(m.subarray(L.cols, L.cols + per), n * per);
    k.nn(L.wt * 8, Fp * 8, L.cols * 8, Pp * 8, L.prod * 8, Pp * 8, Fp, Pp, L.K, 0);
    for (let f = 0; f < F; f++) {
      const src = L.prod + f * Pp;
      const dst = (n * F + f) * P;
      const bf = bias[f];
      for (let p = 0; p < P; p++) o[dst + p] = m[src + p] + bf;
    }
  }
}

/**
 * Convolution (cross-correlation, zero padding) by im2col and a WebAssembly SIMD product, image by image, the
 * images shared among lib's threads (each image's output is the same on any number of threads).
 * x: (N, C, H, W), w: (F, C, HH, WW), b: (F), out: (N, F, 1 + (H + 2·pad − HH)/stride, 1 + (W + 2·pad − WW)/stride)
 */
export function convForwardFast(x: Tensor, w: Tensor, b: Tensor, convParam: ConvParam): { out: Tensor; cache: ConvCache } {
  const g = convGeometry("convForwardFast", x, w, b, convParam);
  const { N, F, Ho, Wo } = g;
  const L = layoutOf(g);
  const tasks = Math.ceil(N / FORWARD_CHUNK);
  const threads = convThreads(g, tasks);
  const shared = threads > 1;
  const xd = valuesOf(x, shared);
  const wd = valuesOf(w, false);
  const bias = allocate(F, shared);
  for (let f = 0; f < F; f++) bias[f] = b.data[b.offset + f * b.stride[0]];
  const filters = allocate(F * L.K, shared);
  filters.set(wd.data.subarray(wd.off, wd.off + F * L.K));
  const per = L.K * L.Pp;
  const kept = N * per <= MAX_KEPT_COLS ? allocate(N * per, shared) : null;
  const out = shared ? sharedZeros([N, F, Ho, Wo]) : zeros([N, F, Ho, Wo]);
  const job: ConvForwardJob = { g, x: xd.data, xOff: xd.off, w: filters, bias, out: out.data, kept, chunk: FORWARD_CHUNK };
  runJob("convForward", job, tasks, threads);
  return { out, cache: { kind: "convFast", x, w, b, convParam, geometry: g, cols: kept, xData: xd.data, xOff: xd.off } };
}

/**
 * A backward pass as a pool job: task t takes segment t (images [t·segment, (t+1)·segment)), writes those
 * images' input gradients into dx and its own sums of the filter and bias gradients into partials; the
 * segments' sums are then added in order. The segments do not depend on the thread count, so neither do
 * the gradients.
 */
export interface ConvBackwardJob {
  g: ConvGeometry;
  x: Float64Array;
  xOff: number;
  cols: Float64Array | null;
  /** The filters, dense (F, K). */
  w: Float64Array;
  dout: Float64Array;
  doutOff: number;
  /** (N, C, H, W) or null when no input gradient is wanted. */
  dx: Float64Array | null;
  /** (segments, F·K + F): each segment's filter gradient (F, K) then bias gradient (F). */
  partials: Float64Array;
  segment: number;
}

/** Runs task t of a backward job (on any thread, with that thread's kernel). */
export function convBackwardTask(job: ConvBackwardJob, t: number): void {
  const { g, x, xOff, cols, dout, doutOff, dx, partials } = job;
  const { N, F } = g;
  const L = layoutOf(g);
  const { K, P, Pp, Fp, Kp } = L;
  const k = loadKernel();
  const m = memoryFor(L.end);
  stageFilters(m, job.w, g, L, false);
  m.fill(0, L.cols, L.end);
  const per = K * Pp;
  const base = t * (F * K + F);
  const n1 = Math.min(N, (t + 1) * job.segment);
  for (let n = t * job.segment; n < n1; n++) {
    if (cols) m.set(cols.subarray(n * per, (n + 1) * per), L.cols);
    else im2col(x, xOff, n, 1, g, m, L.cols, Pp);
    for (let f = 0; f < F; f++) {
      const src = doutOff + (n * F + f) * P;
      m.set(dout.subarray(src, src + P), L.dout + f * Pp);
      let s = 0;
      for (let p = 0; p < P; p++) s += dout[src + p];
      partials[base + F * K + f] += s;
    }
    k.nt(L.dout * 8, Pp * 8, L.cols * 8, Pp * 8, L.dw * 8, Kp * 8, Fp, Kp, Pp);
    if (dx) {
      k.nn(L.wd * 8, Kp * 8, L.dout * 8, Pp * 8, L.prod * 8, Pp * 8, Kp, Pp, F, 0);
      col2im(m, L.prod, Pp, n, 1, g, dx);
    }
  }
  for (let f = 0; f < F; f++) partials.set(m.subarray(L.dw + f * Kp, L.dw + f * Kp + K), base + f * K);
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
  const checked = checkDout(fn, dout, [N, F, Ho, Wo]);
  const K = C * HH * WW;
  const tasks = Math.ceil(N / BACKWARD_SEGMENT);
  const threads = convThreads(g, tasks);
  const shared = threads > 1;
  const dd = valuesOf(checked, shared);
  const wd = valuesOf(cache.w, false);
  const filters = allocate(F * K, shared);
  filters.set(wd.data.subarray(wd.off, wd.off + F * K));
  // The forward pass's buffers are shared already when it ran on the pool; else copied now if need be.
  let { xData, xOff, cols } = cache;
  if (shared && cols) cols = sharedCopy(cols);
  else if (shared) {
    xData = sharedCopy(xData.subarray(xOff, xOff + N * C * H * W));
    xOff = 0;
  }
  const dx = inputGrad ? (shared ? sharedZeros([N, C, H, W]) : zeros([N, C, H, W])) : null;
  const partials = allocate(tasks * (F * K + F), shared);
  const job: ConvBackwardJob = { g, x: xData, xOff, cols, w: filters, dout: dd.data, doutOff: dd.off, dx: dx ? dx.data : null, partials, segment: BACKWARD_SEGMENT };
  runJob("convBackward", job, tasks, threads);
  const dw = zeros([F, C, HH, WW]);
  const db = zeros([F]);
  for (let t = 0; t < tasks; t++) {
    const base = t * (F * K + F);
    for (let i = 0; i < F * K; i++) dw.data[i] += partials[base + i];
    for (let f = 0; f < F; f++) db.data[f] += partials[base + F * K + f];
  }
  return { dx, dw, db };
}
