// The pruned exact search (knn.ts describes the method): two ways of visiting candidates that share one per-thread set-up,
// the Query below (the test row's coarse images, its bounds against each level, its exact distances).
//   scan:   candidates in order of their total-sum difference (the one-block bound) from the list sorted
//           by total sum, each through the block levels, coarsest first; L1, and L2 without a GEMM level.
//   gemmL2: GEMM gives one level's L2 bound for every candidate at once, the candidates with the smallest
//           bounds give a first k-th best distance, then every candidate whose bound does not exceed it
//           goes through the finer levels.
import { gemmRaw } from "../gemm.js";
import { intLimit, type PixelKernel } from "./pixels.js";
import type { PruneLevel, PruneTables } from "./tables.js";
import { TopK } from "./topk.js";
import { PRUNE_SLACK, type KnnData, type KnnMetric, type KnnOut, type PruneStats, type RowRange } from "./types.js";

/** Dimensions summed between checks of the exact distance against the k-th best. */
const ABANDON_STEP = 64;
/** Blocks summed between checks of a level's bound against the k-th best. */
const LEVEL_STEP = 49;
/** Test rows whose GEMM bounds are computed together (a (rows, n) block of bounds is held). */
const GEMM_BOUND_ROWS = 64;

/** What a pruned search runs on: the metric, the rows, the tables built for them, and this thread's integer kernel. */
export interface PrunedSearch {
  metric: KnnMetric;
  data: KnnData;
  tables: PruneTables;
  kernel: PixelKernel | null;
}

/** One thread's state for one test row at a time: its coarse images, bounds and exact distances. */
class Query {
  readonly l2: boolean;
  /** Integer sums per unit of distance (squared for L2). */
  private readonly unit: number;
  /** The query's block sums, per level (empty where the integer kernel holds the level). */
  private readonly qc: Float64Array[];
  private q = 0;
  readonly heap: TopK;
  readonly stats: PruneStats = { scanned: 0, exact: 0 };

  constructor(
    private readonly s: PrunedSearch,
    k: number,
    /** The first level checked one candidate at a time. */
    private readonly from: number,
  ) {
    this.l2 = s.metric === "l2";
    const scale = s.kernel ? s.kernel.px.scale : 1;
    this.unit = this.l2 ? scale * scale : scale;
    this.qc = s.tables.levels.map((lv, l) => new Float64Array(l >= from && !this.intLevel(l) ? lv.blocks : 0));
    this.heap = new TopK(k);
  }

  private intLevel(l: number): boolean {
    return this.s.kernel !== null && this.s.kernel.hasLevel(l);
  }

  /** Makes test row r the query. */
  set(r: number): void {
    const { d, test } = this.s.data;
    const q = (this.q = r * d);
    const levels = this.s.tables.levels;
    for (let l = this.from; l < levels.length; l++) {
      const c = this.qc[l];
      if (c.length === 0) continue;
      const g = levels[l].group;
      c.fill(0);
      for (let p = 0; p < d; p++) c[g[p]] += test[q + p];
    }
    this.s.kernel?.setQuery(r);
    this.heap.reset();
  }

  /** The limit a candidate's distance must not exceed: the k-th best so far times the slack. */
  limit(): number {
    const b = this.heap.bound();
    return b === Infinity ? Infinity : b * (1 + PRUNE_SLACK);
  }

  /** True when level l's bound for table row `row` already exceeds lim. */
  prunedBy(l: number, row: number, lim: number): boolean {
    const kernel = this.s.kernel;
    if (kernel && kernel.hasLevel(l)) {
      const li = intLimit(lim * this.unit * (this.l2 ? kernel.px.maxSize[l] : 1));
      return kernel.level(this.s.metric, l, row, li) > li;
    }
    const lv: PruneLevel = this.s.tables.levels[l];
    const b = lv.blocks;
    const cs = lv.coarse;
    const wt = lv.weight;
    const c = this.qc[l];
    const base = row * b;
    let s = 0;
    for (let t0 = 0; t0 < b; t0 += LEVEL_STEP) {
      const end = Math.min(b, t0 + LEVEL_STEP);
      if (this.l2) {
        for (let t = t0; t < end; t++) {
          const u = c[t] - cs[base + t];
          s += u * u * wt[t];
        }
      } else {
        for (let t = t0; t < end; t++) s += Math.abs(c[t] - cs[base + t]);
      }
      if (s > lim) return true;
    }
    return false;
  }

  /** The exact distance (squared for L2) to training row i, or Infinity once it passes lim. */
  exact(i: number, lim: number): number {
    this.stats.exact++;
    const kernel = this.s.kernel;
    if (kernel) {
      const li = intLimit(lim * this.unit);
      const v = kernel.exact(this.s.metric, i, li);
      return v > li ? Infinity : v / this.unit;
    }
    const { train, test, d } = this.s.data;
    const q = this.q;
    const x = i * d;
    let s = 0;
    for (let p = 0; p < d; ) {
      const end = Math.min(d, p + ABANDON_STEP);
      if (this.l2) {
        for (; p < end; p++) {
          const t = test[q + p] - train[x + p];
          s += t * t;
        }
      } else {
        for (; p < end; p++) s += Math.abs(test[q + p] - train[x + p]);
      }
      if (s > lim) return Infinity;
    }
    return s;
  }
}

/** Exact k nearest of test rows `rows` with lower-bound pruning; returns how much work the bounds left. */
export function searchPruned(s: PrunedSearch, rows: RowRange, out: KnnOut): PruneStats {
  return s.metric === "l2" && s.tables.gemm ? gemmL2(s, rows, out) : scan(s, rows, out);
}

function scan(s: PrunedSearch, { r0, r1 }: RowRange, out: KnnOut): PruneStats {
  const { n, d, test } = s.data;
  const { order, sums, levels } = s.tables;
  const query = new Query(s, out.k, 0);
  const { heap, l2 } = query;
  for (let r = r0; r < r1; r++) {
    const q = r * d;
    let qs = 0;
    for (let p = 0; p < d; p++) qs += test[q + p];
    query.set(r);
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
    let lim = Infinity;
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
      query.stats.scanned++;
      let pruned = false;
      for (let l = 0; l < levels.length && !pruned; l++) pruned = query.prunedBy(l, pos, lim);
      if (pruned) continue;
      const i = order[pos];
      const dist = query.exact(i, lim);
      if (dist === Infinity) continue;
      heap.push(dist, i);
      lim = query.limit();
    }
    heap.drain(out.distances, out.indices, r * out.k, l2);
  }
  return query.stats;
}

function gemmL2(s: PrunedSearch, { r0, r1 }: RowRange, out: KnnOut): PruneStats {
  const { n, d, test } = s.data;
  const g = s.tables.gemm!;
  const lv = s.tables.levels[g.level];
  const L = s.tables.levels.length;
  const B = lv.blocks;
  const k = out.k;
  const query = new Query(s, k, g.level + 1);
  const heap = query.heap;
  const qScaled = new Float64Array(GEMM_BOUND_ROWS * B);
  const qNorm = new Float64Array(GEMM_BOUND_ROWS);
  const root = lv.weight.map(Math.sqrt);
  const bounds = new Float64Array(Math.min(GEMM_BOUND_ROWS, r1 - r0) * n);
  const seed = Math.min(n, 2 * k + 8);
  const first = new TopK(seed);
  const seedIdx = new Int32Array(seed);
  const seedDist = new Float64Array(seed);
  const seen = new Int32Array(n).fill(-1);
  for (let c0 = r0; c0 < r1; c0 += GEMM_BOUND_ROWS) {
    const rows = Math.min(GEMM_BOUND_ROWS, r1 - c0);
    qScaled.fill(0);
    for (let i = 0; i < rows; i++) {
      const q = (c0 + i) * d;
      const o = i * B;
      for (let p = 0; p < d; p++) qScaled[o + lv.group[p]] += test[q + p];
      let sq = 0;
      for (let j = 0; j < B; j++) {
        const v = qScaled[o + j] * root[j];
        qScaled[o + j] = v;
        sq += v * v;
      }
      qNorm[i] = sq;
    }
    // bounds (rows, n) = −2 · qScaled · scaledᵀ, completed below with the norms.
    gemmRaw(rows, n, B, -2, qScaled, 0, B, 1, g.scaled, 0, 1, B, 0, bounds, 0, n, 1);
    for (let i = 0; i < rows; i++) {
      const r = c0 + i;
      const o = i * n;
      const qn = qNorm[i];
      query.set(r);
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
      for (let t = 0; t < got; t++) {
        const j = seedIdx[t];
        seen[j] = r;
        heap.push(query.exact(j, Infinity), j);
      }
      let lim = query.limit();
      for (let j = 0; j < n; j++) {
        if (bounds[o + j] > lim || seen[j] === r) continue;
        query.stats.scanned++;
        let pruned = false;
        for (let l = g.level + 1; l < L && !pruned; l++) pruned = query.prunedBy(l, j, lim);
        if (pruned) continue;
        const dist = query.exact(j, lim);
        if (dist === Infinity) continue;
        heap.push(dist, j);
        lim = query.limit();
      }
      heap.drain(out.distances, out.indices, r * k, true);
    }
  }
  return query.stats;
}
