// Builds the course's static site with Sphinx and nbsphinx (see site/build_site.py); --open serves it.
// npm run site -- [--quick] [--solutions] [--force] [--jobs N] [--out DIR] [--open] [--port N]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { HOW_TO_GET_JUPYTER, jupyterEnv, repoRoot } from "./jupyter.mjs";

const stamp = path.join(repoRoot, ".jupyter-env", "python");
if (!existsSync(stamp)) {
  console.error(`Run setup first (npm run setup).\n${HOW_TO_GET_JUPYTER}`);
  process.exit(1);
}
const python = readFileSync(stamp, "utf8").trim();
const args = process.argv.slice(2);
const open = args.includes("--open");
const portAt = args.indexOf("--port");
const port = portAt >= 0 ? Number(args[portAt + 1]) : 8000;
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`site: --port must be a port number (1-65535), got ${JSON.stringify(args[portAt + 1])}`);
  process.exit(2);
}
const passOn = args.filter((a, i) => a !== "--open" && a !== "--port" && (portAt < 0 || i !== portAt + 1));
const probe = spawnSync(python, ["-c", "import sphinx, nbsphinx, sphinx_book_theme"], { encoding: "utf8" });
if (probe.status !== 0) {
  console.error(
    "site: Sphinx, nbsphinx and the book theme are needed: on Debian or Ubuntu " +
      "`apt-get install python3-sphinx python3-nbsphinx python3-sphinx-book-theme`; elsewhere " +
      "`python3 -m pip install sphinx nbsphinx sphinx-book-theme`.",
  );
  process.exit(1);
}
const script = path.join(repoRoot, "lib", "tools", "site", "build_site.py");
const r = spawnSync(python, [script, repoRoot, ...passOn], { stdio: "inherit", env: jupyterEnv({}) });
if (r.status !== 0) process.exit(r.status ?? 1);
if (open) {
  const outAt = passOn.indexOf("--out");
  const dir = outAt >= 0 ? path.resolve(passOn[outAt + 1]) : path.join(repoRoot, "build", "site");
  console.log(`[site] serving ${path.relative(repoRoot, dir) || "."} at http://127.0.0.1:${port}/ (Ctrl-C stops)`);
  const server = spawn(python, ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", dir], { stdio: "inherit" });
  process.on("SIGINT", () => server.kill("SIGINT"));
  server.on("exit", (code) => process.exit(code ?? 0));
}
