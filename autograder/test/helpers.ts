import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadTests, type LoadedTest } from "../src/discover.js";
import { gradeSubmission, type GradeOptions, type GradeReport } from "../src/engine.js";
import { repoRoot } from "../src/paths.js";

export const toyDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "toy");
export const toyFiles = ["extra.ts", "knn.ts"];
export const toyMax = 15;

let toy: Promise<LoadedTest[]> | null = null;
export function toyTests(): Promise<LoadedTest[]> {
  toy ??= loadTests("toy", path.join(toyDir, "tests"));
  return toy;
}

const made: string[] = [];
process.once("exit", () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A temp folder, removed when the test process exits. */
export function tempDir(prefix = "sg-test-"): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

/** An attack file with the shared base inlined and its placeholders filled in. */
export function attackSource(name: string, vars: Record<string, string> = {}): string {
  const base = readFileSync(path.join(toyDir, "attacks", "_base.ts.txt"), "utf8");
  let src = readFileSync(path.join(toyDir, "attacks", `${name}.ts.txt`), "utf8").replace("//@include base", base);
  const all = { __REPO_ROOT__: repoRoot, ...vars };
  for (const [k, v] of Object.entries(all)) src = src.split(k).join(v);
  return src;
}

/** A submission folder: the given knn.ts plus the correct extra.ts. */
export function toySubmission(knnSource: string | null): string {
  const dir = tempDir("sg-sub-");
  if (knnSource !== null) writeFileSync(path.join(dir, "knn.ts"), knnSource);
  cpSync(path.join(toyDir, "solution", "extra.ts"), path.join(dir, "extra.ts"));
  return dir;
}

export async function gradeToy(submission: string, opts: Partial<GradeOptions> = {}): Promise<GradeReport> {
  return gradeSubmission({
    assignment: "toy",
    submission,
    tests: await toyTests(),
    files: toyFiles,
    seed: 12345,
    typecheck: false,
    ...opts,
  });
}

/** Test name -> points earned. */
export function scores(r: GradeReport): Record<string, number> {
  return Object.fromEntries(r.tests.map((t) => [t.name, t.score]));
}

export function result(r: GradeReport, name: string) {
  const t = r.tests.find((x) => x.name === name);
  if (!t) throw new Error(`no test ${name} in the report`);
  return t;
}

export const T = {
  sumSquares: "toy extra: sumSquares",
  normalizeRows: "toy extra: normalizeRows",
  publicSum: "toy extra: sumSquares of [[1, 2], [3, 4]] is 30",
  distances: "toy knn: distances",
  predict: "toy knn: predictLabels",
  structure: "toy knn: distances use matmul (structure)",
  worked: "toy knn: k = 1 on a worked example",
};

