import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Rng, evalNumericalGradient, maxAbsDiff, randn, relError, type Tensor } from "@semantic-gap/lib";
import { ThreeLayerConvNet } from "../../solutions/a2/cnn.js";
import { stubTypeScript } from "../src/generate.js";
import { editedStudent, failedParts, failures, inProcessStudent, runInProcess } from "../src/in-process.js";
import { refNetLoss, tests } from "./cnn.hidden.js";
import { tests as publicTests } from "./cnn.public.js";

const solutionsDir = fileURLToPath(new URL("../../solutions/a2", import.meta.url));
const solutions = inProcessStudent(solutionsDir);
const FILE = "cnn.ts";
const tmpRoot = fileURLToPath(new URL("../../build/tmp-cnn-variants", import.meta.url));
mkdirSync(tmpRoot, { recursive: true });
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
/** Grading seeds swept; every case is drawn away from the ReLU and max-pool kinks (kinkMargin). */
const SEEDS = 40;

const variant = (edits: Array<[string, string]>, transform?: (src: string) => string) =>
  editedStudent(solutionsDir, tmpRoot, FILE, edits, { transform, siblings: ["layers.ts"] });

describe("cnn hidden tests", () => {
  it("the grader's network agrees with the reference solution, and both with numerical gradients (below 1e-6)", () => {
    const rng = new Rng(11);
    const net = new ThreeLayerConvNet({ inputDim: [2, 6, 4], numFilters: 3, filterSize: 3, hiddenDim: 5, numClasses: 4, weightScale: 0.3, reg: 0.2, seed: 3 });
    const X = randn([3, 2, 6, 4], rng);
    const y = Int32Array.from([0, 3, 1]);
    const mine = net.loss(X, y);
    const ref = refNetLoss(net.params as never, X, y, 0.2);
    expect(Math.abs(mine.loss - ref.loss)).toBeLessThan(1e-12);
    for (const k of ["W1", "b1", "W2", "b2", "W3", "b3"] as const) {
      expect(maxAbsDiff(mine.grads[k], ref.grads![k])).toBeLessThan(1e-12);
      const num = evalNumericalGradient((t) => refNetLoss({ ...(net.params as Record<string, Tensor>), [k]: t } as never, X, y, 0.2).loss, net.params[k]);
      expect(relError(num, mine.grads[k])).toBeLessThan(1e-6);
    }
  });

  it(`give the reference solution full marks for ${SEEDS} grading seeds, and it passes the public checks`, async () => {
    for (let seed = 1; seed <= SEEDS; seed++) expect(failures(await runInProcess(tests, solutions, seed * 104729))).toEqual([]);
    expect(failures(await runInProcess(publicTests, solutions, 1))).toEqual([]);
  }, 300_000);

  it("every test names its exercise", () => {
    for (const t of tests) expect(t.exercises?.length, t.name).toBeGreaterThan(0);
  });

  it("regularizing with reg·ΣW² instead of 0.5·reg·ΣW² loses the regularized loss and weight gradients only", async () => {
    const broken = variant([
      ["0.5 * this.reg * (sq(W1)", "this.reg * (sq(W1)"],
      ["add(g, mul(w, this.reg))", "add(g, mul(w, 2 * this.reg))"],
    ]);
    expect(failedParts(await runInProcess(tests, broken, 2))).toEqual([
      "cnn: ThreeLayerConvNet.loss gradients / with regularization: loss",
      "cnn: ThreeLayerConvNet.loss gradients / with regularization: weight gradients",
    ]);
  });

  it("W2 rows in (H, W, F) order instead of the pooled (F, H, W) output's loses every loss part but the loss at init", async () => {
    const broken = variant([
      ["  zeros,\n", "  zeros,\n  transpose,\n  contiguous,\n"],
      ["affineForward(pool.out, W2, b2)", "affineForward(transpose(pool.out, 0, 2, 3, 1), W2, b2)"],
      ["maxPoolBackwardFast(g2.dx, pool.cache)", "maxPoolBackwardFast(contiguous(transpose(g2.dx, 0, 3, 1, 2)), pool.cache)"],
    ]);
    const lost = failedParts(await runInProcess(tests, broken, 3));
    expect(lost).toEqual([
      "cnn: ThreeLayerConvNet.loss scores and the loss at initialization / scores",
      ...["without regularization", "with regularization", "one image"].flatMap((l) =>
        ["loss", "weight gradients", "bias gradients", ...(l === "without regularization" ? ["gradient check"] : [])].map((p) => `cnn: ThreeLayerConvNet.loss gradients / ${l}: ${p}`),
      ),
    ]);
  });

  it("weights of twice the standard deviation lose the initial values only", async () => {
    const broken = variant([["rng, weightScale)", "rng, 2 * weightScale)"]]);
    expect(failedParts(await runInProcess(tests, broken, 4))).toEqual(["cnn: ThreeLayerConvNet parameters and initialization / initial values"]);
  });

  it("the untouched stub scores 0 on every test and says what is not implemented", async () => {
    const stub = variant([], (src) => stubTypeScript(src, FILE));
    for (const r of await runInProcess(tests, stub, 5)) {
      expect(r.fraction, r.name).toBe(0);
      for (const p of r.parts) expect(p.message ?? "", `${r.name} / ${p.name}`).toMatch(/not implemented|Not implemented/);
    }
  });
});
