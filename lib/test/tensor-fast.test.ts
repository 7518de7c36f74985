import { describe, expect, it } from "vitest";
import ndarray from "ndarray";
import {
  Rng,
  add,
  addScaledInPlace,
  at,
  copy,
  div,
  isContiguous,
  map,
  max,
  maximum,
  mean,
  min,
  minimum,
  mul,
  sub,
  sum,
  takeRows,
  tensor,
  toFloat64Array,
  zipWith,
  type Tensor,
} from "../src/index.js";
import { SPECIAL, bits, offsetView, random, strided } from "./layouts.test-support.js";

// The elementwise operations, reductions and row gathers have a plain loop for dense (row-major) tensors
// beside their general path (a callback per element, a strided walk). Each fast path must give exactly the
// numbers of the general one, bit for bit: dense inputs are compared with zipWith's callback path and with
// non-contiguous views of the same values (which take the general path), on random inputs laced with
// zeros of both signs, NaN, infinities and subnormals; and both against a reference computed here from
// single elements.

/** Every multi-index of a shape, in row-major order. */
function* indices(shape: number[]): Generator<number[]> {
  const n = shape.reduce((a, d) => a * d, 1);
  const idx = shape.map(() => 0);
  for (let k = 0; k < n; k++) {
    yield idx.slice();
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** f over a and b with numpy broadcasting, element by element through at(). */
function referenceBinary(a: Tensor | number, b: Tensor | number, shape: number[], f: (x: number, y: number) => number): Tensor {
  const read = (t: Tensor | number, idx: number[]): number => {
    if (typeof t === "number") return t;
    const own = idx.slice(idx.length - t.shape.length).map((v, i) => (t.shape[i] === 1 ? 0 : v));
    return at(t, ...own);
  };
  const out: number[] = [];
  for (const idx of indices(shape)) out.push(f(read(a, idx), read(b, idx)));
  return tensor(out, shape);
}

const OPS = {
  add: [add, (x: number, y: number) => x + y],
  sub: [sub, (x: number, y: number) => x - y],
  mul: [mul, (x: number, y: number) => x * y],
  div: [div, (x: number, y: number) => x / y],
  maximum: [maximum, (x: number, y: number) => (x > y ? x : y)],
  minimum: [minimum, (x: number, y: number) => (x < y ? x : y)],
} as const;

describe("binary operations: the plain loops equal the callback path bit for bit", () => {
  const rng = new Rng(11);
  // [a's shape or "number", b's shape or "number"]
  const cases: Array<[number[] | "number", number[] | "number"]> = [
    [[7, 5], [7, 5]],
    [[7, 5], [5]],
    [[7, 5], [7, 1]],
    [[1, 5], [6, 1]],
    [[3, 4, 5], [4, 5]],
    [[3, 4, 5], [3, 1, 5]],
    [[7, 5], "number"],
    ["number", [7, 5]],
    [[], []],
    [[], "number"],
    [[0, 5], [5]],
    [[9], [9]],
  ];
  for (const [name, [op, f]] of Object.entries(OPS)) {
    it(`${name}: dense, offset and strided operands, broadcasting and numbers`, () => {
      for (const [sa, sb] of cases) {
        for (let trial = 0; trial < 5; trial++) {
          const a = sa === "number" ? SPECIAL[trial * 2] : random(sa, rng);
          const b = sb === "number" ? (trial === 4 ? 0.37 : SPECIAL[trial * 2 + 1]) : random(sb, rng);
          const fast = op(a, b);
          const shape = fast.shape;
          const general = zipWith(name, a, b, f);
          const reference = referenceBinary(a, b, shape, f);
          expect(bits(fast)).toEqual(bits(general));
          expect(bits(fast)).toEqual(bits(reference));
          // The same values in other layouts: a strided view takes the general walk, an offset one the loop.
          const views = (t: Tensor | number) => (typeof t === "number" ? [t] : t.shape.length >= 1 && t.shape[0] > 0 ? [strided(t), offsetView(t)] : [t]);
          for (const va of views(a)) {
            for (const vb of views(b)) {
              const got = op(va, vb);
              expect(got.shape).toEqual(shape);
              expect(bits(got)).toEqual(bits(reference));
            }
          }
        }
      }
    });
  }

  it("a strided view really is not contiguous, and an offset view is", () => {
    const t = random([4, 3], rng);
    expect(isContiguous(strided(t))).toBe(false);
    expect(isContiguous(offsetView(t))).toBe(true);
    expect(offsetView(t).offset).toBe(6);
  });

  it("number with number, and the shape errors name the function", () => {
    expect(bits(add(0.1, 0.2))).toEqual(bits(0.1 + 0.2));
    expect(add(0.1, 0.2).shape).toEqual([]);
    expect(() => mul(random([2, 3], rng), random([4], rng))).toThrow("mul: shapes (2, 3) and (4,) do not broadcast");
  });
});

describe("map: the dense loop equals the strided walk", () => {
  it("on dense, offset and strided tensors", () => {
    const rng = new Rng(12);
    for (const shape of [[6, 4], [2, 3, 5], [8], [0, 3], []]) {
      const t = random(shape, rng);
      const f = (v: number) => (v > 0 ? Math.sqrt(v) : -v * 0.5);
      const reference = tensor([...indices(shape)].map((idx) => f(at(t, ...idx))), shape);
      expect(bits(map(t, f))).toEqual(bits(reference));
      expect(bits(map(strided(t), f))).toEqual(bits(reference));
      if (shape.length > 0 && shape[0] > 0) expect(bits(map(offsetView(t), f))).toEqual(bits(reference));
    }
  });
});

describe("reductions: the dense row loop equals the strided walk", () => {
  const rng = new Rng(13);
  const reducers = {
    sum: [sum, (xs: number[]) => xs.reduce((a, x) => a + x, 0)],
    mean: [mean, (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length],
    max: [max, (xs: number[]) => xs.reduce((a, x) => (x > a || Number.isNaN(x) ? x : a), -Infinity)],
    min: [min, (xs: number[]) => xs.reduce((a, x) => (x < a || Number.isNaN(x) ? x : a), Infinity)],
  } as const;
  for (const [name, [reduce, ref]] of Object.entries(reducers)) {
    it(`${name}: every axis (and -1, keepDims, all elements) of dense, offset and strided tensors`, () => {
      for (const shape of [[6, 5], [3, 4, 5], [7], [1, 6], [4, 0], [0, 3]]) {
        for (let trial = 0; trial < 3; trial++) {
          const t = random(shape, rng);
          const layouts = shape[0] > 0 ? [t, strided(t), offsetView(t)] : [t, strided(t)];
          for (let axis = -1; axis < shape.length; axis++) {
            const ax = axis < 0 ? axis + shape.length : axis;
            const outShape = shape.filter((_, i) => i !== ax);
            const expected = [...indices(outShape)].map((o) => {
              const xs: number[] = [];
              for (let i = 0; i < shape[ax]; i++) xs.push(at(t, ...o.slice(0, ax), i, ...o.slice(ax)));
              return ref(xs);
            });
            for (const v of layouts) {
              const got = reduce(v, axis) as Tensor;
              expect(got.shape).toEqual(outShape);
              expect(bits(got)).toEqual(bits(tensor(expected, outShape)));
              const kept = reduce(v, axis, true) as Tensor;
              expect(kept.shape).toEqual(shape.map((d, i) => (i === ax ? 1 : d)));
              expect(bits(kept)).toEqual(bits(got));
            }
          }
          const all = ref([...indices(shape)].map((idx) => at(t, ...idx)));
          for (const v of layouts) expect(bits(reduce(v) as number)).toEqual(bits(all));
        }
      }
    });
  }
});

describe("takeRows and addScaledInPlace", () => {
  it("takeRows copies the same rows from dense, offset and strided tensors", () => {
    const rng = new Rng(14);
    for (const shape of [[9, 4], [6, 2, 3], [5]]) {
      const t = random(shape, rng);
      const idx = [4, 0, 4, 2, shape[0] - 1];
      const rowSize = shape.slice(1).reduce((a, d) => a * d, 1);
      const flat = toFloat64Array(t);
      const expected = tensor(idx.flatMap((r) => Array.from(flat.subarray(r * rowSize, (r + 1) * rowSize))), [idx.length, ...shape.slice(1)]);
      for (const v of [t, strided(t), offsetView(t)]) {
        const got = takeRows(v, idx);
        expect(got.shape).toEqual(expected.shape);
        expect(bits(got)).toEqual(bits(expected));
      }
      expect(() => takeRows(t, [shape[0]])).toThrow(`takeRows: indices[0] = ${shape[0]} is out of range for ${shape[0]} rows`);
    }
  });

  it("addScaledInPlace gives a + b·alpha exactly, on dense, offset and strided operands", () => {
    const rng = new Rng(15);
    for (const alpha of [1, 0.3, 0, -2.5]) {
      const a = random([5, 4], rng);
      const b = random([5, 4], rng);
      const expected = referenceBinary(a, b, [5, 4], alpha === 1 ? (x, y) => x + y : (x, y) => x + y * alpha);
      for (const makeA of [copy, strided, offsetView]) {
        for (const vb of [b, strided(b), offsetView(b)]) {
          const before = bits(vb);
          const target = makeA(a);
          const got = addScaledInPlace(target, vb, alpha);
          expect(got).toBe(target);
          expect(bits(got)).toEqual(bits(expected));
          expect(bits(vb)).toEqual(before);
        }
      }
    }
  });

  it("addScaledInPlace with a and b over one buffer takes the general path", () => {
    const buf = tensor([1, 2, 3, 4, 5, 6], [6]);
    const a = ndarray(buf.data, [3], [1], 0);
    const b = ndarray(buf.data, [3], [1], 3);
    addScaledInPlace(a, b, 2);
    expect(Array.from(buf.data)).toEqual([9, 12, 15, 4, 5, 6]);
  });
});
