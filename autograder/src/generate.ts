import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { paths, repoRoot } from "./paths.js";

/**
 * Generates assignments/aN/ from solutions/aN/, the one source of every exercise.
 *
 * - TypeScript: each region between `// BEGIN SOLUTION` and `// END SOLUTION` lines becomes
 *   `throw new Error("Not implemented: <function>")`, named after the enclosing function or method found on
 *   the syntax tree; the `// TODO` guidance above the region stays. A throw satisfies any return type, so
 *   the stub still type-checks.
 * - Notebooks: the same markers in a code cell become the throw (inside a function) or a
 *   `// YOUR CODE HERE` prompt (at the top level of the cell); in a markdown cell they become
 *   "YOUR ANSWER HERE". Outputs and execution counts are cleared.
 * - Other files are copied; `*.test.ts` files (the solutions' own tests) are not.
 */

const beginRe = /^\s*(\/\/|#|<!--)?\s*BEGIN SOLUTION\s*(-->)?\s*$/;
const endRe = /^\s*(\/\/|#|<!--)?\s*END SOLUTION\s*(-->)?\s*$/;

export class MarkerError extends Error {
  override name = "MarkerError";
}

interface Region {
  begin: number; // 0-based line of BEGIN
  end: number; // 0-based line of END
}

function findRegions(lines: string[], where: string): Region[] {
  const out: Region[] = [];
  let open = -1;
  lines.forEach((line, i) => {
    if (beginRe.test(line)) {
      if (open >= 0) throw new MarkerError(`${where}:${i + 1}: BEGIN SOLUTION inside the region opened at line ${open + 1}`);
      open = i;
    } else if (endRe.test(line)) {
      if (open < 0) throw new MarkerError(`${where}:${i + 1}: END SOLUTION without a BEGIN SOLUTION`);
      out.push({ begin: open, end: i });
      open = -1;
    }
  });
  if (open >= 0) throw new MarkerError(`${where}:${open + 1}: BEGIN SOLUTION is never closed`);
  return out;
}

function nameOf(node: ts.Node, sf: ts.SourceFile): string | null {
  const text = (n: ts.Node | undefined) => (n ? n.getText(sf) : null);
  if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) {
    return text(node.name);
  }
  if (ts.isConstructorDeclaration(node)) {
    const cls = node.parent;
    return `${ts.isClassLike(cls) && cls.name ? cls.name.text : "class"}.constructor`;
  }
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
    if (ts.isFunctionExpression(node) && node.name) return node.name.text;
    const p = node.parent;
    if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name) return text(p.name);
    return null;
  }
  return null;
}

/** The name of the innermost named function whose body contains `pos`, or null at the top level. */
function enclosingFunction(sf: ts.SourceFile, pos: number): string | null {
  let best: string | null = null;
  const visit = (n: ts.Node): void => {
    if (pos < n.getFullStart() || pos >= n.getEnd()) return;
    if (ts.isFunctionLike(n) && "body" in n && n.body && pos >= n.body.getStart(sf) && pos < n.body.getEnd()) {
      best = nameOf(n, sf) ?? best;
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return best;
}

function lineStarts(lines: string[]): number[] {
  const starts: number[] = [];
  let p = 0;
  for (const l of lines) {
    starts.push(p);
    p += l.length + 1;
  }
  return starts;
}

/**
 * Replaces the solution regions of TypeScript source. `topLevel` says what a region outside any function
 * becomes: an error (solution files) or a prompt (notebook cells).
 */
export function stubTypeScript(source: string, where: string, topLevel: "error" | "prompt" = "error"): string {
  const eol = source.includes("\r\n") ? "\r\n" : "\n";
  const lines = source.split(/\r?\n/);
  const regions = findRegions(lines, where);
  if (regions.length === 0) return source;
  const sf = ts.createSourceFile(where, lines.join("\n"), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const starts = lineStarts(lines);
  const out: string[] = [];
  let next = 0;
  for (const r of regions) {
    out.push(...lines.slice(next, r.begin));
    const indent = /^\s*/.exec(lines[r.begin])![0];
    const fn = enclosingFunction(sf, starts[r.begin]);
    if (fn) out.push(`${indent}throw new Error(${JSON.stringify(`Not implemented: ${fn}`)});`);
    else if (topLevel === "prompt") out.push(`${indent}// YOUR CODE HERE`);
    else throw new MarkerError(`${where}:${r.begin + 1}: a solution region must be inside a function or method`);
    next = r.end + 1;
  }
  out.push(...lines.slice(next));
  return out.join(eol);
}

function stubMarkdown(source: string, where: string): string {
  const lines = source.split("\n");
  const regions = findRegions(lines, where);
  const out: string[] = [];
  let next = 0;
  for (const r of regions) {
    out.push(...lines.slice(next, r.begin), "YOUR ANSWER HERE");
    next = r.end + 1;
  }
  out.push(...lines.slice(next));
  return out.join("\n");
}

interface NotebookCell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
  metadata?: Record<string, unknown>;
  [k: string]: unknown;
}

function toLines(text: string): string[] {
  const parts = text.split("\n");
  return parts.map((p, i) => (i < parts.length - 1 ? `${p}\n` : p)).filter((p, i, a) => !(i === a.length - 1 && p === ""));
}

/** Turns a solved notebook into the students' one: solution regions become prompts, outputs go. */
export function stubNotebook(json: string, where: string): string {
  const nb = JSON.parse(json) as { cells: NotebookCell[]; [k: string]: unknown };
  nb.cells.forEach((cell, i) => {
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    const at = `${where} cell ${i + 1}`;
    let next = src;
    if (cell.cell_type === "code") {
      next = stubTypeScript(src, at, "prompt");
      cell.outputs = [];
      cell.execution_count = null;
    } else if (cell.cell_type === "markdown") {
      next = stubMarkdown(src, at);
    }
    if (cell.metadata) {
      delete cell.metadata.execution;
      delete cell.metadata.ExecuteTime;
    }
    cell.source = toLines(next);
  });
  return `${JSON.stringify(nb, null, 1)}\n`;
}

function listFiles(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    if (name.startsWith(".") || name === "node_modules") continue;
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(...listFiles(dir, r));
    else out.push(r);
  }
  return out;
}

/** What assignments/<a> must contain: relative path -> content. */
export function generateAssignment(solutionsDir: string): Map<string, string | Buffer> {
  const out = new Map<string, string | Buffer>();
  for (const rel of listFiles(solutionsDir)) {
    if (/\.test\.ts$/.test(rel)) continue;
    const full = path.join(solutionsDir, rel);
    const where = path.relative(repoRoot, full).split(path.sep).join("/");
    if (rel.endsWith(".ts")) out.set(rel, stubTypeScript(readFileSync(full, "utf8"), where));
    else if (rel.endsWith(".ipynb")) out.set(rel, stubNotebook(readFileSync(full, "utf8"), where));
    else out.set(rel, readFileSync(full));
  }
  return out;
}

/** The assignments that have a solutions folder. */
export function assignmentNames(): string[] {
  const dir = path.join(repoRoot, "solutions");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => /^a\d+$/.test(n) && statSync(path.join(dir, n)).isDirectory()).sort();
}

/** Differences between what the generator would write and what `outDir` holds (empty when in sync). */
export function diffAssignment(solutionsDir: string, outDir: string): string[] {
  const want = generateAssignment(solutionsDir);
  const diffs: string[] = [];
  const have = existsSync(outDir) ? listFiles(outDir) : [];
  for (const [rel, content] of want) {
    const full = path.join(outDir, rel);
    if (!existsSync(full)) diffs.push(`missing: ${rel}`);
    else if (!readFileSync(full).equals(Buffer.from(content))) diffs.push(`differs: ${rel}`);
  }
  for (const rel of have) if (!want.has(rel)) diffs.push(`extra: ${rel}`);
  return diffs;
}

/** Writes assignments/<a> for the given assignments (default: all); removes files the generator no longer makes. */
export function writeAssignment(solutionsDir: string, outDir: string): { written: number; removed: string[] } {
  const want = generateAssignment(solutionsDir);
  let written = 0;
  for (const [rel, content] of want) {
    const full = path.join(outDir, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    if (existsSync(full) && readFileSync(full).equals(Buffer.from(content))) continue;
    writeFileSync(full, content);
    written++;
  }
  const removed: string[] = [];
  if (existsSync(outDir)) {
    for (const rel of listFiles(outDir)) {
      if (!want.has(rel)) {
        rmSync(path.join(outDir, rel));
        removed.push(rel);
      }
    }
  }
  return { written, removed };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : assignmentNames();
  try {
    for (const a of names) {
      const { written, removed } = writeAssignment(paths.solutions(a), paths.assignments(a));
      const extra = removed.length > 0 ? `, removed ${removed.join(", ")}` : "";
      console.log(`assignments/${a}: ${written} file(s) written${extra}`);
    }
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
