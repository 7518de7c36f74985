// The kernels behind lib's fast k-nearest-neighbour search, on raw Float64Arrays so that the main thread and
// the worker threads (knn-worker.ts) run exactly the same code over shared memory.
//
// Two exact methods, which find the same neighbours:
// - "brute": every distance. L2 through ‖q‖² + ‖x‖² − 2 q·x with lib's GEMM, a block of test rows against a
//   block of training rows at a time; L1 in a tight loop that compares eight test rows with each training row.
// - "pruned": the same distances, but most candidates are ruled out by cheap lower bounds first. Summing the
//   pixels of a block of the image gives a coarse image; for any partition of the dimensions into blocks,
//     L1:  Σ_b |Σ_{p∈b} (q_p − x_p)|        ≤ Σ_p |q_p − x_p|          (triangle inequality)
//     L2²: Σ_b (Σ_{p∈b} (q_p − x_p))² / |b| ≤ Σ_p (q_p − x_p)²          (Cauchy–Schwarz)
//   so a candidate whose coarse distance already exceeds the current k-th best cannot be among the k nearest.
//   Candidates are visited in order of their total-sum difference (the one-block bound), from a list sorted by
//   total sum, and then filtered through finer and finer block levels (7x7, 4x4 and 2x2 blocks of a
//   28x28 image) before the exact distance, which itself stops early once it passes the k-th best.
//
// When the rows are 8-bit images (every value k / 255 or k for an integer k in 0..255), the pruned method
// compares candidates in exact integer arithmetic with WebAssembly SIMD (lib/src/wasm/knn.wat): pixels and
// block sums as 16-bit integers, eight at a time.
//
// Neighbours are ordered by distance, ties by the smaller training index, in both methods.

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gemmRaw, instantiateWasm } from "./gemm.js";

export type MetricCode = 0 | 1; // 0 = L2, 1 = L1

/** Relative slack on every pruning test, far above the rounding error of the bounds (about 1e-13). */
const PRUNE_SLACK = 1e-9;

// ------------------------------------------------------------------ top-k

/** The k best (distance, index) pairs seen so far: a max-heap with the worst pair at the root. */
export class TopK {
  readonly dist: Float64Array;
  readonly idx: Int32Array;
  size = 0;

  constructor(readonly k: number) {
    this.dist = new Float64Array(k);
    this.idx = new Int32Array(k);
  }

  reset(): void {
    this.size = 0;
  }

  /** The distance a candidate must not exceed to enter (Infinity until k pairs are held). */
  bound(): number {
    return this.size < this.k ? Infinity : this.dist[0];
  }

  /** Offers a pair; kept when the heap is not full or it beats the worst pair (ties: smaller index wins). */
  push(d: number, i: number): void {
    const dist = this.dist;
    const idx = this.idx;
    if (this.size < this.k) {
      // Sift up.
      let c = this.size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (dist[p] > d || (dist[p] === d && idx[p] > i)) break;
        dist[c] = dist[p];
        idx[c] = idx[p];
        c = p;
      }
      dist[c] = d;
      idx[c] = i;
      return;
    }
    if (d > dist[0] || (d === dist[0] && i >= idx[0])) return;
    // Replace the root and sift down.
    const n = this.size;
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      if (r < n && (dist[r] > dist[l] || (dist[r] === dist[l] && idx[r] > idx[l]))) m = r;
      if (dist[m] < d || (dist[m] === d && idx[m] < i)) break;
      dist[c] = dist[m];
      idx[c] = idx[m];
      c = m;
    }
    dist[c] = d;
    idx[c] = i;
  }

  /** Writes the held pairs nearest first into outDist/outIdx at `at`; sqrt turns squared L2 into L2. */
  drain(outDist: Float64Array, outIdx: Int32Array, at: number, sqrt: boolean): void {
    const n = this.size;
    const order = Array.from({ length: n }, (_, j) => j);
    const dist = this.dist;
    const idx = this.idx;
    order.sort((a, b) => dist[a] - dist[b] || idx[a] - idx[b]);
    for (let j = 0; j < n; j++) {
      const d = dist[order[j]];
      outDist[at + j] = sqrt ? Math.sqrt(d > 0 ? d : 0) : d;
      outIdx[at + j] = idx[order[j]];
    }
    this.size = 0;
  }
}

// ------------------------------------------------------------------ brute force

/** Row sums of squares: x (n, d) row-major -> (n). */
export function rowSquaredNorms(x: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * d;
    for (let p = 0; p < d; p++) s += x[o + p] * x[o + p];
    out[i] = s;
  }
  return out;
}

/** Rows of training data compared at once by the GEMM path (a test block x this many products). */
const BRUTE_TRAIN_BLOCK = 2048;

/**
 * Exact k nearest (squared L2) of test rows [r0, r1) by GEMM over blocks of training rows.
 * train: (n, d), test: (m, d), outIdx/outDist: (m, k)
 */
export function bruteL2(
  train: Float64Array,
  trainSq: Float64Array,
  n: number,
  d: number,
  test: Float64Array,
  r0: number,
  r1: number,
  k: number,
  outIdx: Int32Array,
  outDist: Float64Array,
): void {
  const rows = r1 - r0;
  if (rows <= 0) return;
  const tb = Math.min(BRUTE_TRAIN_BLOCK, n);
  const prod = new Float64Array(rows * tb);
  const testSq = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    const o = (r0 + i) * d;
    for (let p = 0; p < d; p++) s += test[o + p] * test[o + p];
    testSq[i] = s;
  }
  const heaps = Array.from({ length: rows }, () => new TopK(k));
  for (let j0 = 0; j0 < n; j0 += tb) {
    const cols = Math.min(tb, n - j0);
    // prod (rows, cols) = -2 · test[r0:r1] · train[j0:j0+cols]ᵀ
    gemmRaw(rows, cols, d, -2, test, r0 * d, d, 1, train, j0 * d, 1, d, 0, prod, 0, cols, 1);
    for (let i = 0; i < rows; i++) {
      const h = heaps[i];
      const qs = testSq[i];
      const o = i * cols;
      let lim = h.bound();
      for (let j = 0; j < cols; j++) {
        const v = qs + trainSq[j0 + j] + prod[o + j];
        // Training rows come in index order, so an equal distance never displaces an earlier row.
        if (v < lim) {
          h.push(v, j0 + j);
          lim = h.bound();
        }
      }
    }
  }
  for (let i = 0; i < rows; i++) heaps[i].drain(outDist, outIdx, (r0 + i) * k, true);
}

/** Test rows compared with each training row at once by the L1 loop. */
const L1_TEST_BLOCK = 8;

/**
 * Exact k nearest (L1) of test rows [r0, r1) in a tight loop.
 * train: (n, d), test: (m, d), outIdx/outDist: (m, k)
 */
export function bruteL1(
  train: Float64Array,
  n: number,
  d: number,
  test: Float64Array,
  r0: number,
  r1: number,
  k: number,
  outIdx: Int32Array,
  outDist: Float64Array,
): void {
  const heaps = Array.from({ length: L1_TEST_BLOCK }, () => new TopK(k));
  const acc = new Float64Array(L1_TEST_BLOCK);
  for (let b0 = r0; b0 < r1; b0 += L1_TEST_BLOCK) {
    const rows = Math.min(L1_TEST_BLOCK, r1 - b0);
    if (rows === L1_TEST_BLOCK) {
      const q0 = b0 * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
      const q4 = q3 + d, q5 = q4 + d, q6 = q5 + d, q7 = q6 + d;
      for (let j = 0; j < n; j++) {
        const x = j * d;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        for (let p = 0; p < d; p++) {
          const v = train[x + p];
          s0 += Math.abs(test[q0 + p] - v);
          s1 += Math.abs(test[q1 + p] - v);
          s2 += Math.abs(test[q2 + p] - v);
          s3 += Math.abs(test[q3 + p] - v);
          s4 += Math.abs(test[q4 + p] - v);
          s5 += Math.abs(test[q5 + p] - v);
          s6 += Math.abs(test[q6 + p] - v);
          s7 += Math.abs(test[q7 + p] - v);
        }
        acc[0] = s0; acc[1] = s1; acc[2] = s2; acc[3] = s3;
        acc[4] = s4; acc[5] = s5; acc[6] = s6; acc[7] = s7;
        for (let r = 0; r < L1_TEST_BLOCK; r++) if (acc[r] < heaps[r].bound()) heaps[r].push(acc[r], j);
      }
    } else {
      for (let j = 0; j < n; j++) {
        const x = j * d;
        for (let r = 0; r < rows; r++) {
          const q = (b0 + r) * d;
          let s = 0;
          for (let p = 0; p < d; p++) s += Math.abs(test[q + p] - train[x + p]);
          if (s < heaps[r].bound()) heaps[r].push(s, j);
        }
      }
    }
    for (let r = 0; r < rows; r++) heaps[r].drain(outDist, outIdx, (b0 + r) * k, false);
  }
}

// ------------------------------------------------------------------ pruned search

/** One level of coarse images: which block each dimension falls in, and every training row's block sums. */
export interface PruneLevel {
  blocks: number;
  /** (d) the block of each dimension. */
  group: Int32Array;
  /** (blocks) 1 / block size, the L2 bound's weights. */
  weight: Float64Array;
  /** (n, blocks) block sums of the training rows: in the order of `order`, or in training order with GEMM bounds. */
  coarse: Float64Array;
}

/** What the pruned search needs besides the training rows themselves. */
export interface PruneTables {
  /** (n) training indices sorted by total sum. */
  order: Int32Array;
  /** (n) total sums in that order (ascending). */
  sums: Float64Array;
  /** Coarse levels, coarsest first. */
  levels: PruneLevel[];
  /** For L2: the level whose bounds come from GEMM for all candidates at once (see prunedSearchL2). */
  gemm: GemmBound | null;
  /** Integer copies for 8-bit images, or null. */
  pixels: PixelData | null;
}

/**
 * The L2 bound of one level computed with GEMM: block sums scaled by 1/√|block| turn the weighted bound
 * Σ_b (ΔS_b)² / |b| into a plain squared distance between scaled coarse vectors, ‖c_q‖² + ‖c_x‖² − 2 c_q·c_x.
 */
export interface GemmBound {
  /** Index of the level in `levels`; the levels after it are finer and checked one candidate at a time. */
  level: number;
  /** (n, blocks) scaled block sums of the training rows, in training order. */
  scaled: Float64Array;
  /** (n) their squared norms. */
  norms: Float64Array;
}

/**
 * Block partitions of the dimensions, coarsest first: for an image (C, H, W) or (H, W) flattened row-major,
 * square blocks of edge ceil(max(H, W) / 2^l), l >= 2, within each channel (7, 4 and 2 for 28x28); for plain
 * vectors, contiguous runs of length ceil(d / 4^l). Levels stop before blocks shrink to single dimensions.
 */
export function blockGroups(d: number, imageShape?: ReadonlyArray<number>): Int32Array[] {
  let c = 1;
  let h = 1;
  let w = d;
  if (imageShape && imageShape.length >= 2) {
    h = imageShape[imageShape.length - 2];
    w = imageShape[imageShape.length - 1];
    c = d / (h * w);
  } else if (!imageShape) {
    const s = Math.round(Math.sqrt(d));
    if (s * s === d && s >= 4) {
      h = s;
      w = s;
    }
  }
  const groups: Int32Array[] = [];
  if (!Number.isInteger(c) || c < 1) return groups;
  const twoD = h > 1;
  // The 2x2-block level of an image prunes too little to pay for itself (measured on Fashion-MNIST).
  for (let l = twoD ? 2 : 1; l < 16; l++) {
    const edge = twoD ? Math.ceil(Math.max(h, w) / 2 ** l) : Math.ceil(w / 4 ** l);
    if (edge < 2) break;
    const bh = twoD ? edge : 1;
    const bw = edge;
    const nbh = Math.ceil(h / bh);
    const nbw = Math.ceil(w / bw);
    const g = new Int32Array(d);
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          g[ch * h * w + y * w + x] = ch * nbh * nbw + Math.floor(y / bh) * nbw + Math.floor(x / bw);
        }
      }
    }
    groups.push(g);
  }
  return groups;
}

/** Runs of consecutive dimensions in the same block: [start, length, block] triples. */
function runsOf(group: Int32Array): Int32Array {
  const out: number[] = [];
  for (let p = 0; p < group.length; ) {
    let e = p + 1;
    while (e < group.length && group[e] === group[p]) e++;
    out.push(p, e - p, group[p]);
    p = e;
  }
  return Int32Array.from(out);
}

/**
 * Sums of each row over each block: x (n, d) -> (n, blocks), rows taken in `order` when given. Summing runs
 * of neighbouring dimensions in a register is several times faster than adding pixel by pixel into the blocks.
 */
function blockSums(
  x: Float64Array,
  n: number,
  d: number,
  runs: Int32Array,
  blocks: number,
  order: Int32Array | null,
  out: Float64Array,
): void {
  const nr = runs.length;
  for (let r = 0; r < n; r++) {
    const src = (order ? order[r] : r) * d;
    const dst = r * blocks;
    for (let t = 0; t < nr; t += 3) {
      let s = 0;
      const a = src + runs[t];
      const e = a + runs[t + 1];
      for (let p = a; p < e; p++) s += x[p];
      out[dst + runs[t + 2]] += s;
    }
  }
}


// ------------------------------------------------------------------ 8-bit images

/** Training and test rows as 16-bit integers, for the WebAssembly kernels. */
export interface PixelData {
  /** Values are integer / scale: 255 for pixels scaled to [0, 1], 1 for raw pixels. */
  scale: number;
  /** Row length in values, d rounded up to a multiple of 8 (zero padding). */
  d8: number;
  /** (n, d8) training rows in training order. */
  train: Int16Array;
  /** (m, d8) test rows. */
  test: Int16Array;
  /** Per level: (n, b8) integer block sums in the level's row order; null where 16 or 31 bits could overflow. */
  levels: Array<Int16Array | null>;
  /** Per level: blocks rounded up to a multiple of 8. */
  b8: number[];
  /** Per level: the largest block (the integer L2 bound divides by it: Σ ΔS² / max|b| ≤ Σ ΔS² / |b|). */
  maxSize: number[];
}

/** The integer k of every value k / scale (k in 0..255), into out (rows padded to d8); false when some value is not one. */
function toInts(x: Float64Array, rows: number, d: number, d8: number, scale: number, out: Int16Array): boolean {
  const tol = 1e-9 * scale;
  for (let r = 0; r < rows; r++) {
    const src = r * d;
    const dst = r * d8;
    for (let p = 0; p < d; p++) {
      const v = x[src + p] * scale;
      const k = (v + 0.5) | 0; // v >= -0.5 here unless the check below fails anyway
      const diff = v - k;
      if (diff > tol || diff < -tol || k < 0 || k > 255) return false;
      out[dst + p] = k;
    }
  }
  return true;
}

/** For each block of the fine partition, the block of the coarse one that contains it; null if some fine block straddles two. */
function nestedIn(fine: Int32Array, coarse: Int32Array, fineBlocks: number): Int32Array | null {
  const parent = new Int32Array(fineBlocks).fill(-1);
  for (let p = 0; p < fine.length; p++) {
    if (parent[fine[p]] === -1) parent[fine[p]] = coarse[p];
    else if (parent[fine[p]] !== coarse[p]) return null;
  }
  return parent;
}

/** Integer block sums of the rows of tr (n, d8) into out (n, bb), rows taken in `rowOf` order when given. */
function intBlockSums(tr: Int16Array, n: number, d: number, d8: number, group: Int32Array, rowOf: Int32Array | null, bb: number, out: Int16Array): void {
  const acc = new Int32Array(bb);
  for (let r = 0; r < n; r++) {
    const src = (rowOf ? rowOf[r] : r) * d8;
    acc.fill(0);
    for (let p = 0; p < d; p++) acc[group[p]] += tr[src + p];
    out.set(acc, r * bb);
  }
}

let knnWasm: Uint8Array | null | undefined;

function knnWasmBytes(): Uint8Array | null {
  if (knnWasm !== undefined) return knnWasm;
  const url = new URL("./wasm/knn.wasm", import.meta.url);
  knnWasm = url.protocol === "file:" && existsSync(fileURLToPath(url)) ? readFileSync(fileURLToPath(url)) : null;
  return knnWasm;
}

interface KnnWasm {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  l2sq(a: number, b: number, bytes: number, lim: number): number;
  l1(a: number, b: number, bytes: number, lim: number): number;
}

const INT_LIMIT = 0x7fffffff;

/**
 * One thread's WebAssembly instance holding the integer training rows and level tables; compares the current
 * query with one candidate at a time. Limits and results are integer sums (pixel units).
 */
export class PixelKernel {
  private readonly ex: KnnWasm;
  private readonly rowBytes: number;
  private readonly levelAt: number[] = [];
  private readonly levelBytes: number[];
  private readonly queryAt: number;
  private readonly qLevelAt: number[] = [];

  constructor(
    readonly px: PixelData,
    private readonly tables: PruneTables,
    n: number,
  ) {
    this.ex = instantiateWasm(knnWasmBytes()!) as KnnWasm;
    this.rowBytes = 2 * px.d8;
    this.levelBytes = px.b8.map((b) => 2 * b);
    let at = 0;
    const trainAt = at;
    at += n * this.rowBytes;
    for (let l = 0; l < px.levels.length; l++) {
      this.levelAt.push(at);
      if (px.levels[l]) at += n * this.levelBytes[l];
    }
    this.queryAt = at;
    at += this.rowBytes;
    for (let l = 0; l < px.levels.length; l++) {
      this.qLevelAt.push(at);
      at += this.levelBytes[l];
    }
    const have = this.ex.memory.buffer.byteLength;
    if (at > have) this.ex.memory.grow(Math.ceil((at - have) / 65536));
    const buf = this.ex.memory.buffer;
    new Int16Array(buf, trainAt, n * px.d8).set(px.train);
    px.levels.forEach((t, l) => {
      if (t) new Int16Array(buf, this.levelAt[l], t.length).set(t);
    });
  }

  /** True when level l has integer tables. */
  hasLevel(l: number): boolean {
    return this.px.levels[l] !== null;
  }

  /** Makes test row r the query (its pixels and block sums). */
  setQuery(r: number): void {
    const { px } = this;
    const buf = this.ex.memory.buffer;
    const q = new Int16Array(buf, this.queryAt, px.d8);
    q.set(px.test.subarray(r * px.d8, (r + 1) * px.d8));
    for (let l = 0; l < px.levels.length; l++) {
      if (!px.levels[l]) continue;
      const c = new Int16Array(buf, this.qLevelAt[l], px.b8[l]);
      c.fill(0);
      const g = this.tables.levels[l].group;
      for (let p = 0; p < g.length; p++) c[g[p]] += q[p];
    }
  }

  /** Integer L2² (metric 0) or L1 (metric 1) between the query and training row i, or a partial sum above lim. */
  exact(metric: MetricCode, i: number, lim: number): number {
    const a = i * this.rowBytes;
    return metric === 0 ? this.ex.l2sq(a, this.queryAt, this.rowBytes, lim) : this.ex.l1(a, this.queryAt, this.rowBytes, lim);
  }

  /** Integer Σ ΔS² (metric 0) or Σ |ΔS| (metric 1) of level l between the query and table row `row`, or a partial sum above lim. */
  level(metric: MetricCode, l: number, row: number, lim: number): number {
    const bytes = this.levelBytes[l];
    const a = this.levelAt[l] + row * bytes;
    return metric === 0 ? this.ex.l2sq(a, this.qLevelAt[l], bytes, lim) : this.ex.l1(a, this.qLevelAt[l], bytes, lim);
  }
}

/** An integer limit no smaller than value (so that pruning on `> limit` never drops a tie). */
function intLimit(value: number): number {
  return value === Infinity ? INT_LIMIT : Math.min(INT_LIMIT, Math.floor(value * (1 + 1e-12)));
}

/**
 * Builds what the pruned search needs for training rows x (n, d) and test rows (m, d): the order by total sum,
 * the block levels, for L2 the GEMM level, and for 8-bit images their integer copies. `alloc` chooses the
 * memory (shared with workers or not).
 */
export function buildSearchTables(
  x: Float64Array,
  n: number,
  test: Float64Array,
  m: number,
  d: number,
  groups: Int32Array[],
  metric: MetricCode,
  alloc: (bytes: number) => ArrayBufferLike,
): PruneTables {
  const withGemm = metric === 0;
  const total = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    const o = r * d;
    for (let p = 0; p < d; p++) s += x[o + p];
    total[r] = s;
  }
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => total[a] - total[b] || a - b);
  const order = new Int32Array(alloc(4 * n));
  const sums = new Float64Array(alloc(8 * n));
  for (let r = 0; r < n; r++) {
    order[r] = idx[r];
    sums[r] = total[idx[r]];
  }
  // The L2 search visits candidates in training order, the L1 scan in order of total sum.
  const rowOf = withGemm ? null : order;

  const meta = groups.map((group) => {
    let blocks = 0;
    for (let p = 0; p < d; p++) if (group[p] + 1 > blocks) blocks = group[p] + 1;
    const size = new Float64Array(blocks);
    for (let p = 0; p < d; p++) size[group[p]]++;
    const sharedGroup = new Int32Array(alloc(4 * d));
    sharedGroup.set(group);
    const weight = new Float64Array(alloc(8 * blocks));
    for (let j = 0; j < blocks; j++) weight[j] = 1 / size[j];
    return { blocks, group: sharedGroup, weight, maxSize: Math.max(...size), runs: runsOf(group) };
  });

  // 8-bit images: integer rows, and integer block sums for every level whose sums fit the kernels' 16 and 31 bits.
  let pixels: PixelData | null = null;
  if (knnWasmBytes()) {
    const d8 = Math.ceil(d / 8) * 8;
    const tr = new Int16Array(alloc(2 * n * d8));
    const te = new Int16Array(alloc(2 * m * d8));
    let scale = 0;
    for (const sc of [255, 1]) {
      if (toInts(x, n, d, d8, sc, tr) && toInts(test, m, d, d8, sc, te)) {
        scale = sc;
        break;
      }
    }
    if (scale > 0) {
      // Finest level first: a coarser level whose blocks are unions of its blocks is summed from it, not from pixels.
      const intLevels: Array<Int16Array | null> = meta.map(() => null);
      for (let l = meta.length - 1; l >= 0; l--) {
        const lv = meta[l];
        const bb = Math.ceil(lv.blocks / 8) * 8;
        const span = lv.maxSize * 255; // the largest |difference| of two block sums
        const fits = span <= 32767 && (metric === 0 ? lv.blocks * span * span : lv.blocks * span) < 2 ** 31;
        if (!fits) continue;
        const out = new Int16Array(alloc(2 * n * bb));
        let done = false;
        for (let f = meta.length - 1; f > l && !done; f--) {
          const fine = intLevels[f];
          const parent = fine ? nestedIn(meta[f].group, lv.group, meta[f].blocks) : null;
          if (fine && parent) {
            const fb = Math.ceil(meta[f].blocks / 8) * 8;
            for (let r = 0; r < n; r++) {
              for (let j = 0; j < meta[f].blocks; j++) out[r * bb + parent[j]] += fine[r * fb + j];
            }
            done = true;
          }
        }
        if (!done) intBlockSums(tr, n, d, d8, lv.group, rowOf, bb, out);
        intLevels[l] = out;
      }
      pixels = {
        scale,
        d8,
        train: tr,
        test: te,
        levels: intLevels,
        b8: meta.map((lv) => Math.ceil(lv.blocks / 8) * 8),
        maxSize: meta.map((lv) => lv.maxSize),
      };
    }
  }

  let gemmLevel = -1;
  if (withGemm && meta.length > 0) {
    // GEMM gives the bounds of one level for all candidates, the finer levels are checked one candidate at a
    // time. The level of about d / 16 blocks (4x4 blocks of a 28x28 image) costs a sixteenth of brute force's
    // GEMM and prunes well; measured on Fashion-MNIST, the 7x7 level (1/49 of the GEMM) was slower overall,
    // because four times as many candidates then need the finer checks.
    const target = 16;
    gemmLevel = 0;
    for (let l = 1; l < meta.length; l++) {
      if (Math.abs(Math.log((meta[l].blocks * target) / d)) < Math.abs(Math.log((meta[gemmLevel].blocks * target) / d))) gemmLevel = l;
    }
  }

  // Float block sums where the search needs them: every level without integer sums, and the GEMM level.
  const levels: PruneLevel[] = meta.map((lv, l) => {
    const ints = pixels?.levels[l] ?? null;
    if (ints && l !== gemmLevel) return { blocks: lv.blocks, group: lv.group, weight: lv.weight, coarse: new Float64Array(0) };
    const coarse = new Float64Array(alloc(8 * n * lv.blocks));
    if (ints && pixels) {
      const bb = pixels.b8[l];
      for (let r = 0; r < n; r++) for (let j = 0; j < lv.blocks; j++) coarse[r * lv.blocks + j] = ints[r * bb + j] / pixels.scale;
    } else {
      blockSums(x, n, d, lv.runs, lv.blocks, rowOf, coarse);
    }
    return { blocks: lv.blocks, group: lv.group, weight: lv.weight, coarse };
  });

  let gemm: GemmBound | null = null;
  if (gemmLevel >= 0) {
    const lv = levels[gemmLevel];
    const b = lv.blocks;
    const scaled = new Float64Array(alloc(8 * n * b));
    const norms = new Float64Array(alloc(8 * n));
    const root = lv.weight.map(Math.sqrt);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < b; j++) {
        const v = lv.coarse[i * b + j] * root[j];
        scaled[i * b + j] = v;
        s += v * v;
      }
      norms[i] = s;
    }
    gemm = { level: gemmLevel, scaled, norms };
  }
  return { order, sums, levels, gemm, pixels };
}

/** How often the pruned search got past each stage (for the bench's report). */
export interface PruneStats {
  /** Candidates reached in the sorted scan (the total-sum bound). */
  scanned: number;
  /** Candidates whose exact distance was started. */
  exact: number;
}

/** Dimensions summed between checks of the exact distance against the k-th best. */
const ABANDON_STEP = 64;

/**
 * Exact k nearest of test rows [r0, r1) with lower-bound pruning (see the top of this file).
 * train: (n, d), test: (m, d), outIdx/outDist: (m, k); returns how much work the bounds left.
 */
export function prunedSearch(
  metric: MetricCode,
  train: Float64Array,
  n: number,
  d: number,
  tables: PruneTables,
  test: Float64Array,
  r0: number,
  r1: number,
  k: number,
  outIdx: Int32Array,
  outDist: Float64Array,
  kernel: PixelKernel | null = null,
): PruneStats {
  const { order, sums, levels } = tables;
  const scale = kernel ? kernel.px.scale : 1;
  const unit = metric === 0 ? scale * scale : scale; // integer sums per unit of distance (squared for L2)
  const L = levels.length;
  const qc = levels.map((lv) => new Float64Array(lv.blocks));
  const heap = new TopK(k);
  const stats: PruneStats = { scanned: 0, exact: 0 };
  const l2 = metric === 0;
  const slack = 1 + PRUNE_SLACK;
  for (let r = r0; r < r1; r++) {
    const q = r * d;
    let qs = 0;
    for (let p = 0; p < d; p++) qs += test[q + p];
    for (let l = 0; l < L; l++) {
      const c = qc[l];
      const g = levels[l].group;
      c.fill(0);
      for (let p = 0; p < d; p++) c[g[p]] += test[q + p];
    }
    // First position whose sum is >= qs.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sums[mid] < qs) lo = mid + 1;
      else hi = mid;
    }
    let down = lo - 1;
    let up = lo;
    let lim = Infinity; // k-th best distance (squared for L2) times the slack
    heap.reset();
    if (kernel) kernel.setQuery(r);
    for (;;) {
      const gd = down >= 0 ? qs - sums[down] : Infinity;
      const gu = up < n ? sums[up] - qs : Infinity;
      let pos: number;
      let gap: number;
      if (gd <= gu) {
        gap = gd;
        pos = down--;
      } else {
        gap = gu;
        pos = up++;
      }
      if (gap === Infinity) break;
      // Every later candidate is at least this far in total sum.
      if ((l2 ? (gap * gap) / d : gap) > lim) break;
      stats.scanned++;
      let pruned = false;
      for (let l = 0; l < L && !pruned; l++) {
        if (kernel && kernel.hasLevel(l)) {
          const li = intLimit(lim * unit * (l2 ? kernel.px.maxSize[l] : 1));
          pruned = kernel.level(metric, l, pos, li) > li;
          continue;
        }
        const lv = levels[l];
        const b = lv.blocks;
        const cs = lv.coarse;
        const c = qc[l];
        const base = pos * b;
        let s = 0;
        if (l2) {
          const wt = lv.weight;
          for (let j = 0; j < b; j++) {
            const t = c[j] - cs[base + j];
            s += t * t * wt[j];
          }
        } else {
          for (let j = 0; j < b; j++) s += Math.abs(c[j] - cs[base + j]);
        }
        if (s > lim) pruned = true;
      }
      if (pruned) continue;
      stats.exact++;
      const i = order[pos];
      const x = i * d;
      let s = 0;
      let abandoned = false;
      if (kernel) {
        const li = intLimit(lim * unit);
        const v = kernel.exact(metric, i, li);
        abandoned = v > li;
        s = v / unit;
      }
      for (let p = kernel ? d : 0; p < d && !abandoned; ) {
        const end = Math.min(d, p + ABANDON_STEP);
        if (l2) {
          for (; p < end; p++) {
            const t = test[q + p] - train[x + p];
            s += t * t;
          }
        } else {
          for (; p < end; p++) s += Math.abs(test[q + p] - train[x + p]);
        }
        abandoned = s > lim;
      }
      if (abandoned) continue;
      heap.push(s, i);
      const bnd = heap.bound();
      lim = bnd === Infinity ? Infinity : bnd * slack;
    }
    heap.drain(outDist, outIdx, r * k, l2);
  }
  return stats;
}

/** Test rows whose GEMM bounds are computed together (a (rows, n) block of bounds is held). */
const GEMM_BOUND_ROWS = 64;
/** Blocks summed between checks of a finer level's bound against the k-th best. */
const LEVEL_STEP = 49;

/**
 * Exact k nearest (L2) of test rows [r0, r1): GEMM gives one level's lower bound for every candidate; the
 * candidates with the smallest bounds give a first k-th best distance; then every candidate whose bound does
 * not exceed it goes through the finer levels and the exact distance. train: (n, d), test: (m, d)
 */
export function prunedSearchL2(
  train: Float64Array,
  n: number,
  d: number,
  tables: PruneTables,
  test: Float64Array,
  r0: number,
  r1: number,
  k: number,
  outIdx: Int32Array,
  outDist: Float64Array,
  kernel: PixelKernel | null = null,
): PruneStats {
  const g = tables.gemm!;
  const unit = kernel ? kernel.px.scale * kernel.px.scale : 1; // integer sums per unit of squared distance
  const lv = tables.levels[g.level];
  const B = lv.blocks;
  const finer = tables.levels.slice(g.level + 1);
  const qc = finer.map((f) => new Float64Array(f.blocks));
  const qScaled = new Float64Array(GEMM_BOUND_ROWS * B);
  const qNorm = new Float64Array(GEMM_BOUND_ROWS);
  const root = lv.weight.map(Math.sqrt);
  const bounds = new Float64Array(Math.min(GEMM_BOUND_ROWS, r1 - r0) * n);
  const seed = Math.min(n, 2 * k + 8);
  const first = new TopK(seed);
  const seedIdx = new Int32Array(seed);
  const seedDist = new Float64Array(seed);
  const seen = new Int32Array(n).fill(-1);
  const heap = new TopK(k);
  const stats: PruneStats = { scanned: 0, exact: 0 };
  const slack = 1 + PRUNE_SLACK;
  const exact = (q: number, i: number, lim: number): number => {
    if (kernel) {
      const li = intLimit(lim * unit);
      const v = kernel.exact(0, i, li);
      return v > li ? Infinity : v / unit;
    }
    const x = i * d;
    let s = 0;
    for (let p = 0; p < d; ) {
      const end = Math.min(d, p + ABANDON_STEP);
      for (; p < end; p++) {
        const t = test[q + p] - train[x + p];
        s += t * t;
      }
      if (s > lim) return Infinity;
    }
    return s;
  };
  for (let c0 = r0; c0 < r1; c0 += GEMM_BOUND_ROWS) {
    const rows = Math.min(GEMM_BOUND_ROWS, r1 - c0);
    qScaled.fill(0);
    for (let i = 0; i < rows; i++) {
      const q = (c0 + i) * d;
      const o = i * B;
      for (let p = 0; p < d; p++) qScaled[o + lv.group[p]] += test[q + p];
      let s = 0;
      for (let j = 0; j < B; j++) {
        const v = qScaled[o + j] * root[j];
        qScaled[o + j] = v;
        s += v * v;
      }
      qNorm[i] = s;
    }
    // bounds (rows, n) = −2 · qScaled · scaledᵀ, completed below with the norms.
    gemmRaw(rows, n, B, -2, qScaled, 0, B, 1, g.scaled, 0, 1, B, 0, bounds, 0, n, 1);
    for (let i = 0; i < rows; i++) {
      const r = c0 + i;
      const q = r * d;
      const o = i * n;
      const qn = qNorm[i];

      if (kernel) kernel.setQuery(r);
      for (let l = 0; l < finer.length; l++) {
        if (kernel && kernel.hasLevel(g.level + 1 + l)) continue;
        const c = qc[l];
        const grp = finer[l].group;
        c.fill(0);
        for (let p = 0; p < d; p++) c[grp[p]] += test[q + p];
      }
      // Complete the bounds (rounding in the expansion is ~1e-16 of the norms; lowering every bound by 1e-10 of
      // them keeps it a bound), and take a first k-th best from the candidates with the smallest ones.
      first.reset();
      let firstBound = Infinity;
      for (let j = 0; j < n; j++) {
        const xn = g.norms[j];
        const v = bounds[o + j] + qn + xn - 1e-10 * (qn + xn);
        bounds[o + j] = v;
        if (v < firstBound) {
          first.push(v, j);
          firstBound = first.bound();
        }
      }
      const got = first.size;
      first.drain(seedDist, seedIdx, 0, false);
      heap.reset();
      for (let t = 0; t < got; t++) {
        const j = seedIdx[t];
        seen[j] = r;
        stats.exact++;
        heap.push(exact(q, j, Infinity), j);
      }
      let bnd = heap.bound();
      let lim = bnd === Infinity ? Infinity : bnd * slack;
      for (let j = 0; j < n; j++) {
        if (bounds[o + j] > lim || seen[j] === r) continue;
        stats.scanned++;
        let pruned = false;
        for (let l = 0; l < finer.length && !pruned; l++) {
          const lk = g.level + 1 + l;
          if (kernel && kernel.hasLevel(lk)) {
            const li = intLimit(lim * unit * kernel.px.maxSize[lk]);
            pruned = kernel.level(0, lk, j, li) > li;
            continue;
          }
          const f = finer[l];
          const b = f.blocks;
          const cs = f.coarse;
          const wt = f.weight;
          const c = qc[l];
          const base = j * b;
          let s = 0;
          for (let t0 = 0; t0 < b && !pruned; t0 += LEVEL_STEP) {
            const end = Math.min(b, t0 + LEVEL_STEP);
            for (let t = t0; t < end; t++) {
              const u = c[t] - cs[base + t];
              s += u * u * wt[t];
            }
            pruned = s > lim;
          }
        }
        if (pruned) continue;
        stats.exact++;
        const dist = exact(q, j, lim);
        if (dist === Infinity) continue;
        heap.push(dist, j);
        bnd = heap.bound();
        lim = bnd === Infinity ? Infinity : bnd * slack;
      }
      heap.drain(outDist, outIdx, r * k, true);
    }
  }
  return stats;
}

// ------------------------------------------------------------------ jobs

/** What a worker receives: typed arrays over shared memory, and a shared counter of claimed test rows. */
export interface KnnJob {
  method: "brute" | "pruned";
  metric: MetricCode;
  n: number;
  d: number;
  m: number;
  k: number;
  train: Float64Array;
  test: Float64Array;
  trainSq: Float64Array | null;
  tables: PruneTables | null;
  outIdx: Int32Array;
  outDist: Float64Array;
  /** Int32Array(1): the next unclaimed test row. */
  next: Int32Array;
  /** Test rows claimed at a time. */
  chunk: number;
}

/** Runs a job's test rows until none are left; the same loop in a worker or in this thread. */
export function runKnnJob(job: KnnJob): PruneStats {
  const stats: PruneStats = { scanned: 0, exact: 0 };
  const kernel = job.tables?.pixels ? new PixelKernel(job.tables.pixels, job.tables, job.n) : null;
  for (;;) {
    const r0 = Atomics.add(job.next, 0, job.chunk);
    if (r0 >= job.m) break;
    const r1 = Math.min(job.m, r0 + job.chunk);
    if (job.method === "brute") {
      if (job.metric === 0) bruteL2(job.train, job.trainSq!, job.n, job.d, job.test, r0, r1, job.k, job.outIdx, job.outDist);
      else bruteL1(job.train, job.n, job.d, job.test, r0, r1, job.k, job.outIdx, job.outDist);
    } else {
      const t = job.tables!;
      const s =
        job.metric === 0 && t.gemm
          ? prunedSearchL2(job.train, job.n, job.d, t, job.test, r0, r1, job.k, job.outIdx, job.outDist, kernel)
          : prunedSearch(job.metric, job.train, job.n, job.d, t, job.test, r0, r1, job.k, job.outIdx, job.outDist, kernel);
      stats.scanned += s.scanned;
      stats.exact += s.exact;
    }
  }
  return stats;
}
