/**
 * Solver: trains a classification model by minibatch gradient descent, as the classic course's Solver does.
 *
 * The model is any object with `params` (name -> tensor) and `loss`: `loss(X)` returns test-mode scores
 * (N, C), `loss(X, y)` returns `{ loss, grads }` with a gradient for every param. Data is
 * `{ XTrain, yTrain, XVal, yVal }` with X of shape (N, ...) and labels as Int32Array.
 *
 * Each iteration draws a minibatch (with replacement, from the seeded generator), computes loss and
 * gradients, and replaces every param by the update rule's `nextW`, each param keeping its own config
 * (state). After every epoch the learning rate of every config is multiplied by `lrDecay`. Accuracy on
 * (a sample of) the training set and on the validation set is checked after the first iteration and at
 * the end of every epoch, so the histories hold numEpochs + 1 values; the params of the best validation
 * accuracy are kept and put back into the model when training ends. The same seed gives the same run.
 *
 * ```ts
 * import * as sg from "@semantic-gap/lib";
 * const solver = new sg.Solver(model, { XTrain, yTrain, XVal, yVal }, {
 *   updateRule: "adam", // "sgd", "sgdMomentum", "rmsprop", "adam", or a rule (w, dw, config) => { nextW, config }
 *   optimConfig: { learningRate: 1e-3 },
 *   lrDecay: 0.95,
 *   batchSize: 100,
 *   numEpochs: 10,
 *   seed: 0,
 *   onProgress: sg.solverLivePlots().onProgress, // live loss and accuracy curves in a notebook
 * });
 * solver.train(); // prints one line per epoch: (Epoch 3 / 10) train acc 0.8710, val acc 0.8530, ...
 * console.log(solver.bestValAcc, solver.lossHistory.length, solver.valAccHistory);
 * ```
 * `await solver.trainAsync()` is the same run, and yields to the event loop at each progress report so
 * that a notebook's live plots redraw while it trains.
 */
import { DTypeError, ShapeError, shapeStr } from "../errors.js";
import { Rng } from "../random.js";
import {
  argmax,
  checkLabels,
  checkTensor,
  copy,
  isTensor,
  sameShape,
  sliceRows,
  takeLabels,
  takeRows,
  type Labels,
  type Tensor,
} from "../tensor.js";
import { updateRules, type UpdateRule, type UpdateRuleName } from "./optim.js";

/** The loss on a minibatch and the gradient of every param (same names and shapes). */
export interface LossAndGrads {
  loss: number;
  grads: Record<string, Tensor>;
}

/** What Solver trains: `loss(X)` gives test-mode scores (N, C), `loss(X, y)` the loss and gradients. */
export interface SolverModel {
  params: Record<string, Tensor>;
  loss(X: Tensor, y?: Labels): Tensor | LossAndGrads;
}

/** Training and validation data; X of shape (N, ...), one label per row. */
export interface SolverData {
  XTrain: Tensor;
  yTrain: Labels;
  XVal: Tensor;
  yVal: Labels;
}

/** What Solver hands its progress callback. */
export interface SolverProgress {
  /** Iterations done so far (1-based), of numIterations. */
  iteration: number;
  numIterations: number;
  /** Epochs completed so far, of numEpochs. */
  epoch: number;
  numEpochs: number;
  /** True when accuracies were just checked (after the first iteration and at each epoch's end). */
  checked: boolean;
  /** Live views of the solver's histories (copy them to keep a snapshot). */
  lossHistory: readonly number[];
  trainAccHistory: readonly number[];
  valAccHistory: readonly number[];
}

export interface SolverOptions {
  /** A rule name or a function of the update-rule signature (default "sgd"). */
  updateRule?: UpdateRuleName | UpdateRule;
  /** Hyperparameters handed to the update rule; each param gets its own copy (default {}). */
  optimConfig?: Record<string, unknown>;
  /** Learning-rate factor applied after every epoch (default 1: no decay). */
  lrDecay?: number;
  /** Examples per minibatch (default 100). */
  batchSize?: number;
  /** Epochs to train (default 10); an epoch is max(1, floor(N / batchSize)) iterations. */
  numEpochs?: number;
  /** Print the minibatch loss every printEvery iterations; 0 prints none (default 0). */
  printEvery?: number;
  /** Training examples sampled to estimate training accuracy; null for all (default 1000). */
  numTrainSamples?: number | null;
  /** Validation examples sampled to estimate validation accuracy; null for all (default null). */
  numValSamples?: number | null;
  /** Seed of the minibatch draws and of the accuracy samples (default 0). */
  seed?: number;
  /** Print the per-epoch report (default true). */
  verbose?: boolean;
  /** Where printed lines go (default console.log). */
  log?: (line: string) => void;
  /** Called every progressEvery iterations and after every accuracy check. */
  onProgress?: (p: SolverProgress) => void | Promise<void>;
  /** How often onProgress is called between accuracy checks, in iterations (default 10). */
  progressEvery?: number;
}

const FN = "Solver";

function positiveInt(name: string, v: unknown, fallback: number, allowZero = false): number {
  const x = v === undefined ? fallback : v;
  if (typeof x !== "number" || !Number.isInteger(x) || x < (allowZero ? 0 : 1)) {
    throw new RangeError(`${FN}: ${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got ${String(v)}`);
  }
  return x;
}

function sampleCount(name: string, v: unknown, fallback: number | null): number | null {
  const x = v === undefined ? fallback : v;
  if (x === null) return null;
  return positiveInt(name, x, 1);
}

function resolveRule(rule: unknown): UpdateRule {
  if (typeof rule === "function") return rule as UpdateRule;
  if (typeof rule === "string" && Object.prototype.hasOwnProperty.call(updateRules, rule)) {
    return updateRules[rule as UpdateRuleName];
  }
  const names = Object.keys(updateRules).map((n) => `"${n}"`).join(", ");
  throw new RangeError(`${FN}: unknown updateRule ${JSON.stringify(rule)}; use one of ${names} or a function (w, dw, config) => { nextW, config }`);
}

function checkData(data: SolverData): void {
  if (data === null || typeof data !== "object") throw new TypeError(`${FN}: data must be { XTrain, yTrain, XVal, yVal }, got ${String(data)}`);
  const { XTrain, yTrain, XVal, yVal } = data;
  checkTensor(FN, "data.XTrain", XTrain);
  checkTensor(FN, "data.XVal", XVal);
  for (const [name, X] of [["XTrain", XTrain], ["XVal", XVal]] as const) {
    if (X.shape.length < 2 || X.shape[0] === 0) {
      throw new ShapeError(`${FN}: data.${name} must have shape (N, ...) with N >= 1, got ${shapeStr(X.shape)}`);
    }
  }
  if (!sameShape(XTrain.shape.slice(1), XVal.shape.slice(1))) {
    throw new ShapeError(
      `${FN}: data.XTrain ${shapeStr(XTrain.shape)} and data.XVal ${shapeStr(XVal.shape)} must have the same shape per example`,
    );
  }
  checkLabels(FN, "data.yTrain", yTrain, XTrain.shape[0]);
  checkLabels(FN, "data.yVal", yVal, XVal.shape[0]);
}

function checkModel(model: SolverModel): void {
  if (model === null || typeof model !== "object" || typeof model.loss !== "function") {
    throw new TypeError(`${FN}: model must have a loss(X, y?) method and params`);
  }
  if (model.params === null || typeof model.params !== "object" || Object.keys(model.params).length === 0) {
    throw new TypeError(`${FN}: model.params must be an object of tensors with at least one entry`);
  }
  for (const [k, v] of Object.entries(model.params)) checkTensor(FN, `model.params.${k}`, v);
}

/** Trains a model with minibatch gradient descent; see the comment at the top of this file. */
export class Solver {
  readonly model: SolverModel;
  readonly data: SolverData;
  readonly updateRule: UpdateRule;
  readonly lrDecay: number;
  readonly batchSize: number;
  readonly numEpochs: number;
  readonly printEvery: number;
  readonly numTrainSamples: number | null;
  readonly numValSamples: number | null;
  readonly seed: number;
  readonly verbose: boolean;
  /** Epochs completed. */
  epoch = 0;
  /** The minibatch loss of every iteration. */
  lossHistory: number[] = [];
  /** Training and validation accuracy after the first iteration and at the end of each epoch. */
  trainAccHistory: number[] = [];
  valAccHistory: number[] = [];
  /** The best validation accuracy seen, and copies of the params that reached it. */
  bestValAcc = -Infinity;
  bestParams: Record<string, Tensor> = {};
  /** Each param's update-rule config, as returned by its last update. */
  optimConfigs: Record<string, Record<string, unknown>> = {};

  private readonly log: (line: string) => void;
  private readonly onProgress?: (p: SolverProgress) => void | Promise<void>;
  private readonly progressEvery: number;
  private readonly batchRng: Rng;
  private readonly sampleRng: Rng;

  constructor(model: SolverModel, data: SolverData, options: SolverOptions = {}) {
    checkModel(model);
    checkData(data);
    const o = options ?? {};
    this.model = model;
    this.data = data;
    this.updateRule = resolveRule(o.updateRule ?? "sgd");
    const decay = o.lrDecay ?? 1;
    if (typeof decay !== "number" || !(decay > 0 && Number.isFinite(decay))) {
      throw new RangeError(`${FN}: lrDecay must be a positive number, got ${String(o.lrDecay)}`);
    }
    this.lrDecay = decay;
    this.batchSize = positiveInt("batchSize", o.batchSize, 100);
    this.numEpochs = positiveInt("numEpochs", o.numEpochs, 10);
    this.printEvery = positiveInt("printEvery", o.printEvery, 0, true);
    this.progressEvery = positiveInt("progressEvery", o.progressEvery, 10);
    this.numTrainSamples = sampleCount("numTrainSamples", o.numTrainSamples, 1000);
    this.numValSamples = sampleCount("numValSamples", o.numValSamples, null);
    const seed = o.seed ?? 0;
    if (typeof seed !== "number" || !Number.isFinite(seed)) throw new RangeError(`${FN}: seed must be a finite number, got ${String(o.seed)}`);
    this.seed = seed;
    this.verbose = o.verbose ?? true;
    this.log = o.log ?? ((line) => console.log(line));
    this.onProgress = o.onProgress;
    const config = o.optimConfig ?? {};
    if (config === null || typeof config !== "object") throw new TypeError(`${FN}: optimConfig must be an object, got ${String(config)}`);
    for (const k of Object.keys(model.params)) this.optimConfigs[k] = { ...config };
    this.batchRng = new Rng(seed);
    this.sampleRng = new Rng((seed ^ 0x5bd1e995) >>> 0);
  }

  /** Iterations per epoch: max(1, floor(N / batchSize)). */
  get iterationsPerEpoch(): number {
    return Math.max(1, Math.floor(this.data.XTrain.shape[0] / this.batchSize));
  }

  /** One minibatch step: loss and gradients, then every param through the update rule. Returns the loss. */
  step(): number {
    const { XTrain, yTrain } = this.data;
    const idx = this.batchRng.choice(XTrain.shape[0], this.batchSize);
    const result = this.model.loss(takeRows(XTrain, idx), takeLabels(yTrain, idx));
    if (result === null || typeof result !== "object" || isTensor(result) || typeof (result as LossAndGrads).loss !== "number") {
      throw new TypeError(`${FN}: model.loss(X, y) must return { loss, grads } with a number loss`);
    }
    const { loss, grads } = result as LossAndGrads;
    if (grads === null || typeof grads !== "object") throw new TypeError(`${FN}: model.loss(X, y) must return grads as an object of tensors`);
    for (const [k, w] of Object.entries(this.model.params)) {
      const dw = grads[k];
      if (!isTensor(dw)) throw new DTypeError(`${FN}: model.loss(X, y) returned no gradient tensor for params.${k}`);
      if (!sameShape(dw.shape, w.shape)) {
        throw new ShapeError(`${FN}: grads.${k} has shape ${shapeStr(dw.shape)} but params.${k} has shape ${shapeStr(w.shape)}`);
      }
      const r = this.updateRule(w, dw, this.optimConfigs[k] ?? {});
      if (r === null || typeof r !== "object" || !isTensor(r.nextW) || !sameShape(r.nextW.shape, w.shape)) {
        throw new TypeError(`${FN}: the update rule must return { nextW, config } with nextW of params.${k}'s shape ${shapeStr(w.shape)}`);
      }
      this.model.params[k] = r.nextW;
      this.optimConfigs[k] = r.config ?? {};
    }
    this.lossHistory.push(loss);
    return loss;
  }

  /**
   * Accuracy of the model's test-mode predictions on X (on numSamples of its rows drawn without
   * replacement when given), scored batchSize rows at a time.
   * X: (N, ...), y: (N)
   */
  checkAccuracy(X: Tensor, y: Labels, numSamples: number | null = null, batchSize = 500): number {
    checkTensor(`${FN}.checkAccuracy`, "X", X);
    checkLabels(`${FN}.checkAccuracy`, "y", y, X.shape[0]);
    let Xs = X;
    let ys = y;
    if (numSamples !== null && numSamples < X.shape[0]) {
      const idx = this.sampleRng.permutation(X.shape[0]).slice(0, numSamples);
      Xs = takeRows(X, idx);
      ys = takeLabels(y, idx);
    }
    const n = Xs.shape[0];
    let correct = 0;
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const scores = this.model.loss(sliceRows(Xs, start, end));
      if (!isTensor(scores) || scores.shape.length !== 2 || scores.shape[0] !== end - start) {
        const got = isTensor(scores) ? `shape ${shapeStr(scores.shape)}` : "something else";
        throw new ShapeError(`${FN}: model.loss(X) must return scores of shape (${end - start}, C) for ${end - start} examples, got ${got}`);
      }
      const pred = argmax(scores);
      for (let i = 0; i < pred.length; i++) if (pred[i] === ys[start + i]) correct++;
    }
    return correct / n;
  }

  /** Trains for numEpochs epochs and puts the best params back into the model. */
  train(): void {
    for (const p of this.run()) {
      if (this.onProgress) void this.onProgress(p);
    }
  }

  /** train() that awaits the progress callback and yields to the event loop after each report. */
  async trainAsync(): Promise<void> {
    for (const p of this.run()) {
      if (this.onProgress) await this.onProgress(p);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private *run(): Generator<SolverProgress> {
    const perEpoch = this.iterationsPerEpoch;
    const numIterations = this.numEpochs * perEpoch;
    const started = Date.now();
    const firstEpoch = this.epoch;
    for (let t = 0; t < numIterations; t++) {
      const loss = this.step();
      if (this.verbose && this.printEvery > 0 && (t + 1) % this.printEvery === 0) {
        this.log(`(Iteration ${t + 1} / ${numIterations}) loss: ${loss.toFixed(6)}`);
      }
      const epochEnd = (t + 1) % perEpoch === 0;
      if (epochEnd) {
        this.epoch++;
        this.decayLearningRates();
      }
      const checked = t === 0 || epochEnd;
      if (checked) this.checkpoint(firstEpoch, started);
      if (checked || (t + 1) % this.progressEvery === 0) {
        yield {
          iteration: t + 1,
          numIterations,
          epoch: this.epoch - firstEpoch,
          numEpochs: this.numEpochs,
          checked,
          lossHistory: this.lossHistory,
          trainAccHistory: this.trainAccHistory,
          valAccHistory: this.valAccHistory,
        };
      }
    }
    for (const [k, w] of Object.entries(this.bestParams)) this.model.params[k] = copy(w);
  }

  private decayLearningRates(): void {
    if (this.lrDecay === 1) return;
    for (const [k, config] of Object.entries(this.optimConfigs)) {
      if (typeof config.learningRate !== "number") {
        throw new TypeError(`${FN}: lrDecay needs the update rule's config to carry a number learningRate (params.${k} has none)`);
      }
      this.optimConfigs[k] = { ...config, learningRate: config.learningRate * this.lrDecay };
    }
  }

  private checkpoint(firstEpoch: number, started: number): void {
    const { XTrain, yTrain, XVal, yVal } = this.data;
    const trainAcc = this.checkAccuracy(XTrain, yTrain, this.numTrainSamples);
    const valAcc = this.checkAccuracy(XVal, yVal, this.numValSamples);
    this.trainAccHistory.push(trainAcc);
    this.valAccHistory.push(valAcc);
    if (valAcc > this.bestValAcc) {
      this.bestValAcc = valAcc;
      this.bestParams = Object.fromEntries(Object.entries(this.model.params).map(([k, v]) => [k, copy(v)]));
    }
    if (this.verbose) {
      const lr = this.optimConfigs[Object.keys(this.optimConfigs)[0]]?.learningRate;
      const loss = this.lossHistory[this.lossHistory.length - 1];
      this.log(
        `(Epoch ${this.epoch - firstEpoch} / ${this.numEpochs}) train acc ${trainAcc.toFixed(4)}, val acc ${valAcc.toFixed(4)}, ` +
          `loss ${loss.toFixed(4)}${typeof lr === "number" ? `, lr ${lr.toExponential(2)}` : ""}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }
}
