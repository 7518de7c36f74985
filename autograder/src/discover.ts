import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { paths, repoRoot } from "./paths.js";
import { stageSubmission } from "./submission.js";
import type { HiddenTest, LibEquivalents } from "./types.js";

/** A hidden or public test with where it came from. */
export interface LoadedTest {
  test: HiddenTest;
  /** The module file name, e.g. "knn.hidden.ts". */
  module: string;
  /** Gradescope's test number, "module.test", e.g. "1.3". */
  number: string;
  /** The module's `libEquivalents` (exercise -> library exports that do its work). */
  libEquivalents?: LibEquivalents;
}

/** Test module files of a folder: `*.hidden.ts` and `*.public.ts`, sorted by name (not their vitest files). */
export function testModules(dir: string, which: "all" | "public" = "all"): string[] {
  if (!existsSync(dir)) return [];
  const pattern = which === "public" ? /\.public\.ts$/ : /\.(hidden|public)\.ts$/;
  return readdirSync(dir)
    .filter((f) => pattern.test(f) && !f.endsWith(".test.ts"))
    .sort();
}

/**
 * Imports every test module of an assignment (autograder/<a>/ unless `dir` is given) and checks what it
 * exports. Throws on a malformed module or duplicate test names: that is a grader bug, not a student's.
 */
export async function loadTests(assignment: string, dir = paths.tests(assignment), which: "all" | "public" = "all"): Promise<LoadedTest[]> {
  const out: LoadedTest[] = [];
  const names = new Set<string>();
  const modules = testModules(dir, which);
  for (let m = 0; m < modules.length; m++) {
    const file = modules[m];
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { tests?: unknown; libEquivalents?: unknown };
    if (!Array.isArray(mod.tests)) throw new Error(`${file} must export \`tests: HiddenTest[]\``);
    const eq = mod.libEquivalents;
    const eqOk =
      eq === undefined ||
      (typeof eq === "object" && eq !== null && Object.values(eq).every((v) => Array.isArray(v) && v.every((x) => typeof x === "string")));
    if (!eqOk) throw new Error(`${file}: libEquivalents must map exercise names to arrays of library export names`);
    mod.tests.forEach((t: HiddenTest, i: number) => {
      const ok =
        t &&
        typeof t.name === "string" &&
        Array.isArray(t.files) &&
        typeof t.maxScore === "number" &&
        t.maxScore >= 0 &&
        typeof t.run === "function";
      if (!ok) throw new Error(`${file}: test #${i + 1} is not a HiddenTest (name, files, maxScore, run)`);
      if (names.has(t.name)) throw new Error(`${file}: duplicate test name "${t.name}"`);
      names.add(t.name);
      if (t.exercises !== undefined && !(Array.isArray(t.exercises) && t.exercises.every((x) => typeof x === "string"))) {
        throw new Error(`${file}: test "${t.name}" has exercises that are not a list of names`);
      }
      out.push({ test: t, module: file, number: `${m + 1}.${i + 1}`, libEquivalents: eq as LibEquivalents | undefined });
    });
  }
  return out;
}

/** The assignments that have a test folder (autograder/aN with test modules): the one list of them. */
export function assignments(): string[] {
  const dir = path.join(repoRoot, "autograder");
  return readdirSync(dir)
    .filter((n) => /^a\d+$/.test(n) && testModules(path.join(dir, n)).length > 0)
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

/** The stub files of an assignment: the .ts files of assignments/<a>/ (or solutions/<a>/ when not generated). */
export function assignmentFiles(assignment: string): string[] {
  for (const dir of [paths.assignments(assignment), paths.solutions(assignment)]) {
    if (existsSync(dir)) {
      const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"));
      if (files.length > 0) return files.sort();
    }
  }
  return [];
}

/**
 * The assignment whose file names the submissions match best (summed over them; single and batch grading
 * both ask this), or null when none matches.
 */
export function inferAssignment(submissions: string[]): string | null {
  let best: string | null = null;
  let bestCount = 0;
  for (const a of assignments()) {
    const files = assignmentFiles(a);
    if (files.length === 0) continue;
    let n = 0;
    for (const s of submissions) n += stageSubmission(s, files).sources.size;
    if (n > bestCount) {
      best = a;
      bestCount = n;
    }
  }
  return best;
}
