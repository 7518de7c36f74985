import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { libEquivalents, tests } from "../a1/linear_svm.hidden.js";
import { loadTests } from "../src/discover.js";
import { gradeSubmission } from "../src/engine.js";
import { failures, inProcessStudent, runInProcess } from "../src/in-process.js";
import { paths, repoRoot } from "../src/paths.js";
import { delegations } from "../src/rules.js";

// Real attack submissions: the reference linear_svm.ts whose svmLossVectorized hands its work to the
// library's svmLossLinear, each by another route. The values are right (the library is right), so only the
// delegation rule can take the points away; svmLossNaive, which does its own work, keeps all of its.

const FILE = "linear_svm.ts";
const solution = readFileSync(path.join(paths.solutions("a1"), FILE), "utf8").replace(
  "export function svmLossVectorized(",
  "function ownVectorized(",
);
const sig = "export function svmLossVectorized(W: Tensor, X: Tensor, y: Labels, reg: number) {";
const routes: Record<string, string> = {
  "a named import": `import { svmLossLinear } from "@semantic-gap/lib";\n${sig} return svmLossLinear(W, X, y, reg); }`,
  "an alias": `import { svmLossLinear as fast } from "@semantic-gap/lib";\n${sig} return fast(W, X, y, reg); }`,
  "the namespace": `import * as L from "@semantic-gap/lib";\n${sig} return L.svmLossLinear(W, X, y, reg); }`,
  "a computed constant name": `import * as L from "@semantic-gap/lib";\nconst part = "Loss";\n${sig} return L["svm" + part + \`Linear\`](W, X, y, reg); }`,
  "an indirect call": `import { svmLossLinear as f } from "@semantic-gap/lib";\n${sig} return (0, f)(W, X, y, reg); }`,
  "a module-level alias": `import * as L from "@semantic-gap/lib";\nconst impl = L.svmLossLinear;\n${sig} return impl(W, X, y, reg); }`,
  "a helper": `import { svmLossLinear } from "@semantic-gap/lib";\nfunction helper(...a: Parameters<typeof svmLossLinear>) { return svmLossLinear(...a); }\n${sig} return helper(W, X, y, reg); }`,
  "destructuring": `import * as L from "@semantic-gap/lib";\nconst { svmLossLinear: s } = L;\n${sig} return s(W, X, y, reg); }`,
  "a name built at run time": `import * as L from "@semantic-gap/lib";\n${sig} return (L as any)[["svm", "LossLinear"].join("")](W, X, y, reg); }`,
};

const tmpRoot = path.join(repoRoot, "build", "delegation-test");
mkdirSync(tmpRoot, { recursive: true });
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

function variant(code: string): string {
  const dir = mkdtempSync(path.join(tmpRoot, "v-"));
  writeFileSync(path.join(dir, FILE), `${solution}\n${code}\n`);
  return dir;
}

const vectorizedTests = tests.filter((t) => t.exercises?.includes("svmLossVectorized")).map((t) => t.name);
const naiveOnly = tests.filter((t) => !t.exercises?.includes("svmLossVectorized")).map((t) => t.name);

describe("no credit for delegating to the library", () => {
  it("the declarations cover the vectorized tests, and the reference does its own work", () => {
    expect(vectorizedTests.length).toBeGreaterThanOrEqual(3);
    expect(naiveOnly.length).toBeGreaterThanOrEqual(2);
    expect(delegations(new Map([[FILE, readFileSync(path.join(paths.solutions("a1"), FILE), "utf8")]]), FILE, "svmLossVectorized", ["svmLossLinear"])).toEqual([]);
  });

  for (const [route, code] of Object.entries(routes)) {
    it(`through ${route}: right values, no points for svmLossVectorized, naive untouched`, async () => {
      const student = inProcessStudent(variant(code));
      // Without the rule the delegating code passes everything: it is the rule that takes the points.
      // (A name built at run time also breaks the no-loops rule, which cannot see what it calls.)
      const free = await runInProcess(tests, student, 7);
      const structure = route === "a name built at run time" ? ["linear_svm: svmLossVectorized has no explicit loops"] : [];
      expect(free.filter((r) => r.fraction < 1).map((r) => r.name)).toEqual(structure);
      const ruled = await runInProcess(tests, student, 7, libEquivalents);
      const byName = Object.fromEntries(ruled.map((r) => [r.name, r.fraction]));
      for (const n of vectorizedTests) expect(byName[n], n).toBe(0);
      for (const n of naiveOnly) expect(byName[n], n).toBe(1);
      const msgs = failures(ruled);
      expect(msgs).toHaveLength(vectorizedTests.length);
      for (const m of msgs) {
        expect(m).toMatch(/no credit: the library already does this exercise's work/);
        expect(m).toMatch(route === "a name built at run time" ? /the library namespace L used as a value at line \d+|a computed name on the library at line \d+, which cannot be resolved/ : /svmLossVectorized reaches svmLossLinear from the library at line \d+/);
      }
    });
  }

  it("the engine applies the rule to a graded submission", async () => {
    const all = await loadTests("a1");
    const svm = all.filter((t) => t.module === "linear_svm.hidden.ts");
    const r = await gradeSubmission({ assignment: "a1", submission: variant(routes["a computed constant name"]), tests: svm, files: [FILE], seed: 3, typecheck: false });
    expect(r.graderError).toBeUndefined();
    for (const t of r.tests) {
      if (vectorizedTests.includes(t.name)) {
        expect(t.score, t.name).toBe(0);
        expect(t.output).toMatch(/svmLossVectorized reaches svmLossLinear from the library at line \d+/);
      } else expect(t.score, t.name).toBe(t.maxScore);
    }
  }, 60_000);
});

describe("the delegation rule in A2", () => {
  it("an affineForward that calls the library's affineForward earns nothing for it; the other layers keep theirs", async () => {
    const src = readFileSync(path.join(paths.solutions("a2"), "layers.ts"), "utf8")
      .replace("export function affineForward(", "function ownAffineForward(")
      .concat('\nimport { affineForward as libAffine } from "@semantic-gap/lib";\n', "export const affineForward = (x: Tensor, w: Tensor, b: Tensor) => libAffine(x, w, b);\n");
    const dir = mkdtempSync(path.join(tmpRoot, "a2-"));
    writeFileSync(path.join(dir, "layers.ts"), src);
    const layerTests = (await loadTests("a2")).filter((t) => t.module === "layers.hidden.ts");
    const r = await gradeSubmission({ assignment: "a2", submission: dir, tests: layerTests, files: ["layers.ts"], seed: 11, typecheck: false });
    expect(r.graderError).toBeUndefined();
    const affine = r.tests.filter((t) => layerTests.find((l) => l.test.name === t.name)?.test.exercises?.includes("affineForward"));
    expect(affine.length).toBeGreaterThan(0);
    for (const t of affine) {
      expect(t.score, t.name).toBe(0);
      expect(t.output).toMatch(/affineForward reaches affineForward from the library at line \d+/);
    }
    const others = r.tests.filter((t) => !affine.includes(t));
    expect(others.length).toBeGreaterThan(5);
    for (const t of others) expect(t.score, `${t.name}: ${t.output}`).toBe(t.maxScore);
  }, 120_000);
});
