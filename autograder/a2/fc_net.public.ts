import { Rng, add, evalNumericalGradient, isTensor, matmul, maximum, randn, softmaxRows, sum, mul, type Labels, type Tensor } from "@semantic-gap/lib";
import { attempt, compareNumber, compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest, TestPart } from "../src/types.js";

// Public checks for fc_net.ts, worth no points (the hidden tests carry the grade). Their reference is a
// plain forward pass written here, {affine − relu} × (L − 1) − affine − softmax, and numerical gradients
// of it by centred differences.

const F = "fc_net.ts";
const C = "FullyConnectedNet";
const SPEC = { hiddenDims: [6, 5], inputDim: 4, numClasses: 3, reg: 0.2, seed: 3 };

/** Parameters with non-zero biases, from a fixed seed. */
function smallParams(): Record<string, Tensor> {
  const rng = new Rng(11);
  const dims = [SPEC.inputDim, ...SPEC.hiddenDims, SPEC.numClasses];
  const p: Record<string, Tensor> = {};
  for (let i = 1; i < dims.length; i++) {
    p[`W${i}`] = randn([dims[i - 1], dims[i]], rng, 1 / Math.sqrt(dims[i - 1]));
    p[`b${i}`] = randn([dims[i]], rng, 0.2);
  }
  return p;
}

function plainScores(p: Record<string, Tensor>, X: Tensor): Tensor {
  const L = SPEC.hiddenDims.length + 1;
  let h = X;
  for (let i = 1; i < L; i++) h = maximum(add(matmul(h, p[`W${i}`]), p[`b${i}`]), 0);
  return add(matmul(h, p[`W${L}`]), p[`b${L}`]);
}

function plainLoss(p: Record<string, Tensor>, X: Tensor, y: Labels, reg: number): number {
  const probs = softmaxRows(plainScores(p, X));
  let loss = 0;
  for (let i = 0; i < y.length; i++) loss -= Math.log(probs.get(i, y[i]));
  loss /= y.length;
  for (const [k, t] of Object.entries(p)) if (k.startsWith("W")) loss += 0.5 * reg * sum(mul(t, t));
  return loss;
}

function data(): { X: Tensor; y: Labels } {
  const X = randn([7, SPEC.inputDim], 12);
  return { X, y: Int32Array.from([0, 1, 2, 0, 1, 2, 1]) };
}

const shapesTest: HiddenTest = {
  name: "fc_net (public): parameter names and shapes",
  files: [F],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const parts: TestPart[] = [];
    for (const normalization of [null, "batchnorm"] as const) {
      const net = await student.construct(F, C, { ...SPEC, normalization });
      const params = (await net.get("params")) as Record<string, unknown> | null;
      const want: Record<string, number[]> = { W1: [4, 6], b1: [6], W2: [6, 5], b2: [5], W3: [5, 3], b3: [3] };
      if (normalization) Object.assign(want, { gamma1: [6], beta1: [6], gamma2: [5], beta2: [5] });
      const got = params && typeof params === "object" ? params : {};
      const ok =
        Object.keys(got).sort().join() === Object.keys(want).sort().join() &&
        Object.entries(want).every(([k, s]) => isTensor(got[k]) && (got[k] as Tensor).shape.join() === s.join());
      const described = Object.entries(want).map(([k, s]) => `${k} (${s.join(", ")})`).join(", ");
      parts.push(expectThat(`params (${normalization ?? "no normalization"})`, ok, `hiddenDims [6, 5], inputDim 4, numClasses 3 should give exactly ${described}`));
    }
    return parts;
  },
};

const initLossTest: HiddenTest = {
  name: "fc_net (public): loss at initialization is about ln 10",
  files: [F],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const net = await student.construct(F, C, { hiddenDims: [100, 50], seed: 0 });
    const X = randn([50, 784], 1);
    const y = Int32Array.from({ length: 50 }, (_, i) => i % 10);
    const r = (await net.call("loss", X, y)) as { loss?: unknown } | null;
    const loss = r && typeof r === "object" ? r.loss : undefined;
    // Weights of standard deviation 1e-2 give scores of ~1e-3: the ten classes are equally likely.
    return [
      expectThat(
        "loss at initialization",
        typeof loss === "number" && Math.abs(loss - Math.log(10)) < 0.02,
        `expected about ln 10 = 2.303 with the default weightScale 1e-2, got ${typeof loss === "number" ? loss.toFixed(4) : String(loss)}`,
      ),
    ];
  },
};

const gradTest: HiddenTest = {
  name: "fc_net (public): loss and gradients of a small net",
  files: [F],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const params = smallParams();
    const { X, y } = data();
    const net = await student.construct(F, C, { ...SPEC, params });
    const r = (await net.call("loss", X, y)) as { loss?: unknown; grads?: Record<string, unknown> } | null;
    if (!r || typeof r !== "object" || !r.grads || typeof r.grads !== "object") {
      return [expectThat("loss and grads", false, "loss(X, y) must return { loss, grads }")];
    }
    const parts: TestPart[] = [compareNumber("loss", r.loss, plainLoss(params, X, y, SPEC.reg), { atol: 1e-10, rtol: 1e-8 })];
    for (const k of Object.keys(params)) {
      const num = evalNumericalGradient((t) => plainLoss({ ...params, [k]: t }, X, y, SPEC.reg), params[k]);
      parts.push(compareTensor(`grad ${k}`, r.grads[k], num, { atol: 1e-8, rtol: 1e-5 }));
    }
    return parts;
  },
};

const testModeTest: HiddenTest = {
  name: "fc_net (public): loss(X) runs dropout in test mode",
  files: [F],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const params = smallParams();
    const { X } = data();
    return attempt("test-mode scores", 1, async () => {
      const net = await student.construct(F, C, { ...SPEC, dropoutKeepRatio: 0.5, params });
      const s1 = await net.call("loss", X);
      const s2 = await net.call("loss", X);
      return [
        compareTensor("test-mode scores", s1, plainScores(params, X), { atol: 1e-10, rtol: 1e-8 }),
        compareTensor("test-mode scores again", s2, plainScores(params, X), { atol: 1e-10, rtol: 1e-8 }),
      ];
    });
  },
};

export const tests: HiddenTest[] = [shapesTest, initLossTest, gradTest, testModeTest];
