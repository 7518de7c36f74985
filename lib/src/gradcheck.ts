import { DTypeError, ShapeError, shapeStr } from "./errors.js";
import { Rng } from "./random.js";
import { checkSameShape, checkTensor, forEachIndex, isTensor, sizeOf, toFloat64Array, zeros, type Tensor } from "./tensor.js";

// Gradient checking: centred differences (f(x+h) - f(x-h)) / 2h, whose error shrinks like h², and the
// relative error |a - b| / max(1e-8, |a| + |b|). With float64 and h = 1e-5 a correct analytic gradient of a
// smooth function typically agrees to 1e-8 or better; kinks (max(0, ·)) can cost a few positions more.

/** The data indices of x's elements in row-major order (honours strides and offset). */
function dataIndices(x: Tensor): Int32Array {
  const idx = new Int32Array(sizeOf(x.shape));
  forEachIndex(x, (p, k) => {
    idx[k] = p;
  });
  return idx;
}

function checkStep(fn: string, h: number): void {
  if (!(typeof h === "number" && Number.isFinite(h) && h > 0)) {
    throw new RangeError(`${fn}: h must be a positive finite number, got ${String(h)}`);
  }
}

function checkScalar(fn: string, v: unknown, where: string): number {
  if (typeof v !== "number") {
    throw new DTypeError(`${fn}: f must return a number, got ${v === null ? "null" : typeof v} at ${where}`);
  }
  return v;
}

/**
 * The numerical gradient of a scalar function by centred differences; x is perturbed in place and restored.
 * x: any shape, out: same shape as x (a new row-major tensor)
 */
export function evalNumericalGradient(f: (x: Tensor) => number, x: Tensor, h = 1e-5): Tensor {
  checkTensor("evalNumericalGradient", "x", x);
  checkStep("evalNumericalGradient", h);
  const grad = zeros(x.shape);
  const idx = dataIndices(x);
  const d = x.data;
  for (let k = 0; k < idx.length; k++) {
    const p = idx[k];
    const old = d[p];
    d[p] = old + h;
    const fPlus = checkScalar("evalNumericalGradient", f(x), `element ${k}`);
    d[p] = old - h;
    const fMinus = checkScalar("evalNumericalGradient", f(x), `element ${k}`);
    d[p] = old;
    grad.data[k] = (fPlus - fMinus) / (2 * h);
  }
  return grad;
}

/**
 * The numerical gradient of sum(f(x) * df) with respect to x, for a function returning a tensor
 * (the upstream gradient df has f(x)'s shape); x is perturbed in place and restored.
 * x: any shape, df: shape of f(x), out: same shape as x
 */
export function evalNumericalGradientArray(f: (x: Tensor) => Tensor, x: Tensor, df: Tensor, h = 1e-5): Tensor {
  const fn = "evalNumericalGradientArray";
  checkTensor(fn, "x", x);
  checkTensor(fn, "df", df);
  checkStep(fn, h);
  const grad = zeros(x.shape);
  const idx = dataIndices(x);
  const dfFlat = toFloat64Array(df);
  const d = x.data;
  const evalOut = (where: string): Float64Array => {
    const out = f(x);
    if (!isTensor(out)) throw new DTypeError(`${fn}: f must return a float64 tensor at ${where}`);
    if (sizeOf(out.shape) !== dfFlat.length || out.shape.length !== df.shape.length || out.shape.some((s, i) => s !== df.shape[i])) {
      throw new ShapeError(`${fn}: f(x) has shape ${shapeStr(out.shape)} but df has shape ${shapeStr(df.shape)}`);
    }
    // Copy: f may return a view of a buffer it reuses between calls.
    return Float64Array.from(toFloat64Array(out));
  };
  for (let k = 0; k < idx.length; k++) {
    const p = idx[k];
    const old = d[p];
    d[p] = old + h;
    const pos = evalOut(`element ${k}`);
    d[p] = old - h;
    const neg = evalOut(`element ${k}`);
    d[p] = old;
    let s = 0;
    for (let i = 0; i < dfFlat.length; i++) s += (pos[i] - neg[i]) * dfFlat[i];
    grad.data[k] = s / (2 * h);
  }
  return grad;
}

/**
 * The largest elementwise relative error max |a - b| / max(1e-8, |a| + |b|) between two tensors of the same
 * shape (or two numbers); 0 for empty tensors.
 */
export function relError(a: Tensor | number, b: Tensor | number): number {
  if (typeof a === "number" && typeof b === "number") {
    return Math.abs(a - b) / Math.max(1e-8, Math.abs(a) + Math.abs(b));
  }
  if (typeof a === "number" || typeof b === "number") {
    throw new DTypeError("relError: a and b must both be numbers or both be tensors");
  }
  checkTensor("relError", "a", a);
  checkTensor("relError", "b", b);
  checkSameShape("relError", "a", a, "b", b);
  const fa = toFloat64Array(a);
  const fb = toFloat64Array(b);
  let worst = 0;
  for (let i = 0; i < fa.length; i++) {
    const e = Math.abs(fa[i] - fb[i]) / Math.max(1e-8, Math.abs(fa[i]) + Math.abs(fb[i]));
    if (e > worst || Number.isNaN(e)) worst = e;
  }
  return worst;
}

/** One sampled comparison made by gradCheckSparse. */
export interface GradCheckSample {
  /** Row-major position of the element in x. */
  index: number;
  numerical: number;
  analytic: number;
  relError: number;
}

/**
 * Compares an analytic gradient with centred differences at `numChecks` positions of x drawn with a seeded
 * generator (with replacement, as the classic course code does); returns the relative error of each check.
 * With `verbose` it prints one line per check, `numerical: … analytic: …, relative error: …`.
 * x: any shape, analyticGrad: same shape as x
 */
export function gradCheckSparse(
  f: (x: Tensor) => number,
  x: Tensor,
  analyticGrad: Tensor,
  numChecks = 10,
  seed = 0,
  h = 1e-5,
  verbose = false,
): number[] {
  return gradCheckSparseDetailed(f, x, analyticGrad, numChecks, seed, h, verbose).map((s) => s.relError);
}

/** gradCheckSparse returning, for each check, the position and both gradient values as well. */
export function gradCheckSparseDetailed(
  f: (x: Tensor) => number,
  x: Tensor,
  analyticGrad: Tensor,
  numChecks = 10,
  seed = 0,
  h = 1e-5,
  verbose = false,
): GradCheckSample[] {
  const fn = "gradCheckSparse";
  checkTensor(fn, "x", x);
  checkTensor(fn, "analyticGrad", analyticGrad);
  checkSameShape(fn, "x", x, "analyticGrad", analyticGrad);
  checkStep(fn, h);
  if (!Number.isInteger(numChecks) || numChecks < 0) {
    throw new RangeError(`${fn}: numChecks must be a non-negative integer, got ${numChecks}`);
  }
  const idx = dataIndices(x);
  if (idx.length === 0) return [];
  const grad = toFloat64Array(analyticGrad);
  const rng = new Rng(seed);
  const d = x.data;
  const out: GradCheckSample[] = [];
  for (let c = 0; c < numChecks; c++) {
    const k = rng.int(idx.length);
    const p = idx[k];
    const old = d[p];
    d[p] = old + h;
    const fPlus = checkScalar(fn, f(x), `check ${c}`);
    d[p] = old - h;
    const fMinus = checkScalar(fn, f(x), `check ${c}`);
    d[p] = old;
    const numerical = (fPlus - fMinus) / (2 * h);
    const analytic = grad[k];
    const err = relError(numerical, analytic);
    out.push({ index: k, numerical, analytic, relError: err });
    if (verbose) {
      console.log(`numerical: ${numerical.toFixed(6)} analytic: ${analytic.toFixed(6)}, relative error: ${err.toExponential(6)}`);
    }
  }
  return out;
}
