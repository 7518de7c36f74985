// Worker thread for kNearestParallel (knn.ts): claims blocks of test rows from the shared counter and
// writes their neighbours into shared memory, then reports its pruning counts.
import { parentPort, workerData } from "node:worker_threads";
import { runKnnJob, type KnnJob } from "./knn-core.js";

try {
  const stats = runKnnJob(workerData as KnnJob);
  parentPort!.postMessage({ stats });
} catch (e) {
  parentPort!.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
