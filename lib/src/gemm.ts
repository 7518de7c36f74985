// lib's matrix multiply: C = alpha * op(A) * op(B) + beta * C for tensors of any strides and offsets, on
// all cores. The blocked WebAssembly kernel is in linalg/kernel.ts, the cut into tasks in
// linalg/parallel.ts, the thread pool in threads/pool.ts.
import ndarray from "ndarray";
import { ShapeError, shapeStr } from "./errors.js";
import { scaleC, type GemmOperands } from "./linalg/kernel.js";
import { addPartials, gemmTask, planGemm, splitsK, type GemmJob } from "./linalg/parallel.js";
import { activeThreads, runJob, threadCount } from "./threads/pool.js";
import { checkTensor, zeros, type Tensor } from "./tensor.js";

export { instantiateWasm } from "./wasm/loader.js";
export { setThreads, threadCount, THREADS_ENV } from "./threads/pool.js";

/**
 * Products of fewer floating-point operations (2·M·N·K) than this run on the calling thread: waking the
 * pool, and copying operands that are not in shared memory, cost more than a second thread gives there.
 */
export const GEMM_THREAD_MIN_FLOPS = 4e6;

export interface GemmOptions {
  /** Use A transposed (A given as (K, M)). */
  transA?: boolean;
  /** Use B transposed (B given as (N, K)). */
  transB?: boolean;
  /** Scale of the product. */
  alpha?: number;
  /** Scale of C's old values when `out` is given. */
  beta?: number;
  /** Where to write; must be (M, N). Its old values are scaled by beta. */
  out?: Tensor;
}

/**
 * C = alpha * op(A) * op(B) + beta * C, cache-blocked, on all cores for large products, for any strides and
 * offsets (views, transposes). The result is the same, bit for bit, on any number of threads.
 * a: (M, K) (or (K, M) with transA), b: (K, N) (or (N, K) with transB), out: (M, N)
 */
export function gemm(a: Tensor, b: Tensor, opts: GemmOptions = {}): Tensor {
  checkTensor("gemm", "a", a, 2);
  checkTensor("gemm", "b", b, 2);
  const { transA = false, transB = false, alpha = 1, beta = 0 } = opts;
  const M = transA ? a.shape[1] : a.shape[0];
  const K = transA ? a.shape[0] : a.shape[1];
  const Kb = transB ? b.shape[1] : b.shape[0];
  const N = transB ? b.shape[0] : b.shape[1];
  if (K !== Kb) {
    const ai = transA ? 0 : 1;
    const bi = transB ? 1 : 0;
    throw new ShapeError(
      `gemm: a.shape[${ai}] (${K}) must equal b.shape[${bi}] (${Kb})` +
        ` (a ${shapeStr(a.shape)}${transA ? " transposed" : ""}, b ${shapeStr(b.shape)}${transB ? " transposed" : ""})`,
    );
  }
  let c: Tensor;
  if (opts.out) {
    c = checkTensor("gemm", "out", opts.out, 2);
    if (c.shape[0] !== M || c.shape[1] !== N) {
      throw new ShapeError(`gemm: out must have shape ${shapeStr([M, N])}, got ${shapeStr(c.shape)}`);
    }
  } else if (threadsFor(M, N, K) > 1) {
    // In shared memory, so that the pool's workers write the result in place.
    c = ndarray(new Float64Array(new SharedArrayBuffer(8 * M * N)), [M, N], [N, 1], 0);
  } else {
    c = zeros([M, N]);
  }
  // Element (i, p) of op(A) is at aOff + i*aRs + p*aCs; likewise for B and C.
  const aRs = transA ? a.stride[1] : a.stride[0];
  const aCs = transA ? a.stride[0] : a.stride[1];
  const bRs = transB ? b.stride[1] : b.stride[0];
  const bCs = transB ? b.stride[0] : b.stride[1];
  gemmRaw(M, N, K, alpha, a.data, a.offset, aRs, aCs, b.data, b.offset, bRs, bCs, beta, c.data, c.offset, c.stride[0], c.stride[1]);
  return c;
}

/** op(A) * op(B) as a new tensor. a: (M, K), b: (K, N), out: (M, N) */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return gemm(a, b, { transA, transB });
}

/** The threads a product of this shape runs on now (1 below GEMM_THREAD_MIN_FLOPS). */
function threadsFor(M: number, N: number, K: number): number {
  if (2 * M * N * K < GEMM_THREAD_MIN_FLOPS || threadCount() === 1) return 1;
  return Math.min(threadCount(), activeThreads());
}

/**
 * gemm on raw buffers, for code that already holds strides: element (i, p) of op(A) is at
 * aOff + i*aRs + p*aCs, likewise for B (K, N) and C (M, N). C = alpha * op(A) * op(B) + beta * C.
 */
export function gemmRaw(
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float64Array,
  aOff: number,
  aRs: number,
  aCs: number,
  B: Float64Array,
  bOff: number,
  bRs: number,
  bCs: number,
  beta: number,
  C: Float64Array,
  cOff: number,
  cRs: number,
  cCs: number,
): void {
  const ops: GemmOperands = { M, N, K, alpha, A, aOff, aRs, aCs, B, bOff, bRs, bCs, C, cOff, cRs, cCs };
  if (M === 0 || N === 0) return;
  if (K === 0 || alpha === 0) {
    scaleC(ops, beta, 0, M, 0, N);
    return;
  }
  const threads = threadsFor(M, N, K);
  const plan = planGemm(M, N, K, threads);
  const kSplit = splitsK(M, N, K);
  if (threads === 1 || plan.count === 1) {
    const job: GemmJob = { ops, beta, plan, partials: kSplit ? new Float64Array(plan.count * M * N) : null };
    if (kSplit) scaleC(ops, beta, 0, M, 0, N);
    for (let t = 0; t < plan.count; t++) gemmTask(job, t);
    if (kSplit) addPartials(job);
    return;
  }
  // Workers see shared memory only: operands elsewhere are copied in (the span of elements they use).
  const a = toShared(A, aOff, M, aRs, K, aCs, "a");
  const b = toShared(B, bOff, K, bRs, N, bCs, "b");
  const c = toShared(C, cOff, M, cRs, N, cCs, "c");
  const shared: GemmOperands = { ...ops, A: a.data, aOff: a.off, B: b.data, bOff: b.off, C: c.data, cOff: c.off };
  const job: GemmJob = { ops: shared, beta, plan, partials: kSplit ? new Float64Array(new SharedArrayBuffer(8 * plan.count * M * N)) : null };
  if (kSplit) scaleC(shared, beta, 0, M, 0, N);
  runJob("gemm", job, plan.count, threads);
  if (kSplit) addPartials(job);
  if (c.copied) C.set(c.data.subarray(0, c.hi - c.lo), c.lo);
}

interface SharedSpan {
  data: Float64Array;
  off: number;
  lo: number;
  hi: number;
  copied: boolean;
}

// Copies kept for reuse, per operand, up to this many doubles (larger ones are allocated per product).
const STAGE_KEEP = 4 << 20;
const stages = new Map<string, Float64Array>();

function toShared(x: Float64Array, off: number, rows: number, rs: number, cols: number, cs: number, role: string): SharedSpan {
  if (x.buffer instanceof SharedArrayBuffer) return { data: x, off, lo: 0, hi: 0, copied: false };
  const lo = off + Math.min(0, (rows - 1) * rs) + Math.min(0, (cols - 1) * cs);
  const hi = off + Math.max(0, (rows - 1) * rs) + Math.max(0, (cols - 1) * cs) + 1;
  const n = hi - lo;
  let buf = stages.get(role);
  if (!buf || buf.length < n) {
    buf = new Float64Array(new SharedArrayBuffer(8 * Math.max(n, Math.min(STAGE_KEEP, 2 * (buf?.length ?? 0)))));
    if (n <= STAGE_KEEP) stages.set(role, buf);
  }
  buf.set(x.subarray(lo, hi));
  return { data: buf, off: off - lo, lo, hi, copied: true };
}
