import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { adam, copy, fromNested, maxAbsDiff, randn, rmsprop, sgd, sgdMomentum, toFloat64Array, type Nested, type Tensor } from "../src/index.js";

// The update rules against hand-worked steps and against PyTorch's optimizers (three steps each, from
// fixtures/nn-reference.json, written by fixtures/make_nn_reference.py; PyTorch is not needed here).

const fixture = JSON.parse(readFileSync(new URL("./fixtures/nn-reference.json", import.meta.url), "utf8"));
const T = (v: Nested): Tensor => fromNested(v);
const rules = { sgd, sgdMomentum, rmsprop, adam } as const;

describe("update rules", () => {
  it("hand-worked first and second steps with the default configs", () => {
    const w = T([1, -2]);
    const dw = T([0.5, -1]);
    expect(Array.from(sgd(w, dw).nextW.data)).toEqual([1 - 1e-2 * 0.5, -2 + 1e-2]);
    // Momentum: v = 0.9·0 − 0.01·dw, then w + v; the second step adds 0.9·v.
    const m1 = sgdMomentum(w, dw);
    expect(Array.from(m1.config.velocity!.data)).toEqual([-0.005, 0.01]);
    const m2 = sgdMomentum(m1.nextW, dw, m1.config);
    expect(toFloat64Array(m2.nextW)[0]).toBeCloseTo(1 - 0.005 - (0.9 * 0.005 + 0.005), 15);
    // RMSProp: cache = 0.01·dw², step lr·dw/(√cache + eps) = 0.01·0.5/(0.1·0.5 + 1e-8).
    const r = rmsprop(w, dw);
    expect(toFloat64Array(r.config.cache!)[0]).toBeCloseTo(0.01 * 0.25, 17);
    expect(toFloat64Array(r.nextW)[0]).toBeCloseTo(1 - (0.01 * 0.5) / (0.05 + 1e-8), 15);
    // Adam's first step is lr·sign(dw) (up to eps): the bias correction undoes the zero initial state.
    const a = adam(w, dw);
    expect(a.config.t).toBe(1);
    expect(toFloat64Array(a.nextW)[0]).toBeCloseTo(1 - 1e-3, 10);
    expect(toFloat64Array(a.nextW)[1]).toBeCloseTo(-2 + 1e-3, 10);
  });

  it("returned configs carry the defaults and the state", () => {
    const w = randn([2, 3], 0);
    const dw = randn([2, 3], 1);
    expect(sgd(w, dw).config).toEqual({ learningRate: 1e-2 });
    const m = sgdMomentum(w, dw).config;
    expect([m.learningRate, m.momentum, m.velocity!.shape]).toEqual([1e-2, 0.9, [2, 3]]);
    const r = rmsprop(w, dw).config;
    expect([r.learningRate, r.decayRate, r.epsilon, r.cache!.shape]).toEqual([1e-2, 0.99, 1e-8, [2, 3]]);
    const a = adam(w, dw, { learningRate: 5e-3 }).config;
    expect([a.learningRate, a.beta1, a.beta2, a.epsilon, a.t, a.m!.shape, a.v!.shape]).toEqual([5e-3, 0.9, 0.999, 1e-8, 1, [2, 3], [2, 3]]);
  });

  for (const name of Object.keys(rules) as Array<keyof typeof rules>) {
    it(`${name}: three steps agree with PyTorch (1e-12) and leave w, dw and the config unchanged`, () => {
      const f = fixture.optim;
      const r = f.rules[name];
      let w = T(f.w);
      let config: Record<string, unknown> = { ...r.config };
      for (let k = 0; k < 3; k++) {
        const dw = T(f.grads[k]);
        const wBefore = copy(w);
        const dwBefore = copy(dw);
        const configBefore = { ...config };
        const out = rules[name](w, dw, config);
        expect(maxAbsDiff(w, wBefore)).toBe(0);
        expect(maxAbsDiff(dw, dwBefore)).toBe(0);
        expect(config).toEqual(configBefore);
        expect(maxAbsDiff(out.nextW, T(r.steps[k]))).toBeLessThan(1e-12);
        w = out.nextW;
        config = out.config as Record<string, unknown>;
      }
    });
  }

  it("clear errors for mismatched shapes, a state of the wrong shape and a bad hyperparameter", () => {
    const w = randn([2, 3], 0);
    expect(() => sgd(w, randn([3, 2], 0))).toThrow("sgd: w and dw must have the same shape, got (2, 3) and (3, 2)");
    expect(() => adam(w, w, { m: randn([3], 0) })).toThrow("adam: config.m and w must have the same shape, got (3,) and (2, 3)");
    expect(() => rmsprop(w, w, { decayRate: Number.NaN })).toThrow("rmsprop: config.decayRate must be a finite number, got NaN");
  });
});
