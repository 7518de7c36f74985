import { accuracy, argmax, concatRows, copy, isTensor, matmul, randn, tensor, toFloat64Array, zeros, type Labels, type Tensor } from "@semantic-gap/lib";
import { svmLossVectorized } from "../../solutions/a1/linear_svm.js";
import { softmaxLossVectorized } from "../../solutions/a1/softmax.js";
import { compareLabels, compareNumber, compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest, LibEquivalents, TestPart } from "../src/types.js";
import { allFinite, asNumberArray, blobs, intBetween, meanOf, type RefLoss } from "./linear_helpers.js";

const FILE = "linear_classifier.ts";
const CLASSES: Array<{ cls: string; ref: RefLoss }> = [
  { cls: "LinearSVM", ref: svmLossVectorized },
  { cls: "Softmax", ref: softmaxLossVectorized },
];

function sampleStd(t: Tensor): number {
  const v = toFloat64Array(t);
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) * (b - m), 0) / v.length);
}

/**
 * SGD steps checked exactly. Every row of the training set is the same example with the same label, so any
 * minibatch has the loss and gradient of that one example, whatever indices the submission draws.
 */
function sgdStepTest(cls: string, ref: RefLoss): HiddenTest {
  return {
    name: `linear_classifier: ${cls}.train takes SGD steps`,
    files: [FILE, "linear_svm.ts", "softmax.ts"],
    maxScore: 3,
    async run(student, ctx) {
      const parts: TestPart[] = [];
      const d = intBetween(ctx.rng, 4, 12);
      const n = 20;
      const row = randn([1, d], ctx.rng);
      const X = concatRows(Array.from({ length: n }, () => row));
      const y = new Int32Array(n).fill(2); // labels 0..2, so W has 3 columns
      const reg = 0.01 + 0.1 * ctx.rng.uniform();
      const lr = 0.05 + 0.2 * ctx.rng.uniform();
      const seed = ctx.rng.int(1000);
      const model = await student.construct(FILE, cls);

      // A step with learning rate 0 creates W and leaves it as it was.
      const h0 = asNumberArray(await model.call("train", X, y, { learningRate: 0, reg, numIters: 1, batchSize: 5, seed }));
      const W0raw = await model.get("W");
      if (!isTensor(W0raw) || W0raw.shape.length !== 2 || W0raw.shape[0] !== d || W0raw.shape[1] !== 3) {
        const why = isTensor(W0raw) ? "W has the wrong shape after train (expected (D, C) with C = max(y) + 1)" : "after train, W must be a tensor";
        return [
          expectThat("initial weights", false, why),
          expectThat("loss history", false, why),
          expectThat("one step", false, why),
          expectThat("three steps", false, why),
        ];
      }
      const W0 = copy(W0raw); // a snapshot: a later train call may update the object in place
      const s = sampleStd(W0);
      parts.push(expectThat("initial weights", s > 0.0004 && s < 0.002, "initial weights should be gaussian with standard deviation 0.001"));
      const L0 = ref(W0, X, y, reg);
      parts.push(
        h0 && h0.length === 1
          ? compareNumber("loss history", h0[0], L0.loss, { atol: 1e-10, rtol: 1e-8 })
          : expectThat("loss history", false, "train must return an array with one loss per iteration"),
      );

      // One step: W1 = W0 − lr·dW(W0).
      await model.call("train", X, y, { learningRate: lr, reg, numIters: 1, batchSize: 5, seed });
      const W1 = await model.get("W");
      const expected1 = tensor(W0.data.map((w, k) => w - lr * L0.dW.data[k]), W0.shape);
      const p1 = compareTensor("one step", W1, expected1, { atol: 1e-12, rtol: 1e-9 });
      if (!p1.passed) p1.message = "one step: W after one iteration is not W − learningRate·dW (or train restarted from new weights)";
      parts.push(p1);

      // Three more steps continue from the current W.
      if (isTensor(W1)) {
        let W = copy(W1);
        for (let k = 0; k < 3; k++) {
          const g = ref(W, X, y, reg).dW;
          const next = zeros(W.shape);
          const wf = toFloat64Array(W);
          for (let q = 0; q < next.data.length; q++) next.data[q] = wf[q] - lr * g.data[q];
          W = next;
        }
        await model.call("train", X, y, { learningRate: lr, reg, numIters: 3, batchSize: 5, seed: seed + 1 });
        const p3 = compareTensor("three steps", await model.get("W"), W, { atol: 1e-12, rtol: 1e-8 });
        if (!p3.passed) p3.message = "three steps: a second call to train should continue from the current W with one update per iteration";
        parts.push(p3);
      } else {
        parts.push(expectThat("three steps", false, "after train, W must be a tensor"));
      }
      return parts;
    },
  };
}

/** Training on three separable blobs: the loss goes down and predict classifies them. */
function trainPredictTest(cls: string): HiddenTest {
  return {
    name: `linear_classifier: ${cls} learns three blobs and predicts`,
    files: [FILE, "linear_svm.ts", "softmax.ts"],
    maxScore: 3,
    timeoutMs: 30_000,
    async run(student, ctx) {
      const { X, y } = blobs(ctx.rng, 150, 4);
      const numIters = 300;
      const model = await student.construct(FILE, cls);
      const hist = asNumberArray(await model.call("train", X, y, { learningRate: 0.01, reg: 1e-3, numIters, batchSize: 30, seed: ctx.rng.int(1000) }));
      const parts: TestPart[] = [];
      parts.push(
        expectThat(
          "loss history",
          hist !== null && hist.length === numIters && allFinite(hist),
          "train must return one finite loss per iteration",
        ),
      );
      const first = hist && hist.length >= 5 ? meanOf(hist, 0, 5) : NaN;
      const last = hist && hist.length >= 20 ? meanOf(hist, hist.length - 20) : NaN;
      parts.push(expectThat("loss decreases", last < 0.5 * first, "the minibatch loss should fall to less than half its starting value on an easy problem"));

      const W = await model.get("W");
      // Two all-zero rows score 0 for every class: a tie, which goes to the first class.
      const Xp = concatRows([X, zeros([2, X.shape[1]])]);
      const pred = await model.call("predict", Xp);
      if (isTensor(W) && W.shape[0] === X.shape[1]) {
        const expected: Labels = argmax(matmul(Xp, W));
        parts.push(compareLabels("predict", pred, expected));
      } else {
        parts.push(expectThat("predict", false, "after train, W must be a (D, C) tensor"));
      }
      const predTrain = pred instanceof Int32Array ? pred.subarray(0, X.shape[0]) : null;
      const acc = predTrain ? accuracy(predTrain, y) : 0;
      parts.push(expectThat("accuracy", acc >= 0.9, `training accuracy ${acc.toFixed(3)} on well separated blobs should be at least 0.9`));
      return parts;
    },
  };
}

/** The library's exports that do each exercise's work: an exercise that reaches one earns nothing. */
export const libEquivalents: LibEquivalents = {
  "LinearClassifier.train": ["trainLinear", "trainLinearAsync"],
  "LinearClassifier.predict": ["predictLinear"],
  "LinearSVM.loss": ["svmLossLinear", "trainLinear", "trainLinearAsync"],
  "Softmax.loss": ["softmaxLossLinear", "trainLinear", "trainLinearAsync"],
};

export const tests: HiddenTest[] = [
  ...CLASSES.map(({ cls, ref }) => ({ ...sgdStepTest(cls, ref), exercises: ["LinearClassifier.train", `${cls}.loss`] })),
  ...CLASSES.map(({ cls }) => ({ ...trainPredictTest(cls), exercises: ["LinearClassifier.train", "LinearClassifier.predict", `${cls}.loss`] })),
];
