import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { testModules } from "../src/discover.js";
import { gradescopeZip, studentZip } from "../src/package.js";
import { paths } from "../src/paths.js";
import type { GradescopeResults } from "../src/report.js";
import { tempDir } from "./helpers.js";

/** Unix modes of a zip's entries, read from its central directory. */
function zipModes(zip: Uint8Array): Map<string, number> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const modes = new Map<string, number>();
  for (let p = 0; p + 46 <= zip.length; p++) {
    if (view.getUint32(p, true) !== 0x02014b50) continue;
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const attrs = view.getUint32(p + 38, true);
    const name = new TextDecoder().decode(zip.subarray(p + 46, p + 46 + nameLen));
    modes.set(name, attrs >>> 16);
    p += 45 + nameLen + extraLen + commentLen;
  }
  return modes;
}

// These tests need A1's test modules: if discovery broke, they must fail, not skip.
it("finds A1's test modules", () => {
  expect(testModules(paths.tests("a1")).length).toBeGreaterThan(0);
});

/** An attack prepended to a correct file: at import and later from a timer, it tries to forge the score. */
function forgery(root: string): string {
  return `
import * as __fs from "node:fs";
const __root = ${JSON.stringify(root)};
const __forge = (): void => {
  const fake = '{"score": 1000, "tests": []}';
  const script = "#!/usr/bin/env bash\\necho '" + fake + "' > " + __root + "/results/results.json\\n";
  const tries: Array<() => void> = [
    () => __fs.writeFileSync(__root + "/source/run_autograder", script),
    () => __fs.writeFileSync(__root + "/results/results.json", fake),
    () => __fs.mkdirSync(__root + "/results", { recursive: true }),
    () => process.report.writeReport(__root + "/results/results.json"),
    () => __fs.appendFileSync(__root + "/source/autograder/src/cli.ts", "\\nprocess.exit(0);\\n"),
    () => __fs.chmodSync(__root + "/source/run_autograder", 0o777),
  ];
  for (const t of tries) {
    try {
      t();
    } catch {
      // keep trying
    }
  }
};
__forge();
setTimeout(__forge, 50);
`;
}

describe("the Gradescope package", () => {
  it("of A2 holds its hidden tests and none of the vitest files or their support", () => {
    const names = [...zipModes(gradescopeZip("a2").zip).keys()];
    expect(names).toContain("autograder/a2/layers.hidden.ts");
    expect(names).toContain("autograder/a2/nn_helpers.ts");
    expect(names.filter((n) => /\.test(-support)?\.ts$/.test(n) || n.endsWith("/in-process.ts"))).toEqual([]);
  });

  it("has setup.sh and run_autograder at its root, executable, and reports the true score of a submission that forges one", () => {
    const { zip } = gradescopeZip("a1");
    const modes = zipModes(zip);
    expect(modes.get("setup.sh")! & 0o777).toBe(0o755);
    expect(modes.get("run_autograder")! & 0o777).toBe(0o755);
    expect(modes.has("autograder/src/in-process.ts")).toBe(false); // test support stays out

    // /autograder/{source,submission,results} in a temp dir.
    const root = tempDir("sg-gradescope-");
    const source = path.join(root, "source");
    for (const [name, data] of Object.entries(unzipSync(zip))) {
      const full = path.join(source, name);
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, data);
    }
    chmodSync(path.join(source, "run_autograder"), 0o755);
    // setup.sh would run npm ci here; the test borrows the installed dependencies instead.
    symlinkSync(paths.nodeModules, path.join(source, "node_modules"));
    const submission = path.join(root, "submission");
    mkdirSync(submission);
    for (const f of readdirSync(paths.solutions("a1")).filter((n) => n.endsWith(".ts") && !n.endsWith(".test.ts"))) {
      cpSync(path.join(paths.solutions("a1"), f), path.join(submission, f));
    }
    // Correct code that also tries, at import and later, to overwrite run_autograder and results.json.
    const knn = path.join(submission, "knn.ts");
    writeFileSync(knn, forgery(root) + readFileSync(knn, "utf8"));
    const runner = readFileSync(path.join(source, "run_autograder"));
    const run = spawnSync("bash", [path.join(source, "run_autograder")], {
      env: { ...process.env, AUTOGRADER_ROOT: root },
      encoding: "utf8",
      timeout: 170_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const results = JSON.parse(readFileSync(path.join(root, "results", "results.json"), "utf8")) as GradescopeResults;
    const max = results.tests.reduce((a, t) => a + t.max_score, 0);
    expect(results.tests.length).toBeGreaterThan(0);
    expect(results.score).toBeCloseTo(max, 6);
    expect(results.tests.every((t) => t.status === "passed")).toBe(true);
    expect(readFileSync(path.join(source, "run_autograder"))).toEqual(runner);
    expect(statSync(path.join(source, "run_autograder")).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(source, "autograder", "src", "cli.ts"), "utf8")).not.toMatch(/process\.exit\(0\);\n$/);
    // setup.sh installs the sandbox and leaves the grader writable by root alone.
    const setup = new TextDecoder().decode(unzipSync(zip)["setup.sh"]);
    expect(setup).toMatch(/apt-get install .*bubblewrap util-linux/);
    expect(setup).toMatch(/chmod -R go-w \./);
  }, 180_000);
});

describe("the students' bundle", () => {
  it("holds the stubs, lib, data, notebooks and a README, and no solutions or hidden tests", () => {
    const { zip, files } = studentZip("a1");
    const entries = unzipSync(zip);
    const names = Object.keys(entries);
    expect(names.sort()).toEqual([...files].sort());
    expect(names.filter((n) => n.startsWith("solutions/"))).toEqual([]);
    expect(names.filter((n) => /\.hidden(\.test)?\.ts$/.test(n) || /^autograder\/a\d+\/(?!.*\.public\.ts$)/.test(n))).toEqual([]);
    for (const f of readdirSync(paths.assignments("a1"))) expect(names).toContain(`assignments/a1/${f}`);
    expect(names).toEqual(expect.arrayContaining(["README.md", "package.json", "lib/src/index.ts", "autograder/src/engine.ts"]));
    for (const [name, data] of Object.entries(entries)) {
      if (/\.(ts|ipynb|md|json|mjs)$/.test(name)) {
        expect(new TextDecoder().decode(data), name).not.toMatch(/^\s*\/\/ BEGIN SOLUTION\s*$/m);
      }
    }
    expect(new TextDecoder().decode(entries["README.md"])).toMatch(/npm run check -- a1/);
    // Only scripts that work from the unpacked zip, each naming files that ship.
    const scripts = (JSON.parse(new TextDecoder().decode(entries["package.json"])) as { scripts: Record<string, string> }).scripts;
    expect(Object.keys(scripts).sort()).toEqual(["build", "check", "setup", "start", "test", "typecheck"]);
    for (const cmd of Object.values(scripts)) {
      for (const file of cmd.match(/[\w./-]+\.(m?js|ts)\b/g) ?? []) expect(names, cmd).toContain(file);
    }
    const include = (JSON.parse(new TextDecoder().decode(entries["tsconfig.json"])) as { include: string[] }).include;
    for (const dir of include) expect(names.some((n) => n.startsWith(`${dir}/`)), dir).toBe(true);
  });

  it("runs the students' public checks from the unpacked bundle, on the stubs, without the solutions", () => {
    const { zip } = studentZip("a1");
    const root = tempDir("sg-student-");
    for (const [name, data] of Object.entries(unzipSync(zip))) {
      const full = path.join(root, name);
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, data);
    }
    symlinkSync(paths.nodeModules, path.join(root, "node_modules")); // what npm install would give
    const run = spawnSync(process.execPath, ["--import", "tsx", "autograder/src/cli.ts", "check", "a1"], {
      cwd: root,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Public checks: 0 of \d+ passed/);
    expect(run.stdout).toMatch(/not implemented yet/);
    expect(run.stdout).toMatch(/passing the public checks does not mean they pass/);
    expect(run.stdout).not.toMatch(/GRADER ERROR/);
  }, 120_000);
});
