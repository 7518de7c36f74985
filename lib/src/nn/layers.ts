import { ShapeError, shapeStr } from "../errors.js";
import { gemm } from "../gemm.js";
import { checkSameShape, checkTensor, isContiguous, reshape, sizeOf, tensor, toFloat64Array, type Tensor } from "../tensor.js";

// The forward/backward pairs of the fully connected layers: affine and the activation functions. Forward
// functions return { out, cache }; backward functions take (dout, cache) and return named gradients. Views
// with any strides are fine (read in row-major order), and no function modifies its arguments.

/** What affineForward keeps for the backward pass. */
export interface AffineCache {
  x: Tensor;
  w: Tensor;
  b: Tensor;
}

/** A forward pass's output and what its backward pass needs. */
export interface LayerOutput<C> {
  out: Tensor;
  cache: C;
}

/** x flattened to (N, D) (a view when x is row-major). */
function rows2d(x: Tensor): Tensor {
  return reshape(x, [x.shape[0], -1]);
}

/**
 * Affine (fully connected) layer out = x·w + b, each example's features flattened into one row.
 * x: (N, d1, ..., dk) with D = d1·...·dk, w: (D, M), b: (M), out: (N, M)
 */
export function affineForward(x: Tensor, w: Tensor, b: Tensor): LayerOutput<AffineCache> {
  const fn = "affineForward";
  checkTensor(fn, "x", x);
  checkTensor(fn, "w", w, 2);
  checkTensor(fn, "b", b, 1);
  if (x.shape.length < 2) throw new ShapeError(`${fn}: x must have shape (N, d1, ..., dk), got ${shapeStr(x.shape)}`);
  const x2 = rows2d(x);
  if (x2.shape[1] !== w.shape[0]) {
    throw new ShapeError(
      `${fn}: x's features per example (${x2.shape[1]}, from x ${shapeStr(x.shape)}) must equal w.shape[0] (${w.shape[0]})`,
    );
  }
  if (b.shape[0] !== w.shape[1]) throw new ShapeError(`${fn}: b.shape[0] (${b.shape[0]}) must equal w.shape[1] (${w.shape[1]})`);
  const out = gemm(x2, w);
  const bias = toFloat64Array(b);
  const o = out.data;
  const m = w.shape[1];
  for (let i = 0; i < o.length; i += m) for (let j = 0; j < m; j++) o[i + j] += bias[j];
  return { out, cache: { x, w, b } };
}

/**
 * Backward pass of affineForward.
 * dout: (N, M), dx: x's shape (N, d1, ..., dk), dw: (D, M), db: (M)
 */
export function affineBackward(dout: Tensor, cache: AffineCache): { dx: Tensor; dw: Tensor; db: Tensor } {
  const fn = "affineBackward";
  const { x, w } = cache;
  checkTensor(fn, "dout", dout, [x.shape[0], w.shape[1]]);
  const x2 = rows2d(x);
  const dx = reshape(gemm(dout, w, { transB: true }), x.shape);
  const dw = gemm(x2, dout, { transA: true });
  const g = toFloat64Array(dout);
  const m = w.shape[1];
  const db = new Float64Array(m);
  for (let i = 0; i < g.length; i += m) for (let j = 0; j < m; j++) db[j] += g[i + j];
  return { dx, dw, db: tensor(db, [m]) };
}

// Each activation has two paths with the same numbers: for a dense (row-major, contiguous) input a loop of
// its own over the input's memory, which calls the activation's formula directly (one call target, which the
// compiler inlines); for any other layout the general helpers below, which read a row-major copy and call
// the formula through a parameter. Both use the one formula function of each activation.

/** A new tensor of x's shape with f applied to each element (x read in row-major order). */
function elementwise(x: Tensor, f: (v: number) => number): Tensor {
  const src = toFloat64Array(x);
  const out = new Float64Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]);
  return tensor(out, x.shape);
}

/** dout times a local derivative computed from the cached tensor, elementwise: dx = dout · g(cached). */
function chain(dout: Tensor, cached: Tensor, g: (c: number) => number): { dx: Tensor } {
  const d = toFloat64Array(dout);
  const c = toFloat64Array(cached);
  const dx = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) dx[i] = d[i] * g(c[i]);
  return { dx: tensor(dx, dout.shape) };
}

/** A backward pass's checks: dout is a tensor of the cached tensor's shape. True when both are dense. */
function checkChain(fn: string, dout: Tensor, cached: Tensor): boolean {
  checkTensor(fn, "dout", dout);
  checkSameShape(fn, "dout", dout, "the cached input", cached);
  return isContiguous(dout) && isContiguous(cached);
}

function checkAlpha(fn: string, alpha: number): number {
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
    throw new RangeError(`${fn}: alpha must be a finite number, got ${String(alpha)}`);
  }
  return alpha;
}

const relu = (v: number): number => (v > 0 ? v : 0);
const reluSlope = (v: number): number => (v > 0 ? 1 : 0);

/** ReLU, max(0, x). x: any shape, out: x's shape; the cache is x. */
export function reluForward(x: Tensor): LayerOutput<Tensor> {
  checkTensor("reluForward", "x", x);
  if (!isContiguous(x)) return { out: elementwise(x, relu), cache: x };
  const out = new Float64Array(sizeOf(x.shape));
  const d = x.data;
  for (let i = 0, p = x.offset; i < out.length; i++, p++) out[i] = relu(d[p]);
  return { out: tensor(out, x.shape), cache: x };
}

/** Backward pass of reluForward; the gradient at 0 is 0. dout: x's shape, dx: x's shape */
export function reluBackward(dout: Tensor, cache: Tensor): { dx: Tensor } {
  if (!checkChain("reluBackward", dout, cache)) return chain(dout, cache, reluSlope);
  const dx = new Float64Array(sizeOf(dout.shape));
  const d = dout.data;
  const c = cache.data;
  for (let i = 0, p = dout.offset, q = cache.offset; i < dx.length; i++, p++, q++) dx[i] = d[p] * reluSlope(c[q]);
  return { dx: tensor(dx, dout.shape) };
}

/** What leakyReluForward and eluForward keep: the input and the slope parameter. */
export interface AlphaCache {
  x: Tensor;
  alpha: number;
}

const leakyRelu = (v: number, alpha: number): number => (v > 0 ? v : alpha * v);
const leakyReluSlope = (v: number, alpha: number): number => (v > 0 ? 1 : alpha);

/** Leaky ReLU, x for x > 0 and alpha·x otherwise. x: any shape, out: x's shape */
export function leakyReluForward(x: Tensor, alpha = 0.01): LayerOutput<AlphaCache> {
  checkTensor("leakyReluForward", "x", x);
  checkAlpha("leakyReluForward", alpha);
  if (!isContiguous(x)) return { out: elementwise(x, (v) => leakyRelu(v, alpha)), cache: { x, alpha } };
  const out = new Float64Array(sizeOf(x.shape));
  const d = x.data;
  for (let i = 0, p = x.offset; i < out.length; i++, p++) out[i] = leakyRelu(d[p], alpha);
  return { out: tensor(out, x.shape), cache: { x, alpha } };
}

/** Backward pass of leakyReluForward (slope alpha at 0). dout: x's shape, dx: x's shape */
export function leakyReluBackward(dout: Tensor, cache: AlphaCache): { dx: Tensor } {
  const { x, alpha } = cache;
  if (!checkChain("leakyReluBackward", dout, x)) return chain(dout, x, (v) => leakyReluSlope(v, alpha));
  const dx = new Float64Array(sizeOf(dout.shape));
  const d = dout.data;
  const c = x.data;
  for (let i = 0, p = dout.offset, q = x.offset; i < dx.length; i++, p++, q++) dx[i] = d[p] * leakyReluSlope(c[q], alpha);
  return { dx: tensor(dx, dout.shape) };
}

/** The logistic sigmoid 1 / (1 + e^−x), computed without overflow for any x. */
export function sigmoidValue(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

const sigmoidSlope = (s: number): number => s * (1 - s);

/** Sigmoid, 1 / (1 + e^−x), stable for large |x|. x: any shape, out: x's shape; the cache is out. */
export function sigmoidForward(x: Tensor): LayerOutput<Tensor> {
  checkTensor("sigmoidForward", "x", x);
  if (!isContiguous(x)) {
    const out = elementwise(x, sigmoidValue);
    return { out, cache: out };
  }
  const o = new Float64Array(sizeOf(x.shape));
  const d = x.data;
  for (let i = 0, p = x.offset; i < o.length; i++, p++) o[i] = sigmoidValue(d[p]);
  const out = tensor(o, x.shape);
  return { out, cache: out };
}

/** Backward pass of sigmoidForward: dx = dout·σ(x)·(1 − σ(x)). dout: x's shape, dx: x's shape */
export function sigmoidBackward(dout: Tensor, cache: Tensor): { dx: Tensor } {
  if (!checkChain("sigmoidBackward", dout, cache)) return chain(dout, cache, sigmoidSlope);
  const dx = new Float64Array(sizeOf(dout.shape));
  const d = dout.data;
  const c = cache.data;
  for (let i = 0, p = dout.offset, q = cache.offset; i < dx.length; i++, p++, q++) dx[i] = d[p] * sigmoidSlope(c[q]);
  return { dx: tensor(dx, dout.shape) };
}

const tanhSlope = (t: number): number => 1 - t * t;

/** Hyperbolic tangent. x: any shape, out: x's shape; the cache is out. */
export function tanhForward(x: Tensor): LayerOutput<Tensor> {
  checkTensor("tanhForward", "x", x);
  if (!isContiguous(x)) {
    const out = elementwise(x, Math.tanh);
    return { out, cache: out };
  }
  const o = new Float64Array(sizeOf(x.shape));
  const d = x.data;
  for (let i = 0, p = x.offset; i < o.length; i++, p++) o[i] = Math.tanh(d[p]);
  const out = tensor(o, x.shape);
  return { out, cache: out };
}

/** Backward pass of tanhForward: dx = dout·(1 − tanh²x). dout: x's shape, dx: x's shape */
export function tanhBackward(dout: Tensor, cache: Tensor): { dx: Tensor } {
  if (!checkChain("tanhBackward", dout, cache)) return chain(dout, cache, tanhSlope);
  const dx = new Float64Array(sizeOf(dout.shape));
  const d = dout.data;
  const c = cache.data;
  for (let i = 0, p = dout.offset, q = cache.offset; i < dx.length; i++, p++, q++) dx[i] = d[p] * tanhSlope(c[q]);
  return { dx: tensor(dx, dout.shape) };
}

const elu = (v: number, alpha: number): number => (v > 0 ? v : alpha * Math.expm1(v));
const eluSlope = (v: number, alpha: number): number => (v > 0 ? 1 : alpha * Math.exp(v));

/** ELU, x for x > 0 and alpha·(e^x − 1) otherwise. x: any shape, out: x's shape */
export function eluForward(x: Tensor, alpha = 1): LayerOutput<AlphaCache> {
  checkTensor("eluForward", "x", x);
  checkAlpha("eluForward", alpha);
  if (!isContiguous(x)) return { out: elementwise(x, (v) => elu(v, alpha)), cache: { x, alpha } };
  const out = new Float64Array(sizeOf(x.shape));
  const d = x.data;
  for (let i = 0, p = x.offset; i < out.length; i++, p++) out[i] = elu(d[p], alpha);
  return { out: tensor(out, x.shape), cache: { x, alpha } };
}

/** Backward pass of eluForward: 1 for x > 0, alpha·e^x otherwise. dout: x's shape, dx: x's shape */
export function eluBackward(dout: Tensor, cache: AlphaCache): { dx: Tensor } {
  const { x, alpha } = cache;
  if (!checkChain("eluBackward", dout, x)) return chain(dout, x, (v) => eluSlope(v, alpha));
  const dx = new Float64Array(sizeOf(dout.shape));
  const d = dout.data;
  const c = x.data;
  for (let i = 0, p = dout.offset, q = x.offset; i < dx.length; i++, p++, q++) dx[i] = d[p] * eluSlope(c[q], alpha);
  return { dx: tensor(dx, dout.shape) };
}
