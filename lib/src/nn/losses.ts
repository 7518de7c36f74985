import { ShapeError, shapeStr } from "../errors.js";
import { checkLabels, checkTensor, tensor, toFloat64Array, type Labels, type Tensor } from "../tensor.js";

// Classification losses on a score matrix, averaged over the N examples, with their gradient with respect
// to the scores (the last layer's backward pass starts from it).

/** A loss value and its gradient with respect to the scores. */
export interface ScoreLoss {
  loss: number;
  dx: Tensor;
}

function checkScores(fn: string, x: Tensor, y: Labels): { s: Float64Array; n: number; c: number } {
  checkTensor(fn, "x", x, 2);
  const [n, c] = x.shape;
  if (n === 0 || c === 0) throw new ShapeError(`${fn}: x must hold at least one example and one class, got shape ${shapeStr(x.shape)}`);
  checkLabels(fn, "y", y, n, c);
  return { s: toFloat64Array(x), n, c };
}

/**
 * Multiclass SVM loss, mean over examples of Σ_{j≠y} max(0, x_j − x_y + 1), and its gradient.
 * x: (N, C) scores, y: (N) labels in 0..C-1, dx: (N, C)
 */
export function svmLoss(x: Tensor, y: Labels): ScoreLoss {
  const { s, n, c } = checkScores("svmLoss", x, y);
  const dx = new Float64Array(n * c);
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
        dx[row + j] = 1 / n;
        violated++;
      }
    }
    dx[row + y[i]] = -violated / n;
  }
  return { loss: loss / n, dx: tensor(dx, [n, c]) };
}

/**
 * Softmax (cross-entropy) loss, mean over examples of −log softmax(x)_y, and its gradient; each row's
 * maximum is subtracted first, so scores of any size are fine.
 * x: (N, C) scores, y: (N) labels in 0..C-1, dx: (N, C)
 */
export function softmaxLoss(x: Tensor, y: Labels): ScoreLoss {
  const { s, n, c } = checkScores("softmaxLoss", x, y);
  const dx = new Float64Array(n * c);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const row = i * c;
    let m = -Infinity;
    for (let j = 0; j < c; j++) if (s[row + j] > m) m = s[row + j];
    let z = 0;
    for (let j = 0; j < c; j++) {
      const e = Math.exp(s[row + j] - m);
      dx[row + j] = e;
      z += e;
    }
    loss += Math.log(z) - (s[row + y[i]] - m);
    for (let j = 0; j < c; j++) dx[row + j] /= z * n;
    dx[row + y[i]] -= 1 / n;
  }
  return { loss: loss / n, dx: tensor(dx, [n, c]) };
}
