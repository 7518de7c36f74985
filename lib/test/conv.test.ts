import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  Rng,
  convBackwardFast,
  convBackwardFastParams,
  convForwardFast,
  evalNumericalGradientArray,
  maxAbsDiff,
  maxPoolBackwardFast,
  maxPoolForwardFast,
  randn,
  relError,
  setThreads,
  tensor,
  threadCount,
  transpose,
  zeros,
  type ConvGeometry,
  type ConvParam,
  type PoolParam,
  type Tensor,
} from "../src/index.js";
import { poolStats } from "../src/threads/pool.js";

// Independent references: the convolution and max pooling written as plain loops over every output and
// every filter tap, straight from the definitions (zero padding, cross-correlation, the first maximum of a
// window in row-major order taking the gradient).

const get4 = (t: Tensor, a: number, b: number, c: number, d: number): number =>
  t.data[t.offset + a * t.stride[0] + b * t.stride[1] + c * t.stride[2] + d * t.stride[3]];

function convNaive(x: Tensor, w: Tensor, b: Tensor, stride: number, pad: number) {
  const [N, C, H, W] = x.shape;
  const [F, , HH, WW] = w.shape;
  const Ho = 1 + (H + 2 * pad - HH) / stride;
  const Wo = 1 + (W + 2 * pad - WW) / stride;
  const out = zeros([N, F, Ho, Wo]);
  const dOut = (dout: Tensor) => {
    const dx = zeros(x.shape);
    const dw = zeros(w.shape);
    const db = zeros([F]);
    for (let n = 0; n < N; n++)
      for (let f = 0; f < F; f++)
        for (let i = 0; i < Ho; i++)
          for (let j = 0; j < Wo; j++) {
            const g = get4(dout, n, f, i, j);
            db.data[f] += g;
            for (let c = 0; c < C; c++)
              for (let u = 0; u < HH; u++)
                for (let v = 0; v < WW; v++) {
                  const ih = i * stride + u - pad;
                  const iw = j * stride + v - pad;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                  dw.data[((f * C + c) * HH + u) * WW + v] += g * get4(x, n, c, ih, iw);
                  dx.data[((n * C + c) * H + ih) * W + iw] += g * get4(w, f, c, u, v);
                }
          }
    return { dx, dw, db };
  };
  for (let n = 0; n < N; n++)
    for (let f = 0; f < F; f++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let s = b.data[b.offset + f * b.stride[0]];
          for (let c = 0; c < C; c++)
            for (let u = 0; u < HH; u++)
              for (let v = 0; v < WW; v++) {
                const ih = i * stride + u - pad;
                const iw = j * stride + v - pad;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += get4(x, n, c, ih, iw) * get4(w, f, c, u, v);
              }
          out.data[((n * F + f) * Ho + i) * Wo + j] = s;
        }
  return { out, backward: dOut };
}

function maxPoolNaive(x: Tensor, ph: number, pw: number, stride: number) {
  const [N, C, H, W] = x.shape;
  const Ho = 1 + (H - ph) / stride;
  const Wo = 1 + (W - pw) / stride;
  const out = zeros([N, C, Ho, Wo]);
  const where: number[] = [];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let best = -Infinity;
          let at = -1;
          for (let u = 0; u < ph; u++)
            for (let v = 0; v < pw; v++) {
              const val = get4(x, n, c, i * stride + u, j * stride + v);
              if (at < 0 || val > best) {
                best = val;
                at = ((n * C + c) * H + i * stride + u) * W + j * stride + v;
              }
            }
          out.data[((n * C + c) * Ho + i) * Wo + j] = best;
          where.push(at);
        }
  const backward = (dout: Tensor) => {
    const dx = zeros(x.shape);
    for (let k = 0; k < where.length; k++) dx.data[where[k]] += dout.data[k];
    return dx;
  };
  return { out, backward };
}

type ConvCase = Omit<ConvGeometry, "Ho" | "Wo">;

// A random geometry that divides: sizes drawn until (H + 2·pad − HH) and (W + 2·pad − WW) are
// non-negative multiples of the stride.
function randomConvCase(rng: Rng): ConvCase {
  for (;;) {
    const c: ConvCase = {
      N: 1 + rng.int(3),
      C: 1 + rng.int(3),
      H: 3 + rng.int(8),
      W: 3 + rng.int(8),
      F: 1 + rng.int(4),
      HH: 1 + rng.int(5),
      WW: 1 + rng.int(5),
      stride: 1 + rng.int(3),
      pad: rng.int(4),
    };
    const sh = c.H + 2 * c.pad - c.HH;
    const sw = c.W + 2 * c.pad - c.WW;
    if (sh >= 0 && sw >= 0 && sh % c.stride === 0 && sw % c.stride === 0) return c;
  }
}

describe("convForwardFast / convBackwardFast", () => {
  it("agree with the naive loops to 1e-10 on 60 random geometries (strides 1-3, padding 0-3, non-square filters)", () => {
    const rng = new Rng(7);
    const seen = { stride2: 0, pad3: 0, nonSquare: 0, batchOne: 0 };
    for (let t = 0; t < 60; t++) {
      const g = randomConvCase(rng);
      if (g.stride === 2) seen.stride2++;
      if (g.pad === 3) seen.pad3++;
      if (g.HH !== g.WW) seen.nonSquare++;
      if (g.N === 1) seen.batchOne++;
      const x = randn([g.N, g.C, g.H, g.W], rng);
      const w = randn([g.F, g.C, g.HH, g.WW], rng);
      const b = randn([g.F], rng);
      const ref = convNaive(x, w, b, g.stride, g.pad);
      const { out, cache } = convForwardFast(x, w, b, { stride: g.stride, pad: g.pad });
      expect(out.shape).toEqual(ref.out.shape);
      expect(maxAbsDiff(out, ref.out)).toBeLessThan(1e-10);
      const dout = randn(out.shape, rng);
      const want = ref.backward(dout);
      expect(cache.cols).not.toBeNull();
      const got = convBackwardFast(dout, cache);
      expect(maxAbsDiff(got.dx, want.dx)).toBeLessThan(1e-10);
      expect(maxAbsDiff(got.dw, want.dw)).toBeLessThan(1e-10);
      expect(maxAbsDiff(got.db, want.db)).toBeLessThan(1e-10);
      const params = convBackwardFastParams(dout, cache);
      expect(maxAbsDiff(params.dw, want.dw)).toBeLessThan(1e-10);
      expect(maxAbsDiff(params.db, want.db)).toBeLessThan(1e-10);
    }
    // The sweep really covers the cases the contract names.
    expect(Math.min(seen.stride2, seen.pad3, seen.nonSquare, seen.batchOne)).toBeGreaterThan(0);
  });

  it("a hand-worked case: the lecture's 3x3 filter on a 5x5 image, valid, same and stride 2", () => {
    const x = tensor(Float64Array.from({ length: 25 }, (_, k) => k + 1), [1, 1, 5, 5]);
    const w = tensor([5.4, 0.1, 3.6, 1.8, 2.3, 4.5, 1.1, 3.4, 7.2], [1, 1, 3, 3]);
    const b = tensor([0.5], [1]);
    const valid = convForwardFast(x, w, b, { stride: 1, pad: 0 }).out;
    expect(valid.shape).toEqual([1, 1, 3, 3]);
    // Top-left output: the 3x3 patch 1 2 3 / 6 7 8 / 11 12 13 times the filter, plus the bias.
    expect(valid.data[0]).toBeCloseTo(5.4 + 0.2 + 10.8 + 10.8 + 16.1 + 36 + 12.1 + 40.8 + 93.6 + 0.5, 12);
    // Each step right adds one to every pixel under the filter: the filter's sum, 29.4.
    expect(valid.data[1] - valid.data[0]).toBeCloseTo(29.4, 12);
    const same = convForwardFast(x, w, b, { stride: 1, pad: 1 }).out;
    expect(same.shape).toEqual([1, 1, 5, 5]);
    // The corner sees only the lower-right 2x2 of the filter: 1·2.3 + 2·4.5 + 6·3.4 + 7·7.2 + 0.5
    expect(same.data[0]).toBeCloseTo(2.3 + 9 + 20.4 + 50.4 + 0.5, 12);
    // Stride 2 = the same convolution keeping every second row and column.
    const strided = convForwardFast(x, w, b, { stride: 2, pad: 1 }).out;
    expect(strided.shape).toEqual([1, 1, 3, 3]);
    expect(Array.from(strided.data)).toEqual([0, 2, 4, 10, 12, 14, 20, 22, 24].map((k) => same.data[k]));
  });

  it("honours strided views and convolves large batches in chunks with the same numbers", () => {
    const rng = new Rng(3);
    // 230 images of 28x28 with a 7x7 filter make more column matrix than one chunk holds.
    const x = randn([230, 1, 28, 28], rng);
    const w = randn([2, 1, 7, 7], rng);
    const b = randn([2], rng);
    const ref = convNaive(x, w, b, 1, 3);
    const { out, cache } = convForwardFast(x, w, b, { stride: 1, pad: 3 });
    // Too many columns to keep: the backward pass gathers them again.
    expect(cache.cols).toBeNull();
    expect(maxAbsDiff(out, ref.out)).toBeLessThan(1e-10);
    const dout = randn(out.shape, rng);
    const want = ref.backward(dout);
    const got = convBackwardFast(dout, cache);
    expect(maxAbsDiff(got.dx, want.dx)).toBeLessThan(1e-10);
    expect(maxAbsDiff(got.dw, want.dw)).toBeLessThan(1e-9);

    // x given as a transposed view (W and H swapped), w likewise.
    const xt = transpose(randn([2, 3, 6, 5], rng), 0, 1, 3, 2);
    const wt = transpose(randn([4, 3, 2, 3], rng), 0, 1, 3, 2);
    const bt = randn([4], rng);
    const r2 = convNaive(xt, wt, bt, 2, 2);
    expect(maxAbsDiff(convForwardFast(xt, wt, bt, { stride: 2, pad: 2 }).out, r2.out)).toBeLessThan(1e-10);
  });

  it("passes a gradient check below 1e-8 for x, w and b", () => {
    const rng = new Rng(11);
    const x = randn([2, 3, 7, 6], rng);
    const w = randn([3, 3, 3, 2], rng);
    const b = randn([3], rng);
    const p = { stride: 2, pad: 1 };
    const { out, cache } = convForwardFast(x, w, b, p);
    const dout = randn(out.shape, rng);
    const { dx, dw, db } = convBackwardFast(dout, cache);
    const nx = evalNumericalGradientArray((v) => convForwardFast(v, w, b, p).out, x, dout);
    const nw = evalNumericalGradientArray((v) => convForwardFast(x, v, b, p).out, w, dout);
    const nb = evalNumericalGradientArray((v) => convForwardFast(x, w, v, p).out, b, dout);
    expect(relError(dx, nx)).toBeLessThan(1e-8);
    expect(relError(dw, nw)).toBeLessThan(1e-8);
    expect(relError(db, nb)).toBeLessThan(1e-8);
  });

  it("rejects geometry that does not divide and mismatched channels, naming both sizes", () => {
    const x = zeros([1, 3, 5, 5]);
    expect(() => convForwardFast(x, zeros([2, 3, 2, 2]), zeros([2]), { stride: 2, pad: 0 })).toThrow(
      /convForwardFast: .*height.*\(height 5 \+ 2·pad 0 − filter height 2\) = 3 is not a multiple of the stride 2/,
    );
    expect(() => convForwardFast(x, zeros([2, 1, 3, 3]), zeros([2]), { stride: 1, pad: 1 })).toThrow(
      /convForwardFast: the filters have 1 channels \(w.shape\[1\]\) but the input has 3 \(x.shape\[1\]\)/,
    );
    expect(() => convForwardFast(x, zeros([2, 3, 3, 3]), zeros([3]), { stride: 1, pad: 1 })).toThrow(
      /b.shape\[0\] \(3\) must equal the number of filters w.shape\[0\] \(2\)/,
    );
    expect(() => convForwardFast(x, zeros([2, 3, 9, 3]), zeros([2]), { stride: 1, pad: 1 })).toThrow(/filter height \(9\) is larger/);
    expect(() => convForwardFast(x, zeros([2, 3, 3, 3]), zeros([2]), { stride: 0, pad: 1 })).toThrow(/stride must be an integer >= 1/);
    const { cache } = convForwardFast(x, zeros([2, 3, 3, 3]), zeros([2]), { stride: 1, pad: 1 });
    expect(() => convBackwardFast(zeros([1, 2, 4, 5]), cache)).toThrow(/dout must have the forward output's shape \(1, 2, 5, 5\), got \(1, 2, 4, 5\)/);
  });
});

describe("convolution on lib's threads", () => {
  it("gives the same numbers, bit for bit, on one and two threads, and runs on the pool with two", () => {
    const rng = new Rng(11);
    // Big enough to go to the pool (2e6 multiply-adds and more), with a last task of fewer images.
    const cases: Array<[number[], number[], ConvParam]> = [
      [[37, 3, 16, 16], [16, 3, 3, 3], { stride: 1, pad: 1 }],
      [[30, 2, 31, 23], [24, 2, 5, 3], { stride: 2, pad: 2 }],
    ];
    const original = threadCount();
    try {
      for (const [xs, ws, p] of cases) {
        const x = randn(xs, rng);
        const w = randn(ws, rng);
        const b = randn([ws[0]], rng);
        const runs = [1, 2].map((threads) => {
          setThreads(threads);
          const before = poolStats().jobsOnWorkers;
          const f = convForwardFast(x, w, b, p);
          const dout = randn(f.out.shape, new Rng(5));
          const g = convBackwardFast(dout, f.cache);
          const gp = convBackwardFastParams(dout, f.cache);
          return { out: f.out, ...g, dwp: gp.dw, pooled: poolStats().jobsOnWorkers - before };
        });
        const [one, two] = runs;
        expect(one.pooled).toBe(0);
        expect(two.pooled).toBe(3); // forward, backward, backward without dx
        for (const k of ["out", "dx", "dw", "db", "dwp"] as const) expect(maxAbsDiff(one[k], two[k])).toBe(0);
        expect(maxAbsDiff(one.dw, one.dwp)).toBe(0);
        // And against the naive loops.
        const ref = convNaive(x, w, b, p.stride, p.pad);
        expect(maxAbsDiff(two.out, ref.out)).toBeLessThan(1e-10);
      }
    } finally {
      setThreads(original);
    }
  });
});

describe("max pooling on lib's threads", () => {
  it("gives the same outputs and gradients, bit for bit, on one and two threads (tiled and overlapping windows)", () => {
    const rng = new Rng(12);
    const original = threadCount();
    try {
      // 2^18 values and more go to the pool; 61 images x 9 channels leave a last task of fewer planes.
      for (const [shape, p] of [
        [[61, 9, 24, 24], { poolHeight: 2, poolWidth: 2, stride: 2 }],
        [[40, 8, 29, 29], { poolHeight: 3, poolWidth: 3, stride: 2 }],
      ] as Array<[number[], PoolParam]>) {
        // Small integers: many ties, which must go to the same (first) maximum on every thread count.
        const x = tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.int(4)), shape);
        const runs = [1, 2].map((threads) => {
          setThreads(threads);
          const before = poolStats().jobsOnWorkers;
          const f = maxPoolForwardFast(x, p);
          const dx = maxPoolBackwardFast(randn(f.out.shape, new Rng(3)), f.cache).dx;
          return { out: f.out, dx, pooled: poolStats().jobsOnWorkers - before };
        });
        expect(runs[0].pooled).toBe(0);
        expect(runs[1].pooled).toBe(2);
        expect(maxAbsDiff(runs[0].out, runs[1].out)).toBe(0);
        expect(maxAbsDiff(runs[0].dx, runs[1].dx)).toBe(0);
        const ref = maxPoolNaive(x, p.poolHeight, p.poolWidth, p.stride);
        expect(maxAbsDiff(runs[1].out, ref.out)).toBe(0);
        expect(maxAbsDiff(runs[1].dx, ref.backward(randn(runs[1].out.shape, new Rng(3))))).toBeLessThan(1e-12);
      }
    } finally {
      setThreads(original);
    }
  });
});

describe("maxPoolForwardFast / maxPoolBackwardFast", () => {
  const cases: Array<[number, number, number, number, number, string]> = [
    // H, W, poolHeight, poolWidth, stride, path
    [8, 6, 2, 2, 2, "2x2"],
    [9, 9, 3, 3, 3, "tiled"],
    [6, 8, 2, 4, 2, "general: non-square window"],
    [7, 7, 3, 3, 2, "general: overlapping"],
    [5, 6, 2, 3, 1, "general: stride 1"],
    [4, 4, 1, 1, 1, "tiled: 1x1"],
  ];
  for (const [H, W, ph, pw, stride, path] of cases) {
    it(`agrees with the naive loops, ties included (${H}x${W}, pool ${ph}x${pw}, stride ${stride}, ${path})`, () => {
      const rng = new Rng(H * 100 + W * 10 + ph);
      for (const N of [1, 3]) {
        // Small integers make many ties inside windows; the first maximum in row-major order must win.
        const x = tensor(Float64Array.from({ length: N * 2 * H * W }, () => rng.int(3)), [N, 2, H, W]);
        const ref = maxPoolNaive(x, ph, pw, stride);
        const { out, cache } = maxPoolForwardFast(x, { poolHeight: ph, poolWidth: pw, stride });
        expect(maxAbsDiff(out, ref.out)).toBe(0);
        const dout = randn(out.shape, rng);
        expect(maxAbsDiff(maxPoolBackwardFast(dout, cache).dx, ref.backward(dout))).toBeLessThan(1e-12);
      }
    });
  }

  it("passes a gradient check below 1e-8 (distinct values), including a strided view", () => {
    const rng = new Rng(5);
    const x = transpose(randn([2, 3, 8, 6], rng), 0, 1, 3, 2);
    for (const p of [{ poolHeight: 2, poolWidth: 2, stride: 2 }, { poolHeight: 3, poolWidth: 2, stride: 1 }]) {
      const { out, cache } = maxPoolForwardFast(x, p);
      const dout = randn(out.shape, rng);
      const num = evalNumericalGradientArray((v) => maxPoolForwardFast(v, p).out, x, dout);
      expect(relError(maxPoolBackwardFast(dout, cache).dx, num)).toBeLessThan(1e-8);
    }
  });

  it("the tie rule on a hand-made window, and clear errors", () => {
    const x = tensor([1, 4, 4, 2, 0, 4, 3, 3, 1, 1, 1, 2, 3, 3, 2, 1], [1, 1, 4, 4]);
    const { out, cache } = maxPoolForwardFast(x, { poolHeight: 2, poolWidth: 2, stride: 2 });
    expect(Array.from(out.data)).toEqual([4, 4, 3, 2]);
    const dx = maxPoolBackwardFast(tensor([1, 2, 3, 4], [1, 1, 2, 2]), cache).dx;
    expect(Array.from(dx.data)).toEqual([0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 4, 3, 0, 0, 0]);
    expect(() => maxPoolForwardFast(zeros([1, 1, 5, 4]), { poolHeight: 2, poolWidth: 2, stride: 2 })).toThrow(
      /maxPoolForwardFast: .*\(height 5 \+ 2·pad 0 − pool height 2\) = 3 is not a multiple of the stride 2/,
    );
    expect(() => maxPoolForwardFast(zeros([1, 1, 4]), { poolHeight: 2, poolWidth: 2, stride: 2 })).toThrow(/x must have 4 dimensions/);
    expect(() => maxPoolBackwardFast(zeros([1, 1, 3, 2]), cache)).toThrow(/dout must have the forward output's shape \(1, 1, 2, 2\)/);
  });
});

describe("against PyTorch (float64 fixtures from lib/test/fixtures/make_conv_reference.py)", () => {
  interface Case {
    kind: "conv" | "maxpool";
    x: number[];
    xShape: number[];
    w?: number[];
    wShape?: number[];
    b?: number[];
    stride: number;
    pad?: number;
    poolHeight?: number;
    poolWidth?: number;
    out: number[];
    outShape: number[];
    dout: number[];
    dx: number[];
    dw?: number[];
    db?: number[];
  }
  const fixture = JSON.parse(readFileSync(new URL("./fixtures/conv-reference.json", import.meta.url), "utf8")) as { cases: Case[] };
  const t = (v: number[], shape: number[]) => tensor(Float64Array.from(v), shape);

  it("has conv and pooling cases", () => {
    expect(fixture.cases.filter((c) => c.kind === "conv").length).toBeGreaterThanOrEqual(4);
    expect(fixture.cases.filter((c) => c.kind === "maxpool").length).toBeGreaterThanOrEqual(3);
  });
  fixture.cases.forEach((c, i) => {
    it(`case ${i}: ${c.kind} ${JSON.stringify(c.xShape)} stride ${c.stride} agrees to 1e-10`, () => {
      const x = t(c.x, c.xShape);
      const dout = t(c.dout, c.outShape);
      if (c.kind === "conv") {
        const w = t(c.w!, c.wShape!);
        const { out, cache } = convForwardFast(x, w, t(c.b!, [c.b!.length]), { stride: c.stride, pad: c.pad! });
        expect(out.shape).toEqual(c.outShape);
        expect(maxAbsDiff(out, t(c.out, c.outShape))).toBeLessThan(1e-10);
        const g = convBackwardFast(dout, cache);
        expect(maxAbsDiff(g.dx, t(c.dx, c.xShape))).toBeLessThan(1e-10);
        expect(maxAbsDiff(g.dw, t(c.dw!, c.wShape!))).toBeLessThan(1e-10);
        expect(maxAbsDiff(g.db, t(c.db!, [c.db!.length]))).toBeLessThan(1e-10);
      } else {
        const { out, cache } = maxPoolForwardFast(x, { poolHeight: c.poolHeight!, poolWidth: c.poolWidth!, stride: c.stride });
        expect(maxAbsDiff(out, t(c.out, c.outShape))).toBe(0);
        expect(maxAbsDiff(maxPoolBackwardFast(dout, cache).dx, t(c.dx, c.xShape))).toBeLessThan(1e-12);
      }
    });
  });
});
