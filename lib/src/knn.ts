import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { DTypeError, ShapeError, shapeStr } from "./errors.js";
import { gemm } from "./gemm.js";
import {
  PixelKernel,
  blockGroups,
  bruteL1,
  bruteL2,
  buildSearchTables,
  prunedSearch,
  prunedSearchL2,
  rowSquaredNorms,
  type KnnJob,
  type MetricCode,
  type PruneStats,
  type PruneTables,
} from "./knn-core.js";
import { workerSpec, type WorkerSpec } from "./threads/worker-script.js";
import { checkDimsEqual, checkLabels, checkTensor, forEachIndex, zeros, type Labels, type Tensor } from "./tensor.js";

/** "l2": Euclidean distance √Σ(a−b)²; "l1": Manhattan distance Σ|a−b|. */
export type KnnMetric = "l2" | "l1";

/**
 * "brute" computes every distance (L2 with GEMM, L1 in a tight loop); "pruned" rules most candidates out with
 * exact lower bounds from coarse block sums first. Both find the same neighbours. "auto" picks "pruned" for
 * large training sets (L2: 16,000 rows or more; L1: from about 700 rows of 784 values) and "brute" otherwise.
 */
export type KnnMethod = "auto" | "brute" | "pruned";

export interface KnnOptions {
  /** Distance, "l2" by default. */
  metric?: KnnMetric;
  /** Search method, "auto" by default. */
  method?: KnnMethod;
  /**
   * Layout of each row for the pruned method's blocks, e.g. [28, 28] or [3, 32, 32] (channels, height, width,
   * flattened row-major). By default a row whose length is a square is taken for a square image.
   */
  imageShape?: number[];
  /** Worker threads for the parallel functions; the machine's core count by default. */
  workers?: number;
}

/** The k nearest training rows of every test row. */
export interface Neighbours {
  k: number;
  numTest: number;
  /** (numTest, k) row-major: training indices, nearest first, ties to the smaller index. */
  indices: Int32Array;
  /** (numTest, k) row-major: the matching distances. */
  distances: Float64Array;
  /**
   * How the search went: the method, the threads that ran it, the (test, train) pairs, and for "pruned" how many
   * pairs got past the first bound, how many needed their exact distance, and whether the rows were 8-bit
   * images compared in integer arithmetic.
   */
  stats: { method: "brute" | "pruned"; threads: number; candidates: number; scanned?: number; exact?: number; integer?: boolean };
}

// Under "auto": L1 brute force is slow, so pruning pays from small sets on; L2 brute force runs on GEMM,
// and pruning (whose tables cost about a second per 60,000 images) wins from about 16,000 training rows
// (measured on Fashion-MNIST with a few hundred test rows).
const AUTO_PRUNED_L1_MIN_SIZE = 1 << 19; // training rows x dimensions
const AUTO_PRUNED_L2_MIN_ROWS = 16000;

interface Resolved {
  metric: MetricCode;
  method: "brute" | "pruned";
  n: number;
  m: number;
  d: number;
}

function resolve(fn: string, train: Tensor, test: Tensor, k: number, opts: KnnOptions): Resolved {
  checkTensor(fn, "train", train, 2);
  checkTensor(fn, "test", test, 2);
  checkDimsEqual(fn, "test", test, 1, "train", train, 1);
  const [n, d] = train.shape;
  const m = test.shape[0];
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${fn}: k must be a positive integer, got ${k}`);
  if (k > n) {
    throw new RangeError(`${fn}: k (${k}) must be at most the number of training rows (train ${shapeStr(train.shape)})`);
  }
  const metricName = opts.metric ?? "l2";
  if (metricName !== "l2" && metricName !== "l1") {
    throw new RangeError(`${fn}: metric must be "l2" or "l1", got ${JSON.stringify(metricName)}`);
  }
  const methodName = opts.method ?? "auto";
  if (methodName !== "auto" && methodName !== "brute" && methodName !== "pruned") {
    throw new RangeError(`${fn}: method must be "auto", "brute" or "pruned", got ${JSON.stringify(methodName)}`);
  }
  if (opts.imageShape) {
    const size = opts.imageShape.reduce((a, b) => a * b, 1);
    if (size !== d) {
      throw new ShapeError(
        `${fn}: imageShape ${shapeStr(opts.imageShape)} has ${size} values but train rows have ${d} (train ${shapeStr(train.shape)})`,
      );
    }
  }
  const metric: MetricCode = metricName === "l2" ? 0 : 1;
  const autoPruned = metric === 0 ? n >= AUTO_PRUNED_L2_MIN_ROWS && d >= 16 : n * d >= AUTO_PRUNED_L1_MIN_SIZE;
  const method = methodName === "auto" ? (autoPruned ? "pruned" : "brute") : methodName;
  return { metric, method, n, m, d };
}

/** A dense row-major copy of a 2-D tensor in the given memory (or t.data itself when it already is one). */
function dense(t: Tensor, alloc?: (bytes: number) => ArrayBufferLike): Float64Array {
  const size = t.shape[0] * t.shape[1];
  if (!alloc && t.offset === 0 && t.stride[1] === 1 && t.stride[0] === t.shape[1] && t.data.length === size) {
    return t.data;
  }
  const out = alloc ? new Float64Array(alloc(8 * size)) : new Float64Array(size);
  const src = t.data;
  forEachIndex(t, (p, i) => {
    out[i] = src[p];
  });
  return out;
}

function emptyNeighbours(k: number, m: number, method: "brute" | "pruned", alloc?: (bytes: number) => ArrayBufferLike): Neighbours {
  return {
    k,
    numTest: m,
    indices: alloc ? new Int32Array(alloc(4 * m * k)) : new Int32Array(m * k),
    distances: alloc ? new Float64Array(alloc(8 * m * k)) : new Float64Array(m * k),
    stats: { method, threads: 1, candidates: 0 },
  };
}

/**
 * The k nearest training rows of every test row, exactly, in this thread; memory stays bounded (no
 * (numTest, numTrain) matrix). Ties in distance go to the smaller training index.
 * train: (N, D), test: (M, D), out.indices/out.distances: (M, k) row-major
 */
export function kNearest(train: Tensor, test: Tensor, k: number, opts: KnnOptions = {}): Neighbours {
  const r = resolve("kNearest", train, test, k, opts);
  const x = dense(train);
  const q = dense(test);
  const out = emptyNeighbours(k, r.m, r.method);
  out.stats.candidates = r.m * r.n;
  if (r.method === "brute") {
    if (r.metric === 0) bruteL2(x, rowSquaredNorms(x, r.n, r.d), r.n, r.d, q, 0, r.m, k, out.indices, out.distances);
    else bruteL1(x, r.n, r.d, q, 0, r.m, k, out.indices, out.distances);
  } else {
    const local = (b: number): ArrayBuffer => new ArrayBuffer(b);
    const tables = buildSearchTables(x, r.n, q, r.m, r.d, blockGroups(r.d, opts.imageShape), r.metric, local);
    const kernel = tables.pixels ? new PixelKernel(tables.pixels, tables, r.n) : null;
    const s =
      r.metric === 0 && tables.gemm
        ? prunedSearchL2(x, r.n, r.d, tables, q, 0, r.m, k, out.indices, out.distances, kernel)
        : prunedSearch(r.metric, x, r.n, r.d, tables, q, 0, r.m, k, out.indices, out.distances, kernel);
    out.stats.integer = kernel !== null;
    out.stats.scanned = s.scanned;
    out.stats.exact = s.exact;
  }
  return out;
}

// ------------------------------------------------------------------ worker threads

function runWorker(spec: WorkerSpec, job: KnnJob): Promise<PruneStats> {
  return new Promise((resolveStats, reject) => {
    const w = new Worker(spec.script, { eval: spec.eval, workerData: job });
    let settled = false;
    w.once("message", (msg: { stats?: PruneStats; error?: string }) => {
      settled = true;
      if (msg.error) reject(new Error(`knn worker: ${msg.error}`));
      else resolveStats(msg.stats!);
      void w.terminate();
    });
    w.once("error", (e) => {
      if (!settled) reject(e);
      settled = true;
    });
    w.once("exit", (code) => {
      if (!settled) reject(new Error(`knn worker exited with code ${code} before finishing`));
      settled = true;
    });
  });
}

/**
 * kNearest on worker threads (one per core by default), over shared memory; the same neighbours as kNearest.
 * Runs in this thread when workers are unavailable or `workers` is 0.
 * train: (N, D), test: (M, D), out.indices/out.distances: (M, k) row-major
 */
export async function kNearestParallel(train: Tensor, test: Tensor, k: number, opts: KnnOptions = {}): Promise<Neighbours> {
  const r = resolve("kNearestParallel", train, test, k, opts);
  const nWorkers = opts.workers ?? availableParallelism();
  if (!Number.isInteger(nWorkers) || nWorkers < 0) {
    throw new RangeError(`kNearestParallel: workers must be a non-negative integer, got ${nWorkers}`);
  }
  const spec = workerSpec("knn-worker", import.meta.url);
  if (nWorkers === 0 || !spec || r.m === 0) return kNearest(train, test, k, { ...opts, method: r.method });
  const shared = (bytes: number): SharedArrayBuffer => new SharedArrayBuffer(bytes);
  const x = dense(train, shared);
  const q = dense(test, shared);
  const out = emptyNeighbours(k, r.m, r.method, shared);
  out.stats.candidates = r.m * r.n;
  let trainSq: Float64Array | null = null;
  let tables: PruneTables | null = null;
  if (r.method === "brute" && r.metric === 0) {
    trainSq = new Float64Array(shared(8 * r.n));
    trainSq.set(rowSquaredNorms(x, r.n, r.d));
  } else if (r.method === "pruned") {
    tables = buildSearchTables(x, r.n, q, r.m, r.d, blockGroups(r.d, opts.imageShape), r.metric, shared);
  }
  // Small claims keep both workers busy to the end; pruned rows vary a lot in cost.
  const perWorker = Math.ceil(r.m / nWorkers);
  const chunk = Math.max(1, Math.min(r.method === "pruned" ? 64 : 128, perWorker));
  const job: KnnJob = {
    method: r.method,
    metric: r.metric,
    n: r.n,
    d: r.d,
    m: r.m,
    k,
    train: x,
    test: q,
    trainSq,
    tables,
    outIdx: out.indices,
    outDist: out.distances,
    next: new Int32Array(shared(4)),
    chunk,
  };
  const threads = Math.min(nWorkers, Math.ceil(r.m / chunk));
  const all = await Promise.all(Array.from({ length: threads }, () => runWorker(spec, job)));
  out.stats.threads = threads;
  if (r.method === "pruned") {
    out.stats.scanned = all.reduce((a, s) => a + s.scanned, 0);
    out.stats.exact = all.reduce((a, s) => a + s.exact, 0);
    out.stats.integer = tables?.pixels != null;
  }
  return out;
}

// ------------------------------------------------------------------ voting and prediction

/** The most frequent label among the first `count` entries (all by default); ties go to the smallest label. */
export function majorityVote(labels: ArrayLike<number>, count = labels.length): number {
  if (count < 1 || count > labels.length) {
    throw new RangeError(`majorityVote: count must be in 1..${labels.length}, got ${count}`);
  }
  const votes = new Map<number, number>();
  let best = -1;
  let bestVotes = 0;
  for (let i = 0; i < count; i++) {
    const label = labels[i];
    const v = (votes.get(label) ?? 0) + 1;
    votes.set(label, v);
    if (v > bestVotes || (v === bestVotes && label < best)) {
      best = label;
      bestVotes = v;
    }
  }
  return best;
}

/**
 * Labels by majority vote of each test row's first k neighbours (k ≤ nb.k), ties to the smallest label.
 * yTrain: (N), out: (numTest)
 */
export function voteNeighbours(nb: Neighbours, yTrain: Labels, k = nb.k): Labels {
  checkLabels("voteNeighbours", "yTrain", yTrain);
  if (!Number.isInteger(k) || k < 1 || k > nb.k) {
    throw new RangeError(`voteNeighbours: k must be an integer in 1..${nb.k} (the neighbours found), got ${k}`);
  }
  const out = new Int32Array(nb.numTest);
  const labels = new Int32Array(k);
  for (let i = 0; i < nb.numTest; i++) {
    for (let j = 0; j < k; j++) {
      const t = nb.indices[i * nb.k + j];
      if (t >= yTrain.length) {
        throw new ShapeError(`voteNeighbours: neighbour index ${t} is out of range for yTrain of length ${yTrain.length}`);
      }
      labels[j] = yTrain[t];
    }
    out[i] = majorityVote(labels, k);
  }
  return out;
}

function checkTrainLabels(fn: string, train: Tensor, yTrain: Labels): void {
  checkTensor(fn, "train", train, 2);
  if (!(yTrain instanceof Int32Array)) {
    throw new DTypeError(`${fn}: yTrain must be an Int32Array of labels, got ${(yTrain as object)?.constructor?.name ?? typeof yTrain}`);
  }
  if (yTrain.length !== train.shape[0]) {
    throw new ShapeError(`${fn}: yTrain has length ${yTrain.length} but train has ${train.shape[0]} rows (train ${shapeStr(train.shape)})`);
  }
}

/**
 * k-nearest-neighbour prediction: majority vote of the k nearest training rows, ties to the smallest label.
 * train: (N, D), yTrain: (N), test: (M, D), out: (M)
 */
export function knnPredict(train: Tensor, yTrain: Labels, test: Tensor, k = 1, opts: KnnOptions = {}): Labels {
  checkTrainLabels("knnPredict", train, yTrain);
  return voteNeighbours(kNearest(train, test, k, opts), yTrain, k);
}

/**
 * knnPredict on worker threads.
 * train: (N, D), yTrain: (N), test: (M, D), out: (M)
 */
export async function knnPredictParallel(train: Tensor, yTrain: Labels, test: Tensor, k = 1, opts: KnnOptions = {}): Promise<Labels> {
  checkTrainLabels("knnPredictParallel", train, yTrain);
  return voteNeighbours(await kNearestParallel(train, test, k, opts), yTrain, k);
}

// ------------------------------------------------------------------ full distance matrices

/**
 * Every distance between rows of a and rows of b (L2 through ‖a‖² + ‖b‖² − 2a·b and GEMM, L1 directly).
 * Holds the whole (M, N) matrix: for small sets (notebooks, tests); kNearest is the memory-bounded search.
 * a: (M, D), b: (N, D), out: (M, N)
 */
export function pairwiseDistances(a: Tensor, b: Tensor, metric: KnnMetric = "l2"): Tensor {
  checkTensor("pairwiseDistances", "a", a, 2);
  checkTensor("pairwiseDistances", "b", b, 2);
  checkDimsEqual("pairwiseDistances", "a", a, 1, "b", b, 1);
  const [m, d] = a.shape;
  const n = b.shape[0];
  if (metric === "l2") {
    const out = gemm(a, b, { transB: true, alpha: -2 });
    const x = dense(a);
    const y = dense(b);
    const an = rowSquaredNorms(x, m, d);
    const bn = rowSquaredNorms(y, n, d);
    const o = out.data;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const v = o[i * n + j] + an[i] + bn[j];
        o[i * n + j] = v > 0 ? Math.sqrt(v) : 0;
      }
    }
    return out;
  }
  if (metric !== "l1") throw new RangeError(`pairwiseDistances: metric must be "l2" or "l1", got ${JSON.stringify(metric)}`);
  const x = dense(a);
  const y = dense(b);
  const out = zeros([m, n]);
  const o = out.data;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += Math.abs(x[i * d + p] - y[j * d + p]);
      o[i * n + j] = s;
    }
  }
  return out;
}
