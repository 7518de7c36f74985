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
  // TODO: Loop over the examples. For each one compute its scores with loops (X.get(i, d), W.get(d, j)),
  // TODO: subtract the largest score before exponentiating (Math.exp(1000) is Infinity; the shift changes
  // TODO: nothing mathematically), and add −log p_{y[i]} = log Σ_j e^{s_j} − s_{y[i]} (both shifted) to the loss.
  // TODO: The gradient of example i adds (p_j − [j = y[i]])·X[i] to column j of dW.
  // TODO: Divide by N and add reg·ΣW² to the loss and 2·reg·W to dW.
  // BEGIN SOLUTION
  const dW = zeros([D, C]);
  let loss = 0;
  const scores = new Float64Array(C);
  for (let i = 0; i < N; i++) {
    let top = -Infinity;
    for (let j = 0; j < C; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += X.get(i, d) * W.get(d, j);
      scores[j] = s;
      if (s > top) top = s;
    }
    let z = 0;
    for (let j = 0; j < C; j++) z += Math.exp(scores[j] - top);
    loss += Math.log(z) - (scores[y[i]] - top);
    for (let j = 0; j < C; j++) {
      const p = Math.exp(scores[j] - top) / z;
      const coeff = p - (j === y[i] ? 1 : 0);
      for (let d = 0; d < D; d++) dW.set(d, j, dW.get(d, j) + coeff * X.get(i, d));
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
 * Softmax loss and gradient without explicit loops; stable for scores of any size.
 * W: (D, C), X: (N, D), y: (N), dW: (D, C)
 */
export function softmaxLossVectorized(W: Tensor, X: Tensor, y: Labels, reg: number): LossAndGrad {
  checkLinearLossArgs("softmaxLossVectorized", W, X, y, reg);
  const N = X.shape[0];
  const C = W.shape[1];
  // TODO: Compute the scores with matmul, subtract each row's maximum (max(scores, 1, true) keeps an (N, 1)
  // TODO: column that broadcasts), exponentiate with map, and normalise by the row sums to get the
  // TODO: probabilities. Take the loss from log Σ_j e^{s_j} − s_y of the shifted scores (pickByLabel helps),
  // TODO: not from log(p), which is −Infinity once p underflows. dW = Xᵀ·(P − oneHot(y, C)) / N + 2·reg·W.
  // TODO: Write no explicit loops (for, while, forEach): whole-tensor operations only; a hidden test checks this.
  // BEGIN SOLUTION
  const scores = matmul(X, W);
  const shifted = sub(scores, max(scores, 1, true));
  const expScores = map(shifted, Math.exp);
  const rowSums = sum(expScores, 1, true); // (N, 1)
  const logZ = map(rowSums, Math.log);
  const dataLoss = (sum(logZ) - sum(pickByLabel(shifted, y))) / N;
  const loss = dataLoss + reg * sum(mul(W, W));
  const probs = div(expScores, rowSums);
  const dScores = sub(probs, oneHot(y, C));
  // dW = Xᵀ·dScores / N + 2·reg·W, the regularization term passed in as gemm's `out` with beta = 1.
  const dW = gemm(X, dScores, { transA: true, alpha: 1 / N, beta: 1, out: mul(W, 2 * reg) });
  return { loss, dW };
  // END SOLUTION
}
