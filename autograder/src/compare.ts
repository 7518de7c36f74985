import { isTensor, shapeStr, type Tensor } from "@semantic-gap/lib";
import { StudentError, type TestPart } from "./types.js";
import { UnsupportedValue } from "./codec.js";

/** Tolerances: |got - expected| <= atol + rtol * |expected|. */
export interface Tolerance {
  atol?: number;
  rtol?: number;
}

function indexStr(shape: number[], flat: number): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(flat % shape[d]);
    flat = Math.floor(flat / shape[d]);
  }
  return `[${idx.join(", ")}]`;
}

function flatValues(t: Tensor): Float64Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const idx = new Array<number>(t.shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let p = t.offset;
    for (let d = 0; d < idx.length; d++) p += idx[d] * t.stride[d];
    out[k] = t.data[p];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (x instanceof UnsupportedValue) return x.description;
  if (Array.isArray(x)) return "a plain array";
  if (typeof x === "object") return `an object of type ${(x as object).constructor?.name ?? "Object"}`;
  return typeof x;
}

/**
 * Compares a student's tensor with the reference: type, shape, NaN/Infinity, then values.
 * Messages say where and by how much, never the expected values.
 */
export function compareTensor(
  name: string,
  got: unknown,
  expected: Tensor,
  tol: Tolerance = {},
  weight = 1,
): TestPart {
  const { atol = 1e-8, rtol = 1e-6 } = tol;
  const fail = (message: string): TestPart => ({ name, weight, passed: false, message: `${name}: ${message}` });
  if (!isTensor(got)) return fail(`expected a float64 tensor, got ${describe(got)}`);
  if (got.shape.length !== expected.shape.length || got.shape.some((d, i) => d !== expected.shape[i])) {
    return fail(`wrong shape: got ${shapeStr(got.shape)}, expected ${shapeStr(expected.shape)}`);
  }
  const g = flatValues(got);
  const e = flatValues(expected);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < g.length; i++) {
    if (!Number.isFinite(g[i]) && Number.isFinite(e[i])) {
      return fail(`contains ${g[i]} at index ${indexStr(got.shape, i)}`);
    }
    const diff = Math.abs(g[i] - e[i]);
    const excess = diff - (atol + rtol * Math.abs(e[i]));
    if (excess > worstExcess || (Number.isNaN(diff) && !(Number.isNaN(g[i]) && Number.isNaN(e[i])))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    const diff = Math.abs(g[worst] - e[worst]);
    const bad = g.reduce((n, v, i) => n + (Math.abs(v - e[i]) > atol + rtol * Math.abs(e[i]) ? 1 : 0), 0);
    return fail(
      `values differ at ${bad} of ${g.length} positions; the largest error is at index ` +
        `${indexStr(got.shape, worst)}, off by ${diff.toExponential(2)} (tolerance ${atol} + ${rtol}·|expected|)`,
    );
  }
  return { name, weight, passed: true };
}

/** Compares a scalar result. */
export function compareNumber(name: string, got: unknown, expected: number, tol: Tolerance = {}, weight = 1): TestPart {
  const { atol = 1e-8, rtol = 1e-6 } = tol;
  if (typeof got !== "number") {
    return { name, weight, passed: false, message: `${name}: expected a number, got ${describe(got)}` };
  }
  if (!Number.isFinite(got) && Number.isFinite(expected)) {
    return { name, weight, passed: false, message: `${name}: got ${got}` };
  }
  const diff = Math.abs(got - expected);
  if (!(diff <= atol + rtol * Math.abs(expected))) {
    return {
      name,
      weight,
      passed: false,
      message: `${name}: off by ${diff.toExponential(2)} (tolerance ${atol} + ${rtol}·|expected|)`,
    };
  }
  return { name, weight, passed: true };
}

/** Compares integer labels exactly (Int32Array or array of numbers). */
export function compareLabels(name: string, got: unknown, expected: Int32Array, weight = 1): TestPart {
  const fail = (message: string): TestPart => ({ name, weight, passed: false, message: `${name}: ${message}` });
  const ok = got instanceof Int32Array || (Array.isArray(got) && got.every((v) => typeof v === "number"));
  if (!ok) return fail(`expected an Int32Array of labels, got ${describe(got)}`);
  const g = got as ArrayLike<number>;
  if (g.length !== expected.length) return fail(`wrong length: got ${g.length}, expected ${expected.length}`);
  let wrong = 0;
  let first = -1;
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== expected[i]) {
      wrong++;
      if (first < 0) first = i;
    }
  }
  if (wrong > 0) return fail(`${wrong} of ${g.length} labels differ, the first at index ${first}`);
  return { name, weight, passed: true };
}

/** A part that passes when `cond` holds, with `message` as feedback when it does not. */
export function expectThat(name: string, cond: boolean, message: string, weight = 1): TestPart {
  return cond ? { name, weight, passed: true } : { name, weight, passed: false, message: `${name}: ${message}` };
}

/** Feedback for a failed student call, by kind (never the hidden inputs). */
export function describeStudentError(e: StudentError): string {
  switch (e.kind) {
    case "not-implemented":
      return `not implemented yet (${e.message.replace(/^Error: /, "")})`;
    case "threw":
      return `your code threw ${e.message}`;
    default:
      return e.message;
  }
}

/**
 * Runs one step of a test and turns a StudentError into a failed part, so that later parts can still
 * earn credit (without it, a throwing call scores the whole test 0). Other errors propagate.
 */
export async function attempt(
  name: string,
  weight: number,
  step: () => Promise<TestPart | TestPart[]>,
): Promise<TestPart[]> {
  try {
    const r = await step();
    return Array.isArray(r) ? r : [r];
  } catch (e) {
    if (e instanceof StudentError) return [{ name, weight, passed: false, message: `${name}: ${describeStudentError(e)}` }];
    throw e;
  }
}

/** A part that passes when a call left its argument as it was (exact comparison; tensors, typed arrays, numbers). */
export function unchanged(name: string, argName: string, before: unknown, after: unknown, weight = 1): TestPart {
  const same = (a: unknown, b: unknown): boolean => {
    if (isTensor(a)) {
      if (!isTensor(b) || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
      const x = flatValues(a);
      const y = flatValues(b);
      return x.every((v, i) => Object.is(v, y[i]));
    }
    if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
      const x = a as unknown as ArrayLike<number>;
      const y = b as unknown as ArrayLike<number>;
      if (x.length !== y.length || a.constructor !== b.constructor) return false;
      for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
      return true;
    }
    if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => same(v, b[i]));
    return Object.is(a, b);
  };
  return expectThat(name, same(before, after), `your code modified its input ${argName}; it must leave its arguments unchanged`, weight);
}
