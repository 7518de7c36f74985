import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { paths } from "./paths.js";

/**
 * The read-only folder the child process runs from: the runner, the library bundled into one file (so the
 * child needs no access to node_modules, whose workspace symlink would lead back into the repository), and
 * the two ndarray packages for students who import them directly.
 */
export interface Runtime {
  dir: string;
  runner: string;
  /** Bare import specifiers the compiled submission may use, mapped to files in `dir`. */
  modules: Record<string, string>;
}

let cached: Promise<Runtime> | null = null;
const here = path.dirname(fileURLToPath(import.meta.url));

/** Builds the runtime once per grader process (a fraction of a second with esbuild). */
export function getRuntime(): Promise<Runtime> {
  cached ??= buildRuntime().catch((e: unknown) => {
    cached = null;
    throw e;
  });
  return cached;
}

// Packages lib may import that cannot or need not be bundled for graded code (native code, plot bundles):
// they load as a stub that throws when used.
const stubbed = /^(sharp|plotly\.js-dist(-min)?|@img\/.*|tslab)(\/.*)?$/;

async function buildRuntime(): Promise<Runtime> {
  const esbuild = await import("esbuild");
  const dir = mkdtempSync(path.join(os.tmpdir(), "sg-runtime-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755); // readable by the sandbox's unprivileged uid, writable by the grader alone
  const libEntry = existsSync(paths.libSrcIndex) ? paths.libSrcIndex : paths.libDistIndex;
  const banner = {
    js: 'import { createRequire as __sgCreateRequire } from "node:module"; const require = __sgCreateRequire(import.meta.url);',
  };
  const stubPlugin = {
    name: "sg-stub",
    setup(build: import("esbuild").PluginBuild) {
      build.onResolve({ filter: stubbed }, (a) => ({ path: a.path, namespace: "sg-stub" }));
      build.onLoad({ filter: /.*/, namespace: "sg-stub" }, (a) => ({
        contents:
          `const fail = () => { throw new Error(${JSON.stringify(a.path)} + " is not available while grading"); };\n` +
          "module.exports = new Proxy(fail, { get: (t, k) => (k === '__esModule' ? false : fail), apply: fail, construct: fail });\n",
        loader: "js",
      }));
    },
  };
  const common = {
    bundle: true,
    format: "esm" as const,
    platform: "node" as const,
    target: "node20",
    logLevel: "silent" as const,
    banner,
    absWorkingDir: paths.root,
  };
  await esbuild.build({ ...common, entryPoints: [libEntry], outfile: path.join(dir, "sglib.mjs"), plugins: [stubPlugin] });
  // lib loads its WebAssembly kernels from ./wasm/ beside its own module: copy them beside the bundle.
  for (const wasmDir of [path.join(path.dirname(libEntry), "wasm"), path.join(paths.lib, "dist", "wasm")]) {
    if (existsSync(wasmDir)) {
      mkdirSync(path.join(dir, "wasm"), { recursive: true });
      for (const f of readdirSync(wasmDir).filter((n) => n.endsWith(".wasm"))) {
        if (!existsSync(path.join(dir, "wasm", f))) cpSync(path.join(wasmDir, f), path.join(dir, "wasm", f));
      }
    }
  }
  for (const pkg of ["ndarray", "ndarray-ops"]) {
    const entry = path.join(dir, `${pkg}.entry.mjs`);
    writeFileSync(entry, `import m from ${JSON.stringify(pkg)};\nexport default m;\n`);
    await esbuild.build({
      ...common,
      entryPoints: [entry],
      outfile: path.join(dir, `${pkg}.mjs`),
      nodePaths: [paths.nodeModules],
    });
    rmSync(entry);
  }
  const libExternal = {
    name: "sg-lib-external",
    setup(build: import("esbuild").PluginBuild) {
      build.onResolve({ filter: /^@semantic-gap\/lib$/ }, () => ({ path: "./sglib.mjs", external: true }));
    },
  };
  const runnerSrc = path.join(here, "child", "runner.ts");
  await esbuild.build({ ...common, entryPoints: [runnerSrc], outfile: path.join(dir, "runner.mjs"), plugins: [libExternal] });
  return {
    dir,
    runner: path.join(dir, "runner.mjs"),
    modules: {
      "@semantic-gap/lib": path.join(dir, "sglib.mjs"),
      ndarray: path.join(dir, "ndarray.mjs"),
      "ndarray-ops": path.join(dir, "ndarray-ops.mjs"),
    },
  };
}
