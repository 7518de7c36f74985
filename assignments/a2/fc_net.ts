import { Rng, addScaledInPlace, checkLabels, checkTensor, copy, mul, ones, randn, sizeOf, sum, zeros, type Labels, type Tensor } from "@semantic-gap/lib";
import {
  affineBackward,
  affineForward,
  batchnormBackward,
  batchnormForward,
  dropoutBackward,
  dropoutForward,
  reluBackward,
  reluForward,
  softmaxLoss,
} from "./layers.js";

/** The state batchnormForward keeps between calls: mode, eps, momentum and the running statistics. */
export type BatchnormParam = Parameters<typeof batchnormForward>[3];

export interface FullyConnectedNetOptions {
  /** The width of each hidden layer, in order; L − 1 of them for an L-layer net. */
  hiddenDims: number[];
  /** Features per example (default 784, a 28x28 image). */
  inputDim?: number;
  /** Number of classes (default 10). */
  numClasses?: number;
  /** Probability of keeping a hidden unit in dropout (default 1: no dropout layers at all). */
  dropoutKeepRatio?: number;
  /** "batchnorm" puts a batch normalization layer after each hidden affine layer (default null: none). */
  normalization?: null | "batchnorm";
  /** L2 regularization strength: the loss adds 0.5·reg·ΣW² over the weight matrices (default 0). */
  reg?: number;
  /** Standard deviation of the gaussian initial weights (default 1e-2); biases start at zero. */
  weightScale?: number;
  /** Seed of the net's own generator: the initial weights, then every dropout mask (default 0). */
  seed?: number;
  /** Start from copies of these parameters instead of random ones (names and shapes as params'). */
  params?: Record<string, Tensor>;
}

/** The loss on a batch and the gradient of every parameter (same keys and shapes as params). */
export interface NetLoss {
  loss: number;
  grads: Record<string, Tensor>;
}

const FN = "FullyConnectedNet";

function checkPositiveInt(what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new RangeError(`${FN}: ${what} must be a positive integer, got ${String(v)}`);
  return v;
}

function checkFinite(what: string, v: unknown, ok: (x: number) => boolean, expected: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw new RangeError(`${FN}: ${what} must be ${expected}, got ${String(v)}`);
  return v;
}

/**
 * A fully connected network with any number of hidden layers:
 * {affine − [batchnorm] − relu − [dropout]} × (L − 1) − affine − softmax.
 * Parameters: `W1 (inputDim, hiddenDims[0])`, `b1 (hiddenDims[0])`, ..., `WL (hiddenDims[L−2], numClasses)`,
 * `bL (numClasses)` and, with batchnorm, `gamma1..gamma(L−1)` and `beta1..beta(L−1)` shaped like the biases of
 * their layer. The loss is the mean softmax cross-entropy plus 0.5·reg·(ΣW1² + ... + ΣWL²): weights only.
 * X: (N, inputDim) (or (N, d1, ..., dk) with d1·...·dk = inputDim), y: (N), scores: (N, numClasses)
 */
export class FullyConnectedNet {
  /** W1..WL, b1..bL and, with batchnorm, gamma1..gamma(L−1), beta1..beta(L−1). */
  params: Record<string, Tensor> = {};
  reg: number;
  /** L: the number of affine layers (hidden layers + 1). */
  readonly numLayers: number;
  readonly inputDim: number;
  readonly hiddenDims: number[];
  readonly numClasses: number;
  readonly dropoutKeepRatio: number;
  /** True when there are dropout layers (dropoutKeepRatio < 1). */
  readonly useDropout: boolean;
  readonly normalization: null | "batchnorm";
  /** One batchnorm state per hidden layer (empty without batchnorm); they keep the running statistics. */
  bnParams: BatchnormParam[];
  /** The net's own generator, seeded once: the initial weights are drawn from it, then the dropout masks. */
  rng: Rng;

  constructor(opts: FullyConnectedNetOptions) {
    if (opts === null || typeof opts !== "object") throw new TypeError(`${FN}: expected an options object { hiddenDims, ... }`);
    const {
      hiddenDims,
      inputDim = 784,
      numClasses = 10,
      dropoutKeepRatio = 1,
      normalization = null,
      reg = 0,
      weightScale = 1e-2,
      seed = 0,
      params,
    } = opts;
    if (!Array.isArray(hiddenDims)) throw new TypeError(`${FN}: hiddenDims must be an array of layer widths, got ${String(hiddenDims)}`);
    this.hiddenDims = hiddenDims.map((h, i) => checkPositiveInt(`hiddenDims[${i}]`, h));
    this.inputDim = checkPositiveInt("inputDim", inputDim);
    this.numClasses = checkPositiveInt("numClasses", numClasses);
    this.dropoutKeepRatio = checkFinite("dropoutKeepRatio", dropoutKeepRatio, (p) => p > 0 && p <= 1, "a keep probability in (0, 1]");
    if (normalization !== null && normalization !== "batchnorm") {
      throw new RangeError(`${FN}: normalization must be null or "batchnorm", got ${JSON.stringify(normalization)}`);
    }
    this.normalization = normalization;
    this.reg = checkFinite("reg", reg, (r) => r >= 0, "a non-negative number");
    checkFinite("weightScale", weightScale, (s) => s > 0, "a positive number");
    checkFinite("seed", seed, () => true, "a finite number");
    this.numLayers = this.hiddenDims.length + 1;
    this.useDropout = this.dropoutKeepRatio < 1;
    this.bnParams = normalization === "batchnorm" ? this.hiddenDims.map((): BatchnormParam => ({ mode: "train" })) : [];
    this.rng = new Rng(seed);
    if (params !== undefined) {
      this.params = checkedCopies(params, this.paramShapes());
      return;
    }
    // TODO: Fill this.params. Layer i (1..L) maps dims[i−1] to dims[i], where dims = [inputDim, ...hiddenDims,
    // TODO: numClasses]: Wi (dims[i−1], dims[i]) gaussian with standard deviation weightScale, drawn from this.rng
    // TODO: in the order W1, W2, ..., WL (randn accepts an Rng); bi (dims[i]) zeros. With batchnorm, each hidden
    // TODO: layer i (1..L−1) also gets gammai (dims[i]) of ones and betai (dims[i]) of zeros.
    throw new Error("Not implemented: FullyConnectedNet.constructor");
  }

  /** The name and shape of every parameter this architecture has. */
  paramShapes(): Record<string, number[]> {
    const dims = [this.inputDim, ...this.hiddenDims, this.numClasses];
    const shapes: Record<string, number[]> = {};
    for (let i = 1; i <= this.numLayers; i++) {
      shapes[`W${i}`] = [dims[i - 1], dims[i]];
      shapes[`b${i}`] = [dims[i]];
      if (this.normalization === "batchnorm" && i < this.numLayers) {
        shapes[`gamma${i}`] = [dims[i]];
        shapes[`beta${i}`] = [dims[i]];
      }
    }
    return shapes;
  }

  /**
   * Without labels, the class scores in test mode (dropout is the identity, batchnorm uses its running
   * statistics); with labels, the training-mode loss and the gradient of every parameter.
   * X: (N, inputDim), y: (N), scores: (N, numClasses)
   */
  loss(X: Tensor): Tensor;
  loss(X: Tensor, y: Labels): NetLoss;
  loss(X: Tensor, y?: Labels): Tensor | NetLoss {
    checkTensor(`${FN}.loss`, "X", X);
    const N = X.shape[0];
    if (X.shape.length < 2 || sizeOf(X.shape) !== N * this.inputDim) {
      throw new RangeError(`${FN}.loss: X must have shape (N, ${this.inputDim}) (or (N, ...) with ${this.inputDim} values per row), got (${X.shape.join(", ")})`);
    }
    if (y !== undefined) {
      checkLabels(`${FN}.loss`, "y", y, N, this.numClasses);
      if (N === 0) throw new RangeError(`${FN}.loss: X must hold at least one example`);
    }
    const mode = y === undefined ? "test" : "train";
    // TODO: Forward pass. For each hidden layer i (1..L−1): affineForward with Wi, bi; with batchnorm,
    // TODO: batchnormForward with gammai, betai and this.bnParams[i − 1] (set its mode to `mode` first); reluForward;
    // TODO: with dropout (this.useDropout), dropoutForward with { p: this.dropoutKeepRatio, mode, seed: this.rng },
    // TODO: so that every call draws fresh masks from the net's generator. Keep every cache for the backward pass.
    // TODO: Then the last affine layer (WL, bL) gives the scores (N, numClasses); without y, return them.
    // TODO: Loss: softmaxLoss on the scores, plus 0.5·this.reg·ΣWi² over the weights W1..WL only.
    // TODO: Backward pass: from softmaxLoss's dx, through the layers in reverse (affineBackward, dropoutBackward,
    // TODO: reluBackward, batchnormBackward), putting each gradient in grads under its parameter's name; add
    // TODO: this.reg·Wi to the gradient of each Wi. Return { loss, grads } with grads shaped like params.
    throw new Error("Not implemented: loss");
  }
}

/** Copies of the given parameters after checking that they are exactly the architecture's, by name and shape. */
function checkedCopies(given: Record<string, Tensor>, shapes: Record<string, number[]>): Record<string, Tensor> {
  if (given === null || typeof given !== "object") throw new TypeError(`${FN}: params must be an object of tensors`);
  const extra = Object.keys(given).filter((k) => !(k in shapes));
  if (extra.length > 0) throw new RangeError(`${FN}: params has ${extra.join(", ")}, which this architecture does not (it has ${Object.keys(shapes).join(", ")})`);
  const out: Record<string, Tensor> = {};
  for (const [k, shape] of Object.entries(shapes)) {
    if (!(k in given)) throw new RangeError(`${FN}: params.${k} is missing (expected shape (${shape.join(", ")}))`);
    out[k] = copy(checkTensor(FN, `params.${k}`, given[k], shape));
  }
  return out;
}
