// A worker thread of lib's pool (pool.ts): waits for jobs and runs their tasks until the process exits.
import { workerData } from "node:worker_threads";
import { workerLoop } from "./pool.js";

workerLoop(workerData as Parameters<typeof workerLoop>[0]);
