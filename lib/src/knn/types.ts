// The types the kNN search's parts share (knn.ts describes the method).

/** "l2": Euclidean distance √Σ(a−b)²; "l1": Manhattan distance Σ|a−b|. */
export type KnnMetric = "l2" | "l1";

/** Training rows (n, d) and test rows (m, d), dense row-major. */
export interface KnnData {
  train: Float64Array;
  n: number;
  d: number;
  test: Float64Array;
  m: number;
}

/** Where the k neighbours of every test row go: (m, k) row-major, nearest first. */
export interface KnnOut {
  k: number;
  indices: Int32Array;
  distances: Float64Array;
}

/** Test rows [r0, r1). */
export interface RowRange {
  r0: number;
  r1: number;
}

/** How often the pruned search got past each stage (for the bench's report). */
export interface PruneStats {
  /** Candidates that got past the first bound. */
  scanned: number;
  /** Candidates whose exact distance was started. */
  exact: number;
}

/** Relative slack on every pruning test, far above the rounding error of the bounds (about 1e-13). */
export const PRUNE_SLACK = 1e-9;

