import { fromNested } from "@semantic-gap/lib";
import { attempt, compareLabels, compareTensor } from "../src/compare.js";
import type { HiddenTest } from "../src/types.js";

// Public checks for knn.ts. They ship to students (npm run check -- a1), so their references are worked by
// hand, never taken from the solutions. They are worth no points: the hidden tests carry the grade.

const F = "knn.ts";
// Training points (0, 0), (3, 4), (6, 8) with labels 0, 1, 1; queries (0, 0) and (3, 0).
const XTrain = () => fromNested([[0, 0], [3, 4], [6, 8]]);
const yTrain = () => Int32Array.from([0, 1, 1]);
const XTest = () => fromNested([[0, 0], [3, 0]]);
// ‖(0,0)−(0,0)‖ = 0, ‖(0,0)−(3,4)‖ = 5, ‖(0,0)−(6,8)‖ = 10; ‖(3,0)−(0,0)‖ = 3, ‖(3,0)−(3,4)‖ = 4,
// ‖(3,0)−(6,8)‖ = √(9 + 64) = √73.
const expected = () => fromNested([[0, 5, 10], [3, 4, Math.sqrt(73)]]);

const distanceCheck = (method: string): HiddenTest => ({
  name: `knn (public): ${method} on a hand-worked example`,
  files: [F],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const knn = await student.construct(F, "KNearestNeighbor");
    await knn.call("train", XTrain(), yTrain());
    // Exact up to rounding: tolerance 1e-9 absolute.
    return [compareTensor("distances", await knn.call(method, XTest()), expected(), { atol: 1e-9, rtol: 0 })];
  },
});

export const tests: HiddenTest[] = [
  distanceCheck("computeDistancesTwoLoops"),
  distanceCheck("computeDistancesOneLoop"),
  distanceCheck("computeDistancesNoLoops"),
  {
    name: "knn (public): predictLabels votes, ties going to the smaller label",
    files: [F],
    maxScore: 0,
    visibility: "visible",
    async run(student) {
      const knn = await student.construct(F, "KNearestNeighbor");
      await knn.call("train", XTrain(), yTrain());
      const d = expected();
      return [
        // k = 1: the nearest points are (0,0) for both queries -> label 0.
        ...(await attempt("k = 1", 1, async () => compareLabels("k = 1", await knn.call("predictLabels", d, 1), Int32Array.from([0, 0])))),
        // k = 2: one vote each for 0 and 1 -> the tie goes to 0.
        ...(await attempt("k = 2 (a tie)", 1, async () => compareLabels("k = 2 (a tie)", await knn.call("predictLabels", d, 2), Int32Array.from([0, 0])))),
        // k = 3: two votes for 1, one for 0 -> 1.
        ...(await attempt("k = 3", 1, async () => compareLabels("k = 3", await knn.call("predictLabels", d, 3), Int32Array.from([1, 1])))),
      ];
    },
  },
];
