import {
  Rng,
  ShapeError,
  add,
  checkLabels,
  checkTensor,
  convBackwardFastParams,
  convForwardFast,
  maxPoolBackwardFast,
  maxPoolForwardFast,
  mul,
  randn,
  shapeStr,
  sum,
  zeros,
  type Labels,
  type Tensor,
} from "@semantic-gap/lib";
import { affineBackward, affineForward, reluBackward, reluForward, softmaxLoss } from "./layers.js";

// The convolutional layers come from the library's fast versions (the same contracts as your naive ones in
// conv_layers.ts, many times faster); the other layers are yours, from layers.ts.

export interface ThreeLayerConvNetOptions {
  /** The shape of one input image, [C, H, W] (default [1, 28, 28]); H and W must be even. */
  inputDim?: [number, number, number];
  /** Filters of the convolutional layer (default 32). */
  numFilters?: number;
  /** Height and width of each filter, odd so that padding (filterSize − 1)/2 keeps the size (default 7). */
  filterSize?: number;
  /** Units of the hidden affine layer (default 100). */
  hiddenDim?: number;
  /** Classes to score (default 10). */
  numClasses?: number;
  /** Standard deviation of the gaussian initial weights (default 1e-3); biases start at zero. */
  weightScale?: number;
  /** L2 regularization strength: the loss adds 0.5·reg·Σ‖W‖² over W1, W2, W3 (default 0). */
  reg?: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
}

/** The loss on a batch and the gradient of every parameter (same keys and shapes as params). */
export interface ConvNetLoss {
  loss: number;
  grads: Record<string, Tensor>;
}

/**
 * A three-layer convolutional network: conv − relu − 2x2 max pool − affine − relu − affine − softmax.
 * The convolution has stride 1 and pad (filterSize − 1)/2, so the pooled maps are (F, H/2, W/2).
 * X: (N, C, H, W), W1: (F, C, fs, fs), b1: (F), W2: (F·H/2·W/2, hiddenDim), b2: (hiddenDim),
 * W3: (hiddenDim, numClasses), b3: (numClasses), scores: (N, numClasses)
 */
export class ThreeLayerConvNet {
  params: Record<string, Tensor> = {};
  reg: number;
  readonly inputDim: [number, number, number];
  readonly filterSize: number;

  constructor(opts: ThreeLayerConvNetOptions = {}) {
    const {
      inputDim = [1, 28, 28],
      numFilters = 32,
      filterSize = 7,
      hiddenDim = 100,
      numClasses = 10,
      weightScale = 1e-3,
      reg = 0,
      seed = 0,
    } = opts;
    this.reg = reg;
    this.inputDim = [inputDim[0], inputDim[1], inputDim[2]];
    this.filterSize = filterSize;
    // TODO: Check the options: filterSize odd (an even one cannot keep the size with equal padding on both
    // TODO: sides) and H, W even (the 2x2 pool must tile them); otherwise throw an error naming the value.
    // TODO: Then draw, from one new Rng(seed), gaussian weights with standard deviation weightScale, in the
    // TODO: order W1, W2, W3 (randn(shape, rng, weightScale)), and zero biases:
    // TODO: W1 (F, C, fs, fs), b1 (F), W2 (F·(H/2)·(W/2), hiddenDim), b2 (hiddenDim),
    // TODO: W3 (hiddenDim, numClasses), b3 (numClasses). Store them in this.params under those names.
    throw new Error("Not implemented: ThreeLayerConvNet.constructor");
  }

  /**
   * Without labels, the class scores; with labels, the loss (mean softmax cross-entropy plus
   * 0.5·reg·(ΣW1² + ΣW2² + ΣW3²)) and the gradient of every parameter.
   * X: (N, C, H, W), y: (N), scores: (N, numClasses)
   */
  loss(X: Tensor): Tensor;
  loss(X: Tensor, y: Labels): ConvNetLoss;
  loss(X: Tensor, y?: Labels): Tensor | ConvNetLoss {
    const fn = "ThreeLayerConvNet.loss";
    checkTensor(fn, "X", X, 4);
    const [C, H, W] = this.inputDim;
    if (X.shape[1] !== C || X.shape[2] !== H || X.shape[3] !== W) {
      throw new ShapeError(`${fn}: X must have shape (N, ${C}, ${H}, ${W}) (inputDim), got ${shapeStr(X.shape)}`);
    }
    if (y !== undefined) checkLabels(fn, "y", y, X.shape[0], this.params.W3?.shape[1]);
    const convParam = { stride: 1, pad: (this.filterSize - 1) / 2 };
    const poolParam = { poolHeight: 2, poolWidth: 2, stride: 2 };
    // TODO: Forward: convForwardFast(X, W1, b1, convParam) → reluForward → maxPoolForwardFast(·, poolParam)
    // TODO: gives (N, F, H/2, W/2); affineForward (it flattens each image's maps to one row) with W2, b2 →
    // TODO: reluForward → affineForward with W3, b3 gives the scores (N, numClasses). Without y, return them.
    // TODO: With y: softmaxLoss(scores, y) plus 0.5·this.reg·(ΣW1² + ΣW2² + ΣW3²); then backward through the
    // TODO: same layers in reverse order with each forward's cache, adding this.reg·W to each weight's
    // TODO: gradient (not to the biases); the images need no gradient, so the first layer's backward can be
    // TODO: convBackwardFastParams. Return { loss, grads } with grads keyed like this.params.
    throw new Error("Not implemented: loss");
  }
}
