// Assembles lib/src/wasm/*.wat into .wasm beside the source (for the tests, which run lib/src) and
// into lib/dist/wasm/ (for the compiled library). Part of `npm run build`.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { repoRoot } from "./jupyter.mjs";

const require = createRequire(import.meta.url);
const wabt = await require("wabt")();
const srcDir = path.join(repoRoot, "lib", "src", "wasm");
const distDir = path.join(repoRoot, "lib", "dist", "wasm");
mkdirSync(distDir, { recursive: true });
for (const name of readdirSync(srcDir).filter((f) => f.endsWith(".wat"))) {
  const file = path.join(srcDir, name);
  const mod = wabt.parseWat(name, readFileSync(file, "utf8"), { simd: true });
  mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  mod.destroy();
  const out = name.replace(/\.wat$/, ".wasm");
  writeFileSync(path.join(srcDir, out), buffer);
  writeFileSync(path.join(distDir, out), buffer);
}
