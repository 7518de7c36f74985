import { Rng, evalNumericalGradient, isTensor, randn, sizeOf, toFloat64Array, type Labels, type Tensor } from "@semantic-gap/lib";
import { FullyConnectedNet as RefNet, type FullyConnectedNetOptions, type NetLoss } from "../../solutions/a2/fc_net.js";
import { intBetween, randomLabels } from "./nn_helpers.js";
import { attempt, compareNumber, compareTensor, expectThat, unchanged } from "../src/compare.js";
import type { HiddenTest, LibEquivalents, Student, StudentObject, TestPart } from "../src/types.js";

// Hidden tests for fc_net.ts. The references are computed here, in the grader: the reference net's loss for
// the same parameters and inputs, and numerical gradients of that loss by centred differences, which rely on
// no analytic gradient at all. Parameters are handed to the student's net through the constructor's `params`
// option, so that biases, gammas and betas are not at their initial values (a bias of zero hides a
// regularized bias) and no test of the loss depends on the student's initialization.

const FILE = "fc_net.ts";
const CLS = "FullyConnectedNet";

type Spec = Omit<FullyConnectedNetOptions, "params"> & { hiddenDims: number[]; inputDim: number; numClasses: number };
type Params = Record<string, Tensor>;

/** The reference net for a spec, from the given parameters (a fresh generator, as the student's net has). */
const refNet = (spec: Spec, params: Params): RefNet => new RefNet({ ...spec, params });

/** A small random architecture, so that a full numerical gradient takes milliseconds. */
function randomSpec(rng: Rng, opts: { batchnorm?: boolean; dropout?: boolean; reg?: number; layers?: number }): Spec {
  const L = opts.layers ?? intBetween(rng, 2, 4);
  return {
    hiddenDims: Array.from({ length: L - 1 }, () => intBetween(rng, 3, 6)),
    inputDim: intBetween(rng, 3, 6),
    numClasses: intBetween(rng, 3, 5),
    normalization: opts.batchnorm ? "batchnorm" : null,
    dropoutKeepRatio: opts.dropout ? 0.4 + 0.5 * rng.uniform() : 1,
    reg: opts.reg ?? 0,
    seed: rng.int(100_000),
  };
}

/** Parameters of every kind away from their initial values: weights of unit gain, biases, gammas, betas. */
function randomParams(rng: Rng, spec: Spec): Params {
  const shapes = new RefNet(spec).paramShapes();
  const out: Params = {};
  for (const [k, shape] of Object.entries(shapes)) {
    if (k.startsWith("W")) out[k] = randn(shape, rng, 1 / Math.sqrt(shape[0]));
    else if (k.startsWith("gamma")) out[k] = randn(shape, rng, 0.2, 1);
    else out[k] = randn(shape, rng, 0.2);
  }
  return out;
}

interface GradCase {
  spec: Spec;
  params: Params;
  X: Tensor;
  y: Labels;
  /** The reference's first loss(X, y) on a fresh net: loss and analytic gradients. */
  expected: NetLoss;
  /** Numerical gradients of the reference's loss, for every parameter. */
  numerical: Params;
}

function numericalGrads(spec: Spec, params: Params, X: Tensor, y: Labels): Params {
  // One reference net whose parameters are perturbed in place; its generator is re-seeded before every
  // evaluation, so that each one draws the first masks (those of a fresh net's first call).
  const net = refNet(spec, params);
  const out: Params = {};
  for (const k of Object.keys(params)) {
    out[k] = evalNumericalGradient(() => {
      net.rng = new Rng(spec.seed ?? 0);
      return net.loss(X, y).loss;
    }, net.params[k]);
  }
  return out;
}

/** How far the student's gradients may be from the numerical ones, relative (the curriculum's bars). */
const gradRtol = (spec: Spec, k: string): number => (spec.normalization === "batchnorm" && k === "W1" ? 1e-4 : 1e-5);

/**
 * A random case on which the loss is smooth around the parameters: the reference's analytic gradients agree
 * with the numerical ones 100 times more closely than the student is asked to, so no ReLU kink lies within a
 * step h of the point (resampled otherwise; a kink is rare, and after 20 tries the case is kept anyway).
 */
function gradCase(rng: Rng, spec: Spec, n: number): GradCase {
  for (let attempt = 0; ; attempt++) {
    const params = randomParams(rng, spec);
    const X = randn([n, spec.inputDim], rng);
    const y = randomLabels(rng, n, spec.numClasses);
    const expected = refNet(spec, params).loss(X, y);
    const numerical = numericalGrads(spec, params, X, y);
    const smooth = Object.keys(params).every(
      (k) => compareTensor(k, expected.grads[k], numerical[k], { atol: 1e-10, rtol: gradRtol(spec, k) / 100 }).passed,
    );
    if (smooth || attempt >= 20) return { spec, params, X, y, expected, numerical };
  }
}

function readNetLoss(got: unknown): { loss?: unknown; grads?: Record<string, unknown>; problem?: string } {
  if (got === null || typeof got !== "object" || Array.isArray(got) || isTensor(got)) {
    return { problem: "loss(X, y) must return an object { loss, grads }" };
  }
  const r = got as { loss?: unknown; grads?: unknown };
  if (r.grads === null || typeof r.grads !== "object") return { problem: "loss(X, y) must return grads as an object with the keys of params" };
  return { loss: r.loss, grads: r.grads as Record<string, unknown> };
}

const KINDS: Array<[string, RegExp]> = [
  ["weight gradients", /^W\d+$/],
  ["bias gradients", /^b\d+$/],
  ["gamma and beta gradients", /^(gamma|beta)\d+$/],
];

/**
 * Parts for one loss(X, y) result: the loss against the reference's, and each kind of gradient (weights,
 * biases, gammas and betas) against numerical gradients taken here.
 */
function lossParts(c: GradCase, got: unknown, label: string): TestPart[] {
  const tag = (p: TestPart): TestPart => ({ ...p, name: `${label}: ${p.name}`, message: p.message && `${label}: ${p.message}` });
  const kinds = KINDS.filter(([, re]) => Object.keys(c.params).some((k) => re.test(k)));
  const r = readNetLoss(got);
  if (r.problem) return ["loss", ...kinds.map(([name]) => name)].map((name) => tag(expectThat(name, false, r.problem!)));
  // The loss is a sum of a few dozen terms of size ~1: summation order changes it by ~1e-15.
  const parts = [compareNumber("loss", r.loss, c.expected.loss, { atol: 1e-10, rtol: 1e-8 })];
  for (const [name, re] of kinds) {
    const bad: string[] = [];
    for (const k of Object.keys(c.params).filter((key) => re.test(key))) {
      // Centred differences (h = 1e-5) of a loss of size ~1-10 carry rounding errors near 1e-10, hence the
      // 1e-8 absolute floor beside the relative bar (1e-5; 1e-4 for W1 behind batchnorm).
      const p = compareTensor(k, r.grads![k], c.numerical[k], { atol: 1e-8, rtol: gradRtol(c.spec, k) });
      if (!p.passed) bad.push(p.message ?? k);
    }
    parts.push(expectThat(name, bad.length === 0, `against numerical gradients of the loss: ${bad.join("; ")}`));
  }
  return parts.map(tag);
}

async function construct(student: Student, spec: Spec, params?: Params): Promise<StudentObject> {
  return student.construct(FILE, CLS, params === undefined ? spec : { ...spec, params });
}

/** Parts for a fresh student net on a gradient case: its first loss(X, y). */
async function firstLossParts(student: Student, c: GradCase, label: string): Promise<TestPart[]> {
  const names = ["loss", ...KINDS.filter(([, re]) => Object.keys(c.params).some((k) => re.test(k))).map(([n]) => n)];
  try {
    const net = await construct(student, c.spec, c.params);
    return lossParts(c, await net.call("loss", c.X, c.y), label);
  } catch (e) {
    const failed = await attempt(label, 1, () => Promise.reject(e));
    return names.map((name) => ({ ...failed[0], name: `${label}: ${name}` }));
  }
}

function sameNumbers(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return Object.is(a, b);
  if (!isTensor(a) || !isTensor(b) || a.shape.join() !== b.shape.join()) return false;
  const x = toFloat64Array(a);
  const y = toFloat64Array(b);
  return x.every((v, i) => Object.is(v, y[i]));
}

const lossOf = (r: unknown): unknown => (r !== null && typeof r === "object" ? (r as { loss?: unknown }).loss : undefined);

// ------------------------------------------------------------------ the tests

const initTest: HiddenTest = {
  name: "fc_net: parameters and initialization",
  files: [FILE],
  maxScore: 2,
  exercises: ["FullyConnectedNet.constructor"],
  async run(student, ctx) {
    const rng = ctx.rng;
    const batchnorm = rng.uniform() < 0.5;
    // Wide enough that every weight matrix has at least 300 entries: the RMS of n gaussian draws is within
    // 25% of their standard deviation, and their mean within 6·σ/√n of 0, with overwhelming probability.
    const spec: Spec = {
      hiddenDims: Array.from({ length: intBetween(rng, 1, 3) }, () => intBetween(rng, 30, 40)),
      inputDim: intBetween(rng, 30, 40),
      numClasses: intBetween(rng, 10, 12),
      normalization: batchnorm ? "batchnorm" : null,
      weightScale: 0.01 * (1 + rng.uniform()),
      seed: rng.int(100_000),
    };
    const expected = new RefNet({ ...spec }).paramShapes();
    const parts: TestPart[] = [];
    const read = async (s: Spec): Promise<Record<string, unknown> | null> => {
      const p = await (await construct(student, s)).get("params");
      return p !== null && typeof p === "object" ? (p as Record<string, unknown>) : null;
    };
    const params = await read(spec);
    const names = params ? Object.keys(params).sort() : [];
    const want = Object.keys(expected).sort();
    parts.push(
      expectThat(
        "parameter names",
        names.join() === want.join(),
        `params should hold exactly ${want.join(", ")} for ${spec.hiddenDims.length} hidden layers${batchnorm ? " with batchnorm" : ""}; got ${names.join(", ") || "nothing"}`,
      ),
    );
    const wrongShape = want.filter((k) => !params || !isTensor(params[k]) || (params[k] as Tensor).shape.join() !== expected[k].join());
    parts.push(expectThat("parameter shapes", wrongShape.length === 0, `wrong shape or not a tensor: ${wrongShape.map((k) => `${k} (expected (${expected[k].join(", ")}))`).join(", ")}`));
    const ok = params !== null && wrongShape.length === 0;
    const values = (k: string) => toFloat64Array(params![k] as Tensor);
    const constant = want.filter((k) => !k.startsWith("W")).filter((k) => !ok || !values(k).every((v) => v === (k.startsWith("gamma") ? 1 : 0)));
    parts.push(expectThat("biases, gammas and betas", ok && constant.length === 0, `biases and betas should start at 0 and gammas at 1 (${ok ? constant.join(", ") : "params missing or misshapen"})`));
    const badStats = want
      .filter((k) => k.startsWith("W"))
      .filter((k) => {
        if (!ok) return true;
        const v = values(k);
        const rms = Math.sqrt(v.reduce((a, x) => a + x * x, 0) / v.length);
        const mean = v.reduce((a, x) => a + x, 0) / v.length;
        return !(Math.abs(rms / spec.weightScale! - 1) < 0.25 && Math.abs(mean) < (6 * spec.weightScale!) / Math.sqrt(v.length));
      });
    parts.push(expectThat("weight statistics", ok && badStats.length === 0, `weights should be gaussian with mean 0 and standard deviation weightScale (${ok ? badStats.join(", ") : "params missing or misshapen"})`));
    const again = ok ? await read(spec) : null;
    const other = ok ? await read({ ...spec, seed: spec.seed! + 1 }) : null;
    const seeded = ok && again !== null && other !== null && want.every((k) => sameNumbers(params![k], again[k])) && !sameNumbers(params!.W1, other.W1);
    parts.push(expectThat("seeded", seeded, "the same seed should give the same weights, and another seed other weights (draw them from the net's generator)"));
    const H = intBetween(rng, 5, 20);
    const defaults = await read({ hiddenDims: [H] } as Spec);
    const dW1 = defaults?.W1;
    const defaultsOk =
      defaults !== null &&
      Object.keys(defaults).sort().join() === "W1,W2,b1,b2" &&
      isTensor(dW1) &&
      dW1.shape.join() === `784,${H}` &&
      isTensor(defaults.W2) &&
      (defaults.W2 as Tensor).shape.join() === `${H},10` &&
      Math.abs(Math.sqrt(toFloat64Array(dW1).reduce((a, x) => a + x * x, 0) / sizeOf(dW1.shape)) / 1e-2 - 1) < 0.1;
    parts.push(expectThat("defaults", defaultsOk, "with only hiddenDims given, the net should be 784 inputs, 10 classes, no batchnorm, weights of standard deviation 1e-2"));
    return parts;
  },
};

const initLossTest: HiddenTest = {
  name: "fc_net: loss at initialization",
  files: [FILE],
  maxScore: 1,
  exercises: ["FullyConnectedNet.constructor", "FullyConnectedNet.loss"],
  async run(student, ctx) {
    const rng = ctx.rng;
    const numClasses = intBetween(rng, 5, 10);
    const spec: Spec = {
      hiddenDims: [intBetween(rng, 20, 40), intBetween(rng, 20, 40)],
      inputDim: intBetween(rng, 20, 40),
      numClasses,
      weightScale: 1e-3,
      seed: rng.int(100_000),
      normalization: rng.uniform() < 0.5 ? "batchnorm" : null,
    };
    const n = intBetween(rng, 20, 40);
    const X = randn([n, spec.inputDim], rng);
    const y = randomLabels(rng, n, numClasses);
    const net = await construct(student, spec);
    const loss = lossOf(await net.call("loss", X, y));
    // Scores of size ~1e-5 (weights of 1e-3): every class equally likely, so the loss is ln C to ~1e-4.
    return [
      expectThat(
        "loss at initialization",
        typeof loss === "number" && Math.abs(loss - Math.log(numClasses)) < 1e-2,
        `a fresh net with small weights should give a loss of about ln ${numClasses} = ${Math.log(numClasses).toFixed(3)}, got ${typeof loss === "number" ? loss.toFixed(3) : String(loss)}`,
      ),
    ];
  },
};

const lossTest: HiddenTest = {
  name: "fc_net: loss and gradients",
  files: [FILE],
  maxScore: 4,
  timeoutMs: 30_000,
  exercises: ["FullyConnectedNet.loss"],
  async run(student, ctx) {
    const rng = ctx.rng;
    const parts: TestPart[] = [];
    const c = gradCase(rng, randomSpec(rng, { reg: 0.05 + 0.5 * rng.uniform() }), intBetween(rng, 5, 8));
    parts.push(...(await firstLossParts(student, c, "with regularization")));
    const c0 = gradCase(rng, randomSpec(rng, { reg: 0 }), intBetween(rng, 5, 8));
    parts.push(...(await firstLossParts(student, c0, "reg = 0")));
    const c1 = gradCase(rng, randomSpec(rng, { reg: 0.1 + rng.uniform(), layers: 3 }), 1);
    parts.push(...(await firstLossParts(student, c1, "one example")));
    parts.push(
      ...(await attempt("scores and inputs", 1, async () => {
        const net = await construct(student, c.spec, c.params);
        const r = await net.callWithArgs("loss", c.X);
        const expected = refNet(c.spec, c.params).loss(c.X);
        return [compareTensor("scores", r.value, expected, { atol: 1e-10, rtol: 1e-8 }), unchanged("inputs unchanged", "X", c.X, r.argsAfter[0])];
      })),
    );
    return parts;
  },
};

/**
 * A test of one of the net's options (batchnorm or dropout): the training-mode loss and gradients of a
 * regularized random net with that option, then the parts `more` adds for the same case.
 */
function optionTest(
  name: string,
  option: { batchnorm?: boolean; dropout?: boolean },
  n: [number, number],
  more: (student: Student, c: GradCase, rng: Rng) => Promise<TestPart[]>,
): HiddenTest {
  return {
    name,
    files: [FILE],
    maxScore: 3,
    timeoutMs: 30_000,
    exercises: ["FullyConnectedNet.loss"],
    async run(student, ctx) {
      const rng = ctx.rng;
      const c = gradCase(rng, randomSpec(rng, { ...option, reg: 0.05 + 0.5 * rng.uniform() }), intBetween(rng, n[0], n[1]));
      return [...(await firstLossParts(student, c, "train mode")), ...(await more(student, c, rng))];
    },
  };
}

const batchnormTest = optionTest("fc_net: batchnorm", { batchnorm: true }, [5, 8], (student, c, rng) =>
  attempt("test mode", 1, async () => {
    // Two training batches update the running statistics; loss(X) must then use them, not the batch's.
    const X2 = randn([intBetween(rng, 4, 8), c.spec.inputDim], rng, 2, 0.5);
    const y2 = randomLabels(rng, X2.shape[0], c.spec.numClasses);
    const Xt = randn([intBetween(rng, 2, 6), c.spec.inputDim], rng);
    const net = await construct(student, c.spec, c.params);
    await net.call("loss", c.X, c.y);
    await net.call("loss", X2, y2);
    const got = await net.call("loss", Xt);
    const ref = refNet(c.spec, c.params);
    ref.loss(c.X, c.y);
    ref.loss(X2, y2);
    const p = compareTensor("test mode", got, ref.loss(Xt), { atol: 1e-9, rtol: 1e-7 });
    if (!p.passed) p.message = `${p.message}; loss(X) must run batchnorm in test mode with the running mean and variance of the training calls`;
    return p;
  }),
);

// Masks come from the net's own Rng(seed), created by the constructor, in the order of the layers; with the
// same parameters and seed, the student's first call draws the reference's first masks.
const dropoutTest = optionTest("fc_net: dropout", { dropout: true }, [6, 8], async (student, c, rng) => {
  const parts: TestPart[] = [];
  // 80 examples: at least 240 hidden units, about half of them active; two independent masks agree on all
  // the active ones (and so give the same loss) with probability below 1e-10.
  const X = randn([80, c.spec.inputDim], rng);
  const y = randomLabels(rng, 80, c.spec.numClasses);
  parts.push(
    ...(await attempt("fresh masks per call", 1, async () => {
      // reg = 0 here: this part is about the masks only.
      const spec = { ...c.spec, reg: 0 };
      const net = await construct(student, spec, c.params);
      const first = await net.call("loss", X, y);
      const second = await net.call("loss", X, y);
      const ref = refNet(spec, c.params);
      ref.loss(X, y);
      const p = compareNumber("fresh masks per call", lossOf(second), ref.loss(X, y).loss, { atol: 1e-10, rtol: 1e-8 });
      const differ = typeof lossOf(first) === "number" && lossOf(first) !== lossOf(second);
      return expectThat("fresh masks per call", p.passed && differ, "a second loss(X, y) should draw new masks from the net's generator (the same seed again gives the same sequence)");
    })),
  );
  parts.push(
    ...(await attempt("seed", 1, async () => {
      const a = lossOf(await (await construct(student, c.spec, c.params)).call("loss", X, y));
      const b = lossOf(await (await construct(student, { ...c.spec, seed: c.spec.seed! + 1 }, c.params)).call("loss", X, y));
      const d = lossOf(await (await construct(student, c.spec)).call("loss", X, y));
      const e = lossOf(await (await construct(student, c.spec)).call("loss", X, y));
      const ok = typeof a === "number" && typeof b === "number" && a !== b && typeof d === "number" && d === e;
      return expectThat("seed", ok, "the same seed should give the same masks and another seed other masks");
    })),
  );
  parts.push(
    ...(await attempt("test mode", 1, async () => {
      const net = await construct(student, c.spec, c.params);
      const s1 = await net.call("loss", c.X);
      const s2 = await net.call("loss", c.X);
      const plain = refNet({ ...c.spec, dropoutKeepRatio: 1 }, c.params).loss(c.X);
      const p = compareTensor("test mode", s1, plain, { atol: 1e-10, rtol: 1e-8 });
      return expectThat("test mode", p.passed && sameNumbers(s1, s2), "loss(X) must run dropout in test mode (the identity): the scores of the net without dropout");
    })),
  );
  return parts;
});

export const tests: HiddenTest[] = [initTest, initLossTest, lossTest, batchnormTest, dropoutTest];

/**
 * No library export does a FullyConnectedNet's work: the net's exercise is putting the layers together, and
 * the library's layers are those pieces (graded in layers.ts), not the net.
 */
export const libEquivalents: LibEquivalents = { "FullyConnectedNet.constructor": [], "FullyConnectedNet.loss": [] };
