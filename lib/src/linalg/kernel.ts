// One thread's share of a GEMM: a rectangle of C, over a range of K, with the WebAssembly micro-kernel
// (lib/src/wasm/gemm.wat; its fused multiply-add variant where the engine has one, see wasm/loader.ts). The
// calling thread and the pool's workers (threads/pool-worker.ts) run exactly this code.
import { instantiateKernel } from "../wasm/loader.js";

// Block sizes: a KC x NC panel of B (256 x 512 doubles = 1 MiB) stays in L2, an MC x KC panel of A
// (64 x 256 = 128 KiB) streams through it, and the micro-kernel keeps a 4x4 tile of C in eight SIMD
// registers. All three buffers live in the kernel's linear memory.
//
// Chosen by measurement: CPU time of one thread for a 1024³ product with the fused kernel (least of 7 runs,
// AMD EPYC with 2 MiB L2 per core, under a load average of 2-4 on the 2 cores, so differences under ~15% are
// noise): KC,MC,NC = 256,64,512: 106-142 ms over three rounds   384,64,512: 110   256,128,512: 107
// 256,32,512: 121   512,64,256: 108   256,64,1024: 106   128,64,512: 160   128,128,1024: 122   256,96,512: 106.
// No other choice is clearly faster, and this one keeps the kernel's memory at 48 pages. Tiles other than
// 4x4 spill registers in V8 (see gemm.wat).
export const MR = 4; // packPanel and the kernel assume MR = NR = 4
export const NR = 4;
export const KC = 256;
export const MC = 64;
export const NC = 512;
// Byte offsets in the kernel's memory: the packed A and B panels, the scratch block of C, and the blocks of
// A and B copied in as they are before the kernel packs them.
const A_AT = 0;
const B_AT = A_AT + MC * KC * 8;
const C_AT = B_AT + KC * NC * 8;
const RAW_A_AT = C_AT + MC * NC * 8;
const RAW_B_AT = RAW_A_AT + MC * KC * 8;

interface Kernel {
  macro(pa: number, pb: number, pc: number, mcp: number, ncp: number, kc: number, ai: number, ap: number): void;
  packLines(src: number, ls: number, len: number, lines: number, dst: number): void;
  packSteps(src: number, ss: number, steps: number, lines: number, dst: number): void;
  mem: Float64Array;
}
let kernel: Kernel | null = null;

function loadKernel(): Kernel {
  if (kernel) return kernel;
  const ex = instantiateKernel<{
    macro: Kernel["macro"];
    pack_lines: Kernel["packLines"];
    pack_steps: Kernel["packSteps"];
    memory: { buffer: ArrayBuffer };
  }>("gemm");
  kernel = { macro: ex.macro, packLines: ex.pack_lines, packSteps: ex.pack_steps, mem: new Float64Array(ex.memory.buffer) };
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

/**
 * A rectangle of C and a range of K: rows [i0, i1), columns [j0, j1), steps [k0, k1). zeroC: the rectangle
 * holds zeros (C was scaled by beta = 0), so the first block's products are copied in rather than added
 * (the same numbers, but for the sign of a zero: x rather than 0 + x).
 */
export interface GemmPart {
  i0: number;
  i1: number;
  j0: number;
  j1: number;
  k0: number;
  k1: number;
  zeroC?: boolean;
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
  const { macro, packLines, packSteps, mem } = loadKernel();
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = Math.min(NC, j1 - jc);
    const ncPad = Math.ceil(nc / NR) * NR;
    for (let pc = k0; pc < k1; pc += KC) {
      const kc = Math.min(KC, k1 - pc);
      const bBlock = g.bOff + pc * bRs + jc * bCs;
      if (bCs === 1) {
        // Rows of op(B) contiguous: copy them in (a memcpy each), then the kernel packs them.
        stageRows(B, bBlock, bRs, kc, kc, nc, ncPad, mem, RAW_B_AT / 8);
        packSteps(RAW_B_AT, ncPad * 8, kc, ncPad, B_AT);
      } else if (bRs === 1) {
        // Columns of op(B) contiguous (a transposed row-major matrix): likewise, column by column.
        stageRows(B, bBlock, bCs, nc, ncPad, kc, kc, mem, RAW_B_AT / 8);
        packLines(RAW_B_AT, kc * 8, kc, ncPad, B_AT);
      } else {
        packPanel(B, bBlock, bCs, bRs, nc, kc, mem, B_AT / 8);
      }
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = Math.min(MC, i1 - ic);
        const mcPad = Math.ceil(mc / MR) * MR;
        const aBlock = g.aOff + ic * aRs + pc * aCs;
        if (aCs === 1) {
          // Rows of op(A) are contiguous: copy them in as they are, then the kernel packs them.
          stageRows(A, aBlock, aRs, mc, mcPad, kc, kc, mem, RAW_A_AT / 8);
          packLines(RAW_A_AT, kc * 8, kc, mcPad, A_AT);
          macro(A_AT, B_AT, C_AT, mcPad, ncPad, kc, kc * 8, MR * 8);
        } else if (aRs === 1) {
          // Columns of op(A) are contiguous: copy them in as they are; the kernel then finds the values of
          // four rows at one step side by side, as in a packed panel.
          stageRows(A, aBlock, aCs, kc, kc, mc, mcPad, mem, A_AT / 8);
          macro(A_AT, B_AT, C_AT, mcPad, ncPad, kc, 8, mcPad * 8);
        } else {
          packPanel(A, aBlock, aRs, aCs, mc, kc, mem, A_AT / 8);
          macro(A_AT, B_AT, C_AT, mcPad, ncPad, kc, kc * 8, MR * 8);
        }
        // Add the scratch block into the real (strided) C; into a C still all zeros, copy it (a memcpy a row).
        const cBase = C_AT / 8;
        const copy = part.zeroC === true && pc === k0 && alpha === 1 && cCs === 1;
        for (let i = 0; i < mc; i++) {
          const src = cBase + i * ncPad;
          const dst = g.cOff + (ic + i) * cRs + jc * cCs;
          if (copy) {
            C.set(mem.subarray(src, src + nc), dst);
          } else if (cCs === 1) {
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

// A panel is stored as micro-panels of 4 lines (rows of an A block, columns of a B block; MR = NR = 4):
// for each step p, the 4 lines' values side by side; lines past `lines` are zeros.
// Line l's value at step p is at off + l*ls + p*ps.
function packPanel(
  src: Float64Array,
  off: number,
  ls: number,
  ps: number,
  lines: number,
  kc: number,
  dst: Float64Array,
  at: number,
): void {
  let k = at;
  for (let l0 = 0; l0 < lines; l0 += 4) {
    const n = Math.min(4, lines - l0);
    if (n === 4) {
      const s0 = off + l0 * ls;
      const s1 = s0 + ls;
      const s2 = s1 + ls;
      const s3 = s2 + ls;
      for (let p = 0; p < kc; p++) {
        const q = p * ps;
        dst[k] = src[s0 + q];
        dst[k + 1] = src[s1 + q];
        dst[k + 2] = src[s2 + q];
        dst[k + 3] = src[s3 + q];
        k += 4;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < 4; r++) dst[k++] = r < n ? src[off + (l0 + r) * ls + p * ps] : 0;
      }
    }
  }
}
