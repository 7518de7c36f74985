import { fromNested, zeros, type Tensor } from "@semantic-gap/lib";
import { compareNumber, compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest } from "../src/types.js";

// Public checks for linear_svm.ts: the lecture's worked example (three images, three classes), worked by
// hand. With X = I (3x3) the scores X·W are the rows of W. Worth no points: the hidden tests carry the grade.

const F = "linear_svm.ts";
const scores = [
  [3.2, 5.1, -1.7], // a cat (class 0)
  [1.3, 4.9, 2.0], // a car (class 1)
  [2.2, 2.5, -3.1], // a frog (class 2)
];
const W = () => fromNested(scores);
const X = () => fromNested([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
const y = () => Int32Array.from([0, 1, 2]);
// Hinge losses: cat max(0, 5.1−3.2+1) + max(0, −1.7−3.2+1) = 2.9; car 0; frog 6.3 + 6.6 = 12.9; mean 15.8/3.
const dataLoss = (2.9 + 0 + 12.9) / 3;
const sumSquares = scores.flat().reduce((a, v) => a + v * v, 0);
// dW = Xᵀ·(margin indicators)/N: row i gets +1 for each class with a positive margin and −(their count) at y_i.
const dataGrad = () => fromNested([[-1 / 3, 1 / 3, 0], [0, 0, 0], [1 / 3, 1 / 3, -2 / 3]]);

function withReg(g: Tensor, reg: number): Tensor {
  const out = zeros([3, 3]);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out.set(i, j, g.get(i, j) + 2 * reg * scores[i][j]);
  return out;
}

const lectureExample = (fn: string): HiddenTest => ({
  name: `linear_svm (public): ${fn} on the lecture's example`,
  files: [F],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const parts = [];
    for (const reg of [0, 0.1]) {
      const out = (await student.call(F, fn, W(), X(), y(), reg)) as { loss?: unknown; dW?: unknown } | null;
      const ok = out !== null && typeof out === "object";
      parts.push(expectThat(`result (reg ${reg})`, ok, "must return { loss, dW }"));
      if (!ok) continue;
      // Hand-worked numbers, exact up to rounding: tolerance 1e-9.
      parts.push(compareNumber(`loss (reg ${reg})`, out.loss, dataLoss + reg * sumSquares, { atol: 1e-9, rtol: 0 }));
      parts.push(compareTensor(`dW (reg ${reg})`, out.dW, withReg(dataGrad(), reg), { atol: 1e-9, rtol: 0 }));
    }
    return parts;
  },
});

export const tests: HiddenTest[] = [lectureExample("svmLossNaive"), lectureExample("svmLossVectorized")];
