import { copy, evalNumericalGradientArray, isTensor, map, randn, toFloat64Array, type Labels, type Rng, type Tensor } from "@semantic-gap/lib";
import { attempt, compareTensor, describeStudentError, expectThat, unchanged, type Tolerance } from "../src/compare.js";
import { StudentError, type HiddenTest, type Student, type TestPart } from "../src/types.js";
import { intBetween, randomLabels } from "../src/cases.js";

export { intBetween, randomLabels };

// Shared pieces of the A2 hidden tests for layers.ts and optim.ts. References are computed here, in the
// grader, from the library's own layers and update rules (written independently of the exercise) and from
// numerical gradients. Feedback names what failed and by how much, never the hidden inputs or answers.

/** Gaussian values moved at least `gap` away from 0, so that centred differences never straddle a kink at 0. */
export function awayFromZero(shape: number[], rng: Rng, std = 1, gap = 0.02): Tensor {
  return map(randn(shape, rng, std), (v) => (Math.abs(v) < gap ? (v < 0 ? -1 : 1) * (gap + Math.abs(v)) : v));
}

/** Prefixes the names and messages of parts with a label such as "batch of one". */
export function tagged(parts: TestPart[], label: string): TestPart[] {
  return parts.map((p) => ({ ...p, name: `${label}: ${p.name}`, message: p.message && `${label}: ${p.message}` }));
}

/** Failed parts of the given names, all with one message. */
export function failAll(names: string[], message: string): TestPart[] {
  return names.map((n) => expectThat(n, false, message));
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return "an array";
  if (isTensor(x)) return "a tensor";
  return typeof x === "object" ? "an object" : typeof x;
}

/** Reads an object with the given fields from a student's return value, or explains what came back instead. */
export function readFields(got: unknown, fn: string, fields: string[]): { value: Record<string, unknown>; problem?: string } {
  if (got === null || typeof got !== "object" || Array.isArray(got) || isTensor(got)) {
    return { value: {}, problem: `${fn} must return an object { ${fields.join(", ")} }, got ${describe(got)}` };
  }
  return { value: got as Record<string, unknown> };
}

/** Tolerance for a student's value against the library's: same mathematics, another order of operations. */
export const REF_TOL = { atol: 1e-10, rtol: 1e-8 };
/**
 * Tolerance against a numerical gradient (centred differences, h = 1e-5) of the library's forward pass:
 * rounding puts ~1e-10 of noise in it, and any real mistake (a missing term, a wrong factor) is off by far more.
 */
export const NUM_TOL = { atol: 1e-7, rtol: 1e-6 };

/** One input of a layer test: the forward arguments, the upstream gradient, and whether to check numerically. */
export interface LayerCase {
  label: string;
  args: unknown[];
  dout: Tensor;
  numeric: boolean;
}

/**
 * A forward/backward pair graded against the library: `refForward(args)` is the reference output,
 * `refBackward(dout, args)` the reference gradients, named `grads[i]` for the tensor argument `args[i]`.
 */
export interface LayerSpec {
  file: string;
  forward: string;
  backward: string;
  /** The names of the forward's arguments, for feedback ("x", "w", ...). */
  argNames: string[];
  /** The gradient names the backward returns, one per leading tensor argument ("dx", "dw", "db"). */
  grads: string[];
  cases(rng: Rng): LayerCase[];
  refForward(args: unknown[]): Tensor;
  refBackward(dout: Tensor, args: unknown[]): Record<string, Tensor>;
  maxScore?: number;
}

/** Parts for the forward pass: its output on every case, and its arguments left unchanged on the first. */
export function forwardTest(spec: LayerSpec): HiddenTest {
  return {
    name: `layers: ${spec.forward}`,
    files: [spec.file],
    maxScore: spec.maxScore ?? 2,
    exercises: [spec.forward],
    async run(student, ctx) {
      const parts: TestPart[] = [];
      const cases = spec.cases(ctx.rng);
      for (const [k, c] of cases.entries()) {
        const { value, argsAfter } = await student.callWithArgs(spec.file, spec.forward, ...c.args);
        const r = readFields(value, spec.forward, ["out", "cache"]);
        parts.push(r.problem ? expectThat(`${c.label}: out`, false, r.problem) : compareTensor(`${c.label}: out`, r.value.out, spec.refForward(c.args), REF_TOL));
        if (k === 0) {
          // Tensor arguments only: a settings object (bnParam) may be written to by contract.
          const changed = c.args
            .map((a, i) => (isTensor(a) ? unchanged("inputs unchanged", spec.argNames[i], a, argsAfter[i]) : null))
            .find((p) => p !== null && !p.passed);
          parts.push(changed ?? expectThat("inputs unchanged", true, ""));
        }
      }
      return parts;
    },
  };
}

/**
 * Runs the student's forward on a case and returns its cache (as it crossed from the student's process),
 * or the reason it could not be had.
 */
export async function studentCache(student: Student, file: string, forward: string, args: unknown[]): Promise<{ cache?: unknown; out?: unknown; problem?: string }> {
  const r = await callFields(student, file, forward, args, ["out", "cache"]);
  if (r.problem !== undefined) return { problem: `${forward} failed, and the backward pass needs its cache: ${r.problem}` };
  return { cache: r.value.cache, out: r.value.out };
}

/**
 * Parts for the backward pass, on the cache of the student's own forward: every gradient against the
 * library's, and (on cases marked numeric) against numerical gradients of the library's forward pass.
 */
export function backwardTest(spec: LayerSpec): HiddenTest {
  return {
    name: `layers: ${spec.backward}`,
    files: [spec.file],
    maxScore: spec.maxScore ?? 2,
    exercises: [spec.backward],
    async run(student, ctx) {
      const parts: TestPart[] = [];
      for (const c of spec.cases(ctx.rng)) {
        const names = spec.grads.flatMap((g) => (c.numeric ? [g, `gradient check: ${g}`] : [g]));
        const fwd = await studentCache(student, spec.file, spec.forward, c.args);
        if (fwd.problem) {
          // One failed part per case, worth all of the case's parts, so the feedback says it once.
          parts.push({ ...expectThat(c.label, false, fwd.problem), weight: names.length });
          continue;
        }
        const got = await attempt(c.label, names.length, async () => {
          const r = readFields(await student.call(spec.file, spec.backward, c.dout, fwd.cache), spec.backward, spec.grads);
          if (r.problem) return failAll(names, r.problem);
          const ref = spec.refBackward(c.dout, c.args);
          const out: TestPart[] = [];
          spec.grads.forEach((g, i) => {
            out.push(compareTensor(g, r.value[g], ref[g], REF_TOL));
            if (c.numeric) {
              const args = c.args.map((a) => (isTensor(a) ? copy(a) : a));
              const num = evalNumericalGradientArray(
                (t) => spec.refForward(args.map((a, j) => (j === i ? t : a))),
                args[i] as Tensor,
                c.dout,
              );
              const p = compareTensor(`gradient check: ${g}`, r.value[g], num, NUM_TOL);
              if (!p.passed && isTensor(r.value[g])) p.message = `gradient check: ${g} differs from the numerical gradient of the layer`;
              out.push(p);
            }
          });
          return out;
        });
        // A throwing backward comes back as one failed part (named after the case) worth all of the case's parts.
        parts.push(...(got.length === 1 && got[0].name === c.label ? got : tagged(got, c.label)));
      }
      return parts;
    },
  };
}

/** Runs a student call; a StudentError becomes `problem` (feedback text) instead of a throw. */
export async function tryCall<T>(step: () => Promise<T>): Promise<{ value: T; problem?: undefined } | { value?: undefined; problem: string }> {
  try {
    return { value: await step() };
  } catch (e) {
    if (e instanceof StudentError) return { problem: describeStudentError(e) };
    throw e;
  }
}

/**
 * Calls a student's function and reads the named fields of its result, with the arguments as the call left
 * them; or the feedback that says why there is no such result.
 */
export async function callFields(
  student: Student,
  file: string,
  fn: string,
  args: unknown[],
  fields: string[],
): Promise<{ value: Record<string, unknown>; after: unknown[]; problem?: string }> {
  const r = await tryCall(() => student.callWithArgs(file, fn, ...args));
  if (r.problem !== undefined) return { value: {}, after: [], problem: r.problem };
  const f = readFields(r.value.value, fn, fields);
  return { value: f.value, after: r.value.argsAfter, problem: f.problem };
}

/** compareTensor of a student's value, or a failed part carrying `problem` when the call gave no value. */
export function tensorPart(name: string, problem: string | undefined, got: unknown, want: Tensor, tol: Tolerance = REF_TOL): TestPart {
  return problem !== undefined ? expectThat(name, false, problem) : compareTensor(name, got, want, tol);
}

/** True when the two tensors hold the same values exactly (shapes included). */
export function sameValues(a: unknown, b: Tensor): boolean {
  if (!isTensor(a) || a.shape.join() !== b.shape.join()) return false;
  const x = toFloat64Array(a);
  const y = toFloat64Array(b);
  return x.every((v, i) => v === y[i]);
}

