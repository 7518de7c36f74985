import ndarray from "ndarray";
import type { NdArray } from "ndarray";
import ops from "ndarray-ops";
import { DTypeError, ShapeError, shapeStr } from "./errors.js";
import { Rng, toRng } from "./random.js";

/** A float64 n-dimensional array; views honour shape, stride and offset. */
export type Tensor = NdArray<Float64Array>;
/** Class labels, one per example, values in 0..C-1. */
export type Labels = Int32Array;
/** Nested arrays of numbers, e.g. [[1, 2], [3, 4]]. */
export type Nested = number | Nested[];

export { shapeStr };

// ---------------------------------------------------------------- checks

/** True when x is an ndarray backed by a Float64Array. */
export function isTensor(x: unknown): x is Tensor {
  return (
    typeof x === "object" &&
    x !== null &&
    Array.isArray((x as Tensor).shape) &&
    Array.isArray((x as Tensor).stride) &&
    (x as Tensor).data instanceof Float64Array
  );
}

/**
 * Checks that `x` is a float64 tensor whose shape matches `expected` (null = any size) and returns it.
 * Errors read `fn: arg must have shape (N, 3), got (4, 2)`.
 */
export function checkTensor(
  fn: string,
  arg: string,
  x: unknown,
  expected?: ReadonlyArray<number | null> | number,
): Tensor {
  if (!isTensor(x)) {
    const what =
      x === null || x === undefined
        ? String(x)
        : typeof x === "object" && "data" in (x as object) && (x as { data: unknown }).data
          ? `an ndarray backed by ${(x as { data: object }).data.constructor.name}`
          : Array.isArray(x)
            ? "a plain array"
            : typeof x;
    throw new DTypeError(`${fn}: ${arg} must be a float64 tensor (ndarray over Float64Array), got ${what}`);
  }
  if (typeof expected === "number") {
    if (x.shape.length !== expected) {
      throw new ShapeError(`${fn}: ${arg} must have ${expected} dimensions, got shape ${shapeStr(x.shape)}`);
    }
  } else if (expected) {
    const ok =
      x.shape.length === expected.length && expected.every((e, i) => e === null || e === x.shape[i]);
    if (!ok) {
      const wantStr = `(${expected.map((e) => (e === null ? "*" : String(e))).join(", ")})`;
      throw new ShapeError(`${fn}: ${arg} must have shape ${wantStr}, got ${shapeStr(x.shape)}`);
    }
  }
  for (let i = 0; i < x.shape.length; i++) {
    if (!Number.isInteger(x.shape[i]) || x.shape[i] < 0) {
      throw new ShapeError(`${fn}: ${arg} has an invalid shape ${shapeStr(x.shape)}`);
    }
  }
  return x;
}

/** Throws `fn: a.shape[i] (p) must equal b.shape[j] (q)` unless the two sizes agree. */
export function checkDimsEqual(
  fn: string,
  aName: string,
  a: Tensor,
  i: number,
  bName: string,
  b: Tensor,
  j: number,
): void {
  if (a.shape[i] !== b.shape[j]) {
    throw new ShapeError(
      `${fn}: ${aName}.shape[${i}] (${a.shape[i]}) must equal ${bName}.shape[${j}] (${b.shape[j]})`,
    );
  }
}

/** Checks that two tensors have the same shape. */
export function checkSameShape(fn: string, aName: string, a: Tensor, bName: string, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new ShapeError(
      `${fn}: ${aName} and ${bName} must have the same shape, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`,
    );
  }
}

/** Checks that y is an Int32Array of n labels in 0..numClasses-1 (numClasses optional). */
export function checkLabels(fn: string, arg: string, y: unknown, n?: number, numClasses?: number): Labels {
  if (!(y instanceof Int32Array)) {
    const got = y === null || y === undefined ? String(y) : (y as object).constructor?.name ?? typeof y;
    throw new DTypeError(`${fn}: ${arg} must be an Int32Array of labels, got ${got}`);
  }
  if (n !== undefined && y.length !== n) {
    throw new ShapeError(`${fn}: ${arg} must have length ${n} (one label per example), got length ${y.length}`);
  }
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v < 0 || (numClasses !== undefined && v >= numClasses)) {
      const range = numClasses !== undefined ? `0..${numClasses - 1}` : "0 or more";
      throw new RangeError(`${fn}: ${arg}[${i}] = ${v} is not a valid label (expected ${range})`);
    }
  }
  return y;
}

export function sameShape(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------- creation

/** Number of elements in a shape. */
export function sizeOf(shape: ArrayLike<number>): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: ArrayLike<number>): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

function checkShapeArg(fn: string, shape: ReadonlyArray<number>): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ShapeError(`${fn}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape.slice();
}

/** Wraps a Float64Array (no copy) as a row-major tensor. */
export function tensor(data: Float64Array | ArrayLike<number>, shape?: ReadonlyArray<number>): Tensor {
  const buf = data instanceof Float64Array ? data : Float64Array.from(data);
  const s = shape ? checkShapeArg("tensor", shape) : [buf.length];
  if (sizeOf(s) !== buf.length) {
    throw new ShapeError(`tensor: data has ${buf.length} elements but shape ${shapeStr(s)} needs ${sizeOf(s)}`);
  }
  return ndarray(buf, s, stridesOf(s), 0);
}

/** A tensor of zeros. */
export function zeros(shape: ReadonlyArray<number>): Tensor {
  const s = checkShapeArg("zeros", shape);
  return ndarray(new Float64Array(sizeOf(s)), s, stridesOf(s), 0);
}

/** A tensor filled with `value`. */
export function full(shape: ReadonlyArray<number>, value: number): Tensor {
  const t = zeros(shape);
  t.data.fill(value);
  return t;
}

/** A tensor of ones. */
export function ones(shape: ReadonlyArray<number>): Tensor {
  return full(shape, 1);
}

/** A tensor of zeros with the shape of `t`. */
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape);
}

/** Builds a tensor from nested arrays, e.g. fromNested([[1, 2], [3, 4]]) has shape (2, 2). */
export function fromNested(nested: Nested): Tensor {
  const shape: number[] = [];
  let probe: Nested = nested;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0];
  }
  const out = new Float64Array(sizeOf(shape));
  let k = 0;
  const walk = (node: Nested, depth: number, path: number[]): void => {
    if (depth === shape.length) {
      if (typeof node !== "number") {
        throw new ShapeError(`fromNested: ragged array at index [${path.join("][")}], expected a number`);
      }
      out[k++] = node;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const got = Array.isArray(node) ? `length ${node.length}` : typeof node;
      throw new ShapeError(
        `fromNested: ragged array at index [${path.join("][")}]: expected length ${shape[depth]}, got ${got}`,
      );
    }
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, path.concat(i));
  };
  walk(nested, 0, []);
  return tensor(out, shape);
}

/** Converts a tensor to nested arrays (a scalar for 0-d). */
export function toNested(t: Tensor): Nested {
  const flat = toFloat64Array(t);
  let k = 0;
  const build = (depth: number): Nested => {
    if (depth === t.shape.length) return flat[k++];
    const arr: Nested[] = [];
    for (let i = 0; i < t.shape[depth]; i++) arr.push(build(depth + 1));
    return arr;
  };
  return build(0);
}

/** Evenly spaced values from start to stop inclusive. */
export function linspace(start: number, stop: number, num: number): Tensor {
  const out = zeros([num]);
  for (let i = 0; i < num; i++) out.data[i] = num === 1 ? start : start + ((stop - start) * i) / (num - 1);
  return out;
}

/** Values start, start+step, ... below stop. */
export function arange(start: number, stop?: number, step = 1): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const out = zeros([n]);
  for (let i = 0; i < n; i++) out.data[i] = start + i * step;
  return out;
}

/** Uniform draws in [low, high) from a seed or an Rng. */
export function randUniform(shape: ReadonlyArray<number>, seed: number | Rng, low = 0, high = 1): Tensor {
  const rng = toRng(seed);
  const t = zeros(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniformRange(low, high);
  return t;
}

/** Gaussian draws with the given mean and standard deviation, from a seed or an Rng. */
export function randn(shape: ReadonlyArray<number>, seed: number | Rng, std = 1, mean = 0): Tensor {
  const rng = toRng(seed);
  const t = zeros(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = mean + std * rng.gaussian();
  return t;
}

// ---------------------------------------------------------------- layout

/** True when t's elements are laid out row-major and dense from its offset. */
export function isContiguous(t: Tensor): boolean {
  let acc = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== acc) return false;
    acc *= t.shape[i];
  }
  return true;
}

/** Calls fn(dataIndex, k) for every element in row-major order, k counting from 0. */
export function forEachIndex(t: Tensor, fn: (dataIndex: number, k: number) => void): void {
  const nd = t.shape.length;
  const n = sizeOf(t.shape);
  if (n === 0) return;
  if (nd === 0) {
    fn(t.offset, 0);
    return;
  }
  if (isContiguous(t)) {
    for (let k = 0; k < n; k++) fn(t.offset + k, k);
    return;
  }
  if (nd === 2) {
    const [r, c] = t.shape;
    const [s0, s1] = t.stride;
    let k = 0;
    for (let i = 0; i < r; i++) {
      let p = t.offset + i * s0;
      for (let j = 0; j < c; j++, p += s1) fn(p, k++);
    }
    return;
  }
  const idx = new Array<number>(nd).fill(0);
  let p = t.offset;
  for (let k = 0; k < n; k++) {
    fn(p, k);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      p += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      p -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
  }
}

/** A dense row-major copy of t's elements (t.data itself when t is already dense over all of it). */
export function toFloat64Array(t: Tensor): Float64Array {
  const n = sizeOf(t.shape);
  if (isContiguous(t)) {
    if (t.offset === 0 && t.data.length === n) return t.data;
    return t.data.slice(t.offset, t.offset + n);
  }
  const out = new Float64Array(n);
  const d = t.data;
  forEachIndex(t, (p, k) => {
    out[k] = d[p];
  });
  return out;
}

/** A fresh row-major copy of t. */
export function copy(t: Tensor): Tensor {
  const flat = toFloat64Array(t);
  return tensor(flat === t.data ? flat.slice() : flat, t.shape);
}

/** t itself when it is row-major and dense, else a row-major copy. */
export function contiguous(t: Tensor): Tensor {
  return isContiguous(t) ? t : copy(t);
}

/** A view (or, for non-contiguous input, a copy) with a new shape; one dimension may be -1. */
export function reshape(t: Tensor, shape: ReadonlyArray<number>): Tensor {
  checkTensor("reshape", "t", t);
  const s = shape.slice();
  const n = sizeOf(t.shape);
  const unknown = s.indexOf(-1);
  if (unknown >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== unknown));
    s[unknown] = rest === 0 ? 0 : n / rest;
  }
  if (!s.every((d) => Number.isInteger(d) && d >= 0) || sizeOf(s) !== n) {
    throw new ShapeError(`reshape: cannot reshape t of shape ${shapeStr(t.shape)} into ${shapeStr(shape)}`);
  }
  const c = contiguous(t);
  return ndarray(c.data, s, stridesOf(s), c.offset);
}

/** Flattens (N, d1, ..., dk) to (N, d1*...*dk). */
export function flattenRows(t: Tensor): Tensor {
  checkTensor("flattenRows", "t", t);
  if (t.shape.length < 1) throw new ShapeError(`flattenRows: t must have at least 1 dimension, got ()`);
  return reshape(t, [t.shape[0], -1]);
}

/** A transposed view; with no axes the order of all axes is reversed. */
export function transpose(t: Tensor, ...axes: number[]): Tensor {
  checkTensor("transpose", "t", t);
  const order = axes.length ? axes : t.shape.map((_, i) => t.shape.length - 1 - i);
  const sorted = order.slice().sort((a, b) => a - b);
  if (order.length !== t.shape.length || !sorted.every((a, i) => a === i)) {
    throw new ShapeError(`transpose: axes ${JSON.stringify(order)} are not a permutation of t's ${t.shape.length} axes`);
  }
  return ndarray(
    t.data,
    order.map((a) => t.shape[a]),
    order.map((a) => t.stride[a]),
    t.offset,
  );
}

/** A view of rows [start, end) of t along axis 0. */
export function sliceRows(t: Tensor, start: number, end: number): Tensor {
  checkTensor("sliceRows", "t", t);
  const n = t.shape[0];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
    throw new RangeError(`sliceRows: need 0 <= start <= end <= ${n}, got start ${start}, end ${end}`);
  }
  const shape = t.shape.slice();
  shape[0] = end - start;
  return ndarray(t.data, shape, t.stride.slice(), t.offset + start * t.stride[0]);
}

/** A new tensor holding the rows of t at the given indices, in that order. */
export function takeRows(t: Tensor, indices: ArrayLike<number>): Tensor {
  checkTensor("takeRows", "t", t);
  const n = t.shape[0];
  const rowShape = t.shape.slice(1);
  const rowSize = sizeOf(rowShape);
  const out = zeros([indices.length, ...rowShape]);
  // A dense t holds row r at offset + r·rowSize: copy it straight from there.
  const dense = isContiguous(t);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (!Number.isInteger(r) || r < 0 || r >= n) {
      throw new RangeError(`takeRows: indices[${i}] = ${r} is out of range for ${n} rows`);
    }
    if (dense) {
      const from = t.offset + r * rowSize;
      out.data.set(t.data.subarray(from, from + rowSize), i * rowSize);
    } else {
      out.data.set(toFloat64Array(sliceRows(t, r, r + 1)).subarray(0, rowSize), i * rowSize);
    }
  }
  return out;
}

/** Labels at the given indices. */
export function takeLabels(y: Labels, indices: ArrayLike<number>): Labels {
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (r < 0 || r >= y.length) throw new RangeError(`takeLabels: indices[${i}] = ${r} is out of range for ${y.length} labels`);
    out[i] = y[r];
  }
  return out;
}

/** Stacks tensors with equal trailing shapes along axis 0. */
export function concatRows(parts: Tensor[]): Tensor {
  if (parts.length === 0) throw new ShapeError("concatRows: need at least one tensor");
  parts.forEach((p, i) => checkTensor("concatRows", `parts[${i}]`, p));
  const rest = parts[0].shape.slice(1);
  parts.forEach((p, i) => {
    if (!sameShape(p.shape.slice(1), rest)) {
      throw new ShapeError(
        `concatRows: parts[${i}] has shape ${shapeStr(p.shape)}, rows must have shape ${shapeStr(rest)} like parts[0]`,
      );
    }
  });
  const out = zeros([parts.reduce((a, p) => a + p.shape[0], 0), ...rest]);
  let at = 0;
  for (const p of parts) {
    const flat = toFloat64Array(p);
    out.data.set(flat, at);
    at += flat.length;
  }
  return out;
}

/** Reads one element; indices must be in range. */
export function at(t: Tensor, ...idx: number[]): number {
  let p = t.offset;
  for (let i = 0; i < idx.length; i++) p += idx[i] * t.stride[i];
  return t.data[p];
}

// ---------------------------------------------------------------- elementwise

/** The broadcast shape of a and b, numpy rules; null if they do not broadcast. */
export function broadcastShape(a: ReadonlyArray<number>, b: ReadonlyArray<number>): number[] | null {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out[i] = da === 1 ? db : da;
  }
  return out;
}

function broadcastTo(t: Tensor, shape: number[]): { stride: number[]; offset: number } {
  const n = shape.length;
  const stride = new Array<number>(n).fill(0);
  for (let i = 0; i < t.shape.length; i++) {
    const j = n - t.shape.length + i;
    stride[j] = t.shape[i] === 1 && shape[j] !== 1 ? 0 : t.stride[i];
  }
  return { stride, offset: t.offset };
}

type Operand = Tensor | number;

/** The binary operations that have a loop of their own, with no call per element. */
type BinaryOp = "add" | "sub" | "mul" | "div" | "maximum" | "minimum";

/**
 * One run of a binary operation: o[k + j] = a[pa + j·sa] op b[pb + j·sb] for j < len. The operation is chosen
 * once per run, so each loop is a plain one the compiler keeps tight (the same values f(x, y) would give).
 */
function binaryRun(op: BinaryOp, len: number, o: Float64Array, k: number, ad: Float64Array, pa: number, sa: number, bd: Float64Array, pb: number, sb: number): void {
  switch (op) {
    case "add":
      for (let j = 0; j < len; j++, pa += sa, pb += sb) o[k + j] = ad[pa] + bd[pb];
      return;
    case "sub":
      for (let j = 0; j < len; j++, pa += sa, pb += sb) o[k + j] = ad[pa] - bd[pb];
      return;
    case "mul":
      for (let j = 0; j < len; j++, pa += sa, pb += sb) o[k + j] = ad[pa] * bd[pb];
      return;
    case "div":
      for (let j = 0; j < len; j++, pa += sa, pb += sb) o[k + j] = ad[pa] / bd[pb];
      return;
    case "maximum":
      for (let j = 0; j < len; j++, pa += sa, pb += sb) {
        const x = ad[pa];
        const y = bd[pb];
        o[k + j] = x > y ? x : y;
      }
      return;
    case "minimum":
      for (let j = 0; j < len; j++, pa += sa, pb += sb) {
        const x = ad[pa];
        const y = bd[pb];
        o[k + j] = x < y ? x : y;
      }
      return;
  }
}

/** Applies f elementwise to a and b with numpy broadcasting; `fn` names the caller in errors. */
export function zipWith(fn: string, a: Operand, b: Operand, f: (x: number, y: number) => number): Tensor {
  return binary(fn, a, b, f, null);
}

/**
 * zipWith, with a plain loop for the named operations (op, which must compute what f does). A number
 * operand is a 0-d tensor broadcast to the other's shape. Dense operands of one shape, and a dense tensor
 * with a number, are one run over all elements; anything else is walked one run along the last axis at a
 * time.
 */
function binary(fn: string, a: Operand, b: Operand, f: (x: number, y: number) => number, op: BinaryOp | null): Tensor {
  if (typeof a === "number" && typeof b === "number") return tensor([f(a, b)], []);
  if (typeof a !== "number") checkTensor(fn, "a", a);
  if (typeof b !== "number") checkTensor(fn, "b", b);
  const ta = typeof a === "number" ? tensor([a], []) : a;
  const tb = typeof b === "number" ? tensor([b], []) : b;
  const shape = broadcastShape(ta.shape, tb.shape);
  if (!shape) {
    throw new ShapeError(`${fn}: shapes ${shapeStr(ta.shape)} and ${shapeStr(tb.shape)} do not broadcast`);
  }
  const out = zeros(shape);
  const o = out.data;
  const n = o.length;
  if (n === 0) return out;
  const ad = ta.data;
  const bd = tb.data;
  // One run over everything: dense operands of the output's shape (stride 1) or numbers (stride 0).
  const whole = (t: Tensor, isNumber: boolean): number => (isNumber ? 0 : sameShape(t.shape, shape) && isContiguous(t) ? 1 : -1);
  const wa = whole(ta, typeof a === "number");
  const wb = whole(tb, typeof b === "number");
  if (wa >= 0 && wb >= 0) {
    if (op !== null) binaryRun(op, n, o, 0, ad, ta.offset, wa, bd, tb.offset, wb);
    else for (let k = 0, pa = ta.offset, pb = tb.offset; k < n; k++, pa += wa, pb += wb) o[k] = f(ad[pa], bd[pb]);
    return out;
  }
  // Broadcasting: walk the output in row-major order, one run along the last axis at a time, each operand
  // advancing by its own (possibly zero) strides. No per-element index bookkeeping: this is the path of
  // sub(XTrain, row) in a one-loop distance computation, so it must stay close to a plain loop.
  const as = broadcastTo(ta, shape).stride;
  const bs = broadcastTo(tb, shape).stride;
  const nd = shape.length;
  const last = shape[nd - 1];
  const sa = as[nd - 1];
  const sb = bs[nd - 1];
  const idx = new Array<number>(nd).fill(0);
  let pa = ta.offset;
  let pb = tb.offset;
  for (let k = 0; k < n; k += last) {
    if (op !== null) binaryRun(op, last, o, k, ad, pa, sa, bd, pb, sb);
    else for (let j = 0, qa = pa, qb = pb; j < last; j++, qa += sa, qb += sb) o[k + j] = f(ad[qa], bd[qb]);
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      pa += as[d];
      pb += bs[d];
      if (idx[d] < shape[d]) break;
      pa -= as[d] * shape[d];
      pb -= bs[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

export const add = (a: Operand, b: Operand): Tensor => binary("add", a, b, (x, y) => x + y, "add");
export const sub = (a: Operand, b: Operand): Tensor => binary("sub", a, b, (x, y) => x - y, "sub");
export const mul = (a: Operand, b: Operand): Tensor => binary("mul", a, b, (x, y) => x * y, "mul");
export const div = (a: Operand, b: Operand): Tensor => binary("div", a, b, (x, y) => x / y, "div");
export const maximum = (a: Operand, b: Operand): Tensor => binary("maximum", a, b, (x, y) => (x > y ? x : y), "maximum");
export const minimum = (a: Operand, b: Operand): Tensor => binary("minimum", a, b, (x, y) => (x < y ? x : y), "minimum");

/** A new tensor with f applied to every element. */
export function map(t: Tensor, f: (x: number) => number): Tensor {
  checkTensor("map", "t", t);
  const out = zeros(t.shape);
  const o = out.data;
  const d = t.data;
  if (isContiguous(t)) {
    for (let k = 0, p = t.offset; k < o.length; k++, p++) o[k] = f(d[p]);
    return out;
  }
  forEachIndex(t, (p, k) => {
    o[k] = f(d[p]);
  });
  return out;
}

/** Multiplies every element by s. */
export function scale(t: Tensor, s: number): Tensor {
  return map(t, (x) => x * s);
}

/** In place: a += alpha * b (same shapes). Returns a. */
export function addScaledInPlace(a: Tensor, b: Tensor, alpha = 1): Tensor {
  checkTensor("addScaledInPlace", "a", a);
  checkTensor("addScaledInPlace", "b", b);
  checkSameShape("addScaledInPlace", "a", a, "b", b);
  if (a.data !== b.data && isContiguous(a) && isContiguous(b)) {
    // The same sums as the general path below, a + b or a + (b·alpha), for operands that share no memory.
    const ad = a.data;
    const bd = b.data;
    const n = sizeOf(a.shape);
    if (alpha === 1) for (let k = 0, p = a.offset, q = b.offset; k < n; k++, p++, q++) ad[p] += bd[q];
    else for (let k = 0, p = a.offset, q = b.offset; k < n; k++, p++, q++) ad[p] += bd[q] * alpha;
    return a;
  }
  if (alpha === 1) ops.addeq(a, b);
  else {
    const tmp = scale(b, alpha);
    ops.addeq(a, tmp);
  }
  return a;
}

/** In place: copies b's values into a (same shapes). Returns a. */
export function assign(a: Tensor, b: Tensor): Tensor {
  checkTensor("assign", "a", a);
  checkTensor("assign", "b", b);
  checkSameShape("assign", "a", a, "b", b);
  ops.assign(a, b);
  return a;
}

// ---------------------------------------------------------------- reductions

/**
 * A reduction of t (all of it, or along one axis) by acc = step(acc, x) from init, then finish(acc, count).
 * `additive` says that step is acc + x, which a dense t then runs as a plain loop.
 */
function reduceAxis(
  fn: string,
  t: Tensor,
  axis: number | undefined,
  keepDims: boolean,
  init: number,
  step: (acc: number, x: number) => number,
  finish: (acc: number, n: number) => number,
  additive = false,
): Tensor | number {
  checkTensor(fn, "t", t);
  const d = t.data;
  const dense = isContiguous(t);
  if (axis === undefined) {
    let acc = init;
    if (dense && additive) {
      for (let p = t.offset, end = t.offset + sizeOf(t.shape); p < end; p++) acc += d[p];
    } else {
      forEachIndex(t, (p) => {
        acc = step(acc, d[p]);
      });
    }
    return finish(acc, sizeOf(t.shape));
  }
  const nd = t.shape.length;
  const ax = axis < 0 ? axis + nd : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= nd) {
    throw new RangeError(`${fn}: axis ${axis} is out of range for t of shape ${shapeStr(t.shape)}`);
  }
  const outShape = t.shape.filter((_, i) => i !== ax);
  const len = t.shape[ax];
  const out = zeros(outShape);
  const o = out.data;
  if (dense) {
    // t is (outer, len, inner) in memory: accumulate whole rows of `inner` accumulators, one slice of the
    // axis after the other, which adds each output's terms in the same order as the strided walk below.
    const inner = sizeOf(t.shape.slice(ax + 1));
    const outer = sizeOf(t.shape.slice(0, ax));
    o.fill(init);
    for (let q = 0; q < outer; q++) {
      const ob = q * inner;
      for (let i = 0; i < len; i++) {
        const row = t.offset + (q * len + i) * inner;
        if (additive) for (let j = 0; j < inner; j++) o[ob + j] += d[row + j];
        else for (let j = 0; j < inner; j++) o[ob + j] = step(o[ob + j], d[row + j]);
      }
    }
    for (let k = 0; k < o.length; k++) o[k] = finish(o[k], len);
  } else {
    const outerView = ndarray(
      t.data,
      outShape,
      t.stride.filter((_, i) => i !== ax),
      t.offset,
    );
    const s = t.stride[ax];
    forEachIndex(outerView, (p, k) => {
      let acc = init;
      for (let i = 0; i < len; i++) acc = step(acc, d[p + i * s]);
      o[k] = finish(acc, len);
    });
  }
  if (keepDims) {
    const kept = t.shape.slice();
    kept[ax] = 1;
    return reshape(out, kept);
  }
  return out;
}

/** Sum of all elements (a number), or along an axis (a tensor). */
export function sum(t: Tensor): number;
export function sum(t: Tensor, axis: number, keepDims?: boolean): Tensor;
export function sum(t: Tensor, axis?: number, keepDims = false): Tensor | number {
  return reduceAxis("sum", t, axis, keepDims, 0, (a, x) => a + x, (a) => a, true);
}

/** Mean of all elements, or along an axis. */
export function mean(t: Tensor): number;
export function mean(t: Tensor, axis: number, keepDims?: boolean): Tensor;
export function mean(t: Tensor, axis?: number, keepDims = false): Tensor | number {
  return reduceAxis("mean", t, axis, keepDims, 0, (a, x) => a + x, (a, n) => a / n, true);
}

/** Maximum of all elements, or along an axis. */
export function max(t: Tensor): number;
export function max(t: Tensor, axis: number, keepDims?: boolean): Tensor;
export function max(t: Tensor, axis?: number, keepDims = false): Tensor | number {
  return reduceAxis("max", t, axis, keepDims, -Infinity, (a, x) => (x > a || Number.isNaN(x) ? x : a), (a) => a);
}

/** Minimum of all elements, or along an axis. */
export function min(t: Tensor): number;
export function min(t: Tensor, axis: number, keepDims?: boolean): Tensor;
export function min(t: Tensor, axis?: number, keepDims = false): Tensor | number {
  return reduceAxis("min", t, axis, keepDims, Infinity, (a, x) => (x < a || Number.isNaN(x) ? x : a), (a) => a);
}

/** Population variance along an axis (or of all elements). */
export function variance(t: Tensor): number;
export function variance(t: Tensor, axis: number, keepDims?: boolean): Tensor;
export function variance(t: Tensor, axis?: number, keepDims = false): Tensor | number {
  if (axis === undefined) {
    const m = mean(t);
    return mean(map(t, (x) => (x - m) * (x - m)));
  }
  const m = mean(t, axis, true);
  const sq = map(sub(t, m), (x) => x * x);
  return mean(sq, axis, keepDims);
}

/**
 * Index of the largest value along the last axis of a 2-D tensor (first index on ties), one per row;
 * for a 1-D tensor, a one-element array.
 * t: (N, C), out: (N)
 */
export function argmax(t: Tensor): Int32Array {
  checkTensor("argmax", "t", t);
  if (t.shape.length !== 1 && t.shape.length !== 2) {
    throw new ShapeError(`argmax: t must be 1-D or 2-D, got shape ${shapeStr(t.shape)}`);
  }
  const rows = t.shape.length === 1 ? 1 : t.shape[0];
  const cols = t.shape[t.shape.length - 1];
  const s0 = t.shape.length === 1 ? 0 : t.stride[0];
  const s1 = t.stride[t.shape.length - 1];
  const out = new Int32Array(rows);
  const d = t.data;
  for (let i = 0; i < rows; i++) {
    const base = t.offset + i * s0;
    let best = 0;
    let bestV = d[base];
    for (let j = 1; j < cols; j++) {
      const v = d[base + j * s1];
      if (v > bestV) {
        bestV = v;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}
