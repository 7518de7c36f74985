import { fromNested, zeros } from "@semantic-gap/lib";
import { compareNumber, compareTensor } from "../src/compare.js";
import type { HiddenTest } from "../src/types.js";

// Public checks for softmax.ts, worked from the definition (never from the solutions). Worth no points.

const F = "softmax.ts";

/** The lecture's cat image: scores 3.2 (cat), 5.1 (car), −1.7 (frog); X = (1, 0, 0) picks W's first row. */
function catExample() {
  const s = [3.2, 5.1, -1.7];
  const e = s.map(Math.exp); // 24.5, 164.0, 0.18
  const total = e[0] + e[1] + e[2];
  const p = e.map((v) => v / total); // 0.13, 0.87, 0.00
  return {
    W: fromNested([s, [0, 0, 0], [0, 0, 0]]),
    X: fromNested([[1, 0, 0]]),
    y: Int32Array.from([0]),
    loss: -Math.log(p[0]),
    // dW = xᵀ(p − onehot(y)): only the first row is non-zero.
    dW: fromNested([[p[0] - 1, p[1], p[2]], [0, 0, 0], [0, 0, 0]]),
  };
}

/** W = 0 gives p = 1/C everywhere: the loss is exactly ln C and dW = Xᵀ(1/C − onehot(y))/N. */
function zeroWeights() {
  const X = fromNested([[1, 2, 0, -1], [0.5, -1, 3, 2], [2, 0, 1, 1]]);
  const y = Int32Array.from([4, 0, 9]);
  const C = 10;
  const dW = zeros([4, C]);
  for (let i = 0; i < 3; i++) {
    for (let d = 0; d < 4; d++) {
      for (let c = 0; c < C; c++) dW.set(d, c, dW.get(d, c) + (X.get(i, d) * (1 / C - (y[i] === c ? 1 : 0))) / 3);
    }
  }
  return { W: zeros([4, C]), X, y, loss: Math.log(C), dW };
}

const check = (fn: string): HiddenTest => ({
  name: `softmax (public): ${fn} on worked examples`,
  files: [F],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const parts = [];
    for (const [label, ex] of [["the lecture's cat", catExample()], ["W = 0 (loss ln 10)", zeroWeights()]] as const) {
      const out = (await student.call(F, fn, ex.W, ex.X, ex.y, 0)) as { loss?: unknown; dW?: unknown } | null;
      // Worked from the definition: tolerance 1e-9 absolute.
      parts.push(compareNumber(`${label}: loss`, out?.loss, ex.loss, { atol: 1e-9, rtol: 0 }));
      parts.push(compareTensor(`${label}: dW`, out?.dW, ex.dW, { atol: 1e-9, rtol: 0 }));
    }
    // Scores of ±1000 must not overflow: the correct class has the top score, so the loss is (almost) 0.
    const big = (await student.call(F, fn, fromNested([[1000, 0, -1000]]), fromNested([[1]]), Int32Array.from([0]), 0)) as {
      loss?: unknown;
    } | null;
    parts.push(compareNumber("scores of ±1000", big?.loss, 0, { atol: 1e-9, rtol: 0 }));
    return parts;
  },
});

export const tests: HiddenTest[] = [check("softmaxLossNaive"), check("softmaxLossVectorized")];
