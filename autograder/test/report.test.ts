import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { clean, csvField, formatTable, toCsv, toGradescope } from "../src/report.js";
import { T, attackSource, gradeToy, result, tempDir, toyDir } from "./helpers.js";

const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe("nothing the student controls is printed raw", () => {
  it("clean() strips escapes and control characters and bounds lines", () => {
    expect(clean("\u001b[31mred\u001b[0m\u0007 \u202eabc\tx")).toBe("red abc x");
    expect(clean("a".repeat(1000), 10)).toBe(`${"a".repeat(9)}…`);
    expect(clean("1\n2\n3\n4", 10, 2)).toBe("1\n2\n... (2 more lines)");
    expect(csvField("=1+1")).toBe("'=1+1");
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField("\t=cmd")).toBe("' =cmd");
    expect(csvField(" -2+3")).toBe("' -2+3");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField(2.5)).toBe("2.5");
  });

  it("a submission that prints and throws escape sequences, under a formula-like name, reaches no output raw", async () => {
    const dir = path.join(tempDir(), "=HYPERLINK(\"x\")\u001b[2J");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "knn.ts"), attackSource("escapes"));
    cpSync(path.join(toyDir, "solution", "extra.ts"), path.join(dir, "extra.ts"));
    const r = await gradeToy(dir);
    expect(result(r, T.distances).score).toBe(0);
    const table = formatTable(r);
    const json = toGradescope(r);
    const csv = toCsv([{ submission: r.submission, report: r, error: result(r, T.distances).output }], r.tests.map((t) => t.name));
    for (const text of [table, json.output, ...json.tests.map((t) => t.output), csv]) {
      expect(text).not.toMatch(controls);
      expect(Math.max(...text.split("\n").map((l) => l.length))).toBeLessThanOrEqual(600);
    }
    expect(table).toMatch(/red/);
    const cells = csv.split("\n")[1].match(/("([^"]|"")*"|[^,]*)(,|$)/g)!;
    for (const c of cells) expect(c.replace(/^"/, "")).not.toMatch(/^[=+\-@]/);
  }, 60_000);
});
