// Where a worker thread's script is, for lib's worker threads (the GEMM pool, the kNN search): the .js file
// beside the calling module in the compiled library; run from the TypeScript sources (tsx, vitest), the .ts
// file, which a small bootstrap loads after registering tsx's loader in the worker thread.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface WorkerSpec {
  /** The worker script, or an inline bootstrap (eval) that loads it. */
  script: URL | string;
  eval: boolean;
}

const cache = new Map<string, WorkerSpec | null>();

/**
 * The script of worker `stem` (e.g. "knn-worker") beside module `base` (its import.meta.url), or null when
 * neither the .js nor a loadable .ts exists. A bootstrap that fails posts `{ error }` to the parent port.
 */
export function workerSpec(stem: string, base: string): WorkerSpec | null {
  const key = `${base}\n${stem}`;
  if (cache.has(key)) return cache.get(key)!;
  let spec: WorkerSpec | null = null;
  const js = new URL(`./${stem}.js`, base);
  const ts = new URL(`./${stem}.ts`, base);
  if (js.protocol === "file:" && existsSync(fileURLToPath(js))) {
    spec = { script: js, eval: false };
  } else if (ts.protocol === "file:" && existsSync(fileURLToPath(ts))) {
    try {
      // The ESM entry of tsx's API (createRequire would resolve its CommonJS entry).
      const pkgFile = createRequire(fileURLToPath(ts)).resolve("tsx/package.json");
      const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { exports: Record<string, { import: { default: string } }> };
      const api = pathToFileURL(path.join(path.dirname(pkgFile), pkg.exports["./esm/api"].import.default)).href;
      const code =
        `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(ts.href)}); })` +
        `.catch((e) => { require("node:worker_threads").parentPort.postMessage({ error: String(e && e.stack || e) }); });`;
      spec = { script: code, eval: true };
    } catch {
      spec = null;
    }
  }
  cache.set(key, spec);
  return spec;
}
