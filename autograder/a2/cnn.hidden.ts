import {
  evalNumericalGradient,
  isTensor,
  map,
  matmul,
  oneHot,
  randn,
  reshape,
  softmaxRows,
  sub,
  sum,
  toFloat64Array,
  type Labels,
  type Rng,
  type Tensor,
} from "@semantic-gap/lib";
import { attempt, compareNumber, compareTensor, describeStudentError, expectThat, unchanged, type Tolerance } from "../src/compare.js";
import { StudentError, type HiddenTest, type LibEquivalents, type Student, type StudentObject, type TestPart } from "../src/types.js";
import { intBetween, namesNumber, refConvBackward, refConvForward, refPoolBackward, refPoolForward } from "./conv_reference.js";

// Hidden tests of cnn.ts (ThreeLayerConvNet): parameter shapes and initial statistics, invalid options, and
// scores, loss and gradients against the grader's own network (built from conv_reference.ts) and against
// numerical gradients of it. The grader cannot set a student's parameters, so it reads them after
// construction and computes the reference with them.

const FILE = "cnn.ts";
const CLS = "ThreeLayerConvNet";
const NAMES = ["W1", "b1", "W2", "b2", "W3", "b3"] as const;
type Params = Record<(typeof NAMES)[number], Tensor>;

/**
 * cnn.ts may use the library's fast convolution and pooling (the curriculum says so), and no library export
 * computes a whole ThreeLayerConvNet: nothing counts as delegation here.
 */
export const libEquivalents: LibEquivalents = {};

/** Same mathematics in another order: rounding differences stay near 1e-14. */
const EXACT: Tolerance = { atol: 1e-10, rtol: 1e-7 };


interface NetOptions {
  inputDim: [number, number, number];
  numFilters: number;
  filterSize: number;
  hiddenDim: number;
  numClasses: number;
  weightScale: number;
  reg: number;
  seed: number;
}

/** A small random architecture (even H and W, odd filter size). */
function smallOptions(rng: Rng, weightScale: number, reg = 0): NetOptions {
  return {
    inputDim: [intBetween(rng, 1, 2), 2 * intBetween(rng, 2, 3), 2 * intBetween(rng, 2, 3)],
    numFilters: intBetween(rng, 2, 3),
    filterSize: [1, 3, 3, 5][rng.int(4)],
    hiddenDim: intBetween(rng, 3, 6),
    numClasses: intBetween(rng, 3, 5),
    weightScale,
    reg,
    seed: rng.int(10_000),
  };
}

function expectedShapes(o: NetOptions): Record<string, number[]> {
  const [C, H, W] = o.inputDim;
  const F = o.numFilters;
  return {
    W1: [F, C, o.filterSize, o.filterSize],
    b1: [F],
    W2: [F * (H / 2) * (W / 2), o.hiddenDim],
    b2: [o.hiddenDim],
    W3: [o.hiddenDim, o.numClasses],
    b3: [o.numClasses],
  };
}

/** The student's params when every one has the expected shape, else a message saying which does not. */
async function readParams(net: StudentObject, shapes: Record<string, number[]>): Promise<{ params?: Params; problem?: string }> {
  const p = (await net.get("params")) as Record<string, unknown> | null;
  if (p === null || typeof p !== "object") return { problem: "params must be an object of tensors { W1, b1, W2, b2, W3, b3 }" };
  for (const k of NAMES) {
    const t = p[k];
    if (!isTensor(t)) return { problem: `params.${k} is missing or not a float64 tensor` };
    if (t.shape.join() !== shapes[k].join()) return { problem: `params.${k} has shape (${t.shape.join(", ")}), expected (${shapes[k].join(", ")})` };
  }
  return { params: p as unknown as Params };
}

/** The grader's ThreeLayerConvNet: scores, and with labels the loss and every gradient. */
export function refNetLoss(p: Params, X: Tensor, y: Labels | undefined, reg: number): { scores: Tensor; loss: number; grads: Params | null } {
  const pad = (p.W1.shape[2] - 1) / 2;
  const conv = refConvForward(X, p.W1, p.b1, { stride: 1, pad });
  const relu1 = map(conv, (v) => Math.max(0, v));
  const pool = { poolHeight: 2, poolWidth: 2, stride: 2 };
  const pooled = refPoolForward(relu1, pool, "max");
  const N = X.shape[0];
  const flat = reshape(pooled, [N, -1]);
  const hPre = matmul(flat, p.W2);
  const b2 = toFloat64Array(p.b2);
  for (let i = 0; i < hPre.data.length; i++) hPre.data[i] += b2[i % b2.length];
  const h = map(hPre, (v) => Math.max(0, v));
  const scores = matmul(h, p.W3);
  const b3 = toFloat64Array(p.b3);
  for (let i = 0; i < scores.data.length; i++) scores.data[i] += b3[i % b3.length];
  if (y === undefined) return { scores, loss: NaN, grads: null };
  const probs = softmaxRows(scores);
  const C = scores.shape[1];
  let data = 0;
  for (let i = 0; i < N; i++) data -= Math.log(probs.data[i * C + y[i]]);
  const sq = (t: Tensor) => toFloat64Array(t).reduce((a, v) => a + v * v, 0);
  const loss = data / N + 0.5 * reg * (sq(p.W1) + sq(p.W2) + sq(p.W3));
  const ds = map(sub(probs, oneHot(y, C)), (v) => v / N);
  const plusReg = (g: Tensor, w: Tensor): Tensor => {
    const wd = toFloat64Array(w);
    for (let i = 0; i < g.data.length; i++) g.data[i] += reg * wd[i];
    return g;
  };
  const colSums = (t: Tensor): Tensor => sum(t, 0);
  const dW3 = plusReg(matmul(h, ds, true), p.W3);
  const dh = matmul(ds, p.W3, false, true);
  for (let i = 0; i < dh.data.length; i++) if (!(h.data[i] > 0)) dh.data[i] = 0;
  const dW2 = plusReg(matmul(flat, dh, true), p.W2);
  const dPooled = reshape(matmul(dh, p.W2, false, true), pooled.shape);
  const dRelu1 = refPoolBackward(dPooled, relu1, pool, "max");
  for (let i = 0; i < dRelu1.data.length; i++) if (!(conv.data[i] > 0)) dRelu1.data[i] = 0;
  const g1 = refConvBackward(dRelu1, X, p.W1, { stride: 1, pad });
  return { scores, loss, grads: { W1: plusReg(g1.dw, p.W1), b1: g1.db, W2: dW2, b2: colSums(dh), W3: dW3, b3: colSums(ds) } };
}

/**
 * How close the network comes to a kink for X: the smallest |pre-activation| of both ReLUs and the smallest gap
 * between a pool window's two largest values. Centred differences with h = 1e-5 move these by far less than
 * 1e-3, so a case above that margin has smooth numerical gradients.
 */
function kinkMargin(p: Params, X: Tensor): number {
  const pad = (p.W1.shape[2] - 1) / 2;
  const conv = refConvForward(X, p.W1, p.b1, { stride: 1, pad });
  let m = Infinity;
  for (const v of conv.data) m = Math.min(m, Math.abs(v));
  const relu1 = map(conv, (v) => Math.max(0, v));
  const [N, F, H, W] = relu1.shape;
  for (let nc = 0; nc < N * F; nc++) {
    for (let i = 0; i < H; i += 2) {
      for (let j = 0; j < W; j += 2) {
        const v = [0, 1, W, W + 1].map((o) => relu1.data[nc * H * W + i * W + j + o]).sort((a, b) => b - a);
        if (v[0] > 0) m = Math.min(m, v[0] - v[1]);
      }
    }
  }
  const flat = reshape(refPoolForward(relu1, { poolHeight: 2, poolWidth: 2, stride: 2 }, "max"), [N, -1]);
  for (const v of matmul(flat, p.W2).data) m = Math.min(m, Math.abs(v));
  return m;
}

function randomLabels(rng: Rng, n: number, c: number): Labels {
  return Int32Array.from({ length: n }, () => rng.int(c));
}

async function construct(student: Student, o: NetOptions): Promise<{ net: StudentObject; params?: Params; problem?: string }> {
  const net = await student.construct(FILE, CLS, o);
  return { net, ...(await readParams(net, expectedShapes(o))) };
}

function readLoss(got: unknown): { loss?: unknown; grads?: Record<string, unknown>; problem?: string } {
  if (got === null || typeof got !== "object" || isTensor(got)) return { problem: "loss(X, y) must return an object { loss, grads }" };
  const r = got as { loss?: unknown; grads?: unknown };
  if (r.grads === null || typeof r.grads !== "object") return { problem: "loss(X, y) must return grads as an object keyed like params" };
  return { loss: r.loss, grads: r.grads as Record<string, unknown> };
}

const initTest: HiddenTest = {
  name: "cnn: ThreeLayerConvNet parameters and initialization",
  files: [FILE],
  maxScore: 3,
  exercises: ["ThreeLayerConvNet.constructor"],
  timeoutMs: 60_000,
  async run(student, { rng }) {
    const parts: TestPart[] = [];
    const defaults: NetOptions = { inputDim: [1, 28, 28], numFilters: 32, filterSize: 7, hiddenDim: 100, numClasses: 10, weightScale: 1e-3, reg: 0, seed: 0 };
    let defaultParams: Params | undefined;
    let missingWhy = "params missing or of the wrong shape";
    parts.push(
      ...(await attempt("default shapes", 1, async () => {
        try {
          const net = await student.construct(FILE, CLS);
          const r = await readParams(net, expectedShapes(defaults));
          defaultParams = r.params;
          return expectThat("default shapes", !r.problem, `with the default options, ${r.problem}`);
        } catch (e) {
          if (e instanceof StudentError) missingWhy = describeStudentError(e);
          throw e;
        }
      })),
    );
    const o = smallOptions(rng, 0.01 + 0.09 * rng.uniform(), 0.1 + rng.uniform());
    let small: { net: StudentObject; params?: Params; problem?: string } | undefined;
    parts.push(
      ...(await attempt("shapes for other options", 1, async () => {
        small = await construct(student, o);
        return expectThat("shapes for other options", !small.problem, `for inputDim [${o.inputDim.join(", ")}], ${o.numFilters} filters of ${o.filterSize}x${o.filterSize}, hiddenDim ${o.hiddenDim}, numClasses ${o.numClasses}: ${small.problem}`);
      })),
    );
    // Statistics: weights gaussian with standard deviation weightScale, biases zero. With n draws the RMS is
    // within about 1/√(2n) of the scale (1568 draws for W1: 1.8%) and the mean within scale/√n; the bounds
    // below are 8 standard errors or more, so a correct init never fails them.
    const stats = (t: Tensor) => {
      const v = toFloat64Array(t);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return { rms: Math.sqrt(v.reduce((a, b) => a + b * b, 0) / v.length), mean, n: v.length };
    };
    const initOk = (p: Params, scale: number, rtol: (n: number) => number): string | null => {
      for (const k of ["b1", "b2", "b3"] as const) if (!toFloat64Array(p[k]).every((v) => v === 0)) return `${k} should start at zero`;
      for (const k of ["W1", "W2", "W3"] as const) {
        const s = stats(p[k]);
        if (Math.abs(s.rms / scale - 1) > rtol(s.n) || Math.abs(s.mean) > (8 * scale) / Math.sqrt(s.n)) {
          return `${k} should be gaussian with mean 0 and standard deviation weightScale`;
        }
      }
      return null;
    };
    const tolFor = (n: number) => Math.max(0.02, 8 / Math.sqrt(2 * n));
    const why = defaultParams ? initOk(defaultParams, 1e-3, tolFor) : missingWhy;
    parts.push(expectThat("initial values", why === null, why ?? ""));
    parts.push(
      ...(await attempt("seeded", 1, async () => {
        const first = small?.params ? small : await construct(student, o);
        if (!first.params) return expectThat("seeded", false, first.problem ?? "params missing");
        small = first;
        const again = await construct(student, o);
        const other = await construct(student, { ...o, seed: o.seed + 1 });
        const same = NAMES.every((k) => again.params && toFloat64Array(again.params[k]).every((v, i) => v === toFloat64Array(small!.params![k])[i]));
        const differs = other.params !== undefined && toFloat64Array(other.params.W1).some((v, i) => v !== toFloat64Array(small!.params!.W1)[i]);
        return expectThat("seeded", same && differs, "the same seed must give the same weights and another seed other weights (draw them from new Rng(seed))");
      })),
    );
    parts.push(
      ...(await attempt("reg", 1, async () => {
        const got = await (small ?? (await construct(student, o))).net.get("reg");
        return expectThat("reg", got === o.reg, "the net should keep its regularization strength in `reg`");
      })),
    );
    return parts;
  },
};

/** A part passing when the constructor throws an error naming `value`. */
async function rejectsOption(student: Student, name: string, opts: Partial<NetOptions>, value: number): Promise<TestPart> {
  try {
    await student.construct(FILE, CLS, opts);
  } catch (e) {
    if (!(e instanceof StudentError) || e.kind !== "threw") return expectThat(name, false, e instanceof StudentError ? describeStudentError(e) : String(e));
    const message = e.message;
    return expectThat(name, namesNumber(message, value), `the error should name the offending value ${value}; it said: ${message.slice(0, 200)}`);
  }
  return expectThat(name, false, "expected an error, but the constructor returned");
}

const invalidTest: HiddenTest = {
  name: "cnn: ThreeLayerConvNet rejects invalid options",
  files: [FILE],
  maxScore: 1,
  exercises: ["ThreeLayerConvNet.constructor"],
  async run(student) {
    return [
      await rejectsOption(student, "even filterSize", { inputDim: [1, 8, 8], filterSize: 4 }, 4),
      await rejectsOption(student, "odd height", { inputDim: [1, 9, 8], filterSize: 3 }, 9),
      await rejectsOption(student, "odd width", { inputDim: [2, 6, 11], filterSize: 3 }, 11),
    ];
  },
};

/** A small net and data far from every kink (see kinkMargin), with the student's params read back. */
async function smoothCase(student: Student, rng: Rng, reg: number, n: number) {
  const o = smallOptions(rng, 0.3, reg);
  const c = await construct(student, o);
  if (!c.params) return { ...c, o, X: randn([1, ...o.inputDim], rng), y: new Int32Array(1) };
  let X = randn([n, ...o.inputDim], rng);
  for (let attempt = 0; attempt < 100 && kinkMargin(c.params, X) < 1e-3; attempt++) X = randn([n, ...o.inputDim], rng);
  return { ...c, o, X, y: randomLabels(rng, n, o.numClasses) };
}

const scoresTest: HiddenTest = {
  name: "cnn: ThreeLayerConvNet.loss scores and the loss at initialization",
  files: [FILE],
  maxScore: 2,
  exercises: ["ThreeLayerConvNet.loss"],
  async run(student, { rng }) {
    const parts: TestPart[] = [];
    parts.push(
      ...(await attempt("scores", 1, async () => {
        const c = await smoothCase(student, rng, 0, intBetween(rng, 2, 4));
        if (!c.params) return expectThat("scores", false, c.problem ?? "params missing");
        return compareTensor("scores", await c.net.call("loss", c.X), refNetLoss(c.params, c.X, undefined, 0).scores, EXACT);
      })),
    );
    parts.push(
      ...(await attempt("loss at initialization", 1, async () => {
        // Tiny weights give near-zero scores, so the loss is ln(numClasses) (to about 1e-6).
        const o: NetOptions = { ...smallOptions(rng, 1e-3), numClasses: 10 };
        const c = await construct(student, o);
        if (!c.params) return expectThat("loss at initialization", false, c.problem ?? "params missing");
        const X = randn([intBetween(rng, 5, 10), ...o.inputDim], rng);
        const r = readLoss(await c.net.call("loss", X, randomLabels(rng, X.shape[0], 10)));
        if (r.problem) return expectThat("loss at initialization", false, r.problem);
        const p = compareNumber("loss at initialization", r.loss, Math.log(10), { atol: 1e-3, rtol: 0 });
        return p.passed ? p : { ...p, message: `${p.message}; a fresh net with tiny weights should give ln 10 ≈ 2.3026 for 10 classes` };
      })),
    );
    return parts;
  },
};

/** Loss and every gradient against the reference, then (optionally) against numerical gradients. */
function lossParts(c: { params: Params; X: Tensor; y: Labels }, reg: number, got: unknown, label: string, numerical: boolean): TestPart[] {
  const ref = refNetLoss(c.params, c.X, c.y, reg);
  const tag = (p: TestPart): TestPart => ({ ...p, name: `${label}: ${p.name}`, message: p.message && `${label}: ${p.message}` });
  const names = ["loss", "weight gradients", "bias gradients", ...(numerical ? ["gradient check"] : [])];
  const r = readLoss(got);
  if (r.problem) return names.map((n) => tag(expectThat(n, false, r.problem!)));
  const group = (name: string, keys: readonly (keyof Params)[]): TestPart => {
    for (const k of keys) {
      const p = compareTensor(name, r.grads![k], ref.grads![k], EXACT);
      if (!p.passed) return { ...p, message: `${p.message} (grads.${k})` };
    }
    return expectThat(name, true, "");
  };
  const parts = [
    compareNumber("loss", r.loss, ref.loss, { atol: 1e-10, rtol: 1e-9 }),
    group("weight gradients", ["W1", "W2", "W3"]),
    group("bias gradients", ["b1", "b2", "b3"]),
  ];
  if (numerical) {
    // Relative error max|a − n| / max(1e-5, |a| + |n|) below 1e-5 for every parameter (the curriculum's bar for
    // whole networks), against centred differences of the grader's own loss. The floor of 1e-5 holds entries
    // smaller than that to an absolute 1e-10 instead: centred differences with h = 1e-5 of a loss near ln 10
    // carry about 1e-11 of rounding, which is a relative 1.2e-5 on an entry of 3.5e-7 (seen on one grading
    // seed of a correct solution).
    const bad: string[] = [];
    for (const k of NAMES) {
      const f = (t: Tensor) => refNetLoss({ ...c.params, [k]: t }, c.X, c.y, reg).loss;
      const num = evalNumericalGradient(f, c.params[k]);
      const g = r.grads![k];
      if (!isTensor(g) || g.shape.join() !== num.shape.join()) {
        bad.push(k);
        continue;
      }
      const gd = toFloat64Array(g);
      const err = num.data.reduce((m, v, i) => Math.max(m, Math.abs(v - gd[i]) / Math.max(1e-5, Math.abs(v) + Math.abs(gd[i]))), 0);
      if (!(err < 1e-5)) bad.push(k);
    }
    parts.push(expectThat("gradient check", bad.length === 0, `the gradients of ${bad.join(", ")} differ from numerical gradients of the loss (relative error 1e-5 or more)`));
  }
  return parts.map(tag);
}

const gradientTest: HiddenTest = {
  name: "cnn: ThreeLayerConvNet.loss gradients",
  files: [FILE],
  maxScore: 4,
  exercises: ["ThreeLayerConvNet.loss"],
  timeoutMs: 60_000,
  async run(student, { rng }) {
    const parts: TestPart[] = [];
    parts.push(
      ...(await attempt("without regularization", 4, async () => {
        const c = await smoothCase(student, rng, 0, intBetween(rng, 2, 4));
        if (!c.params) return expectThat("without regularization", false, c.problem ?? "params missing", 4);
        const r = await c.net.callWithArgs("loss", c.X, c.y);
        return [...lossParts({ params: c.params, X: c.X, y: c.y }, 0, r.value, "without regularization", true), unchanged("X unchanged", "X", c.X, r.argsAfter[0])];
      })),
    );
    parts.push(
      ...(await attempt("with regularization", 3, async () => {
        const reg = 0.05 + rng.uniform();
        const c = await smoothCase(student, rng, reg, intBetween(rng, 2, 4));
        if (!c.params) return expectThat("with regularization", false, c.problem ?? "params missing", 3);
        return lossParts({ params: c.params, X: c.X, y: c.y }, reg, await c.net.call("loss", c.X, c.y), "with regularization", false);
      })),
    );
    parts.push(
      ...(await attempt("one image", 3, async () => {
        const c = await smoothCase(student, rng, 0, 1);
        if (!c.params) return expectThat("one image", false, c.problem ?? "params missing", 3);
        return lossParts({ params: c.params, X: c.X, y: c.y }, 0, await c.net.call("loss", c.X, c.y), "one image", false);
      })),
    );
    return parts;
  },
};

export const tests: HiddenTest[] = [initTest, invalidTest, scoresTest, gradientTest];
