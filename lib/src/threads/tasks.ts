// The kinds of job lib's thread pool runs, and how a thread runs its share of one: the same function on
// the calling thread and in every worker (pool-worker.ts imports this module).
import { convBackwardTask, convForwardTask, type ConvBackwardJob, type ConvForwardJob } from "../conv/conv.js";
import { maxPoolBackwardTask, maxPoolForwardTask, type PoolBackwardJob, type PoolForwardJob } from "../conv/pool.js";
import { knnTask, type KnnJob } from "../knn/job.js";
import { gemmTask, type GemmJob } from "../linalg/parallel.js";

/** What a pool job computes; its tasks are numbered 0..count-1 and each writes its own part of the output. */
export type JobKind = "gemm" | "knn" | "convForward" | "convBackward" | "maxPoolForward" | "maxPoolBackward";

const taskOf: Record<JobKind, (job: never, t: number) => void> = {
  gemm: (job: GemmJob, t) => gemmTask(job, t),
  knn: (job: KnnJob, t) => knnTask(job, t),
  convForward: (job: ConvForwardJob, t) => convForwardTask(job, t),
  convBackward: (job: ConvBackwardJob, t) => convBackwardTask(job, t),
  maxPoolForward: (job: PoolForwardJob, t) => maxPoolForwardTask(job, t),
  maxPoolBackward: (job: PoolBackwardJob, t) => maxPoolBackwardTask(job, t),
};

/** Runs the tasks `claim()` hands out until it gives one at or past `count`, calling `done()` after each. */
export function runTasks(kind: JobKind, job: unknown, claim: () => number, count: number, done: () => void): void {
  const run = Object.prototype.hasOwnProperty.call(taskOf, kind) ? (taskOf[kind] as (job: unknown, t: number) => void) : null;
  if (!run) throw new Error(`lib: unknown pool job kind ${JSON.stringify(kind)}`);
  const task = (t: number): void => run(job, t);
  for (let t = claim(); t < count; t = claim()) {
    task(t);
    done();
  }
}
