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
// A kernel whose products are written as (f64x2.add (local.get $c) (f64x2.mul (local.get $a) (local.get $b)))
// also gets a fused variant, <name>.fused.wasm, with each such product as one relaxed multiply-add
// (f64x2.relaxed_madd, a fused multiply-add on CPUs that have one); lib/src/wasm/loader.ts picks it where the
// engine accepts relaxed SIMD.
const PRODUCT = /\(f64x2\.add \(local\.get (\$\w+)\) \(f64x2\.mul \(local\.get (\$\w+)\) \(local\.get (\$\w+)\)\)\)/g;

function assemble(name, text, features) {
  const mod = wabt.parseWat(name, text, features);
  mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  mod.destroy();
  return buffer;
}

for (const name of readdirSync(srcDir).filter((f) => f.endsWith(".wat"))) {
  const text = readFileSync(path.join(srcDir, name), "utf8");
  const variants = [[name.replace(/\.wat$/, ".wasm"), assemble(name, text, { simd: true })]];
  const fused = text.replace(PRODUCT, "(f64x2.relaxed_madd (local.get $2) (local.get $3) (local.get $1))");
  if (fused !== text) variants.push([name.replace(/\.wat$/, ".fused.wasm"), assemble(name, fused, { simd: true, relaxed_simd: true })]);
  for (const [out, buffer] of variants) {
    writeFileSync(path.join(srcDir, out), buffer);
    writeFileSync(path.join(distDir, out), buffer);
  }
}
