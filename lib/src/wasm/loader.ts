// The one loader of lib's WebAssembly kernels (lib/src/wasm/*.wat, assembled into .wasm files beside this
// module by `npm run build`). Every thread that runs a kernel instantiates its own copy of a module compiled
// once per thread; a missing binary is always the same clear error.
//
// Kernels whose products can be fused also come as <name>.fused.wasm, built with relaxed SIMD's
// f64x2.relaxed_madd (one fused multiply-add where the CPU has FMA: about twice the products per cycle, and
// each a*b+c rounded once instead of twice). It is used where the engine accepts relaxed SIMD (Node 22 does
// by default; Node 20 after V8's --experimental-wasm-relaxed-simd flag, which this module sets), unless
// SEMANTIC_GAP_FMA=0. Every thread of a process runs the same variant, so results never depend on the thread
// count.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";

/**
 * The kernels lib ships: gemm.wasm (matrix multiply), knn.wasm (integer distances for the kNN search),
 * conv.wasm (the fast convolution's products).
 */
export type WasmKernelName = "gemm" | "knn" | "conv";

// The ES2022 typings this project compiles against do not describe WebAssembly; this is all lib uses of it.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

const modules = new Map<WasmKernelName, object>();

/** The environment variable that turns the fused multiply-add kernels off ("0"). */
export const FMA_ENV = "SEMANTIC_GAP_FMA";

// The smallest module that uses relaxed SIMD: a function returning the first lane of
// f64x2.relaxed_madd(splat a, splat b, splat c), so that the probe also tells whether it rounds once.
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7c, 0x7c, 0x7c, 0x01, 0x7c,
  0x03, 0x02, 0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x16, 0x01, 0x14, 0x00, 0x20, 0x00,
  0xfd, 0x14, 0x20, 0x01, 0xfd, 0x14, 0x20, 0x02, 0xfd, 0x14, 0xfd, 0x87, 0x02, 0xfd, 0x21, 0x00, 0x0b,
]);

/** Whether kernels use fused multiply-adds: "fused" (one rounding), "relaxed" (accepted, but two roundings), "off". */
export type FmaMode = "fused" | "relaxed" | "off";
let fmaMode: FmaMode | undefined;

function wasmApi(): WasmApi {
  return (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
}

function compileProbe(): ((a: number, b: number, c: number) => number) | null {
  try {
    const ex = new (wasmApi().Instance)(new (wasmApi().Module)(RELAXED_PROBE), {}).exports as { f: (a: number, b: number, c: number) => number };
    return ex.f;
  } catch {
    return null;
  }
}

/** A phrase for benchmark reports: which multiply-add the kernels use. */
export function kernelDescription(): string {
  const mode = fmaKernels();
  if (mode === "fused") return "WebAssembly SIMD, fused multiply-add (relaxed SIMD)";
  if (mode === "relaxed") return "WebAssembly SIMD, relaxed multiply-add (not fused on this CPU)";
  return process.env[FMA_ENV] === "0" ? `WebAssembly SIMD, multiply then add (${FMA_ENV}=0)` : "WebAssembly SIMD, multiply then add (no relaxed SIMD here)";
}

/** Which multiply-add the kernels of this process use (decided once, on first use). */
export function fmaKernels(): FmaMode {
  if (fmaMode) return fmaMode;
  if (process.env[FMA_ENV] === "0") return (fmaMode = "off");
  let f = compileProbe();
  if (!f) {
    try {
      setFlagsFromString("--experimental-wasm-relaxed-simd");
    } catch {
      // an engine without the flag keeps the plain kernels
    }
    f = compileProbe();
  }
  if (!f) return (fmaMode = "off");
  // (1 + 2^-30)(1 - 2^-30) - 1 is -2^-60 when rounded once, 0 when the product is rounded first.
  return (fmaMode = f(1 + 2 ** -30, 1 - 2 ** -30, -1) === -(2 ** -60) ? "fused" : "relaxed");
}

/**
 * The places a kernel's binary may be: beside this module (lib/src/wasm, lib/dist/wasm), or in wasm/ beside
 * the one file lib was bundled into.
 */
function places(file: string): string[] {
  return [`./${file}`, `./wasm/${file}`].map((p) => fileURLToPath(new URL(p, import.meta.url)));
}

/** Where a kernel's binary is (its fused variant when the kernels use one), or null when it is missing. */
export function wasmKernelPath(name: WasmKernelName): string | null {
  if (fmaKernels() !== "off") {
    const fused = places(`${name}.fused.wasm`).find((f) => existsSync(f));
    if (fused) return fused;
  }
  return places(`${name}.wasm`).find((f) => existsSync(f)) ?? null;
}

/**
 * A fresh instance of kernel `name` (its own linear memory); the module is compiled once per thread.
 * Throws, naming the file, when the binary is missing.
 */
export function instantiateKernel<T>(name: WasmKernelName): T {
  const wasm = wasmApi();
  let mod = modules.get(name);
  if (!mod) {
    const file = wasmKernelPath(name);
    if (!file) {
      throw new Error(
        `lib: the WebAssembly kernel ${name}.wasm is missing (looked for ${places(`${name}.wasm`).join(" and ")}); ` +
          "build the library first (npm run build)",
      );
    }
    mod = new wasm.Module(readFileSync(file));
    modules.set(name, mod);
  }
  return new wasm.Instance(mod, {}).exports as T;
}

/** Compiles and instantiates a WebAssembly module with no imports from its bytes and returns its exports. */
export function instantiateWasm(bytes: Uint8Array): unknown {
  const wasm = wasmApi();
  return new wasm.Instance(new wasm.Module(bytes), {}).exports;
}
