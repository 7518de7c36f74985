// A pool of worker threads started once per process and reused, for synchronous parallel work over shared
// memory. A job is a list of numbered tasks; the calling thread posts the job to every worker that is ready,
// wakes them, claims tasks from a shared counter like they do, then waits (Atomics.wait) until every task is
// done; a worker that wakes too late for a job finds nothing left to claim. Which thread runs which task never
// changes a result as long as each task writes its own part of the output, which is how lib's jobs are cut.
//
// Workers are unref'd (a process that imports lib still exits by itself) and blocked in Atomics.wait between
// jobs. Where worker threads are not permitted (Node's permission model without --allow-worker), not
// supported, or not wanted (SEMANTIC_GAP_THREADS=1), there is no pool and jobs run on the calling thread.
import { availableParallelism } from "node:os";
import { MessageChannel, Worker, isMainThread, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { workerSpec } from "./worker-script.js";
import { runTasks, type JobKind } from "./tasks.js";

/** The environment variable that sets how many threads lib's parallel code uses (1 = the calling thread only). */
export const THREADS_ENV = "SEMANTIC_GAP_THREADS";

// Layout of the control block (Int32 slots); each worker's two slots sit on a cache line of their own.
const NEXT = 0; // the running job's claim counter (see claimer)
const READY = 1; // workers that have started their loop
const DONE_TASKS = 2; // tasks of the running job finished
const FAILED = 3; // the generation of a job in which a worker's task threw
const WORKER_TASKS = 4; // tasks the workers have run, in all
const SLOT = 16; // per worker w: its wake-up counter at SLOT * (w + 1), its ready flag at +2
const MAX_WORKERS = 255;
const STARTUP_WAIT_MS = 10_000;

interface PoolWorker {
  worker: Worker;
  port: MessagePort;
  index: number;
}

interface Pool {
  ctrl: Int32Array;
  workers: PoolWorker[];
  generation: number;
}

let pool: Pool | null | undefined;
let wanted: number | undefined;
const stats = { jobs: 0, jobsOnWorkers: 0 };
let running = false; // this thread is running a pool job's tasks

/** What the pool has done in this process: workers started, jobs run, and those that ran on more than one thread. */
export function poolStats(): { workers: number; ready: number; jobs: number; jobsOnWorkers: number; workerTasks: number } {
  const p = pool ?? null;
  return { workers: p ? p.workers.length : 0, ready: p ? readyWorkers(p) : 0, ...stats, workerTasks: p ? Atomics.load(p.ctrl, WORKER_TASKS) : 0 };
}

function threadsFromEnv(): number {
  const raw = process.env[THREADS_ENV];
  if (raw === undefined || raw.trim() === "") return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`lib: ${THREADS_ENV} must be a positive integer (threads to use), got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** True when this thread may start worker threads. */
function workersAllowed(): boolean {
  if (!isMainThread) return false; // no pools inside pools (or inside the kNN search's workers)
  const perm = (process as unknown as { permission?: { has(scope: string): boolean } }).permission;
  if (perm && typeof perm.has === "function") {
    try {
      if (!perm.has("worker")) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * How many threads parallel jobs use: setThreads's value, else SEMANTIC_GAP_THREADS, else the machine's
 * cores (os.availableParallelism()); always 1 inside a worker thread.
 */
export function threadCount(): number {
  if (!isMainThread) return 1;
  wanted ??= threadsFromEnv();
  return wanted;
}

/**
 * Sets how many threads parallel jobs use from now on (at least 1; 1 = the calling thread only). Workers are
 * started as needed and never stopped; using fewer of them changes no result.
 */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: n must be a positive integer, got ${n}`);
  wanted = n;
}

/** True while this thread runs a pool job's tasks (a job started then runs on this thread alone). */
export function inPoolJob(): boolean {
  return running;
}

/**
 * The threads a job of `tasks` tasks should run on now: 1 when it is not worth the pool (`worth` false), when
 * one thread is wanted, or inside a pool job; else as many as are wanted and running, up to one a task.
 */
export function jobThreads(tasks: number, worth: boolean): number {
  if (!worth || tasks < 2 || threadCount() === 1 || inPoolJob()) return 1;
  return Math.min(threadCount(), activeThreads(), tasks);
}

/** `a` itself when it lies in shared memory, else a copy of it there, for the pool's workers to read. */
export function sharedCopy<T extends Float64Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const copy = new (a.constructor as new (buffer: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
  copy.set(a);
  return copy;
}

/** The threads a job can run on right now: the calling thread and the pool's workers that have started. */
export function activeThreads(): number {
  const p = getPool();
  return 1 + (p ? Math.min(readyWorkers(p), threadCount() - 1) : 0);
}

function readyWorkers(p: Pool): number {
  return Math.min(Atomics.load(p.ctrl, READY), p.workers.length);
}

function getPool(): Pool | null {
  const want = Math.min(threadCount() - 1, MAX_WORKERS);
  if (want <= 0) return pool ?? null;
  if (pool === null) return null;
  if (pool === undefined) {
    if (!workersAllowed()) return (pool = null);
    pool = { ctrl: new Int32Array(new SharedArrayBuffer(4 * SLOT * (MAX_WORKERS + 1))), workers: [], generation: 0 };
  }
  if (pool.workers.length < want) grow(pool, want);
  return pool.workers.length > 0 ? pool : null;
}

function grow(p: Pool, want: number): void {
  const spec = workerSpec("pool-worker", import.meta.url);
  if (!spec) return;
  const before = p.workers.length;
  for (let index = before; index < want; index++) {
    const { port1, port2 } = new MessageChannel();
    let worker: Worker;
    try {
      worker = new Worker(spec.script, {
        eval: spec.eval,
        workerData: { ctrl: p.ctrl, index, port: port2 },
        transferList: [port2],
      });
    } catch {
      break; // not permitted or not supported here: run with the workers there are
    }
    // A worker that fails to start never reports ready and is simply never used.
    worker.on("error", () => {});
    worker.unref();
    port1.unref();
    p.workers.push({ worker, port: port1, index });
  }
  // Wait (boundedly) for the new workers to start, so the first job already runs on all of them.
  const deadline = Date.now() + STARTUP_WAIT_MS;
  for (;;) {
    const ready = Atomics.load(p.ctrl, READY);
    if (ready >= p.workers.length) break;
    const left = deadline - Date.now();
    if (left <= 0) break;
    Atomics.wait(p.ctrl, READY, ready, Math.min(left, 50));
  }
}

// A claim is the job's generation (11 bits) and the next task (20 bits) in one slot, so a worker that wakes
// late for a finished job claims nothing, even once the next job has started.
const TASK_BITS = 20;
const MAX_TASKS = 1 << TASK_BITS;

function claimer(ctrl: Int32Array, gen: number, count: number): () => number {
  const tag = (gen & 0x7ff) << TASK_BITS;
  return () => {
    for (;;) {
      const v = Atomics.load(ctrl, NEXT);
      if ((v & ~(MAX_TASKS - 1)) !== tag) return count; // another job's counter
      const t = v & (MAX_TASKS - 1);
      if (t >= count) return count;
      if (Atomics.compareExchange(ctrl, NEXT, v, v + 1) === v) return t;
    }
  };
}

/**
 * Runs tasks 0..count-1 of a job of the given kind on up to `threads` threads (this one included) and returns
 * how many threads were offered a share. `job` is posted to the workers (structured clone: typed arrays
 * over SharedArrayBuffers are shared, not copied). Returns once every task is done; a worker that has not
 * woken up by then takes no part (so a busy machine costs at most the tasks a descheduled worker holds).
 */
export function runJob(kind: JobKind, job: unknown, count: number, threads = threadCount()): number {
  if (count >= MAX_TASKS) throw new RangeError(`lib: a pool job has at most ${MAX_TASKS - 1} tasks, got ${count}`);
  stats.jobs++;
  // A job started from inside a task (a kNN task's GEMM) runs on the thread that started it.
  const p = threads > 1 && count > 1 && !running ? getPool() : null;
  const helpers = p ? p.workers.filter((h) => Atomics.load(p.ctrl, SLOT * (h.index + 1) + 2) === 1).slice(0, Math.min(threads, count) - 1) : [];
  if (!p || helpers.length === 0) {
    let t = 0;
    runTasks(kind, job, () => t++, count, () => {});
    return 1;
  }
  stats.jobsOnWorkers++;
  const ctrl = p.ctrl;
  const gen = (p.generation = (p.generation % 0x7ff) + 1);
  Atomics.store(ctrl, DONE_TASKS, 0);
  Atomics.store(ctrl, FAILED, 0);
  Atomics.store(ctrl, NEXT, gen << TASK_BITS);
  for (const h of helpers) {
    h.port.postMessage({ kind, job, count, gen });
    Atomics.add(ctrl, SLOT * (h.index + 1), 1);
    Atomics.notify(ctrl, SLOT * (h.index + 1));
  }
  let failure: unknown = null;
  running = true;
  try {
    runTasks(kind, job, claimer(ctrl, gen, count), count, () => finished(ctrl, count));
  } catch (e) {
    failure = e;
  } finally {
    running = false;
  }
  if (!failure) {
    for (;;) {
      const v = Atomics.load(ctrl, DONE_TASKS);
      if (v >= count || Atomics.load(ctrl, FAILED) === gen) break;
      Atomics.wait(ctrl, DONE_TASKS, v, 100);
    }
  }
  if (failure) {
    Atomics.store(ctrl, NEXT, 0); // no one claims more of this job
    throw failure;
  }
  if (Atomics.load(ctrl, FAILED) === gen) {
    Atomics.store(ctrl, NEXT, 0);
    let error = "unknown error";
    for (const h of helpers) {
      for (let m = receiveMessageOnPort(h.port); m; m = receiveMessageOnPort(h.port)) {
        const msg = m.message as { error?: string; gen?: number };
        if (msg.error && msg.gen === gen) error = msg.error;
      }
    }
    throw new Error(`lib: a worker thread failed in a ${kind} job: ${error}`);
  }
  return helpers.length + 1;
}

function finished(ctrl: Int32Array, count: number): void {
  if (Atomics.add(ctrl, DONE_TASKS, 1) + 1 >= count) Atomics.notify(ctrl, DONE_TASKS);
}

/** The worker side: called by pool-worker.ts with its workerData; never returns. */
export function workerLoop(data: { ctrl: Int32Array; index: number; port: MessagePort }): never {
  const { ctrl, index, port } = data;
  const go = SLOT * (index + 1);
  let seen = Atomics.load(ctrl, go);
  Atomics.store(ctrl, go + 2, 1);
  Atomics.add(ctrl, READY, 1);
  Atomics.notify(ctrl, READY);
  for (;;) {
    Atomics.wait(ctrl, go, seen);
    const now = Atomics.load(ctrl, go);
    // One message per wake-up, in order; a worker behind by several jobs catches up one at a time.
    for (; seen !== now; seen = (seen + 1) | 0) {
      const m = receiveMessageOnPort(port);
      if (!m) break;
      const msg = m.message as { kind: JobKind; job: unknown; count: number; gen: number };
      try {
        runTasks(msg.kind, msg.job, claimer(ctrl, msg.gen, msg.count), msg.count, () => {
          Atomics.add(ctrl, WORKER_TASKS, 1);
          finished(ctrl, msg.count);
        });
      } catch (e) {
        port.postMessage({ gen: msg.gen, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
        Atomics.store(ctrl, FAILED, msg.gen);
        Atomics.notify(ctrl, DONE_TASKS);
      }
    }
    seen = now;
  }
}
