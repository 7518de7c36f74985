// The kinds of job lib's thread pool runs, and how a thread runs its share of one: the same function on
// the calling thread and in every worker (pool-worker.ts imports this module).
import { gemmTask, type GemmJob } from "../linalg/parallel.js";

/** What a pool job computes; its tasks are numbered 0..count-1 and each writes its own part of the output. */
export type JobKind = "gemm";

/** Runs the tasks `claim()` hands out until it gives one at or past `count`, calling `done()` after each. */
export function runTasks(kind: JobKind, job: unknown, claim: () => number, count: number, done: () => void): void {
  if (kind !== "gemm") throw new Error(`lib: unknown pool job kind ${JSON.stringify(kind)}`);
  for (let t = claim(); t < count; t = claim()) {
    gemmTask(job as GemmJob, t);
    done();
  }
}
