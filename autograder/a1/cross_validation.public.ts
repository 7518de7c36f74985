import { fromNested } from "@semantic-gap/lib";
import { attempt, compareNumber, expectThat } from "../src/compare.js";
import type { HiddenTest } from "../src/types.js";

// Public checks for cross_validation.ts. They ship to students (npm run check -- a1), so their references
// are worked by hand, never taken from the solutions. They are worth no points: the hidden tests carry the grade.

const F = "cross_validation.ts";
const same = (got: unknown, want: Array<[number, number]>): boolean =>
  Array.isArray(got) && got.length === want.length && got.every((b, i) => Array.isArray(b) && b[0] === want[i][0] && b[1] === want[i][1]);

export const tests: HiddenTest[] = [
  {
    name: "cross_validation (public): foldBounds on two hand-worked splits",
    files: [F],
    maxScore: 0,
    visibility: "visible",
    async run(student) {
      return [
        // 10 rows in 3 folds: sizes 4, 3, 3 (the first 10 % 3 = 1 fold holds one extra row).
        ...(await attempt("10 rows, 3 folds", 1, async () =>
          expectThat("10 rows, 3 folds", same(await student.call(F, "foldBounds", 10, 3), [[0, 4], [4, 7], [7, 10]]), "expected [[0, 4], [4, 7], [7, 10]]"))),
        // 6 rows in 3 folds: sizes 2, 2, 2.
        ...(await attempt("6 rows, 3 folds", 1, async () =>
          expectThat("6 rows, 3 folds", same(await student.call(F, "foldBounds", 6, 3), [[0, 2], [2, 4], [4, 6]]), "expected [[0, 2], [2, 4], [4, 6]]"))),
      ];
    },
  },
  {
    name: "cross_validation (public): crossValidateK on four points in two folds",
    files: [F, "knn.ts"],
    maxScore: 0,
    visibility: "visible",
    async run(student) {
      // Points 0, 10, 1, 11 (one feature) with labels 0, 1, 0, 1; folds [0, 2) and [2, 4).
      // Fold 0 validates on 0 and 10 against training points 1 (label 0) and 11 (label 1): with k = 1 both are
      // right (accuracy 1); with k = 2 the two votes tie and go to label 0, so 10 is wrong (accuracy 0.5).
      // Fold 1 is the mirror image: the same accuracies.
      const X = fromNested([[0], [10], [1], [11]]);
      const y = Int32Array.from([0, 1, 0, 1]);
      const got = (await student.call(F, "crossValidateK", X, y, [1, 2], 2)) as Record<string, unknown> | null;
      const fold = (k: number, f: number) => (got && Array.isArray(got[k]) ? (got[k] as unknown[])[f] : undefined);
      return [
        compareNumber("k = 1, fold 0", fold(1, 0), 1, { atol: 1e-12, rtol: 0 }),
        compareNumber("k = 1, fold 1", fold(1, 1), 1, { atol: 1e-12, rtol: 0 }),
        compareNumber("k = 2, fold 0", fold(2, 0), 0.5, { atol: 1e-12, rtol: 0 }),
        compareNumber("k = 2, fold 1", fold(2, 1), 0.5, { atol: 1e-12, rtol: 0 }),
      ];
    },
  },
  {
    name: "cross_validation (public): bestK takes the highest mean, ties to the smaller k",
    files: [F],
    maxScore: 0,
    visibility: "visible",
    async run(student) {
      return [
        // Means: k = 1 → 0.6, k = 3 → 0.7, k = 5 → 0.6.
        ...(await attempt("highest mean", 1, async () =>
          expectThat("highest mean", (await student.call(F, "bestK", { 1: [0.5, 0.7], 3: [0.8, 0.6], 5: [0.6, 0.6] })) === 3, "expected k = 3"))),
        ...(await attempt("a tie", 1, async () =>
          expectThat("a tie", (await student.call(F, "bestK", { 2: [0.5], 4: [0.5] })) === 2, "equal means should give the smaller k, 2"))),
      ];
    },
  },
];
