import { mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { maxAbsDiff, randn, transpose } from "@semantic-gap/lib";
import { KNearestNeighbor } from "../../solutions/a1/knn.js";
import { stubTypeScript } from "../src/generate.js";
import { inProcessStudent, runInProcess, failures, failedParts, editedStudent, sweepSeeds } from "../src/in-process.js";
import type { Student } from "../src/types.js";
import { noLoopViolations, referenceDistances, tests, libEquivalents } from "./knn.hidden.js";

const solutionsDir = fileURLToPath(new URL("../../solutions/a1", import.meta.url));
const solutions = inProcessStudent(solutionsDir);
const FILE = "knn.ts";

// Broken variants live in temporary folders inside the repository's build/ folder (ignored by git), so that
// module resolution (the library, the sibling files) works as it does for the real solutions.
const tmpRoot = fileURLToPath(new URL("../../build/tmp-knn-variants", import.meta.url));
mkdirSync(tmpRoot, { recursive: true });
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** A copy of the solution with text replaced (each `from` must occur), loaded as a Student. */
function variant(edits: Array<[string, string]>, transform?: (src: string) => string): Student {
  return editedStudent(solutionsDir, tmpRoot, FILE, edits, { transform });
}

describe("knn hidden tests", () => {
  it("give the reference solution full marks under 200 grading seeds (50 for the slowest tests)", async () => {
    // Every run draws a fresh seed and some parts are thresholds: no seed may cost a correct solution a point.
    expect(await sweepSeeds(tests, solutions, libEquivalents, (name) => (name.includes("on random inputs and edge cases") || name.includes("the three distance versions agree") ? 50 : 200))).toEqual([]);
  }, 600_000);

  it("the reference solution honours strided views (checked here, where no process boundary copies them)", () => {
    const trT = randn([6, 25], 1); // (D, N): its transpose is a non-contiguous (N, D) view
    const big = randn([14, 6], 2);
    const Xtr = transpose(trT);
    const Xte = big.step(2, 1); // every other row
    const knn = new KNearestNeighbor();
    knn.train(Xtr, new Int32Array(25));
    const ref = referenceDistances(Xte, Xtr);
    // 1e-12: distances here are O(1); the expansion's cancellation costs ~1e-15.
    expect(maxAbsDiff(knn.computeDistancesTwoLoops(Xte), ref)).toBeLessThan(1e-12);
    expect(maxAbsDiff(knn.computeDistancesOneLoop(Xte), ref)).toBeLessThan(1e-12);
    expect(maxAbsDiff(knn.computeDistancesNoLoops(Xte), ref)).toBeLessThan(1e-12);
  });

  it("a vote that breaks ties toward the largest label loses the tie parts, and only vote parts", async () => {
    const broken = variant([["(v === bestVotes && label < best)", "(v === bestVotes && label > best)"]]);
    const results = await runInProcess(tests, broken, 5);
    const failed = failedParts(results);
    expect(failed).toEqual(expect.arrayContaining(["knn: predictLabels edge cases / tie in the vote (k = 2)"]));
    for (const f of failed) expect(f).toMatch(/^knn: (predictLabels|predict end to end)/);
    for (const r of results.filter((r) => /computeDistances|distance versions/.test(r.name))) expect(r.fraction).toBe(1);
  });

  it("a no-loop version that calls the two-loop version loses the structure part only", async () => {
    const broken = variant([], (src) =>
      src.replace(/(computeDistancesNoLoops\(X: Tensor\): Tensor \{)[\s\S]*?\/\/ END SOLUTION\n {2}\}/, "$1\n    return this.computeDistancesTwoLoops(X);\n  }"),
    );
    const results = await runInProcess(tests, broken, 6);
    const f = failures(results);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatch(/^knn: computeDistancesNoLoops has no loops over examples \/ no loops over examples: .*a use of computeDistancesTwoLoops at line \d+/);
  });

  it("a predictLabels that accepts k larger than the training set loses that part only", async () => {
    const broken = variant([["    if (!Number.isInteger(k) || k < 1 || k > numTrain) {\n      throw", "    if (!Number.isInteger(k) || k < 1) {\n      throw"]]);
    const results = await runInProcess(tests, broken, 7);
    expect(failedParts(results)).toEqual(["knn: predictLabels edge cases / k larger than the training set is an error"]);
  });

  it("distances without the square root fail every distance part and the agreement", async () => {
    const broken = variant([["return map(squared, (v) => Math.sqrt(Math.max(v, 0)));", "return map(squared, (v) => Math.max(v, 0));"]]);
    const results = await runInProcess(tests, broken, 8);
    const byName = Object.fromEntries(results.map((r) => [r.name, r]));
    expect(byName["knn: computeDistancesNoLoops on random inputs and edge cases"].parts.filter((p) => !p.passed).map((p) => p.name)).toEqual([
      "random inputs",
      "one test point",
      "one training point",
      "duplicate points",
      "inputs built as views",
    ]);
    expect(byName["knn: the three distance versions agree"].parts.map((p) => p.passed)).toEqual([true, false]);
    expect(byName["knn: computeDistancesTwoLoops on random inputs and edge cases"].fraction).toBe(1);
    // Feedback says where and by how much, never the expected numbers.
    const msg = byName["knn: computeDistancesNoLoops on random inputs and edge cases"].parts[0].message!;
    expect(msg).toMatch(/values differ at \d+ of \d+ positions/);
  });

  it("the generated stub scores zero on every test, with not-implemented feedback", async () => {
    const stubbed = variant([], (src) => stubTypeScript(src, "knn.ts"));
    const results = await runInProcess(tests, stubbed, 9);
    for (const r of results) expect(r.fraction, r.name).toBe(0);
    expect(failures(results).join("\n")).toMatch(/not implemented yet \(Not implemented: computeDistancesTwoLoops\)/);
  });
});

describe("the no-loop structural rule", () => {
  const wrap = (body: string, extra = ""): string =>
    `import * as sg from "@semantic-gap/lib";\nimport { map, gemm } from "@semantic-gap/lib";\n${extra}\nexport class KNearestNeighbor {\n` +
    `  computeDistancesTwoLoops(X) { for (;;) {} }\n  computeDistancesNoLoops(X) {\n${body}\n  }\n}\n`;

  it("accepts the reference solution and library calls (sg.map, a named map import)", () => {
    expect(noLoopViolations(readFileSync(path.join(solutionsDir, FILE), "utf8"))).toEqual([]);
    expect(noLoopViolations(wrap("    return sg.map(map(gemm(X, X), Math.sqrt), (v) => v);"))).toEqual([]);
  });

  it("finds loops, array iteration, calls to the other versions, looping helpers and recursion", () => {
    expect(noLoopViolations(wrap("    for (let i = 0; i < 3; i++) {}"))).toEqual(["a for loop at line 7"]);
    expect(noLoopViolations(wrap("    let i = 0;\n    while (i < 3) i++;"))).toEqual(["a while loop at line 8"]);
    expect(noLoopViolations(wrap("    return [1, 2].map((v) => v);"))).toEqual(["a call to .map(...) at line 7, which loops over an array"]);
    expect(noLoopViolations(wrap("    return Array.from({ length: 3 }, (_, i) => i);"))).toEqual([
      "Array.from with a mapping function at line 7, which loops",
    ]);
    expect(noLoopViolations(wrap("    return this.computeDistancesTwoLoops(X);"))).toEqual(["a use of computeDistancesTwoLoops at line 7"]);
    expect(noLoopViolations(wrap('    return this["computeDistancesOneLoop"](X);'))).toEqual(["a use of computeDistancesOneLoop at line 7"]);
    expect(noLoopViolations(wrap("    return helper(X);", "function helper(X) { for (const r of X) {} }"))).toEqual([
      "a for loop at line 3 (in helper, which it calls)",
    ]);
    expect(noLoopViolations(wrap("    return rec(X, 0);", "function rec(X, i) { return i > 9 ? X : rec(X, i + 1); }"))).toEqual([
      "recursion through rec",
    ]);
    expect(noLoopViolations("export class KNearestNeighbor {}")).toBeNull();
  });
});
