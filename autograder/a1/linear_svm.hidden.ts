import { fromNested, randn, type Tensor } from "@semantic-gap/lib";
import { svmLossVectorized as refLoss } from "../../solutions/a1/linear_svm.js";
import { compareNumber, compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest, LibEquivalents, TestPart } from "../src/types.js";
import {
  callLinearLoss,
  intBetween,
  linearCase,
  lossAndGradParts,
  noLoopsTest,
  randomLossTest,
  readLossAndGrad,
  tagged,
  type LinearCase,
} from "./linear_helpers.js";

const FILE = "linear_svm.ts";
const FNS = ["svmLossNaive", "svmLossVectorized"] as const;

/** Edge cases: one example, a tie for the highest score, and the lecture's worked example. */
function edgeCaseTest(fn: string): HiddenTest {
  return {
    name: `linear_svm: ${fn} edge cases`,
    files: [FILE],
    maxScore: 2,
    async run(student, ctx) {
      const parts: TestPart[] = [];
      // One example.
      const one = linearCase(ctx.rng, { n: 1, d: intBetween(ctx.rng, 3, 10), c: intBetween(ctx.rng, 3, 6) }, 0.1);
      const r1 = await callLinearLoss(student, FILE, fn, one);
      parts.push(...tagged(lossAndGradParts(fn, r1.value, refLoss(one.W, one.X, one.y, one.reg), null), "one example"));
      // A tie: classes 1 and 2 have identical weight columns and a large weight on input 0, which is 10 for
      // every example, so they share the highest score; the label is one of them. The tied class's margin is
      // exactly 1 and must count.
      const d = intBetween(ctx.rng, 3, 8);
      const W = randn([d, 4], ctx.rng, 0.5);
      for (let k = 0; k < d; k++) W.set(k, 2, W.get(k, 1));
      W.set(0, 1, 5);
      W.set(0, 2, 5);
      const Xpos = randn([3, d], ctx.rng);
      for (let i = 0; i < 3; i++) Xpos.set(i, 0, 10);
      const tie: LinearCase = { W, X: Xpos, y: Int32Array.from([1, 2, 1]), reg: 0 };
      const r2 = await callLinearLoss(student, FILE, fn, tie);
      parts.push(...tagged(lossAndGradParts(fn, r2.value, refLoss(tie.W, tie.X, tie.y, tie.reg), null), "tied top scores"));
      // The lecture's example: scores 3.2/5.1/-1.7, 1.3/4.9/2.0, 2.2/2.5/-3.1, labels cat, car, frog; mean 5.27.
      const lecture: LinearCase = {
        W: fromNested([
          [3.2, 5.1, -1.7],
          [1.3, 4.9, 2.0],
          [2.2, 2.5, -3.1],
        ]),
        X: fromNested([
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ]),
        y: Int32Array.from([0, 1, 2]),
        reg: 0,
      };
      const r3 = readLossAndGrad((await callLinearLoss(student, FILE, fn, lecture)).value, fn);
      parts.push(
        r3.problem
          ? { name: "lecture example", weight: 1, passed: false, message: r3.problem }
          : compareNumber("lecture example", r3.loss, 15.8 / 3, { atol: 1e-9, rtol: 1e-9 }),
      );
      return parts;
    },
  };
}

const agreementTest: HiddenTest = {
  name: "linear_svm: naive and vectorized agree",
  files: [FILE],
  maxScore: 2,
  async run(student, ctx) {
    const c = linearCase(ctx.rng, { n: intBetween(ctx.rng, 20, 40), d: intBetween(ctx.rng, 10, 30), c: intBetween(ctx.rng, 4, 10) }, 0.5);
    const a = readLossAndGrad(await student.call(FILE, "svmLossNaive", c.W, c.X, c.y, c.reg), "svmLossNaive");
    const b = readLossAndGrad(await student.call(FILE, "svmLossVectorized", c.W, c.X, c.y, c.reg), "svmLossVectorized");
    if (a.problem || b.problem) {
      const msg = a.problem ?? b.problem;
      return [
        { name: "loss", weight: 1, passed: false, message: msg },
        { name: "dW", weight: 1, passed: false, message: msg },
      ];
    }
    // Same mathematics, different summation order: 1e-10 covers the rounding differences.
    const loss = typeof a.loss === "number" ? compareNumber("loss", b.loss, a.loss, { atol: 1e-10, rtol: 1e-10 }) : expectThat("loss", false, "svmLossNaive did not return a number");
    const dW = (a.dW as Tensor)?.shape ? compareTensor("dW", b.dW, a.dW as Tensor, { atol: 1e-10, rtol: 1e-10 }) : expectThat("dW", false, "svmLossNaive did not return a tensor dW");
    if (!loss.passed) loss.message = "the two versions give different losses on the same inputs";
    if (!dW.passed) dW.message = "the two versions give different gradients on the same inputs";
    return [loss, dW];
  },
};

const noLoops = noLoopsTest("linear_svm", FILE, "svmLossVectorized", refLoss);

/** The library's exports that do each exercise's work: an exercise that reaches one earns nothing. */
export const libEquivalents: LibEquivalents = Object.fromEntries(FNS.map((fn) => [fn, ["svmLossLinear"]]));

/** Each test grades the functions its name names (the agreement test both). */
const gradedBy = (t: HiddenTest): HiddenTest => ({ ...t, exercises: FNS.filter((fn) => t.name.includes(fn) || t.name.includes("naive and vectorized")) });

export const tests: HiddenTest[] = [...FNS.map((fn) => randomLossTest("linear_svm", FILE, fn, refLoss)), ...FNS.map(edgeCaseTest), agreementTest, noLoops].map(gradedBy);
