// One thread's share of a GEMM: a rectangle of C, over a range of K, with the WebAssembly micro-kernel
// (lib/src/wasm/gemm.wat). The main thread and the pool's workers (gemm-worker.ts) run exactly this code.
import { instantiateKernel } from "../wasm/loader.js";

// Block sizes: a KC x NC panel of B (256 x 512 doubles = 1 MiB) stays in L2, an MC x KC panel of A
// (64 x 256 = 128 KiB) streams through it, and the micro-kernel keeps a 4x4 tile of C in eight SIMD
// registers. All three buffers live in the kernel's linear memory.
//
// Chosen by measurement: CPU time of one thread for a 1024³ product (least of 5 runs, AMD EPYC with
// 2 MiB L2 per core, taken under a load average of 16-18 on 2 cores, so differences under ~10% are noise):
//   KC,MC,NC = 256,64,512: 189 ms   128,64,512: 215   384,64,512: 196   256,128,512: 255   256,32,512: 239
//              512,64,256: 243      192,96,768: 233   (256,64,1024 does not fit the kernel's memory)
// A 6x4 tile (12 accumulators, MC = 60) measured 176-205 ms against 197-214 for this 4x4 tile on 1024³,
// and 408 against 372 ms on the kNN chunk (500x784 · 784x5000): no clear gain, so the 4x4 tile stays.
export const MR = 4;
export const NR = 4;
export const KC = 256;
export const MC = 64;
export const NC = 512;
const A_AT = 0;
const B_AT = A_AT + MC * KC * 8;
const C_AT = B_AT + KC * NC * 8;

interface Kernel {
  macro(pa: number, pb: number, pc: number, mcp: number, ncp: number, kc: number, ai: number, ap: number): void;
  macroRows(pa: number, pb: number, pc: number, mcp: number, ncp: number, kc: number, lda: number): void;
  mem: Float64Array;
}
let kernel: Kernel | null = null;

function loadKernel(): Kernel {
  if (kernel) return kernel;
  const ex = instantiateKernel<{ macro: Kernel["macro"]; macro_rows: Kernel["macroRows"]; memory: { buffer: ArrayBuffer } }>("gemm");
  kernel = { macro: ex.macro, macroRows: ex.macro_rows, mem: new Float64Array(ex.memory.buffer) };
  return kernel;
}

/**
 * The operands of C += alpha * op(A) * op(B) on raw buffers: element (i, p) of op(A) is at
 * aOff + i*aRs + p*aCs, likewise for B (K, N) and C (M, N).
 */
export interface GemmOperands {
  M: number;
  N: number;
  K: number;
  alpha: number;
  A: Float64Array;
  aOff: number;
  aRs: number;
  aCs: number;
  B: Float64Array;
  bOff: number;
  bRs: number;
  bCs: number;
  C: Float64Array;
  cOff: number;
  cRs: number;
  cCs: number;
}

/** A rectangle of C and a range of K: rows [i0, i1), columns [j0, j1), steps [k0, k1). */
export interface GemmPart {
  i0: number;
  i1: number;
  j0: number;
  j1: number;
  k0: number;
  k1: number;
}

/** C = beta * C on a rectangle of C (0 * NaN is 0 here, as in BLAS: beta = 0 ignores C's old values). */
export function scaleC(g: GemmOperands, beta: number, i0: number, i1: number, j0: number, j1: number): void {
  const { C, cOff, cRs, cCs } = g;
  for (let i = i0; i < i1; i++) {
    const row = cOff + i * cRs;
    if (beta === 0) {
      if (cCs === 1) C.fill(0, row + j0, row + j1);
      else for (let j = j0; j < j1; j++) C[row + j * cCs] = 0;
    } else if (beta !== 1) {
      for (let j = j0; j < j1; j++) C[row + j * cCs] *= beta;
    }
  }
}

/**
 * C[i0:i1, j0:j1] += alpha * op(A)[i0:i1, k0:k1] * op(B)[k0:k1, j0:j1], one KC block of K at a time: every
 * element of C gets alpha times each block's dot product added in order of the blocks, whatever rectangle
 * it was computed in (the rectangles a product is cut into never change its numbers).
 */
export function gemmPart(g: GemmOperands, part: GemmPart): void {
  const { i0, i1, j0, j1, k0, k1 } = part;
  if (i1 <= i0 || j1 <= j0 || k1 <= k0 || g.alpha === 0) return;
  const { alpha, A, aRs, aCs, B, bRs, bCs, C, cRs, cCs } = g;
  const { macro, macroRows, mem } = loadKernel();
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = Math.min(NC, j1 - jc);
    const ncPad = Math.ceil(nc / NR) * NR;
    for (let pc = k0; pc < k1; pc += KC) {
      const kc = Math.min(KC, k1 - pc);
      const kcPad = kc + (kc & 1); // the kernel's inner loop is unrolled by two
      packPanelB(B, g.bOff + pc * bRs + jc * bCs, bRs, bCs, kc, kcPad, nc, mem, B_AT / 8);
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = Math.min(MC, i1 - ic);
        const mcPad = Math.ceil(mc / MR) * MR;
        const aBlock = g.aOff + ic * aRs + pc * aCs;
        if (aCs === 1) {
          // Rows of op(A) are contiguous: copy them in as they are (a memcpy each) for the row-reading kernel.
          stageRows(A, aBlock, aRs, mc, mcPad, kc, kcPad, mem, A_AT / 8);
          macroRows(A_AT, B_AT, C_AT, mcPad, ncPad, kcPad, kcPad * 8);
        } else if (aRs === 1) {
          // Columns of op(A) are contiguous (a transposed row-major matrix): copy them in as they are; the
          // kernel then finds the values of four rows at one step side by side, as in a packed panel.
          stageRows(A, aBlock, aCs, kc, kcPad, mc, mcPad, mem, A_AT / 8);
          macro(A_AT, B_AT, C_AT, mcPad, ncPad, kcPad, 8, mcPad * 8);
        } else {
          packPanelA(A, aBlock, aRs, aCs, mc, kc, kcPad, mem, A_AT / 8);
          macro(A_AT, B_AT, C_AT, mcPad, ncPad, kcPad, kcPad * 8, MR * 8);
        }
        // Add the scratch block into the real (strided) C.
        const cBase = C_AT / 8;
        for (let i = 0; i < mc; i++) {
          const src = cBase + i * ncPad;
          const dst = g.cOff + (ic + i) * cRs + jc * cCs;
          if (cCs === 1) {
            for (let j = 0; j < nc; j++) C[dst + j] += alpha * mem[src + j];
          } else {
            for (let j = 0; j < nc; j++) C[dst + j * cCs] += alpha * mem[src + j];
          }
        }
      }
    }
  }
}
// `rows` contiguous runs of `len` values, `rs` apart in A, copied as rows of lenPad values; the padding
// (rows past `rows`, values past `len`) is zero.
function stageRows(
  A: Float64Array,
  off: number,
  rs: number,
  rows: number,
  rowsPad: number,
  len: number,
  lenPad: number,
  dst: Float64Array,
  at: number,
): void {
  for (let i = 0; i < rows; i++) {
    const row = at + i * lenPad;
    dst.set(A.subarray(off + i * rs, off + i * rs + len), row);
    if (lenPad > len) dst.fill(0, row + len, row + lenPad);
  }
  if (rowsPad > rows) dst.fill(0, at + rows * lenPad, at + rowsPad * lenPad);
}

// An A panel (mc x kc) is stored as micro-panels of MR rows: for each p, MR consecutive values;
// rows past mc and steps past kc are zeros.
function packPanelA(
  A: Float64Array,
  off: number,
  rs: number,
  cs: number,
  mc: number,
  kc: number,
  kcPad: number,
  dst: Float64Array,
  at: number,
): void {
  let k = at;
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
    for (let p = kc; p < kcPad; p++) for (let r = 0; r < MR; r++) dst[k++] = 0;
  }
}

// A B panel (kc x nc) is stored as micro-panels of NR columns: for each p, NR consecutive values;
// columns past nc and steps past kc are zeros.
function packPanelB(
  B: Float64Array,
  off: number,
  rs: number,
  cs: number,
  kc: number,
  kcPad: number,
  nc: number,
  dst: Float64Array,
  at: number,
): void {
  let k = at;
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
    for (let p = kc; p < kcPad; p++) for (let c = 0; c < NR; c++) dst[k++] = 0;
  }
}
