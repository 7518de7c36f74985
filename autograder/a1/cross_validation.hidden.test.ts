import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Rng, randn } from "@semantic-gap/lib";
import { crossValidateK, foldBounds } from "../../solutions/a1/cross_validation.js";
import { stubTypeScript } from "../src/generate.js";
import { inProcessStudent, runInProcess, failures, failedParts, editedStudent, sweepSeeds } from "../src/in-process.js";
import type { Student } from "../src/types.js";
import { referenceCrossValidation, referenceFolds, tests, libEquivalents } from "./cross_validation.hidden.js";

const solutionsDir = fileURLToPath(new URL("../../solutions/a1", import.meta.url));
const solutions = inProcessStudent(solutionsDir);
const FILE = "cross_validation.ts";

// Broken variants live in temporary folders under build/ (ignored by git), beside a copy of the reference knn.ts.
const tmpRoot = fileURLToPath(new URL("../../build/tmp-cv-variants", import.meta.url));
mkdirSync(tmpRoot, { recursive: true });
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** A copy of the solution with text replaced (each `from` must occur), loaded as a Student. */
function variant(edits: Array<[string, string]>, transform?: (src: string) => string): Student {
  return editedStudent(solutionsDir, tmpRoot, FILE, edits, { transform, siblings: ["knn.ts"] });
}

describe("cross_validation hidden tests", () => {
  it("give the reference solution full marks under 200 grading seeds", async () => {
    // Every run draws a fresh seed and some parts are thresholds: no seed may cost a correct solution a point.
    expect(await sweepSeeds(tests, solutions, libEquivalents, () => 200)).toEqual([]);
  }, 600_000);

  it("the reference folds are numpy.array_split's (sizes worked by hand)", () => {
    // array_split(range(13), 5) -> sizes 3, 3, 3, 2, 2; array_split(range(12), 4) -> 3, 3, 3, 3.
    expect(referenceFolds(13, 5)).toEqual([[0, 3], [3, 6], [6, 9], [9, 11], [11, 13]]);
    expect(referenceFolds(12, 4)).toEqual([[0, 3], [3, 6], [6, 9], [9, 12]]);
    expect(foldBounds(13, 5)).toEqual(referenceFolds(13, 5));
  });

  it("the solution agrees with the library's kNN on every fold", () => {
    const rng = new Rng(4);
    const X = randn([47, 3], rng);
    const y = Int32Array.from({ length: 47 }, () => rng.int(3));
    const got = crossValidateK(X, y, [1, 2, 5], 5);
    const ref = referenceCrossValidation(X, y, [1, 2, 5], 5);
    for (const k of [1, 2, 5]) expect(got[k]).toEqual(ref.get(k));
  });

  it("folds that put the extra examples last lose the remainder parts only", async () => {
    const broken = variant([["(f < extra ? 1 : 0)", "(f >= numFolds - extra ? 1 : 0)"]]);
    const results = await runInProcess(tests, broken, 5);
    expect(failedParts(results)).toEqual([
      "cross_validation: foldBounds splits like numpy.array_split / n not divisible by numFolds",
      "cross_validation: crossValidateK on random data / N not divisible by numFolds: accuracies",
    ]);
    expect(failures(results).join("\n")).toMatch(/numpy\.array_split/);
  });

  it("validating on folds that are also in the training set fails every accuracy part", async () => {
    const broken = variant([["classifier.train(XTrain, yTrain);", "classifier.train(X, y);"]]);
    const results = await runInProcess(tests, broken, 6);
    expect(failedParts(results)).toEqual([
      "cross_validation: crossValidateK on random data / N divisible by numFolds: accuracies",
      "cross_validation: crossValidateK on random data / N not divisible by numFolds: accuracies",
    ]);
  });

  it("a bestK that breaks ties toward the larger k loses the tie part only", async () => {
    const broken = variant([["if (m > bestMean + 1e-12) {", "if (m >= bestMean - 1e-12) {"]]);
    const results = await runInProcess(tests, broken, 7);
    expect(failedParts(results)).toEqual(["cross_validation: bestK picks the highest mean, ties to the smaller k / ties go to the smaller k"]);
  });

  it("the generated stub scores zero on every test", async () => {
    const stubbed = variant([], (src) => stubTypeScript(src, FILE));
    const results = await runInProcess(tests, stubbed, 8);
    for (const r of results) expect(r.fraction, r.name).toBe(0);
    expect(failures(results).join("\n")).toMatch(/not implemented yet \(Not implemented: crossValidateK\)/);
  });
});
