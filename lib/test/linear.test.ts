import { describe, expect, it } from "vitest";
import {
  Rng,
  evalNumericalGradient,
  fromNested,
  map,
  maxAbsDiff,
  oneHot,
  pickByLabel,
  predictLinear,
  randn,
  relError,
  sliceRows,
  softmaxLossLinear,
  softmaxRows,
  svmLossLinear,
  sum,
  trainLinear,
  trainLinearAsync,
  transpose,
  type Tensor,
} from "../src/index.js";

// A fixed small problem whose losses and gradients were computed independently with numpy (float64):
// the classic course formulas written with fancy indexing.
const W = fromNested([
  [0.2, -0.5, 0.1],
  [1.5, 1.3, -2.1],
  [0.0, 0.25, 0.2],
  [-0.3, 0.7, 0.4],
]);
const X = fromNested([
  [1.0, -2.0, 0.5, 3.0],
  [0.3, 0.1, -1.2, 2.2],
  [-1.0, 0.4, 0.9, -0.6],
]);
const y = Int32Array.from([2, 0, 1]);
const reg = 0.1;
const SVM_LOSS = 2.7275833333333335;
const SVM_DW = fromNested([
  [-0.4933333333333333, 0.33333333333333337, 0.12],
  [0.3666666666666667, 0.15999999999999998, -0.3866666666666667],
  [1.0999999999999999, -0.65, -0.36],
  [-1.7266666666666668, 1.0733333333333335, 0.8133333333333335],
]);
const SOFTMAX_LOSS = 1.8961473609506814;
const SOFTMAX_DW = fromNested([
  [-0.18281537428130468, 0.12276132860978736, 0.020054045671517393],
  [0.32408079448991006, 0.2143604033597173, -0.39844119784962745],
  [0.47533510405237855, -0.3369748494673804, -0.04836025458499825],
  [-0.790403857825217, 0.6815114818060849, 0.2688923760191325],
]);

// The lecture's 3x3 score table: columns are the cat, car and frog images, rows the cat, car, frog classes.
// With X = I, the scores X·W are W itself, laid out (example, class).
const LECTURE_SCORES = fromNested([
  [3.2, 5.1, -1.7],
  [1.3, 4.9, 2.0],
  [2.2, 2.5, -3.1],
]);
const I3 = fromNested([
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
]);
const LECTURE_Y = Int32Array.from([0, 1, 2]);

describe("svmLossLinear", () => {
  it("matches the numpy reference on a fixed problem (1e-12)", () => {
    const { loss, dW } = svmLossLinear(W, X, y, reg);
    expect(Math.abs(loss - SVM_LOSS)).toBeLessThan(1e-12);
    expect(maxAbsDiff(dW, SVM_DW)).toBeLessThan(1e-12);
  });

  it("reproduces the lecture's worked example: losses 2.9, 0, 12.9, mean 5.27", () => {
    const per = [0, 1, 2].map((i) => svmLossLinear(LECTURE_SCORES, sliceRows(I3, i, i + 1), LECTURE_Y.subarray(i, i + 1), 0).loss);
    expect(per[0]).toBeCloseTo(2.9, 12);
    expect(per[1]).toBe(0);
    expect(per[2]).toBeCloseTo(12.9, 12);
    expect(svmLossLinear(LECTURE_SCORES, I3, LECTURE_Y, 0).loss).toBeCloseTo(15.8 / 3, 12); // 5.27 rounded
  });

  it("passes a gradient check on random data (relative error < 1e-7)", () => {
    const W0 = randn([20, 5], 1, 0.01);
    const X0 = randn([30, 20], 2);
    const y0 = Int32Array.from({ length: 30 }, (_, i) => (i * 7) % 5);
    const { dW } = svmLossLinear(W0, X0, y0, 0.3);
    const num = evalNumericalGradient((w) => svmLossLinear(w, X0, y0, 0.3).loss, W0);
    expect(relError(num, dW)).toBeLessThan(1e-7);
  });

  it("honours strided views of W and X", () => {
    const Wt = transpose(fromNested(transposeNested(W)));
    const Xt = transpose(fromNested(transposeNested(X)));
    const { loss, dW } = svmLossLinear(Wt, Xt, y, reg);
    expect(Math.abs(loss - SVM_LOSS)).toBeLessThan(1e-12);
    expect(maxAbsDiff(dW, SVM_DW)).toBeLessThan(1e-12);
  });

  it("rejects mismatched shapes and bad labels with clear messages", () => {
    expect(() => svmLossLinear(W, randn([3, 5], 1), y, 0)).toThrow(/svmLossLinear: X.shape\[1\] \(5\) must equal W.shape\[0\] \(4\)/);
    expect(() => svmLossLinear(W, X, Int32Array.from([0, 3, 1]), 0)).toThrow(/svmLossLinear: y\[1\] = 3 is not a valid label/);
    expect(() => svmLossLinear(W, X, y, -1)).toThrow(/svmLossLinear: reg must be a non-negative number/);
  });
});

describe("softmaxLossLinear and softmaxRows", () => {
  it("matches the numpy reference on a fixed problem (1e-12)", () => {
    const { loss, dW } = softmaxLossLinear(W, X, y, reg);
    expect(Math.abs(loss - SOFTMAX_LOSS)).toBeLessThan(1e-12);
    expect(maxAbsDiff(dW, SOFTMAX_DW)).toBeLessThan(1e-12);
  });

  it("reproduces the lecture's worked example: exp 24.5 / 164.0 / 0.18, probabilities 0.13 / 0.87 / 0.00, loss 2.04", () => {
    const s = fromNested([[3.2, 5.1, -1.7]]);
    const e = map(s, Math.exp);
    expect(e.data[0]).toBeCloseTo(24.5, 1);
    expect(e.data[1]).toBeCloseTo(164.0, 1);
    expect(e.data[2]).toBeCloseTo(0.18, 2);
    const p = softmaxRows(s);
    expect(p.data[0]).toBeCloseTo(0.13, 2);
    expect(p.data[1]).toBeCloseTo(0.87, 2);
    expect(p.data[2]).toBeCloseTo(0.0, 2);
    const loss = softmaxLossLinear(fromNested([[3.2, 5.1, -1.7]]), fromNested([[1]]), Int32Array.from([0]), 0).loss;
    expect(loss).toBeCloseTo(2.04, 2);
  });

  it("stays finite for scores that overflow a naive exp", () => {
    const big = fromNested([[1000, 0, -1000], [800, 801, 799]]);
    const p = softmaxRows(big);
    expect(p.data[0]).toBe(1);
    expect(sum(p)).toBeCloseTo(2, 12);
    const { loss, dW } = softmaxLossLinear(big, fromNested([[1, 0], [0, 1]]), Int32Array.from([2, 1]), 0);
    // Example 1: -log p(class 2) = 2000 (up to e^-1000); example 2: log(e^-1 + 1 + e^-2) = 0.4076059644...
    expect(loss).toBeCloseTo((2000 + Math.log(Math.exp(-1) + 1 + Math.exp(-2))) / 2, 9);
    expect(Number.isFinite(maxAbsDiff(dW, dW))).toBe(true);
  });

  it("gives ln C at zero weights and passes a gradient check (< 1e-7)", () => {
    const X0 = randn([25, 12], 3);
    const y0 = Int32Array.from({ length: 25 }, (_, i) => i % 10);
    const W0 = randn([12, 10], 4, 0.01);
    expect(softmaxLossLinear(map(W0, () => 0), X0, y0, 0).loss).toBeCloseTo(Math.log(10), 12);
    const { dW } = softmaxLossLinear(W0, X0, y0, 0.5);
    const num = evalNumericalGradient((w) => softmaxLossLinear(w, X0, y0, 0.5).loss, W0);
    expect(relError(num, dW)).toBeLessThan(1e-7);
  });
});

describe("label helpers and prediction", () => {
  it("oneHot and pickByLabel", () => {
    const oh = oneHot(Int32Array.from([1, 0, 2]), 3);
    expect(Array.from(oh.data)).toEqual([0, 1, 0, 1, 0, 0, 0, 0, 1]);
    expect(Array.from(pickByLabel(LECTURE_SCORES, Int32Array.from([0, 1, 2])).data)).toEqual([3.2, 4.9, -3.1]);
    expect(() => oneHot(Int32Array.from([3]), 3)).toThrow(/oneHot: y\[0\] = 3 is not a valid label \(expected 0..2\)/);
  });

  it("predictLinear takes the first index of the highest score", () => {
    const Wp = fromNested([[1, 1, 0]]);
    expect(Array.from(predictLinear(Wp, fromNested([[2], [-1]])))).toEqual([0, 2]);
  });
});

describe("trainLinear", () => {
  const blobs = (n: number, seed: number): { X: Tensor; y: Int32Array } => {
    // Three well separated gaussian blobs in 2-D plus a bias column.
    const centers = [[4, 0], [-4, 4], [0, -4]];
    const noise = randn([n, 2], seed);
    const Xb = randn([n, 3], seed + 1);
    const yb = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 3;
      yb[i] = c;
      Xb.set(i, 0, centers[c][0] + noise.get(i, 0));
      Xb.set(i, 1, centers[c][1] + noise.get(i, 1));
      Xb.set(i, 2, 1);
    }
    return { X: Xb, y: yb };
  };

  it("reduces the loss and separates three blobs; is reproducible for a seed", () => {
    const { X: Xb, y: yb } = blobs(300, 10);
    for (const lossFn of [svmLossLinear, softmaxLossLinear]) {
      const a = trainLinear(lossFn, Xb, yb, { learningRate: 0.05, reg: 1e-3, numIters: 200, batchSize: 50, seed: 5 });
      const b = trainLinear(lossFn, Xb, yb, { learningRate: 0.05, reg: 1e-3, numIters: 200, batchSize: 50, seed: 5 });
      expect(a.lossHistory).toHaveLength(200);
      expect(a.lossHistory).toEqual(b.lossHistory);
      const first = a.lossHistory[0];
      const last = a.lossHistory.slice(-20).reduce((s, v) => s + v, 0) / 20;
      expect(last).toBeLessThan(first / 5);
      const pred = predictLinear(a.W, Xb);
      const acc = pred.reduce((s, p, i) => s + (p === yb[i] ? 1 : 0), 0) / yb.length;
      expect(acc).toBeGreaterThan(0.97); // the blobs are 4+ standard deviations apart
    }
  });

  it("the async version gives the same result and reports progress", async () => {
    const { X: Xb, y: yb } = blobs(90, 20);
    const opts = { learningRate: 0.05, numIters: 25, batchSize: 10, seed: 1, progressEvery: 10 };
    const sync = trainLinear(softmaxLossLinear, Xb, yb, opts);
    const seen: number[] = [];
    const asyncRes = await trainLinearAsync(softmaxLossLinear, Xb, yb, { ...opts, onProgress: (p) => void seen.push(p.iteration) });
    expect(asyncRes.lossHistory).toEqual(sync.lossHistory);
    expect(maxAbsDiff(asyncRes.W, sync.W)).toBe(0);
    expect(seen).toEqual([10, 20, 25]);
  });

  it("draws the minibatches from Rng(seed) alone, whatever the initial weights", () => {
    // Two-class softmax from zero weights with half the step is logistic regression on w = w1 - w0, provided both
    // see the same minibatches. Logistic regression is written out here with its own Rng(seed) draws.
    const { X: Xb, y: y3 } = blobs(120, 30);
    const yb = Int32Array.from(y3, (v) => (v === 0 ? 1 : 0));
    const lr = 0.2;
    const iters = 60;
    const batch = 16;
    const soft = trainLinear(softmaxLossLinear, Xb, yb, { learningRate: lr / 2, reg: 0, numIters: iters, batchSize: batch, seed: 9, weightScale: 0 });
    const w = new Float64Array(3);
    const rng = new Rng(9);
    for (let it = 0; it < iters; it++) {
      const idx = rng.choice(120, batch);
      const g = new Float64Array(3);
      for (const i of idx) {
        let z = 0;
        for (let k = 0; k < 3; k++) z += Xb.get(i, k) * w[k];
        const h = 1 / (1 + Math.exp(-z));
        for (let k = 0; k < 3; k++) g[k] += ((h - yb[i]) * Xb.get(i, k)) / batch;
      }
      for (let k = 0; k < 3; k++) w[k] -= lr * g[k];
    }
    for (let k = 0; k < 3; k++) expect(soft.W.get(k, 1) - soft.W.get(k, 0)).toBeCloseTo(w[k], 12);
    // Same seed, different initial weights: the same minibatches, so the same loss wherever the loss ignores W
    // (here: a zero-gradient "loss" that reports the batch's mean label).
    const probe: Parameters<typeof trainLinear>[0] = (W, X, y) => ({ loss: y.reduce((s, v) => s + v, 0) / y.length, dW: map(W, () => 0) });
    const a = trainLinear(probe, Xb, yb, { numIters: 20, batchSize: 7, seed: 4 });
    const b = trainLinear(probe, Xb, yb, { numIters: 20, batchSize: 7, seed: 4, weightScale: 0 });
    const c = trainLinear(probe, Xb, yb, { numIters: 20, batchSize: 7, seed: 4, W: randn([3, 2], 99) });
    expect(b.lossHistory).toEqual(a.lossHistory);
    expect(c.lossHistory).toEqual(a.lossHistory);
    expect(new Set(a.lossHistory).size).toBeGreaterThan(3);
  });
});

function transposeNested(t: Tensor): number[][] {
  const [r, c] = t.shape;
  const out: number[][] = [];
  for (let j = 0; j < c; j++) {
    const row: number[] = [];
    for (let i = 0; i < r; i++) row.push(t.get(i, j));
    out.push(row);
  }
  return out;
}
