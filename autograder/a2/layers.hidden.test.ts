import { afterAll, describe, expect, it } from "vitest";
import * as lib from "@semantic-gap/lib";
import { Rng, maxAbsDiff, randn, type Tensor } from "@semantic-gap/lib";
import * as ref from "../../solutions/a2/layers.js";
import { libEquivalents, tests } from "./layers.hidden.js";
import { suiteChecks } from "./nn_suite.test-support.js";
import { tests as publicTests } from "./layers.public.js";

describe("layers hidden tests", () => {
  const lost = suiteChecks({ file: "layers.ts", tests, publicTests, libEquivalents, vitest: { it, expect, afterAll } });

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

  it("the reference passes the curriculum's gradient check: relative error below 1e-8 for every layer and loss", () => {
    const rng = new Rng(12);
    const away = (shape: number[]) => lib.map(randn(shape, rng), (v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    const worst: Record<string, number> = {};
    const check = (name: string, f: (t: Tensor) => Tensor, x: Tensor, dout: Tensor, dx: Tensor) => {
      worst[name] = lib.relError(lib.evalNumericalGradientArray(f, x, dout), dx);
    };
    const x = away([5, 6]);
    const d = randn([5, 6], rng);
    const acts = { relu: [ref.reluForward, ref.reluBackward], leakyRelu: [ref.leakyReluForward, ref.leakyReluBackward], sigmoid: [ref.sigmoidForward, ref.sigmoidBackward], tanh: [ref.tanhForward, ref.tanhBackward], elu: [ref.eluForward, ref.eluBackward] } as const;
    for (const [name, [fwd, bwd]] of Object.entries(acts)) {
      check(name, (t) => fwd(t).out, x, d, (bwd as (a: Tensor, c: unknown) => { dx: Tensor })(d, fwd(x).cache).dx);
    }
    const w = randn([6, 3], rng);
    const b = randn([3], rng);
    const d3 = randn([5, 3], rng);
    const ag = ref.affineBackward(d3, ref.affineForward(x, w, b).cache);
    check("affine dx", (t) => ref.affineForward(t, w, b).out, x, d3, ag.dx);
    check("affine dw", (t) => ref.affineForward(x, t, b).out, w, d3, ag.dw);
    const g = randn([6], rng, 0.5, 1);
    const be = randn([6], rng);
    const bg = ref.batchnormBackward(d, ref.batchnormForward(x, g, be, { mode: "train" }).cache);
    check("batchnorm dx", (t) => ref.batchnormForward(t, g, be, { mode: "train" }).out, x, d, bg.dx);
    check("batchnorm dgamma", (t) => ref.batchnormForward(x, t, be, { mode: "train" }).out, g, d, bg.dgamma);
    const drop = { p: 0.6, mode: "train" as const, seed: 4 };
    check("dropout", (t) => ref.dropoutForward(t, drop).out, x, d, ref.dropoutBackward(d, ref.dropoutForward(x, drop).cache).dx);
    const y = Int32Array.from([0, 1, 2, 0, 1]);
    for (const [name, f] of [["svmLoss", ref.svmLoss], ["softmaxLoss", ref.softmaxLoss]] as const) {
      worst[name] = lib.relError(lib.evalNumericalGradient((t) => f(t, y).loss, x), f(x, y).dx);
    }
    for (const [name, e] of Object.entries(worst)) expect(e, name).toBeLessThan(1e-8);
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
