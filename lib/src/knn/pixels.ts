// 8-bit images in exact integer arithmetic: every value k / 255 (or k) for an integer k in 0..255 becomes a
// 16-bit integer, and the pruned search compares candidates with WebAssembly SIMD (lib/src/wasm/knn.wat):
// pixels and block sums, eight at a time.
import { instantiateKernel } from "../wasm/loader.js";
import type { PruneTables } from "./tables.js";
import type { KnnMetric } from "./types.js";

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
export function toInts(x: Float64Array, rows: number, d: number, d8: number, scale: number, out: Int16Array): boolean {
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

/** Integer block sums of the rows of tr (n, d8) into out (n, bb), rows taken in `rowOf` order when given. */
export function intBlockSums(tr: Int16Array, n: number, d: number, d8: number, group: Int32Array, rowOf: Int32Array | null, bb: number, out: Int16Array): void {
  const acc = new Int32Array(bb);
  for (let r = 0; r < n; r++) {
    const src = (rowOf ? rowOf[r] : r) * d8;
    acc.fill(0);
    for (let p = 0; p < d; p++) acc[group[p]] += tr[src + p];
    out.set(acc, r * bb);
  }
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
    this.ex = instantiateKernel<KnnWasm>("knn");
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

  /** Integer L2² or L1 between the query and training row i, or a partial sum above lim. */
  exact(metric: KnnMetric, i: number, lim: number): number {
    const a = i * this.rowBytes;
    return metric === "l2" ? this.ex.l2sq(a, this.queryAt, this.rowBytes, lim) : this.ex.l1(a, this.queryAt, this.rowBytes, lim);
  }

  /** Integer Σ ΔS² (L2) or Σ |ΔS| (L1) of level l between the query and table row `row`, or a partial sum above lim. */
  level(metric: KnnMetric, l: number, row: number, lim: number): number {
    const bytes = this.levelBytes[l];
    const a = this.levelAt[l] + row * bytes;
    return metric === "l2" ? this.ex.l2sq(a, this.qLevelAt[l], bytes, lim) : this.ex.l1(a, this.qLevelAt[l], bytes, lim);
  }
}

/** An integer limit no smaller than value (so that pruning on `> limit` never drops a tie). */
export function intLimit(value: number): number {
  return value === Infinity ? INT_LIMIT : Math.min(INT_LIMIT, Math.floor(value * (1 + 1e-12)));
}
