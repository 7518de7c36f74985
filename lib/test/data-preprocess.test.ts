import { describe, expect, it } from "vitest";
import {
  addBiasColumn,
  classCounts,
  describeDataset,
  flattenImages,
  fromNested,
  loadFashionMnist,
  maxAbsDiff,
  mean,
  meanImage,
  Rng,
  samplePerClass,
  scaleTo01,
  shuffleDataset,
  sliceRows,
  splitDataset,
  subtractMean,
  tensor,
  toNested,
  transpose,
  zeros,
} from "../src/index.js";

/** x: (n, 2) with row i = [i, 10 i], y[i] = i % 3: every row can be traced back to its index. */
function traceable(n: number): { x: ReturnType<typeof zeros>; y: Int32Array } {
  const x = zeros([n, 2]);
  for (let i = 0; i < n; i++) {
    x.data[2 * i] = i;
    x.data[2 * i + 1] = 10 * i;
  }
  return { x, y: Int32Array.from({ length: n }, (_, i) => i % 3) };
}

describe("scaleTo01, meanImage, subtractMean, flattenImages, addBiasColumn", () => {
  it("scaleTo01 divides by 255 (exact for these values up to 1 ulp)", () => {
    const out = scaleTo01(fromNested([[0, 255], [51, 102]]));
    expect(maxAbsDiff(out, fromNested([[0, 1], [0.2, 0.4]]))).toBeLessThan(1e-15);
  });

  it("meanImage averages over axis 0 and honours views", () => {
    // 3 images of 1x2x2; the mean of [1..4], [5..8], [9..12] is [5..8].
    const x = tensor(Float64Array.from({ length: 12 }, (_, i) => i + 1), [3, 1, 2, 2]);
    expect(toNested(meanImage(x))).toEqual([[[5, 6], [7, 8]]]);
    // Rows 1..2 only (a view with an offset): the mean of [5..8] and [9..12] is [7..10].
    expect(toNested(meanImage(sliceRows(x, 1, 3)))).toEqual([[[7, 8], [9, 10]]]);
    expect(() => meanImage(zeros([0, 2]))).toThrow("meanImage: x has no examples (shape (0, 2))");
  });

  it("subtractMean broadcasts the mean over the examples and checks its shape", () => {
    const x = fromNested([[1, 2, 3], [5, 6, 7]]);
    const m = meanImage(x); // [3, 4, 5]
    expect(toNested(subtractMean(x, m))).toEqual([[-2, -2, -2], [2, 2, 2]]);
    expect(toNested(subtractMean(x, fromNested([[1, 1, 1]])))).toEqual([[0, 1, 2], [4, 5, 6]]);
    expect(() => subtractMean(x, fromNested([1, 2]))).toThrow(
      "subtractMean: mean must have shape (3,) (x.shape without its first axis), got (2,) for x of shape (2, 3)",
    );
  });

  it("flattenImages keeps row-major order within each image, also for a transposed view", () => {
    const x = tensor(Float64Array.from({ length: 8 }, (_, i) => i), [2, 1, 2, 2]);
    expect(toNested(flattenImages(x))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    // Swap H and W: image 0 becomes [[0, 2], [1, 3]].
    expect(toNested(flattenImages(transpose(x, 0, 1, 3, 2)))).toEqual([[0, 2, 1, 3], [4, 6, 5, 7]]);
  });

  it("every function rejects a non-tensor, and the example axis must exist", () => {
    const plain = [[1, 2]] as unknown as ReturnType<typeof zeros>;
    expect(() => scaleTo01(plain)).toThrow("scaleTo01: x must be a float64 tensor (ndarray over Float64Array), got a plain array");
    expect(() => meanImage(plain)).toThrow("meanImage: x must be a float64 tensor");
    expect(() => subtractMean(fromNested([[1]]), plain)).toThrow("subtractMean: mean must be a float64 tensor");
    expect(() => flattenImages(tensor([5], []))).toThrow("flattenImages: x must have a first (example) axis, got shape ()");
    expect(() => shuffleDataset(fromNested([[1]]), [0] as unknown as Int32Array, 1)).toThrow(
      "shuffleDataset: y must be an Int32Array of labels, got Array",
    );
  });

  it("addBiasColumn appends a column of ones and honours views", () => {
    expect(toNested(addBiasColumn(fromNested([[1, 2], [3, 4]])))).toEqual([[1, 2, 1], [3, 4, 1]]);
    expect(toNested(addBiasColumn(transpose(fromNested([[1, 2], [3, 4]]))))).toEqual([[1, 3, 1], [2, 4, 1]]);
    expect(toNested(addBiasColumn(zeros([2, 0])))).toEqual([[1], [1]]);
    expect(() => addBiasColumn(fromNested([1, 2]))).toThrow("addBiasColumn: x must have 2 dimensions, got shape (2,)");
  });

  it("the whole pipeline on the embedded subset: (N, 1, 28, 28) -> (N, 785), zero-mean columns, bias 1", () => {
    const ds = loadFashionMnist({ embedded: true, maxTrain: 500, maxTest: 10 });
    const flat = scaleTo01(flattenImages(ds.xTrain));
    const centred = subtractMean(flat, meanImage(flat));
    const xb = addBiasColumn(centred);
    expect(xb.shape).toEqual([500, 785]);
    const colMeans = mean(xb, 0);
    // Column means of centred data vanish up to rounding (500 terms of size <= 1: well below 1e-12).
    expect(maxAbsDiff(sliceRows(colMeans, 0, 784), zeros([784]))).toBeLessThan(1e-12);
    expect(colMeans.data[784]).toBe(1);
  });
});

describe("shuffleDataset", () => {
  it("is deterministic for a seed, differs across seeds, and moves labels with their rows", () => {
    const { x, y } = traceable(50);
    const a = shuffleDataset(x, y, 7);
    const b = shuffleDataset(x, y, 7);
    const c = shuffleDataset(x, y, 8);
    expect(toNested(a.x)).toEqual(toNested(b.x));
    expect(Array.from(a.y)).toEqual(Array.from(b.y));
    expect(toNested(a.x)).not.toEqual(toNested(c.x));
    const order = Array.from({ length: 50 }, (_, k) => a.x.data[2 * k]);
    // A permutation of 0..49, and the one Rng(7) draws.
    expect([...order].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(order).toEqual(Array.from(new Rng(7).permutation(50)));
    for (let k = 0; k < 50; k++) {
      expect(a.x.data[2 * k + 1]).toBe(10 * order[k]);
      expect(a.y[k]).toBe(order[k] % 3);
    }
    // The inputs are untouched.
    expect(x.data[2 * 49]).toBe(49);
    expect(y[4]).toBe(1);
  });

  it("checks its arguments", () => {
    const { x } = traceable(4);
    expect(() => shuffleDataset(x, new Int32Array(3), 1)).toThrow(
      "shuffleDataset: y has length 3 but x has 4 examples (x.shape (4, 2)); expected one label per example",
    );
    expect(() => shuffleDataset(x, new Int32Array(4), NaN)).toThrow("shuffleDataset: seed must be a finite number, got NaN");
  });
});

describe("splitDataset", () => {
  it("without a seed: contiguous blocks train | val | test in order", () => {
    const { x, y } = traceable(10);
    const s = splitDataset(x, y, { numTrain: 5, numVal: 3, numTest: 2 });
    expect(s.xTrain.shape).toEqual([5, 2]);
    expect(s.xVal.shape).toEqual([3, 2]);
    expect(s.xTest!.shape).toEqual([2, 2]);
    expect(toNested(s.xTrain)).toEqual([[0, 0], [1, 10], [2, 20], [3, 30], [4, 40]]);
    expect(toNested(s.xVal)).toEqual([[5, 50], [6, 60], [7, 70]]);
    expect(toNested(s.xTest!)).toEqual([[8, 80], [9, 90]]);
    expect(Array.from(s.yVal)).toEqual([2, 0, 1]);
    expect(Array.from(s.yTest!)).toEqual([2, 0]);
  });

  it("leaves out the test part when numTest is not given, and may leave examples unused", () => {
    const { x, y } = traceable(10);
    const s = splitDataset(x, y, { numTrain: 4, numVal: 2 });
    expect(s.xTest).toBeUndefined();
    expect(s.yTest).toBeUndefined();
    expect(Array.from(s.yTrain)).toEqual([0, 1, 2, 0]);
    expect(toNested(s.xVal)).toEqual([[4, 40], [5, 50]]);
  });

  it("with a seed: the seeded shuffle, then contiguous blocks", () => {
    const { x, y } = traceable(12);
    const s = splitDataset(x, y, { numTrain: 6, numVal: 4, numTest: 2, seed: 3 });
    const sh = shuffleDataset(x, y, 3);
    expect(toNested(s.xTrain)).toEqual(toNested(sliceRows(sh.x, 0, 6)));
    expect(toNested(s.xVal)).toEqual(toNested(sliceRows(sh.x, 6, 10)));
    expect(toNested(s.xTest!)).toEqual(toNested(sliceRows(sh.x, 10, 12)));
    expect(Array.from(s.yVal)).toEqual(Array.from(sh.y.subarray(6, 10)));
    // Disjoint and together all 12 examples.
    const ids = [s.xTrain, s.xVal, s.xTest!].flatMap((t) => (toNested(t) as number[][]).map((r) => r[0]));
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("checks sizes", () => {
    const { x, y } = traceable(10);
    expect(() => splitDataset(x, y, { numTrain: 8, numVal: 2, numTest: 1 })).toThrow(
      "splitDataset: numTrain + numVal + numTest = 8 + 2 + 1 = 11 exceeds the 10 examples in x (shape (10, 2))",
    );
    expect(() => splitDataset(x, y, { numTrain: -1, numVal: 2 })).toThrow("splitDataset: numTrain must be a non-negative integer, got -1");
    expect(() => splitDataset(x, y, null as unknown as { numTrain: number; numVal: number })).toThrow(
      "splitDataset: opts must be { numTrain, numVal, numTest?, seed? }, got null",
    );
    expect(() => splitDataset(x, y, { numTrain: 1, numVal: 1, numTest: 0.5 })).toThrow(
      "splitDataset: numTest must be a non-negative integer, got 0.5",
    );
    expect(() => splitDataset(x, y.subarray(0, 9), { numTrain: 1, numVal: 1 })).toThrow(
      "splitDataset: y has length 9 but x has 10 examples",
    );
  });
});

describe("classCounts and samplePerClass", () => {
  it("classCounts counts every class, including empty ones", () => {
    expect(Array.from(classCounts(Int32Array.from([0, 2, 2, 1, 2]), 4))).toEqual([1, 1, 3, 0]);
    expect(() => classCounts(Int32Array.from([0, 5]), 3)).toThrow("classCounts: y[1] = 5 is not a valid label (expected 0..2)");
    expect(() => classCounts(Int32Array.from([0]), 0)).toThrow("classCounts: numClasses must be a positive integer, got 0");
  });

  it("samplePerClass picks distinct examples of each class, grouped by class, the same for a seed", () => {
    const y = Int32Array.from({ length: 40 }, (_, i) => (i * 7) % 4);
    const idx = samplePerClass(y, 4, 3, 11);
    expect(idx).toHaveLength(12);
    for (let k = 0; k < 12; k++) expect(y[idx[k]]).toBe(Math.floor(k / 3));
    expect(new Set(idx).size).toBe(12);
    expect(Array.from(samplePerClass(y, 4, 3, 11))).toEqual(Array.from(idx));
    expect(() => samplePerClass(y, 5, 1, 1)).toThrow("samplePerClass: class 4 has 0 examples, fewer than perClass (1)");
  });

  it("describeDataset gives a one-line summary", () => {
    const ds = loadFashionMnist({ embedded: true, maxTrain: 20, maxTest: 10 });
    expect(describeDataset(ds)).toBe("fashion-mnist (embedded subset): 20 train, 10 test, 1x28x28, 10 classes");
  });
});
