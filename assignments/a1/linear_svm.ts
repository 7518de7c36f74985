import {
  add,
  checkLinearLossArgs,
  gemm,
  map,
  matmul,
  maximum,
  mul,
  oneHot,
  pickByLabel,
  reshape,
  sub,
  sum,
  zeros,
  type Labels,
  type Tensor,
} from "@semantic-gap/lib";

/** The loss of a linear classifier on a batch and its gradient with respect to W. */
export interface LossAndGrad {
  loss: number;
  dW: Tensor;
}

/**
 * Multiclass SVM loss with explicit loops over examples and classes, and its gradient.
 * loss = (1/N) Σ_i Σ_{j≠y_i} max(0, s_ij − s_iy_i + 1) + reg·ΣW², where s = X·W.
 * W: (D, C), X: (N, D), y: (N), dW: (D, C)
 */
export function svmLossNaive(W: Tensor, X: Tensor, y: Labels, reg: number): LossAndGrad {
  checkLinearLossArgs("svmLossNaive", W, X, y, reg);
  const [N, D] = X.shape;
  const C = W.shape[1];
  // TODO: With explicit loops over the examples and the classes (and the dimensions where you need them),
  // TODO: compute the loss of the doc comment and its gradient dW, a (D, C) tensor. Derive the gradient of one
  // TODO: example's hinge terms with respect to the columns of W: which columns does a violated margin touch,
  // TODO: and with which sign? Read elements with X.get(i, d) and W.get(d, j). Average over the N examples and
  // TODO: include the regularization term in both the loss and dW.
  throw new Error("Not implemented: svmLossNaive");
}

/**
 * Multiclass SVM loss and gradient without explicit loops: one GEMM for the scores, one for dW.
 * W: (D, C), X: (N, D), y: (N), dW: (D, C)
 */
export function svmLossVectorized(W: Tensor, X: Tensor, y: Labels, reg: number): LossAndGrad {
  checkLinearLossArgs("svmLossVectorized", W, X, y, reg);
  const N = X.shape[0];
  const C = W.shape[1];
  // TODO: The same loss and dW as svmLossNaive, with whole-tensor operations only. The scores are one (N, C)
  // TODO: matrix product; the (N, C) margins come from broadcasting each row's correct-class score (an (N, 1)
  // TODO: column) against its row, with the correct class's own term left out. For dW, write the naive
  // TODO: version's per-example updates as one (N, C) matrix of coefficients, so that dW is a second matrix
  // TODO: product of Xᵀ (D, N) with it. Library functions that help: matmul, gemm (its transA option), pickByLabel,
  // TODO: oneHot, reshape, add, sub, mul, maximum, map, sum. Write no explicit loops (for, while, forEach):
  // TODO: a hidden test checks this.
  throw new Error("Not implemented: svmLossVectorized");
}
