import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ShapeError, shapeStr } from "./errors.js";
import { checkTensor, zeros, type Tensor } from "./tensor.js";

// Block sizes: a KC x NC panel of B (256 x 512 doubles = 1 MiB) stays in L2, an MC x KC panel of A
// (64 x 256 = 128 KiB) streams through it, and the WebAssembly micro-kernel keeps a 4x4 tile of C in
// eight SIMD registers (lib/src/wasm/gemm.wat). All three buffers live in the kernel's linear memory.
const MR = 4;
const NR = 4;
const KC = 256;
const MC = 64;
const NC = 512;
const A_AT = 0;
const B_AT = A_AT + MC * KC * 8;
const C_AT = B_AT + KC * NC * 8;

interface Kernel {
  macro(pa: number, pb: number, pc: number, mcp: number, ncp: number, kc: number, ai: number, ap: number): void;
  macroRows(pa: number, pb: number, pc: number, mcp: number, ncp: number, kc: number, lda: number): void;
  mem: Float64Array;
}
let kernel: Kernel | null = null;

// The ES2022 typings this project compiles against do not describe WebAssembly; this is all we use of it.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

/** Compiles and instantiates a WebAssembly module (no imports) and returns its exports. */
export function instantiateWasm(bytes: Uint8Array): unknown {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  return new wasm.Instance(new wasm.Module(bytes), {}).exports;
}

function loadKernel(): Kernel {
  if (kernel) return kernel;
  const file = fileURLToPath(new URL("./wasm/gemm.wasm", import.meta.url));
  if (!existsSync(file)) {
    throw new Error(`gemm: the WebAssembly kernel ${file} is missing; build the library first (npm run build)`);
  }
  const exports = instantiateWasm(readFileSync(file)) as {
    macro: Kernel["macro"];
    macro_rows: Kernel["macroRows"];
    memory: { buffer: ArrayBuffer };
  };
  kernel = { macro: exports.macro, macroRows: exports.macro_rows, mem: new Float64Array(exports.memory.buffer) };
  return kernel;
}

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
  if (K === 0 || alpha === 0 || M === 0 || N === 0) return;
  const { macro, macroRows, mem } = loadKernel();
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    const ncPad = Math.ceil(nc / NR) * NR;
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      const kcPad = kc + (kc & 1); // the kernel's inner loop is unrolled by two
      packPanelB(B, bOff + pc * bRs + jc * bCs, bRs, bCs, kc, kcPad, nc, mem, B_AT / 8);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        const mcPad = Math.ceil(mc / MR) * MR;
        const aBlock = aOff + ic * aRs + pc * aCs;
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
          const dst = cOff + (ic + i) * cRs + jc * cCs;
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
