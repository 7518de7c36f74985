import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  Rng,
  affineBackward,
  affineForward,
  batchnormBackward,
  batchnormForward,
  copy,
  dropoutBackward,
  dropoutForward,
  eluBackward,
  eluForward,
  evalNumericalGradient,
  evalNumericalGradientArray,
  fromNested,
  leakyReluBackward,
  leakyReluForward,
  map,
  maxAbsDiff,
  mean,
  randn,
  relError,
  reluBackward,
  reluForward,
  sigmoidBackward,
  sigmoidForward,
  softmaxLoss,
  svmLoss,
  tanhBackward,
  tanhForward,
  toFloat64Array,
  transpose,
  variance,
  type BatchnormParam,
  type Nested,
  type Tensor,
} from "../src/index.js";

// lib's layers three ways: against numerical gradients (lib's gradient check, relative error below the
// curriculum's 1e-8), against values worked by hand, and against PyTorch. The PyTorch numbers come from
// fixtures/nn-reference.json, written by fixtures/make_nn_reference.py (float64, autograd); PyTorch is
// not needed to run these tests, only to regenerate the file.

const fixture = JSON.parse(readFileSync(new URL("./fixtures/nn-reference.json", import.meta.url), "utf8"));
const T = (v: Nested): Tensor => fromNested(v);
const labels = (v: number[]): Int32Array => Int32Array.from(v);

/** Expects two tensors to agree to 1e-12 absolute plus 1e-10 relative (rounding of a different summation order). */
function expectClose(got: Tensor, want: Tensor, atol = 1e-12): void {
  expect(got.shape).toEqual(want.shape);
  const g = toFloat64Array(got);
  const w = toFloat64Array(want);
  for (let i = 0; i < g.length; i++) expect(Math.abs(g[i] - w[i])).toBeLessThanOrEqual(atol + 1e-10 * Math.abs(w[i]));
}

/** Random values at least 0.05 away from 0, so that centred differences never straddle a kink. */
function awayFromZero(shape: number[], rng: Rng): Tensor {
  return map(randn(shape, rng), (v) => (Math.abs(v) < 0.05 ? v + Math.sign(v || 1) * 0.1 : v));
}

/** Relative error of a layer's dx against the numerical gradient of sum(forward(x)·dout). */
function dxError(forward: (x: Tensor) => Tensor, x: Tensor, dout: Tensor, dx: Tensor): number {
  return relError(evalNumericalGradientArray(forward, x, dout), dx);
}

describe("affine layer", () => {
  it("hand-worked: x·w + b", () => {
    const { out } = affineForward(T([[1, 2], [3, 4]]), T([[1, 0, -1], [2, 1, 0]]), T([0.5, -1, 2]));
    expect(out.shape).toEqual([2, 3]);
    expect(Array.from(out.data)).toEqual([5.5, 1, 1, 11.5, 3, -1]);
    const { dx, dw, db } = affineBackward(T([[1, 0, 0], [0, 1, 1]]), affineForward(T([[1, 2], [3, 4]]), T([[1, 0, -1], [2, 1, 0]]), T([0.5, -1, 2])).cache);
    expect(Array.from(dx.data)).toEqual([1, 2, -1, 1]); // dout·wᵀ
    expect(Array.from(dw.data)).toEqual([1, 3, 3, 2, 4, 4]); // xᵀ·dout
    expect(Array.from(db.data)).toEqual([1, 1, 1]);
  });

  it("flattens (N, d1, d2) inputs and passes the gradient check below 1e-8", () => {
    const rng = new Rng(1);
    const x = randn([4, 3, 2], rng);
    const w = randn([6, 5], rng);
    const b = randn([5], rng);
    const dout = randn([4, 5], rng);
    const { cache } = affineForward(x, w, b);
    const g = affineBackward(dout, cache);
    expect(g.dx.shape).toEqual([4, 3, 2]);
    expect(dxError((t) => affineForward(t, w, b).out, x, dout, g.dx)).toBeLessThan(1e-8);
    expect(relError(evalNumericalGradientArray((t) => affineForward(x, t, b).out, w, dout), g.dw)).toBeLessThan(1e-8);
    expect(relError(evalNumericalGradientArray((t) => affineForward(x, w, t).out, b, dout), g.db)).toBeLessThan(1e-8);
  });

  it("agrees with PyTorch (1e-12)", () => {
    const f = fixture.affine;
    const { out, cache } = affineForward(T(f.x), T(f.w), T(f.b));
    expectClose(out, T(f.out));
    const g = affineBackward(T(f.dout), cache);
    expectClose(g.dx, T(f.dx));
    expectClose(g.dw, T(f.dw));
    expectClose(g.db, T(f.db));
  });

  it("reads transposed views and leaves its inputs unchanged", () => {
    const rng = new Rng(2);
    const xT = randn([3, 4], rng); // x = xTᵀ, a (4, 3) view with strides (1, 4)
    const w = randn([3, 2], rng);
    const b = randn([2], rng);
    const x = transpose(xT);
    const before = copy(x);
    expect(maxAbsDiff(affineForward(x, w, b).out, affineForward(copy(x), w, b).out)).toBe(0);
    expect(maxAbsDiff(x, before)).toBe(0);
  });

  it("names the argument and both sizes when shapes disagree", () => {
    expect(() => affineForward(randn([2, 3, 2], 0), randn([5, 4], 0), randn([4], 0))).toThrow(
      "affineForward: x's features per example (6, from x (2, 3, 2)) must equal w.shape[0] (5)",
    );
    expect(() => affineForward(randn([2, 5], 0), randn([5, 4], 0), randn([3], 0))).toThrow("affineForward: b.shape[0] (3) must equal w.shape[1] (4)");
    const { cache } = affineForward(randn([2, 5], 0), randn([5, 4], 0), randn([4], 0));
    expect(() => affineBackward(randn([2, 3], 0), cache)).toThrow("affineBackward: dout must have shape (2, 4), got (2, 3)");
  });
});

type Act = { name: string; forward: (x: Tensor) => { out: Tensor; cache: never }; backward: (d: Tensor, c: never) => { dx: Tensor }; torch: string };
const acts: Act[] = [
  { name: "relu", forward: reluForward as Act["forward"], backward: reluBackward as Act["backward"], torch: "relu" },
  { name: "leakyRelu (alpha 0.01)", forward: ((x: Tensor) => leakyReluForward(x)) as Act["forward"], backward: leakyReluBackward as Act["backward"], torch: "leakyRelu" },
  { name: "leakyRelu (alpha 0.2)", forward: ((x: Tensor) => leakyReluForward(x, 0.2)) as Act["forward"], backward: leakyReluBackward as Act["backward"], torch: "leakyRelu0.2" },
  { name: "sigmoid", forward: sigmoidForward as Act["forward"], backward: sigmoidBackward as Act["backward"], torch: "sigmoid" },
  { name: "tanh", forward: tanhForward as Act["forward"], backward: tanhBackward as Act["backward"], torch: "tanh" },
  { name: "elu (alpha 1)", forward: ((x: Tensor) => eluForward(x)) as Act["forward"], backward: eluBackward as Act["backward"], torch: "elu" },
  { name: "elu (alpha 0.5)", forward: ((x: Tensor) => eluForward(x, 0.5)) as Act["forward"], backward: eluBackward as Act["backward"], torch: "elu0.5" },
];

describe("activations", () => {
  it("hand-worked values and slopes", () => {
    const x = T([-2, -1, 0, 3]);
    const ones = T([1, 1, 1, 1]);
    const r = reluForward(x);
    expect(Array.from(r.out.data)).toEqual([0, 0, 0, 3]);
    expect(Array.from(reluBackward(ones, r.cache).dx.data)).toEqual([0, 0, 0, 1]); // 0 at the kink
    const l = leakyReluForward(x);
    expect(Array.from(l.out.data)).toEqual([-0.02, -0.01, 0, 3]);
    expect(Array.from(leakyReluBackward(ones, l.cache).dx.data)).toEqual([0.01, 0.01, 0.01, 1]);
    const s = sigmoidForward(T([0]));
    expect(s.out.data[0]).toBe(0.5);
    expect(sigmoidBackward(T([1]), s.cache).dx.data[0]).toBe(0.25);
    const t = tanhForward(T([0, 1]));
    expect(t.out.data[1]).toBeCloseTo(0.7615941559557649, 15);
    expect(Array.from(tanhBackward(T([1, 1]), t.cache).dx.data)[0]).toBe(1);
    const e = eluForward(T([-1, 2]), 2);
    expect(e.out.data[0]).toBeCloseTo(2 * (Math.exp(-1) - 1), 15);
    expect(e.out.data[1]).toBe(2);
    expect(eluBackward(T([1, 1]), e.cache).dx.data[0]).toBeCloseTo(2 * Math.exp(-1), 15);
  });

  it("sigmoid saturates without overflow", () => {
    const s = sigmoidForward(T([-1000, 1000, -40]));
    expect(Array.from(s.out.data).slice(0, 2)).toEqual([0, 1]);
    expect(s.out.data[2]).toBeCloseTo(4.248354255291589e-18, 30);
  });

  for (const a of acts) {
    it(`${a.name}: gradient check below 1e-8 and PyTorch's values (1e-12)`, () => {
      const rng = new Rng(3);
      const x = awayFromZero([5, 7], rng);
      const dout = randn([5, 7], rng);
      const { cache } = a.forward(x);
      expect(dxError((t) => a.forward(t).out, x, dout, a.backward(dout, cache).dx)).toBeLessThan(1e-8);
      const f = fixture.activations;
      const ref = a.forward(T(f.x));
      expectClose(ref.out, T(f[a.torch].out));
      expectClose(a.backward(T(f.dout), ref.cache).dx, T(f[a.torch].dx));
    });
  }

  it("backward checks dout's shape against the cached input", () => {
    const { cache } = reluForward(randn([2, 3], 0));
    expect(() => reluBackward(randn([3, 2], 0), cache)).toThrow("reluBackward: dout and the cached input must have the same shape, got (3, 2) and (2, 3)");
  });
});

describe("losses", () => {
  const lecture = T([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]]);
  const y3 = labels([0, 1, 2]);

  it("svmLoss: the lecture's example averages to 15.8 / 3 with the hand-worked gradient", () => {
    const { loss, dx } = svmLoss(lecture, y3);
    expect(loss).toBeCloseTo(15.8 / 3, 13);
    expectClose(dx, T([[-1 / 3, 1 / 3, 0], [0, 0, 0], [1 / 3, 1 / 3, -2 / 3]]));
  });

  it("softmaxLoss: the lecture's cat is −log(e^3.2 / Σe^s) ≈ 2.04, and scores of 1000 stay finite", () => {
    const one = softmaxLoss(T([[3.2, 5.1, -1.7]]), labels([0]));
    expect(one.loss).toBeCloseTo(Math.log(Math.exp(3.2) + Math.exp(5.1) + Math.exp(-1.7)) - 3.2, 13);
    expect(one.loss).toBeCloseTo(2.04, 2);
    const big = softmaxLoss(T([[1000, 1000], [1000, -1000]]), labels([0, 0]));
    expect(big.loss).toBeCloseTo(Math.LN2 / 2, 14);
    expectClose(big.dx, T([[-0.25, 0.25], [0, 0]]));
    // A fresh classifier's loss is ln C.
    expect(softmaxLoss(T([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]), labels([4])).loss).toBeCloseTo(Math.log(10), 14);
  });

  it("gradient checks below 1e-8 (margins kept away from the hinge) and PyTorch's values", () => {
    const rng = new Rng(4);
    const x = randn([8, 5], rng);
    const y = labels([0, 1, 2, 3, 4, 0, 1, 2]);
    for (const f of [svmLoss, softmaxLoss]) {
      const num = evalNumericalGradient((t) => f(t, y).loss, x);
      expect(relError(num, f(x, y).dx)).toBeLessThan(1e-8);
    }
    for (const kind of ["plain", "large"]) {
      const f = fixture.losses[kind];
      const yy = labels(fixture.losses.y);
      for (const [name, fn] of [["svm", svmLoss], ["softmax", softmaxLoss]] as const) {
        const r = fn(T(f.x), yy);
        // Scores of ~1000 make the loss ~1000: the same 1e-10 relative.
        expect(Math.abs(r.loss - f[name].loss)).toBeLessThanOrEqual(1e-12 + 1e-10 * Math.abs(f[name].loss));
        expectClose(r.dx, T(f[name].dx));
      }
    }
  });

  it("checks the labels", () => {
    expect(() => softmaxLoss(randn([2, 3], 0), labels([0]))).toThrow("softmaxLoss: y must have length 2 (one label per example), got length 1");
    expect(() => svmLoss(randn([2, 3], 0), labels([0, 3]))).toThrow("svmLoss: y[1] = 3 is not a valid label (expected 0..2)");
  });
});

describe("dropout", () => {
  it("keeps an element where the uniform draw, in row-major order, is below p, and scales it by 1/p", () => {
    const p = 0.6;
    const x = T([[1, 2, 3], [4, 5, 6]]);
    const { out, cache } = dropoutForward(x, { p, mode: "train", seed: 7 });
    const rng = new Rng(7);
    const expected = [1, 2, 3, 4, 5, 6].map((v) => (rng.uniform() < p ? v / p : 0));
    expect(Array.from(out.data)).toEqual(expected);
    expect(expected.some((v) => v === 0) && expected.some((v) => v !== 0)).toBe(true); // both cases occur
    const dx = dropoutBackward(T([[1, 1, 1], [1, 1, 1]]), cache).dx;
    expect(Array.from(dx.data)).toEqual(expected.map((v) => (v === 0 ? 0 : 1 / p)));
  });

  it("the same seed gives the same mask; an Rng advances between calls", () => {
    const x = randn([10, 10], 1);
    const a = dropoutForward(x, { p: 0.5, mode: "train", seed: 3 }).out;
    expect(maxAbsDiff(a, dropoutForward(x, { p: 0.5, mode: "train", seed: 3 }).out)).toBe(0);
    const rng = new Rng(3);
    const first = dropoutForward(x, { p: 0.5, mode: "train", seed: rng }).out;
    expect(maxAbsDiff(first, a)).toBe(0);
    expect(maxAbsDiff(dropoutForward(x, { p: 0.5, mode: "train", seed: rng }).out, a)).toBeGreaterThan(0);
  });

  it("keeps a fraction p of the units and the mean of the input; p = 1 and test mode are the identity", () => {
    const x = randn([200, 500], 2, 1, 3); // mean 3
    for (const p of [0.25, 0.5, 0.9]) {
      const { out, cache } = dropoutForward(x, { p, mode: "train", seed: 11 });
      const kept = toFloat64Array(cache.mask!).filter((m) => m !== 0).length / 1e5;
      // 100,000 Bernoulli(p) draws: the kept fraction's standard deviation is below 0.0016; 0.01 is > 6 of them.
      expect(Math.abs(kept - p)).toBeLessThan(0.01);
      expect(Math.abs(mean(out) / mean(x) - 1)).toBeLessThan(0.02);
      // The mask is fixed by the seed, so the layer is linear in x and its gradient checks exactly.
      const small = randn([3, 4], 5);
      const dout = randn([3, 4], 6);
      const fwd = (t: Tensor) => dropoutForward(t, { p, mode: "train", seed: 11 });
      expect(dxError((t) => fwd(t).out, small, dout, dropoutBackward(dout, fwd(small).cache).dx)).toBeLessThan(1e-8);
    }
    expect(maxAbsDiff(dropoutForward(x, { p: 1, mode: "train", seed: 0 }).out, x)).toBe(0);
    const test = dropoutForward(x, { p: 0.3, mode: "test" });
    expect(maxAbsDiff(test.out, x)).toBe(0);
    expect(maxAbsDiff(dropoutBackward(x, test.cache).dx, x)).toBe(0);
  });

  it("rejects a keep probability outside (0, 1], an unknown mode and a missing seed", () => {
    const x = randn([2, 2], 0);
    expect(() => dropoutForward(x, { p: 0, mode: "train", seed: 1 })).toThrow("dropoutForward: dropoutParam.p is the keep probability and must be in (0, 1], got 0");
    expect(() => dropoutForward(x, { p: 1.5, mode: "train", seed: 1 })).toThrow(/must be in \(0, 1\], got 1.5/);
    expect(() => dropoutForward(x, { p: 0.5, mode: "eval" as "test" })).toThrow('dropoutForward: dropoutParam.mode must be "train" or "test", got "eval"');
    expect(() => dropoutForward(x, { p: 0.5, mode: "train" })).toThrow("dropoutForward: dropoutParam.seed must be a number or an Rng in train mode, got undefined");
  });
});

describe("batch normalization", () => {
  it("hand-worked: batch mean, biased variance, and running statistics from zeros with momentum 0.9", () => {
    const bn: BatchnormParam = { mode: "train", eps: 0 };
    const { out } = batchnormForward(T([[1, 2], [3, 6]]), T([2, 1]), T([0, 1]), bn);
    // Means (2, 4), biased variances (1, 4): x̂ = [[-1, -1], [1, 1]].
    expect(Array.from(out.data)).toEqual([-2, 0, 2, 2]);
    expectClose(bn.runningMean!, T([0.2, 0.4]), 1e-15);
    expectClose(bn.runningVar!, T([0.1, 0.4]), 1e-15);
    // Test mode: (x − runningMean)/√(runningVar + eps)·gamma + beta.
    const t = batchnormForward(T([[0.2, 0.4]]), T([2, 1]), T([0, 1]), { ...bn, mode: "test" });
    expectClose(t.out, T([[0, 1]]), 1e-15);
  });

  it("train mode gives each feature mean beta and standard deviation gamma; test mode follows the running statistics", () => {
    const rng = new Rng(8);
    const gamma = T([1, 2, 0.5]);
    const beta = T([0, -1, 3]);
    const bn: BatchnormParam = { mode: "train" };
    for (let k = 0; k < 200; k++) batchnormForward(randn([50, 3], rng, 2, 5), gamma, beta, bn);
    const x = randn([200, 3], rng, 2, 5);
    const { out } = batchnormForward(x, gamma, beta, { mode: "train" });
    expectClose(mean(out, 0), beta, 1e-12);
    expectClose(map(variance(out, 0), Math.sqrt), T([1, 2, 0.5]), 1e-4); // √(σ²/(σ² + eps)) ≈ 1 − 1e-6
    // After 200 batches of mean 5, std 2, the running statistics are near them, so test mode nearly normalizes.
    expect(maxAbsDiff(bn.runningMean!, T([5, 5, 5]))).toBeLessThan(0.3);
    expect(maxAbsDiff(bn.runningVar!, T([4, 4, 4]))).toBeLessThan(0.8);
    const test = batchnormForward(x, gamma, beta, bn).out;
    expect(maxAbsDiff(mean(test, 0), beta)).toBeLessThan(0.5);
  });

  it("gradient check of dx, dgamma, dbeta below 1e-8", () => {
    const rng = new Rng(9);
    const x = randn([6, 4], rng, 3, 2);
    const gamma = randn([4], rng, 1, 1);
    const beta = randn([4], rng);
    const dout = randn([6, 4], rng);
    const fwd = (a: Tensor, g: Tensor, b: Tensor) => batchnormForward(a, g, b, { mode: "train" }).out;
    const g = batchnormBackward(dout, batchnormForward(x, gamma, beta, { mode: "train" }).cache);
    expect(relError(evalNumericalGradientArray((t) => fwd(t, gamma, beta), x, dout), g.dx)).toBeLessThan(1e-8);
    expect(relError(evalNumericalGradientArray((t) => fwd(x, t, beta), gamma, dout), g.dgamma)).toBeLessThan(1e-8);
    expect(relError(evalNumericalGradientArray((t) => fwd(x, gamma, t), beta, dout), g.dbeta)).toBeLessThan(1e-8);
  });

  it("agrees with PyTorch's batch_norm in train and test mode (1e-12)", () => {
    const f = fixture.batchnorm;
    const bn: BatchnormParam = { mode: "train", runningMean: T(f.runningMean), runningVar: T(f.runningVar) };
    const { out, cache } = batchnormForward(T(f.x), T(f.gamma), T(f.beta), bn);
    expectClose(out, T(f.out));
    expectClose(bn.runningMean!, T(f.nextRunningMean));
    expectClose(bn.runningVar!, T(f.nextRunningVar));
    const g = batchnormBackward(T(f.dout), cache);
    expectClose(g.dx, T(f.dx));
    expectClose(g.dgamma, T(f.dgamma));
    expectClose(g.dbeta, T(f.dbeta));
    const test = batchnormForward(T(f.x), T(f.gamma), T(f.beta), { mode: "test", runningMean: T(f.runningMean), runningVar: T(f.runningVar) });
    expectClose(test.out, T(f.testOut));
  });

  it("clear errors for shapes, mode and a test-mode cache", () => {
    const x = randn([4, 3], 0);
    expect(() => batchnormForward(x, randn([2], 0), randn([3], 0), { mode: "train" })).toThrow("batchnormForward: gamma must have shape (3), got (2,)");
    expect(() => batchnormForward(x, randn([3], 0), randn([3], 0), { mode: "fit" as "train" })).toThrow('batchnormForward: bnParam.mode must be "train" or "test", got "fit"');
    const { cache } = batchnormForward(x, randn([3], 0), randn([3], 0), { mode: "test" });
    expect(() => batchnormBackward(x, cache)).toThrow(/batchnormBackward: the cache comes from a test-mode forward pass/);
  });
});
