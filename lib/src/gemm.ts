import { ShapeError, shapeStr } from "./errors.js";
import { checkTensor, zeros, type Tensor } from "./tensor.js";

// Block sizes: a KC x NC panel of B (256 x 512 doubles = 1 MiB) stays in L2, an MC x KC panel of A
// (64 x 256 = 128 KiB) streams through it, and the 4x4 micro-kernel keeps its 16 sums in registers.
const MR = 4;
const NR = 4;
const KC = 256;
const MC = 64;
const NC = 512;

let packA = new Float64Array(MC * KC);
let packB = new Float64Array(KC * NC);

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
 * C = alpha * op(A) * op(B) + beta * C, cache-blocked, for any strides and offsets (views, transposes).
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

/** The blocked kernel on raw buffers; exported for the fast layers that already hold strides. */
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
  // Scale C by beta first, so every K block below simply accumulates.
  for (let i = 0; i < M; i++) {
    const row = cOff + i * cRs;
    for (let j = 0; j < N; j++) {
      const p = row + j * cCs;
      C[p] = beta === 0 ? 0 : beta * C[p];
    }
  }
  if (K === 0 || alpha === 0) return;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    const ncPad = Math.ceil(nc / NR) * NR;
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      if (packB.length < kc * ncPad) packB = new Float64Array(kc * ncPad);
      packPanelB(B, bOff + pc * bRs + jc * bCs, bRs, bCs, kc, nc, packB);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        const mcPad = Math.ceil(mc / MR) * MR;
        if (packA.length < mcPad * kc) packA = new Float64Array(mcPad * kc);
        packPanelA(A, aOff + ic * aRs + pc * aCs, aRs, aCs, mc, kc, packA);
        macroKernel(mc, nc, kc, alpha, packA, packB, C, cOff + ic * cRs + jc * cCs, cRs, cCs);
      }
    }
  }
}

// A panel (mc x kc) is stored as micro-panels of MR rows: for each p, MR consecutive values.
function packPanelA(A: Float64Array, off: number, rs: number, cs: number, mc: number, kc: number, dst: Float64Array): void {
  let k = 0;
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const rows = Math.min(MR, mc - i0);
    if (rows === MR) {
      const r0 = off + i0 * rs;
      const r1 = r0 + rs;
      const r2 = r1 + rs;
      const r3 = r2 + rs;
      for (let p = 0; p < kc; p++) {
        const q = p * cs;
        dst[k] = A[r0 + q];
        dst[k + 1] = A[r1 + q];
        dst[k + 2] = A[r2 + q];
        dst[k + 3] = A[r3 + q];
        k += 4;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) dst[k++] = r < rows ? A[off + (i0 + r) * rs + p * cs] : 0;
      }
    }
  }
}

// B panel (kc x nc) is stored as micro-panels of NR columns: for each p, NR consecutive values.
function packPanelB(B: Float64Array, off: number, rs: number, cs: number, kc: number, nc: number, dst: Float64Array): void {
  let k = 0;
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = Math.min(NR, nc - j0);
    if (cols === NR) {
      const c0 = off + j0 * cs;
      const c1 = c0 + cs;
      const c2 = c1 + cs;
      const c3 = c2 + cs;
      for (let p = 0; p < kc; p++) {
        const q = p * rs;
        dst[k] = B[c0 + q];
        dst[k + 1] = B[c1 + q];
        dst[k + 2] = B[c2 + q];
        dst[k + 3] = B[c3 + q];
        k += 4;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let c = 0; c < NR; c++) dst[k++] = c < cols ? B[off + p * rs + (j0 + c) * cs] : 0;
      }
    }
  }
}

function macroKernel(
  mc: number,
  nc: number,
  kc: number,
  alpha: number,
  pa: Float64Array,
  pb: Float64Array,
  C: Float64Array,
  cOff: number,
  cRs: number,
  cCs: number,
): void {
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = Math.min(NR, nc - j0);
    const bBase = j0 * kc;
    for (let i0 = 0; i0 < mc; i0 += MR) {
      const rows = Math.min(MR, mc - i0);
      let aIdx = i0 * kc;
      let bIdx = bBase;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0; p < kc; p++) {
        const a0 = pa[aIdx], a1 = pa[aIdx + 1], a2 = pa[aIdx + 2], a3 = pa[aIdx + 3];
        const b0 = pb[bIdx], b1 = pb[bIdx + 1], b2 = pb[bIdx + 2], b3 = pb[bIdx + 3];
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
        aIdx += 4;
        bIdx += 4;
      }
      const base = cOff + i0 * cRs + j0 * cCs;
      if (rows === MR && cols === NR) {
        let r = base;
        C[r] += alpha * c00; C[r + cCs] += alpha * c01; C[r + 2 * cCs] += alpha * c02; C[r + 3 * cCs] += alpha * c03;
        r += cRs;
        C[r] += alpha * c10; C[r + cCs] += alpha * c11; C[r + 2 * cCs] += alpha * c12; C[r + 3 * cCs] += alpha * c13;
        r += cRs;
        C[r] += alpha * c20; C[r + cCs] += alpha * c21; C[r + 2 * cCs] += alpha * c22; C[r + 3 * cCs] += alpha * c23;
        r += cRs;
        C[r] += alpha * c30; C[r + cCs] += alpha * c31; C[r + 2 * cCs] += alpha * c32; C[r + 3 * cCs] += alpha * c33;
      } else {
        const acc = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) C[base + r * cRs + c * cCs] += alpha * acc[r * 4 + c];
        }
      }
    }
  }
}
