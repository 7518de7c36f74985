// Brute-force kNN: every distance. L2 through ‖q‖² + ‖x‖² − 2 q·x with lib's GEMM, a block of test rows
// against a block of training rows at a time; L1 in a tight loop that compares eight test rows with each
// training row.
import { gemmRaw } from "../gemm.js";
import { TopK } from "./topk.js";
import type { KnnData, KnnOut, RowRange } from "./types.js";

/** Row sums of squares: x (n, d) row-major -> (n). */
export function rowSquaredNorms(x: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * d;
    for (let p = 0; p < d; p++) s += x[o + p] * x[o + p];
    out[i] = s;
  }
  return out;
}

/** Rows of training data compared at once by the GEMM path (a test block x this many products). */
const BRUTE_TRAIN_BLOCK = 2048;

/**
 * Exact k nearest (squared L2) of test rows [r0, r1) by GEMM over blocks of training rows.
 * train: (n, d), test: (m, d), outIdx/outDist: (m, k)
 */
export function bruteL2(data: KnnData, trainSq: Float64Array, { r0, r1 }: RowRange, out: KnnOut): void {
  const { train, n, d, test } = data;
  const { k, indices: outIdx, distances: outDist } = out;
  const rows = r1 - r0;
  if (rows <= 0) return;
  const tb = Math.min(BRUTE_TRAIN_BLOCK, n);
  const prod = new Float64Array(rows * tb);
  const testSq = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    const o = (r0 + i) * d;
    for (let p = 0; p < d; p++) s += test[o + p] * test[o + p];
    testSq[i] = s;
  }
  const heaps = Array.from({ length: rows }, () => new TopK(k));
  for (let j0 = 0; j0 < n; j0 += tb) {
    const cols = Math.min(tb, n - j0);
    // prod (rows, cols) = -2 · test[r0:r1] · train[j0:j0+cols]ᵀ
    gemmRaw(rows, cols, d, -2, test, r0 * d, d, 1, train, j0 * d, 1, d, 0, prod, 0, cols, 1);
    for (let i = 0; i < rows; i++) {
      const h = heaps[i];
      const qs = testSq[i];
      const o = i * cols;
      let lim = h.bound();
      for (let j = 0; j < cols; j++) {
        const v = qs + trainSq[j0 + j] + prod[o + j];
        // Training rows come in index order, so an equal distance never displaces an earlier row.
        if (v < lim) {
          h.push(v, j0 + j);
          lim = h.bound();
        }
      }
    }
  }
  for (let i = 0; i < rows; i++) heaps[i].drain(outDist, outIdx, (r0 + i) * k, true);
}

/** Test rows compared with each training row at once by the L1 loop. */
const L1_TEST_BLOCK = 8;

/**
 * Exact k nearest (L1) of test rows [r0, r1) in a tight loop.
 * train: (n, d), test: (m, d), outIdx/outDist: (m, k)
 */
export function bruteL1(data: KnnData, { r0, r1 }: RowRange, out: KnnOut): void {
  const { train, n, d, test } = data;
  const { k, indices: outIdx, distances: outDist } = out;
  const heaps = Array.from({ length: L1_TEST_BLOCK }, () => new TopK(k));
  const acc = new Float64Array(L1_TEST_BLOCK);
  for (let b0 = r0; b0 < r1; b0 += L1_TEST_BLOCK) {
    const rows = Math.min(L1_TEST_BLOCK, r1 - b0);
    if (rows === L1_TEST_BLOCK) {
      const q0 = b0 * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
      const q4 = q3 + d, q5 = q4 + d, q6 = q5 + d, q7 = q6 + d;
      for (let j = 0; j < n; j++) {
        const x = j * d;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        for (let p = 0; p < d; p++) {
          const v = train[x + p];
          s0 += Math.abs(test[q0 + p] - v);
          s1 += Math.abs(test[q1 + p] - v);
          s2 += Math.abs(test[q2 + p] - v);
          s3 += Math.abs(test[q3 + p] - v);
          s4 += Math.abs(test[q4 + p] - v);
          s5 += Math.abs(test[q5 + p] - v);
          s6 += Math.abs(test[q6 + p] - v);
          s7 += Math.abs(test[q7 + p] - v);
        }
        acc[0] = s0; acc[1] = s1; acc[2] = s2; acc[3] = s3;
        acc[4] = s4; acc[5] = s5; acc[6] = s6; acc[7] = s7;
        for (let r = 0; r < L1_TEST_BLOCK; r++) if (acc[r] < heaps[r].bound()) heaps[r].push(acc[r], j);
      }
    } else {
      for (let j = 0; j < n; j++) {
        const x = j * d;
        for (let r = 0; r < rows; r++) {
          const q = (b0 + r) * d;
          let s = 0;
          for (let p = 0; p < d; p++) s += Math.abs(test[q + p] - train[x + p]);
          if (s < heaps[r].bound()) heaps[r].push(s, j);
        }
      }
    }
    for (let r = 0; r < rows; r++) heaps[r].drain(outDist, outIdx, (b0 + r) * k, false);
  }
}

