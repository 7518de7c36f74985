import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "@semantic-gap/lib";
import { Value, runGraph } from "../../solutions/a2/autograd.js";
import { gradeSubmission } from "../src/engine.js";
import { writeAssignment } from "../src/generate.js";
import { loadTests } from "../src/discover.js";
import { editedStudent, failedParts, inProcessStudent, runInProcess } from "../src/in-process.js";
import { paths } from "../src/paths.js";
import { tempDir } from "../test/helpers.js";
import { evaluate, gradients, randomProgram } from "./autograd_graphs.js";
import { libEquivalents, tests } from "./autograd.hidden.js";
import { tests as publicTests } from "./autograd.public.js";

const solutionsDir = fileURLToPath(new URL("../../solutions/a2", import.meta.url));
const solutions = inProcessStudent(solutionsDir);
const FILE = "autograd.ts";
const tmpRoot = fileURLToPath(new URL("../../build/tmp-autograd-variants", import.meta.url));
mkdirSync(tmpRoot, { recursive: true });
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

const variant = (edits: Array<[string, string]>, transform?: (src: string) => string) =>
  editedStudent(solutionsDir, tmpRoot, FILE, edits, { transform });

const chainTest = "autograd: a chain of 100,000 operations";
const fastTests = tests.filter((t) => t.name !== chainTest);

/** A topological order by recursion: right on small graphs, a stack overflow on a long chain. */
const recursiveOrder = (src: string): string =>
  src.replace(
    /(topologicalOrder\(\): Value\[\] \{\n)[\s\S]*?(\n  \}\n)/,
    `$1    const order: Value[] = [];
    const seen = new Set<Value>();
    const visit = (v: Value): void => {
      if (seen.has(v)) return;
      seen.add(v);
      for (const c of v.children) visit(c);
      order.push(v);
    };
    visit(this);
    return order;$2`,
  );

describe("autograd hidden tests", () => {
  it("the references agree with the reference Value class and with centred differences", () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 50; trial++) {
      const p = randomProgram(rng, 1 + rng.int(4), 5 + rng.int(15), trial % 2 === 0);
      const { data, grad } = runGraph(p);
      const v = evaluate(p);
      const g = gradients(p);
      for (let i = 0; i < p.ops.length; i++) {
        expect(data[i]).toBeCloseTo(v[i], 12);
        expect(Math.abs(grad[i] - g[i])).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(g[i]));
      }
      // The forward-mode reference itself against centred differences on each leaf (h = 1e-6: error ~1e-9).
      for (let i = 0; i < p.ops.length; i++) {
        if (p.ops[i] !== "leaf") continue;
        const at = (dx: number) => evaluate({ ...p, k: p.k.map((k, j) => (j === i ? k + dx : k)) })[p.ops.length - 1];
        const numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
        expect(Math.abs(numeric - g[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(g[i])));
      }
    }
  });

  it("a hand-derived case: f = x·y + tanh(x) at (0.5, −2), to 1e-12", () => {
    const x = new Value(0.5);
    const y = new Value(-2);
    const f = x.mul(y).add(x.tanh());
    f.backward();
    const t = Math.tanh(0.5);
    expect(Math.abs(x.grad - (-2 + 1 - t * t))).toBeLessThan(1e-12);
    expect(Math.abs(y.grad - 0.5)).toBeLessThan(1e-12);
  });

  it("give the reference solution full marks over 200 grading seeds", async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const results = await runInProcess(fastTests, solutions, seed);
      const lost = results.flatMap((r) => r.parts.filter((p) => !p.passed).map((p) => `seed ${seed}: ${r.name}: ${p.message}`));
      expect(lost).toEqual([]);
    }
    for (const seed of [1, 2]) {
      const [chain] = await runInProcess(tests.filter((t) => t.name === chainTest), solutions, seed);
      expect(chain.fraction).toBe(1);
    }
  }, 120_000);

  it("declare the exercises they grade, and no library equivalents (lib has no Value class)", () => {
    for (const t of tests) expect(t.exercises?.length, t.name).toBeGreaterThan(0);
    expect(libEquivalents).toEqual({});
  });

  it("assigning instead of adding gradients loses the shared-node, reuse and accumulation parts only", async () => {
    const results = await runInProcess(fastTests, variant([["v.children[j].grad += v.localGrads[j] * v.grad", "v.children[j].grad = v.localGrads[j] * v.grad"]]), 3);
    expect(failedParts(results)).toEqual([
      "autograd: random graphs with shared nodes / graphs with shared nodes: leaf gradients",
      "autograd: random graphs with shared nodes / graphs with shared nodes: inner gradients",
      "autograd: one Value used many times / gradient of a leaf used 202 times",
      "autograd: two backward passes and zeroGrad / two passes: the leaves get twice the gradient",
      "autograd: two backward passes and zeroGrad / two passes: the inner nodes hold one pass's gradient",
      "autograd: two backward passes and zeroGrad / backward after zeroGrad: one pass's gradients",
    ]);
  });

  it("zeroing the leaves too at the start of backward loses the accumulation part only", async () => {
    const results = await runInProcess(tests, variant([["for (const v of order) if (!v.isLeaf) v.grad = 0;", "for (const v of order) v.grad = 0;"]]), 4);
    expect(failedParts(results)).toEqual(["autograd: two backward passes and zeroGrad / two passes: the leaves get twice the gradient"]);
  });

  it("never resetting the inner nodes loses the two-pass parts only", async () => {
    const results = await runInProcess(fastTests, variant([["for (const v of order) if (!v.isLeaf) v.grad = 0;", ""]]), 5);
    expect(failedParts(results)).toEqual([
      "autograd: two backward passes and zeroGrad / two passes: the leaves get twice the gradient",
      "autograd: two backward passes and zeroGrad / two passes: the inner nodes hold one pass's gradient",
    ]);
  });

  it("a recursive topological order loses the 100,000-node chain only", async () => {
    const results = await runInProcess(tests, variant([], recursiveOrder), 6);
    expect(failedParts(results)).toEqual([`${chainTest} / run`]);
    expect(results.find((r) => r.name === chainTest)?.parts[0].message).toMatch(/call stack/);
  });

  it("relu'(0) = 1 loses the relu-at-0 part only", async () => {
    const results = await runInProcess(fastTests, variant([["[this.data > 0 ? 1 : 0]", "[this.data >= 0 ? 1 : 0]"]]), 7);
    expect(failedParts(results)).toEqual(["autograd: edge cases / gradient of relu at 0"]);
  });

  it("a zeroGrad that clears only its own node loses the zeroGrad parts only", async () => {
    const results = await runInProcess(fastTests, variant([["for (const v of this.topologicalOrder()) v.grad = 0;", "this.grad = 0;"]]), 8);
    expect(failedParts(results)).toEqual([
      "autograd: two backward passes and zeroGrad / zeroGrad: every gradient is 0",
      "autograd: two backward passes and zeroGrad / backward after zeroGrad: one pass's gradients",
    ]);
  });

  it("the public checks pass on the solution", async () => {
    const results = await runInProcess(publicTests, solutions, 1);
    expect(failedParts(results)).toEqual([]);
    expect(publicTests.every((t) => t.visibility === "visible" && t.maxScore === 0)).toBe(true);
  });

  it("through the real engine: the solution scores full marks and the untouched stub 0", async () => {
    const all = (await loadTests("a2")).filter((t) => t.module.startsWith("autograd."));
    const ref = await gradeSubmission({ assignment: "a2", submission: solutionsDir, tests: all, files: [FILE], typecheck: false });
    expect(ref.tests.filter((t) => t.status !== "passed").map((t) => `${t.name}: ${t.output}`)).toEqual([]);
    expect(ref.score).toBe(ref.maxScore);
    const stubs = tempDir("sg-a2-autograd-stubs-");
    writeAssignment(paths.solutions("a2"), stubs);
    const stub = await gradeSubmission({ assignment: "a2", submission: stubs, tests: all, files: [FILE], typecheck: false });
    expect(stub.graderError).toBeUndefined();
    expect(stub.tests.filter((t) => t.score > 0).map((t) => t.name)).toEqual([]);
    for (const t of stub.tests) expect(t.output, t.name).toMatch(/not implemented yet \(Not implemented: \w+/);
  }, 120_000);
});
