import { compareNumber, expectThat } from "../src/compare.js";
import type { HiddenTest, TestPart } from "../src/types.js";

// Public checks for autograd.ts, worked by hand (no solutions imported). Worth no points: the hidden tests,
// on random graphs, carry the grade. Programs are those of runGraph in autograd.ts.

const F = "autograd.ts";
const exact = { atol: 1e-12, rtol: 0 };

async function grads(student: Parameters<HiddenTest["run"]>[0], program: object): Promise<Float64Array | string> {
  const out = (await student.call(F, "runGraph", program)) as { grad?: unknown } | null;
  if (out === null || typeof out !== "object" || !(out.grad instanceof Float64Array)) return "runGraph must return { data, grad }";
  return out.grad;
}

export const tests: HiddenTest[] = [
  {
    name: "autograd (public): f = a·b + b² at a = 2, b = −3",
    files: [F],
    maxScore: 0,
    visibility: "visible",
    async run(student) {
      // nodes: 0 a, 1 b, 2 a·b, 3 b², 4 a·b + b². ∂f/∂a = b = −3; ∂f/∂b = a + 2b = −4.
      const g = await grads(student, { ops: ["leaf", "leaf", "mul", "pow", "add"], a: [-1, -1, 0, 1, 2], b: [-1, -1, 1, -1, 3], k: [2, -3, 0, 2, 0] });
      if (typeof g === "string") return [expectThat("result", false, g)];
      return [compareNumber("∂f/∂a", g[0], -3, exact), compareNumber("∂f/∂b", g[1], -4, exact)];
    },
  },
  {
    name: "autograd (public): a Value used twice, relu at 0, two backward passes",
    files: [F],
    maxScore: 0,
    visibility: "visible",
    async run(student) {
      const parts: TestPart[] = [];
      // x·x at x = 3: both uses count, gradient 2x = 6.
      const twice = await grads(student, { ops: ["leaf", "mul"], a: [-1, 0], b: [-1, 0], k: [3, 0] });
      if (typeof twice === "string") return [expectThat("result", false, twice)];
      parts.push(compareNumber("x·x at 3: gradient (both uses count)", twice[0], 6, exact));
      // relu(x) at x = 0: gradient 0 by convention.
      const relu = await grads(student, { ops: ["leaf", "relu"], a: [-1, 0], b: [-1, -1], k: [0, 0] });
      if (typeof relu !== "string") parts.push(compareNumber("relu at 0: gradient", relu[0], 0, { atol: 0, rtol: 0 }));
      // 5·x, backward twice: the leaf accumulates 5 + 5 = 10; the output's own gradient stays 1.
      const two = await grads(student, { ops: ["leaf", "mul"], a: [-1, 0], b: [-1, -1], k: [1.5, 5], actions: ["backward", "backward"] });
      if (typeof two !== "string") {
        parts.push(compareNumber("two passes: the leaf's gradient adds up", two[0], 10, exact));
        parts.push(compareNumber("two passes: the output's gradient is 1", two[1], 1, exact));
      }
      return parts;
    },
  },
];
