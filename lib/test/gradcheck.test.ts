import { afterEach, describe, expect, it, vi } from "vitest";
import {
  copy,
  evalNumericalGradient,
  evalNumericalGradientArray,
  fromNested,
  gradCheckSparse,
  gradCheckSparseDetailed,
  map,
  matmul,
  maxAbsDiff,
  randn,
  relError,
  tensor,
  toFloat64Array,
  transpose,
  zeros,
  type Tensor,
} from "../src/index.js";

// Known gradients: f(x) = Σx² has gradient 2x; f(x) = xᵀAx has gradient (A + Aᵀ)x; f(x) = Σ sin(x) has
// gradient cos(x). With h = 1e-5 the centred difference's truncation error is about h²/6·|f'''| ~ 1e-11 and
// its rounding error about 1e-16·|f|/h ~ 1e-11·|f|, so relative errors below 1e-8 are a safe bound.
const TOL = 1e-8;

const sumSquares = (x: Tensor): number => {
  let s = 0;
  for (const v of toFloat64Array(x)) s += v * v;
  return s;
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe("relError", () => {
  it("computes max |a-b| / max(1e-8, |a|+|b|) elementwise", () => {
    const a = fromNested([1, 2, -3]);
    const b = fromNested([1, 2.5, -3.3]);
    // 0/2 = 0, 0.5/4.5 = 0.111..., 0.3/6.3 = 0.0476...
    expect(relError(a, b)).toBeCloseTo(0.5 / 4.5, 15);
  });

  it("uses the 1e-8 floor when both values are tiny", () => {
    expect(relError(0, 0)).toBe(0);
    // |a|+|b| = 2e-12 < 1e-8, so the denominator is 1e-8: 1e-12 / 1e-8 = 1e-4.
    expect(relError(1e-12, -1e-12)).toBeCloseTo(2e-12 / 1e-8, 18);
    expect(relError(tensor([0, 0]), tensor([0, 0]))).toBe(0);
  });

  it("is symmetric and honours strided views", () => {
    const a = randn([3, 4], 1);
    const b = randn([3, 4], 2);
    expect(relError(a, b)).toBe(relError(b, a));
    const at = transpose(a);
    const bt = transpose(b);
    expect(relError(at, bt)).toBe(relError(a, b));
  });

  it("rejects mismatched shapes and mixed arguments with clear messages", () => {
    expect(() => relError(zeros([2, 3]), zeros([3, 2]))).toThrow(/relError: a and b must have the same shape, got \(2, 3\) and \(3, 2\)/);
    expect(() => relError(zeros([2]), 1)).toThrow(/relError: a and b must both be numbers or both be tensors/);
  });
});

describe("evalNumericalGradient", () => {
  it("matches 2x for the sum of squares", () => {
    const x = randn([4, 5], 7);
    const num = evalNumericalGradient(sumSquares, x);
    const exact = map(x, (v) => 2 * v);
    expect(relError(num, exact)).toBeLessThan(TOL);
  });

  it("matches (A + Aᵀ)x for the quadratic form xᵀAx", () => {
    const A = randn([6, 6], 3);
    const x = randn([6, 1], 4);
    const f = (v: Tensor): number => matmul(v, matmul(A, v), true).data[0];
    const num = evalNumericalGradient(f, x);
    const exact = matmul(A, x);
    const exact2 = matmul(A, x, true);
    for (let i = 0; i < 6; i++) exact.data[i] += exact2.data[i];
    expect(relError(num, exact)).toBeLessThan(TOL);
  });

  it("matches cos(x) for Σ sin(x), on a transposed (strided) view, and restores x", () => {
    const base = randn([3, 4], 5);
    const x = transpose(base); // (4, 3) view with non-unit strides
    const before = copy(x);
    const f = (v: Tensor): number => toFloat64Array(v).reduce((s, t) => s + Math.sin(t), 0);
    const num = evalNumericalGradient(f, x);
    expect(num.shape).toEqual([4, 3]);
    expect(relError(num, map(x, Math.cos))).toBeLessThan(TOL);
    expect(maxAbsDiff(x, before)).toBe(0); // x is restored exactly
  });

  it("uses the given step", () => {
    // For f(x) = x³ at x = 1 the centred difference is 3 + h² exactly (up to rounding).
    const x = tensor([1]);
    const cube = (v: Tensor): number => v.data[0] ** 3;
    expect(evalNumericalGradient(cube, x, 1e-2).data[0]).toBeCloseTo(3 + 1e-4, 10);
    expect(evalNumericalGradient(cube, x, 1e-5).data[0]).toBeCloseTo(3, 8);
  });

  it("rejects bad arguments", () => {
    expect(() => evalNumericalGradient(sumSquares, [1, 2] as unknown as Tensor)).toThrow(/evalNumericalGradient: x must be a float64 tensor/);
    expect(() => evalNumericalGradient(sumSquares, zeros([2]), 0)).toThrow(/evalNumericalGradient: h must be a positive finite number/);
    expect(() => evalNumericalGradient(() => "x" as unknown as number, zeros([2]))).toThrow(/f must return a number/);
  });
});

describe("evalNumericalGradientArray", () => {
  it("matches Aᵀ·df for f(x) = A x", () => {
    const A = randn([5, 3], 11);
    const x = randn([3, 2], 12);
    const df = randn([5, 2], 13);
    const num = evalNumericalGradientArray((v) => matmul(A, v), x, df);
    expect(relError(num, matmul(A, df, true))).toBeLessThan(TOL);
  });

  it("matches cos(x)·df for the elementwise sine", () => {
    const x = randn([2, 3, 4], 21);
    const df = randn([2, 3, 4], 22);
    const num = evalNumericalGradientArray((v) => map(v, Math.sin), x, df);
    const exact = zeros([2, 3, 4]);
    const xf = toFloat64Array(x);
    const dff = toFloat64Array(df);
    for (let i = 0; i < xf.length; i++) exact.data[i] = Math.cos(xf[i]) * dff[i];
    expect(relError(num, exact)).toBeLessThan(TOL);
  });

  it("copies f's output, so a function that reuses its output buffer still works", () => {
    const buf = zeros([3]);
    const f = (v: Tensor): Tensor => {
      for (let i = 0; i < 3; i++) buf.data[i] = 2 * v.data[i];
      return buf;
    };
    const x = randn([3], 31);
    const df = tensor([1, -1, 0.5]);
    expect(relError(evalNumericalGradientArray(f, x, df), tensor([2, -2, 1]))).toBeLessThan(TOL);
  });

  it("rejects an output whose shape differs from df", () => {
    expect(() => evalNumericalGradientArray((v) => v, zeros([3]), zeros([4]))).toThrow(
      /evalNumericalGradientArray: f\(x\) has shape \(3,\) but df has shape \(4,\)/,
    );
  });
});

describe("gradCheckSparse", () => {
  it("returns tiny relative errors for a correct gradient and large ones for a wrong gradient", () => {
    const x = randn([10, 10], 41);
    const good = map(x, (v) => 2 * v);
    const errs = gradCheckSparse(sumSquares, x, good, 15, 0);
    expect(errs).toHaveLength(15);
    // Here f ≈ 100, so rounding alone gives absolute errors near 1e-16·100/1e-5 = 1e-9; on a gradient entry
    // as small as 0.05 that is a relative error of 1e-8. 1e-6 leaves room and still separates from 0.2 below.
    for (const e of errs) expect(e).toBeLessThan(1e-6);
    const bad = map(x, (v) => 3 * v); // off by a factor 1.5: relative error 1/5 everywhere
    for (const e of gradCheckSparse(sumSquares, x, bad, 5, 0)) expect(e).toBeCloseTo(0.2, 6);
  });

  it("is deterministic for a seed and samples positions of x in row-major order", () => {
    const x = randn([4, 6], 51);
    const grad = map(x, (v) => 2 * v);
    const a = gradCheckSparseDetailed(sumSquares, x, grad, 8, 3);
    const b = gradCheckSparseDetailed(sumSquares, x, grad, 8, 3);
    expect(a.map((s) => s.index)).toEqual(b.map((s) => s.index));
    for (const s of a) {
      expect(s.index).toBeGreaterThanOrEqual(0);
      expect(s.index).toBeLessThan(24);
      expect(s.analytic).toBe(grad.data[s.index]);
      expect(Math.abs(s.numerical - s.analytic)).toBeLessThan(1e-8);
    }
  });

  it("maps positions correctly on a transposed view", () => {
    const base = randn([3, 5], 61);
    const x = transpose(base); // (5, 3)
    const grad = map(x, (v) => 2 * v); // row-major (5, 3)
    for (const e of gradCheckSparse(sumSquares, x, grad, 20, 1)) expect(e).toBeLessThan(TOL);
  });

  it("prints like the classic course code only when asked", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const x = randn([3], 71);
    gradCheckSparse(sumSquares, x, map(x, (v) => 2 * v), 2, 0);
    expect(log).not.toHaveBeenCalled();
    gradCheckSparse(sumSquares, x, map(x, (v) => 2 * v), 2, 0, 1e-5, true);
    expect(log).toHaveBeenCalledTimes(2);
    expect(String(log.mock.calls[0][0])).toMatch(/^numerical: -?\d+\.\d{6} analytic: -?\d+\.\d{6}, relative error: \d\.\d+e[-+]\d+$/);
  });

  it("rejects a gradient of the wrong shape", () => {
    expect(() => gradCheckSparse(sumSquares, zeros([2, 3]), zeros([3, 2]))).toThrow(
      /gradCheckSparse: x and analyticGrad must have the same shape, got \(2, 3\) and \(3, 2\)/,
    );
  });
});
