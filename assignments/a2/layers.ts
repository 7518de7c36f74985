import {
  Rng,
  ShapeError,
  add,
  checkLabels,
  checkSameShape,
  checkTensor,
  copy,
  div,
  map,
  matmul,
  max,
  maximum,
  mean,
  mul,
  oneHot,
  pickByLabel,
  reshape,
  shapeStr,
  sub,
  sum,
  type Labels,
  type Tensor,
} from "@semantic-gap/lib";

// The layers of a fully connected network, each a pair of functions. A forward function takes the inputs
// and returns { out, cache }: the output and whatever its backward function will need. A backward function
// takes the upstream gradient dout (the gradient of the loss with respect to out, out's shape) and the
// cache, and returns the gradient of the loss with respect to each input, shaped like that input. Never
// modify an argument: build new tensors (add, sub, mul, div, map, matmul, sum, ... from the library).

/** A forward pass's output and what its backward pass needs. */
export interface LayerOutput<C> {
  out: Tensor;
  cache: C;
}

// ---------------------------------------------------------------- affine

export interface AffineCache {
  x: Tensor;
  w: Tensor;
  b: Tensor;
}

/**
 * Affine (fully connected) layer: each example's features flattened into a row, out = x·w + b.
 * x: (N, d1, ..., dk) with D = d1·...·dk, w: (D, M), b: (M), out: (N, M)
 */
export function affineForward(x: Tensor, w: Tensor, b: Tensor): LayerOutput<AffineCache> {
  checkTensor("affineForward", "x", x);
  checkTensor("affineForward", "w", w, 2);
  checkTensor("affineForward", "b", b, [w.shape[1]]);
  const D = x.shape.slice(1).reduce((a, d) => a * d, 1);
  if (x.shape.length < 2 || D !== w.shape[0]) {
    throw new ShapeError(`affineForward: x of shape ${shapeStr(x.shape)} has ${D} features per example, but w of shape ${shapeStr(w.shape)} has ${w.shape[0]} rows`);
  }
  // TODO: Reshape x to (N, D) (one row per example), compute out = x·w + b, shape (N, M): the (M) bias
  // TODO: broadcasts over the rows. Return { out, cache } with whatever affineBackward needs (x, w and b).
  throw new Error("Not implemented: affineForward");
}

/**
 * Backward pass of affineForward.
 * dout: (N, M), dx: x's shape (N, d1, ..., dk), dw: (D, M), db: (M)
 */
export function affineBackward(dout: Tensor, cache: AffineCache): { dx: Tensor; dw: Tensor; db: Tensor } {
  checkTensor("affineBackward", "dout", dout, [cache.x.shape[0], cache.w.shape[1]]);
  // TODO: With x flattened to (N, D): dx = dout·wᵀ reshaped back to x's own shape, dw = xᵀ·dout (D, M),
  // TODO: db = the sum of dout over the examples (M).
  throw new Error("Not implemented: affineBackward");
}

// ---------------------------------------------------------------- activations

/** What leakyReluForward and eluForward keep: the input and the parameter alpha. */
export interface AlphaCache {
  x: Tensor;
  alpha: number;
}

/** ReLU, max(0, x) elementwise. x: any shape, out: x's shape */
export function reluForward(x: Tensor): LayerOutput<Tensor> {
  checkTensor("reluForward", "x", x);
  // TODO: out = max(0, x) elementwise; the cache is x.
  throw new Error("Not implemented: reluForward");
}

/** Backward pass of reluForward. dout: x's shape, dx: x's shape */
export function reluBackward(dout: Tensor, cache: Tensor): { dx: Tensor } {
  checkSameShape("reluBackward", "dout", dout, "x", cache);
  // TODO: dx = dout where x > 0 and 0 elsewhere (the gradient at exactly 0 is taken to be 0).
  throw new Error("Not implemented: reluBackward");
}

/** Leaky ReLU: x where x > 0, alpha·x elsewhere. x: any shape, out: x's shape */
export function leakyReluForward(x: Tensor, alpha = 0.01): LayerOutput<AlphaCache> {
  checkTensor("leakyReluForward", "x", x);
  // TODO: out = x where x > 0 and alpha·x elsewhere; keep x and alpha in the cache.
  throw new Error("Not implemented: leakyReluForward");
}

/** Backward pass of leakyReluForward. dout: x's shape, dx: x's shape */
export function leakyReluBackward(dout: Tensor, cache: AlphaCache): { dx: Tensor } {
  checkSameShape("leakyReluBackward", "dout", dout, "x", cache.x);
  // TODO: The local slope is 1 where x > 0 and alpha elsewhere; dx = dout times that slope.
  throw new Error("Not implemented: leakyReluBackward");
}

/** Sigmoid, 1/(1 + e^−x) elementwise, without overflow for large |x|. x: any shape, out: x's shape */
export function sigmoidForward(x: Tensor): LayerOutput<Tensor> {
  checkTensor("sigmoidForward", "x", x);
  // TODO: out = 1/(1 + e^−x). For very negative x, e^−x overflows to Infinity: there use the equal form
  // TODO: e^x/(1 + e^x). The cache is out (the derivative is expressed through it).
  throw new Error("Not implemented: sigmoidForward");
}

/** Backward pass of sigmoidForward. dout: x's shape, dx: x's shape */
export function sigmoidBackward(dout: Tensor, cache: Tensor): { dx: Tensor } {
  checkSameShape("sigmoidBackward", "dout", dout, "out", cache);
  // TODO: σ'(x) = σ(x)·(1 − σ(x)); dx = dout·σ'(x), from the cached output.
  throw new Error("Not implemented: sigmoidBackward");
}

/** Hyperbolic tangent elementwise. x: any shape, out: x's shape */
export function tanhForward(x: Tensor): LayerOutput<Tensor> {
  checkTensor("tanhForward", "x", x);
  // TODO: out = tanh(x) (Math.tanh); the cache is out.
  throw new Error("Not implemented: tanhForward");
}

/** Backward pass of tanhForward. dout: x's shape, dx: x's shape */
export function tanhBackward(dout: Tensor, cache: Tensor): { dx: Tensor } {
  checkSameShape("tanhBackward", "dout", dout, "out", cache);
  // TODO: tanh'(x) = 1 − tanh²(x); dx = dout times it, from the cached output.
  throw new Error("Not implemented: tanhBackward");
}

/** ELU: x where x > 0, alpha·(e^x − 1) elsewhere. x: any shape, out: x's shape */
export function eluForward(x: Tensor, alpha = 1): LayerOutput<AlphaCache> {
  checkTensor("eluForward", "x", x);
  // TODO: out = x where x > 0 and alpha·(e^x − 1) elsewhere; keep x and alpha in the cache.
  throw new Error("Not implemented: eluForward");
}

/** Backward pass of eluForward. dout: x's shape, dx: x's shape */
export function eluBackward(dout: Tensor, cache: AlphaCache): { dx: Tensor } {
  checkSameShape("eluBackward", "dout", dout, "x", cache.x);
  // TODO: The local slope is 1 where x > 0 and alpha·e^x elsewhere; dx = dout times that slope.
  throw new Error("Not implemented: eluBackward");
}

// ---------------------------------------------------------------- losses

/**
 * Multiclass SVM loss on scores, mean over examples of Σ_{j≠y} max(0, x_j − x_y + 1), and its gradient.
 * x: (N, C), y: (N) labels in 0..C-1, dx: (N, C)
 */
export function svmLoss(x: Tensor, y: Labels): { loss: number; dx: Tensor } {
  checkTensor("svmLoss", "x", x, 2);
  checkLabels("svmLoss", "y", y, x.shape[0], x.shape[1]);
  // TODO: margins (N, C) = max(0, x_j − x_y + 1) with the correct class's own margin set to 0 (pickByLabel
  // TODO: gives x_y, reshape it to (N, 1) to broadcast; oneHot(y, C) marks the correct classes).
  // TODO: loss = Σ margins / N. dx: 1 for every positive margin, minus the number of positive margins at the
  // TODO: correct class, all divided by N.
  throw new Error("Not implemented: svmLoss");
}

/**
 * Softmax (cross-entropy) loss on scores, mean over examples of −log softmax(x)_y, and its gradient;
 * finite for scores of any size.
 * x: (N, C), y: (N) labels in 0..C-1, dx: (N, C)
 */
export function softmaxLoss(x: Tensor, y: Labels): { loss: number; dx: Tensor } {
  checkTensor("softmaxLoss", "x", x, 2);
  checkLabels("softmaxLoss", "y", y, x.shape[0], x.shape[1]);
  // TODO: Subtract each row's maximum (max(x, 1, true) is (N, 1)) so no exponential overflows, then take the
  // TODO: log-probabilities log p = shifted − log Σ e^{shifted} (row sums, (N, 1)). loss = −mean of log p at
  // TODO: the labels; dx = (p − oneHot(y, C)) / N, shape (N, C).
  throw new Error("Not implemented: softmaxLoss");
}

// ---------------------------------------------------------------- dropout

/** Dropout's settings: keep probability p in (0, 1], mode, and the seed (or generator) of the mask. */
export interface DropoutParam {
  p: number;
  mode: "train" | "test";
  seed?: number | Rng;
}

/** What dropoutForward keeps: the mode and the mask (each entry 0 or 1/p; null in test mode). */
export interface DropoutCache {
  mode: "train" | "test";
  mask: Tensor | null;
}

/**
 * Inverted dropout. Train mode keeps each unit with probability p and scales the kept ones by 1/p; test
 * mode is the identity.
 * x: any shape, out: x's shape
 */
export function dropoutForward(x: Tensor, dropoutParam: DropoutParam): LayerOutput<DropoutCache> {
  checkTensor("dropoutForward", "x", x);
  const { p, mode, seed } = dropoutParam;
  if (!(p > 0 && p <= 1)) throw new RangeError(`dropoutForward: the keep probability p must be in (0, 1], got ${p}`);
  if (mode !== "train" && mode !== "test") throw new RangeError(`dropoutForward: mode must be "train" or "test", got ${String(mode)}`);
  // TODO: Test mode: out is a copy of x, and the mask is null.
  // TODO: Train mode: take an Rng from seed (new Rng(seed) for a number; a given Rng is used as it is) and
  // TODO: draw one rng.uniform() per element of x in row-major order (map visits them in that order): the
  // TODO: mask is 1/p where the draw is below p and 0 elsewhere. out = x · mask; keep the mask in the cache.
  throw new Error("Not implemented: dropoutForward");
}

/** Backward pass of dropoutForward. dout: x's shape, dx: x's shape */
export function dropoutBackward(dout: Tensor, cache: DropoutCache): { dx: Tensor } {
  checkTensor("dropoutBackward", "dout", dout);
  // TODO: Train mode: dx = dout · mask. Test mode: dx = dout (a copy).
  throw new Error("Not implemented: dropoutBackward");
}

// ---------------------------------------------------------------- batch normalization

/** Batch normalization's settings and running statistics (which train mode writes and test mode reads). */
export interface BatchnormParam {
  mode: "train" | "test";
  eps?: number;
  momentum?: number;
  runningMean?: Tensor;
  runningVar?: Tensor;
}

/** What a train-mode batchnormForward keeps for the backward pass. */
export interface BatchnormCache {
  xhat: Tensor;
  gamma: Tensor;
  invStd: Tensor;
}

/**
 * Batch normalization of each feature over the N examples: out = gamma·(x − μ)/√(σ² + eps) + beta.
 * x: (N, D), gamma: (D), beta: (D), out: (N, D)
 */
export function batchnormForward(x: Tensor, gamma: Tensor, beta: Tensor, bnParam: BatchnormParam): LayerOutput<BatchnormCache> {
  checkTensor("batchnormForward", "x", x, 2);
  const D = x.shape[1];
  checkTensor("batchnormForward", "gamma", gamma, [D]);
  checkTensor("batchnormForward", "beta", beta, [D]);
  const { mode, eps = 1e-5, momentum = 0.9 } = bnParam;
  if (mode !== "train" && mode !== "test") throw new RangeError(`batchnormForward: bnParam.mode must be "train" or "test", got ${String(mode)}`);
  const runningMean = bnParam.runningMean ?? map(gamma, () => 0);
  const runningVar = bnParam.runningVar ?? map(gamma, () => 0);
  // TODO: Train mode: μ = the mean of each column of x (D), σ² = the mean of (x − μ)² (the biased variance,
  // TODO: dividing by N), x̂ = (x − μ)/√(σ² + eps), out = gamma·x̂ + beta (gamma and beta broadcast over rows).
  // TODO: Then set bnParam.runningMean = momentum·runningMean + (1 − momentum)·μ, and runningVar likewise
  // TODO: with σ² (new tensors; the running values start as zeros when bnParam has none).
  // TODO: Test mode: normalize with runningMean and runningVar instead of the batch statistics.
  // TODO: Return out (N, D) and a cache with what batchnormBackward needs (e.g. x̂, gamma, 1/√(σ² + eps)).
  throw new Error("Not implemented: batchnormForward");
}

/**
 * Backward pass of a train-mode batchnormForward (through the batch mean and variance too).
 * dout: (N, D), dx: (N, D), dgamma: (D), dbeta: (D)
 */
export function batchnormBackward(dout: Tensor, cache: BatchnormCache): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  checkTensor("batchnormBackward", "dout", dout, 2);
  // TODO: dbeta = Σ dout over the examples, dgamma = Σ dout·x̂. With dx̂ = dout·gamma, the gradient through
  // TODO: the normalization, the mean and the variance together is
  // TODO: dx = (1/N)·(1/√(σ² + eps))·(N·dx̂ − Σ dx̂ − x̂·Σ(dx̂·x̂)), the sums over the examples, (D) each.
  // TODO: Work it out on paper first (a computation graph helps); all three terms matter.
  throw new Error("Not implemented: batchnormBackward");
}
