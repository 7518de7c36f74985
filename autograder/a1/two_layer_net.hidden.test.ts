import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { add, evalNumericalGradient, mul, randn, relError, Rng, type Labels, type Tensor } from "@semantic-gap/lib";
import { TwoLayerNet, type NetLoss } from "../../solutions/a1/two_layer_net.js";
import { inProcessStudent, runInProcess, failedParts, sweepSeeds, patchedStudent } from "../src/in-process.js";
import { randomLabels } from "./linear_helpers.js";
import { tests, libEquivalents } from "./two_layer_net.hidden.js";

const solutions = inProcessStudent(fileURLToPath(new URL("../../solutions/a1", import.meta.url)));
const FILE = "two_layer_net.ts";

/** Uses reg·ΣW² (gradient 2·reg·W) instead of 0.5·reg·ΣW². */
class FullRegNet extends TwoLayerNet {
  override loss(X: Tensor): Tensor;
  override loss(X: Tensor, y: Labels, reg?: number): NetLoss;
  override loss(X: Tensor, y?: Labels, reg = 0): Tensor | NetLoss {
    if (y === undefined) return super.loss(X);
    const r = super.loss(X, y, reg);
    const { W1, W2 } = this.params;
    const sq = (t: Tensor) => t.data.reduce((a, v) => a + v * v, 0);
    return {
      loss: r.loss + 0.5 * reg * (sq(W1) + sq(W2)),
      grads: { ...r.grads, W1: add(r.grads.W1, mul(W1, reg)), W2: add(r.grads.W2, mul(W2, reg)) },
    };
  }
}

describe("two_layer_net hidden tests", () => {
  it("the reference's gradients pass a numerical check in this process (relative error < 1e-7)", () => {
    const rng = new Rng(3);
    const params = { W1: randn([6, 9], rng, 0.5), b1: randn([9], rng, 0.1), W2: randn([9, 4], rng, 0.5), b2: randn([4], rng, 0.1) };
    const X = randn([11, 6], rng);
    const y = randomLabels(rng, 11, 4);
    const { grads } = new TwoLayerNet(6, 9, 4, { params }).loss(X, y, 0.3);
    for (const k of ["W1", "b1", "W2", "b2"] as const) {
      const num = evalNumericalGradient((t) => new TwoLayerNet(6, 9, 4, { params: { ...params, [k]: t } }).loss(X, y, 0.3).loss, params[k]);
      expect(relError(num, grads[k])).toBeLessThan(1e-7);
    }
  });

  it("give the reference solution full marks under 200 grading seeds (50 for the slowest tests)", async () => {
    // Every run draws a fresh seed and some parts are thresholds: no seed may cost a correct solution a point.
    expect(await sweepSeeds(tests, solutions, libEquivalents, (name) => (name.includes("loss and gradients") || name.includes("train and predict") ? 50 : 200))).toEqual([]);
  }, 600_000);

  it("regularizing with reg·ΣW² instead of 0.5·reg·ΣW² loses the regularized loss and weight-gradient parts only", async () => {
    const results = await runInProcess(tests, patchedStudent(solutions, { [`${FILE}:TwoLayerNet`]: FullRegNet }), 4);
    expect(failedParts(results)).toEqual([
      "two_layer_net: loss and gradients / with regularization: loss",
      "two_layer_net: loss and gradients / with regularization: grad W1",
      "two_layer_net: loss and gradients / with regularization: grad W2",
      "two_layer_net: loss and gradients / with regularization: gradient check",
      "two_layer_net: loss and gradients / one example: loss",
      "two_layer_net: loss and gradients / one example: grad W1",
      "two_layer_net: loss and gradients / one example: grad W2",
    ]);
    for (const r of results) for (const p of r.parts) if (p.message) expect(p.message).not.toMatch(/expected -?\d/);
  });
});
