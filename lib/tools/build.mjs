// Compiles lib/src to lib/dist from scratch (stale outputs of deleted sources would otherwise linger)
// and assembles the WebAssembly kernels. `npm run build`; set-up runs it too.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "./jupyter.mjs";

rmSync(path.join(repoRoot, "lib", "dist"), { recursive: true, force: true });
const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
for (const args of [[tsc, "-p", "lib/tsconfig.json"], [path.join(repoRoot, "lib", "tools", "build-wasm.mjs")]]) {
  const r = spawnSync(process.execPath, args, { stdio: "inherit", cwd: repoRoot });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
