import { describe, expect, it } from "vitest";
import {
  Rng,
  Solver,
  affineBackward,
  affineForward,
  maxAbsDiff,
  randn,
  sgd,
  softmaxLoss,
  solverLivePlots,
  zeros,
  type Labels,
  type LossAndGrads,
  type SolverData,
  type SolverProgress,
  type Tensor,
  type UpdateRule,
} from "../src/index.js";

/** A softmax classifier x·W + b written with lib's layers; loss(X) gives scores, loss(X, y) loss and grads. */
class SoftmaxModel {
  params: Record<string, Tensor>;
  constructor(d: number, c: number, seed = 0) {
    this.params = { W: randn([d, c], seed, 1e-2), b: zeros([c]) };
  }
  loss(X: Tensor): Tensor;
  loss(X: Tensor, y: Labels): LossAndGrads;
  loss(X: Tensor, y?: Labels): Tensor | LossAndGrads {
    const { out, cache } = affineForward(X, this.params.W, this.params.b);
    if (!y) return out;
    const { loss, dx } = softmaxLoss(out, y);
    const { dw, db } = affineBackward(dx, cache);
    return { loss, grads: { W: dw, b: db } };
  }
}

/** Three gaussian blobs in (N, 2, 2) images (4 features), well separated. */
function blobs(n: number, seed: number): { X: Tensor; y: Labels } {
  const rng = new Rng(seed);
  const centers = randn([3, 4], 100, 2);
  const X = randn([n, 2, 2], rng, 0.7);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let k = 0; k < 4; k++) X.data[i * 4 + k] += centers.data[y[i] * 4 + k];
  }
  return { X, y };
}

function data(): SolverData {
  const train = blobs(300, 1);
  const val = blobs(90, 2);
  return { XTrain: train.X, yTrain: train.y, XVal: val.X, yVal: val.y };
}

const quiet = { verbose: false };

describe("Solver", () => {
  it("trains a softmax classifier on easy data with every named rule, with histories of the documented lengths", () => {
    for (const updateRule of ["sgd", "sgdMomentum", "rmsprop", "adam"] as const) {
      const model = new SoftmaxModel(4, 3);
      const s = new Solver(model, data(), { ...quiet, updateRule, optimConfig: { learningRate: updateRule === "sgd" ? 0.5 : 0.05 }, batchSize: 30, numEpochs: 5 });
      s.train();
      expect(s.lossHistory.length).toBe(5 * 10); // 300 / 30 = 10 iterations per epoch
      expect(s.trainAccHistory.length).toBe(6); // after the first iteration, then once per epoch
      expect(s.valAccHistory.length).toBe(6);
      expect(s.bestValAcc).toBe(Math.max(...s.valAccHistory));
      expect(s.bestValAcc).toBeGreaterThan(0.9);
      expect(s.lossHistory[s.lossHistory.length - 1]).toBeLessThan(0.5 * s.lossHistory[0]);
    }
  });

  it("is deterministic: the same seed gives the same run, another seed another", () => {
    const run = (seed: number) => {
      const model = new SoftmaxModel(4, 3);
      const s = new Solver(model, data(), { ...quiet, updateRule: "adam", optimConfig: { learningRate: 0.01 }, batchSize: 25, numEpochs: 3, numTrainSamples: 100, seed });
      s.train();
      return { s, model };
    };
    const a = run(5);
    const b = run(5);
    const c = run(6);
    expect(b.s.lossHistory).toEqual(a.s.lossHistory);
    expect(b.s.trainAccHistory).toEqual(a.s.trainAccHistory);
    expect(maxAbsDiff(b.model.params.W, a.model.params.W)).toBe(0);
    expect(c.s.lossHistory).not.toEqual(a.s.lossHistory);
  });

  it("multiplies every param's learning rate by lrDecay after each epoch", () => {
    const seen: number[] = [];
    const spy: UpdateRule = (w, dw, config) => {
      if (w.shape.length === 2) seen.push(config.learningRate);
      return sgd(w, dw, config);
    };
    const s = new Solver(new SoftmaxModel(4, 3), data(), { ...quiet, updateRule: spy, optimConfig: { learningRate: 0.1 }, lrDecay: 0.5, batchSize: 100, numEpochs: 3 });
    s.train();
    // 3 iterations per epoch.
    expect(seen).toEqual([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025]);
    expect(s.optimConfigs.W.learningRate).toBe(0.0125);
    expect(s.optimConfigs.b.learningRate).toBe(0.0125);
  });

  it("puts the params of the best validation accuracy back into the model", () => {
    // A rule that learns for one epoch and then wrecks the weights, so the best accuracy comes early.
    let calls = 0;
    const wrecking: UpdateRule = (w, dw, config) => {
      calls++;
      return calls <= 2 * 10 ? sgd(w, dw, { learningRate: 0.5 }) : { nextW: randn(w.shape, calls, 10), config };
    };
    const model = new SoftmaxModel(4, 3);
    const s = new Solver(model, data(), { ...quiet, updateRule: wrecking, batchSize: 30, numEpochs: 4, numValSamples: null });
    s.train();
    const best = s.valAccHistory.indexOf(s.bestValAcc);
    expect(best).toBeLessThanOrEqual(1);
    expect(s.valAccHistory[4]).toBeLessThan(s.bestValAcc);
    for (const k of ["W", "b"]) expect(maxAbsDiff(model.params[k], s.bestParams[k])).toBe(0);
    expect(s.checkAccuracy(s.data.XVal, s.data.yVal)).toBe(s.bestValAcc);
  });

  it("prints one line per accuracy check, and the loss every printEvery iterations", () => {
    const lines: string[] = [];
    new Solver(new SoftmaxModel(4, 3), data(), { batchSize: 50, numEpochs: 2, printEvery: 4, log: (l) => lines.push(l) }).train();
    const epochs = lines.filter((l) => l.startsWith("(Epoch"));
    expect(epochs.map((l) => l.slice(0, 13))).toEqual(["(Epoch 0 / 2)", "(Epoch 1 / 2)", "(Epoch 2 / 2)"]);
    expect(epochs[0]).toMatch(/^\(Epoch 0 \/ 2\) train acc 0\.\d{4}, val acc 0\.\d{4}, loss \d\.\d{4}, lr 1\.00e-2, \d+\.\d s$/);
    expect(lines.filter((l) => l.startsWith("(Iteration")).map((l) => l.split(")")[0])).toEqual(["(Iteration 4 / 12", "(Iteration 8 / 12", "(Iteration 12 / 12"]);
  });

  it("reports progress, and trainAsync gives the same run as train", async () => {
    const events: SolverProgress[] = [];
    const opts = { ...quiet, updateRule: "adam" as const, batchSize: 20, numEpochs: 2, progressEvery: 5, seed: 3 };
    const sync = new Solver(new SoftmaxModel(4, 3), data(), { ...opts, onProgress: (p) => void events.push({ ...p, lossHistory: [...p.lossHistory] }) });
    sync.train();
    expect(events.map((e) => e.iteration)).toEqual([1, 5, 10, 15, 20, 25, 30]);
    expect(events.filter((e) => e.checked).map((e) => e.iteration)).toEqual([1, 15, 30]);
    expect(events[2].lossHistory.length).toBe(10);
    const asyncSolver = new Solver(new SoftmaxModel(4, 3), data(), opts);
    await asyncSolver.trainAsync();
    expect(asyncSolver.lossHistory).toEqual(sync.lossHistory);
    expect(asyncSolver.valAccHistory).toEqual(sync.valAccHistory);
  });

  it("feeds live plots of the loss and the accuracies", () => {
    const plots = solverLivePlots({ title: "blobs" });
    new Solver(new SoftmaxModel(4, 3), data(), { ...quiet, batchSize: 100, numEpochs: 2, onProgress: plots.onProgress }).train();
    const loss = plots.loss.figure().data[0] as { x: number[]; y: number[] };
    expect(loss.x).toEqual([1, 2, 3, 4, 5, 6]);
    const acc = plots.accuracy.figure();
    expect(acc.data.map((d) => (d as { x: number[] }).x)).toEqual([[0, 1, 2], [0, 1, 2]]);
    expect((acc.layout.title as { text: string }).text).toBe("blobs: accuracy");
  });

  it("clear errors for an unknown rule, a batch size of 0, data whose shapes disagree and missing gradients", () => {
    const d = data();
    const m = new SoftmaxModel(4, 3);
    expect(() => new Solver(m, d, { updateRule: "adagrad" as "sgd" })).toThrow(
      'Solver: unknown updateRule "adagrad"; use one of "sgd", "sgdMomentum", "rmsprop", "adam" or a function (w, dw, config) => { nextW, config }',
    );
    expect(() => new Solver(m, d, { batchSize: 0 })).toThrow("Solver: batchSize must be a positive integer, got 0");
    expect(() => new Solver(m, { ...d, yTrain: d.yTrain.slice(1) })).toThrow("Solver: data.yTrain must have length 300 (one label per example), got length 299");
    expect(() => new Solver(m, { ...d, XVal: randn([90, 5], 0) })).toThrow(
      "Solver: data.XTrain (300, 2, 2) and data.XVal (90, 5) must have the same shape per example",
    );
    const noGrad = { params: m.params, loss: (X: Tensor, y?: Labels) => (y ? { loss: 1, grads: { W: m.params.W } } : affineForward(X, m.params.W, m.params.b).out) };
    expect(() => new Solver(noGrad, d, quiet).train()).toThrow("Solver: model.loss(X, y) returned no gradient tensor for params.b");
  });
});
