import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { zipSync, type Zippable } from "fflate";
import { testModules } from "./discover.js";
import { paths, repoRoot } from "./paths.js";

/**
 * The two zips: the Gradescope autograder (grader, hidden tests, references, set-up scripts) and the
 * students' bundle (stubs, library, data, notebooks, public checks; never solutions or hidden tests).
 */

const fixedTime = new Date("2000-01-01T00:00:00Z");
const executable = { os: 3, attrs: (0o100755 << 16) >>> 0, mtime: fixedTime };
const regular = { os: 3, attrs: (0o100644 << 16) >>> 0, mtime: fixedTime };

/** Files under `rel` (relative to the repo), skipping build products, dependencies and checkpoints. */
function collect(rel: string, filter: (relPath: string) => boolean = () => true): string[] {
  const full = path.join(repoRoot, rel);
  if (!existsSync(full)) return [];
  if (statSync(full).isFile()) return filter(rel) ? [rel] : [];
  const out: string[] = [];
  for (const name of readdirSync(full).sort()) {
    if (name.startsWith(".") || name === "node_modules" || name === "dist" || name === "build") continue;
    out.push(...collect(`${rel}/${name}`, filter));
  }
  return out;
}

function toZip(files: string[], extra: Record<string, { text: string; exec?: boolean }>): Uint8Array {
  const z: Zippable = {};
  for (const rel of files) z[rel] = [new Uint8Array(readFileSync(path.join(repoRoot, rel))), regular];
  for (const [name, { text, exec }] of Object.entries(extra)) z[name] = [new TextEncoder().encode(text), exec ? executable : regular];
  return zipSync(z, { level: 6 });
}

/** vitest files, and the helpers only they import (`*.test-support.ts`), stay out of packages. */
const notTest = (p: string): boolean => !p.endsWith(".test.ts") && !p.endsWith(".test-support.ts");

/**
 * Test support (in-process students for the vitest checks) stays out of a package, unless a packaged module
 * still imports it (then it ships, so that the package works; such a module should move its vitest-only
 * helpers beside its *.test.ts files).
 */
const testSupport = ["autograder/src/in-process.ts"];

function withoutTestSupport(files: string[]): string[] {
  const needs = files.some(
    (f) => f.endsWith(".ts") && !testSupport.includes(f) && /from\s+["'][^"']*\/in-process(\.js|\.ts)?["']/.test(readFileSync(path.join(repoRoot, f), "utf8")),
  );
  return needs ? files : files.filter((f) => !testSupport.includes(f));
}

const packageFiles = ["package.json", "package-lock.json", "tsconfig.json"];
const libFiles = (): string[] => [
  ...collect("lib/package.json"),
  ...collect("lib/tsconfig.json"),
  ...collect("lib/src"),
  ...collect("lib/tools"),
];

export function setupScript(): string {
  return `#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
old_node() { ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; }
if old_node; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm ca-certificates
  if old_node; then
    # The distribution's Node is too old: let the "n" version manager install Node 20.
    npm install -g n
    n 20
    hash -r
  fi
fi
# The sandbox around student code: bubblewrap, and setpriv and prlimit (util-linux).
if ! command -v bwrap >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1 || ! command -v prlimit >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bubblewrap util-linux
fi
npm ci --ignore-scripts --no-audit --no-fund
npm run build
# Nothing the submission runs as (an unprivileged uid, in a sandbox that does not even show this folder)
# may change the grader: root owns it, and only root may write it.
chown -R root:root .
chmod -R go-w .
`;
}

export function runAutograderScript(assignment: string): string {
  return `#!/usr/bin/env bash
# Gradescope's entry point: grades the submission and writes results/results.json.
# AUTOGRADER_ROOT (default /autograder) lets a test run it against a folder laid out the same way.
set -uo pipefail
ROOT="\${AUTOGRADER_ROOT:-/autograder}"
SOURCE="\${AUTOGRADER_SOURCE:-$ROOT/source}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
cd "$SOURCE" || exit 1
node --import tsx autograder/src/cli.ts grade "$ROOT/submission" --assignment ${assignment} --out "$RESULTS"
status=$?
if [ ! -s "$RESULTS" ]; then
  echo '{"score": 0, "output": "The autograder could not run; please tell the course staff.", "tests": []}' > "$RESULTS"
fi
exit $status
`;
}

/** The Gradescope autograder zip: setup.sh and run_autograder at its root, the grader beside them. */
export function gradescopeZip(assignment: string): { zip: Uint8Array; files: string[] } {
  if (testModules(paths.tests(assignment)).length === 0) throw new Error(`autograder/${assignment} has no test modules`);
  const files = withoutTestSupport([
    ...packageFiles.filter((f) => existsSync(path.join(repoRoot, f))),
    ...libFiles(),
    ...collect("autograder/src"),
    ...collect(`autograder/${assignment}`, notTest),
    ...collect(`solutions/${assignment}`, notTest),
    ...collect(`assignments/${assignment}`, (p) => p.endsWith(".ts")),
    ...collect("data"),
  ]);
  const extra = {
    "setup.sh": { text: setupScript(), exec: true },
    run_autograder: { text: runAutograderScript(assignment), exec: true },
  };
  return { zip: toZip(files, extra), files: [...files, ...Object.keys(extra)] };
}

/** Relative imports of a public test module, which must stay inside what the students' bundle ships. */
function checkPublicTest(rel: string, shipped: Set<string>): void {
  const text = readFileSync(path.join(repoRoot, rel), "utf8");
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
    const spec = m[1];
    if (!spec.startsWith(".")) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.js$/, ".ts");
    if (target.startsWith("solutions/") || !shipped.has(target)) {
      throw new Error(`${rel} imports ${spec}, which the students' bundle does not contain; public checks must not need the solutions`);
    }
  }
}

export function studentReadme(assignment: string): string {
  return `# Assignment ${assignment.slice(1)}

This folder holds everything you need for assignment ${assignment.slice(1)}: the stub files you fill in
(\`assignments/${assignment}/\`), the library they build on (\`lib/\`), the dataset subset (\`data/\`) and the
lecture notebooks (\`notebooks/\`).

## Set up and open Jupyter

    npm start

This installs the dependencies, builds the library, registers the TypeScript kernel and opens Jupyter.
Open \`assignments/${assignment}/\` and start with its notebook. Fill in every function that throws
\`Not implemented\`, following the TODO comments above it; the notebook's sanity checks tell you as you go.

## Check your work

    npm run check -- ${assignment}

runs the public checks against your files in \`assignments/${assignment}/\`. They are a subset of the tests:
hidden tests with other inputs run when you hand in, so passing the public checks does not guarantee full
marks. Test your code on your own inputs too.

## Hand in

Zip the .ts files of \`assignments/${assignment}/\` (the file names must stay as they are) and upload the zip.
Your code is graded in a separate process with a time limit per test and no network or file access beyond
its own folder, so do not rely on reading files or printing results.
`;
}

/**
 * The bundle's package.json: the repository's, with only the scripts a student can run from the unpacked
 * zip (set-up, Jupyter, the library build, the type check of what ships, the public checks).
 */
export function studentPackageJson(assignment: string): string {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as Record<string, unknown>;
  const root = (pkg.scripts ?? {}) as Record<string, string>;
  pkg.scripts = {
    setup: root.setup,
    start: root.start,
    build: root.build,
    typecheck: root.typecheck,
    check: root.check,
    test: `npm run check -- ${assignment}`,
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** The bundle's tsconfig.json: the repository's, checking only the folders the bundle ships. */
export function studentTsconfig(): string {
  const cfg = JSON.parse(readFileSync(path.join(repoRoot, "tsconfig.json"), "utf8")) as { include?: string[] };
  cfg.include = ["lib/src", "lib/tools", "assignments", "autograder", "notebooks"];
  return `${JSON.stringify(cfg, null, 2)}\n`;
}

/** The students' zip: no solutions, no hidden tests (only public checks, which must not import solutions). */
export function studentZip(assignment: string): { zip: Uint8Array; files: string[] } {
  if (!existsSync(paths.assignments(assignment))) throw new Error(`assignments/${assignment} does not exist; run npm run build:assignments`);
  const publicTests = testModules(paths.tests(assignment), "public").map((f) => `autograder/${assignment}/${f}`);
  const files = withoutTestSupport([
    ...packageFiles.filter((f) => f === "package-lock.json" && existsSync(path.join(repoRoot, f))),
    ...libFiles(),
    ...collect(`assignments/${assignment}`),
    ...collect("data"),
    ...collect("notebooks", (p) => notTest(p)),
    ...collect("autograder/src"),
    ...publicTests,
  ]);
  const shipped = new Set(files);
  for (const t of publicTests) checkPublicTest(t, shipped);
  const bad = files.filter((f) => f.startsWith("solutions/") || /\.hidden(\.test)?\.ts$/.test(f));
  if (bad.length > 0) throw new Error(`refusing to bundle ${bad.join(", ")}`);
  const extra = {
    "README.md": { text: studentReadme(assignment) },
    "package.json": { text: studentPackageJson(assignment) },
    "tsconfig.json": { text: studentTsconfig() },
  };
  return { zip: toZip(files, extra), files: [...files, ...Object.keys(extra)] };
}

/** Writes a zip, creating its folder. */
export function writeZip(file: string, zip: Uint8Array): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, zip);
}
