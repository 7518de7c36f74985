import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Rng, add, maxAbsDiff, mul, randn, svmLossLinear } from "@semantic-gap/lib";
import { svmLossNaive, svmLossVectorized } from "../../solutions/a1/linear_svm.js";
import { inProcessStudent, runInProcess, failures, failedParts, sweepSeeds, patchedStudent } from "../src/in-process.js";
import { randomLabels } from "./linear_helpers.js";
import { tests, libEquivalents } from "./linear_svm.hidden.js";

const solutions = inProcessStudent(fileURLToPath(new URL("../../solutions/a1", import.meta.url)));
const FILE = "linear_svm.ts";

describe("linear_svm hidden tests", () => {
  it("give the reference solution full marks under 200 grading seeds (50 for the slowest tests)", async () => {
    // Every run draws a fresh seed and some parts are thresholds: no seed may cost a correct solution a point.
    expect(await sweepSeeds(tests, solutions, libEquivalents, (name) => (name.includes("on random inputs") ? 50 : 200))).toEqual([]);
  }, 600_000);

  it("the reference agrees with lib's independent svmLossLinear (1e-12)", () => {
    const rng = new Rng(99);
    for (let k = 0; k < 5; k++) {
      const W = randn([17, 6], rng, 0.1);
      const X = randn([23, 17], rng);
      const y = randomLabels(rng, 23, 6);
      const lib = svmLossLinear(W, X, y, 0.3);
      for (const f of [svmLossNaive, svmLossVectorized]) {
        const r = f(W, X, y, 0.3);
        expect(Math.abs(r.loss - lib.loss)).toBeLessThan(1e-12);
        expect(maxAbsDiff(r.dW, lib.dW)).toBeLessThan(1e-12);
      }
    }
  });

  it("a gradient without the regularization term loses exactly the regularized dW and gradient-check parts", async () => {
    const broken = patchedStudent(solutions, {
      [`${FILE}:svmLossVectorized`]: (W: never, X: never, y: never, reg: number) => {
        const r = svmLossVectorized(W, X, y, reg);
        return { loss: r.loss, dW: add(r.dW, mul(W, -2 * reg)) };
      },
    });
    const results = await runInProcess(tests, broken, 7);
    expect(failedParts(results)).toEqual([
      "linear_svm: svmLossVectorized on random inputs / with regularization: dW",
      "linear_svm: svmLossVectorized on random inputs / with regularization: gradient check",
      "linear_svm: svmLossVectorized edge cases / one example: dW",
      "linear_svm: naive and vectorized agree / dW",
      "linear_svm: svmLossVectorized has no explicit loops / no explicit loops",
    ]);
  });

  it("a loss that also sums the correct class (j = y) fails the loss parts but keeps dW", async () => {
    const broken = patchedStudent(solutions, {
      [`${FILE}:svmLossNaive`]: (W: never, X: never, y: never, reg: number) => {
        const r = svmLossNaive(W, X, y, reg);
        return { loss: r.loss + 1, dW: r.dW }; // max(0, s_y − s_y + 1) = 1 per example, averaged
      },
    });
    const results = await runInProcess(tests, broken, 8);
    const byTest = Object.fromEntries(results.map((r) => [r.name, r]));
    const random = byTest["linear_svm: svmLossNaive on random inputs"];
    expect(random.parts.filter((p) => !p.passed).map((p) => p.name)).toEqual(["with regularization: loss", "with reg = 0: loss"]);
    expect(random.fraction).toBeCloseTo(5 / 7, 12);
    expect(byTest["linear_svm: svmLossVectorized on random inputs"].fraction).toBe(1);
    expect(byTest["linear_svm: naive and vectorized agree"].parts.map((p) => p.passed)).toEqual([false, true]);
  });

  it("a vectorized version with a loop loses the structure test only, and feedback hides the answers", async () => {
    const src = `export function svmLossVectorized(W, X, y, reg) {\n  for (let i = 0; i < 3; i++) {}\n  return 0;\n}\n`;
    const broken = patchedStudent(solutions, {}, { [FILE]: src });
    const results = await runInProcess(tests, broken, 9);
    expect(failures(results)).toEqual([
      "linear_svm: svmLossVectorized has no explicit loops / no explicit loops: no explicit loops: svmLossVectorized contains a for loop at line 2; the vectorized version should use whole-tensor operations only",
    ]);
  });

  it("a stub that throws Not implemented scores zero on its tests, the structure test included", async () => {
    const stub = patchedStudent(solutions, {
      [`${FILE}:svmLossNaive`]: () => {
        throw new Error("Not implemented: svmLossNaive");
      },
    });
    const results = await runInProcess(tests, stub, 10);
    const byTest = Object.fromEntries(results.map((r) => [r.name, r.fraction]));
    expect(byTest["linear_svm: svmLossNaive on random inputs"]).toBe(0);
    expect(byTest["linear_svm: svmLossNaive edge cases"]).toBe(0);
    expect(byTest["linear_svm: svmLossVectorized on random inputs"]).toBe(1);
    const stubVec = patchedStudent(solutions, {
      [`${FILE}:svmLossVectorized`]: () => {
        throw new Error("Not implemented: svmLossVectorized");
      },
    });
    const r2 = Object.fromEntries((await runInProcess(tests, stubVec, 11)).map((r) => [r.name, r.fraction]));
    expect(r2["linear_svm: svmLossVectorized has no explicit loops"]).toBe(0);
  });

  it("a loop-free but wrong vectorized version earns nothing for its structure", async () => {
    const wrong = patchedStudent(solutions, {
      [`${FILE}:svmLossVectorized`]: (W: never, X: never, y: never, reg: number) => {
        const r = svmLossVectorized(W, X, y, reg);
        return { loss: r.loss * 2, dW: r.dW };
      },
    });
    const r = (await runInProcess(tests, wrong, 12)).find((t) => t.name === "linear_svm: svmLossVectorized has no explicit loops")!;
    expect(r.fraction).toBe(0);
    expect(r.parts[0].message).toMatch(/must compute the correct loss and gradient before its structure is checked/);
  });
});
