/**
 * The grader's command line.
 *
 *   grade <submission folder or .zip> [--assignment a1] [--out results.json] [--json report.json]
 *         [--seed N] [--timeout ms] [--memory MB] [--no-typecheck] [--no-netns] [--tests-dir dir] [--quiet]
 *         [--sandbox auto|bubblewrap|unprivileged-user|permission-model-only]
 *   grade --batch <folder> [--assignment a1] [--csv grades.csv] [--out-dir dir] [--jobs N]
 *   check [a1] [folder]                  public checks, default folder assignments/<a>
 *   package-gradescope <a1> [--out file]
 *   bundle-student <a1> [--out file]
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gradeBatch, listSubmissions, progressLine } from "./batch.js";
import { inferAssignment, loadTests } from "./discover.js";
import { gradeSubmission, type GradeOptions, type GradeReport } from "./engine.js";
import { gradescopeZip, studentZip, writeZip } from "./package.js";
import { paths, repoRoot } from "./paths.js";
import { formatTable, toGradescope } from "./report.js";
import type { SandboxRequest } from "./sandbox.js";

interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const valued = new Set(["assignment", "out", "json", "seed", "timeout", "batch", "csv", "out-dir", "jobs", "memory", "tests-dir", "sandbox"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) flags.set(key, a.slice(eq + 1));
      else if (valued.has(key)) {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`--${key} needs a value`);
        flags.set(key, v);
      } else flags.set(key, true);
    } else positional.push(a);
  }
  return { positional, flags };
}

class UsageError extends Error {}

function str(args: Args, key: string): string | undefined {
  const v = args.flags.get(key);
  return typeof v === "string" ? v : undefined;
}

function num(args: Args, key: string): number | undefined {
  const v = str(args, key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${key} must be a number, got ${v}`);
  return n;
}

/** The assignment the submissions' file names match best, or a usage error that says how to name it. */
function inferOrExplain(submissions: string[]): string {
  const a = inferAssignment(submissions);
  if (!a) throw new UsageError("cannot tell which assignment this is; pass --assignment a1");
  return a;
}

function sandboxFlag(v: string | undefined): SandboxRequest | undefined {
  const modes: SandboxRequest[] = ["auto", "bubblewrap", "unprivileged-user", "permission-model-only"];
  if (v === undefined) return undefined;
  if (!modes.includes(v as SandboxRequest)) throw new UsageError(`--sandbox must be one of ${modes.join(", ")}`);
  return v as SandboxRequest;
}

function gradeOptions(args: Args): Omit<GradeOptions, "assignment" | "submission"> {
  return {
    seed: num(args, "seed"),
    timeoutMs: num(args, "timeout"),
    heapMb: num(args, "memory"),
    typecheck: !args.flags.has("no-typecheck"),
    netns: args.flags.has("no-netns") ? "off" : "auto",
    sandbox: sandboxFlag(str(args, "sandbox")),
  };
}

function writeJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

async function grade(args: Args): Promise<number> {
  const batch = str(args, "batch");
  if (batch) {
    const assignment = str(args, "assignment") ?? inferOrExplain(listSubmissions(batch));
    const started = Date.now();
    const tty = process.stderr.isTTY;
    const { rows } = await gradeBatch({
      assignment,
      folder: batch,
      csv: str(args, "csv") ?? "grades.csv",
      outDir: str(args, "out-dir"),
      jobs: num(args, "jobs"),
      testsDir: str(args, "tests-dir"),
      grade: { ...gradeOptions(args), typecheck: args.flags.has("typecheck") },
      onProgress: (done, total, row) => {
        const line = progressLine(done, total, started, row);
        if (tty) process.stderr.write(`\r\x1b[2K${line}`);
        else process.stderr.write(`${line}\n`);
      },
    });
    if (tty) process.stderr.write("\n");
    const failed = rows.filter((r) => r.error).length;
    console.log(`Graded ${rows.length} submission(s) of ${assignment} in ${((Date.now() - started) / 1000).toFixed(1)} s; gradebook: ${str(args, "csv") ?? "grades.csv"}`);
    if (failed > 0) console.log(`${failed} submission(s) could not be graded; see the error column.`);
    return 0;
  }
  const submission = args.positional[0];
  if (!submission) throw new UsageError("usage: grade <submission folder or .zip> [--assignment a1] [--out results.json]");
  const assignment = str(args, "assignment") ?? inferOrExplain([submission]);
  const out = str(args, "out");
  let report: GradeReport;
  try {
    const testsDir = str(args, "tests-dir");
    const tests = testsDir ? await loadTests(assignment, testsDir) : undefined;
    report = await gradeSubmission({ ...gradeOptions(args), assignment, submission, tests });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (out) writeJson(out, { score: 0, output: `The autograder failed (not because of your code): ${message}`, tests: [] });
    throw e;
  }
  if (out) writeJson(out, toGradescope(report));
  const json = str(args, "json");
  if (json) writeJson(json, report);
  if (!args.flags.has("quiet")) console.log(formatTable(report));
  return report.graderError ? 2 : 0;
}

async function check(args: Args): Promise<number> {
  const assignment = args.positional[0] ?? "a1";
  const folder = args.positional[1] ?? paths.assignments(assignment);
  if (!existsSync(folder)) throw new UsageError(`${folder} does not exist`);
  const report = await gradeSubmission({ ...gradeOptions(args), assignment, submission: folder, only: "visible" });
  console.log(formatTable(report, "check"));
  return report.graderError ? 2 : 0;
}

function pack(args: Args, kind: "gradescope" | "student"): number {
  const assignment = args.positional[0] ?? "a1";
  const out = str(args, "out") ?? path.join(repoRoot, "build", `${assignment}-${kind}.zip`);
  const { zip, files } = kind === "gradescope" ? gradescopeZip(assignment) : studentZip(assignment);
  writeZip(out, zip);
  console.log(`${out}: ${files.length} files, ${(zip.length / 1024).toFixed(0)} KB`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const args = parseArgs(rest);
  switch (command) {
    case "grade":
      return grade(args);
    case "check":
      return check(args);
    case "package-gradescope":
      return pack(args, "gradescope");
    case "bundle-student":
      return pack(args, "student");
    default:
      throw new UsageError("commands: grade, check, package-gradescope, bundle-student");
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof UsageError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exitCode = e instanceof UsageError ? 64 : 1;
  },
);
