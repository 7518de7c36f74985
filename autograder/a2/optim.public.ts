import { fromNested, isTensor, type Tensor } from "@semantic-gap/lib";
import { compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest, Student, TestPart } from "../src/types.js";

// Public checks for optim.ts: first steps worked by hand from the update rules' definitions (never from the
// solutions). Worth no points: the hidden tests, with random hyperparameters and chained steps, carry the grade.

const F = "optim.ts";
const w = () => fromNested([1, -2]);
const dw = () => fromNested([0.5, -1]);

async function stepOf(student: Student, rule: string, ...args: unknown[]): Promise<{ nextW?: Tensor; config: Record<string, unknown>; part: TestPart }> {
  const r = (await student.call(F, rule, ...args)) as { nextW?: unknown; config?: unknown } | null;
  const ok = r !== null && typeof r === "object" && isTensor(r.nextW) && r.config !== null && typeof r.config === "object";
  return {
    nextW: ok ? (r!.nextW as Tensor) : undefined,
    config: ok ? (r!.config as Record<string, unknown>) : {},
    part: expectThat(`${rule} result`, ok, "must return { nextW, config } with nextW a tensor and config an object"),
  };
}

const check = (name: string, run: (s: Student) => Promise<TestPart[]>): HiddenTest => ({ name: `optim (public): ${name}`, files: [F], maxScore: 0, visibility: "visible", run });
const tol = { atol: 1e-12, rtol: 1e-12 };

export const tests: HiddenTest[] = [
  check("sgd with the default learning rate 1e-2", async (s) => {
    const r = await stepOf(s, "sgd", w(), dw());
    return [r.part, compareTensor("nextW = w − 0.01·dw", r.nextW, fromNested([0.995, -1.99]), tol)];
  }),
  check("sgdMomentum: two steps with the defaults", async (s) => {
    // v1 = −0.01·dw = (−0.005, 0.01), w1 = w + v1; v2 = 0.9·v1 − 0.01·dw = (−0.0095, 0.019), w2 = w1 + v2.
    const r1 = await stepOf(s, "sgdMomentum", w(), dw());
    const r2 = r1.nextW ? await stepOf(s, "sgdMomentum", r1.nextW, dw(), r1.config) : r1;
    return [
      r1.part,
      compareTensor("first step", r1.nextW, fromNested([0.995, -1.99]), tol),
      compareTensor("velocity after one step", r1.config.velocity as Tensor, fromNested([-0.005, 0.01]), tol),
      compareTensor("second step", r2.nextW, fromNested([0.9855, -1.971]), tol),
    ];
  }),
  check("rmsprop: the first step with the defaults", async (s) => {
    // cache = 0.01·dw² = (0.0025, 0.01); step = 0.01·dw/(√cache + 1e-8) = 0.01·sign(dw)·0.1/(0.1 + 2e-7)...
    const r = await stepOf(s, "rmsprop", w(), dw());
    const step = [0.5, -1].map((g) => (0.01 * g) / (Math.sqrt(0.01 * g * g) + 1e-8));
    return [
      r.part,
      compareTensor("cache", r.config.cache as Tensor, fromNested([0.0025, 0.01]), tol),
      compareTensor("nextW", r.nextW, fromNested([1 - step[0], -2 - step[1]]), tol),
    ];
  }),
  check("adam: the first step moves each weight by about learningRate", async (s) => {
    // m̂ = dw and v̂ = dw² after the bias correction, so the step is 1e-3·dw/(|dw| + 1e-8).
    const r = await stepOf(s, "adam", w(), dw());
    const step = [0.5, -1].map((g) => (1e-3 * g) / (Math.abs(g) + 1e-8));
    return [r.part, compareTensor("nextW", r.nextW, fromNested([1 - step[0], -2 - step[1]]), { atol: 1e-12, rtol: 1e-10 }), expectThat("t = 1", r.config.t === 1, "the returned config must count the steps in t")];
  }),
];
