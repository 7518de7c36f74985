// Sets everything up, idempotently: Jupyter (installed with apt when run as root on Debian), the npm
// dependencies, the compiled library, and the project-local tslab kernel spec.
// Usage: node lib/tools/setup.mjs [--quiet]
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HOW_TO_GET_JUPYTER, findJupyterPython, jupyterDataDir, kernelName, repoRoot } from "./jupyter.mjs";

const APT_PACKAGES = ["jupyter-notebook", "jupyter-nbconvert", "jupyter-client", "python3-nbclient"];
const quiet = process.argv.includes("--quiet");

function log(msg) {
  if (!quiet) console.log(`[setup] ${msg}`);
}

function fail(msg) {
  console.error(`\n[setup] ${msg}\n`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: repoRoot, ...opts });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`\`${cmd} ${args.join(" ")}\` failed with exit code ${r.status}`);
}

function checkNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  // 20.19 is the first Node 20 that loads ES modules through require(), which the tslab kernel does.
  if (major < 20 || (major === 20 && minor < 19)) {
    fail(`Node.js ${process.versions.node} is too old: semantic-gap needs Node.js 20.19 or newer.`);
  }
}

function isDebianRoot() {
  return process.getuid?.() === 0 && existsSync("/usr/bin/apt-get") && existsSync("/etc/debian_version");
}

function ensureJupyter() {
  let python = findJupyterPython();
  if (python) return python;
  if (isDebianRoot()) {
    log(`Jupyter is missing; installing ${APT_PACKAGES.join(" ")} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    run("apt-get", ["update", "-q"], { env });
    run("apt-get", ["install", "-y", "-q", ...APT_PACKAGES], { env });
    python = findJupyterPython();
    if (python) return python;
  }
  fail(HOW_TO_GET_JUPYTER);
}

function ensureNodeModules() {
  // Dependencies are current when node_modules was installed from this very package-lock.json: either
  // this script recorded the lock's hash after installing, or npm's own record of the last install
  // (node_modules/.package-lock.json) is newer than the lock file.
  const lock = path.join(repoRoot, "package-lock.json");
  const stamp = path.join(repoRoot, "node_modules", ".semantic-gap-lock-sha256");
  const hidden = path.join(repoRoot, "node_modules", ".package-lock.json");
  const want = createHash("sha256").update(readFileSync(lock)).digest("hex");
  const current = existsSync(stamp)
    ? readFileSync(stamp, "utf8") === want
    : existsSync(hidden) && statSync(hidden).mtimeMs >= statSync(lock).mtimeMs;
  if (current) {
    log("npm dependencies are up to date");
  } else {
    log("installing npm dependencies (npm ci)");
    // No install scripts are needed: sharp and zeromq ship prebuilt binaries in their packages.
    run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"]);
  }
  writeFileSync(stamp, want);
}

function buildLib() {
  log("compiling lib (lib/dist)");
  run(process.execPath, [path.join(repoRoot, "lib", "tools", "build.mjs")]);
}

function registerKernel() {
  const tslab = path.join(repoRoot, "node_modules", ".bin", "tslab");
  if (!existsSync(tslab)) fail(`the tslab kernel was not installed (expected ${tslab}); run npm ci`);
  const dir = path.join(jupyterDataDir, "kernels", kernelName);
  mkdirSync(dir, { recursive: true });
  const spec = {
    argv: [tslab, "kernel", "--config-path", "{connection_file}"],
    display_name: "TypeScript",
    language: "typescript",
  };
  writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
  log(`registered the TypeScript (tslab) kernel for this project`);
}

function noteDataset() {
  const dir = process.env.FASHION_MNIST_DIR || "/usr/share/datasets/fashion-mnist";
  if (!existsSync(dir)) {
    log(
      "full Fashion-MNIST not found; notebooks use the embedded subset. For the full set: " +
        "apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR.",
    );
  }
}

checkNode();
const python = ensureJupyter();
ensureNodeModules();
buildLib();
registerKernel();
noteDataset();
writeFileSync(path.join(repoRoot, ".jupyter-env", "python"), python + "\n");
log(`ready (Jupyter runs with ${python})`);
