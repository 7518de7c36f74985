import { Rng, accuracy, concatRows, knnPredict, sliceRows, zeros, type Labels, type Tensor } from "@semantic-gap/lib";
import { attempt, compareNumber, describeStudentError, expectThat } from "../src/compare.js";
import { StudentError, type HiddenTest, type LibEquivalents, type Student, type TestPart } from "../src/types.js";

// Hidden tests of A1's cross_validation.ts. References are computed here: the fold boundaries of numpy's
// array_split written out directly, and each fold's accuracy with the library's own kNN (knnPredict,
// brute force, L2, neighbours at equal distance ordered by index, vote ties to the smallest label), which
// shares no code with the exercise. Feedback never shows the data or the expected accuracies.

const FILE = "cross_validation.ts";

/** Uniform integer in [lo, hi]. */
function intBetween(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/** numpy.array_split's folds of n rows: [start, end) each, the first n % numFolds one row longer. */
export function referenceFolds(n: number, numFolds: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let f = 0; f < numFolds; f++) {
    const size = Math.floor(n / numFolds) + (f < n % numFolds ? 1 : 0);
    out.push([start, start + size]);
    start += size;
  }
  return out;
}

/** Accuracy of each k on each fold, computed with the library's kNN. */
export function referenceCrossValidation(X: Tensor, y: Labels, kChoices: number[], numFolds: number): Map<number, number[]> {
  const n = X.shape[0];
  const out = new Map<number, number[]>(kChoices.map((k) => [k, []]));
  for (const [start, end] of referenceFolds(n, numFolds)) {
    const parts = [sliceRows(X, 0, start), sliceRows(X, end, n)].filter((t) => t.shape[0] > 0);
    const yTrain = Int32Array.from([...y.subarray(0, start), ...y.subarray(end)]);
    for (const k of kChoices) {
      const pred = knnPredict(concatRows(parts), yTrain, sliceRows(X, start, end), k, { method: "brute" });
      out.get(k)!.push(accuracy(pred, y.subarray(start, end)));
    }
  }
  return out;
}

/** Points around C random centres, labelled by centre, overlapping enough that accuracies vary by fold. */
function clusters(rng: Rng, n: number, d: number, c: number): { X: Tensor; y: Labels } {
  const centres = zeros([c, d]);
  for (let i = 0; i < centres.data.length; i++) centres.data[i] = 1.5 * rng.gaussian();
  const X = zeros([n, d]);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.int(c);
    for (let p = 0; p < d; p++) X.set(i, p, centres.get(y[i], p) + rng.gaussian());
  }
  return { X, y };
}

/** Reads a student's per-k result as a number array, or explains what it is instead. */
function accuraciesOf(got: unknown, k: number): { values: number[] | null; problem?: string } {
  if (got === null || typeof got !== "object" || Array.isArray(got) || ArrayBuffer.isView(got)) {
    return { values: null, problem: "crossValidateK must return a plain object keyed by k, e.g. { 1: [...], 3: [...] }" };
  }
  const v = (got as Record<string, unknown>)[String(k)];
  if (v === undefined) return { values: null, problem: `the result has no entry for k = ${k}` };
  const arr = ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v;
  if (!Array.isArray(arr) || !arr.every((x) => typeof x === "number")) {
    return { values: null, problem: `the entry for k = ${k} must be an array of accuracies (numbers)` };
  }
  return { values: arr };
}

/** Parts comparing a crossValidateK result with the reference: its shape (one entry per k, one value per fold) and the accuracies. */
function resultParts(label: string, got: unknown, ref: Map<number, number[]>, numFolds: number, weight: number): TestPart[] {
  const shapeName = `${label}: one accuracy per fold for every k`;
  const valueName = `${label}: accuracies`;
  const problems: string[] = [];
  const keys = got && typeof got === "object" && !Array.isArray(got) ? Object.keys(got) : [];
  const extra = keys.filter((key) => !ref.has(Number(key)));
  if (extra.length > 0) problems.push(`the result has entries for k values that were not asked for (${extra.join(", ")})`);
  let wrongValues = 0;
  let firstWrong = "";
  for (const [k, refAcc] of ref) {
    const r = accuraciesOf(got, k);
    if (!r.values) {
      problems.push(r.problem!);
      continue;
    }
    if (r.values.length !== numFolds) {
      problems.push(`the entry for k = ${k} has ${r.values.length} accuracies, expected one per fold (${numFolds})`);
      continue;
    }
    r.values.forEach((v, f) => {
      // Accuracies are fractions of a few dozen examples: equal results agree to rounding (1e-12).
      if (!compareNumber("a", v, refAcc[f], { atol: 1e-12, rtol: 0 }).passed) {
        wrongValues++;
        if (!firstWrong) firstWrong = `k = ${k}, fold ${f}`;
      }
    });
  }
  const shape = expectThat(shapeName, problems.length === 0, [...new Set(problems)].join("; "), weight);
  const values =
    problems.length > 0
      ? expectThat(valueName, false, "fix the shape of the result first", weight)
      : expectThat(
          valueName,
          wrongValues === 0,
          `${wrongValues} of ${ref.size * numFolds} accuracies differ, the first at ${firstWrong}. Folds must be ` +
            `contiguous and in order, without shuffling, sized like numpy.array_split (the first N % numFolds folds ` +
            `one example larger); each fold is validated against a kNN trained on all the other folds`,
          weight,
        );
  return [shape, values];
}

async function crossValidate(student: Student, X: Tensor, y: Labels, kChoices: number[], numFolds: number): Promise<unknown> {
  return student.call(FILE, "crossValidateK", X, y, kChoices, numFolds);
}

const foldBoundsTest: HiddenTest = {
  name: "cross_validation: foldBounds splits like numpy.array_split",
  files: [FILE],
  maxScore: 2,
  async run(student, { rng }) {
    const cases: Array<[string, number, number]> = [];
    const f1 = intBetween(rng, 2, 6);
    cases.push(["n divisible by numFolds", f1 * intBetween(rng, 2, 9), f1]);
    const f2 = intBetween(rng, 3, 7);
    cases.push(["n not divisible by numFolds", f2 * intBetween(rng, 2, 9) + intBetween(rng, 1, f2 - 1), f2]);
    const n3 = intBetween(rng, 2, 9);
    cases.push(["one row per fold", n3, n3]);
    const parts: TestPart[] = [];
    for (const [name, n, numFolds] of cases) {
      parts.push(
        ...(await attempt(name, 1, async () => {
          const got = await student.call(FILE, "foldBounds", n, numFolds);
          const ref = referenceFolds(n, numFolds);
          const ok =
            Array.isArray(got) &&
            got.length === ref.length &&
            got.every((b, f) => Array.isArray(b) && b.length === 2 && b[0] === ref[f][0] && b[1] === ref[f][1]);
          return expectThat(
            name,
            ok,
            Array.isArray(got) && got.length !== numFolds
              ? `expected ${numFolds} folds, got ${got.length}`
              : "wrong fold boundaries: folds must be [start, end) pairs covering 0..n in order, the first n % numFolds folds one row longer than the others",
          );
        })),
      );
    }
    return parts;
  },
};

const crossValidateTest: HiddenTest = {
  name: "cross_validation: crossValidateK on random data",
  files: [FILE, "knn.ts"],
  maxScore: 3,
  timeoutMs: 20_000,
  async run(student, { rng }) {
    const parts: TestPart[] = [];
    // One case whose size divides evenly into the folds, one that leaves a remainder (fold sizes then differ).
    const numFolds1 = intBetween(rng, 3, 5);
    const numFolds2 = intBetween(rng, 3, 5);
    const cases: Array<[string, number, number]> = [
      ["N divisible by numFolds", numFolds1 * intBetween(rng, 6, 9), numFolds1],
      ["N not divisible by numFolds", numFolds2 * intBetween(rng, 6, 9) + intBetween(rng, 1, numFolds2 - 1), numFolds2],
    ];
    for (const [label, n, numFolds] of cases) {
      const { X, y } = clusters(rng, n, intBetween(rng, 2, 5), intBetween(rng, 2, 4));
      const kChoices = [1, 3, intBetween(rng, 4, 8)].filter((k, i, a) => a.indexOf(k) === i);
      const ref = referenceCrossValidation(X, y, kChoices, numFolds);
      let got: unknown;
      try {
        got = await crossValidate(student, X, y, kChoices, numFolds);
      } catch (e) {
        if (!(e instanceof StudentError)) throw e;
        const msg = describeStudentError(e);
        parts.push(expectThat(`${label}: one accuracy per fold for every k`, false, msg), expectThat(`${label}: accuracies`, false, msg));
        continue;
      }
      parts.push(...resultParts(label, got, ref, numFolds, 1));
    }
    return parts;
  },
};

const bestKTest: HiddenTest = {
  name: "cross_validation: bestK picks the highest mean, ties to the smaller k",
  files: [FILE],
  maxScore: 2,
  async run(student, { rng }) {
    const parts: TestPart[] = [];
    // Highest mean, where the best single fold and the best first fold belong to other k values.
    const lo = 0.5 + 0.1 * rng.uniform();
    const results1: Record<number, number[]> = {
      1: [lo + 0.3, lo, lo, lo], // best first fold and best single fold, low mean
      4: [lo + 0.1, lo + 0.1, lo + 0.15, lo + 0.1], // highest mean
      9: [lo + 0.05, lo + 0.12, lo + 0.05, lo + 0.05],
    };
    parts.push(
      ...(await attempt("highest mean accuracy", 1, async () => {
        const got = await student.call(FILE, "bestK", results1);
        return expectThat("highest mean accuracy", got === 4, "bestK must return the k whose accuracies have the highest mean over the folds");
      })),
    );
    // A tie: two k values with the same accuracies in another order (equal means, exactly).
    const a = lo + 0.2 * rng.uniform();
    const b = lo + 0.2 * rng.uniform();
    const kSmall = intBetween(rng, 2, 5);
    const kLarge = kSmall + intBetween(rng, 2, 6);
    const results2: Record<number, number[]> = { 1: [lo - 0.1, lo - 0.1], [kSmall]: [a, b], [kLarge]: [b, a] };
    parts.push(
      ...(await attempt("ties go to the smaller k", 1, async () => {
        const got = await student.call(FILE, "bestK", results2);
        return expectThat("ties go to the smaller k", got === kSmall, "when two k values have the same mean accuracy, bestK must return the smaller k");
      })),
    );
    return parts;
  },
};

/** The library has no version of these exercises. */
export const libEquivalents: LibEquivalents = {};

export const tests: HiddenTest[] = [
  { ...foldBoundsTest, exercises: ["foldBounds"] },
  { ...crossValidateTest, exercises: ["crossValidateK"] },
  { ...bestKTest, exercises: ["bestK"] },
];
