import { fromNested, type Tensor } from "@semantic-gap/lib";
import { compareNumber, compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest, TestPart } from "../src/types.js";

// Public checks for layers.ts on small cases worked by hand (never from the solutions). Worth no points:
// the hidden tests, with random inputs, numerical gradients and edge cases, carry the grade.

const F = "layers.ts";
const T = fromNested;
const exact = { atol: 1e-12, rtol: 1e-12 };

/** Calls fn and reads the named fields of its result (an object), or returns a failed part saying why not. */
async function fields(student: Parameters<HiddenTest["run"]>[0], fn: string, names: string[], ...args: unknown[]) {
  const r = (await student.call(F, fn, ...args)) as Record<string, unknown> | null;
  const ok = r !== null && typeof r === "object" && !Array.isArray(r);
  return { r: (ok ? r : {}) as Record<string, unknown>, part: expectThat(`${fn} result`, ok, `must return an object { ${names.join(", ")} }`) };
}

const check = (name: string, fn: (student: Parameters<HiddenTest["run"]>[0]) => Promise<TestPart[]>): HiddenTest => ({
  name: `layers (public): ${name}`,
  files: [F],
  maxScore: 0,
  visibility: "visible",
  run: (student) => fn(student),
});

export const tests: HiddenTest[] = [
  check("affine forward and backward on a 2x2 example", async (s) => {
    // x = [[1, 2], [3, 4]], w = [[1, 0, −1], [2, 1, 0]], b = [0.5, −1, 2]: row 1 of x·w is (5, 2, −1).
    const x = T([[1, 2], [3, 4]]);
    const w = T([[1, 0, -1], [2, 1, 0]]);
    const b = T([0.5, -1, 2]);
    const f = await fields(s, "affineForward", ["out", "cache"], x, w, b);
    const parts = [f.part, compareTensor("out", f.r.out, T([[5.5, 1, 1], [11.5, 3, -1]]), exact)];
    const g = await fields(s, "affineBackward", ["dx", "dw", "db"], T([[1, 0, 0], [0, 1, 1]]), f.r.cache);
    // dx = dout·wᵀ, dw = xᵀ·dout, db = column sums of dout.
    parts.push(g.part, compareTensor("dx", g.r.dx, T([[1, 2], [-1, 1]]), exact), compareTensor("dw", g.r.dw, T([[1, 3, 3], [2, 4, 4]]), exact), compareTensor("db", g.r.db, T([1, 1, 1]), exact));
    return parts;
  }),
  check("ReLU, leaky ReLU and sigmoid at a few points", async (s) => {
    const x = T([[-2, 0, 3]]);
    const ones = T([[1, 1, 1]]);
    const relu = await fields(s, "reluForward", ["out", "cache"], x);
    const dRelu = await fields(s, "reluBackward", ["dx"], ones, relu.r.cache);
    const leaky = await fields(s, "leakyReluForward", ["out", "cache"], x, 0.1);
    const sig = await fields(s, "sigmoidForward", ["out", "cache"], T([[0]]));
    const dSig = await fields(s, "sigmoidBackward", ["dx"], T([[1]]), sig.r.cache);
    return [
      compareTensor("relu out", relu.r.out, T([[0, 0, 3]]), exact),
      compareTensor("relu dx (0 at x = 0)", dRelu.r.dx, T([[0, 0, 1]]), exact),
      compareTensor("leaky relu out (alpha 0.1)", leaky.r.out, T([[-0.2, 0, 3]]), exact),
      compareTensor("sigmoid(0) = 0.5", sig.r.out, T([[0.5]]), exact),
      compareTensor("sigmoid'(0) = 0.25", dSig.r.dx, T([[0.25]]), exact),
    ];
  }),
  check("SVM and softmax losses on the lecture's three images", async (s) => {
    // Scores of a cat, a car and a frog image (rows) for the classes cat, car, frog.
    const x = T([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]]);
    const y = Int32Array.from([0, 1, 2]);
    const svm = await fields(s, "svmLoss", ["loss", "dx"], x, y);
    const sm = await fields(s, "softmaxLoss", ["loss", "dx"], x, y);
    // Hinge losses 2.9, 0 and 12.9; softmax −log p_y row by row.
    const rows = [[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]];
    const ce = rows.map((r, i) => Math.log(r.reduce((a, v) => a + Math.exp(v), 0)) - r[i]);
    return [
      compareNumber("svm loss = 15.8 / 3", svm.r.loss, 15.8 / 3, exact),
      compareTensor("svm dx", svm.r.dx, T([[-1 / 3, 1 / 3, 0], [0, 0, 0], [1 / 3, 1 / 3, -2 / 3]]), exact),
      compareNumber("softmax loss", sm.r.loss, (ce[0] + ce[1] + ce[2]) / 3, exact),
    ];
  }),
  check("dropout with keep probability 1 and in test mode is the identity", async (s) => {
    const x = T([[1, -2, 3], [0.5, 4, -1]]);
    const keepAll = await fields(s, "dropoutForward", ["out", "cache"], x, { p: 1, mode: "train", seed: 0 });
    const test = await fields(s, "dropoutForward", ["out", "cache"], x, { p: 0.5, mode: "test" });
    return [compareTensor("p = 1: out = x", keepAll.r.out, x, exact), compareTensor("test mode: out = x", test.r.out, x, exact)];
  }),
  check("batchnorm on a 2x2 batch", async (s) => {
    // Column means (2, 4), biased variances (1, 4), so x̂ = [[−1, −1], [1, 1]] (eps = 0 here).
    const bn: Record<string, unknown> = { mode: "train", eps: 0 };
    const r = (await s.callWithArgs(F, "batchnormForward", T([[1, 2], [3, 6]]), T([2, 1]), T([0, 1]), bn)) as { value: Record<string, unknown>; argsAfter: unknown[] };
    const after = (r.argsAfter[3] ?? {}) as Record<string, unknown>;
    return [
      compareTensor("out", r.value?.out, T([[-2, 0], [2, 2]]), exact),
      // From zeros with momentum 0.9: 0.1 of the batch statistics.
      compareTensor("runningMean", after.runningMean as Tensor, T([0.2, 0.4]), { atol: 1e-15, rtol: 1e-12 }),
      compareTensor("runningVar", after.runningVar as Tensor, T([0.1, 0.4]), { atol: 1e-15, rtol: 1e-12 }),
    ];
  }),
];
