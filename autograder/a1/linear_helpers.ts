import {
  evalNumericalGradient,
  isTensor,
  matmul,
  maxAbsDiff,
  pickByLabel,
  randn,
  toFloat64Array,
  type Labels,
  type Rng,
  type Tensor,
} from "@semantic-gap/lib";
import { compareNumber, compareTensor, expectThat } from "../src/compare.js";
import { loopViolations } from "../src/rules.js";
import type { HiddenTest, Student, TestPart } from "../src/types.js";
import { intBetween, randomLabels } from "../src/cases.js";

export { intBetween, randomLabels };

// Shared pieces of the A1 hidden tests for the linear classifiers and the two-layer net. Every tolerance is
// stated where it is used. Feedback names what failed and by how much, never the hidden inputs or answers.

/** A linear-classifier loss as the reference solutions define it. */
export type RefLoss = (W: Tensor, X: Tensor, y: Labels, reg: number) => { loss: number; dW: Tensor };

/** A random linear-classification problem. */
export interface LinearCase {
  W: Tensor;
  X: Tensor;
  y: Labels;
  reg: number;
}

/**
 * A random problem whose SVM margins all stay at least `gap` away from the hinge's kink, so centred differences
 * with h = 1e-5 never straddle it (a perturbation moves a score by at most h·max|x| ≈ 5e-5).
 */
export function linearCase(rng: Rng, sizes: { n: number; d: number; c: number }, reg: number, wScale = 0.1, gap = 1e-3): LinearCase {
  for (let attempt = 0; ; attempt++) {
    const W = randn([sizes.d, sizes.c], rng, wScale);
    const X = randn([sizes.n, sizes.d], rng);
    const y = randomLabels(rng, sizes.n, sizes.c);
    if (attempt >= 50 || minHingeDistance(W, X, y) >= gap) return { W, X, y, reg };
  }
}

/** The smallest |s_j − s_y + 1| over all examples and classes j ≠ y. */
export function minHingeDistance(W: Tensor, X: Tensor, y: Labels): number {
  const s = matmul(X, W);
  const sy = pickByLabel(s, y);
  const [n, c] = s.shape;
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      if (j !== y[i]) best = Math.min(best, Math.abs(s.get(i, j) - sy.data[i] + 1));
    }
  }
  return best;
}

/** The numerical gradient with respect to W of a trusted loss, computed here in the grader. */
export function numericalGradW(ref: RefLoss, c: LinearCase): Tensor {
  return evalNumericalGradient((w) => ref(w, c.X, c.y, c.reg).loss, c.W);
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return "an array";
  if (isTensor(x)) return "a tensor";
  return typeof x === "object" ? "an object" : typeof x;
}

/** Reads `{ loss, dW }` from a student's return value, or explains what came back instead. */
export function readLossAndGrad(got: unknown, fn: string): { loss: unknown; dW: unknown; problem?: string } {
  if (got === null || typeof got !== "object" || Array.isArray(got) || isTensor(got)) {
    return { loss: undefined, dW: undefined, problem: `${fn} must return an object { loss, dW }, got ${describe(got)}` };
  }
  const r = got as { loss?: unknown; dW?: unknown };
  return { loss: r.loss, dW: r.dW };
}

/**
 * Parts for one call of a linear loss: the loss value, dW against the reference's dW, and dW against a
 * numerical gradient taken here. Weights: loss 1, dW 1, gradient check 1 (scaled by `weight`).
 */
export function lossAndGradParts(
  fn: string,
  got: unknown,
  ref: { loss: number; dW: Tensor },
  numerical: Tensor | null,
  weight = 1,
): TestPart[] {
  const r = readLossAndGrad(got, fn);
  if (r.problem) {
    const parts = [
      { name: "loss", weight, passed: false, message: r.problem },
      { name: "dW", weight, passed: false, message: r.problem },
    ];
    if (numerical) parts.push({ name: "gradient check", weight, passed: false, message: r.problem });
    return parts;
  }
  // The loss is a sum of O(N·C) terms; different summation orders differ by ~1e-15 relative.
  const parts = [
    compareNumber("loss", r.loss, ref.loss, { atol: 1e-10, rtol: 1e-8 }, weight),
    compareTensor("dW", r.dW, ref.dW, { atol: 1e-10, rtol: 1e-7 }, weight),
  ];
  if (numerical) {
    // Centred differences (h = 1e-5) of a loss of size ~10 carry rounding errors near 1e-10; 1e-7 absolute
    // plus 1e-6 relative is far below any real mistake (a missing 1/N or 2·reg·W is off by orders more).
    const p = compareTensor("gradient check", r.dW, numerical, { atol: 1e-7, rtol: 1e-6 }, weight);
    if (!p.passed && isTensor(r.dW)) {
      p.message = `gradient check: dW differs from the numerical gradient of the loss (centred differences)`;
    }
    parts.push(p);
  }
  return parts;
}

/** Prefixes the names and messages of parts with a label such as "one example". */
export function tagged(parts: TestPart[], label: string): TestPart[] {
  return parts.map((p) => ({ ...p, name: `${label}: ${p.name}`, message: p.message && `${label}: ${p.message}` }));
}

/** A part that passes when the arguments after a call equal those before (tensors and label arrays). */
export function unchangedPart(before: unknown[], after: unknown[], names: string[], weight = 1): TestPart {
  const changed: string[] = [];
  before.forEach((b, i) => {
    const a = after[i];
    if (isTensor(b)) {
      if (!isTensor(a) || a.shape.join() !== b.shape.join() || maxAbsDiff(a, b) !== 0) changed.push(names[i]);
    } else if (b instanceof Int32Array) {
      if (!(a instanceof Int32Array) || a.length !== b.length || a.some((v, k) => v !== b[k])) changed.push(names[i]);
    }
  });
  return expectThat(
    "inputs unchanged",
    changed.length === 0,
    `the function modified its argument${changed.length > 1 ? "s" : ""} ${changed.join(", ")}; compute into new tensors instead`,
    weight,
  );
}

/**
 * A test that `fnName` in `file` is vectorized: it must first compute the right loss and gradient on a
 * small random case (so a stub, which has no loops either, earns nothing), then contain no explicit loops.
 */
export function noLoopsTest(prefix: string, file: string, fnName: string, ref: RefLoss): HiddenTest {
  return {
    name: `${prefix}: ${fnName} has no explicit loops`,
    files: [file],
    maxScore: 1,
    async run(student, ctx) {
      const c = linearCase(ctx.rng, { n: 12, d: 9, c: 4 }, 0.1, 0.3, 0);
      const value = await student.call(file, fnName, c.W, c.X, c.y, c.reg);
      const ok = lossAndGradParts(fnName, value, ref(c.W, c.X, c.y, c.reg), null).every((p) => p.passed);
      if (!ok) {
        return [expectThat("no explicit loops", false, `${fnName} must compute the correct loss and gradient before its structure is checked`)];
      }
      return [noLoopsPart(student.source(file), file, fnName)];
    },
  };
}

/** A part checking that `fnName` in `file` has no explicit loops (when the source is available). */
export function noLoopsPart(source: string | null, file: string, fnName: string, weight = 1): TestPart {
  if (source === null) return expectThat("no explicit loops", false, `${file} was not found`, weight);
  // The grader's rule engine: loops in the function and in every helper of the file it reaches.
  const found = loopViolations(source, file, fnName);
  if (found === null) return expectThat("no explicit loops", false, `could not find the function ${fnName} in ${file}`, weight);
  return expectThat(
    "no explicit loops",
    found.length === 0,
    `${fnName} contains ${found.join("; ")}; the vectorized version should use whole-tensor operations only`,
    weight,
  );
}

/** True when every entry of a number array is finite. */
export function allFinite(xs: ArrayLike<number>): boolean {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i])) return false;
  return true;
}

/** Mean of a slice of a number array. */
export function meanOf(xs: ArrayLike<number>, start = 0, end = xs.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += xs[i];
  return s / (end - start);
}

/** A number array or a Float64Array from a student's return value, or null. */
export function asNumberArray(v: unknown): number[] | null {
  if (Array.isArray(v) && v.every((x) => typeof x === "number")) return v as number[];
  if (v instanceof Float64Array) return Array.from(v);
  if (isTensor(v) && v.shape.length === 1) return Array.from(toFloat64Array(v));
  return null;
}

/** Three gaussian blobs in D dimensions (plus a bias column), well separated, with labels 0..2. */
export function blobs(rng: Rng, n: number, d: number): { X: Tensor; y: Labels } {
  const centers = randn([3, d], rng, 3);
  const X = randn([n, d + 1], rng, 0.5);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y[i] = c;
    for (let k = 0; k < d; k++) X.set(i, k, X.get(i, k) + centers.get(c, k));
    X.set(i, d, 1);
  }
  return { X, y };
}

/** Calls a student's loss function `fn` of `file` on a case, with the arguments as they were afterwards. */
export function callLinearLoss(student: Student, file: string, fn: string, c: LinearCase): Promise<{ value: unknown; argsAfter: unknown[] }> {
  return student.callWithArgs(file, fn, c.W, c.X, c.y, c.reg);
}

/**
 * Two random seeded cases, with and without regularization: the loss and dW against the reference, dW
 * against a numerical gradient of the reference loss, and the inputs left unchanged. `wScale` and `gap`
 * shape the cases as in linearCase.
 */
export function randomLossTest(prefix: string, file: string, fn: string, ref: RefLoss, wScale = 0.1, gap = 1e-3): HiddenTest {
  return {
    name: `${prefix}: ${fn} on random inputs`,
    files: [file],
    maxScore: 3,
    async run(student, ctx) {
      const parts: TestPart[] = [];
      for (let k = 0; k < 2; k++) {
        const sizes = { n: intBetween(ctx.rng, 8, 30), d: intBetween(ctx.rng, 5, 25), c: intBetween(ctx.rng, 3, 8) };
        const c = linearCase(ctx.rng, sizes, k === 0 ? 0.05 + ctx.rng.uniform() : 0, wScale, gap);
        const { value, argsAfter } = await callLinearLoss(student, file, fn, c);
        const label = k === 0 ? "with regularization" : "with reg = 0";
        parts.push(...tagged(lossAndGradParts(fn, value, ref(c.W, c.X, c.y, c.reg), numericalGradW(ref, c)), label));
        if (k === 0) parts.push(unchangedPart([c.W, c.X, c.y], argsAfter.slice(0, 3), ["W", "X", "y"]));
      }
      return parts;
    },
  };
}
