import { Rng, isTensor, majorityVote, sliceRows, transpose, zeros, type Labels, type Tensor } from "@semantic-gap/lib";
import { attempt, compareLabels, compareTensor, describeStudentError, expectThat, unchanged } from "../src/compare.js";
import { loopViolations } from "../src/rules.js";
import { StudentError, type HiddenTest, type LibEquivalents, type Student, type StudentObject, type TestPart } from "../src/types.js";

// Hidden tests of A1's knn.ts (class KNearestNeighbor). The references are computed here, independently of
// the solutions: distances by a plain double loop, neighbours by a full sort by (distance, index), votes by
// the library's majorityVote. Inputs are random from the run's seed, plus fixed edge cases. Feedback says
// what failed and by how much, never the inputs or the expected values.
//
// About views: a student's code runs in another process and receives tensors as plain data, so a
// non-contiguous view built here (a transpose, every other row) arrives as a dense copy. The "views" cases
// below still build their inputs that way, and check the values; whether a submission honours strides is
// checked on the reference solution in the vitest file, where no process boundary is crossed.

const FILE = "knn.ts";
const CLASS = "KNearestNeighbor";
const VERSIONS = ["computeDistancesTwoLoops", "computeDistancesOneLoop", "computeDistancesNoLoops"] as const;
type Version = (typeof VERSIONS)[number];

// Distances: the direct sum and the ‖a‖² + ‖b‖² − 2a·b expansion differ by rounding only, except next to
// zero, where the expansion leaves sqrt(ε·‖a‖²) ≈ 1e-7 for identical points. 1e-6 absolute plus 1e-8
// relative accepts that and nothing else: a missing square root or a sign error is off by O(1).
const DIST_TOL = { atol: 1e-6, rtol: 1e-8 };

/** Uniform integer in [lo, hi]. */
function intBetween(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

function gaussian(rng: Rng, n: number, d: number, scale = 1): Tensor {
  const t = zeros([n, d]);
  for (let i = 0; i < t.data.length; i++) t.data[i] = scale * rng.gaussian();
  return t;
}

function randomLabels(rng: Rng, n: number, c: number): Labels {
  return Int32Array.from({ length: n }, () => rng.int(c));
}

/** Reference distances by a plain double loop: out[i, j] = ‖a[i] − b[j]‖₂. a: (M, D), b: (N, D), out: (M, N) */
export function referenceDistances(a: Tensor, b: Tensor): Tensor {
  const [m, d] = a.shape;
  const n = b.shape[0];
  const out = zeros([m, n]);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += (a.get(i, p) - b.get(j, p)) ** 2;
      out.set(i, j, Math.sqrt(s));
    }
  }
  return out;
}

/** Reference votes: each row's k nearest by (distance, index), majority vote, ties to the smallest label. */
export function referenceLabels(dists: Tensor, y: Labels, k: number): Labels {
  const [m, n] = dists.shape;
  const out = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => dists.get(i, a) - dists.get(i, b) || a - b);
    out[i] = majorityVote(order.slice(0, k).map((j) => y[j]));
  }
  return out;
}

async function trainedStudent(student: Student, X: Tensor, y: Labels): Promise<StudentObject> {
  const obj = await student.construct(FILE, CLASS);
  await obj.call("train", X, y);
  return obj;
}

/** A distance part: the student's matrix for (Xtest, Xtrain) against the double loop. */
async function distancePart(
  student: Student,
  version: Version,
  label: string,
  Xtrain: Tensor,
  Xtest: Tensor,
  weight: number,
  checkUnchanged = false,
): Promise<TestPart[]> {
  return attempt(label, weight, async () => {
    const obj = await trainedStudent(student, Xtrain, new Int32Array(Xtrain.shape[0]));
    const { value, argsAfter } = await obj.callWithArgs(version, Xtest);
    const part = compareTensor(label, value, referenceDistances(Xtest, Xtrain), DIST_TOL, weight);
    if (!checkUnchanged) return part;
    return [part, unchanged("inputs unchanged", "X", Xtest, argsAfter[0], 1)];
  });
}

/** A random case of each distance version: random sizes, one test row, one training row, duplicates, views. */
function distanceTest(version: Version): HiddenTest {
  return {
    name: `knn: ${version} on random inputs and edge cases`,
    files: [FILE],
    maxScore: 2,
    async run(student, { rng }) {
      const parts: TestPart[] = [];
      const d = intBetween(rng, 2, 20);
      const Xtr = gaussian(rng, intBetween(rng, 5, 40), d);
      parts.push(...(await distancePart(student, version, "random inputs", Xtr, gaussian(rng, intBetween(rng, 3, 15), d), 2, true)));
      parts.push(...(await distancePart(student, version, "one test point", Xtr, gaussian(rng, 1, d), 1)));
      parts.push(...(await distancePart(student, version, "one training point", gaussian(rng, 1, d), gaussian(rng, 4, d), 1)));
      // Duplicates: every training point twice, and test points that coincide with training points (distance 0).
      const base = gaussian(rng, intBetween(rng, 3, 8), d);
      const dup = zeros([2 * base.shape[0], d]);
      for (let i = 0; i < dup.shape[0]; i++) for (let p = 0; p < d; p++) dup.set(i, p, base.get(i % base.shape[0], p));
      const onTop = zeros([3, d]);
      for (let p = 0; p < d; p++) {
        onTop.set(0, p, base.get(0, p));
        onTop.set(1, p, base.get(base.shape[0] - 1, p));
        onTop.set(2, p, rng.gaussian());
      }
      parts.push(...(await distancePart(student, version, "duplicate points", dup, onTop, 1)));
      // Views built here: a transposed (D, N) array seen as (N, D), and every other row of a larger array.
      const trT = gaussian(rng, d, intBetween(rng, 5, 20));
      const big = gaussian(rng, 2 * intBetween(rng, 2, 8), d);
      parts.push(...(await distancePart(student, version, "inputs built as views", transpose(trT), big.step(2, 1), 1)));
      return parts;
    },
  };
}

const agreementTest: HiddenTest = {
  name: "knn: the three distance versions agree",
  files: [FILE],
  maxScore: 1,
  async run(student, { rng }) {
    const d = intBetween(rng, 3, 30);
    const Xtr = gaussian(rng, intBetween(rng, 10, 50), d);
    const Xte = gaussian(rng, intBetween(rng, 5, 20), d);
    const obj = await trainedStudent(student, Xtr, new Int32Array(Xtr.shape[0]));
    const got: Partial<Record<Version, unknown>> = {};
    const errors: string[] = [];
    for (const v of VERSIONS) {
      try {
        got[v] = await obj.call(v, Xte);
      } catch (e) {
        if (!(e instanceof StudentError)) throw e;
        errors.push(`${v}: ${describeStudentError(e)}`);
      }
    }
    if (errors.length > 0 || !isTensor(got.computeDistancesTwoLoops)) {
      const msg = `all three versions must return a distance matrix before they can be compared${errors.length ? ` (${errors.join("; ")})` : ""}`;
      return [expectThat("one loop vs two loops", false, msg), expectThat("no loops vs two loops", false, msg)];
    }
    const ref = got.computeDistancesTwoLoops as Tensor;
    const one = compareTensor("one loop vs two loops", got.computeDistancesOneLoop, ref, DIST_TOL);
    const none = compareTensor("no loops vs two loops", got.computeDistancesNoLoops, ref, DIST_TOL);
    if (!one.passed) one.message = `the one-loop and two-loop versions disagree on the same input (${one.message})`;
    if (!none.passed) none.message = `the no-loop and two-loop versions disagree on the same input (${none.message})`;
    return [one, none];
  },
};

// The structural rule for computeDistancesNoLoops, decided on the syntax tree (never on timing):
//
//   The method, and every function or method of the same file that it calls (directly or through other
//   such functions), must contain
//   - no loop statement: for, for...of, for...in, while, do...while;
//   - no array iteration: .forEach/.map/.reduce/.reduceRight/.filter/.flatMap/.some/.every/.find/
//     .findIndex/.findLast/.findLastIndex called on anything but the library's namespace import
//     (`import * as sg from "@semantic-gap/lib"`: sg.map is an elementwise tensor operation, as is the
//     named import `map`), and no Array.from with a mapping function;
//   - no use of computeDistancesTwoLoops or computeDistancesOneLoop;
//   - no recursion (a function of the file that ends up calling itself).
//
// Library functions are trusted: they are the whole-tensor operations the exercise asks for. Small loops over
// a handful of non-example things would be harmless, but the rule cannot tell them from loops over examples,
// so the TODO text states it plainly: no loops at all in this method.

const OTHER_VERSIONS = ["computeDistancesTwoLoops", "computeDistancesOneLoop"];

/**
 * What breaks the rule in computeDistancesNoLoops, as short descriptions with line numbers; an empty list
 * when it follows the rule; null when the method is not in the source (the grader's rule engine decides).
 */
export function noLoopViolations(source: string, method = "computeDistancesNoLoops"): string[] | null {
  return loopViolations(source, FILE, method, OTHER_VERSIONS);
}

const noLoopsTest: HiddenTest = {
  name: "knn: computeDistancesNoLoops has no loops over examples",
  files: [FILE],
  maxScore: 2,
  async run(student, { rng }) {
    const d = intBetween(rng, 2, 12);
    const values = await distancePart(student, "computeDistancesNoLoops", "values", gaussian(rng, intBetween(rng, 5, 20), d), gaussian(rng, 4, d), 1);
    const name = "no loops over examples";
    if (!values[0].passed) {
      return [...values, expectThat(name, false, "computeDistancesNoLoops must first compute the right distances; the structure is checked after that")];
    }
    const src = student.source(FILE);
    const found = src === null ? null : noLoopViolations(src);
    if (found === null) return [...values, expectThat(name, false, `could not find computeDistancesNoLoops in ${FILE}`)];
    return [
      ...values,
      expectThat(
        name,
        found.length === 0,
        `computeDistancesNoLoops (and the functions of ${FILE} it calls) must have no for/while loops, no ` +
          `forEach/map/reduce-style array iteration, and no calls to the other distance versions; found ` +
          `${found.join("; ")}. Use whole-tensor library operations (gemm, sum, add, map over a tensor) instead`,
      ),
    ];
  },
};

/** A trained student object whose labels are y (the training rows themselves do not matter to predictLabels). */
async function withLabels(student: Student, y: Labels): Promise<StudentObject> {
  return trainedStudent(student, zeros([y.length, 1]), y);
}

/** Random distances: distinct values, so the nearest neighbours are unambiguous. */
function randomDists(rng: Rng, m: number, n: number): Tensor {
  const t = zeros([m, n]);
  for (let i = 0; i < t.data.length; i++) t.data[i] = 0.1 + 10 * rng.uniform();
  return t;
}

async function labelsPart(obj: StudentObject, name: string, dists: Tensor, y: Labels, k: number, weight = 1): Promise<TestPart[]> {
  return attempt(name, weight, async () => compareLabels(name, await obj.call("predictLabels", dists, k), referenceLabels(dists, y, k), weight));
}

const predictLabelsRandomTest: HiddenTest = {
  name: "knn: predictLabels on random distances",
  files: [FILE],
  maxScore: 2,
  async run(student, { rng }) {
    const n = intBetween(rng, 8, 40);
    const y = randomLabels(rng, n, intBetween(rng, 3, 6));
    const dists = randomDists(rng, intBetween(rng, 5, 15), n);
    const obj = await withLabels(student, y);
    const parts: TestPart[] = [];
    for (const k of [1, 3, intBetween(rng, 4, n)]) parts.push(...(await labelsPart(obj, `k = ${k}`, dists, y, k)));
    return parts;
  },
};

const predictLabelsEdgeTest: HiddenTest = {
  name: "knn: predictLabels edge cases",
  files: [FILE],
  maxScore: 3,
  async run(student, { rng }) {
    const parts: TestPart[] = [];
    // Ties in the vote. Training labels a, b, c (distinct, random) at indices {0, 4}, {1, 3}, {2, 5}. Each
    // test row ranks them in one of these label patterns, so that k = 2, 3 or 4 splits the vote evenly between
    // two or three labels in some rows; the smallest of the tied labels must win.
    const [a, b, c] = Array.from(rng.choice(9, 3, false)).map((v) => v + 1);
    const yTie = Int32Array.from([a, b, c, b, a, c]);
    const patterns = [
      [a, b, c, a, b, c],
      [b, a, a, b, c, c],
      [c, a, b, c, b, a],
      [b, c, c, b, a, a],
      [c, b, a, b, c, a],
      [a, c, b, c, a, b],
    ];
    const tieDists = zeros([patterns.length, yTie.length]);
    patterns.forEach((pattern, i) => {
      const used = new Set<number>();
      pattern.forEach((label, rank) => {
        const j = [0, 1, 2, 3, 4, 5].find((t) => yTie[t] === label && !used.has(t))!;
        used.add(j);
        tieDists.set(i, j, 1 + rank + 0.5 * rng.uniform());
      });
    });
    const tieObj = await withLabels(student, yTie);
    for (const k of [2, 3, 4]) parts.push(...(await labelsPart(tieObj, `tie in the vote (k = ${k})`, tieDists, yTie, k)));
    // k equal to the number of training examples: the vote of all labels (sometimes itself a tie).
    const n = intBetween(rng, 5, 12);
    const yAll = randomLabels(rng, n, 3);
    if (rng.uniform() < 0.5) {
      yAll.fill(0);
      for (let i = 0; i < n; i++) yAll[i] = i % 2 === 0 ? 2 : 1; // 1 and 2 tie when n is even
    }
    const allObj = await withLabels(student, yAll);
    const allDists = randomDists(rng, 4, n);
    const kN = await labelsPart(allObj, "k equal to the number of training examples", allDists, yAll, n);
    parts.push(...kN);
    // k larger than the training set must be an error, once predictLabels otherwise works.
    const errName = "k larger than the training set is an error";
    if (!kN[0].passed) {
      parts.push(expectThat(errName, false, "predictLabels must first work for k up to the number of training examples"));
    } else {
      try {
        await allObj.call("predictLabels", allDists, n + 1);
        parts.push(expectThat(errName, false, "predictLabels returned a result for k larger than the number of training examples; it should throw an error that says so"));
      } catch (e) {
        if (!(e instanceof StudentError)) throw e;
        parts.push(expectThat(errName, e.kind === "threw", `expected an error about k, got: ${describeStudentError(e)}`));
      }
    }
    // Duplicate training points: pairs at exactly equal distance (with equal labels, so any order among them
    // gives the same vote).
    const pairs = intBetween(rng, 3, 6);
    const yDup = new Int32Array(2 * pairs);
    const dupDists = zeros([5, 2 * pairs]);
    for (let p = 0; p < pairs; p++) {
      const label = rng.int(4);
      yDup[2 * p] = label;
      yDup[2 * p + 1] = label;
    }
    for (let i = 0; i < 5; i++) {
      for (let p = 0; p < pairs; p++) {
        const dist = 0.5 + rng.uniform();
        dupDists.set(i, 2 * p, dist);
        dupDists.set(i, 2 * p + 1, dist);
      }
    }
    const dupObj = await withLabels(student, yDup);
    parts.push(...(await labelsPart(dupObj, "duplicate training points", dupDists, yDup, 2 * intBetween(rng, 1, pairs) - 1)));
    // One training point: every prediction is its label.
    const yOne = Int32Array.from([rng.int(10)]);
    parts.push(...(await labelsPart(await withLabels(student, yOne), "one training point", randomDists(rng, 3, 1), yOne, 1)));
    return parts;
  },
};

/** Points around C random centres, labelled by centre, with some overlap. */
function clusters(rng: Rng, n: number, d: number, centres: Tensor): { X: Tensor; y: Labels } {
  const C = centres.shape[0];
  const X = zeros([n, d]);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.int(C);
    for (let p = 0; p < d; p++) X.set(i, p, centres.get(y[i], p) + rng.gaussian());
  }
  return { X, y };
}

const predictTest: HiddenTest = {
  name: "knn: predict end to end",
  files: [FILE],
  maxScore: 2,
  async run(student, { rng }) {
    const d = intBetween(rng, 2, 8);
    const centres = gaussian(rng, intBetween(rng, 3, 5), d, 2);
    const tr = clusters(rng, intBetween(rng, 30, 60), d, centres);
    const te = clusters(rng, intBetween(rng, 10, 20), d, centres);
    const dists = referenceDistances(te.X, tr.X);
    const parts: TestPart[] = [];
    const obj = await trainedStudent(student, tr.X, tr.y);
    for (const numLoops of [0, 1, 2]) {
      const k = [1, 3, 5][rng.int(3)];
      const name = `numLoops = ${numLoops}`;
      parts.push(...(await attempt(name, 1, async () => compareLabels(name, await obj.call("predict", te.X, k, numLoops), referenceLabels(dists, tr.y, k)))));
    }
    parts.push(
      ...(await attempt("default k and numLoops", 1, async () =>
        compareLabels("default k and numLoops (k = 1)", await obj.call("predict", te.X), referenceLabels(dists, tr.y, 1)),
      )),
    );
    // One test point, and a training set with every point twice.
    const one = sliceRows(te.X, 0, 1);
    parts.push(
      ...(await attempt("one test point", 1, async () =>
        compareLabels("one test point", await obj.call("predict", one, 3), referenceLabels(referenceDistances(one, tr.X), tr.y, 3)),
      )),
    );
    const twiceX = zeros([2 * tr.X.shape[0], d]);
    const twiceY = new Int32Array(2 * tr.y.length);
    for (let i = 0; i < twiceX.shape[0]; i++) {
      const src = i >> 1;
      twiceY[i] = tr.y[src];
      for (let p = 0; p < d; p++) twiceX.set(i, p, tr.X.get(src, p));
    }
    const twiceObj = await trainedStudent(student, twiceX, twiceY);
    parts.push(
      ...(await attempt("duplicate training points", 1, async () =>
        compareLabels("duplicate training points", await twiceObj.call("predict", te.X, 4), referenceLabels(referenceDistances(te.X, twiceX), twiceY, 4)),
      )),
    );
    return parts;
  },
};

const K = "KNearestNeighbor";
const kNearestFamily = ["kNearest", "kNearestParallel", "knnPredict", "knnPredictParallel"];

/** The library's exports that do each exercise's work: an exercise that reaches one earns nothing. */
export const libEquivalents: LibEquivalents = {
  [`${K}.computeDistancesTwoLoops`]: ["pairwiseDistances", ...kNearestFamily],
  [`${K}.computeDistancesOneLoop`]: ["pairwiseDistances", ...kNearestFamily],
  [`${K}.computeDistancesNoLoops`]: ["pairwiseDistances", ...kNearestFamily],
  [`${K}.predictLabels`]: ["voteNeighbours", "majorityVote", ...kNearestFamily],
  [`${K}.predict`]: ["pairwiseDistances", "voteNeighbours", "majorityVote", ...kNearestFamily],
};

export const tests: HiddenTest[] = [
  ...VERSIONS.map((v) => ({ ...distanceTest(v), exercises: [`${K}.${v}`] })),
  { ...agreementTest, exercises: VERSIONS.map((v) => `${K}.${v}`) },
  { ...noLoopsTest, exercises: [`${K}.computeDistancesNoLoops`] },
  { ...predictLabelsRandomTest, exercises: [`${K}.predictLabels`] },
  { ...predictLabelsEdgeTest, exercises: [`${K}.predictLabels`] },
  { ...predictTest, exercises: [`${K}.predict`] },
];
