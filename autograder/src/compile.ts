import { writeFileSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { paths } from "./paths.js";

/** The outcome of compiling one submission file to JavaScript. */
export interface CompiledFile {
  name: string;
  ok: boolean;
  /** Syntax errors that stop the file from loading, as `knn.ts:12:3 message`. */
  errors: string[];
}

/** Limits of the compiler's worker: a file that needs more costs only itself (it cannot load). */
export const compileLimits = { timeoutMs: 20_000, heapMb: 1024, stackMb: 4 };

/**
 * Compiles the submission's TypeScript files to ES modules in `outDir` without type checking (type errors
 * must not stop grading); import specifiers of the library and of sibling files are rewritten to the
 * runtime's bundles and the compiled siblings. Only syntax errors make a file fail, with a message the
 * student can act on. The compiler runs in a worker thread with heap, stack and time limits
 * (`compileLimits`): a file built to exhaust it fails to compile, and grading goes on.
 */
export async function compileSubmission(
  sources: Map<string, string>,
  outDir: string,
  modules: Record<string, string>,
  limits = compileLimits,
): Promise<CompiledFile[]> {
  writeFileSync(path.join(outDir, "package.json"), '{ "type": "module" }\n');
  const files = [...sources].map(([name, source]) => ({ name, source }));
  const results = new Map<string, CompiledFile>();
  if (files.length === 0) return [];
  // One worker compiles the files in turn; a file that exhausts it (time, heap, stack) fails alone, and a
  // fresh worker takes the files after it.
  let todo = files;
  while (todo.length > 0) {
    let current: string | null = null;
    let why = `it could not be compiled within ${limits.timeoutMs / 1000} s`;
    const worker = new Worker(new URL("./compile-worker.mjs", import.meta.url), {
      workerData: { files: todo, modules, root: paths.root },
      resourceLimits: { maxOldGenerationSizeMb: limits.heapMb, stackSizeMb: limits.stackMb },
      stdout: true,
      stderr: true,
    });
    await new Promise<void>((resolve) => {
      let timer = setTimeout(() => void worker.terminate(), limits.timeoutMs);
      worker.on("message", (m: { started?: string; name: string; ok: boolean; errors: string[]; output: string }) => {
        if (m.started !== undefined) {
          current = m.started;
          clearTimeout(timer);
          timer = setTimeout(() => void worker.terminate(), limits.timeoutMs);
          return;
        }
        if (m.ok) writeFileSync(path.join(outDir, m.name.replace(/\.ts$/, ".js")), m.output);
        results.set(m.name, { name: m.name, ok: m.ok, errors: m.errors });
        current = null;
      });
      worker.once("error", (e) => {
        why = /memory/i.test(e.message) ? "the compiler ran out of memory on it" : `the compiler failed (${e.name})`;
      });
      worker.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const stuck: string | null = current ?? todo.find((f) => !results.has(f.name))?.name ?? null;
    if (stuck !== null && !results.has(stuck)) results.set(stuck, { name: stuck, ok: false, errors: [`${stuck} cannot be compiled: ${why}`] });
    todo = todo.filter((f) => !results.has(f.name));
  }
  return files.map(({ name }) => results.get(name)!);
}
