import { ShapeError, shapeStr } from "./errors.js";
import { gemm } from "./gemm.js";
import { Rng } from "./random.js";
import {
  argmax,
  checkDimsEqual,
  checkLabels,
  checkTensor,
  contiguous,
  copy,
  isContiguous,
  randn,
  takeLabels,
  takeRows,
  zeros,
  type Labels,
  type Tensor,
} from "./tensor.js";

// Fast linear classifiers for the lecture notebooks: the multiclass SVM and softmax losses with their
// gradients, prediction, and minibatch SGD. The assignment asks students to write the same losses; these
// versions are written independently (direct loops over the score matrix after one GEMM) and serve as a
// second opinion in the tests.

/** A loss value and its gradient with respect to the weights. */
export interface LossAndGrad {
  loss: number;
  dW: Tensor;
}

/** A loss function of the linear-classifier form. W: (D, C), X: (N, D), y: (N) */
export type LinearLossFn = (W: Tensor, X: Tensor, y: Labels, reg: number) => LossAndGrad;

/**
 * One row per label with a 1 in the label's column.
 * y: (N), out: (N, numClasses)
 */
export function oneHot(y: Labels, numClasses: number): Tensor {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`oneHot: numClasses must be a positive integer, got ${numClasses}`);
  }
  checkLabels("oneHot", "y", y, undefined, numClasses);
  const out = zeros([y.length, numClasses]);
  for (let i = 0; i < y.length; i++) out.data[i * numClasses + y[i]] = 1;
  return out;
}

/**
 * The entry of each row at that row's label, scores[i, y[i]].
 * scores: (N, C), y: (N), out: (N)
 */
export function pickByLabel(scores: Tensor, y: Labels): Tensor {
  checkTensor("pickByLabel", "scores", scores, 2);
  const [n, c] = scores.shape;
  checkLabels("pickByLabel", "y", y, n, c);
  const out = zeros([n]);
  for (let i = 0; i < n; i++) out.data[i] = scores.data[scores.offset + i * scores.stride[0] + y[i] * scores.stride[1]];
  return out;
}

/**
 * Row-wise softmax, computed after subtracting each row's maximum so that no exponential overflows.
 * scores: (N, C), out: (N, C)
 */
export function softmaxRows(scores: Tensor): Tensor {
  checkTensor("softmaxRows", "scores", scores, 2);
  const s = copy(scores);
  const [n, c] = s.shape;
  const d = s.data;
  for (let i = 0; i < n; i++) {
    const row = i * c;
    let m = -Infinity;
    for (let j = 0; j < c; j++) if (d[row + j] > m) m = d[row + j];
    let z = 0;
    for (let j = 0; j < c; j++) {
      const e = Math.exp(d[row + j] - m);
      d[row + j] = e;
      z += e;
    }
    for (let j = 0; j < c; j++) d[row + j] /= z;
  }
  return s;
}

/**
 * Checks the arguments of a linear-classifier loss and throws an error naming `fn`, the argument and the shapes.
 * W: (D, C), X: (N, D) with N >= 1, y: (N) with labels in 0..C-1, reg >= 0
 */
export function checkLinearLossArgs(fn: string, W: Tensor, X: Tensor, y: Labels, reg: number): void {
  checkTensor(fn, "W", W, 2);
  checkTensor(fn, "X", X, 2);
  checkDimsEqual(fn, "X", X, 1, "W", W, 0);
  checkLabels(fn, "y", y, X.shape[0], W.shape[1]);
  if (X.shape[0] === 0) throw new ShapeError(`${fn}: X must hold at least one example, got shape ${shapeStr(X.shape)}`);
  if (typeof reg !== "number" || !Number.isFinite(reg) || reg < 0) {
    throw new RangeError(`${fn}: reg must be a non-negative number, got ${String(reg)}`);
  }
}

/** Adds reg·ΣW² to the loss and 2·reg·W to dW (in place); returns the loss. */
function addL2(W: Tensor, dW: Tensor, loss: number, reg: number): number {
  if (reg === 0) return loss;
  const Wc = contiguous(W);
  const w = Wc.data;
  const off = Wc.offset;
  const g = dW.data;
  let sq = 0;
  for (let k = 0; k < g.length; k++) {
    const v = w[off + k];
    sq += v * v;
    g[k] += 2 * reg * v;
  }
  return loss + reg * sq;
}

/**
 * Multiclass SVM (hinge) loss, mean over examples of Σ_{j≠y} max(0, s_j − s_y + 1), plus reg·ΣW², and its gradient.
 * W: (D, C), X: (N, D), y: (N), dW: (D, C)
 */
export function svmLossLinear(W: Tensor, X: Tensor, y: Labels, reg: number): LossAndGrad {
  checkLinearLossArgs("svmLossLinear", W, X, y, reg);
  const n = X.shape[0];
  const c = W.shape[1];
  const scores = gemm(X, W); // (N, C), row-major
  const s = scores.data;
  // Reuse the score buffer for the coefficient of each x_i in dW: +1 per violated margin, −(count) at the label.
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const row = i * c;
    const sy = s[row + y[i]];
    let violated = 0;
    for (let j = 0; j < c; j++) {
      if (j === y[i]) continue;
      const margin = s[row + j] - sy + 1;
      if (margin > 0) {
        loss += margin;
        s[row + j] = 1;
        violated++;
      } else {
        s[row + j] = 0;
      }
    }
    s[row + y[i]] = -violated;
  }
  const dW = gemm(X, scores, { transA: true, alpha: 1 / n });
  return { loss: addL2(W, dW, loss / n, reg), dW };
}

/**
 * Softmax (cross-entropy) loss, mean over examples of −log softmax(s)_y, plus reg·ΣW², and its gradient;
 * stable for scores of any size (log-sum-exp after subtracting the row maximum).
 * W: (D, C), X: (N, D), y: (N), dW: (D, C)
 */
export function softmaxLossLinear(W: Tensor, X: Tensor, y: Labels, reg: number): LossAndGrad {
  checkLinearLossArgs("softmaxLossLinear", W, X, y, reg);
  const n = X.shape[0];
  const c = W.shape[1];
  const scores = gemm(X, W);
  const s = scores.data;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const row = i * c;
    let m = -Infinity;
    for (let j = 0; j < c; j++) if (s[row + j] > m) m = s[row + j];
    let z = 0;
    for (let j = 0; j < c; j++) z += Math.exp(s[row + j] - m);
    loss += Math.log(z) - (s[row + y[i]] - m);
    for (let j = 0; j < c; j++) s[row + j] = Math.exp(s[row + j] - m) / z;
    s[row + y[i]] -= 1;
  }
  const dW = gemm(X, scores, { transA: true, alpha: 1 / n });
  return { loss: addL2(W, dW, loss / n, reg), dW };
}

/**
 * Predicted class of each row: the index of the highest score X·W (first on ties).
 * W: (D, C), X: (N, D), out: (N)
 */
export function predictLinear(W: Tensor, X: Tensor): Labels {
  checkTensor("predictLinear", "W", W, 2);
  checkTensor("predictLinear", "X", X, 2);
  checkDimsEqual("predictLinear", "X", X, 1, "W", W, 0);
  return argmax(gemm(X, W));
}

/** What trainLinear reports every `progressEvery` iterations (and after the last). */
export interface LinearProgress {
  /** Iterations done so far. */
  iteration: number;
  numIters: number;
  /** Minibatch losses so far, one per iteration. */
  lossHistory: number[];
  /** The current weights (live: copy them to keep a snapshot). */
  W: Tensor;
}

export interface TrainLinearOptions {
  /** SGD step size (default 1e-3). */
  learningRate?: number;
  /** L2 regularization strength (default 1e-5). */
  reg?: number;
  /** Number of SGD steps (default 100). */
  numIters?: number;
  /** Examples per minibatch, drawn with replacement (default 200). */
  batchSize?: number;
  /**
   * Seed of the minibatch draws and of the initial weights (default 0). The two come from separate streams,
   * so the minibatches depend on the seed alone, not on `W` or `weightScale`.
   */
  seed?: number;
  /** Number of classes (default max(y) + 1). */
  numClasses?: number;
  /** Initial weights (copied); default gaussian with standard deviation `weightScale`. */
  W?: Tensor;
  /** Standard deviation of the initial weights (default 1e-3). */
  weightScale?: number;
  /** Called every `progressEvery` iterations and after the last one. */
  onProgress?: (p: LinearProgress) => void | Promise<void>;
  /** How often onProgress is called (default every 10 iterations). */
  progressEvery?: number;
}

export interface TrainLinearResult {
  W: Tensor;
  lossHistory: number[];
}

interface TrainState {
  W: Tensor;
  rng: Rng;
  lr: number;
  reg: number;
  numIters: number;
  batchSize: number;
  every: number;
}

/** The seed of the initial-weight stream for a training seed: a fixed odd-constant mix, distinct from the seed itself. */
function initSeed(seed: number): number {
  return (Math.imul(Math.trunc(seed) ^ 0x5bd1e995, 0x27d4eb2d) ^ 0x165667b1) >>> 0;
}

function setupTraining(fn: string, X: Tensor, y: Labels, opts: TrainLinearOptions): TrainState {
  checkTensor(fn, "X", X, 2);
  const [n, d] = X.shape;
  if (n === 0) throw new ShapeError(`${fn}: X must hold at least one example, got shape ${shapeStr(X.shape)}`);
  checkLabels(fn, "y", y, n);
  let maxLabel = 0;
  for (let i = 0; i < n; i++) if (y[i] > maxLabel) maxLabel = y[i];
  const numClasses = opts.numClasses ?? maxLabel + 1;
  checkLabels(fn, "y", y, n, numClasses);
  const seed = opts.seed ?? 0;
  // Minibatches are drawn from Rng(seed) and nothing else, so two runs with the same seed see the same
  // minibatches whatever their initial weights; the weights come from a second stream derived from the seed.
  const rng = new Rng(seed);
  let W: Tensor;
  if (opts.W) {
    checkTensor(fn, "opts.W", opts.W, [d, numClasses]);
    W = copy(opts.W);
  } else {
    W = randn([d, numClasses], new Rng(initSeed(seed)), opts.weightScale ?? 1e-3);
  }
  const pos = (name: string, v: number, int: boolean): number => {
    if (!(Number.isFinite(v) && v > 0 && (!int || Number.isInteger(v)))) {
      throw new RangeError(`${fn}: ${name} must be a positive ${int ? "integer" : "number"}, got ${v}`);
    }
    return v;
  };
  const reg = opts.reg ?? 1e-5;
  if (!(Number.isFinite(reg) && reg >= 0)) throw new RangeError(`${fn}: reg must be a non-negative number, got ${reg}`);
  return {
    W,
    rng,
    lr: pos("learningRate", opts.learningRate ?? 1e-3, false),
    reg,
    numIters: pos("numIters", opts.numIters ?? 100, true),
    batchSize: pos("batchSize", opts.batchSize ?? 200, true),
    every: pos("progressEvery", opts.progressEvery ?? 10, true),
  };
}

/** The rows of X at idx as a new (k, D) tensor; a plain copy loop when X is row-major. */
function gatherRows(X: Tensor, idx: Int32Array): Tensor {
  if (!isContiguous(X)) return takeRows(X, idx);
  const d = X.shape[1];
  const out = zeros([idx.length, d]);
  for (let i = 0; i < idx.length; i++) {
    const start = X.offset + idx[i] * d;
    out.data.set(X.data.subarray(start, start + d), i * d);
  }
  return out;
}

function sgdStep(lossFn: LinearLossFn, X: Tensor, y: Labels, st: TrainState): number {
  const idx = st.rng.choice(X.shape[0], st.batchSize);
  const { loss, dW } = lossFn(st.W, gatherRows(X, idx), takeLabels(y, idx), st.reg);
  const w = st.W.data;
  const g = dW.data;
  for (let k = 0; k < w.length; k++) w[k] -= st.lr * g[k];
  return loss;
}

/**
 * Minibatch SGD on a linear classifier's loss; returns the weights and the loss of every minibatch.
 * X: (N, D), y: (N), W: (D, C)
 */
export function trainLinear(lossFn: LinearLossFn, X: Tensor, y: Labels, opts: TrainLinearOptions = {}): TrainLinearResult {
  const st = setupTraining("trainLinear", X, y, opts);
  const lossHistory: number[] = [];
  for (let it = 1; it <= st.numIters; it++) {
    lossHistory.push(sgdStep(lossFn, X, y, st));
    if (opts.onProgress && (it % st.every === 0 || it === st.numIters)) {
      void opts.onProgress({ iteration: it, numIters: st.numIters, lossHistory, W: st.W });
    }
  }
  return { W: st.W, lossHistory };
}

/**
 * trainLinear that awaits onProgress and yields to the event loop between reports, so a live chart in a
 * notebook redraws while training runs. Same result as trainLinear for the same options.
 * X: (N, D), y: (N), W: (D, C)
 */
export async function trainLinearAsync(
  lossFn: LinearLossFn,
  X: Tensor,
  y: Labels,
  opts: TrainLinearOptions = {},
): Promise<TrainLinearResult> {
  const st = setupTraining("trainLinearAsync", X, y, opts);
  const lossHistory: number[] = [];
  for (let it = 1; it <= st.numIters; it++) {
    lossHistory.push(sgdStep(lossFn, X, y, st));
    if (it % st.every === 0 || it === st.numIters) {
      if (opts.onProgress) await opts.onProgress({ iteration: it, numIters: st.numIters, lossHistory, W: st.W });
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return { W: st.W, lossHistory };
}
