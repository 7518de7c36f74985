// Opens the curriculum in the classic Jupyter Notebook with the project's TypeScript (tslab) kernel.
// Extra arguments go to Jupyter: npm start -- --port 9000 --no-browser
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { jupyterEnv, repoRoot } from "./jupyter.mjs";

const python = readFileSync(path.join(repoRoot, ".jupyter-env", "python"), "utf8").trim();
const args = ["-m", "notebook", `--notebook-dir=${repoRoot}`, ...process.argv.slice(2)];
// Jupyter refuses to start as root unless told that this is intended (containers, CI machines).
if (process.getuid?.() === 0 && !args.includes("--allow-root")) args.push("--allow-root");
if (!process.env.DISPLAY && !args.some((a) => a.startsWith("--no-browser") || a.startsWith("--browser"))) {
  args.push("--no-browser");
}
console.log(`[start] Jupyter Notebook on ${repoRoot}; open notebooks/00-semantic-gap.ipynb to begin.`);
const child = spawn(python, args, { stdio: "inherit", env: jupyterEnv(), cwd: repoRoot });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
