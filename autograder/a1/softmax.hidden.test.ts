import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  Rng,
  add,
  div,
  gemm,
  map,
  matmul,
  maxAbsDiff,
  mul,
  oneHot,
  pickByLabel,
  randn,
  softmaxLossLinear,
  sub,
  sum,
  type Labels,
  type Tensor,
} from "@semantic-gap/lib";
import { softmaxLossNaive, softmaxLossVectorized } from "../../solutions/a1/softmax.js";
import { inProcessStudent, runInProcess, failedParts, sweepSeeds, patchedStudent } from "../src/in-process.js";
import { randomLabels } from "./linear_helpers.js";
import { tests, libEquivalents } from "./softmax.hidden.js";

const solutions = inProcessStudent(fileURLToPath(new URL("../../solutions/a1", import.meta.url)));
const FILE = "softmax.ts";

/** The textbook formula without the max shift: exact for moderate scores, NaN once exp overflows. */
function unstableSoftmax(W: Tensor, X: Tensor, y: Labels, reg: number) {
  const N = X.shape[0];
  const e = map(matmul(X, W), Math.exp);
  const p = div(e, sum(e, 1, true));
  const loss = -sum(map(pickByLabel(p, y), Math.log)) / N + reg * sum(mul(W, W));
  const dW = add(gemm(X, sub(p, oneHot(y, W.shape[1])), { transA: true, alpha: 1 / N }), mul(W, 2 * reg));
  return { loss, dW };
}

describe("softmax hidden tests", () => {
  it("give the reference solution full marks under 200 grading seeds (50 for the slowest tests)", async () => {
    // Every run draws a fresh seed and some parts are thresholds: no seed may cost a correct solution a point.
    expect(await sweepSeeds(tests, solutions, libEquivalents, (name) => (name.includes("on random inputs") ? 50 : 200))).toEqual([]);
  }, 600_000);

  it("the reference agrees with lib's independent softmaxLossLinear (1e-12), also for huge scores", () => {
    const rng = new Rng(98);
    for (let k = 0; k < 5; k++) {
      const W = randn([15, 7], rng, k === 4 ? 100 : 0.3);
      const X = randn([21, 15], rng);
      const y = randomLabels(rng, 21, 7);
      const lib = softmaxLossLinear(W, X, y, 0.2);
      for (const f of [softmaxLossNaive, softmaxLossVectorized]) {
        const r = f(W, X, y, 0.2);
        expect(Math.abs(r.loss - lib.loss) / Math.max(1, Math.abs(lib.loss))).toBeLessThan(1e-12);
        expect(maxAbsDiff(r.dW, lib.dW) / Math.max(1, maxAbsDiff(lib.dW, mul(lib.dW, 0)))).toBeLessThan(1e-12);
      }
    }
  });

  it("an unshifted (overflowing) softmax loses only the very-large-score parts", async () => {
    const broken = patchedStudent(solutions, { [`${FILE}:softmaxLossVectorized`]: unstableSoftmax });
    const results = await runInProcess(tests, broken, 5);
    expect(failedParts(results)).toEqual([
      "softmax: softmaxLossVectorized edge cases / very large scores: loss",
      "softmax: softmaxLossVectorized edge cases / very large scores: dW",
    ]);
    const edge = results.find((r) => r.name === "softmax: softmaxLossVectorized edge cases")!;
    expect(edge.fraction).toBeCloseTo(4 / 8, 12); // the two weight-2 parts of 8 in all
    for (const p of edge.parts.filter((q) => !q.passed)) {
      expect(p.message).toMatch(/subtract each row's largest score/);
      expect(p.message).not.toMatch(/expected [-\d]/); // never the expected value
    }
  });

  it("a gradient not divided by N loses the gradient parts", async () => {
    const broken = patchedStudent(solutions, {
      [`${FILE}:softmaxLossNaive`]: (W: Tensor, X: Tensor, y: Labels, reg: number) => {
        const r = softmaxLossNaive(W, X, y, reg);
        const N = X.shape[0];
        return { loss: r.loss, dW: add(mul(sub(r.dW, mul(W, 2 * reg)), N), mul(W, 2 * reg)) };
      },
    });
    const results = await runInProcess(tests, broken, 6);
    const failed = failedParts(results);
    expect(failed).toContain("softmax: softmaxLossNaive on random inputs / with regularization: dW");
    expect(failed).toContain("softmax: softmaxLossNaive on random inputs / with reg = 0: gradient check");
    expect(failed).toContain("softmax: naive and vectorized agree / dW");
    expect(failed.some((f) => f.endsWith(": loss"))).toBe(false);
    // The one-example case has N = 1, where the mistake makes no difference.
    expect(failed).not.toContain("softmax: softmaxLossNaive edge cases / one example: dW");
  });
});
