import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { gradeBatch, progressLine } from "../src/batch.js";
import { writeAssignment } from "../src/generate.js";
import { formatTable, toCsv, toGradescope } from "../src/report.js";
import { T, gradeToy, result, tempDir, toyDir, toyMax, toySubmission } from "./helpers.js";

describe("grading the toy assignment", () => {
  it("the solution scores full marks, with a complete report", async () => {
    const r = await gradeToy(path.join(toyDir, "solution"));
    expect(r.score).toBe(toyMax);
    expect(r.maxScore).toBe(toyMax);
    expect(r.tests).toHaveLength(7);
    expect(r.tests.every((t) => t.status === "passed" && t.output === "passed")).toBe(true);
    expect(r.files.found).toEqual({ "extra.ts": "extra.ts", "knn.ts": "knn.ts" });
    expect(r.seed).toBe(12345);
  });

  it("the generated stubs score 0 with 'not implemented' feedback and no crash", async () => {
    const stubs = tempDir();
    writeAssignment(path.join(toyDir, "solution"), stubs);
    const r = await gradeToy(stubs);
    expect(r.score).toBe(0);
    expect(r.graderError).toBeUndefined();
    for (const t of r.tests) {
      if (t.name === T.structure) expect(t.output).toMatch(/must compute the cross term/);
      else expect(t.output).toMatch(/not implemented yet \(Not implemented: (train|sumSquares|normalizeRows)/);
    }
    expect(result(r, T.distances).failure).toBe("not-implemented");
  });

  it("finds files in a zip, one folder down, and ignores the rest", async () => {
    const src = (f: string) => new Uint8Array(readFileSync(path.join(toyDir, "solution", f)));
    const zip = zipSync({
      "my-work/knn.ts": src("knn.ts"),
      "my-work/extra.ts": src("extra.ts"),
      "my-work/scratch.ts": new TextEncoder().encode("export {};"),
      "my-work/deeper/knn.ts": new TextEncoder().encode("throw new Error('not this one');"),
    });
    const file = path.join(tempDir(), "submission.zip");
    writeFileSync(file, zip);
    const r = await gradeToy(file);
    expect(r.score).toBe(toyMax);
    expect(r.files.found).toEqual({ "extra.ts": "my-work/extra.ts", "knn.ts": "my-work/knn.ts" });
    expect(r.files.ignored).toEqual(expect.arrayContaining(["my-work/scratch.ts", "my-work/deeper/knn.ts"]));
  });

  it("a missing file costs only the tests that need it", async () => {
    const r = await gradeToy(toySubmission(null));
    expect(r.files.missing).toEqual(["knn.ts"]);
    expect(result(r, T.distances).output).toBe("needs knn.ts, which your submission does not contain");
    expect(result(r, T.distances).failure).toBe("missing-file");
    expect(r.score).toBe(5);
  });

  it("a corrupt zip still gives a complete report", async () => {
    const file = path.join(tempDir(), "broken.zip");
    writeFileSync(file, "PK\u0003\u0004 this is not a zip");
    const r = await gradeToy(file);
    expect(r.score).toBe(0);
    expect(r.tests).toHaveLength(7);
    expect(r.problems[0]).toMatch(/the zip could not be read/);
  });

  it("public checks run only visible tests and never claim that everything passed", async () => {
    const r = await gradeToy(path.join(toyDir, "solution"), { only: "visible" });
    expect(r.tests.map((t) => t.name).sort()).toEqual([T.publicSum, T.worked].sort());
    expect(r.notRun).toEqual({ count: 5, points: 12 });
    const text = formatTable(r, "check");
    expect(text).toMatch(/Public checks: 2 of 2 passed \(3 of 3 points\)\./);
    expect(text).toMatch(/5 hidden test\(s\) worth 12 points run only when you hand in/);
    expect(text).not.toMatch(/all tests passed/i);
  });
});

describe("grader failures", () => {
  it("a child that cannot start is the grader's fault: the report says so and still lists every test", async () => {
    const r = await gradeToy(path.join(toyDir, "solution"), { nodeArgs: ["--no-such-node-flag"] });
    expect(r.graderError).toMatch(/the child process could not start/);
    expect(r.graderError).toMatch(/bad option: --no-such-node-flag/);
    expect(r.tests).toHaveLength(7);
    expect(r.tests.every((t) => t.failure === "grader-error" && t.score === 0)).toBe(true);
    expect(formatTable(r)).toMatch(/GRADER ERROR \(not caused by the submission\)/);
  });
});

describe("reports", () => {
  it("the terminal table, results.json and CSV carry every test", async () => {
    const r = await gradeToy(toySubmission(null));
    const table = formatTable(r);
    expect(table).toMatch(/Files found: extra\.ts/);
    expect(table).toMatch(/Files missing: knn\.ts/);
    expect(table).toMatch(/Total: 5 \/ 15 points \(3 of 7 tests passed\)/);
    const gs = toGradescope(r);
    expect(gs.score).toBe(5);
    expect(gs.tests).toHaveLength(7);
    for (const t of gs.tests) {
      expect(Object.keys(t).sort()).toEqual(["max_score", "name", "number", "output", "score", "status", "visibility"]);
      expect(["passed", "failed"]).toContain(t.status);
    }
    const hidden = gs.tests.find((t) => t.name === T.distances)!;
    expect(hidden).toMatchObject({ visibility: "after_published", status: "failed", score: 0, max_score: 4 });
    expect(gs.tests.find((t) => t.name === T.worked)!.visibility).toBe("visible");
    const csv = toCsv([{ submission: "alice", report: r }, { submission: "bob, jr", error: "worker died" }], r.tests.map((t) => t.name));
    const lines = csv.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0].split(",").slice(0, 3)).toEqual(["submission", "score", "max_score"]);
    expect(lines[1].startsWith("alice,5,15,")).toBe(true);
    expect(lines[1].endsWith(`,${r.seed},`)).toBe(true);
    expect(lines[2]).toBe(`"bob, jr",,,${",".repeat(8)}worker died`);
  });

  it("the progress line shows counts and an ETA", () => {
    const line = progressLine(3, 4, Date.now() - 6000);
    expect(line).toMatch(/^\[#{21}\.{7}\] 3\/4 {2}elapsed 0:06 {2}ETA 0:02/);
  });
});

describe("batch grading", () => {
  it("grades a folder in parallel; a broken submission keeps its row and does not affect the others", async () => {
    const folder = tempDir("sg-batch-");
    cpSync(path.join(toyDir, "solution"), path.join(folder, "alice"), { recursive: true });
    writeAssignment(path.join(toyDir, "solution"), path.join(folder, "bob")); // the untouched stubs
    writeFileSync(path.join(folder, "carol.zip"), "not a zip at all");
    const csv = path.join(folder, "grades.csv");
    const seen: number[] = [];
    const { rows, testNames } = await gradeBatch({
      assignment: "toy",
      folder,
      csv,
      jobs: 2,
      testsDir: path.join(toyDir, "tests"),
      grade: { typecheck: false, seed: 7 },
      onProgress: (done) => seen.push(done),
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(rows.map((r) => [r.submission, r.report?.score])).toEqual([
      ["alice", 15],
      ["bob", 0],
      ["carol.zip", 0],
    ]);
    const lines = readFileSync(csv, "utf8").trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(["submission", "score", "max_score", ...testNames, "seed", "error"].map((s) => (s.includes(",") ? `"${s}"` : s)).join(","));
    expect(lines[1].startsWith("alice,15,15,")).toBe(true);
  });
});
