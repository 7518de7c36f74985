import { randomInt } from "node:crypto";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Rng } from "@semantic-gap/lib";
import { encodeValue, HANDLE_TAG } from "./codec.js";
import { describeStudentError } from "./compare.js";
import { compileSubmission } from "./compile.js";
import { assignmentFiles, loadTests, type LoadedTest } from "./discover.js";
import { delegationPart, fractionOf, roundPoints, testRng, validParts } from "./scoring.js";
import { paths } from "./paths.js";
import { getRuntime } from "./runtime.js";
import { ChildSession, removeTree, sandboxMode, sandboxUid, type SandboxMode, type SandboxOptions, type SandboxRequest } from "./sandbox.js";
import { stageSubmission } from "./submission.js";
import { typecheckSubmission } from "./typecheck.js";
import { StudentError, type Student, type StudentFailure, type StudentObject, type TestPart } from "./types.js";

export interface GradeOptions {
  /** "a1", "a2", ... (or a fixture's name when `tests` and `files` are given). */
  assignment: string;
  /** A folder or a .zip with the student's files. */
  submission: string;
  /** The tests to run (default: every test module in autograder/<assignment>/). */
  tests?: LoadedTest[];
  /** Run only tests with this visibility ("visible" for students' public checks). */
  only?: "visible";
  /** The submission files to look for (default: the stub files of assignments/<assignment> plus every test's files). */
  files?: string[];
  /** This run's seed (default: fresh from the system's random source). */
  seed?: number;
  /** Time limit per test when the test sets none, ms. */
  timeoutMs?: number;
  /** V8 heap cap of the child, MB. */
  heapMb?: number;
  /** Resident memory cap of the child, MB. */
  rssMb?: number;
  /** Cap on what the child writes, MB. */
  diskMb?: number;
  /** Type-check the submission for feedback (default true). */
  typecheck?: boolean;
  /** Network namespace for the child when available (default "auto"). */
  netns?: "auto" | "off";
  /** The operating-system sandbox around the child (default "auto": the strongest this machine allows). */
  sandbox?: SandboxRequest;
  /** Node's permission model inside the sandbox (default true; turned off only to test the OS layer alone). */
  permissionModel?: boolean;
  /** More Node flags for the child process. */
  nodeArgs?: string[];
  /** Called after each test (progress). */
  onTest?: (r: TestResult) => void;
}

export type TestStatus = "passed" | "partial" | "failed";

export interface TestResult {
  name: string;
  number: string;
  /** The test module, e.g. "knn.hidden.ts". */
  module: string;
  score: number;
  maxScore: number;
  status: TestStatus;
  visibility: "visible" | "after_published";
  parts: TestPart[];
  /** Feedback for the student: what failed, never the hidden inputs or expected values. */
  output: string;
  /** Why the test could not finish, when it could not. */
  failure?: StudentFailure | "grader-error";
  durationMs: number;
}

export interface GradeReport {
  assignment: string;
  submission: string;
  seed: number;
  startedAt: string;
  executionTimeMs: number;
  score: number;
  maxScore: number;
  files: { expected: string[]; found: Record<string, string>; missing: string[]; ignored: string[] };
  /** Problems reading the submission. */
  problems: string[];
  /** Syntax errors: the files they are in cannot load. */
  compileErrors: string[];
  /** Type errors: feedback only. */
  typeErrors: string[];
  tests: TestResult[];
  /** Tests not run (the hidden ones, in a public check). */
  notRun: { count: number; points: number };
  /** What the student's code printed (truncated). */
  studentOutput: string;
  /** The sandbox the student's code ran in (see sandbox.ts). */
  sandbox: SandboxMode;
  /** A grader-side problem that stopped grading (never caused by the submission). */
  graderError?: string;
}

const defaults = { timeoutMs: 10_000, heapMb: 512, rssMb: 1536, diskMb: 64 };

/** A failure of the grader or its environment (never of the submission): grading stops and says so. */
export class GraderFailure extends Error {
  override name = "GraderFailure";
}
const startupTimeoutMs = 20_000;

/** The stub files of an assignment (kept here for existing imports; it lives in discover.ts). */
export { assignmentFiles } from "./discover.js";

const round = roundPoints;

/**
 * Grades one submission: stages and compiles its files, runs each test against a child process, and returns
 * a complete report. Student behaviour never makes this throw; a missing or broken test suite does.
 */
export async function gradeSubmission(opts: GradeOptions): Promise<GradeReport> {
  const t0 = Date.now();
  const seed = opts.seed ?? randomInt(0, 2 ** 31 - 1);
  const allTests = opts.tests ?? (await loadTests(opts.assignment));
  if (allTests.length === 0 && !opts.only) throw new Error(`no tests found for ${opts.assignment}`);
  const visibilityOf = (t: LoadedTest) => t.test.visibility ?? "after_published";
  const tests = opts.only ? allTests.filter((t) => visibilityOf(t) === opts.only) : allTests;
  const skipped = allTests.filter((t) => !tests.includes(t));
  const expected = [...new Set([...(opts.files ?? assignmentFiles(opts.assignment)), ...tests.flatMap((t) => t.test.files)])].sort();

  const staged = stageSubmission(opts.submission, expected);
  const mode = sandboxMode(opts.sandbox ?? "auto");
  const runDir = mkdtempSync(path.join(os.tmpdir(), "sg-grade-"));
  const codeDir = path.join(runDir, "code");
  const scratchDir = path.join(runDir, "scratch");
  const logDir = path.join(runDir, "logs");
  for (const d of [codeDir, scratchDir, logDir]) mkdirSync(d, { mode: 0o700 });
  // The child's uid must reach the compiled code (read-only) and own nothing but its scratch folder; the
  // logs stay the grader's alone.
  chmodSync(runDir, 0o711);
  chmodSync(codeDir, 0o755);

  const report: GradeReport = {
    assignment: opts.assignment,
    submission: path.basename(opts.submission),
    seed,
    startedAt: new Date(t0).toISOString(),
    executionTimeMs: 0,
    score: 0,
    maxScore: round(tests.reduce((a, t) => a + t.test.maxScore, 0)),
    files: {
      expected,
      found: Object.fromEntries(staged.foundAt),
      missing: staged.missing,
      ignored: staged.ignored,
    },
    problems: staged.problems,
    compileErrors: [],
    typeErrors: [],
    tests: [],
    notRun: { count: skipped.length, points: round(skipped.reduce((a, t) => a + t.test.maxScore, 0)) },
    studentOutput: "",
    sandbox: mode,
  };

  const typecheck =
    opts.typecheck !== false && staged.sources.size > 0 ? typecheckSubmission(staged.sources) : Promise.resolve([]);
  const engine = new Engine(opts, codeDir, scratchDir, logDir, staged.sources);
  try {
    const runtime = await getRuntime();
    const compiled = await compileSubmission(staged.sources, codeDir, runtime.modules);
    for (const c of compiled) {
      if (!c.ok) {
        report.compileErrors.push(...c.errors);
        engine.fileFailures.set(c.name, new StudentError("crash", `${c.name} has a syntax error and cannot load: ${c.errors[0]}`));
      }
    }
    engine.runtime = runtime;
    for (const t of tests) {
      const r = await engine.runTest(t, seed);
      report.tests.push(r);
      opts.onTest?.(r);
    }
  } catch (e) {
    report.graderError = e instanceof Error ? `${e.message}` : String(e);
    // The report stays complete: every test not run is listed with the reason.
    for (const t of tests.slice(report.tests.length)) {
      report.tests.push({
        name: t.test.name,
        number: t.number,
        module: t.module,
        score: 0,
        maxScore: t.test.maxScore,
        status: "failed",
        visibility: t.test.visibility ?? "after_published",
        parts: [],
        output: `not run: the grader failed (${report.graderError})`,
        failure: "grader-error",
        durationMs: 0,
      });
    }
  } finally {
    await engine.close();
    report.typeErrors = await typecheck;
    report.studentOutput = collectOutput(logDir, 4000);
    removeTree(runDir);
  }
  report.score = round(report.tests.reduce((a, r) => a + r.score, 0));
  report.executionTimeMs = Date.now() - t0;
  return report;
}

/** Empties a folder (any depth) and gives it to the sandbox's uid when the child runs as that uid. */
function freshFolder(dir: string, mode: SandboxMode): void {
  removeTree(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (mode === "unprivileged-user") chownSync(dir, sandboxUid(), sandboxUid());
}

/** The start of what the children printed (reads at most `max` bytes of each log: a log can be large). */
function collectOutput(logDir: string, max: number): string {
  let out = "";
  try {
    for (const f of readdirSync(logDir).sort()) {
      const fd = openSync(path.join(logDir, f), "r");
      try {
        const buf = Buffer.alloc(max + 1);
        const n = readSync(fd, buf, 0, buf.length, 0);
        out += buf.subarray(0, n).toString("utf8");
      } finally {
        closeSync(fd);
      }
      if (out.length > max) break;
    }
  } catch {
    // no logs
  }
  return out.length > max ? `${out.slice(0, max)}\n... (output truncated)` : out;
}

class Engine {
  runtime: import("./runtime.js").Runtime | null = null;
  /** Files that cannot load (syntax error, throw or hang at import): tests needing them fail at once. */
  readonly fileFailures = new Map<string, StudentError>();
  private session: ChildSession | null = null;
  private children = 0;

  constructor(
    private readonly opts: GradeOptions,
    private readonly codeDir: string,
    private readonly scratchDir: string,
    private readonly logDir: string,
    private readonly sources: Map<string, string>,
  ) {}

  private async getSession(): Promise<ChildSession> {
    if (this.session?.alive) return this.session;
    if (!this.runtime) throw new StudentError("crash", "the grader runtime is not ready");
    const sandbox: SandboxOptions = {
      runtime: this.runtime,
      codeDir: this.codeDir,
      scratchDir: this.scratchDir,
      logFile: path.join(this.logDir, `child-${String(++this.children).padStart(3, "0")}.log`),
      heapMb: this.opts.heapMb ?? defaults.heapMb,
      rssMb: this.opts.rssMb ?? defaults.rssMb,
      diskMb: this.opts.diskMb ?? defaults.diskMb,
      netns: this.opts.netns ?? "auto",
      sandbox: this.opts.sandbox,
      permissionModel: this.opts.permissionModel,
      nodeArgs: this.opts.nodeArgs,
    };
    // Outside bubblewrap the scratch folder is on disk and shared by the children in turn: each starts with
    // an empty one (what a dead child left there, however deep, is removed without recursion here).
    const mode = sandboxMode(this.opts.sandbox ?? "auto");
    if (mode !== "bubblewrap") freshFolder(this.scratchDir, mode);
    const s = new ChildSession(sandbox);
    this.session = s;
    const timer = setTimeout(() => s.kill("crash", "the grading process did not start in time"), startupTimeoutMs);
    try {
      await s.ready;
    } catch (e) {
      // No student code runs before the child reports ready: this is the environment's fault.
      const why = e instanceof Error ? e.message : String(e);
      throw new GraderFailure(`the child process could not start (${why}): ${s.logTail(600).trim()}`);
    } finally {
      clearTimeout(timer);
    }
    return s;
  }

  /** Records files whose loading failed in the child, so later tests do not retry them. */
  private noteLoadFailures(s: ChildSession): void {
    for (const [file, st] of s.loadState) {
      if (typeof st === "object" && !this.fileFailures.has(file)) {
        this.fileFailures.set(file, new StudentError("crash", st.failed));
      }
    }
  }

  async runTest(lt: LoadedTest, seed: number): Promise<TestResult> {
    const t = lt.test;
    const started = Date.now();
    const base = {
      name: t.name,
      number: lt.number,
      module: lt.module,
      maxScore: t.maxScore,
      visibility: t.visibility ?? ("after_published" as const),
    };
    const fail = (output: string, failure?: TestResult["failure"]): TestResult => ({
      ...base,
      score: 0,
      status: "failed",
      parts: [{ name: "run", weight: 1, passed: false, message: output }],
      output,
      failure,
      durationMs: Date.now() - started,
    });
    const missing = t.files.filter((f) => !this.sources.has(f));
    if (missing.length > 0) return fail(`needs ${missing.join(", ")}, which your submission does not contain`, "missing-file");
    const delegated = delegationPart(t, lt.libEquivalents, (f) => this.source(f));
    if (delegated) return fail(delegated.message!);
    // Files that failed to load fail each call at once (TestCall.check); a test that only reads the
    // source (a structural check) still runs.

    // Starting a child process is the grader's cost, not the student's: under load it can take seconds,
    // so the child is made ready before the test's clock starts (no student code runs until then).
    if (t.files.some((f) => !this.fileFailures.has(f))) await this.getSession();
    const ctx = new TestCall(this, () => this.getSession());
    const timeoutMs = t.timeoutMs ?? this.opts.timeoutMs ?? defaults.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((res) => {
      timer = setTimeout(() => res("timeout"), timeoutMs);
    });
    let outcome: TestPart[] | "timeout" | { error: unknown };
    try {
      outcome = await Promise.race([
        t.run(ctx.student(), { seed, rng: testRng(seed, t.name) }).then(
          (parts) => parts,
          (error: unknown) => ({ error }),
        ),
        timedOut,
      ]);
    } finally {
      clearTimeout(timer);
      ctx.end();
    }
    const s = this.session;
    if (outcome === "timeout") {
      const msg = `timed out after ${(timeoutMs / 1000).toFixed(1)} s (an infinite loop, or far too slow)`;
      s?.kill("timeout", msg);
      if (s) await s.exited;
    }
    if (s) this.noteLoadFailures(s);
    if (s?.alive && ctx.handles.length > 0) s.request({ op: "release", handles: ctx.handles }).catch(() => undefined);
    if (outcome === "timeout") return fail(`timed out after ${(timeoutMs / 1000).toFixed(1)} s (an infinite loop, or far too slow)`, "timeout");
    if (!Array.isArray(outcome)) {
      const e = outcome.error;
      if (e instanceof GraderFailure) throw e;
      if (e instanceof StudentError) return fail(describeStudentError(e), e.kind);
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      return fail(`the grader could not check this result (${msg})`, "grader-error");
    }
    const parts = outcome;
    if (!validParts(parts)) return fail("the grader could not check this result (the test returned no valid parts)", "grader-error");
    const fraction = fractionOf(parts);
    const earned = fraction;
    const messages = parts.filter((p) => !p.passed).map((p) => p.message ?? `${p.name}: failed`);
    return {
      ...base,
      score: roundPoints(t.maxScore * fraction),
      status: fraction >= 1 ? "passed" : earned > 0 ? "partial" : "failed",
      parts,
      output: messages.length > 0 ? messages.join("\n") : "passed",
      durationMs: Date.now() - started,
    };
  }

  async close(): Promise<void> {
    const s = this.session;
    if (s?.alive) {
      s.kill("crash", "grading finished");
      await s.exited;
    }
  }

  fileFailure(file: string): StudentError | undefined {
    return this.fileFailures.get(file);
  }

  hasFile(file: string): boolean {
    return this.sources.has(file);
  }

  source(file: string): string | null {
    return this.sources.get(file) ?? null;
  }
}

/** The Student a single test sees; it stops working when the test ends. */
class TestCall {
  private active = true;
  readonly handles: number[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly session: () => Promise<ChildSession>,
  ) {}

  end(): void {
    this.active = false;
  }

  private check(file: string): void {
    if (!this.active) throw new StudentError("timeout", "the test is over");
    if (!this.engine.hasFile(file)) throw new StudentError("missing-file", `${file} was not found in your submission`);
    const ff = this.engine.fileFailure(file);
    if (ff) throw ff;
  }

  private async send(
    s: ChildSession,
    msg: Record<string, unknown>,
    args: unknown[],
  ): Promise<{ value: unknown; argsAfter?: unknown[] }> {
    if (!this.active) throw new StudentError("timeout", "the test is over");
    return s.request({ ...msg, args: args.map((a) => encodeValue(a)) });
  }

  student(): Student {
    const call = async (file: string, fn: string, withArgs: boolean, args: unknown[]) => {
      this.check(file);
      const s = await this.session();
      return this.send(s, { op: "call", file, name: fn, withArgs }, args);
    };
    return {
      call: async (file, fn, ...args) => (await call(file, fn, false, args)).value,
      callWithArgs: async (file, fn, ...args) => {
        const r = await call(file, fn, true, args);
        return { value: r.value, argsAfter: r.argsAfter ?? [] };
      },
      construct: async (file, cls, ...args) => {
        this.check(file);
        const s = await this.session();
        const r = await this.send(s, { op: "construct", file, name: cls }, args);
        const h = (r.value as Record<string, unknown> | null)?.[HANDLE_TAG];
        if (typeof h !== "number") throw new StudentError("bad-output", `constructing ${cls} did not give an object`);
        this.handles.push(h);
        return this.object(s, cls, h);
      },
      source: (file) => this.engine.source(file),
    };
  }

  private object(s: ChildSession, cls: string, handle: number): StudentObject {
    const live = (): void => {
      if (!s.alive) {
        throw new StudentError("crash", `the ${cls} object was lost when the process running your code stopped (${s.death?.message ?? "stopped"})`);
      }
    };
    const method = async (name: string, withArgs: boolean, args: unknown[]) => {
      live();
      return this.send(s, { op: "method", handle, name, withArgs }, args);
    };
    return {
      call: async (name, ...args) => (await method(name, false, args)).value,
      callWithArgs: async (name, ...args) => {
        const r = await method(name, true, args);
        return { value: r.value, argsAfter: r.argsAfter ?? [] };
      },
      get: async (prop) => {
        live();
        return (await this.send(s, { op: "get", handle, name: prop }, [])).value;
      },
    };
  }
}
