// lib's matrix multiply: C = alpha * op(A) * op(B) + beta * C for tensors of any strides and offsets, on
// all cores. The blocked WebAssembly kernel is in linalg/kernel.ts, the cut into tasks in
// linalg/parallel.ts, the thread pool in threads/pool.ts.
import ndarray from "ndarray";
import { ShapeError, shapeStr } from "./errors.js";
import { runGemm } from "./linalg/driver.js";
import { jobThreads } from "./threads/pool.js";
import { checkTensor, zeros, type Tensor } from "./tensor.js";

export { instantiateWasm } from "./wasm/loader.js";
export { setThreads, threadCount, THREADS_ENV } from "./threads/pool.js";

/**
 * Products of fewer floating-point operations (2·M·N·K) than this run on the calling thread: waking the
 * pool, and copying operands that are not in shared memory, cost more than a second thread gives there.
 *
 * Measured with `npm run bench -- --threshold --reps 41` (n x n x n, median µs, 1 thread / 2 threads), but
 * under a load average of about 20 on the 2 cores, where a second thread rarely helps at any size:
 *   n = 64 (0.5 MFLOP): 84 / 164    n = 128 (4.2 MFLOP): 568 / 765    n = 160 (8.2 MFLOP): 1085 / 1466
 *   n = 256 (33.6 MFLOP): 43368 / 36428
 * The pool's fixed cost is a wake-up and a message per worker (tens of µs) plus the copies; at 4 MFLOP one
 * thread takes about 350 µs when the machine is idle, so half of it is well above that cost.
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
    c = sharedZeros([M, N]);
  } else {
    c = zeros([M, N]);
  }
  // Element (i, p) of op(A) is at aOff + i*aRs + p*aCs; likewise for B and C.
  const aRs = transA ? a.stride[1] : a.stride[0];
  const aCs = transA ? a.stride[0] : a.stride[1];
  const bRs = transB ? b.stride[1] : b.stride[0];
  const bCs = transB ? b.stride[0] : b.stride[1];
  const ops = { M, N, K, alpha, A: a.data, aOff: a.offset, aRs, aCs, B: b.data, bOff: b.offset, bRs, bCs, C: c.data, cOff: c.offset, cRs: c.stride[0], cCs: c.stride[1] };
  runGemm(ops, beta, threadsFor(M, N, K), !opts.out);
  return c;
}

/**
 * A row-major tensor of zeros in shared memory (a SharedArrayBuffer). The pool's workers read and write such
 * tensors in place; gemm copies any other operand of a threaded product in first, so large operands that
 * are made once and multiplied often (an im2col matrix, a training set) are best made with this.
 */
export function sharedZeros(shape: ReadonlyArray<number>): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ShapeError(`sharedZeros: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return ndarray(new Float64Array(new SharedArrayBuffer(8 * size)), shape.slice(), stride, 0);
}

/** op(A) * op(B) as a new tensor. a: (M, K), b: (K, N), out: (M, N) */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return gemm(a, b, { transA, transB });
}

/** The threads a product of this shape runs on now (1 below GEMM_THREAD_MIN_FLOPS). */
function threadsFor(M: number, N: number, K: number): number {
  return jobThreads(Infinity, 2 * M * N * K >= GEMM_THREAD_MIN_FLOPS);
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
  runGemm({ M, N, K, alpha, A, aOff, aRs, aCs, B, bOff, bRs, bCs, C, cOff, cRs, cCs }, beta, threadsFor(M, N, K));
}
