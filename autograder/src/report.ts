import type { GradeReport, TestResult } from "./engine.js";

/**
 * Text the student controls (file names, error messages, printed output), made safe to show: escape
 * sequences and other control characters removed (tabs become spaces), bidirectional-override and
 * zero-width characters removed, each line cut at `maxLine` characters and the text at `maxLines` lines.
 */
export function clean(text: string, maxLine = 400, maxLines = 200): string {
  const stripped = String(text)
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "") // CSI sequences (colours, cursor moves)
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)?/g, "") // OSC sequences (titles, links)
    .replace(/\t/g, " ")
    .replace(/\r\n?/g, "\n")
    .replace(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/g, "")
    .replace(/[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g, "");
  const lines = stripped.split("\n");
  const out = lines.slice(0, maxLines).map((l) => (l.length > maxLine ? `${l.slice(0, maxLine - 1)}…` : l));
  if (lines.length > maxLines) out.push(`... (${lines.length - maxLines} more lines)`);
  return out.join("\n");
}

/** One line of student-controlled text (a file name, a submission name). */
const one = (text: string, max = 200): string => clean(text, max, 1).split("\n")[0];

/** Formats a number of points without trailing zeros: 3, 2.5, 0.3333. */
export function pts(x: number): string {
  return String(Math.round(x * 1e4) / 1e4);
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(/\s+/)) {
      if (!word) continue;
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = "";
      }
      line = line ? `${line} ${word}` : word;
    }
    if (line) out.push(line);
  }
  return out.length > 0 ? out : [""];
}

const statusMark: Record<TestResult["status"], string> = { passed: "pass", partial: "part", failed: "FAIL" };

/**
 * The terminal report: one row per test (number, name, points, status) with the feedback of failed
 * tests beneath, then the files found and the total. `mode: "check"` words it for students' public checks.
 */
export function formatTable(r: GradeReport, mode: "grade" | "check" = "grade", width = 100): string {
  const lines: string[] = [];
  const title = mode === "check" ? `Public checks for ${r.assignment}` : `Grading ${one(r.submission)} (${r.assignment})`;
  lines.push(title, "");
  const found = Object.entries(r.files.found).map(([n, at]) => (n === at ? n : `${n} (${one(at)})`));
  lines.push(`Files found: ${found.length > 0 ? found.join(", ") : "none"}`);
  if (r.files.missing.length > 0) lines.push(`Files missing: ${r.files.missing.join(", ")}`);
  if (r.files.ignored.length > 0) lines.push(`Ignored: ${r.files.ignored.slice(0, 8).map((n) => one(n)).join(", ")}${r.files.ignored.length > 8 ? ", ..." : ""}`);
  for (const p of r.problems) lines.push(`Problem: ${one(p, 400)}`);
  lines.push("");
  const nameW = Math.min(58, Math.max(4, ...r.tests.map((t) => t.name.length)));
  const scoreW = Math.max(6, ...r.tests.map((t) => `${pts(t.score)}/${pts(t.maxScore)}`.length));
  lines.push(`${"#".padEnd(5)} ${"test".padEnd(nameW)} ${"points".padStart(scoreW)}  status`);
  lines.push(`${"-".repeat(5)} ${"-".repeat(nameW)} ${"-".repeat(scoreW)}  ------`);
  for (const t of r.tests) {
    const name = t.name.length > nameW ? `${t.name.slice(0, nameW - 1)}…` : t.name;
    lines.push(`${t.number.padEnd(5)} ${name.padEnd(nameW)} ${`${pts(t.score)}/${pts(t.maxScore)}`.padStart(scoreW)}  ${statusMark[t.status]}`);
    if (t.status !== "passed") {
      for (const l of wrap(clean(t.output), Math.max(30, width - 8)).slice(0, 8)) lines.push(`        ${l}`);
    }
  }
  lines.push("");
  if (r.compileErrors.length > 0) {
    lines.push("Syntax errors (these files could not load):");
    for (const e of r.compileErrors) lines.push(`  ${one(e, 400)}`);
    lines.push("");
  }
  if (r.typeErrors.length > 0) {
    lines.push("Type errors (reported for your information; they do not cost points by themselves):");
    for (const e of r.typeErrors.slice(0, 15)) lines.push(`  ${one(e, 400)}`);
    if (r.typeErrors.length > 15) lines.push(`  ... and ${r.typeErrors.length - 15} more`);
    lines.push("");
  }
  if (r.graderError) lines.push(`GRADER ERROR (not caused by the submission): ${r.graderError}`, "");
  const passed = r.tests.filter((t) => t.status === "passed").length;
  if (mode === "check") {
    lines.push(
      r.tests.length === 0
        ? "This assignment has no public checks here; the notebook's sanity checks are your guide."
        : `Public checks: ${passed} of ${r.tests.length} passed (${pts(r.score)} of ${pts(r.maxScore)} points).`,
    );
    lines.push(
      r.notRun.count > 0
        ? `${r.notRun.count} hidden test(s) worth ${pts(r.notRun.points)} points run only when you hand in; ` +
            "passing the public checks does not mean they pass."
        : "Hidden tests with other inputs run when you hand in; passing the public checks does not mean they pass.",
    );
  } else {
    lines.push(`Total: ${pts(r.score)} / ${pts(r.maxScore)} points (${passed} of ${r.tests.length} tests passed)`);
    lines.push(`Seed ${r.seed}, ${(r.executionTimeMs / 1000).toFixed(1)} s, sandbox: ${r.sandbox}`);
  }
  return lines.join("\n");
}

/** A Gradescope test entry. */
export interface GradescopeTest {
  name: string;
  number: string;
  score: number;
  max_score: number;
  status: "passed" | "failed";
  output: string;
  visibility: "visible" | "hidden" | "after_due_date" | "after_published";
}

/** Gradescope's results.json. */
export interface GradescopeResults {
  score: number;
  execution_time: number;
  output: string;
  output_format: "text";
  visibility: "visible";
  stdout_visibility: "hidden";
  tests: GradescopeTest[];
}

/** The report in Gradescope's results.json format (hidden tests stay hidden until grades are published). */
export function toGradescope(r: GradeReport): GradescopeResults {
  const head: string[] = [];
  const found = Object.keys(r.files.found);
  head.push(`Files found: ${found.length > 0 ? found.join(", ") : "none"}.`);
  if (r.sandbox) head.push(`Sandbox: ${r.sandbox}.`);
  if (r.files.missing.length > 0) head.push(`Files missing: ${r.files.missing.join(", ")} (only the tests that need them score 0).`);
  for (const p of r.problems) head.push(`Problem: ${one(p, 400)}`);
  if (r.compileErrors.length > 0) head.push("Syntax errors:", ...r.compileErrors.map((e) => `  ${one(e, 400)}`));
  if (r.typeErrors.length > 0) {
    head.push("Type errors (for your information; they do not cost points by themselves):", ...r.typeErrors.slice(0, 15).map((e) => `  ${one(e, 400)}`));
  }
  if (r.graderError) head.push(`The grader hit an internal problem (not caused by your code): ${r.graderError}. Please tell the course staff.`);
  if (r.studentOutput.trim()) head.push("Your code printed (first lines):", clean(r.studentOutput.slice(0, 2000), 200, 40));
  head.push(`Seed ${r.seed}.`);
  return {
    score: r.score,
    execution_time: Math.round(r.executionTimeMs / 1000),
    output: head.join("\n"),
    output_format: "text",
    visibility: "visible",
    stdout_visibility: "hidden",
    tests: r.tests.map((t) => ({
      name: t.name,
      number: t.number,
      score: t.score,
      max_score: t.maxScore,
      status: t.status === "passed" ? "passed" : "failed",
      output: clean(t.output),
      visibility: t.visibility,
    })),
  };
}

/**
 * A CSV cell that spreadsheets read as text: control characters removed, and a cell that starts like a
 * formula (= + - @, or a tab or carriage return before one) prefixed with an apostrophe; quoted when needed.
 */
export function csvField(v: string | number): string {
  if (typeof v === "number") return String(v);
  let s = one(v, 500);
  if (/^[=+\-@\t\r]/.test(s) || /^\s*[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One gradebook row per submission (a failed submission keeps its row, with the error). */
export interface GradebookRow {
  submission: string;
  report?: GradeReport;
  error?: string;
}

/** The gradebook: submission, score, max score, one column per test (points), the run's seed and an error column. */
export function toCsv(rows: GradebookRow[], testNames: string[]): string {
  const header = ["submission", "score", "max_score", ...testNames, "seed", "error"];
  const lines = [header.map(csvField).join(",")];
  for (const row of rows) {
    const r = row.report;
    const byName = new Map(r?.tests.map((t) => [t.name, t.score]) ?? []);
    const cells: (string | number)[] = [
      row.submission,
      r ? r.score : "",
      r ? r.maxScore : "",
      ...testNames.map((n) => (byName.has(n) ? byName.get(n)! : "")),
      r ? r.seed : "",
      row.error ?? r?.graderError ?? "",
    ];
    lines.push(cells.map(csvField).join(","));
  }
  return `${lines.join("\n")}\n`;
}
