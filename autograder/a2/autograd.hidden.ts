import { tensor, type Rng } from "@semantic-gap/lib";
import { compareNumber, compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest, LibEquivalents, Student, TestPart } from "../src/types.js";
import { chainProgram, evaluate, gradients, innerOf, leavesOf, randomProgram, reuseProgram, type Program } from "./autograd_graphs.js";

// Hidden tests for autograd.ts. The graphs are built in the submission's process by its own runGraph
// (provided code in autograd.ts that turns a program into Values and calls backward), and every reference
// is computed here without any Value class: forward values by plain arithmetic, gradients by forward-mode
// differentiation (autograd_graphs.ts). Forward and reverse mode add the same products in different
// orders, so gradients agree to rounding: tolerance 1e-12 + 1e-9·|expected|.

const F = "autograd.ts";
const TOL = { atol: 1e-12, rtol: 1e-9 };
const EVERY_OP = ["Value.add", "Value.mul", "Value.sub", "Value.div", "Value.pow", "Value.neg", "Value.exp", "Value.log", "Value.tanh", "Value.relu", "Value.sigmoid"];
const BACKWARD = ["Value.backward", "Value.topologicalOrder"];

/** lib has no Value class: no exercise of this file can be handed to the library. */
export const libEquivalents: LibEquivalents = {};

interface Run {
  data: Float64Array;
  grad: Float64Array;
}

/** Runs a program in the submission and checks the shape of what comes back. */
async function run(student: Student, p: Program): Promise<Run | string> {
  const out = (await student.call(F, "runGraph", p)) as { data?: unknown; grad?: unknown } | null;
  const n = p.ops.length;
  if (out === null || typeof out !== "object") return "runGraph must return { data, grad } (did you change it?)";
  for (const key of ["data", "grad"] as const) {
    const v = out[key];
    if (!(v instanceof Float64Array) || v.length !== n) return `runGraph's ${key} must be a Float64Array with one entry per node (${n})`;
  }
  return out as Run;
}

const pick = (x: Float64Array, idx: number[]) => tensor(Float64Array.from(idx, (i) => x[i]), [idx.length]);

/** One part per name over several cases: the first failure under that name, or a pass. */
function firstFailures(names: string[], cases: TestPart[][]): TestPart[] {
  return names.map((name) => cases.flat().find((part) => part.name === name && !part.passed) ?? { name, weight: 1, passed: true });
}

/** Parts comparing the values and the leaves' and inner nodes' gradients of several programs. */
async function graphParts(student: Student, label: string, programs: Program[]): Promise<TestPart[]> {
  const cases: TestPart[][] = [];
  for (const p of programs) {
    const got = await run(student, p);
    if (typeof got === "string") return [expectThat(`${label}: result`, false, got, 3)];
    const data = evaluate(p);
    const grad = gradients(p);
    const all = p.ops.map((_, i) => i);
    cases.push([
      compareTensor(`${label}: values`, pick(got.data, all), pick(data, all), TOL),
      compareTensor(`${label}: leaf gradients`, pick(got.grad, leavesOf(p)), pick(grad, leavesOf(p)), TOL),
      compareTensor(`${label}: inner gradients`, pick(got.grad, innerOf(p)), pick(grad, innerOf(p)), TOL),
    ]);
  }
  return firstFailures(["values", "leaf gradients", "inner gradients"].map((key) => `${label}: ${key}`), cases);
}

const programs = (rng: Rng, count: number, shared: boolean): Program[] =>
  Array.from({ length: count }, () => randomProgram(rng, 1 + rng.int(5), 4 + rng.int(20), shared));

export const tests: HiddenTest[] = [
  {
    name: "autograd: random expression trees",
    files: [F],
    maxScore: 4,
    exercises: [...EVERY_OP, ...BACKWARD],
    async run(student, { rng }) {
      return graphParts(student, "trees (every node used once)", programs(rng, 25, false));
    },
  },
  {
    name: "autograd: random graphs with shared nodes",
    files: [F],
    maxScore: 4,
    exercises: [...EVERY_OP, ...BACKWARD],
    async run(student, { rng }) {
      return graphParts(student, "graphs with shared nodes", programs(rng, 25, true));
    },
  },
  {
    name: "autograd: one Value used many times",
    files: [F],
    maxScore: 2,
    exercises: ["Value.add", "Value.mul", ...BACKWARD],
    async run(student, { rng }) {
      const p = reuseProgram(rng, 200);
      const got = await run(student, p);
      if (typeof got === "string") return [expectThat("result", false, got)];
      // d/dx (x·x + Σ c_i·x) = 2x + Σ c_i, summed here in another order than any backward pass would.
      const x = p.k[0];
      let sum = 2 * x;
      for (let i = 0; i < p.ops.length; i++) if (p.ops[i] === "mul" && p.b[i] === -1) sum += p.k[i];
      return [compareNumber("gradient of a leaf used 202 times", got.grad[0], sum, TOL)];
    },
  },
  {
    name: "autograd: a chain of 100,000 operations",
    files: [F],
    maxScore: 2,
    timeoutMs: 30_000,
    exercises: ["Value.add", "Value.sub", "Value.mul", "Value.neg", ...BACKWARD],
    async run(student, { rng }) {
      const p = chainProgram(rng, 100_000);
      const got = await run(student, p);
      if (typeof got === "string") return [expectThat("result", false, got)];
      // The leaf's gradient is the product of the multipliers times (−1)^(number of negations).
      let d = 1;
      for (let i = 1; i < p.ops.length; i++) d *= p.ops[i] === "mul" ? p.k[i] : p.ops[i] === "neg" ? -1 : 1;
      return [
        compareNumber("output value", got.data[p.ops.length - 1], evaluate(p)[p.ops.length - 1], TOL),
        compareNumber("leaf gradient", got.grad[0], d, { atol: 1e-12, rtol: 1e-8 }),
      ];
    },
  },
  {
    name: "autograd: edge cases",
    files: [F],
    maxScore: 2,
    exercises: ["Value.relu", "Value.mul", "Value.add", ...BACKWARD],
    async run(student, { rng }) {
      const parts: TestPart[] = [];
      // relu at exactly 0: the output 0 and, by convention, the derivative 0 (so 3·relu(0) has gradient 0).
      const atZero: Program = { ops: ["leaf", "relu", "mul"], a: [-1, 0, 1], b: [-1, -1, -1], k: [0, 0, 3] };
      const z = await run(student, atZero);
      if (typeof z === "string") return [expectThat("result", false, z)];
      parts.push(compareNumber("relu(0)", z.data[1], 0, { atol: 0, rtol: 0 }));
      parts.push(compareNumber("gradient of relu at 0", z.grad[0], 0, { atol: 0, rtol: 0 }));
      // backward on a leaf: its own gradient is 1.
      const v = rng.uniformRange(-2, 2);
      const leaf = await run(student, { ops: ["leaf"], a: [-1], b: [-1], k: [v] });
      if (typeof leaf === "string") return [...parts, expectThat("backward on a leaf", false, leaf)];
      parts.push(compareNumber("backward on a leaf", leaf.grad[0], 1, { atol: 0, rtol: 0 }));
      // A fresh Value has gradient 0 and holds its data.
      const fresh = await student.construct(F, "Value", v);
      parts.push(compareNumber("new Value(x).data", await fresh.get("data"), v, { atol: 0, rtol: 0 }));
      parts.push(compareNumber("new Value(x).grad", await fresh.get("grad"), 0, { atol: 0, rtol: 0 }));
      return parts;
    },
  },
  {
    name: "autograd: two backward passes and zeroGrad",
    files: [F],
    maxScore: 4,
    exercises: ["Value.zeroGrad", ...EVERY_OP, ...BACKWARD],
    async run(student, { rng }) {
      const cases: TestPart[][] = [];
      const names = [
        "two passes: the leaves get twice the gradient",
        "two passes: the inner nodes hold one pass's gradient",
        "zeroGrad: every gradient is 0",
        "backward after zeroGrad: one pass's gradients",
      ];
      for (const p of programs(rng, 10, true)) {
        const grad = gradients(p);
        const leaves = leavesOf(p);
        const inner = innerOf(p);
        const twice = await run(student, { ...p, actions: ["backward", "backward"] });
        const zeroed = await run(student, { ...p, actions: ["backward", "zeroGrad"] });
        const again = await run(student, { ...p, actions: ["backward", "zeroGrad", "backward"] });
        for (const r of [twice, zeroed, again]) if (typeof r === "string") return [expectThat("result", false, r, 4)];
        const [t, z, a] = [twice, zeroed, again] as Run[];
        const all = p.ops.map((_, i) => i);
        const doubled = pick(grad, leaves).data.map((g) => 2 * g);
        cases.push([
          compareTensor(names[0], pick(t.grad, leaves), tensor(doubled, [leaves.length]), TOL),
          compareTensor(names[1], pick(t.grad, inner), pick(grad, inner), TOL),
          compareTensor(names[2], pick(z.grad, all), tensor(new Float64Array(all.length), [all.length]), { atol: 0, rtol: 0 }),
          compareTensor(names[3], pick(a.grad, all), pick(grad, all), TOL),
        ]);
      }
      return firstFailures(names, cases);
    },
  },
];
