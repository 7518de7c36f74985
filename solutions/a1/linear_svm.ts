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
  // BEGIN SOLUTION
  const dW = zeros([D, C]);
  let loss = 0;
  const scores = new Float64Array(C);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < C; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += X.get(i, d) * W.get(d, j);
      scores[j] = s;
    }
    const correct = scores[y[i]];
    for (let j = 0; j < C; j++) {
      if (j === y[i]) continue;
      const margin = scores[j] - correct + 1;
      if (margin > 0) {
        loss += margin;
        for (let d = 0; d < D; d++) {
          const xid = X.get(i, d);
          dW.set(d, j, dW.get(d, j) + xid);
          dW.set(d, y[i], dW.get(d, y[i]) - xid);
        }
      }
    }
  }
  loss /= N;
  for (let d = 0; d < D; d++) {
    for (let j = 0; j < C; j++) {
      const w = W.get(d, j);
      loss += reg * w * w;
      dW.set(d, j, dW.get(d, j) / N + 2 * reg * w);
    }
  }
  return { loss, dW };
  // END SOLUTION
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
  // BEGIN SOLUTION
  const scores = matmul(X, W);
  const correct = reshape(pickByLabel(scores, y), [N, 1]);
  const mask = oneHot(y, C);
  // In the label's own column the margin is max(0, 0 + 1) = 1 exactly; subtracting the mask removes it.
  const margins = sub(maximum(add(sub(scores, correct), 1), 0), mask);
  const loss = sum(margins) / N + reg * sum(mul(W, W));
  const positive = map(margins, (m) => (m > 0 ? 1 : 0));
  const coeff = sub(positive, mul(mask, sum(positive, 1, true)));
  // dW = Xᵀ·coeff / N + 2·reg·W, the regularization term passed in as gemm's `out` with beta = 1.
  const dW = gemm(X, coeff, { transA: true, alpha: 1 / N, beta: 1, out: mul(W, 2 * reg) });
  return { loss, dW };
  // END SOLUTION
}
