import { checkLabels, checkTensor, concatRows, sliceRows, type Labels, type Tensor } from "@semantic-gap/lib";
import { KNearestNeighbor } from "./knn.js";

/**
 * Cross-validation results: for each k tried, the validation accuracy on every fold, in fold order.
 * A plain object keyed by k (object keys are strings at run time: `Number(key)` gives k back), e.g.
 * `{ 1: [0.8, 0.75, 0.9], 3: [0.85, 0.8, 0.9] }`; `results[3][0]` is the accuracy of k = 3 on fold 0.
 */
export type CrossValidationResults = Record<number, number[]>;

/**
 * The fold boundaries of numpy's array_split: numFolds contiguous, in-order runs of rows whose sizes differ
 * by at most one, the first n % numFolds folds holding one extra row. Returns [start, end) per fold.
 */
export function foldBounds(n: number, numFolds: number): Array<[number, number]> {
  const bounds: Array<[number, number]> = [];
  // TODO: Fold f has floor(n / numFolds) rows, plus one more when f < n % numFolds. Folds follow each
  // TODO: other without gaps from row 0 to row n: return their [start, end) pairs in order.
  // BEGIN SOLUTION
  const base = Math.floor(n / numFolds);
  const extra = n % numFolds;
  let start = 0;
  for (let f = 0; f < numFolds; f++) {
    const end = start + base + (f < extra ? 1 : 0);
    bounds.push([start, end]);
    start = end;
  }
  // END SOLUTION
  return bounds;
}

/**
 * numFolds-fold cross-validation of KNearestNeighbor (L2) over the values of k: each fold in turn is the
 * validation set and the other folds together are the training set. Folds are contiguous and unshuffled,
 * as foldBounds gives them.
 * X: (N, D), y: (N); returns { [k]: accuracies of the numFolds folds }
 */
export function crossValidateK(X: Tensor, y: Labels, kChoices: number[], numFolds: number): CrossValidationResults {
  checkTensor("crossValidateK", "X", X, 2);
  checkLabels("crossValidateK", "y", y, X.shape[0]);
  const N = X.shape[0];
  if (!Number.isInteger(numFolds) || numFolds < 2 || numFolds > N) {
    throw new RangeError(`crossValidateK: numFolds must be an integer from 2 to the number of examples (${N}), got ${numFolds}`);
  }
  if (!Array.isArray(kChoices) || kChoices.length === 0) {
    throw new RangeError("crossValidateK: kChoices must be a non-empty array of k values");
  }
  const results: CrossValidationResults = {};
  // TODO: For each fold of foldBounds(N, numFolds) in order, the fold's rows are the validation set and all
  // TODO: the other rows, in their original order, the training set. Train a KNearestNeighbor on the training
  // TODO: set, compute the (foldSize, N − foldSize) validation distances once (no loops), and append to
  // TODO: results[k] (start each as []) for every k in kChoices the fraction of validation rows whose k-NN vote
  // TODO: is right. Library functions that help: sliceRows, concatRows, and subarray and set on label arrays.
  // BEGIN SOLUTION
  for (const k of kChoices) results[k] = [];
  for (const [start, end] of foldBounds(N, numFolds)) {
    const parts = [sliceRows(X, 0, start), sliceRows(X, end, N)].filter((t) => t.shape[0] > 0);
    const XTrain = concatRows(parts);
    const yTrain = new Int32Array(N - (end - start));
    yTrain.set(y.subarray(0, start), 0);
    yTrain.set(y.subarray(end), start);
    const XVal = sliceRows(X, start, end);
    const yVal = y.subarray(start, end);
    const classifier = new KNearestNeighbor();
    classifier.train(XTrain, yTrain);
    const dists = classifier.computeDistancesNoLoops(XVal);
    for (const k of kChoices) {
      const pred = classifier.predictLabels(dists, k);
      let correct = 0;
      for (let i = 0; i < pred.length; i++) if (pred[i] === yVal[i]) correct++;
      results[k].push(correct / pred.length);
    }
  }
  // END SOLUTION
  return results;
}

/**
 * The k with the highest mean accuracy over the folds; equal means (within 1e-12) go to the smaller k.
 * results: as crossValidateK returns them
 */
export function bestK(results: CrossValidationResults): number {
  const ks = Object.keys(results).map(Number);
  if (ks.length === 0) throw new RangeError("bestK: results hold no k");
  // TODO: For every k (ks above), average its accuracies. Return the k whose mean is highest; when two means
  // TODO: are equal (within 1e-12, to forgive rounding), return the smaller k.
  // BEGIN SOLUTION
  let best = NaN;
  let bestMean = -Infinity;
  for (const k of ks.sort((a, b) => a - b)) {
    const accs = results[k];
    const m = accs.reduce((a, b) => a + b, 0) / accs.length;
    if (m > bestMean + 1e-12) {
      best = k;
      bestMean = m;
    }
  }
  return best;
  // END SOLUTION
}
