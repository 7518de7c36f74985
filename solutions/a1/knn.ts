import {
  add,
  assign,
  checkDimsEqual,
  checkLabels,
  checkTensor,
  gemm,
  map,
  mul,
  reshape,
  sliceRows,
  sub,
  sum,
  zeros,
  type Labels,
  type Tensor,
} from "@semantic-gap/lib";

/**
 * A k-nearest-neighbour classifier with the L2 (Euclidean) distance.
 * Training only remembers the data; prediction compares every test example with every training example,
 * takes the k closest and lets them vote.
 * X: (N, D) rows are examples, y: (N) labels in 0..C-1
 */
export class KNearestNeighbor {
  private XTrain: Tensor | null = null;
  private yTrain: Labels | null = null;

  /**
   * Remembers the training data: for kNN, that is all of training.
   * X: (numTrain, D), y: (numTrain)
   */
  train(X: Tensor, y: Labels): void {
    checkTensor("KNearestNeighbor.train", "X", X, 2);
    checkLabels("KNearestNeighbor.train", "y", y, X.shape[0]);
    if (X.shape[0] === 0) throw new RangeError("KNearestNeighbor.train: X must hold at least one training example");
    this.XTrain = X;
    this.yTrain = y;
  }

  /**
   * Predicts a label for every row of X by a majority vote of its k nearest training examples.
   * numLoops picks the distance implementation: 0, 1 or 2.
   * X: (numTest, D), out: (numTest)
   */
  predict(X: Tensor, k = 1, numLoops = 0): Labels {
    let dists: Tensor;
    if (numLoops === 0) dists = this.computeDistancesNoLoops(X);
    else if (numLoops === 1) dists = this.computeDistancesOneLoop(X);
    else if (numLoops === 2) dists = this.computeDistancesTwoLoops(X);
    else throw new RangeError(`KNearestNeighbor.predict: numLoops must be 0, 1 or 2, got ${numLoops}`);
    return this.predictLabels(dists, k);
  }

  /** The training data, after checking that train was called and that X has as many columns. */
  private trained(fn: string, X: Tensor): { XTrain: Tensor; yTrain: Labels } {
    if (!this.XTrain || !this.yTrain) throw new Error(`KNearestNeighbor.${fn}: call train(X, y) first`);
    checkTensor(`KNearestNeighbor.${fn}`, "X", X, 2);
    checkDimsEqual(`KNearestNeighbor.${fn}`, "X", X, 1, "XTrain", this.XTrain, 1);
    return { XTrain: this.XTrain, yTrain: this.yTrain };
  }

  /**
   * L2 distances between every test row and every training row, with a loop over the test rows nested in
   * a loop over the training rows.
   * X: (numTest, D), out: (numTest, numTrain) with out[i, j] = ‖X[i] − XTrain[j]‖₂
   */
  computeDistancesTwoLoops(X: Tensor): Tensor {
    const { XTrain } = this.trained("computeDistancesTwoLoops", X);
    const numTest = X.shape[0];
    const numTrain = XTrain.shape[0];
    const D = X.shape[1];
    const dists = zeros([numTest, numTrain]);
    // TODO: For every test row i and every training row j, store the L2 distance between X[i] and XTrain[j]
    // TODO: in dists[i, j]; dists is (numTest, numTrain). Tensors' get and set work for any strides, so views
    // TODO: are fine. A loop over the D dimensions inside is fine: the two loops are the ones over examples.
    // BEGIN SOLUTION
    for (let i = 0; i < numTest; i++) {
      for (let j = 0; j < numTrain; j++) {
        let s = 0;
        for (let d = 0; d < D; d++) {
          const diff = X.get(i, d) - XTrain.get(j, d);
          s += diff * diff;
        }
        dists.set(i, j, Math.sqrt(s));
      }
    }
    // END SOLUTION
    return dists;
  }

  /**
   * L2 distances with one loop, over the test rows; each row's distances to all training rows come from
   * whole-tensor operations.
   * X: (numTest, D), out: (numTest, numTrain)
   */
  computeDistancesOneLoop(X: Tensor): Tensor {
    const { XTrain } = this.trained("computeDistancesOneLoop", X);
    const numTest = X.shape[0];
    const numTrain = XTrain.shape[0];
    const dists = zeros([numTest, numTrain]);
    // TODO: Loop over the test rows only. For test row i, compute its numTrain distances with whole-tensor
    // TODO: operations: a (1, D) view of the row broadcasts against the (numTrain, D) training matrix; reduce
    // TODO: over the D axis; write the numTrain results into row i of dists, a (numTrain) vector into a
    // TODO: (1, numTrain) slice. No loop over the training rows or the dimensions.
    // TODO: Library functions that help: sliceRows, sub, mul, sum, map, reshape, assign.
    // BEGIN SOLUTION
    for (let i = 0; i < numTest; i++) {
      const diff = sub(XTrain, sliceRows(X, i, i + 1));
      const rowDistances = map(sum(mul(diff, diff), 1), Math.sqrt);
      assign(sliceRows(dists, i, i + 1), reshape(rowDistances, [1, numTrain]));
    }
    // END SOLUTION
    return dists;
  }

  /**
   * L2 distances with no loop over examples: ‖a − b‖² = ‖a‖² + ‖b‖² − 2·a·b, where the products a·b of all
   * pairs come from one matrix multiplication.
   * X: (numTest, D), out: (numTest, numTrain)
   */
  computeDistancesNoLoops(X: Tensor): Tensor {
    const { XTrain } = this.trained("computeDistancesNoLoops", X);
    const numTrain = XTrain.shape[0];
    // TODO: Return the (numTest, numTrain) distances with no loop over examples. Expand ‖a − b‖² into squared
    // TODO: norms and dot products: the squared norms of the test rows form a (numTest, 1) column, those of the
    // TODO: training rows a (1, numTrain) row, and broadcasting combines them; all numTest·numTrain dot products
    // TODO: come from one matrix multiplication with the library's gemm (see its options for transposing an
    // TODO: operand, scaling the product and adding it into an existing matrix). Rounding can make a tiny
    // TODO: squared distance slightly negative: clamp it at 0 before the square root.
    // TODO: No for/while loops, no forEach/map/reduce over arrays, and no calls to the other two versions.
    // BEGIN SOLUTION
    const testSq = sum(mul(X, X), 1, true); // (numTest, 1)
    const trainSq = reshape(sum(mul(XTrain, XTrain), 1), [1, numTrain]); // (1, numTrain)
    const squared = gemm(X, XTrain, { transB: true, alpha: -2, beta: 1, out: add(testSq, trainSq) });
    return map(squared, (v) => Math.sqrt(Math.max(v, 0)));
    // END SOLUTION
  }

  /**
   * Labels by a majority vote of the k nearest training examples of each test row; a tie between labels
   * goes to the smallest label. Among training examples at equal distance, the one with the smaller index
   * counts as nearer.
   * dists: (numTest, numTrain), out: (numTest)
   */
  predictLabels(dists: Tensor, k = 1): Labels {
    if (!this.yTrain) throw new Error("KNearestNeighbor.predictLabels: call train(X, y) first");
    const yTrain = this.yTrain;
    checkTensor("KNearestNeighbor.predictLabels", "dists", dists, [null, yTrain.length]);
    const numTest = dists.shape[0];
    const numTrain = dists.shape[1];
    const yPred = new Int32Array(numTest);
    // TODO: Throw a RangeError when k is not an integer in 1..numTrain, saying what k and numTrain are.
    // TODO: For each test row i: find the indices of its k smallest distances (dists.get(i, j)), nearest
    // TODO: first; among equal distances the smaller index counts as nearer. Sorting all indices works; keeping
    // TODO: only the k best while scanning j = 0, 1, ... is faster. Then count the votes of their labels
    // TODO: (yTrain[j]) and store in yPred[i] the label with the most votes; when several labels have the most
    // TODO: votes, the smallest of them.
    // BEGIN SOLUTION
    if (!Number.isInteger(k) || k < 1 || k > numTrain) {
      throw new RangeError(
        `KNearestNeighbor.predictLabels: k must be an integer from 1 to the number of training examples (${numTrain}), got ${k}`,
      );
    }
    const nearest = new Int32Array(k); // indices of the best so far, nearest first
    const nearestDist = new Float64Array(k);
    for (let i = 0; i < numTest; i++) {
      let count = 0;
      for (let j = 0; j < numTrain; j++) {
        const d = dists.get(i, j);
        // j grows, so an equal distance never displaces an earlier (smaller) index.
        if (count === k && d >= nearestDist[k - 1]) continue;
        let pos = count === k ? k - 1 : count++;
        while (pos > 0 && nearestDist[pos - 1] > d) {
          nearest[pos] = nearest[pos - 1];
          nearestDist[pos] = nearestDist[pos - 1];
          pos--;
        }
        nearest[pos] = j;
        nearestDist[pos] = d;
      }
      const votes = new Map<number, number>();
      for (let n = 0; n < k; n++) {
        const label = yTrain[nearest[n]];
        votes.set(label, (votes.get(label) ?? 0) + 1);
      }
      let best = -1;
      let bestVotes = 0;
      for (const [label, v] of votes) {
        if (v > bestVotes || (v === bestVotes && label < best)) {
          best = label;
          bestVotes = v;
        }
      }
      yPred[i] = best;
    }
    // END SOLUTION
    return yPred;
  }
}
