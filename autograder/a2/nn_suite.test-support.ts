import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { afterAll as AfterAll, expect as Expect, it as It } from "vitest";
import * as lib from "@semantic-gap/lib";
import { cachedStudent, editedStudent, failedParts, failures, inProcessStudent, runInProcess } from "../src/in-process.js";
import type { HiddenTest, LibEquivalents } from "../src/types.js";

// The checks every A2 hidden-test module of layers.ts and optim.ts gets in its vitest file. Only the vitest
// files import this (they hand in vitest's it, expect and afterAll), so the grader never loads vitest.

const solutionsDir = fileURLToPath(new URL("../../solutions/a2", import.meta.url));

export interface SuiteOptions {
  file: string;
  tests: HiddenTest[];
  publicTests: HiddenTest[];
  libEquivalents: LibEquivalents;
  /** Grading seeds swept for the reference solution (default 200). */
  seeds?: number;
  vitest: { it: typeof It; expect: typeof Expect; afterAll: typeof AfterAll };
}

/**
 * Declares the common checks: full marks for the reference over many grading seeds, 0 for the untouched
 * stubs with "not implemented" feedback, the public checks, and the exercise/libEquivalents declarations.
 * Returns `lost(edits, seed)`: the failed parts of the reference with text replaced (a broken variant).
 */
export function suiteChecks(o: SuiteOptions): (edits: Array<[string, string]>, seed?: number) => Promise<string[]> {
  const { it, expect, afterAll } = o.vitest;
  const solutions = cachedStudent(solutionsDir);
  const stubs = inProcessStudent(fileURLToPath(new URL("../../assignments/a2", import.meta.url)));
  const tmpRoot = fileURLToPath(new URL(`../../build/tmp-${o.file.replace(/\W/g, "-")}-variants`, import.meta.url));
  mkdirSync(tmpRoot, { recursive: true });
  afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
  const seeds = o.seeds ?? 200;

  it(`give the reference solution full marks over ${seeds} grading seeds`, async () => {
    for (let k = 1; k <= seeds; k++) {
      const seed = k * 7919;
      expect(failures(await runInProcess(o.tests, solutions, seed)), `seed ${seed}`).toEqual([]);
    }
  }, 120_000);

  it("give the untouched stubs 0, each test saying what is not implemented", async () => {
    const results = await runInProcess(o.tests, stubs, 3);
    expect(results.filter((r) => r.fraction > 0).map((r) => r.name)).toEqual([]);
    for (const r of results) expect(r.parts.map((p) => p.message).join(" "), r.name).toMatch(/Not implemented: \w+/);
  });

  it("public checks pass on the reference and fail on the stubs", async () => {
    expect(failures(await runInProcess(o.publicTests, solutions, 1))).toEqual([]);
    const onStubs = await runInProcess(o.publicTests, stubs, 1);
    expect(onStubs.every((r) => r.parts.every((p) => !p.passed))).toBe(true);
  });

  it("every test names the exercises it grades, and libEquivalents names real lib exports for each", () => {
    for (const t of o.tests) expect(t.exercises?.length, t.name).toBeGreaterThan(0);
    const exercises = [...new Set(o.tests.flatMap((t) => t.exercises ?? []))].sort();
    expect(Object.keys(o.libEquivalents).sort()).toEqual(exercises);
    for (const names of Object.values(o.libEquivalents)) for (const n of names) expect(n in lib, n).toBe(true);
  });

  return async (edits, seed = 7) => failedParts(await runInProcess(o.tests, editedStudent(solutionsDir, tmpRoot, o.file, edits), seed));
}
