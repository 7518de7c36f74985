import {
  Rng,
  addScaledInPlace,
  argmax,
  checkDimsEqual,
  checkLabels,
  checkTensor,
  matmul,
  randn,
  takeLabels,
  takeRows,
  type Labels,
  type Tensor,
} from "@semantic-gap/lib";
import { svmLossVectorized, type LossAndGrad } from "./linear_svm.js";
import { softmaxLossVectorized } from "./softmax.js";

/** Options of LinearClassifier.train; every field has a default. */
export interface TrainOptions {
  /** SGD step size (default 1e-3). */
  learningRate?: number;
  /** L2 regularization strength (default 1e-5). */
  reg?: number;
  /** Number of SGD steps (default 100). */
  numIters?: number;
  /** Examples per minibatch, drawn with replacement (default 200). */
  batchSize?: number;
  /** Seed of the initial weights and of the minibatch draws (default 0). */
  seed?: number;
  /** Print the loss every 100 iterations (default false). */
  verbose?: boolean;
}

/**
 * A linear classifier trained by minibatch SGD: scores = X·W, prediction = the class of highest score.
 * Conventions (as in the classic course code): W is created on the first call to train, gaussian with standard
 * deviation 0.001, shape (D, C) with C = max(y) + 1; later calls continue from the current W. Minibatches are
 * drawn with replacement. Put a bias column in X (the bias trick) to learn a bias.
 */
export class LinearClassifier {
  /** The weights, (D, C); null until the first call to train. */
  W: Tensor | null = null;

  /**
   * Minibatch SGD on this classifier's loss; returns the loss of every minibatch, in order.
   * X: (N, D), y: (N)
   */
  train(X: Tensor, y: Labels, opts: TrainOptions = {}): number[] {
    checkTensor("LinearClassifier.train", "X", X, 2);
    checkLabels("LinearClassifier.train", "y", y, X.shape[0]);
    const { learningRate = 1e-3, reg = 1e-5, numIters = 100, batchSize = 200, seed = 0, verbose = false } = opts;
    const [N, D] = X.shape;
    if (N === 0) throw new RangeError("LinearClassifier.train: X must hold at least one example");
    let numClasses = 0;
    for (let i = 0; i < N; i++) numClasses = Math.max(numClasses, y[i] + 1);
    const rng = new Rng(seed);
    if (this.W === null) this.W = randn([D, numClasses], rng, 0.001);
    checkDimsEqual("LinearClassifier.train", "X", X, 1, "W", this.W, 0);
    const W = this.W;
    const lossHistory: number[] = [];
    // TODO: Minibatch SGD for numIters steps. Each step draws a (batchSize, D) minibatch with replacement; take
    // TODO: its indices from one rng.choice(N, batchSize) call per step, so that a seed gives the same run
    // TODO: everywhere (the grader replays it). Evaluate this.loss on the minibatch, record the loss in
    // TODO: lossHistory, and move W (D, C) against the gradient, scaled by learningRate, in place.
    // TODO: With verbose, print `iteration ${it} / ${numIters}: loss ${loss}` every 100 iterations.
    // BEGIN SOLUTION
    for (let it = 0; it < numIters; it++) {
      const idx = rng.choice(N, batchSize);
      const { loss, dW } = this.loss(takeRows(X, idx), takeLabels(y, idx), reg);
      lossHistory.push(loss);
      addScaledInPlace(W, dW, -learningRate);
      if (verbose && it % 100 === 0) console.log(`iteration ${it} / ${numIters}: loss ${loss}`);
    }
    // END SOLUTION
    return lossHistory;
  }

  /**
   * The class of highest score for each row of X (the first class on ties).
   * X: (N, D), out: (N)
   */
  predict(X: Tensor): Labels {
    checkTensor("LinearClassifier.predict", "X", X, 2);
    if (this.W === null) throw new Error("LinearClassifier.predict: train the classifier first");
    checkDimsEqual("LinearClassifier.predict", "X", X, 1, "W", this.W, 0);
    // TODO: Return, for each row of X (N, D), the class with the highest score: an Int32Array of N labels.
    // BEGIN SOLUTION
    return argmax(matmul(X, this.W));
    // END SOLUTION
  }

  /**
   * The loss on a minibatch and its gradient with respect to W; subclasses choose the loss.
   * X: (N, D), y: (N), dW: (D, C)
   */
  loss(X: Tensor, y: Labels, reg: number): LossAndGrad {
    void X;
    void y;
    void reg;
    throw new Error("LinearClassifier.loss: use a subclass (LinearSVM or Softmax)");
  }
}

/** A linear classifier trained with the multiclass SVM loss. */
export class LinearSVM extends LinearClassifier {
  override loss(X: Tensor, y: Labels, reg: number): LossAndGrad {
    if (this.W === null) throw new Error("LinearSVM.loss: W is not initialised");
    return svmLossVectorized(this.W, X, y, reg);
  }
}

/** A linear classifier trained with the softmax (cross-entropy) loss. */
export class Softmax extends LinearClassifier {
  override loss(X: Tensor, y: Labels, reg: number): LossAndGrad {
    if (this.W === null) throw new Error("Softmax.loss: W is not initialised");
    return softmaxLossVectorized(this.W, X, y, reg);
  }
}
