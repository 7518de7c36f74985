import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import * as lib from "@semantic-gap/lib";
import { Rng, maxAbsDiff, randn, type Tensor } from "@semantic-gap/lib";
import * as ref from "../../solutions/a2/layers.js";
import { editedStudent, failedParts, failures, inProcessStudent, runInProcess } from "../src/in-process.js";
import { libEquivalents, tests } from "./layers.hidden.js";
import { cachedStudent } from "./nn_helpers.js";
import { tests as publicTests } from "./layers.public.js";

const FILE = "layers.ts";
const solutionsDir = fileURLToPath(new URL("../../solutions/a2", import.meta.url));
const solutions = cachedStudent(solutionsDir);
const stubs = inProcessStudent(fileURLToPath(new URL("../../assignments/a2", import.meta.url)));
const tmpRoot = fileURLToPath(new URL("../../build/tmp-layers-variants", import.meta.url));
mkdirSync(tmpRoot, { recursive: true });
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** The reference solution with text replaced: a broken submission. */
const variant = (edits: Array<[string, string]>) => editedStudent(solutionsDir, tmpRoot, FILE, edits);

/** The failed parts of a variant, for one grading seed. */
async function lost(edits: Array<[string, string]>, seed = 7): Promise<string[]> {
  return failedParts(await runInProcess(tests, variant(edits), seed));
}

describe("layers hidden tests", () => {
  it("give the reference solution full marks over 200 grading seeds", async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const results = await runInProcess(tests, solutions, seed * 7919);
      expect(failures(results), `seed ${seed * 7919}`).toEqual([]);
    }
  }, 120_000);

  it("give the untouched stubs 0, each test saying what is not implemented", async () => {
    const results = await runInProcess(tests, stubs, 3);
    expect(results.filter((r) => r.fraction > 0).map((r) => r.name)).toEqual([]);
    for (const r of results) expect(r.parts.map((p) => p.message).join(" "), r.name).toMatch(/Not implemented: \w+/);
  });

  it("every test names the exercises it grades, and libEquivalents names real lib exports for each", () => {
    for (const t of tests) expect(t.exercises?.length, t.name).toBeGreaterThan(0);
    const exercises = [...new Set(tests.flatMap((t) => t.exercises ?? []))].sort();
    expect(Object.keys(libEquivalents).sort()).toEqual(exercises);
    for (const names of Object.values(libEquivalents)) for (const n of names) expect(n in lib, n).toBe(true);
  });

  it("public checks pass on the reference and fail on the stubs", async () => {
    expect(failures(await runInProcess(publicTests, solutions, 1))).toEqual([]);
    const onStubs = await runInProcess(publicTests, stubs, 1);
    expect(onStubs.every((r) => r.parts.every((p) => !p.passed))).toBe(true);
  });

  it("the reference agrees with lib's independent layers (1e-12)", () => {
    const rng = new Rng(5);
    const x = randn([6, 2, 3], rng);
    const w = randn([6, 4], rng);
    const b = randn([4], rng);
    const dout = randn([6, 4], rng);
    const a = ref.affineBackward(dout, ref.affineForward(x, w, b).cache);
    const l = lib.affineBackward(dout, lib.affineForward(x, w, b).cache);
    for (const k of ["dx", "dw", "db"] as const) expect(maxAbsDiff(a[k], l[k])).toBeLessThan(1e-12);
    const xb = randn([8, 5], rng, 2, 1);
    const g = randn([5], rng);
    const be = randn([5], rng);
    const d2 = randn([8, 5], rng);
    const bnR: ref.BatchnormParam = { mode: "train" };
    const bnL: lib.BatchnormParam = { mode: "train" };
    const rb = ref.batchnormBackward(d2, ref.batchnormForward(xb, g, be, bnR).cache);
    const lb = lib.batchnormBackward(d2, lib.batchnormForward(xb, g, be, bnL).cache);
    for (const k of ["dx", "dgamma", "dbeta"] as const) expect(maxAbsDiff(rb[k], lb[k])).toBeLessThan(1e-12);
    expect(maxAbsDiff(bnR.runningVar!, bnL.runningVar!)).toBeLessThan(1e-14);
    const s = randn([7, 4], rng, 3);
    const y = Int32Array.from([0, 1, 2, 3, 0, 1, 2]);
    for (const [r, l] of [[ref.svmLoss, lib.svmLoss], [ref.softmaxLoss, lib.softmaxLoss]] as const) {
      expect(Math.abs(r(s, y).loss - l(s, y).loss)).toBeLessThan(1e-12);
      expect(maxAbsDiff(r(s, y).dx, l(s, y).dx)).toBeLessThan(1e-12);
    }
    const drop = { p: 0.4, mode: "train" as const, seed: 9 };
    expect(maxAbsDiff(ref.dropoutForward(xb, drop).out, lib.dropoutForward(xb, drop).out)).toBe(0);
  });

  it("batchnorm backward without the variance term (−x̂·Σ dx̂·x̂) loses dx only, and keeps the batch of one", async () => {
    expect(await lost([["const inner = sub(sub(mul(dxhat, N), sum(dxhat, 0)), mul(xhat, sum(mul(dxhat, xhat), 0)));", "const inner = sub(mul(dxhat, N), sum(dxhat, 0));"]])).toEqual([
      "layers: batchnormBackward / random batch: dx",
      "layers: batchnormBackward / random batch: gradient check: dx",
      "layers: batchnormBackward / small batch: dx",
      "layers: batchnormBackward / small batch: gradient check: dx",
    ]);
  });

  it("batchnorm with the unbiased variance loses the train-mode output and running variance, not the running mean or test mode", async () => {
    const parts = await lost([["mean(mul(centered, centered), 0)", "div(sum(mul(centered, centered), 0), x.shape[0] - 1)"]]);
    expect(parts.filter((p) => p.startsWith("layers: batchnormForward"))).toEqual([
      "layers: batchnormForward / train mode: out",
      "layers: batchnormForward / running variance from zeros",
      "layers: batchnormForward / given running statistics, momentum 0.8, eps 1e-3",
      "layers: batchnormForward / batch of one: out",
    ]);
  });

  it("dropout without the 1/p scale loses the scaled output and dx, and keeps p = 1, test mode, the mask statistics and consistency", async () => {
    expect(await lost([["rng.uniform() < p ? 1 / p : 0", "rng.uniform() < p ? 1 : 0"]])).toEqual([
      "layers: dropoutForward / train mode: out",
      "layers: dropoutForward / kept units scaled by 1/p",
      "layers: dropoutBackward / train mode: dx",
    ]);
  });

  it("dropout that keeps a unit when the draw is above 1 − p loses the exact mask only", async () => {
    expect(await lost([["rng.uniform() < p ? 1 / p : 0", "rng.uniform() >= 1 - p ? 1 / p : 0"]])).toEqual([
      "layers: dropoutForward / train mode: out",
      "layers: dropoutBackward / train mode: dx",
    ]);
  });

  it("an unstable softmax (no max shift) loses the scores-of-1000 case only", async () => {
    expect(await lost([["const shifted = sub(x, max(x, 1, true));", "const shifted = x;"]])).toEqual([
      "layers: softmaxLoss / scores of 1000: loss",
      "layers: softmaxLoss / scores of 1000: dx",
    ]);
  });

  it("a ReLU gradient that passes dout where x < 0 too loses reluBackward only", async () => {
    expect(await lost([["map(cache, (v) => (v > 0 ? 1 : 0))", "map(cache, () => 1)"]])).toEqual([
      "layers: reluBackward / (N, D) input: dx",
      "layers: reluBackward / (N, D) input: gradient check: dx",
      "layers: reluBackward / (N, 2, 3) input: dx",
      "layers: reluBackward / batch of one: dx",
      "layers: reluBackward / one feature: dx",
    ]);
  });

  it("affineBackward that forgets to reshape dx back loses the (N, d1, d2) case's dx only", async () => {
    expect(await lost([["const dx = reshape(matmul(dout, w, false, true), x.shape);", "const dx = matmul(dout, w, false, true);"]])).toEqual([
      "layers: affineBackward / (N, d1, d2) input: dx",
      "layers: affineBackward / (N, d1, d2) input: gradient check: dx",
    ]);
  });

  it("a leaky ReLU that ignores its alpha argument loses the alpha-given case", async () => {
    expect(await lost([["export function leakyReluForward(x: Tensor, alpha = 0.01)", "export function leakyReluForward(x: Tensor, _alpha = 0.01, alpha = 0.01)"]])).toEqual([
      "layers: leakyReluForward / alpha given: out",
      "layers: leakyReluBackward / alpha given: dx",
      "layers: leakyReluBackward / alpha given: gradient check: dx",
    ]);
  });

  it("an SVM loss that also counts the correct class loses the loss parts and keeps dx", async () => {
    expect(await lost([["const margins = mul(maximum(add(sub(x, correct), 1), 0), sub(1, isCorrect));", "const margins = maximum(add(sub(x, correct), 1), 0);\n  const counted = mul(margins, sub(1, isCorrect));"], ["const positive = map(margins,", "const positive = map(counted,"]])).toEqual([
      "layers: svmLoss / random scores: loss",
      "layers: svmLoss / one example: loss",
      "layers: svmLoss / scores of 1000: loss",
    ]);
  });
});
