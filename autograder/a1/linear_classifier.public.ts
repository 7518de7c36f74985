import { fromNested } from "@semantic-gap/lib";
import { attempt, compareLabels, compareNumber, expectThat } from "../src/compare.js";
import type { HiddenTest } from "../src/types.js";

// Public checks for linear_classifier.ts. They ship to students (npm run check -- a1), so their references
// are worked by hand, never taken from the solutions. They are worth no points: the hidden tests carry the grade.

const F = "linear_classifier.ts";
// Two classes far apart, with a bias column: class 0 near (2, 0), class 1 near (0, 2).
const X = () => fromNested([[2, 0, 1], [2.2, 0.1, 1], [1.9, -0.2, 1], [0, 2, 1], [0.1, 2.1, 1], [-0.1, 1.8, 1]]);
const y = () => Int32Array.from([0, 0, 0, 1, 1, 1]);

const check = (cls: "LinearSVM" | "Softmax", firstLoss: number): HiddenTest => ({
  name: `linear_classifier (public): ${cls} starts at the expected loss and separates two clusters`,
  files: [F, cls === "LinearSVM" ? "linear_svm.ts" : "softmax.ts"],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const parts = [];
    const clf = await student.construct(F, cls);
    const history = await clf.call("train", X(), y(), { learningRate: 0.5, reg: 0, numIters: 60, batchSize: 6, seed: 1 });
    const losses = Array.isArray(history) ? (history as unknown[]) : [];
    parts.push(expectThat("loss history", losses.length === 60, `train should return one loss per iteration (60), got ${losses.length}`));
    // The starting weights are tiny (standard deviation 0.001), so every score is close to 0 (see below).
    parts.push(compareNumber("first loss", losses[0], firstLoss, { atol: 0.02, rtol: 0 }));
    parts.push(...(await attempt("predictions", 1, async () => compareLabels("predictions", await clf.call("predict", X()), y()))));
    return parts;
  },
});

export const tests: HiddenTest[] = [
  // Two classes: one margin of max(0, s_j − s_y + 1) ≈ 1 per example.
  check("LinearSVM", 1),
  // Two classes with equal scores: −log(1/2) = ln 2.
  check("Softmax", Math.LN2),
];
