import { describe, expect, it } from "vitest";
import {
  Rng,
  eluBackward,
  eluForward,
  isContiguous,
  leakyReluBackward,
  leakyReluForward,
  reluBackward,
  reluForward,
  sigmoidBackward,
  sigmoidForward,
  sigmoidValue,
  tanhBackward,
  tanhForward,
  tensor,
  toFloat64Array,
  type Tensor,
} from "../src/index.js";
import { bits, offsetView, random, strided } from "./layouts.test-support.js";

// The activation layers have a loop of their own for dense inputs and a general path for any other layout.
// Both must give the same numbers bit for bit: a dense input, the same values at an offset (the dense loop)
// and a strided view of them (the general path) all give what the formula written out here gives, element
// by element, on random values laced with ±0, NaN, infinities and subnormals.

/** f applied to every element of t, in row-major order, as a dense tensor of t's shape. */
function each(t: Tensor, f: (v: number) => number): Tensor {
  return tensor(Array.from(toFloat64Array(t), f), t.shape);
}

/** dout·g(cached) element by element. */
function chained(dout: Tensor, cached: Tensor, g: (c: number) => number): Tensor {
  const d = toFloat64Array(dout);
  return tensor(Array.from(toFloat64Array(cached), (c, i) => d[i] * g(c)), dout.shape);
}

const alpha = 0.07;
const activations: Array<{
  name: string;
  forward: (x: Tensor) => { out: Tensor; cache: unknown };
  backward: (dout: Tensor, cache: never) => { dx: Tensor };
  value: (v: number) => number;
  /** The local slope, from the input (or, for sigmoid and tanh, from the output). */
  slope: (v: number) => number;
  slopeOfOutput: boolean;
}> = [
  { name: "relu", forward: reluForward, backward: reluBackward, value: (v) => (v > 0 ? v : 0), slope: (v) => (v > 0 ? 1 : 0), slopeOfOutput: false },
  {
    name: "leakyRelu",
    forward: (x) => leakyReluForward(x, alpha),
    backward: leakyReluBackward,
    value: (v) => (v > 0 ? v : alpha * v),
    slope: (v) => (v > 0 ? 1 : alpha),
    slopeOfOutput: false,
  },
  { name: "sigmoid", forward: sigmoidForward, backward: sigmoidBackward, value: sigmoidValue, slope: (s) => s * (1 - s), slopeOfOutput: true },
  { name: "tanh", forward: tanhForward, backward: tanhBackward, value: Math.tanh, slope: (t) => 1 - t * t, slopeOfOutput: true },
  {
    name: "elu",
    forward: (x) => eluForward(x, alpha),
    backward: eluBackward,
    value: (v) => (v > 0 ? v : alpha * Math.expm1(v)),
    slope: (v) => (v > 0 ? 1 : alpha * Math.exp(v)),
    slopeOfOutput: false,
  },
];

describe("activation layers: the dense loops equal the general path bit for bit", () => {
  for (const a of activations) {
    it(`${a.name}: forward and backward on dense, offset and strided inputs`, () => {
      const rng = new Rng(21);
      for (const shape of [[9, 7], [3, 4, 5], [11], [0, 4]]) {
        for (let trial = 0; trial < 4; trial++) {
          const x = random(shape, rng);
          const dout = random(shape, rng);
          const out = each(x, a.value);
          const dx = chained(dout, a.slopeOfOutput ? out : x, a.slope);
          const layouts = (t: Tensor) => (shape[0] > 0 ? [t, offsetView(t), strided(t)] : [t, strided(t)]);
          for (const vx of layouts(x)) {
            const f = a.forward(vx);
            expect(f.out.shape).toEqual(shape);
            expect(bits(f.out)).toEqual(bits(out));
            for (const vd of layouts(dout)) {
              const b = a.backward(vd, f.cache as never);
              expect(b.dx.shape).toEqual(shape);
              expect(bits(b.dx)).toEqual(bits(dx));
            }
          }
        }
      }
    });
  }

  it("the strided inputs are not contiguous (so they take the general path)", () => {
    const x = random([4, 3], new Rng(1));
    expect(isContiguous(strided(x))).toBe(false);
    expect(isContiguous(offsetView(x)) && offsetView(x).offset > 0).toBe(true);
  });

  it("neither path modifies its arguments, and dout of another shape is an error naming both shapes", () => {
    const rng = new Rng(22);
    const x = random([5, 6], rng);
    const dout = random([5, 6], rng);
    for (const a of activations) {
      for (const [vx, vd] of [[x, dout], [strided(x), strided(dout)]]) {
        const before = [bits(vx), bits(vd)];
        const f = a.forward(vx);
        a.backward(vd, f.cache as never);
        expect([bits(vx), bits(vd)]).toEqual(before);
      }
      const f = a.forward(x);
      expect(() => a.backward(random([6, 5], rng), f.cache as never)).toThrow(/dout .*\(6, 5\).*\(5, 6\)|\(5, 6\).*\(6, 5\)/);
    }
  });
});
