import {
  add,
  checkLinearLossArgs,
  div,
  gemm,
  map,
  matmul,
  max,
  mul,
  oneHot,
  pickByLabel,
  sub,
  sum,
  zeros,
  type Labels,
  type Tensor,
} from "@semantic-gap/lib";
import type { LossAndGrad } from "./linear_svm.js";

export type { LossAndGrad };

/**
 * Softmax (cross-entropy) loss with explicit loops over examples and classes, and its gradient.
 * loss = (1/N) Σ_i −log(e^{s_iy_i} / Σ_j e^{s_ij}) + reg·ΣW², where s = X·W; stable for scores of any size.
 * W: (D, C), X: (N, D), y: (N), dW: (D, C)
 */
export function softmaxLossNaive(W: Tensor, X: Tensor, y: Labels, reg: number): LossAndGrad {
  checkLinearLossArgs("softmaxLossNaive", W, X, y, reg);
  const [N, D] = X.shape;
  const C = W.shape[1];
  // TODO: With explicit loops over the examples and the classes, compute the loss of the doc comment and its
  // TODO: gradient dW, a (D, C) tensor; derive the gradient of −log p_{y[i]} with respect to each score first.
  // TODO: Keep it finite for scores of any size: Math.exp(1000) is Infinity, and shifting an example's scores by
  // TODO: a constant changes none of its probabilities. Read elements with X.get(i, d) and W.get(d, j). Average
  // TODO: over the N examples and include the regularization term in both the loss and dW.
  throw new Error("Not implemented: softmaxLossNaive");
}

/**
 * Softmax loss and gradient without explicit loops; stable for scores of any size.
 * W: (D, C), X: (N, D), y: (N), dW: (D, C)
 */
export function softmaxLossVectorized(W: Tensor, X: Tensor, y: Labels, reg: number): LossAndGrad {
  checkLinearLossArgs("softmaxLossVectorized", W, X, y, reg);
  const N = X.shape[0];
  const C = W.shape[1];
  // TODO: The same loss and dW as softmaxLossNaive, with whole-tensor operations only: the (N, C) scores in one
  // TODO: matrix product, the (N, C) probabilities with each row shifted by its maximum (an (N, 1) column that
  // TODO: broadcasts), and dW as a second matrix product of Xᵀ (D, N) with an (N, C) matrix. Take the loss from
  // TODO: the shifted scores, not from log(p), which is −Infinity once p underflows to 0. Library functions that
  // TODO: help: matmul, gemm, max, sum, map, sub, div, pickByLabel, oneHot. Write no explicit loops (for, while,
  // TODO: forEach): a hidden test checks this.
  throw new Error("Not implemented: softmaxLossVectorized");
}
