import path from "node:path";
import { describe, expect, it } from "vitest";
import { paths } from "../src/paths.js";
import { typecheckSubmission } from "../src/typecheck.js";

describe("the type check", () => {
  it("reads only the submission and the library's declarations: it never quotes a solution or a hidden test", async () => {
    const sol = path.join(paths.solutions("a1"), "knn.ts");
    const hidden = path.join(paths.tests("a1"), "knn.hidden.ts");
    const src = [
      `import { KNearestNeighbor } from ${JSON.stringify(sol)};`,
      `import { tests } from ${JSON.stringify(hidden)};`,
      `import { KNearestNeighbor as K2 } from "../solutions/a1/knn.js";`,
      `import { zeros } from "@semantic-gap/lib";`,
      `export const a: number = new KNearestNeighbor().computeDistancesTwoLoops;`,
      `export const b: number = tests;`,
      `export const c: string = zeros([2]);`,
      `export const d = K2;`,
    ].join("\n");
    const errors = await typecheckSubmission(new Map([["knn.ts", src]]));
    // The library's declarations are read: zeros returns a tensor, not a string.
    expect(errors.some((e) => /^knn\.ts:7:\d+ TS2322: Type 'Tensor' is not assignable to type 'string'/.test(e))).toBe(true);
    // The solution and the hidden tests are not: their modules are not found, and nothing of them is shown.
    expect(errors.filter((e) => /TS2307/.test(e))).toHaveLength(3);
    const text = errors.join("\n");
    expect(text).not.toMatch(/computeDistancesTwoLoops\(|HiddenTest|Tensor\) =>|Labels/);
  }, 60_000);
});
