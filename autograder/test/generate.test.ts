import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { assignmentNames, diffAssignment, generateAssignment, MarkerError, stubNotebook, stubTypeScript } from "../src/generate.js";
import { paths, repoRoot } from "../src/paths.js";
import { toyDir } from "./helpers.js";

describe("assignments/ is generated from solutions/", () => {
  it.each(assignmentNames())("assignments/%s matches what the generator writes", (a) => {
    const diffs = diffAssignment(paths.solutions(a), paths.assignments(a));
    expect(diffs, `assignments/${a} is out of date: run npm run build:assignments`).toEqual([]);
  });

  it.each(assignmentNames())("assignments/%s keeps no solution code", (a) => {
    for (const [rel, content] of generateAssignment(paths.solutions(a))) {
      expect(String(content), rel).not.toMatch(/BEGIN SOLUTION|END SOLUTION/);
    }
  });
});

describe("stubTypeScript", () => {
  const src = [
    "export class Net {",
    "  constructor(private n: number) {",
    "    // TODO: set up",
    "    // BEGIN SOLUTION",
    "    this.n = n * 2;",
    "    // END SOLUTION",
    "  }",
    "  loss(x: number): number {",
    "    return [x].map((v) => {",
    "      // BEGIN SOLUTION",
    "      return v + this.n;",
    "      // END SOLUTION",
    "    })[0];",
    "  }",
    "}",
    "export const twice = (x: number): number => {",
    "  // TODO: double x",
    "  // BEGIN SOLUTION",
    "  return 2 * x;",
    "  // END SOLUTION",
    "};",
    "",
  ].join("\n");

  it("replaces each region with a throw named after the enclosing function and keeps the TODO lines", () => {
    expect(stubTypeScript(src, "net.ts")).toBe(
      [
        "export class Net {",
        "  constructor(private n: number) {",
        "    // TODO: set up",
        '    throw new Error("Not implemented: Net.constructor");',
        "  }",
        "  loss(x: number): number {",
        "    return [x].map((v) => {",
        '      throw new Error("Not implemented: loss");',
        "    })[0];",
        "  }",
        "}",
        "export const twice = (x: number): number => {",
        "  // TODO: double x",
        '  throw new Error("Not implemented: twice");',
        "};",
        "",
      ].join("\n"),
    );
  });

  it("rejects unbalanced markers and regions outside functions, naming the line", () => {
    expect(() => stubTypeScript("function f() {\n// BEGIN SOLUTION\n}\n", "f.ts")).toThrow(/f\.ts:2: BEGIN SOLUTION is never closed/);
    expect(() => stubTypeScript("// END SOLUTION\n", "f.ts")).toThrow(MarkerError);
    expect(() => stubTypeScript("// BEGIN SOLUTION\nconst a = 1;\n// END SOLUTION\n", "f.ts")).toThrow(/f\.ts:1: a solution region must be inside a function/);
  });

  it("the toy stubs type-check (a throw satisfies every return type)", () => {
    const stubs = generateAssignment(path.join(toyDir, "solution"));
    const dir = path.join(repoRoot, "__stubs__");
    const files = new Map([...stubs].map(([rel, c]) => [path.join(dir, rel), String(c)]));
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      types: ["node"],
      paths: { "@semantic-gap/lib": [existsSync(paths.libDistTypes) ? paths.libDistTypes : paths.libSrcIndex] },
    };
    const host = ts.createCompilerHost(options);
    const get = host.getSourceFile.bind(host);
    host.getSourceFile = (f, l, e, c) => (files.has(f) ? ts.createSourceFile(f, files.get(f)!, l, true) : get(f, l, e, c));
    const exists = host.fileExists.bind(host);
    host.fileExists = (f) => files.has(f) || exists(f);
    const diags = ts.getPreEmitDiagnostics(ts.createProgram([...files.keys()], options, host));
    expect(diags.map((d) => ts.flattenDiagnosticMessageText(d.messageText, " "))).toEqual([]);
  });
});

describe("stubNotebook", () => {
  const nb = {
    cells: [
      { cell_type: "markdown", metadata: {}, source: ["Why?\n", "<!-- BEGIN SOLUTION -->\n", "Because.\n", "<!-- END SOLUTION -->"] },
      {
        cell_type: "code",
        execution_count: 7,
        metadata: { execution: { t: 1 } },
        outputs: [{ output_type: "stream", name: "stdout", text: ["42\n"] }],
        source: ["// TODO: choose k\n", "let k = 0;\n", "// BEGIN SOLUTION\n", "k = 5;\n", "// END SOLUTION\n", "function f(): number {\n", "  // BEGIN SOLUTION\n", "  return k;\n", "  // END SOLUTION\n", "}"],
      },
    ],
    metadata: { kernelspec: { name: "tslab" } },
    nbformat: 4,
    nbformat_minor: 5,
  };

  it("turns solution regions into prompts and clears outputs", () => {
    const out = JSON.parse(stubNotebook(JSON.stringify(nb), "n.ipynb")) as typeof nb;
    expect(out.cells[0].source.join("")).toBe("Why?\nYOUR ANSWER HERE");
    const code = out.cells[1] as (typeof nb.cells)[1];
    expect(code.source.join("")).toBe(
      '// TODO: choose k\nlet k = 0;\n// YOUR CODE HERE\nfunction f(): number {\n  throw new Error("Not implemented: f");\n}',
    );
    expect(code.outputs).toEqual([]);
    expect(code.execution_count).toBeNull();
    expect(code.metadata).toEqual({});
    expect(out.metadata).toEqual(nb.metadata);
  });

  it("writes Jupyter's own layout (one-space indent, trailing newline)", () => {
    const text = stubNotebook(JSON.stringify(nb), "n.ipynb");
    expect(text.endsWith("}\n")).toBe(true);
    expect(text.split("\n")[1]).toBe(' "cells": [');
    expect(readFileSync(path.join(toyDir, "solution", "knn.ts"), "utf8")).toMatch(/BEGIN SOLUTION/);
  });
});
