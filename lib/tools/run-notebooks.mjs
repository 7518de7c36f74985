// Runs every notebook in real Jupyter with the tslab kernel (see run_notebooks.py).
// Quick mode unless SEMANTIC_GAP_QUICK is already set: npm run test:notebooks -- [--html] [filter ...]
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { HOW_TO_GET_JUPYTER, jupyterEnv, repoRoot } from "./jupyter.mjs";

const stamp = path.join(repoRoot, ".jupyter-env", "python");
if (!existsSync(stamp)) {
  console.error(`Run setup first (npm run setup).\n${HOW_TO_GET_JUPYTER}`);
  process.exit(1);
}
const python = readFileSync(stamp, "utf8").trim();
const env = jupyterEnv({ SEMANTIC_GAP_QUICK: process.env.SEMANTIC_GAP_QUICK ?? "1" });
const script = path.join(repoRoot, "lib", "tools", "run_notebooks.py");
const r = spawnSync(python, [script, repoRoot, ...process.argv.slice(2)], { stdio: "inherit", env });
process.exit(r.status ?? 1);
