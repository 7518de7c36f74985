// Shared by setup, start and the notebook runner: where the repo is, which Python has Jupyter,
// and the environment that makes Jupyter see the project's tslab kernel. Dependency-free on purpose:
// setup runs before `npm install`.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The project-local Jupyter data dir holding the tslab kernel spec (gitignored). */
export const jupyterDataDir = path.join(repoRoot, ".jupyter-env", "share", "jupyter");
export const kernelName = "tslab";

const REQUIRED_MODULES = ["notebook", "nbclient", "nbformat", "nbconvert", "jupyter_client"];

/** True when `python` imports every module Jupyter needs here. */
export function pythonHasJupyter(python) {
  const probe = `import importlib, sys\nfor m in ${JSON.stringify(REQUIRED_MODULES)}: importlib.import_module(m)`;
  const r = spawnSync(python, ["-c", probe], { stdio: "ignore" });
  return r.status === 0;
}

/** The Python interpreter to run Jupyter with, or null when none has it. */
export function findJupyterPython() {
  const candidates = [];
  if (process.env.SEMANTIC_GAP_PYTHON) candidates.push(process.env.SEMANTIC_GAP_PYTHON);
  // The interpreter named in the `jupyter` launcher's shebang is the one Jupyter is installed in.
  const which = spawnSync("sh", ["-c", "command -v jupyter"], { encoding: "utf8" });
  const launcher = which.status === 0 ? which.stdout.trim() : "";
  if (launcher && existsSync(launcher)) {
    const first = readFileSync(launcher, "utf8").split("\n", 1)[0];
    if (first.startsWith("#!")) {
      const parts = first.slice(2).trim().split(/\s+/);
      candidates.push(parts[0].endsWith("/env") && parts[1] ? parts[1] : parts[0]);
    }
  }
  candidates.push("/usr/bin/python3", "python3", "python");
  for (const c of candidates) {
    if (pythonHasJupyter(c)) return c;
  }
  return null;
}

/** The environment for Jupyter processes: the project's kernel dir first on JUPYTER_PATH. */
export function jupyterEnv(extra = {}) {
  const prior = process.env.JUPYTER_PATH;
  return {
    ...process.env,
    JUPYTER_PATH: prior ? `${jupyterDataDir}${path.delimiter}${prior}` : jupyterDataDir,
    ...extra,
  };
}

export const HOW_TO_GET_JUPYTER = `Jupyter was not found. semantic-gap needs the classic Jupyter Notebook with nbclient, nbconvert
and jupyter_client in one Python 3 interpreter. On Debian or Ubuntu:
    sudo apt-get install jupyter-notebook jupyter-nbconvert jupyter-client python3-nbclient
(run as root, npm start / npm test install these themselves). Elsewhere, with pip:
    python3 -m pip install notebook nbclient nbconvert jupyter_client
If Jupyter lives in an interpreter that is not on PATH, point SEMANTIC_GAP_PYTHON at it.`;
