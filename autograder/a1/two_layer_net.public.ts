import { fromNested, zeros } from "@semantic-gap/lib";
import { attempt, compareNumber, compareTensor } from "../src/compare.js";
import type { HiddenTest } from "../src/types.js";

// Public checks for two_layer_net.ts. They ship to students (npm run check -- a1), so their references are
// worked by hand, never taken from the solutions. They are worth no points: the hidden tests carry the grade.

const F = "two_layer_net.ts";
// W1 = W2 = identity, zero biases: scores = max(0, X). X = [[1, −1], [2, 3]] gives scores [[1, 0], [2, 3]].
const eye = () => fromNested([[1, 0], [0, 1]]);
const params = () => ({ W1: eye(), b1: zeros([2]), W2: eye(), b2: zeros([2]) });
const X = () => fromNested([[1, -1], [2, 3]]);
const y = () => Int32Array.from([0, 1]);
// With a = 1 / (1 + e): row 0 (label 0) has p = [1 − a, a], row 1 (label 1) has p = [a, 1 − a]. Each row's
// loss is −log(1 − a) = log(1 + 1/e); dscores = (p − onehot) / 2 = [[−a, a], [a, −a]] / 2, so db2 = 0 and
// dW2 = hiddenᵀ·dscores = [[a, −a], [3a, −3a]] / 2 with hidden = [[1, 0], [2, 3]].
const a = 1 / (1 + Math.E);
const tol = { atol: 1e-9, rtol: 1e-9 };

export const tests: HiddenTest[] = [
  {
    name: "two_layer_net (public): scores, loss and second-layer gradients on a hand-worked net",
    files: [F],
    maxScore: 0,
    visibility: "visible",
    async run(student) {
      const net = await student.construct(F, "TwoLayerNet", 2, 2, 2, { params: params() });
      const parts = [];
      parts.push(...(await attempt("scores", 1, async () => compareTensor("scores", await net.call("loss", X()), fromNested([[1, 0], [2, 3]]), tol))));
      const out = (await net.call("loss", X(), y(), 0)) as { loss?: unknown; grads?: Record<string, unknown> } | null;
      parts.push(compareNumber("loss", out?.loss, Math.log(1 + 1 / Math.E), tol));
      parts.push(compareTensor("db2", out?.grads?.b2, zeros([2]), tol));
      parts.push(compareTensor("dW2", out?.grads?.W2, fromNested([[a / 2, -a / 2], [(3 * a) / 2, (-3 * a) / 2]]), tol));
      return parts;
    },
  },
];
