import {
  affineBackward,
  affineForward,
  batchnormBackward,
  batchnormForward,
  dropoutBackward,
  dropoutForward,
  eluBackward,
  eluForward,
  evalNumericalGradient,
  isTensor,
  leakyReluBackward,
  leakyReluForward,
  map,
  ones,
  randn,
  reluBackward,
  reluForward,
  sigmoidBackward,
  sigmoidForward,
  softmaxLoss as libSoftmaxLoss,
  svmLoss as libSvmLoss,
  tanhBackward,
  tanhForward,
  toFloat64Array,
  variance,
  type BatchnormParam,
  type Labels,
  type Rng,
  type Tensor,
} from "@semantic-gap/lib";
import { attempt, compareNumber, compareTensor, expectThat, unchanged } from "../src/compare.js";
import type { HiddenTest, LibEquivalents, TestPart } from "../src/types.js";
import {
  NUM_TOL,
  REF_TOL,
  awayFromZero,
  backwardTest,
  failAll,
  forwardTest,
  intBetween,
  randomLabels,
  readFields,
  sameValues,
  studentCache,
  tagged,
  tryCall,
  type LayerCase,
  type LayerSpec,
} from "./nn_helpers.js";

// Hidden tests for layers.ts. Every reference is computed here: the library's own layers (written
// independently of the exercise, and checked against PyTorch in lib's tests) and numerical gradients of
// them. Random sizes and values come from the grading run's seed; the vitest file beside this one sweeps
// 200 seeds and checks that broken variants lose exactly the parts they should.

const FILE = "layers.ts";

// ---------------------------------------------------------------- affine

const affine: LayerSpec = {
  file: FILE,
  forward: "affineForward",
  backward: "affineBackward",
  argNames: ["x", "w", "b"],
  grads: ["dx", "dw", "db"],
  maxScore: 3,
  cases(rng) {
    // Numerical gradients on the first case (the others are small and compared with the library's gradients).
    const make = (label: string, xShape: number[], m: number, numeric = false): LayerCase => {
      const d = xShape.slice(1).reduce((a, v) => a * v, 1);
      return { label, args: [randn(xShape, rng), randn([d, m], rng), randn([m], rng)], dout: randn([xShape[0], m], rng), numeric };
    };
    return [
      make("(N, d1, d2) input", [intBetween(rng, 2, 5), intBetween(rng, 2, 3), intBetween(rng, 1, 3)], intBetween(rng, 2, 4), true),
      make("(N, D) input", [intBetween(rng, 2, 6), intBetween(rng, 2, 6)], intBetween(rng, 2, 5)),
      make("batch of one", [1, intBetween(rng, 2, 5)], intBetween(rng, 2, 4)),
      make("one feature", [intBetween(rng, 2, 6), 1], intBetween(rng, 1, 4)),
    ];
  },
  refForward: ([x, w, b]) => affineForward(x as Tensor, w as Tensor, b as Tensor).out,
  refBackward: (dout, [x, w, b]) => affineBackward(dout, affineForward(x as Tensor, w as Tensor, b as Tensor).cache),
};

// ---------------------------------------------------------------- activations

interface Activation {
  name: string;
  forward: (x: Tensor, alpha?: number) => { out: Tensor; cache: unknown };
  backward: (dout: Tensor, cache: never) => { dx: Tensor };
  /** A random alpha to pass in one case (layers with a parameter); the other cases use the default. */
  alpha?: (rng: Rng) => number;
  /** Values far from 0 (hundreds), where a naive exponential overflows; graded without a gradient check. */
  large?: boolean;
}

const activations: Activation[] = [
  { name: "relu", forward: reluForward, backward: reluBackward },
  { name: "leakyRelu", forward: leakyReluForward, backward: leakyReluBackward, alpha: (rng) => 0.05 + 0.3 * rng.uniform() },
  { name: "sigmoid", forward: sigmoidForward, backward: sigmoidBackward, large: true },
  { name: "tanh", forward: tanhForward, backward: tanhBackward, large: true },
  { name: "elu", forward: eluForward, backward: eluBackward, alpha: (rng) => 0.3 + 1.5 * rng.uniform(), large: true },
];

function activationSpec(a: Activation): LayerSpec {
  const call = (args: unknown[]) => a.forward(args[0] as Tensor, args[1] as number | undefined);
  return {
    file: FILE,
    forward: `${a.name}Forward`,
    backward: `${a.name}Backward`,
    argNames: ["x", "alpha"],
    grads: ["dx"],
    cases(rng) {
      const n = () => intBetween(rng, 2, 6);
      const make = (label: string, shape: number[], extra: unknown[] = [], numeric = false): LayerCase => {
        // Both signs in every case, so that each side of the kink at 0 is exercised.
        const x = awayFromZero(shape, rng, 2);
        x.data[0] = -Math.abs(x.data[0]);
        x.data[1] = Math.abs(x.data[1]);
        return { label, args: [x, ...extra], dout: randn(shape, rng), numeric };
      };
      const cases = [make("(N, D) input", [n(), n()], [], true), make("(N, 2, 3) input", [n(), 2, 3]), make("batch of one", [1, n()]), make("one feature", [n(), 1])];
      if (a.alpha) cases.push(make("alpha given", [n(), n()], [a.alpha(rng)], true));
      if (a.large) {
        const shape = [2, 4];
        const x = map(randn(shape, rng), (v) => (v < 0 ? -1 : 1) * (30 + 770 * rng.uniform()));
        cases.push({ label: "inputs in the hundreds", args: [x], dout: randn(shape, rng), numeric: false });
      }
      return cases;
    },
    refForward: (args) => call(args).out,
    refBackward: (dout, args) => a.backward(dout, call(args).cache as never),
  };
}

// ---------------------------------------------------------------- losses

type LossFn = (x: Tensor, y: Labels) => { loss: number; dx: Tensor };

/** Scores whose SVM margins x_j − x_y + 1 all stay at least 1e-3 from the hinge (for the gradient check). */
function scoresAwayFromHinge(rng: Rng, n: number, c: number, y: Labels): Tensor {
  for (let attempt = 0; ; attempt++) {
    const x = randn([n, c], rng, 2);
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      for (let j = 0; j < c; j++) if (j !== y[i] && Math.abs(x.get(i, j) - x.get(i, y[i]) + 1) < 1e-3) ok = false;
    }
    if (ok || attempt > 50) return x;
  }
}

function lossTest(fn: "svmLoss" | "softmaxLoss", ref: LossFn): HiddenTest {
  return {
    name: `layers: ${fn}`,
    files: [FILE],
    maxScore: 3,
    exercises: [fn],
    async run(student, ctx) {
      const rng = ctx.rng;
      const parts: TestPart[] = [];
      const cases: Array<{ label: string; x: Tensor; y: Labels; numeric: boolean }> = [];
      for (const [label, n] of [["random scores", intBetween(rng, 4, 12)], ["one example", 1]] as const) {
        const c = intBetween(rng, 3, 7);
        const y = randomLabels(rng, n, c);
        cases.push({ label, x: scoresAwayFromHinge(rng, n, c, y), y, numeric: true });
      }
      const y = randomLabels(rng, 6, 5);
      // Scores of about ±1000: e^1000 is Infinity, so only a shifted (stable) softmax stays finite.
      cases.push({ label: "scores of 1000", x: map(randn([6, 5], rng), (v) => 1000 * v), y, numeric: false });
      for (const [k, c] of cases.entries()) {
        const names = ["loss", "dx", ...(c.numeric ? ["gradient check"] : [])];
        const got = await attempt(c.label, names.length, async () => {
          const { value, argsAfter } = await student.callWithArgs(FILE, fn, c.x, c.y);
          const r = readFields(value, fn, ["loss", "dx"]);
          if (r.problem) return failAll(names, r.problem);
          const expected = ref(c.x, c.y);
          const out = [compareNumber("loss", r.value.loss, expected.loss, REF_TOL), compareTensor("dx", r.value.dx, expected.dx, REF_TOL)];
          if (c.numeric) {
            const num = evalNumericalGradient((t) => ref(t, c.y).loss, c.x);
            const p = compareTensor("gradient check", r.value.dx, num, NUM_TOL);
            if (!p.passed && isTensor(r.value.dx)) p.message = "gradient check: dx differs from the numerical gradient of the loss";
            out.push(p);
          }
          if (k === 0) out.push(unchanged("inputs unchanged", "x", c.x, argsAfter[0]));
          return out;
        });
        parts.push(...(got.length === 1 && got[0].name === c.label ? got : tagged(got, c.label)));
      }
      return parts;
    },
  };
}

// ---------------------------------------------------------------- dropout

/** A random dropout case: x, a keep probability in [0.3, 0.9] and an integer seed. */
function dropoutCase(rng: Rng): { x: Tensor; p: number; seed: number } {
  return { x: randn([intBetween(rng, 4, 12), intBetween(rng, 4, 12)], rng), p: 0.3 + 0.6 * rng.uniform(), seed: rng.int(1_000_000) };
}

const dropoutForwardTest: HiddenTest = {
  name: "layers: dropoutForward",
  files: [FILE],
  maxScore: 3,
  exercises: ["dropoutForward"],
  async run(student, ctx) {
    const parts: TestPart[] = [];
    /** The student's out for (x, param), or the feedback that explains why there is none. */
    const outOf = async (x: Tensor, param: Record<string, unknown>): Promise<{ out?: unknown; problem?: string }> => {
      const r = await tryCall(() => student.call(FILE, "dropoutForward", x, param));
      if (r.problem !== undefined) return { problem: r.problem };
      const f = readFields(r.value, "dropoutForward", ["out", "cache"]);
      return f.problem ? { problem: f.problem } : { out: f.value.out };
    };
    const exact = (name: string, got: { out?: unknown; problem?: string }, want: Tensor, tol = { atol: 0, rtol: 0 }): TestPart =>
      got.problem !== undefined ? expectThat(name, false, got.problem) : compareTensor(name, got.out, want, tol);
    const c = dropoutCase(ctx.rng);
    // The convention: the seed's Rng draws one uniform per element in row-major order and keeps it when below p.
    const first = await outOf(c.x, { p: c.p, mode: "train", seed: c.seed });
    parts.push(exact("train mode: out", first, dropoutForward(c.x, { p: c.p, mode: "train", seed: c.seed }).out, { atol: 1e-12, rtol: 1e-12 }));
    const again = await outOf(c.x, { p: c.p, mode: "train", seed: c.seed });
    const repeatable = isTensor(first.out) && sameValues(again.out, first.out);
    parts.push(expectThat("same seed, same output", repeatable, first.problem ?? "two calls with the same seed must give the same output"));
    // Statistics that hold for any correct mask: on x = 1 the kept units are exactly 1/p, and a fraction p is kept.
    const p = 0.3 + 0.6 * ctx.rng.uniform();
    const stats = await outOf(ones([100, 200]), { p, mode: "train", seed: ctx.rng.int(1_000_000) });
    if (isTensor(stats.out) && stats.out.shape.join() === "100,200") {
      const v = toFloat64Array(stats.out);
      const kept = v.filter((e) => e !== 0);
      const frac = kept.length / v.length;
      // 20,000 Bernoulli(p) draws: the kept fraction has standard deviation at most 0.0036; 0.025 is 7 of them.
      parts.push(expectThat("kept fraction is p", Math.abs(frac - p) < 0.025, `a fraction p = ${p.toFixed(3)} of the units should be kept, got ${frac.toFixed(3)}`));
      const scaled = kept.length > 0 && kept.every((e) => Math.abs(e - 1 / p) <= 1e-12 / p);
      parts.push(expectThat("kept units scaled by 1/p", scaled, "inverted dropout scales every kept unit by 1/p, so that the expected output equals the input"));
    } else {
      parts.push(...failAll(["kept fraction is p", "kept units scaled by 1/p"], stats.problem ?? "dropoutForward must return out with x's shape"));
    }
    parts.push(exact("keep probability 1: out = x", await outOf(c.x, { p: 1, mode: "train", seed: c.seed }), c.x));
    parts.push(exact("test mode: out = x", await outOf(c.x, { p: c.p, mode: "test" }), c.x));
    return parts;
  },
};

const dropoutBackwardTest: HiddenTest = {
  name: "layers: dropoutBackward",
  files: [FILE],
  maxScore: 2,
  exercises: ["dropoutBackward"],
  async run(student, ctx) {
    const parts: TestPart[] = [];
    const c = dropoutCase(ctx.rng);
    const dout = randn(c.x.shape, ctx.rng);
    for (const mode of ["train", "test"] as const) {
      const names = mode === "train" ? ["train mode: dx", "train mode: dx matches your forward's mask"] : ["test mode: dx = dout"];
      const param = mode === "train" ? { p: c.p, mode, seed: c.seed } : { p: c.p, mode };
      const fwd = await studentCache(student, FILE, "dropoutForward", [c.x, param]);
      if (fwd.problem) {
        parts.push({ ...expectThat(names[0], false, fwd.problem), weight: names.length });
        continue;
      }
      const got = await attempt(names[0], names.length, async () => {
        const r = readFields(await student.call(FILE, "dropoutBackward", dout, fwd.cache), "dropoutBackward", ["dx"]);
        if (r.problem) return failAll(names, r.problem);
        if (mode === "test") return compareTensor(names[0], r.value.dx, dout, { atol: 0, rtol: 0 });
        const libCache = dropoutForward(c.x, { p: c.p, mode, seed: c.seed }).cache;
        const out = [compareTensor(names[0], r.value.dx, dropoutBackward(dout, libCache).dx, { atol: 1e-12, rtol: 1e-12 })];
        // Whatever mask the forward drew, out = x·mask, so the backward must give dout·out/x (x is never 0 here).
        const own = isTensor(fwd.out) && fwd.out.shape.join() === c.x.shape.join() ? map(fwd.out, (v) => v) : null;
        if (own) {
          const xs = toFloat64Array(c.x);
          const ds = toFloat64Array(dout);
          own.data.forEach((v, i) => (own.data[i] = (ds[i] * v) / xs[i]));
          out.push(compareTensor(names[1], r.value.dx, own, REF_TOL));
        } else {
          out.push(expectThat(names[1], false, "dropoutForward must return out with x's shape"));
        }
        return out;
      });
      parts.push(...got);
    }
    return parts;
  },
};

// ---------------------------------------------------------------- batch normalization

/**
 * A random batchnorm case. Every feature's batch variance is kept above 0.25: near zero variance x̂ turns
 * sharply with x and centred differences lose their accuracy (a batch of two with close values).
 */
function bnCase(rng: Rng, n: number): { x: Tensor; gamma: Tensor; beta: Tensor; dout: Tensor } {
  const d = intBetween(rng, 2, 6);
  let x = randn([n, d], rng, 1 + 3 * rng.uniform());
  for (let attempt = 0; n > 1 && attempt < 50 && toFloat64Array(variance(x, 0)).some((v) => v < 0.25); attempt++) {
    x = randn([n, d], rng, 1 + 3 * rng.uniform());
  }
  return {
    x: map(x, (v) => v + 2),
    gamma: map(randn([d], rng, 0.5), (v) => v + 1),
    beta: randn([d], rng),
    dout: randn([n, d], rng),
  };
}

const batchnormForwardTest: HiddenTest = {
  name: "layers: batchnormForward",
  files: [FILE],
  maxScore: 4,
  exercises: ["batchnormForward"],
  async run(student, ctx) {
    const parts: TestPart[] = [];
    const rng = ctx.rng;
    type Case = ReturnType<typeof bnCase>;
    /** The library's out, and the bnParam (a copy) as it leaves it. */
    const lib = (c: Case, bn: BatchnormParam) => {
      const param = { ...bn };
      return { out: batchnormForward(c.x, c.gamma, c.beta, param).out, param };
    };
    /** The student's out and the arguments as the call left them, or the feedback that explains why not. */
    const run = async (c: Case, bn: BatchnormParam): Promise<{ out?: unknown; after?: unknown[]; problem?: string }> => {
      const r = await tryCall(() => student.callWithArgs(FILE, "batchnormForward", c.x, c.gamma, c.beta, bn));
      if (r.problem !== undefined) return { problem: r.problem };
      const f = readFields(r.value.value, "batchnormForward", ["out", "cache"]);
      return f.problem ? { problem: f.problem } : { out: f.value.out, after: r.value.argsAfter };
    };
    const bnAfter = (r: { after?: unknown[] }): Record<string, unknown> => (r.after?.[3] ?? {}) as Record<string, unknown>;

    // Train mode with no running statistics yet (zeros), default eps and momentum.
    const c = bnCase(rng, intBetween(rng, 4, 12));
    const names = ["train mode: out", "running mean from zeros", "running variance from zeros", "inputs unchanged"];
    const first = await run(c, { mode: "train" });
    if (first.problem !== undefined) parts.push(...failAll(names, first.problem));
    else {
      const ref = lib(c, { mode: "train" });
      parts.push(compareTensor(names[0], first.out, ref.out, REF_TOL));
      parts.push(compareTensor(names[1], bnAfter(first).runningMean, ref.param.runningMean!, REF_TOL));
      parts.push(compareTensor(names[2], bnAfter(first).runningVar, ref.param.runningVar!, REF_TOL));
      const after = first.after!;
      const changed = [unchanged(names[3], "x", c.x, after[0]), unchanged(names[3], "gamma", c.gamma, after[1]), unchanged(names[3], "beta", c.beta, after[2])];
      parts.push(changed.find((p) => !p.passed) ?? changed[0]);
    }
    // Train mode from given running statistics, with momentum 0.8 and eps 1e-3.
    const d = c.x.shape[1];
    const given: BatchnormParam = { mode: "train", momentum: 0.8, eps: 1e-3, runningMean: randn([d], rng), runningVar: map(randn([d], rng), (v) => 0.5 + Math.abs(v)) };
    const label = "given running statistics, momentum 0.8, eps 1e-3";
    const second = await run(c, given);
    if (second.problem !== undefined) parts.push(expectThat(label, false, second.problem));
    else {
      const ref = lib(c, given);
      const ok =
        compareTensor("out", second.out, ref.out, REF_TOL).passed &&
        compareTensor("runningMean", bnAfter(second).runningMean, ref.param.runningMean!, REF_TOL).passed &&
        compareTensor("runningVar", bnAfter(second).runningVar, ref.param.runningVar!, REF_TOL).passed;
      parts.push(expectThat(label, ok, "with bnParam's own runningMean, runningVar, momentum and eps, the output or the new running statistics are off"));
    }
    // Test mode normalizes with the running statistics, not the batch's.
    const testParam: BatchnormParam = { mode: "test", runningMean: given.runningMean, runningVar: given.runningVar };
    const test = await run(c, testParam);
    parts.push(test.problem !== undefined ? expectThat("test mode: out", false, test.problem) : compareTensor("test mode: out", test.out, lib(c, testParam).out, REF_TOL));
    // A batch of one: the variance is 0, so x̂ = 0 and out = beta.
    const one = bnCase(rng, 1);
    const oneOut = await run(one, { mode: "train" });
    parts.push(oneOut.problem !== undefined ? expectThat("batch of one: out", false, oneOut.problem) : compareTensor("batch of one: out", oneOut.out, lib(one, { mode: "train" }).out, REF_TOL));
    return parts;
  },
};

const batchnorm: LayerSpec = {
  file: FILE,
  forward: "batchnormForward",
  backward: "batchnormBackward",
  argNames: ["x", "gamma", "beta", "bnParam"],
  grads: ["dx", "dgamma", "dbeta"],
  maxScore: 4,
  cases(rng) {
    const make = (label: string, n: number): LayerCase => {
      const c = bnCase(rng, n);
      return { label, args: [c.x, c.gamma, c.beta, { mode: "train" }], dout: c.dout, numeric: true };
    };
    return [make("random batch", intBetween(rng, 4, 8)), make("small batch", 2), make("batch of one", 1)];
  },
  refForward: ([x, g, b]) => batchnormForward(x as Tensor, g as Tensor, b as Tensor, { mode: "train" }).out,
  refBackward: (dout, [x, g, b]) => batchnormBackward(dout, batchnormForward(x as Tensor, g as Tensor, b as Tensor, { mode: "train" }).cache),
};

// ---------------------------------------------------------------- the module

const pairs = [affine, ...activations.map(activationSpec)];

export const tests: HiddenTest[] = [
  ...pairs.flatMap((s) => [forwardTest(s), backwardTest(s)]),
  lossTest("svmLoss", libSvmLoss),
  lossTest("softmaxLoss", libSoftmaxLoss),
  dropoutForwardTest,
  dropoutBackwardTest,
  batchnormForwardTest,
  backwardTest(batchnorm),
];

export const libEquivalents: LibEquivalents = {
  affineForward: ["affineForward"],
  affineBackward: ["affineBackward"],
  reluForward: ["reluForward"],
  reluBackward: ["reluBackward"],
  leakyReluForward: ["leakyReluForward"],
  leakyReluBackward: ["leakyReluBackward"],
  sigmoidForward: ["sigmoidForward", "sigmoidValue"],
  sigmoidBackward: ["sigmoidBackward"],
  tanhForward: ["tanhForward"],
  tanhBackward: ["tanhBackward"],
  eluForward: ["eluForward"],
  eluBackward: ["eluBackward"],
  svmLoss: ["svmLoss"],
  softmaxLoss: ["softmaxLoss", "softmaxRows"],
  dropoutForward: ["dropoutForward"],
  dropoutBackward: ["dropoutBackward"],
  batchnormForward: ["batchnormForward"],
  batchnormBackward: ["batchnormBackward"],
};
