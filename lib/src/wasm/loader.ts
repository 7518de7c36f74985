// The one loader of lib's WebAssembly kernels (lib/src/wasm/*.wat, assembled into .wasm files beside this
// module by `npm run build`). Every thread that runs a kernel instantiates its own copy of a module compiled
// once per thread; a missing binary is always the same clear error.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

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

/**
 * Where a kernel's binary is: beside this module (lib/src/wasm, lib/dist/wasm), or in wasm/ beside the one
 * file lib was bundled into. The first place when it is in neither.
 */
export function wasmKernelPath(name: WasmKernelName): string {
  const places = [`./${name}.wasm`, `./wasm/${name}.wasm`].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return places.find((f) => existsSync(f)) ?? places[0];
}

/**
 * A fresh instance of kernel `name` (its own linear memory); the module is compiled once per thread.
 * Throws, naming the file, when the binary is missing.
 */
export function instantiateKernel<T>(name: WasmKernelName): T {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  let mod = modules.get(name);
  if (!mod) {
    const file = wasmKernelPath(name);
    if (!existsSync(file)) {
      throw new Error(`lib: the WebAssembly kernel ${file} is missing; build the library first (npm run build)`);
    }
    mod = new wasm.Module(readFileSync(file));
    modules.set(name, mod);
  }
  return new wasm.Instance(mod, {}).exports as T;
}

/** Compiles and instantiates a WebAssembly module with no imports from its bytes and returns its exports. */
export function instantiateWasm(bytes: Uint8Array): unknown {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  return new wasm.Instance(new wasm.Module(bytes), {}).exports;
}
