// A kNN search as a job of lib's thread pool: tasks are blocks of test rows, each written to its own rows of
// the output, so the neighbours never depend on the threads that found them.
import { bruteL1, bruteL2 } from "./brute.js";
import { PixelKernel } from "./pixels.js";
import { searchPruned } from "./pruned.js";
import type { PruneTables } from "./tables.js";
import type { KnnData, KnnMetric, KnnOut, PruneStats } from "./types.js";

/** Everything a thread needs, in shared memory when the job runs on the pool. */
export interface KnnJob {
  method: "brute" | "pruned";
  metric: KnnMetric;
  data: KnnData;
  /** (n) the training rows' squared norms, for L2 brute force. */
  trainSq: Float64Array | null;
  tables: PruneTables | null;
  out: KnnOut;
  /** Test rows per task. */
  chunk: number;
  /** (tasks, 2): each task's pruning counts (scanned, exact). */
  stats: Float64Array;
}

// This thread's integer kernel (which holds a copy of the training rows) per search, made by its first task
// here; it goes with the job's tables (each worker gets its own copy of those with the job).
const kernels = new WeakMap<PruneTables, PixelKernel>();

function kernelOf(job: KnnJob): PixelKernel | null {
  const t = job.tables;
  if (!t?.pixels) return null;
  let kernel = kernels.get(t);
  if (!kernel) {
    kernel = new PixelKernel(t.pixels, t, job.data.n);
    kernels.set(t, kernel);
  }
  return kernel;
}

/** Runs task t of a job: test rows [t·chunk, (t+1)·chunk). */
export function knnTask(job: KnnJob, t: number): void {
  const rows = { r0: t * job.chunk, r1: Math.min(job.data.m, (t + 1) * job.chunk) };
  if (job.method === "brute") {
    if (job.metric === "l2") bruteL2(job.data, job.trainSq!, rows, job.out);
    else bruteL1(job.data, rows, job.out);
    return;
  }
  const s: PruneStats = searchPruned({ metric: job.metric, data: job.data, tables: job.tables!, kernel: kernelOf(job) }, rows, job.out);
  job.stats[2 * t] = s.scanned;
  job.stats[2 * t + 1] = s.exact;
}
