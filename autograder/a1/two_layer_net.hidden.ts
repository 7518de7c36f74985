import {
  Rng,
  add,
  evalNumericalGradient,
  isTensor,
  matmul,
  randn,
  sliceRows,
  toFloat64Array,
  type Labels,
  type Tensor,
} from "@semantic-gap/lib";
import { TwoLayerNet as RefNet, type TwoLayerNetParams } from "../../solutions/a1/two_layer_net.js";
import { compareLabels, compareNumber, compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest, LibEquivalents, Student, TestPart } from "../src/types.js";
import { allFinite, asNumberArray, blobs, intBetween, meanOf, randomLabels } from "./linear_helpers.js";

const FILE = "two_layer_net.ts";
const PARAM_NAMES = ["W1", "b1", "W2", "b2"] as const;

interface NetCase {
  D: number;
  H: number;
  C: number;
  params: TwoLayerNetParams;
  X: Tensor;
  y: Labels;
}

/** Smallest |pre-activation| of the hidden layer: how far the ReLUs are from their kink. */
function minPreActivation(p: TwoLayerNetParams, X: Tensor): number {
  const a = toFloat64Array(add(matmul(X, p.W1), p.b1));
  return a.reduce((m, v) => Math.min(m, Math.abs(v)), Infinity);
}

/**
 * Random parameters (non-zero biases) and data. The ReLUs are kept at least 1e-3 from their kink, so centred
 * differences with h = 1e-5 (which move a pre-activation by at most h·max|x| ≈ 5e-5) never straddle it.
 */
function netCase(rng: Rng, n: number): NetCase {
  const D = intBetween(rng, 4, 12);
  const H = intBetween(rng, 5, 12);
  const C = intBetween(rng, 3, 6);
  for (let attempt = 0; ; attempt++) {
    const params: TwoLayerNetParams = {
      W1: randn([D, H], rng, 1 / Math.sqrt(D)),
      b1: randn([H], rng, 0.1),
      W2: randn([H, C], rng, 1 / Math.sqrt(H)),
      b2: randn([C], rng, 0.1),
    };
    const X = randn([n, D], rng);
    if (attempt >= 50 || minPreActivation(params, X) > 1e-3) return { D, H, C, params, X, y: randomLabels(rng, n, C) };
  }
}

async function constructWith(student: Student, c: NetCase) {
  return student.construct(FILE, "TwoLayerNet", c.D, c.H, c.C, { params: c.params });
}

function readNetLoss(got: unknown): { loss?: unknown; grads?: Record<string, unknown>; problem?: string } {
  if (got === null || typeof got !== "object" || Array.isArray(got) || isTensor(got)) {
    return { problem: "loss(X, y, reg) must return an object { loss, grads }" };
  }
  const r = got as { loss?: unknown; grads?: unknown };
  if (r.grads === null || typeof r.grads !== "object") return { problem: "loss(X, y, reg) must return grads as an object { W1, b1, W2, b2 }" };
  return { loss: r.loss, grads: r.grads as Record<string, unknown> };
}

/** Parts comparing loss and grads with the reference and (optionally) with numerical gradients taken here. */
function lossGradParts(c: NetCase, reg: number, got: unknown, numerical: boolean, label: string): TestPart[] {
  const ref = new RefNet(c.D, c.H, c.C, { params: c.params });
  const expected = ref.loss(c.X, c.y, reg);
  const r = readNetLoss(got);
  const tag = (p: TestPart): TestPart => ({ ...p, name: `${label}: ${p.name}`, message: p.message && `${label}: ${p.message}` });
  if (r.problem) {
    const names = ["loss", ...PARAM_NAMES.map((k) => `grad ${k}`), ...(numerical ? ["gradient check"] : [])];
    return names.map((name) => tag(expectThat(name, false, r.problem!)));
  }
  const parts: TestPart[] = [compareNumber("loss", r.loss, expected.loss, { atol: 1e-10, rtol: 1e-8 })];
  for (const k of PARAM_NAMES) {
    parts.push(compareTensor(`grad ${k}`, r.grads![k], expected.grads[k], { atol: 1e-10, rtol: 1e-7 }));
  }
  if (numerical) {
    // Numerical gradients of the reference loss, taken here: the check does not rely on any analytic gradient.
    // Tolerance 1e-7 absolute + 1e-5 relative (the curriculum's 1e-5 for whole networks); rounding is ~1e-10.
    let ok = true;
    const bad: string[] = [];
    for (const k of PARAM_NAMES) {
      const f = (t: Tensor): number => new RefNet(c.D, c.H, c.C, { params: { ...c.params, [k]: t } }).loss(c.X, c.y, reg).loss;
      const num = evalNumericalGradient(f, c.params[k]);
      const p = compareTensor(k, r.grads![k], num, { atol: 1e-7, rtol: 1e-5 });
      if (!p.passed) {
        ok = false;
        bad.push(k);
      }
    }
    parts.push(expectThat("gradient check", ok, `the gradients of ${bad.join(", ")} differ from numerical gradients of the loss`));
  }
  return parts.map(tag);
}

const initTest: HiddenTest = {
  name: "two_layer_net: initialization and scores",
  files: [FILE],
  maxScore: 2,
  async run(student, ctx) {
    const parts: TestPart[] = [];
    const D = 30;
    const H = 20;
    const C = 5;
    const weightScale = 0.01 * (1 + ctx.rng.uniform());
    const net = await student.construct(FILE, "TwoLayerNet", D, H, C, { weightScale, seed: ctx.rng.int(1000) });
    const params = (await net.get("params")) as Record<string, unknown> | null;
    const shapes: Record<string, number[]> = { W1: [D, H], b1: [H], W2: [H, C], b2: [C] };
    const shapeOk =
      params !== null &&
      typeof params === "object" &&
      PARAM_NAMES.every((k) => isTensor(params[k]) && (params[k] as Tensor).shape.join() === shapes[k].join());
    parts.push(expectThat("param shapes", shapeOk, "params must hold W1 (D, H), b1 (H), W2 (H, C), b2 (C)"));
    if (shapeOk) {
      const p = params as unknown as TwoLayerNetParams;
      const zeroB = [p.b1, p.b2].every((b) => toFloat64Array(b).every((v) => v === 0));
      const std = (t: Tensor) => Math.sqrt(toFloat64Array(t).reduce((a, v) => a + v * v, 0) / toFloat64Array(t).length);
      // 600 and 100 gaussian draws: their RMS is within 25% of weightScale with overwhelming probability.
      const stdOk = [p.W1, p.W2].every((w) => Math.abs(std(w) / weightScale - 1) < 0.25);
      parts.push(expectThat("initial values", zeroB && stdOk, "biases should start at zero and weights be gaussian with standard deviation weightScale"));
    } else {
      parts.push(expectThat("initial values", false, "params missing or of the wrong shape"));
    }
    // Scores for given parameters.
    const c = netCase(ctx.rng, intBetween(ctx.rng, 5, 15));
    const net2 = await constructWith(student, c);
    const scores = await net2.call("loss", c.X);
    const expected = new RefNet(c.D, c.H, c.C, { params: c.params }).loss(c.X);
    parts.push(compareTensor("scores", scores, expected, { atol: 1e-10, rtol: 1e-8 }, 2));
    return parts;
  },
};

const lossTest: HiddenTest = {
  name: "two_layer_net: loss and gradients",
  files: [FILE],
  maxScore: 4,
  async run(student, ctx) {
    const parts: TestPart[] = [];
    const c = netCase(ctx.rng, intBetween(ctx.rng, 8, 20));
    const reg = 0.05 + 0.5 * ctx.rng.uniform();
    const net = await constructWith(student, c);
    const r = await net.callWithArgs("loss", c.X, c.y, reg);
    parts.push(...lossGradParts(c, reg, r.value, true, "with regularization"));
    const before = toFloat64Array(c.X);
    const after = r.argsAfter[0];
    parts.push(
      expectThat(
        "inputs unchanged",
        isTensor(after) && toFloat64Array(after).every((v, i) => v === before[i]),
        "loss modified its input X; compute into new tensors instead",
      ),
    );
    const c0 = netCase(ctx.rng, intBetween(ctx.rng, 8, 20));
    const net0 = await constructWith(student, c0);
    parts.push(...lossGradParts(c0, 0, await net0.call("loss", c0.X, c0.y, 0), false, "reg = 0"));
    const c1 = netCase(ctx.rng, 1);
    const net1 = await constructWith(student, c1);
    parts.push(...lossGradParts(c1, 0.1, await net1.call("loss", c1.X, c1.y, 0.1), false, "one example"));
    return parts;
  },
};

const trainTest: HiddenTest = {
  name: "two_layer_net: train and predict",
  files: [FILE],
  maxScore: 3,
  timeoutMs: 30_000,
  async run(student, ctx) {
    const parts: TestPart[] = [];
    const d = 5;
    const all = blobs(ctx.rng, 300, d);
    const X = sliceRows(all.X, 0, 240);
    const y = all.y.slice(0, 240);
    const val = { X: sliceRows(all.X, 240, 300), y: all.y.slice(240) };
    const net = await student.construct(FILE, "TwoLayerNet", d + 1, 16, 3, { weightScale: 0.1, seed: ctx.rng.int(1000) });
    const numIters = 200;
    const batchSize = 40; // 240 / 40 = 6 iterations per epoch, so 33 epochs
    const out = (await net.call("train", X, y, val.X, val.y, {
      learningRate: 0.05,
      learningRateDecay: 0.95,
      reg: 1e-3,
      numIters,
      batchSize,
      seed: ctx.rng.int(1000),
    })) as Record<string, unknown> | null;
    const hist = out && typeof out === "object" ? asNumberArray(out.lossHistory) : null;
    const valAcc = out && typeof out === "object" ? asNumberArray(out.valAccHistory) : null;
    const trainAcc = out && typeof out === "object" ? asNumberArray(out.trainAccHistory) : null;
    parts.push(expectThat("loss history", hist !== null && hist.length === numIters && allFinite(hist), "train must return lossHistory with one finite loss per iteration"));
    const epochs = Math.floor(numIters / Math.max(1, Math.floor(X.shape[0] / batchSize)));
    parts.push(
      expectThat(
        "accuracy histories",
        valAcc !== null && trainAcc !== null && valAcc.length === epochs && trainAcc.length === epochs,
        "train must return trainAccHistory and valAccHistory with one entry per epoch (floor(N / batchSize) iterations)",
      ),
    );
    const first = hist && hist.length >= 5 ? meanOf(hist, 0, 5) : NaN;
    const last = hist && hist.length >= 20 ? meanOf(hist, hist.length - 20) : NaN;
    parts.push(expectThat("loss decreases", last < 0.5 * first, "the minibatch loss should fall to less than half its starting value on an easy problem"));

    const params = (await net.get("params")) as TwoLayerNetParams | null;
    const pred = await net.call("predict", val.X);
    const okParams = params !== null && PARAM_NAMES.every((k) => isTensor(params[k]));
    if (okParams) {
      const ref = new RefNet(d + 1, 16, 3, { params: params! });
      parts.push(compareLabels("predict", pred, ref.predict(val.X)));
    } else {
      parts.push(expectThat("predict", false, "params missing after training"));
    }
    const acc = pred instanceof Int32Array && pred.length === val.y.length ? pred.reduce((a, p, i) => a + (p === val.y[i] ? 1 : 0), 0) / pred.length : 0;
    parts.push(expectThat("accuracy", acc >= 0.9, `validation accuracy ${acc.toFixed(3)} on well separated blobs should be at least 0.9`));
    return parts;
  },
};

// The library's layers (affine, ReLU, softmax loss) and training loop do the net's work.
const layers = ["affineForward", "affineBackward", "reluForward", "reluBackward", "affineReluForward", "affineReluBackward", "softmaxLoss", "svmLoss"];

/** The library's exports that do each exercise's work: an exercise that reaches one earns nothing. */
export const libEquivalents: LibEquivalents = {
  "TwoLayerNet.loss": layers,
  "TwoLayerNet.train": ["Solver", "sgd", "sgdMomentum", "rmsprop", "adam", "trainLinear", "trainLinearAsync"],
  "TwoLayerNet.predict": [...layers, "predictLinear"],
};

export const tests: HiddenTest[] = [
  { ...initTest, exercises: ["TwoLayerNet.constructor", "TwoLayerNet.loss"] },
  { ...lossTest, exercises: ["TwoLayerNet.loss"] },
  { ...trainTest, exercises: ["TwoLayerNet.train", "TwoLayerNet.predict", "TwoLayerNet.loss"] },
];
