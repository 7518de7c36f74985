// How a GEMM is cut into tasks for the thread pool. The cut depends on the shape only where it could change
// numbers: products with a long K and a small C are summed in fixed K segments (each a task, then added in
// order), whatever the thread count; other products are cut into bands of C's rows or columns, which
// never changes a number (each element's sum runs over the same KC blocks in the same order). So a product
// gives bit-identical results on any number of threads.
import { KC, MC, MR, NC, NR, gemmPart, scaleC, type GemmOperands } from "./kernel.js";

/** "rows"/"cols": bands of C; "k": segments of K, each summed into its own (M, N) partial. */
export type GemmSplit = "rows" | "cols" | "k";

export interface GemmPlan {
  split: GemmSplit;
  /** Rows or columns of a band, or steps of a K segment. */
  size: number;
  /** Tasks. */
  count: number;
}

/** A pool job: the operands (shared memory when threaded), C's scale, the plan, and the K segments' partials. */
export interface GemmJob {
  ops: GemmOperands;
  beta: number;
  plan: GemmPlan;
  /** (count, M, N) dense, for split "k". */
  partials: Float64Array | null;
  /** C holds zeros already (a result gemm allocated itself): no scaling by beta, products copied in. */
  zeroC?: boolean;
}

// K segments: for products whose C is too small to cut into bands (both sides under K_SPLIT_MAX_SIDE) and
// whose K is long, e.g. the weight gradient of an im2col convolution, (32, N·784) · (N·784, 49).
const K_SPLIT_MIN_K = 8 * KC;
const K_SPLIT_MAX_SIDE = 128;
const K_SEGMENTS_MAX = 16;
/** Bands per thread: more than one, so a thread slowed by other processes leaves its last band to the others. */
const BANDS_PER_THREAD = 3;

// A band is at least one cache block wide (NC columns, MC rows) where the product is wide enough for two such
// bands: each band packs its own panels, so narrower ones pack the other operand more often. Measured on an
// idle 2-core machine, 2 threads, median of 3 (ms): 2048³ with bands of 344 columns (3 a thread) 837-854, of
// 512 (2 a thread) 520-544, of 1024 (1 a thread) 569-678; 1024³ with bands of 172 columns 90-112, of 512 76-78.
function bandSize(n: number, bands: number, block: number, tile: number): number {
  const even = Math.ceil(n / bands);
  if (n >= 2 * block) return Math.ceil(Math.max(even, block) / block) * block;
  return Math.ceil(even / tile) * tile;
}

/** True when the product is summed in K segments (a function of the shape alone). */
export function splitsK(M: number, N: number, K: number): boolean {
  return K >= K_SPLIT_MIN_K && Math.max(M, N) < K_SPLIT_MAX_SIDE;
}

/** The tasks of a product on `threads` threads (only band sizes depend on the thread count). */
export function planGemm(M: number, N: number, K: number, threads: number): GemmPlan {
  if (splitsK(M, N, K)) {
    const size = KC * Math.max(4, Math.ceil(K / (K_SEGMENTS_MAX * KC)));
    return { split: "k", size, count: Math.ceil(K / size) };
  }
  const bands = Math.max(1, threads * BANDS_PER_THREAD);
  if (threads <= 1) return { split: "rows", size: Math.max(M, 1), count: 1 };
  if (N >= M) {
    const size = bandSize(N, bands, NC, NR);
    return { split: "cols", size, count: Math.ceil(N / size) };
  }
  const size = bandSize(M, bands, MC, MR);
  return { split: "rows", size, count: Math.ceil(M / size) };
}

/** Runs task t of a job (on any thread). */
export function gemmTask(job: GemmJob, t: number): void {
  const { ops, plan } = job;
  const { M, N, K } = ops;
  if (plan.split === "k") {
    const mn = M * N;
    const k0 = t * plan.size;
    const p: GemmOperands = { ...ops, C: job.partials!, cOff: t * mn, cRs: N, cCs: 1 };
    p.C.fill(0, t * mn, (t + 1) * mn);
    gemmPart(p, { i0: 0, i1: M, j0: 0, j1: N, k0, k1: Math.min(K, k0 + plan.size), zeroC: true });
    return;
  }
  const a = t * plan.size;
  const rows = plan.split === "rows";
  const i0 = rows ? a : 0;
  const i1 = rows ? Math.min(M, a + plan.size) : M;
  const j0 = rows ? 0 : a;
  const j1 = rows ? N : Math.min(N, a + plan.size);
  if (!job.zeroC) scaleC(ops, job.beta, i0, i1, j0, j1);
  gemmPart(ops, { i0, i1, j0, j1, k0: 0, k1: K, zeroC: job.zeroC === true || job.beta === 0 });
}

/** After a "k" job: C (already scaled by beta) += each partial, in order. */
export function addPartials(job: GemmJob): void {
  const { ops, plan, partials } = job;
  const { M, N, C, cOff, cRs, cCs } = ops;
  const mn = M * N;
  for (let t = 0; t < plan.count; t++) {
    const base = t * mn;
    for (let i = 0; i < M; i++) {
      const row = cOff + i * cRs;
      const src = base + i * N;
      for (let j = 0; j < N; j++) C[row + j * cCs] += partials![src + j];
    }
  }
}
