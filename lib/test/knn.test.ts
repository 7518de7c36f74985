import { describe, expect, it } from "vitest";
import {
  Rng,
  accuracy,
  flattenImages,
  fromNested,
  kNearest,
  kNearestParallel,
  knnPredict,
  knnPredictParallel,
  loadFashionMnist,
  majorityVote,
  pairwiseDistances,
  randn,
  scaleTo01,
  tensor,
  transpose,
  voteNeighbours,
  type KnnMetric,
  type Neighbours,
  type Tensor,
} from "../src/index.js";
import { blockGroups } from "../src/knn/blocks.js";
import { TopK } from "../src/knn/topk.js";

// The independent reference: every distance by a plain double loop, every row fully sorted by
// (distance, training index).
function naiveNeighbours(train: number[][], test: number[][], k: number, metric: KnnMetric) {
  return test.map((q) => {
    const ds = train.map((x, j) => {
      let s = 0;
      for (let p = 0; p < q.length; p++) s += metric === "l1" ? Math.abs(q[p] - x[p]) : (q[p] - x[p]) ** 2;
      return { d: metric === "l1" ? s : Math.sqrt(s), j };
    });
    ds.sort((a, b) => a.d - b.d || a.j - b.j);
    return ds.slice(0, k);
  });
}

function rows(t: Tensor): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < t.shape[0]; i++) {
    const r: number[] = [];
    for (let j = 0; j < t.shape[1]; j++) r.push(t.get(i, j));
    out.push(r);
  }
  return out;
}

function expectMatchesNaive(nb: Neighbours, train: Tensor, test: Tensor, k: number, metric: KnnMetric): void {
  const ref = naiveNeighbours(rows(train), rows(test), k, metric);
  for (let i = 0; i < ref.length; i++) {
    for (let j = 0; j < k; j++) {
      expect(nb.indices[i * k + j], `test row ${i}, neighbour ${j}`).toBe(ref[i][j].j);
      // The GEMM identity loses a few ulps of ‖a‖² to cancellation: 1e-9 relative is far above that.
      expect(Math.abs(nb.distances[i * k + j] - ref[i][j].d)).toBeLessThanOrEqual(1e-9 * (1 + ref[i][j].d));
    }
  }
}

describe("pairwiseDistances", () => {
  it("reproduces the lecture's L1 example: the two 4x4 patches are 456 apart", () => {
    const testPatch = [56, 32, 10, 18, 90, 23, 128, 133, 24, 26, 178, 200, 2, 0, 255, 220];
    const trainPatch = [10, 20, 24, 17, 8, 10, 89, 100, 12, 16, 178, 170, 4, 32, 233, 112];
    const d = pairwiseDistances(tensor(testPatch, [1, 16]), tensor(trainPatch, [1, 16]), "l1");
    expect(d.get(0, 0)).toBe(456);
  });

  it("gives L2 and L1 matrices equal to a double loop, for views too", () => {
    const a = randn([7, 5], 1);
    const bT = randn([5, 9], 2); // b is a transposed view: strides (1, 9)
    const b = transpose(bT);
    for (const metric of ["l2", "l1"] as const) {
      const d = pairwiseDistances(a, b, metric);
      expect(d.shape).toEqual([7, 9]);
      const ra = rows(a);
      const rb = rows(b);
      for (let i = 0; i < 7; i++) {
        for (let j = 0; j < 9; j++) {
          let s = 0;
          for (let p = 0; p < 5; p++) s += metric === "l1" ? Math.abs(ra[i][p] - rb[j][p]) : (ra[i][p] - rb[j][p]) ** 2;
          // 1e-12 absolute: distances here are O(1), the identity's cancellation costs ~1e-15.
          expect(Math.abs(d.get(i, j) - (metric === "l1" ? s : Math.sqrt(s)))).toBeLessThan(1e-12);
        }
      }
    }
  });

  it("names both shapes on a dimension mismatch", () => {
    expect(() => pairwiseDistances(randn([2, 3], 1), randn([2, 4], 2))).toThrow(
      "pairwiseDistances: a.shape[1] (3) must equal b.shape[1] (4)",
    );
  });
});

describe("kNearest", () => {
  const train = randn([300, 12], 11);
  const test = randn([25, 12], 12);

  for (const metric of ["l2", "l1"] as const) {
    for (const method of ["brute", "pruned"] as const) {
      it(`${method} ${metric} finds the same neighbours as a full sort (k = 1, 4, 300)`, () => {
        for (const k of [1, 4, 300]) {
          const nb = kNearest(train, test, k, { metric, method });
          expect(nb.stats.method).toBe(method);
          expectMatchesNaive(nb, train, test, k, metric);
        }
      });
    }
  }

  it("pruned search on image-shaped rows matches brute force and prunes most candidates", () => {
    // Smooth random 12x12 "images" (sums of a few bumps) so block sums carry information, as in real images.
    const rng = new Rng(5);
    const img = (n: number): Tensor => {
      const t = new Float64Array(n * 144);
      for (let i = 0; i < n; i++) {
        for (let b = 0; b < 3; b++) {
          const cy = rng.uniform() * 12;
          const cx = rng.uniform() * 12;
          const a = rng.uniform();
          for (let y = 0; y < 12; y++) for (let x = 0; x < 12; x++) t[i * 144 + y * 12 + x] += a * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 8);
        }
      }
      return tensor(t, [n, 144]);
    };
    const tr = img(2000);
    const te = img(30);
    for (const metric of ["l2", "l1"] as const) {
      const a = kNearest(tr, te, 5, { metric, method: "brute" });
      const b = kNearest(tr, te, 5, { metric, method: "pruned", imageShape: [12, 12] });
      expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
      for (let i = 0; i < a.distances.length; i++) {
        expect(Math.abs(a.distances[i] - b.distances[i])).toBeLessThan(1e-9 * (1 + a.distances[i]));
      }
      expect(b.stats.exact!).toBeLessThan(0.25 * b.stats.candidates);
    }
  });

  it("compares 8-bit images in integer arithmetic and finds brute force's neighbours (ties by index)", () => {
    const ds = loadFashionMnist({ embedded: true, maxTrain: 1500, maxTest: 40 });
    const tr = scaleTo01(flattenImages(ds.xTrain));
    const te = scaleTo01(flattenImages(ds.xTest));
    const trRows = rows(tr);
    const teRows = rows(te);
    for (const metric of ["l2", "l1"] as const) {
      const a = kNearest(tr, te, 10, { metric, method: "brute" });
      const b = kNearest(tr, te, 10, { metric, method: "pruned" });
      expect(b.stats.integer, "the WebAssembly kernel (lib/src/wasm/knn.wasm, built by npm run build) was used").toBe(true);
      for (let i = 0; i < 40; i++) {
        for (let j = 0; j < 10; j++) {
          const at = i * 10 + j;
          // Same k-th distances as brute force (1e-9: float sums against exact integer sums / 255).
          expect(Math.abs(a.distances[at] - b.distances[at])).toBeLessThan(1e-9);
          // The reported neighbour really is at that distance...
          const x = trRows[b.indices[at]];
          let s = 0;
          for (let p = 0; p < 784; p++) s += metric === "l1" ? Math.abs(teRows[i][p] - x[p]) : (teRows[i][p] - x[p]) ** 2;
          expect(Math.abs((metric === "l1" ? s : Math.sqrt(s)) - b.distances[at])).toBeLessThan(1e-9);
          // ...and equal distances (exact in integers) come in index order.
          if (j > 0 && b.distances[at] === b.distances[at - 1]) expect(b.indices[at]).toBeGreaterThan(b.indices[at - 1]);
        }
      }
    }
  });

  it("breaks exact distance ties by the smaller training index (duplicates, integer data)", () => {
    // Integer coordinates make every distance exact in both methods, so ties are real ties.
    const rng = new Rng(3);
    const base = Array.from({ length: 40 }, () => Array.from({ length: 6 }, () => rng.int(4)));
    const trainRows = [...base, ...base, ...base.slice(0, 10)]; // every point at least twice
    const tr = fromNested(trainRows);
    const te = fromNested(Array.from({ length: 15 }, () => Array.from({ length: 6 }, () => rng.int(4))));
    for (const metric of ["l2", "l1"] as const) {
      for (const method of ["brute", "pruned"] as const) {
        expectMatchesNaive(kNearest(tr, te, 7, { metric, method }), tr, te, 7, metric);
      }
    }
  });

  it("accepts views (transposed and row-strided) and one training row", () => {
    const trT = randn([8, 50], 21); // (D, N): its transpose is a non-contiguous (N, D) view
    const tr = transpose(trT);
    const big = randn([20, 8], 22);
    const te = big.step(2, 1); // every other row
    for (const method of ["brute", "pruned"] as const) {
      expectMatchesNaive(kNearest(tr, te, 3, { method }), tr, te, 3, "l2");
    }
    const one = randn([1, 8], 23);
    const nb = kNearest(one, te, 1);
    expect(Array.from(nb.indices)).toEqual(new Array(10).fill(0));
  });

  it("rejects k out of range, bad shapes and bad options with clear messages", () => {
    expect(() => kNearest(train, test, 301)).toThrow("kNearest: k (301) must be at most the number of training rows (train (300, 12))");
    expect(() => kNearest(train, test, 0)).toThrow("kNearest: k must be a positive integer, got 0");
    expect(() => kNearest(train, randn([2, 5], 1), 1)).toThrow("kNearest: test.shape[1] (5) must equal train.shape[1] (12)");
    expect(() => kNearest(train, test, 1, { metric: "cosine" as KnnMetric })).toThrow('metric must be "l2" or "l1"');
    expect(() => kNearest(train, test, 1, { imageShape: [3, 5] })).toThrow("imageShape (3, 5) has 15 values but train rows have 12");
  });
});

describe("kNearestParallel", () => {
  it("uses worker threads and finds what kNearest finds", async () => {
    const train = randn([500, 16], 31);
    const test = randn([90, 16], 32);
    for (const metric of ["l2", "l1"] as const) {
      for (const method of ["brute", "pruned"] as const) {
        const a = kNearest(train, test, 5, { metric, method });
        const b = await kNearestParallel(train, test, 5, { metric, method, workers: 2 });
        expect(b.stats.threads).toBe(2);
        expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
        expect(Array.from(b.distances)).toEqual(Array.from(a.distances));
      }
    }
    const y = Int32Array.from({ length: 500 }, (_, i) => i % 3);
    expect(Array.from(await knnPredictParallel(train, y, test, 3))).toEqual(Array.from(knnPredict(train, y, test, 3)));
  });
});

describe("voting", () => {
  it("majorityVote breaks ties toward the smallest label", () => {
    expect(majorityVote([3, 1, 3, 1])).toBe(1);
    expect(majorityVote([2, 2, 0, 5, 5])).toBe(2);
    expect(majorityVote([7])).toBe(7);
    expect(majorityVote([4, 9, 9, 4, 4], 4)).toBe(4); // only the first four count: 4 and 9 tie
    expect(majorityVote([4, 9, 9, 1], 3)).toBe(9);
  });

  it("voteNeighbours votes over the first k of the neighbours found", () => {
    const nb: Neighbours = {
      k: 3,
      numTest: 2,
      indices: Int32Array.from([0, 1, 2, 3, 2, 1]),
      distances: new Float64Array(6),
      stats: { method: "brute", threads: 1, candidates: 0 },
    };
    const y = Int32Array.from([5, 2, 2, 5]);
    expect(Array.from(voteNeighbours(nb, y, 1))).toEqual([5, 5]);
    expect(Array.from(voteNeighbours(nb, y, 2))).toEqual([2, 2]); // 5 and 2 tie: 2 wins
    expect(Array.from(voteNeighbours(nb, y, 3))).toEqual([2, 2]);
    expect(() => voteNeighbours(nb, y, 4)).toThrow("voteNeighbours: k must be an integer in 1..3");
  });

  it("knnPredict with k = N is the majority class, ties to the smallest label", () => {
    const train = randn([6, 2], 41);
    const y = Int32Array.from([2, 1, 2, 1, 0, 0]);
    expect(Array.from(knnPredict(train, y, randn([4, 2], 42), 6))).toEqual([0, 0, 0, 0]);
    expect(() => knnPredict(train, Int32Array.from([1, 2]), randn([4, 2], 42), 1)).toThrow(
      "knnPredict: yTrain has length 2 but train has 6 rows (train (6, 2))",
    );
  });
});

describe("internals", () => {
  it("TopK keeps the k smallest (distance, index) pairs in order", () => {
    const rng = new Rng(9);
    const h = new TopK(6);
    const pairs = Array.from({ length: 200 }, (_, i) => ({ d: rng.int(20), i }));
    for (const p of pairs) h.push(p.d, p.i);
    const od = new Float64Array(6);
    const oi = new Int32Array(6);
    h.drain(od, oi, 0, false);
    const want = pairs.slice().sort((a, b) => a.d - b.d || a.i - b.i).slice(0, 6);
    expect(Array.from(oi)).toEqual(want.map((p) => p.i));
    expect(Array.from(od)).toEqual(want.map((p) => p.d));
  });

  it("blockGroups cuts a 28x28 image into 7x7, 4x4 and 2x2 blocks", () => {
    const g = blockGroups(784);
    expect(g.map((x) => Math.max(...x) + 1)).toEqual([16, 49, 196]);
    expect(g[0][27 * 28 + 27]).toBe(15);
    expect(g[2][3 * 28 + 5]).toBe(1 * 14 + 2);
  });
});

describe("Fashion-MNIST sanity figures", () => {
  // Reference figures measured with scikit-learn's brute-force kNN (version 1.2, float64) on the first 5,000 training
  // and first 500 test images, pixels in [0, 1], gives k=1 L2 0.814, k=1 L1 0.826, k=5 L2 0.818. Our
  // neighbours must land within a point (0.01) of these. The embedded subset holds exactly those images.
  it("k=1 L2, k=1 L1 and k=5 L2 accuracies on the first 5,000 / 500", async () => {
    const ds = loadFashionMnist({ embedded: true, maxTrain: 5000, maxTest: 500 });
    const xTr = scaleTo01(flattenImages(ds.xTrain));
    const xTe = scaleTo01(flattenImages(ds.xTest));
    const l2 = await kNearestParallel(xTr, xTe, 5, { metric: "l2" });
    const l1 = await kNearestParallel(xTr, xTe, 1, { metric: "l1" });
    const acc = {
      l2k1: accuracy(voteNeighbours(l2, ds.yTrain, 1), ds.yTest),
      l1k1: accuracy(voteNeighbours(l1, ds.yTrain, 1), ds.yTest),
      l2k5: accuracy(voteNeighbours(l2, ds.yTrain, 5), ds.yTest),
    };
    const got = JSON.stringify(acc);
    expect(Math.abs(acc.l2k1 - 0.814), got).toBeLessThanOrEqual(0.01);
    expect(Math.abs(acc.l1k1 - 0.826), got).toBeLessThanOrEqual(0.01);
    expect(Math.abs(acc.l2k5 - 0.818), got).toBeLessThanOrEqual(0.01);
  });
});
