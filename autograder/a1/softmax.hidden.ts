import { fromNested, randn, scale, zeros, type Tensor } from "@semantic-gap/lib";
import { softmaxLossVectorized as refLoss } from "../../solutions/a1/softmax.js";
import { compareNumber, compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest, LibEquivalents, TestPart } from "../src/types.js";
import {
  callLinearLoss,
  intBetween,
  linearCase,
  lossAndGradParts,
  noLoopsTest,
  randomLossTest,
  randomLabels,
  readLossAndGrad,
  tagged,
  type LinearCase,
} from "./linear_helpers.js";

const FILE = "softmax.ts";
const FNS = ["softmaxLossNaive", "softmaxLossVectorized"] as const;

/** Edge cases: scores that overflow a naive exp, one example, ln C at zero weights, the lecture's example. */
function edgeCaseTest(fn: string): HiddenTest {
  return {
    name: `softmax: ${fn} edge cases`,
    files: [FILE],
    maxScore: 3,
    async run(student, ctx) {
      const parts: TestPart[] = [];
      // Scores in the thousands: Math.exp overflows to Infinity beyond 709.
      const d = intBetween(ctx.rng, 4, 10);
      const n = intBetween(ctx.rng, 5, 12);
      const c = intBetween(ctx.rng, 3, 6);
      const huge: LinearCase = { W: randn([d, c], ctx.rng), X: scale(randn([n, d], ctx.rng), 1000), y: randomLabels(ctx.rng, n, c), reg: 0.01 };
      const r0 = await callLinearLoss(student, FILE, fn, huge);
      const hp = tagged(lossAndGradParts(fn, r0.value, refLoss(huge.W, huge.X, huge.y, huge.reg), null, 2), "very large scores");
      for (const p of hp) if (!p.passed) p.message += " (subtract each row's largest score before exponentiating)";
      parts.push(...hp);
      // One example.
      const one = linearCase(ctx.rng, { n: 1, d: intBetween(ctx.rng, 3, 10), c: intBetween(ctx.rng, 3, 6) }, 0.1, 0.3, 0);
      const r1 = await callLinearLoss(student, FILE, fn, one);
      parts.push(...tagged(lossAndGradParts(fn, r1.value, refLoss(one.W, one.X, one.y, one.reg), null), "one example"));
      // Zero weights: every class equally likely, loss = ln C.
      const C = intBetween(ctx.rng, 3, 12);
      const zc: LinearCase = { W: zeros([6, C]), X: randn([7, 6], ctx.rng), y: randomLabels(ctx.rng, 7, C), reg: 0.2 };
      const r2 = readLossAndGrad((await callLinearLoss(student, FILE, fn, zc)).value, fn);
      parts.push(
        r2.problem
          ? expectThat("zero weights", false, r2.problem)
          : compareNumber("zero weights", r2.loss, Math.log(C), { atol: 1e-12, rtol: 1e-12 }),
      );
      if (!parts[parts.length - 1].passed) parts[parts.length - 1].message = "zero weights: with W = 0 the loss must be ln C";
      // The lecture's example: cat image scores 3.2 / 5.1 / -1.7, label cat, loss −log(0.13) = 2.04.
      const lec: LinearCase = { W: fromNested([[3.2, 5.1, -1.7]]), X: fromNested([[1]]), y: Int32Array.from([0]), reg: 0 };
      const r3 = readLossAndGrad((await callLinearLoss(student, FILE, fn, lec)).value, fn);
      const expected = Math.log(Math.exp(3.2) + Math.exp(5.1) + Math.exp(-1.7)) - 3.2;
      parts.push(r3.problem ? expectThat("lecture example", false, r3.problem) : compareNumber("lecture example", r3.loss, expected, { atol: 1e-12, rtol: 1e-12 }));
      return parts;
    },
  };
}

const agreementTest: HiddenTest = {
  name: "softmax: naive and vectorized agree",
  files: [FILE],
  maxScore: 2,
  async run(student, ctx) {
    const c = linearCase(ctx.rng, { n: intBetween(ctx.rng, 20, 40), d: intBetween(ctx.rng, 10, 30), c: intBetween(ctx.rng, 4, 10) }, 0.5, 0.3, 0);
    const a = readLossAndGrad(await student.call(FILE, "softmaxLossNaive", c.W, c.X, c.y, c.reg), "softmaxLossNaive");
    const b = readLossAndGrad(await student.call(FILE, "softmaxLossVectorized", c.W, c.X, c.y, c.reg), "softmaxLossVectorized");
    if (a.problem || b.problem) {
      const msg = a.problem ?? b.problem;
      return [
        { name: "loss", weight: 1, passed: false, message: msg },
        { name: "dW", weight: 1, passed: false, message: msg },
      ];
    }
    // Same mathematics, different summation order: 1e-10 covers the rounding differences.
    const loss = typeof a.loss === "number" ? compareNumber("loss", b.loss, a.loss, { atol: 1e-10, rtol: 1e-10 }) : expectThat("loss", false, "softmaxLossNaive did not return a number");
    const dW = (a.dW as Tensor)?.shape ? compareTensor("dW", b.dW, a.dW as Tensor, { atol: 1e-10, rtol: 1e-10 }) : expectThat("dW", false, "softmaxLossNaive did not return a tensor dW");
    if (!loss.passed) loss.message = "the two versions give different losses on the same inputs";
    if (!dW.passed) dW.message = "the two versions give different gradients on the same inputs";
    return [loss, dW];
  },
};

const noLoops = noLoopsTest("softmax", FILE, "softmaxLossVectorized", refLoss);

/** The library's exports that do each exercise's work: an exercise that reaches one earns nothing. */
export const libEquivalents: LibEquivalents = Object.fromEntries(FNS.map((fn) => [fn, ["softmaxLossLinear"]]));

/** Each test grades the functions its name names (the agreement test both). */
const gradedBy = (t: HiddenTest): HiddenTest => ({ ...t, exercises: FNS.filter((fn) => t.name.includes(fn) || t.name.includes("naive and vectorized")) });

export const tests: HiddenTest[] = [...FNS.map((fn) => randomLossTest("softmax", FILE, fn, refLoss, 0.3, 0)), ...FNS.map(edgeCaseTest), agreementTest, noLoops].map(gradedBy);
