import { evalNumericalGradientArray, isTensor, randn, tensor, toFloat64Array, type Rng, type Tensor } from "@semantic-gap/lib";
import { attempt, compareTensor, describeStudentError, expectThat, unchanged, type Tolerance } from "../src/compare.js";
import { StudentError, type HiddenTest, type LibEquivalents, type Student, type TestPart } from "../src/types.js";
import {
  refConvBackward,
  refConvForward,
  refPoolBackward,
  refPoolForward,
  refSpatialBnBackward,
  refSpatialBnForward,
  intBetween,
  namesNumber,
  type ConvGeometry,
  type PoolGeometry,
  type RefBnParam,
} from "./conv_reference.js";

// Hidden tests of conv_layers.ts: random geometries against the grader's own loops (conv_reference.ts) and
// numerical gradients of them, invalid geometry, and max pooling's tie rule. Feedback says what failed and by
// how much, never the hidden inputs.

const FILE = "conv_layers.ts";

/** The library's versions of the exercises: a submission that hands its work to them earns nothing. */
export const libEquivalents: LibEquivalents = {
  convForwardNaive: ["convForwardFast"],
  convBackwardNaive: ["convBackwardFast", "convBackwardFastParams"],
  maxPoolForwardNaive: ["maxPoolForwardFast"],
  maxPoolBackwardNaive: ["maxPoolBackwardFast"],
  spatialBatchnormForward: ["batchnormForward", "spatialBatchnormForward"],
  spatialBatchnormBackward: ["batchnormBackward", "batchnormBackwardAlt", "spatialBatchnormBackward"],
};

/** Sums of up to a few hundred products of O(1) numbers: rounding differences stay near 1e-14. */
const EXACT: Tolerance = { atol: 1e-10, rtol: 1e-8 };
/**
 * Centred differences (h = 1e-5) of functions that are linear (conv, pooling away from ties) or smooth
 * (batchnorm) carry rounding errors of ~1e-10 here; a real mistake is off by orders more.
 */
const NUMERIC: Tolerance = { atol: 1e-7, rtol: 1e-5 };


interface ConvCase {
  x: Tensor;
  w: Tensor;
  b: Tensor;
  param: ConvGeometry;
}

/**
 * A random valid convolution: filters 1..4 by 1..4 but never 1x1 (so a flipped filter differs), stride and
 * pad as given, input sizes derived from an output of 1..4 by 1..4 positions.
 */
function convCase(rng: Rng, opts: { pad: number; stride: number; N?: number }): ConvCase {
  const { pad, stride } = opts;
  let HH = intBetween(rng, 1, 4);
  const WW = intBetween(rng, 1, 4);
  if (HH === 1 && WW === 1) HH = 2;
  // Outputs of 1..4 positions, more when the padding would otherwise leave an input of no pixels.
  const size = (k: number): number => {
    let out = intBetween(rng, 1, 4);
    while ((out - 1) * stride + k - 2 * pad < 1) out++;
    return (out - 1) * stride + k - 2 * pad;
  };
  const H = size(HH);
  const W = size(WW);
  const N = opts.N ?? intBetween(rng, 2, 3);
  const C = intBetween(rng, 1, 3);
  const F = intBetween(rng, 1, 3);
  return { x: randn([N, C, H, W], rng), w: randn([F, C, HH, WW], rng), b: randn([F], rng), param: { stride, pad } };
}

/** Reads `{ out, cache }` (or another named result) from a student's return value. */
function field(got: unknown, key: string): unknown {
  return got !== null && typeof got === "object" && !isTensor(got) ? (got as Record<string, unknown>)[key] : undefined;
}

function missing(fn: string, got: unknown, keys: string[]): string | null {
  const bad = keys.filter((k) => field(got, k) === undefined);
  return bad.length ? `${fn} must return an object { ${keys.join(", ")} }; ${bad.join(", ")} missing` : null;
}

/** Compares every case's output with the reference; one part for the group, failing on its first bad case. */
async function forwardGroup(
  name: string,
  cases: Array<() => Promise<{ got: unknown; expected: Tensor }>>,
  fn: string,
  weight = 1,
): Promise<TestPart[]> {
  return attempt(name, weight, async () => {
    for (let k = 0; k < cases.length; k++) {
      const { got, expected } = await cases[k]();
      const problem = missing(fn, got, ["out", "cache"]);
      if (problem) return expectThat(name, false, problem, weight);
      const p = compareTensor(name, field(got, "out"), expected, EXACT, weight);
      if (!p.passed) return { ...p, message: `${p.message} (case ${k + 1} of ${cases.length})` };
    }
    return expectThat(name, true, "", weight);
  });
}

/** A part that passes when the call throws an error whose message contains every number of one of `sizeSets`. */
async function rejects(name: string, call: () => Promise<unknown>, sizeSets: number[][], what: string): Promise<TestPart> {
  try {
    await call();
  } catch (e) {
    if (!(e instanceof StudentError) || e.kind !== "threw") {
      return expectThat(name, false, e instanceof StudentError ? describeStudentError(e) : String(e));
    }
    const message = e.message;
    const ok = sizeSets.some((set) => set.every((n) => namesNumber(message, n)));
    return expectThat(name, ok, `the error should name the sizes involved (${what}); it said: ${message.slice(0, 200)}`);
  }
  return expectThat(name, false, `${what}: expected an error, but the call returned`);
}

const convForwardTest: HiddenTest = {
  name: "conv_layers: convForwardNaive on random geometries",
  files: [FILE],
  maxScore: 4,
  exercises: ["convForwardNaive"],
  async run(student, { rng }) {
    const call = (c: ConvCase) => async () => ({
      got: await student.call(FILE, "convForwardNaive", c.x, c.w, c.b, c.param),
      expected: refConvForward(c.x, c.w, c.b, c.param),
    });
    const noPad = [1, 1, 2, 2].map((stride) => convCase(rng, { pad: 0, stride }));
    const withPad = [1, 2, 1, 3].map((pad, k) => convCase(rng, { pad, stride: 1 + (k % 2) }));
    const one = convCase(rng, { pad: 0, stride: intBetween(rng, 1, 2), N: 1 });
    const parts: TestPart[] = [
      ...(await forwardGroup("no padding", noPad.map(call), "convForwardNaive")),
      ...(await forwardGroup("with padding", withPad.map(call), "convForwardNaive")),
      ...(await forwardGroup("batch of one", [call(one)], "convForwardNaive")),
    ];
    parts.push(
      ...(await attempt("inputs unchanged", 1, async () => {
        const c = withPad[0];
        const r = await student.callWithArgs(FILE, "convForwardNaive", c.x, c.w, c.b, c.param);
        const same = [unchanged("x", "x", c.x, r.argsAfter[0]), unchanged("w", "w", c.w, r.argsAfter[1]), unchanged("b", "b", c.b, r.argsAfter[2])];
        const bad = same.find((p) => !p.passed);
        return bad ? { ...bad, name: "inputs unchanged" } : expectThat("inputs unchanged", true, "");
      })),
    );
    return parts;
  },
};

const convGeometryTest: HiddenTest = {
  name: "conv_layers: convForwardNaive rejects invalid geometry",
  files: [FILE],
  maxScore: 1,
  exercises: ["convForwardNaive"],
  async run(student, { rng }) {
    // Sizes chosen so the numbers that matter are distinct: 3 channels against 5, height 8 − 3 = 5 odd.
    const parts: TestPart[] = [];
    parts.push(
      await rejects(
        "filter with another channel count",
        () => student.call(FILE, "convForwardNaive", randn([2, 3, 6, 6], rng), randn([4, 5, 3, 3], rng), randn([4], rng), { stride: 1, pad: 1 }),
        [[3, 5]],
        "x has 3 channels, w has 5",
      ),
    );
    parts.push(
      await rejects(
        "stride does not divide",
        () => student.call(FILE, "convForwardNaive", randn([2, 1, 8, 7], rng), randn([4, 1, 3, 3], rng), randn([4], rng), { stride: 2, pad: 0 }),
        [[8, 2], [5, 2]],
        "height 8 with a 3-row filter and stride 2",
      ),
    );
    return parts;
  },
};

/** Student's forward then backward on one case, compared with the reference gradients and numerical ones. */
async function convBackwardParts(student: Student, c: ConvCase, rng: Rng, label: string, numerical: boolean): Promise<TestPart[]> {
  const names = ["dx", "dw", "db", ...(numerical ? ["gradient check"] : [])].map((n) => `${label}: ${n}`);
  const fwd = await student.call(FILE, "convForwardNaive", c.x, c.w, c.b, c.param);
  const problem = missing("convForwardNaive", fwd, ["out", "cache"]);
  if (problem) return names.map((n) => expectThat(n, false, `the backward pass needs the forward's cache: ${problem}`));
  const out = refConvForward(c.x, c.w, c.b, c.param);
  const dout = randn(out.shape, rng);
  const got = await student.call(FILE, "convBackwardNaive", dout, field(fwd, "cache"));
  const ref = refConvBackward(dout, c.x, c.w, c.param);
  const parts = (["dx", "dw", "db"] as const).map((k, i) => compareTensor(names[i], field(got, k), ref[k], EXACT));
  if (numerical) {
    const num = {
      dx: evalNumericalGradientArray((t) => refConvForward(t, c.w, c.b, c.param), c.x, dout),
      dw: evalNumericalGradientArray((t) => refConvForward(c.x, t, c.b, c.param), c.w, dout),
      db: evalNumericalGradientArray((t) => refConvForward(c.x, c.w, t, c.param), c.b, dout),
    };
    const bad = (["dx", "dw", "db"] as const).filter((k) => !compareTensor(k, field(got, k), num[k], NUMERIC).passed);
    parts.push(expectThat(names[3], bad.length === 0, `${bad.join(", ")} differ from numerical gradients of the convolution`));
  }
  return parts;
}

const convBackwardTest: HiddenTest = {
  name: "conv_layers: convBackwardNaive on random geometries",
  files: [FILE],
  maxScore: 4,
  exercises: ["convBackwardNaive"],
  async run(student, { rng }) {
    const padded = convCase(rng, { pad: intBetween(rng, 1, 2), stride: intBetween(rng, 1, 2) });
    const plain = convCase(rng, { pad: 0, stride: intBetween(rng, 1, 2) });
    return [
      ...(await attempt("with padding", 4, () => convBackwardParts(student, padded, rng, "with padding", true))),
      ...(await attempt("no padding", 3, () => convBackwardParts(student, plain, rng, "no padding", false))),
    ];
  },
};

/** Values at least 0.04 apart (a shuffled grid plus jitter), so no window has a tie or a near tie. */
function distinctValues(rng: Rng, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const p = rng.permutation(n);
  return tensor(Float64Array.from(p, (k) => (k - n / 2) * 0.05 + 0.01 * rng.uniform()), shape);
}

/** Small integers: most windows hold ties. */
function tiedValues(rng: Rng, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float64Array.from({ length: n }, () => rng.int(3)), shape);
}

/** True when some window's maximum occurs at two or more of its positions. */
function hasTie(x: Tensor, p: PoolGeometry): boolean {
  const [N, C, H, W] = x.shape;
  const xd = toFloat64Array(x);
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i + p.poolHeight <= H; i += p.stride) {
      for (let j = 0; j + p.poolWidth <= W; j += p.stride) {
        const vals: number[] = [];
        for (let u = 0; u < p.poolHeight; u++) for (let v = 0; v < p.poolWidth; v++) vals.push(xd[(nc * H + i + u) * W + j + v]);
        const m = Math.max(...vals);
        if (vals.filter((v) => v === m).length > 1) return true;
      }
    }
  }
  return false;
}

/** A random pooling case; `overlap` makes the stride smaller than the window. */
function poolCase(rng: Rng, overlap: boolean, values: (rng: Rng, shape: number[]) => Tensor): { x: Tensor; p: PoolGeometry } {
  if (values === tiedValues) {
    // Drawn until some window has a tie, so that the case tells the first maximum from the last.
    for (;;) {
      const c = poolCase(rng, overlap, distinctValues);
      const x = tiedValues(rng, c.x.shape);
      if (hasTie(x, c.p)) return { x, p: c.p };
    }
  }
  const poolHeight = intBetween(rng, 2, 3);
  const poolWidth = intBetween(rng, overlap ? 2 : 1, 3);
  const stride = overlap ? 1 : Math.max(poolHeight, poolWidth);
  const H = (intBetween(rng, 1, 3) - 1) * stride + poolHeight;
  const W = (intBetween(rng, 1, 3) - 1) * stride + poolWidth;
  return { x: values(rng, [intBetween(rng, 1, 3), intBetween(rng, 1, 3), H, W]), p: { poolHeight, poolWidth, stride } };
}

function poolForwardTest(kind: "max" | "avg"): HiddenTest {
  const fn = `${kind}PoolForwardNaive`;
  return {
    name: `conv_layers: ${fn} on random geometries`,
    files: [FILE],
    maxScore: 2,
    exercises: [fn],
    async run(student, { rng }) {
      const call = (c: { x: Tensor; p: PoolGeometry }) => async () => ({
        got: await student.call(FILE, fn, c.x, c.p),
        expected: refPoolForward(c.x, c.p, kind),
      });
      const parts: TestPart[] = [
        ...(await forwardGroup("windows side by side", [0, 1, 2].map(() => call(poolCase(rng, false, distinctValues))), fn)),
        ...(await forwardGroup("overlapping windows", [0, 1].map(() => call(poolCase(rng, true, distinctValues))), fn)),
      ];
      parts.push(
        await rejects(
          "stride does not divide",
          () => student.call(FILE, fn, randn([2, 1, 7, 6], rng), { poolHeight: 2, poolWidth: 2, stride: 2 }),
          [[7, 2], [5, 2]],
          "height 7 with 2x2 windows and stride 2",
        ),
      );
      return parts;
    },
  };
}

async function poolBackwardPart(
  student: Student,
  kind: "max" | "avg",
  c: { x: Tensor; p: PoolGeometry },
  rng: Rng,
  name: string,
  numerical: boolean,
): Promise<TestPart> {
  const fn = `${kind}PoolForwardNaive`;
  const fwd = await student.call(FILE, fn, c.x, c.p);
  const problem = missing(fn, fwd, ["out", "cache"]);
  if (problem) return expectThat(name, false, `the backward pass needs the forward's cache: ${problem}`);
  const dout = randn(refPoolForward(c.x, c.p, kind).shape, rng);
  const got = field(await student.call(FILE, `${kind}PoolBackwardNaive`, dout, field(fwd, "cache")), "dx");
  if (numerical) {
    const num = evalNumericalGradientArray((t) => refPoolForward(t, c.p, kind), c.x, dout);
    const p = compareTensor(name, got, num, NUMERIC);
    return p.passed ? p : { ...p, message: `${name}: dx differs from the numerical gradient of the pooling` };
  }
  return compareTensor(name, got, refPoolBackward(dout, c.x, c.p, kind), EXACT);
}

function poolBackwardTest(kind: "max" | "avg"): HiddenTest {
  const fn = `${kind}PoolBackwardNaive`;
  return {
    name: `conv_layers: ${fn} on random geometries`,
    files: [FILE],
    maxScore: kind === "max" ? 3 : 2,
    exercises: [fn],
    async run(student, { rng }) {
      const parts: TestPart[] = [];
      const part = (name: string, overlap: boolean, values: typeof distinctValues, numerical: boolean) =>
        attempt(name, 1, () => poolBackwardPart(student, kind, poolCase(rng, overlap, values), rng, name, numerical));
      parts.push(...(await part("windows side by side", false, distinctValues, false)));
      parts.push(...(await part("overlapping windows", true, distinctValues, false)));
      parts.push(...(await part("gradient check", true, distinctValues, true)));
      if (kind === "max") {
        // Ties: the whole gradient of a window goes to its first maximum in row-major order.
        parts.push(...(await part("ties go to the first maximum", false, tiedValues, false)));
        parts.push(...(await part("ties in overlapping windows", true, tiedValues, false)));
      }
      return parts;
    },
  };
}

const globalPoolTest: HiddenTest = {
  name: "conv_layers: globalAvgPoolForward and globalAvgPoolBackward",
  files: [FILE],
  maxScore: 1,
  exercises: ["globalAvgPoolForward", "globalAvgPoolBackward"],
  async run(student, { rng }) {
    const shape = [intBetween(rng, 1, 3), intBetween(rng, 1, 4), intBetween(rng, 1, 5), intBetween(rng, 1, 5)];
    const x = randn(shape, rng);
    const [N, C, H, W] = shape;
    const whole = { poolHeight: H, poolWidth: W, stride: 1 };
    const expected = tensor(toFloat64Array(refPoolForward(x, whole, "avg")), [N, C]);
    const parts = await attempt("forward", 1, async () => {
      const got = await student.call(FILE, "globalAvgPoolForward", x);
      const problem = missing("globalAvgPoolForward", got, ["out", "cache"]);
      return problem ? expectThat("forward", false, problem) : compareTensor("forward", field(got, "out"), expected, EXACT);
    });
    parts.push(
      ...(await attempt("backward", 1, async () => {
        const fwd = await student.call(FILE, "globalAvgPoolForward", x);
        const problem = missing("globalAvgPoolForward", fwd, ["out", "cache"]);
        if (problem) return expectThat("backward", false, `the backward pass needs the forward's cache: ${problem}`);
        const dout = randn([N, C], rng);
        const got = field(await student.call(FILE, "globalAvgPoolBackward", dout, field(fwd, "cache")), "dx");
        return compareTensor("backward", got, refPoolBackward(tensor(toFloat64Array(dout), [N, C, 1, 1]), x, whole, "avg"), EXACT);
      })),
    );
    return parts;
  },
};

interface BnCase {
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
}

/** Channels with their own means and scales, so statistics over the wrong axes are clearly wrong. */
function bnCase(rng: Rng): BnCase {
  const N = intBetween(rng, 2, 4);
  const C = intBetween(rng, 2, 4);
  const H = intBetween(rng, 2, 4);
  const W = intBetween(rng, 2, 4);
  const x = randn([N, C, H, W], rng);
  const shift = Array.from({ length: C }, () => 3 * rng.gaussian());
  const scale = Array.from({ length: C }, () => 0.5 + 2 * rng.uniform());
  const HW = H * W;
  for (let i = 0; i < x.data.length; i++) {
    const c = Math.floor(i / HW) % C;
    x.data[i] = x.data[i] * scale[c] + shift[c];
  }
  return { x, gamma: randn([C], rng, 0.5, 1), beta: randn([C], rng) };
}

/** Variances for running statistics: (C) values in [0.5, 1.5). */
function positive(rng: Rng, C: number): Tensor {
  return tensor(Float64Array.from({ length: C }, () => 0.5 + rng.uniform()), [C]);
}

const spatialBnForwardTest: HiddenTest = {
  name: "conv_layers: spatialBatchnormForward",
  files: [FILE],
  maxScore: 3,
  exercises: ["spatialBatchnormForward"],
  async run(student, { rng }) {
    const c = bnCase(rng);
    const C = c.x.shape[1];
    const parts: TestPart[] = [];
    const bnTrain: RefBnParam = { mode: "train" };
    const ref1 = refSpatialBnForward(c.x, c.gamma, c.beta, bnTrain);
    let after: unknown;
    let why = "spatialBatchnormForward did not return";
    parts.push(
      ...(await attempt("train mode: out", 1, async () => {
        try {
          const r = await student.callWithArgs(FILE, "spatialBatchnormForward", c.x, c.gamma, c.beta, { mode: "train" });
          after = r.argsAfter[3];
          const problem = missing("spatialBatchnormForward", r.value, ["out", "cache"]);
          return problem ? expectThat("train mode: out", false, problem) : compareTensor("train mode: out", field(r.value, "out"), ref1.out, EXACT);
        } catch (e) {
          if (e instanceof StudentError) why = describeStudentError(e);
          throw e;
        }
      })),
    );
    // Running statistics after one call from zeros, then a second call with other momentum and eps.
    const running = (name: string, got: unknown, mean: Float64Array, vr: Float64Array): TestPart => {
      const m = compareTensor(name, field(got, "runningMean"), tensor(mean, [mean.length]), EXACT);
      const v = compareTensor(name, field(got, "runningVar"), tensor(vr, [vr.length]), EXACT);
      return !m.passed ? { ...m, message: `${m.message} (bnParam.runningMean)` } : !v.passed ? { ...v, message: `${v.message} (bnParam.runningVar)` } : m;
    };
    parts.push(after === undefined ? expectThat("running statistics", false, why) : running("running statistics", after, ref1.runningMean, ref1.runningVar));
    parts.push(
      ...(await attempt("momentum and eps", 1, async () => {
        const c2 = bnCase(rng);
        const C2 = c2.x.shape[1];
        const bn: RefBnParam = { mode: "train", momentum: 0.5 + 0.4 * rng.uniform(), eps: 0.1, runningMean: randn([C2], rng), runningVar: positive(rng, C2) };
        const ref = refSpatialBnForward(c2.x, c2.gamma, c2.beta, bn);
        const r = await student.callWithArgs(FILE, "spatialBatchnormForward", c2.x, c2.gamma, c2.beta, bn);
        const out = compareTensor("momentum and eps", field(r.value, "out"), ref.out, EXACT);
        return out.passed ? running("momentum and eps", r.argsAfter[3], ref.runningMean, ref.runningVar) : out;
      })),
    );
    parts.push(
      ...(await attempt("test mode uses the running statistics", 1, async () => {
        const bn: RefBnParam = { mode: "test", runningMean: randn([C], rng), runningVar: positive(rng, C) };
        const ref = refSpatialBnForward(c.x, c.gamma, c.beta, bn);
        const got = await student.call(FILE, "spatialBatchnormForward", c.x, c.gamma, c.beta, bn);
        return compareTensor("test mode uses the running statistics", field(got, "out"), ref.out, EXACT);
      })),
    );
    return parts;
  },
};

const spatialBnBackwardTest: HiddenTest = {
  name: "conv_layers: spatialBatchnormBackward",
  files: [FILE],
  maxScore: 3,
  exercises: ["spatialBatchnormBackward"],
  async run(student, { rng }) {
    const c = bnCase(rng);
    const names = ["dx", "dgamma", "dbeta", "gradient check"];
    const fwd = await student.call(FILE, "spatialBatchnormForward", c.x, c.gamma, c.beta, { mode: "train" });
    const problem = missing("spatialBatchnormForward", fwd, ["out", "cache"]);
    if (problem) return names.map((n) => expectThat(n, false, `the backward pass needs the forward's cache: ${problem}`));
    const dout = randn(c.x.shape, rng);
    const got = await student.call(FILE, "spatialBatchnormBackward", dout, field(fwd, "cache"));
    const ref = refSpatialBnBackward(dout, c.x, c.gamma);
    const parts = (["dx", "dgamma", "dbeta"] as const).map((k) => compareTensor(k, field(got, k), ref[k], EXACT));
    const fwdOut = (x: Tensor, g: Tensor, b: Tensor) => refSpatialBnForward(x, g, b, { mode: "train" }).out;
    const num = {
      dx: evalNumericalGradientArray((t) => fwdOut(t, c.gamma, c.beta), c.x, dout),
      dgamma: evalNumericalGradientArray((t) => fwdOut(c.x, t, c.beta), c.gamma, dout),
      dbeta: evalNumericalGradientArray((t) => fwdOut(c.x, c.gamma, t), c.beta, dout),
    };
    const bad = (["dx", "dgamma", "dbeta"] as const).filter((k) => !compareTensor(k, field(got, k), num[k], NUMERIC).passed);
    parts.push(expectThat("gradient check", bad.length === 0, `${bad.join(", ")} differ from numerical gradients of spatial batchnorm`));
    return parts;
  },
};

export const tests: HiddenTest[] = [
  convForwardTest,
  convGeometryTest,
  convBackwardTest,
  poolForwardTest("max"),
  poolBackwardTest("max"),
  poolForwardTest("avg"),
  poolBackwardTest("avg"),
  globalPoolTest,
  spatialBnForwardTest,
  spatialBnBackwardTest,
];
