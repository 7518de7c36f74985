import { describe, expect, it } from "vitest";
import ndarray from "ndarray";
import {
  DTypeError,
  Rng,
  ShapeError,
  add,
  allClose,
  argmax,
  accuracy,
  arange,
  checkDimsEqual,
  checkLabels,
  checkTensor,
  concatRows,
  contiguous,
  copy,
  div,
  flattenRows,
  fromNested,
  gemm,
  isContiguous,
  linspace,
  matmul,
  max,
  maxAbsDiff,
  mean,
  min,
  mul,
  randn,
  reshape,
  sliceRows,
  sub,
  sum,
  takeRows,
  tensor,
  toNested,
  transpose,
  variance,
  zeros,
} from "../src/index.js";

describe("Rng (xoshiro128** seeded through splitmix32)", () => {
  it("matches an independent Python implementation of the same generator", () => {
    // Reference: the algorithm re-implemented in Python with arbitrary-precision integers masked to 32 bits.
    const r = new Rng(42);
    expect([0, 1, 2, 3, 4].map(() => r.nextUint32())).toEqual([2837322924, 544945897, 479756282, 3500138142, 339756180]);
    const q = new Rng(42);
    // uniform() = (hi27 * 2^26 + lo26) / 2^53 from two draws: exact in float64.
    expect([q.uniform(), q.uniform(), q.uniform()]).toEqual([0.6606157208001621, 0.1117019639532224, 0.0791056456144914]);
  });

  it("draws gaussians with mean 0 and variance 1 (tolerance 0.02 at n = 200000, about 6 standard errors)", () => {
    const t = randn([200_000], 7);
    expect(Math.abs(mean(t))).toBeLessThan(0.02);
    expect(Math.abs(variance(t) - 1)).toBeLessThan(0.02);
  });

  it("gives the same stream for the same seed and a fair permutation", () => {
    expect(Array.from(new Rng(3).permutation(10))).toEqual(Array.from(new Rng(3).permutation(10)));
    const p = Array.from(new Rng(5).permutation(1000)).sort((a, b) => a - b);
    expect(p).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const counts = new Array(5).fill(0);
    const r = new Rng(11);
    for (let i = 0; i < 50_000; i++) counts[r.int(5)]++;
    // Each count is binomial(50000, 0.2): sd ≈ 89, so 10000 ± 600 is over 6 sd.
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });

  it("rejects a seed that is not a number", () => {
    expect(() => new Rng(Number.NaN)).toThrow("Rng: seed must be a finite number, got NaN");
  });
});

describe("creation and layout", () => {
  it("builds from nested arrays and back", () => {
    const t = fromNested([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(toNested(t)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(toNested(transpose(t))).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
  });

  it("names the ragged index", () => {
    expect(() => fromNested([[1, 2], [3]])).toThrow("fromNested: ragged array at index [1]: expected length 2, got length 1");
  });

  it("checks data length against shape", () => {
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow("tensor: data has 3 elements but shape (2, 2) needs 4");
  });

  it("reshapes views and copies non-contiguous input", () => {
    const t = arange(6);
    const r = reshape(t, [2, -1]);
    expect(r.shape).toEqual([2, 3]);
    expect(r.data).toBe(t.data); // a view, no copy
    const tt = transpose(r);
    expect(isContiguous(tt)).toBe(false);
    expect(toNested(reshape(tt, [6]))).toEqual([0, 3, 1, 4, 2, 5]);
    expect(() => reshape(t, [4, 2])).toThrow("reshape: cannot reshape t of shape (6,) into (4, 2)");
  });

  it("slices, takes and concatenates rows while honouring offsets", () => {
    const t = reshape(arange(12), [4, 3]);
    const s = sliceRows(t, 1, 3);
    expect(s.offset).toBe(3);
    expect(toNested(s)).toEqual([
      [3, 4, 5],
      [6, 7, 8],
    ]);
    expect(toNested(takeRows(t, [3, 0]))).toEqual([
      [9, 10, 11],
      [0, 1, 2],
    ]);
    expect(toNested(concatRows([s, sliceRows(t, 0, 1)]))).toEqual([
      [3, 4, 5],
      [6, 7, 8],
      [0, 1, 2],
    ]);
    expect(() => takeRows(t, [4])).toThrow("takeRows: indices[0] = 4 is out of range for 4 rows");
    expect(() => sliceRows(t, 2, 5)).toThrow("sliceRows: need 0 <= start <= end <= 4, got start 2, end 5");
  });

  it("flattens image batches to rows", () => {
    const x = zeros([5, 1, 28, 28]);
    expect(flattenRows(x).shape).toEqual([5, 784]);
  });

  it("makes contiguous copies of strided views (every other column)", () => {
    const t = reshape(arange(12), [3, 4]);
    const v = ndarray(t.data, [3, 2], [4, 2], 1); // columns 1 and 3
    expect(toNested(contiguous(v))).toEqual([
      [1, 3],
      [5, 7],
      [9, 11],
    ]);
    expect(copy(v).data.length).toBe(6);
  });
});

describe("elementwise and reductions", () => {
  const a = fromNested([
    [1, 2, 3],
    [4, 5, 6],
  ]);

  it("broadcasts rows, columns and scalars like numpy", () => {
    expect(toNested(add(a, fromNested([10, 20, 30])))).toEqual([
      [11, 22, 33],
      [14, 25, 36],
    ]);
    expect(toNested(sub(a, fromNested([[1], [4]])))).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(toNested(mul(a, 2))).toEqual([
      [2, 4, 6],
      [8, 10, 12],
    ]);
    expect(toNested(div(transpose(a), fromNested([1, 2])))).toEqual([
      [1, 2],
      [2, 2.5],
      [3, 3],
    ]);
  });

  it("broadcasts 3-D strided views elementwise like an index-by-index loop", () => {
    // (2, 1, 4) against a transposed (3, 4) view: out[i, j, k] = a[i, 0, k] - bT[j, k]
    const a3 = reshape(randn([8], 3), [2, 1, 4]);
    const b = randn([4, 3], 4);
    const bT = transpose(b);
    const out = sub(a3, bT);
    expect(out.shape).toEqual([2, 3, 4]);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) expect(out.get(i, j, k)).toBe(a3.get(i, 0, k) - b.get(k, j));
    }
    // a (5, 1) column times a (3,) row, and a zero-size broadcast
    const col = reshape(randn([5], 5), [5, 1]);
    const row = randn([3], 6);
    const outer = mul(col, row);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) expect(outer.get(i, j)).toBe(col.get(i, 0) * row.get(j));
    expect(mul(reshape(randn([0], 1), [0, 1]), row).shape).toEqual([0, 3]);
  });

  it("names both shapes when they do not broadcast", () => {
    expect(() => add(a, fromNested([1, 2]))).toThrow("add: shapes (2, 3) and (2,) do not broadcast");
  });

  it("reduces along axes", () => {
    expect(sum(a)).toBe(21);
    expect(toNested(sum(a, 0))).toEqual([5, 7, 9]);
    expect(toNested(sum(a, 1, true))).toEqual([[6], [15]]);
    expect(toNested(mean(a, 1))).toEqual([2, 5]);
    expect(toNested(max(a, 0))).toEqual([4, 5, 6]);
    expect(min(a)).toBe(1);
    expect(toNested(max(transpose(a), 1))).toEqual([4, 5, 6]);
    // Population variance of [1, 4] is 2.25.
    expect(toNested(variance(a, 0))).toEqual([2.25, 2.25, 2.25]);
    expect(() => sum(a, 2)).toThrow("sum: axis 2 is out of range for t of shape (2, 3)");
  });

  it("takes argmax per row with ties to the first index", () => {
    expect(Array.from(argmax(fromNested([[1, 3, 3], [7, 0, 7], [-1, -2, -0.5]])))).toEqual([1, 0, 2]);
    expect(accuracy(new Int32Array([1, 2, 3]), new Int32Array([1, 0, 3]))).toBeCloseTo(2 / 3, 15);
  });
});

describe("argument checks", () => {
  it("names function, argument and both shapes", () => {
    const w = zeros([4, 3]);
    const x = zeros([2, 5]);
    expect(() => checkDimsEqual("affineForward", "x", x, 1, "w", w, 0)).toThrow(
      "affineForward: x.shape[1] (5) must equal w.shape[0] (4)",
    );
    expect(() => checkTensor("f", "x", x, [null, 4])).toThrow("f: x must have shape (*, 4), got (2, 5)");
    expect(() => checkTensor("f", "x", x, 3)).toThrow("f: x must have 3 dimensions, got shape (2, 5)");
  });

  it("rejects other dtypes with a sentence", () => {
    const f32 = ndarray(new Float32Array(4), [2, 2]);
    expect(() => checkTensor("f", "x", f32)).toThrow(DTypeError);
    expect(() => checkTensor("f", "x", f32)).toThrow("f: x must be a float64 tensor (ndarray over Float64Array), got an ndarray backed by Float32Array");
    expect(() => checkTensor("f", "x", [[1]])).toThrow("got a plain array");
    expect(() => checkLabels("f", "y", [1, 2])).toThrow("f: y must be an Int32Array of labels, got Array");
    expect(() => checkLabels("f", "y", new Int32Array([0, 3]), 2, 3)).toThrow("f: y[1] = 3 is not a valid label (expected 0..2)");
    expect(() => checkLabels("f", "y", new Int32Array(3), 4)).toThrow("f: y must have length 4 (one label per example), got length 3");
  });
});

function naiveMatmul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, p) => s + v * b[p][j], 0)));
}

describe("gemm", () => {
  it("multiplies the textbook 2x3 by 3x2 example", () => {
    const a = fromNested([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = fromNested([
      [7, 8],
      [9, 10],
      [11, 12],
    ]);
    expect(toNested(matmul(a, b))).toEqual([
      [58, 64],
      [139, 154],
    ]);
  });

  it("agrees with a naive triple loop across block edges, transposes and strided views (tolerance 1e-12 relative)", () => {
    const rng = new Rng(1);
    // Sizes straddle the micro-kernel (4), MC (64), KC (256) and NC (512) block edges.
    for (const [m, k, n] of [
      [1, 1, 1],
      [3, 5, 7],
      [65, 257, 30],
      [70, 20, 515],
    ]) {
      const a = randn([m, k], rng);
      const b = randn([k, n], rng);
      const want = naiveMatmul(toNested(a) as number[][], toNested(b) as number[][]);
      const wantT = fromNested(want);
      const scaleRef = Math.max(1, ...want.flat().map(Math.abs));
      expect(maxAbsDiff(matmul(a, b), wantT) / scaleRef).toBeLessThan(1e-12);
      // The same product through transposed storage: (B^T)^T (A^T)^T.
      const at = contiguous(transpose(a));
      const bt = contiguous(transpose(b));
      expect(maxAbsDiff(matmul(at, bt, true, true), wantT) / scaleRef).toBeLessThan(1e-12);
      expect(maxAbsDiff(matmul(transpose(at), b), wantT) / scaleRef).toBeLessThan(1e-12);
    }
  });

  it("accumulates with alpha and beta into a strided output view", () => {
    const a = fromNested([
      [1, 2],
      [3, 4],
    ]);
    const big = zeros([4, 4]);
    big.data.fill(1);
    const view = ndarray(big.data, [2, 2], [8, 2], 1); // rows 0 and 2, columns 1 and 3
    gemm(a, a, { alpha: 2, beta: 3, out: view });
    // 2 * [[7, 10], [15, 22]] + 3
    expect(toNested(view)).toEqual([
      [17, 23],
      [33, 47],
    ]);
    expect(big.data[0]).toBe(1); // untouched neighbours
    expect(big.data[4]).toBe(1);
  });

  it("reports mismatched inner dimensions with both shapes", () => {
    expect(() => matmul(zeros([2, 5]), zeros([4, 3]))).toThrow(ShapeError);
    expect(() => matmul(zeros([2, 5]), zeros([4, 3]))).toThrow("gemm: a.shape[1] (5) must equal b.shape[0] (4)");
    expect(() => gemm(zeros([2, 3]), zeros([3, 3]), { out: zeros([3, 3]) })).toThrow("gemm: out must have shape (2, 3), got (3, 3)");
  });

  it("handles empty dimensions", () => {
    expect(matmul(zeros([0, 3]), zeros([3, 2])).shape).toEqual([0, 2]);
    expect(allClose(matmul(zeros([2, 0]), zeros([0, 2])), zeros([2, 2]))).toBe(true);
  });
});

describe("linspace", () => {
  it("includes both ends", () => {
    expect(toNested(linspace(0, 1, 5))).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });
});
