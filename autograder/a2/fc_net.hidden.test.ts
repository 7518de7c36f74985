import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Rng, add, evalNumericalGradient, mul, randn, relError, sum, type Labels, type Tensor } from "@semantic-gap/lib";
import { FullyConnectedNet, type NetLoss } from "../../solutions/a2/fc_net.js";
import { randomLabels } from "./nn_helpers.js";
import { writeAssignment } from "../src/generate.js";
import { editedStudent, failedParts, failures, inProcessStudent, patchedStudent, runInProcess } from "../src/in-process.js";
import { tests } from "./fc_net.hidden.js";
import { tests as publicTests } from "./fc_net.public.js";

const solutionsDir = fileURLToPath(new URL("../../solutions/a2", import.meta.url));
const solutions = inProcessStudent(solutionsDir);
const FILE = "fc_net.ts";
const tmpRoot = fileURLToPath(new URL("../../build/tmp-fc-net-variants", import.meta.url));
mkdirSync(tmpRoot, { recursive: true });
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** Adds `extra(k)·0.5·reg·Σk²` to the loss and `extra(k)·reg·k` to the gradient of each parameter k it names. */
function regularizedAlso(extra: (k: string) => number) {
  return class extends FullyConnectedNet {
    override loss(X: Tensor): Tensor;
    override loss(X: Tensor, y: Labels): NetLoss;
    override loss(X: Tensor, y?: Labels): Tensor | NetLoss {
      if (y === undefined) return super.loss(X);
      const r = super.loss(X, y);
      let loss = r.loss;
      const grads = { ...r.grads };
      for (const [k, t] of Object.entries(this.params)) {
        const f = extra(k);
        if (f === 0) continue;
        loss += f * 0.5 * this.reg * sum(mul(t, t));
        grads[k] = add(grads[k], mul(t, f * this.reg));
      }
      return { loss, grads };
    }
  };
}

/** Regularizes the biases too (0.5·reg·Σb²). */
const RegOnBiases = regularizedAlso((k) => (/^b\d+$/.test(k) ? 1 : 0));
/** reg·ΣW² (gradient 2·reg·W) instead of 0.5·reg·ΣW². */
const RegWithoutHalf = regularizedAlso((k) => (/^W\d+$/.test(k) ? 1 : 0));

const variant = (edits: Array<[string, string]>) => editedStudent(solutionsDir, tmpRoot, FILE, edits, { siblings: ["layers.ts"] });

describe("fc_net hidden tests", () => {
  it("the reference's gradients pass a numerical check in this process (batchnorm and dropout, relative error < 1e-6)", () => {
    const rng = new Rng(5);
    const X = randn([7, 5], rng);
    const y = randomLabels(rng, 7, 4);
    const opts = { hiddenDims: [6, 5], inputDim: 5, numClasses: 4, normalization: "batchnorm" as const, dropoutKeepRatio: 0.7, reg: 0.3, weightScale: 0.4, seed: 9 };
    const params = new FullyConnectedNet(opts).params;
    for (const k of Object.keys(params)) if (!k.startsWith("W")) params[k] = randn(params[k].shape, rng, 0.2, k.startsWith("gamma") ? 1 : 0);
    const { grads } = new FullyConnectedNet({ ...opts, params }).loss(X, y);
    for (const k of Object.keys(params)) {
      const num = evalNumericalGradient((t) => new FullyConnectedNet({ ...opts, params: { ...params, [k]: t } }).loss(X, y).loss, params[k]);
      // The bias of a layer before batchnorm has no effect: its gradient is 0 up to rounding.
      if (/^b[12]$/.test(k)) expect(Math.max(...num.data.map(Math.abs), ...grads[k].data.map(Math.abs))).toBeLessThan(1e-9);
      else expect(relError(num, grads[k]), k).toBeLessThan(1e-6);
    }
  });

  it("give the reference solution full marks for many grading seeds", async () => {
    // Every test for 12 seeds, and the tests whose bars are statistical (initial weights, loss at
    // initialization) for 100 more; the whole suite has been swept over 200 seeds with no lost point.
    for (let seed = 1; seed <= 112; seed++) {
      const results = await runInProcess(seed <= 12 ? tests : tests.filter((t) => t.name.includes("initialization")), solutions, seed * 7919);
      expect(failures(results)).toEqual([]);
      for (const r of results) expect(r.fraction).toBe(1);
    }
  }, 120_000);

  it("the public checks pass on the reference solution", async () => {
    expect(failures(await runInProcess(publicTests, solutions, 1))).toEqual([]);
  });

  it("the untouched stub scores 0, and fails every public check", async () => {
    const dir = mkdtempSync(path.join(tmpRoot, "stubs-"));
    writeAssignment(solutionsDir, dir);
    const results = await runInProcess([...tests, ...publicTests], inProcessStudent(dir), 3);
    for (const r of results) expect(r.fraction, r.name).toBe(0);
    for (const r of results) for (const p of r.parts) expect(p.message, `${r.name} / ${p.name}`).toMatch(/not implemented|Not implemented/);
  });

  it("regularizing the biases loses the regularized losses and bias gradients only", async () => {
    const results = await runInProcess(tests, patchedStudent(solutions, { [`${FILE}:FullyConnectedNet`]: RegOnBiases }), 4);
    expect(failedParts(results)).toEqual([
      "fc_net: loss and gradients / with regularization: loss",
      "fc_net: loss and gradients / with regularization: bias gradients",
      "fc_net: loss and gradients / one example: loss",
      "fc_net: loss and gradients / one example: bias gradients",
      "fc_net: batchnorm / train mode: loss",
      "fc_net: batchnorm / train mode: bias gradients",
      "fc_net: dropout / train mode: loss",
      "fc_net: dropout / train mode: bias gradients",
    ]);
    for (const r of results) for (const p of r.parts) if (p.message) expect(p.message).not.toMatch(/expected -?\d/);
  });

  it("reg·ΣW² instead of 0.5·reg·ΣW² loses the regularized losses and weight gradients only", async () => {
    const results = await runInProcess(tests, patchedStudent(solutions, { [`${FILE}:FullyConnectedNet`]: RegWithoutHalf }), 5);
    expect(failedParts(results)).toEqual([
      "fc_net: loss and gradients / with regularization: loss",
      "fc_net: loss and gradients / with regularization: weight gradients",
      "fc_net: loss and gradients / one example: loss",
      "fc_net: loss and gradients / one example: weight gradients",
      "fc_net: batchnorm / train mode: loss",
      "fc_net: batchnorm / train mode: weight gradients",
      "fc_net: dropout / train mode: loss",
      "fc_net: dropout / train mode: weight gradients",
    ]);
  });

  it("dropout left in training mode by loss(X) loses the dropout test-mode part only", async () => {
    const student = variant([["{ p: this.dropoutKeepRatio, mode, seed: this.rng }", '{ p: this.dropoutKeepRatio, mode: "train", seed: this.rng }']]);
    const results = await runInProcess(tests, student, 6);
    expect(failedParts(results)).toEqual(["fc_net: dropout / test mode"]);
  });

  it("batchnorm left in training mode by loss(X) loses the batchnorm test-mode part only", async () => {
    const student = variant([["bnParam.mode = mode;", 'bnParam.mode = "train";']]);
    const results = await runInProcess(tests, student, 7);
    expect(failedParts(results)).toEqual(["fc_net: batchnorm / test mode"]);
  });

  it("the same masks on every call (the generator re-seeded per call) lose the fresh-masks part only", async () => {
    const student = variant([
      ["this.rng = new Rng(seed);", "this.rng = new Rng(seed);\n    (this as unknown as { seed0: number }).seed0 = seed;"],
      ['const mode = y === undefined ? "test" : "train";', 'const mode = y === undefined ? "test" : "train";\n    if (y !== undefined) this.rng = new Rng((this as unknown as { seed0: number }).seed0);'],
    ]);
    const results = await runInProcess(tests, student, 8);
    expect(failedParts(results)).toEqual(["fc_net: dropout / fresh masks per call"]);
  });
});
