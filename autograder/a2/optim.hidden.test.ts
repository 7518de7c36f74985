import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import * as lib from "@semantic-gap/lib";
import { Rng, maxAbsDiff, randn, type Tensor } from "@semantic-gap/lib";
import * as ref from "../../solutions/a2/optim.js";
import { editedStudent, failedParts, failures, inProcessStudent, runInProcess } from "../src/in-process.js";
import { cachedStudent } from "./nn_helpers.js";
import { libEquivalents, tests } from "./optim.hidden.js";
import { tests as publicTests } from "./optim.public.js";

const FILE = "optim.ts";
const solutionsDir = fileURLToPath(new URL("../../solutions/a2", import.meta.url));
const solutions = cachedStudent(solutionsDir);
const stubs = inProcessStudent(fileURLToPath(new URL("../../assignments/a2", import.meta.url)));
const tmpRoot = fileURLToPath(new URL("../../build/tmp-optim-variants", import.meta.url));
mkdirSync(tmpRoot, { recursive: true });
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

async function lost(edits: Array<[string, string]>, seed = 11): Promise<string[]> {
  return failedParts(await runInProcess(tests, editedStudent(solutionsDir, tmpRoot, FILE, edits), seed));
}

describe("optim hidden tests", () => {
  it("give the reference solution full marks over 200 grading seeds", async () => {
    for (let seed = 1; seed <= 200; seed++) {
      expect(failures(await runInProcess(tests, solutions, seed * 104729)), `seed ${seed * 104729}`).toEqual([]);
    }
  }, 60_000);

  it("give the untouched stubs 0, each test saying what is not implemented", async () => {
    const results = await runInProcess(tests, stubs, 3);
    expect(results.filter((r) => r.fraction > 0).map((r) => r.name)).toEqual([]);
    for (const r of results) expect(r.parts.map((p) => p.message).join(" "), r.name).toMatch(/Not implemented: \w+/);
  });

  it("every test names the exercises it grades, and libEquivalents names real lib exports for each", () => {
    for (const t of tests) expect(t.exercises?.length, t.name).toBeGreaterThan(0);
    const exercises = [...new Set(tests.flatMap((t) => t.exercises ?? []))].sort();
    expect(Object.keys(libEquivalents).sort()).toEqual(exercises);
    for (const names of Object.values(libEquivalents)) for (const n of names) expect(n in lib, n).toBe(true);
  });

  it("public checks pass on the reference and fail on the stubs", async () => {
    expect(failures(await runInProcess(publicTests, solutions, 1))).toEqual([]);
    expect((await runInProcess(publicTests, stubs, 1)).every((r) => r.parts.every((p) => !p.passed))).toBe(true);
  });

  it("the reference agrees with lib's independent update rules over five chained steps (1e-13)", () => {
    const rng = new Rng(3);
    for (const name of ["sgd", "sgdMomentum", "rmsprop", "adam"] as const) {
      let a: { nextW: Tensor; config: object } = { nextW: randn([4, 3], rng), config: { learningRate: 0.05 } };
      let b = { ...a };
      for (let k = 0; k < 5; k++) {
        const dw = randn([4, 3], rng);
        a = (ref[name] as (w: Tensor, d: Tensor, c: object) => typeof a)(a.nextW, dw, a.config);
        b = (lib[name] as (w: Tensor, d: Tensor, c: object) => typeof b)(b.nextW, dw, b.config);
        expect(maxAbsDiff(a.nextW, b.nextW), name).toBeLessThan(1e-13);
      }
    }
  });

  it("Adam without bias correction loses its steps and defaults, and keeps its state", async () => {
    expect(await lost([["const mHat = div(m, 1 - beta1 ** t);\n  const vHat = div(v, 1 - beta2 ** t);", "const mHat = m;\n  const vHat = v;"]])).toEqual([
      "optim: adam / first step: nextW",
      "optim: adam / steps 2 and 3 with the returned config",
      "optim: adam / defaults",
      "optim: adam / resumes from a given state",
      "optim: adam's bias-corrected first step / first step = learningRate·sign(dw)",
    ]);
  });

  it("momentum with the wrong sign (w − v) loses its steps, and keeps the velocity", async () => {
    expect(await lost([["return { nextW: add(w, velocity),", "return { nextW: sub(w, velocity),"]])).toEqual([
      "optim: sgdMomentum / first step: nextW",
      "optim: sgdMomentum / steps 2 and 3 with the returned config",
      "optim: sgdMomentum / defaults",
      "optim: sgdMomentum / resumes from a given state",
    ]);
  });

  it("Adam that does not return its step count loses the later steps and the state, not the first step or a given state", async () => {
    expect(await lost([["config: { ...config, learningRate, beta1, beta2, epsilon, m, v, t } };", "config: { ...config, learningRate, beta1, beta2, epsilon, m, v } };"]])).toEqual([
      "optim: adam / steps 2 and 3 with the returned config",
      "optim: adam / state after three steps",
      "optim: adam's bias-corrected first step / t after one step",
    ]);
  });

  it("sgd that updates w in place loses only the unchanged-inputs part", async () => {
    expect(
      await lost([["return { nextW: sub(w, mul(dw, learningRate)), config: { ...config, learningRate } };", "w.data.forEach((v, i) => (w.data[i] = v - learningRate * dw.data[i]));\n  return { nextW: w, config: { ...config, learningRate } };"]]),
    ).toEqual(["optim: sgd / inputs unchanged"]);
  });

  it("rmsprop that forgets (1 − decayRate) loses everything but the unchanged inputs", async () => {
    expect(await lost([["mul(mul(dw, dw), 1 - decayRate)", "mul(dw, dw)"]])).toEqual([
      "optim: rmsprop / first step: nextW",
      "optim: rmsprop / steps 2 and 3 with the returned config",
      "optim: rmsprop / state after three steps",
      "optim: rmsprop / defaults",
      "optim: rmsprop / resumes from a given state",
    ]);
  });
});
