import {
  Rng,
  accuracy,
  add,
  addScaledInPlace,
  argmax,
  checkDimsEqual,
  checkLabels,
  checkTensor,
  copy,
  div,
  map,
  matmul,
  max,
  maximum,
  mul,
  oneHot,
  pickByLabel,
  randn,
  sub,
  sum,
  takeLabels,
  takeRows,
  zeros,
  type Labels,
  type Tensor,
} from "@semantic-gap/lib";

/** The weights and biases of the two-layer net. */
export interface TwoLayerNetParams {
  /** First layer weights, (D, H). */
  W1: Tensor;
  /** First layer biases, (H). */
  b1: Tensor;
  /** Second layer weights, (H, C). */
  W2: Tensor;
  /** Second layer biases, (C). */
  b2: Tensor;
}

/** The loss on a batch and the gradient of each parameter (same names and shapes as the params). */
export interface NetLoss {
  loss: number;
  grads: TwoLayerNetParams;
}

export interface TwoLayerNetOptions {
  /** Standard deviation of the gaussian initial weights (default 1e-4); biases start at zero. */
  weightScale?: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
  /** Start from these parameters instead (copied); shapes must match the sizes. */
  params?: TwoLayerNetParams;
}

export interface NetTrainOptions {
  /** SGD step size (default 1e-3). */
  learningRate?: number;
  /** The learning rate is multiplied by this after every epoch (default 0.95). */
  learningRateDecay?: number;
  /** L2 regularization strength (default 5e-6). */
  reg?: number;
  /** Number of SGD steps (default 100). */
  numIters?: number;
  /** Examples per minibatch, drawn with replacement (default 200). */
  batchSize?: number;
  /** Seed of the minibatch draws (default 0). */
  seed?: number;
  /** Print the loss every 100 iterations (default false). */
  verbose?: boolean;
}

export interface NetTrainHistory {
  /** The loss of every minibatch. */
  lossHistory: number[];
  /** Accuracy on the current minibatch, once per epoch. */
  trainAccHistory: number[];
  /** Accuracy on the validation set, once per epoch. */
  valAccHistory: number[];
}

/**
 * A fully connected net: input - affine - ReLU - affine - softmax, trained with minibatch SGD.
 * Scores = max(0, X·W1 + b1)·W2 + b2. The loss is the mean cross-entropy plus 0.5·reg·(ΣW1² + ΣW2²)
 * (weights only, not biases), so the regularization gradient of W is reg·W.
 * X: (N, D), W1: (D, H), b1: (H), W2: (H, C), b2: (C), scores: (N, C)
 */
export class TwoLayerNet {
  params: TwoLayerNetParams;

  constructor(inputSize: number, hiddenSize: number, outputSize: number, opts: TwoLayerNetOptions = {}) {
    for (const [name, v] of [["inputSize", inputSize], ["hiddenSize", hiddenSize], ["outputSize", outputSize]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`TwoLayerNet: ${name} must be a positive integer, got ${v}`);
    }
    const { weightScale = 1e-4, seed = 0 } = opts;
    if (opts.params) {
      const p = opts.params;
      this.params = {
        W1: copy(checkTensor("TwoLayerNet", "params.W1", p.W1, [inputSize, hiddenSize])),
        b1: copy(checkTensor("TwoLayerNet", "params.b1", p.b1, [hiddenSize])),
        W2: copy(checkTensor("TwoLayerNet", "params.W2", p.W2, [hiddenSize, outputSize])),
        b2: copy(checkTensor("TwoLayerNet", "params.b2", p.b2, [outputSize])),
      };
    } else {
      const rng = new Rng(seed);
      this.params = {
        W1: randn([inputSize, hiddenSize], rng, weightScale),
        b1: zeros([hiddenSize]),
        W2: randn([hiddenSize, outputSize], rng, weightScale),
        b2: zeros([outputSize]),
      };
    }
  }

  /**
   * Without labels, the class scores; with labels, the loss and the gradient of every parameter.
   * X: (N, D), y: (N), scores: (N, C)
   */
  loss(X: Tensor): Tensor;
  loss(X: Tensor, y: Labels, reg?: number): NetLoss;
  loss(X: Tensor, y?: Labels, reg = 0): Tensor | NetLoss {
    const { W1, b1, W2, b2 } = this.params;
    checkTensor("TwoLayerNet.loss", "X", X, 2);
    checkDimsEqual("TwoLayerNet.loss", "X", X, 1, "W1", W1, 0);
    const N = X.shape[0];
    const C = W2.shape[1];
    if (y !== undefined) {
      checkLabels("TwoLayerNet.loss", "y", y, N, C);
      if (N === 0) throw new RangeError("TwoLayerNet.loss: X must hold at least one example");
    }
    // TODO: Forward pass: the (N, H) hidden layer is the ReLU of the first affine map, and the (N, C) scores
    // TODO: are the second affine map of it (the biases broadcast over the rows). If y is undefined, return
    // TODO: the scores.
    // TODO: Loss: the mean softmax cross-entropy of the scores, computed stably for scores of any size, plus
    // TODO: 0.5·reg·(ΣW1² + ΣW2²) (no penalty on the biases).
    // TODO: Backward pass: apply the chain rule from the loss back through the second affine map, the ReLU and
    // TODO: the first affine map. Each gradient has its parameter's shape: W1 (D, H), b1 (H), W2 (H, C), b2 (C).
    // TODO: Check your derivation with the notebook's numerical gradient check.
    // TODO: Return { loss, grads: { W1, b1, W2, b2 } }.
    // BEGIN SOLUTION
    const hidden = maximum(add(matmul(X, W1), b1), 0);
    const scores = add(matmul(hidden, W2), b2);
    if (y === undefined) return scores;
    const shifted = sub(scores, max(scores, 1, true));
    const expScores = map(shifted, Math.exp);
    const rowSums = sum(expScores, 1, true);
    const dataLoss = (sum(map(rowSums, Math.log)) - sum(pickByLabel(shifted, y))) / N;
    const loss = dataLoss + 0.5 * reg * (sum(mul(W1, W1)) + sum(mul(W2, W2)));

    const dScores = div(sub(div(expScores, rowSums), oneHot(y, C)), N);
    const dW2 = add(matmul(hidden, dScores, true), mul(W2, reg));
    const db2 = sum(dScores, 0);
    const dHidden = mul(matmul(dScores, W2, false, true), map(hidden, (h) => (h > 0 ? 1 : 0)));
    const dW1 = add(matmul(X, dHidden, true), mul(W1, reg));
    const db1 = sum(dHidden, 0);
    return { loss, grads: { W1: dW1, b1: db1, W2: dW2, b2: db2 } };
    // END SOLUTION
  }

  /**
   * Minibatch SGD with a learning rate that decays once per epoch; returns the loss and accuracy histories.
   * An epoch is max(1, floor(N / batchSize)) iterations. X: (N, D), y: (N), Xval: (M, D), yval: (M)
   */
  train(X: Tensor, y: Labels, Xval: Tensor, yval: Labels, opts: NetTrainOptions = {}): NetTrainHistory {
    checkTensor("TwoLayerNet.train", "X", X, 2);
    checkLabels("TwoLayerNet.train", "y", y, X.shape[0]);
    checkTensor("TwoLayerNet.train", "Xval", Xval, 2);
    checkLabels("TwoLayerNet.train", "yval", yval, Xval.shape[0]);
    const {
      learningRate = 1e-3,
      learningRateDecay = 0.95,
      reg = 5e-6,
      numIters = 100,
      batchSize = 200,
      seed = 0,
      verbose = false,
    } = opts;
    const N = X.shape[0];
    const rng = new Rng(seed);
    const iterationsPerEpoch = Math.max(1, Math.floor(N / batchSize));
    const lossHistory: number[] = [];
    const trainAccHistory: number[] = [];
    const valAccHistory: number[] = [];
    // TODO: Repeat numIters times: draw a minibatch with replacement (rng.choice(N, batchSize), takeRows,
    // TODO: takeLabels), compute this.loss(Xb, yb, reg), record the loss, and update every parameter in place:
    // TODO: p ← p − lr·grad (addScaledInPlace). Start with lr = learningRate. After every iterationsPerEpoch
    // TODO: iterations, push the accuracy on the minibatch and on (Xval, yval) to their histories and multiply
    // TODO: lr by learningRateDecay. With verbose, print the loss every 100 iterations.
    // BEGIN SOLUTION
    let lr = learningRate;
    for (let it = 0; it < numIters; it++) {
      const idx = rng.choice(N, batchSize);
      const Xb = takeRows(X, idx);
      const yb = takeLabels(y, idx);
      const { loss, grads } = this.loss(Xb, yb, reg);
      lossHistory.push(loss);
      for (const k of ["W1", "b1", "W2", "b2"] as const) addScaledInPlace(this.params[k], grads[k], -lr);
      if (verbose && it % 100 === 0) console.log(`iteration ${it} / ${numIters}: loss ${loss}`);
      if ((it + 1) % iterationsPerEpoch === 0) {
        trainAccHistory.push(accuracy(this.predict(Xb), yb));
        valAccHistory.push(accuracy(this.predict(Xval), yval));
        lr *= learningRateDecay;
      }
    }
    // END SOLUTION
    return { lossHistory, trainAccHistory, valAccHistory };
  }

  /**
   * The class of highest score for each row (the first class on ties).
   * X: (N, D), out: (N)
   */
  predict(X: Tensor): Labels {
    // TODO: Return the argmax of each row of the scores (this.loss(X) gives the scores).
    // BEGIN SOLUTION
    return argmax(this.loss(X));
    // END SOLUTION
  }
}
