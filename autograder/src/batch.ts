import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadTests } from "./discover.js";
import type { GradeOptions, GradeReport } from "./engine.js";
import { paths } from "./paths.js";
import { toCsv, toGradescope, type GradebookRow } from "./report.js";

export interface BatchOptions {
  assignment: string;
  /** A folder whose entries (sub-folders and .zip files) are submissions. */
  folder: string;
  /** Where to write the gradebook CSV. */
  csv?: string;
  /** Also write <name>.results.json per submission here. */
  outDir?: string;
  /** Parallel graders (default: the number of cores). */
  jobs?: number;
  /** Test folder (default autograder/<assignment>). */
  testsDir?: string;
  /** Options passed to every grading. */
  grade?: Omit<GradeOptions, "assignment" | "submission" | "tests" | "onTest">;
  /** Progress: called after each submission. */
  onProgress?: (done: number, total: number, row: GradebookRow) => void;
}

/** The submissions of a batch folder: its sub-folders and .zip files, by name. */
export function listSubmissions(folder: string): string[] {
  return readdirSync(folder)
    .filter((n) => !n.startsWith("."))
    .map((n) => path.join(folder, n))
    .filter((p) => {
      const st = statSync(p);
      return st.isDirectory() || (st.isFile() && p.toLowerCase().endsWith(".zip"));
    })
    .sort();
}

const workerPath = path.join(path.dirname(fileURLToPath(import.meta.url)), "batch-worker.ts");

/**
 * Grades every submission of a folder in parallel worker processes (each runs its own locked-down
 * children) and writes one gradebook row per submission. A submission that breaks anything gets a row
 * with an error; the others are not affected.
 */
export async function gradeBatch(opts: BatchOptions): Promise<{ rows: GradebookRow[]; testNames: string[] }> {
  const submissions = listSubmissions(opts.folder);
  const tests = await loadTests(opts.assignment, opts.testsDir);
  const testNames = tests.map((t) => t.test.name);
  const maxTestMs = tests.reduce((a, t) => a + (t.test.timeoutMs ?? opts.grade?.timeoutMs ?? 10_000), 0);
  const watchdogMs = maxTestMs + 120_000;
  const jobs = Math.max(1, Math.min(opts.jobs ?? os.availableParallelism(), submissions.length || 1));
  const rows: GradebookRow[] = new Array(submissions.length);
  if (opts.outDir) mkdirSync(opts.outDir, { recursive: true });

  let next = 0;
  let done = 0;
  const finish = (i: number, row: GradebookRow): void => {
    rows[i] = row;
    done++;
    if (opts.outDir && row.report) {
      const name = path.basename(submissions[i]).replace(/\.zip$/i, "");
      writeFileSync(path.join(opts.outDir, `${name}.results.json`), `${JSON.stringify(toGradescope(row.report), null, 2)}\n`);
    }
    opts.onProgress?.(done, submissions.length, row);
  };

  const startWorker = (): ChildProcess =>
    fork(workerPath, [], {
      cwd: paths.root,
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });

  const runLane = async (): Promise<void> => {
    let worker: ChildProcess | null = null;
    let ready: Promise<void> | null = null;
    while (next < submissions.length) {
      const i = next++;
      const name = path.basename(submissions[i]);
      if (!worker || worker.exitCode !== null || worker.killed) {
        const w = startWorker();
        worker = w;
        ready = new Promise((res, rej) => {
          w.once("message", () => res());
          w.once("exit", (code) => rej(new Error(`the grading worker exited (code ${code}) before starting`)));
        });
      }
      const w = worker;
      const row = await new Promise<GradebookRow>((resolve) => {
        let settled = false;
        const settle = (r: GradebookRow): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          w.off("message", onMessage);
          w.off("exit", onExit);
          resolve(r);
        };
        const onMessage = (m: { id?: number; report?: GradeReport; error?: string }): void => {
          if (m.id !== i) return;
          settle(m.report ? { submission: name, report: m.report } : { submission: name, error: m.error ?? "unknown error" });
        };
        const onExit = (code: number | null): void => settle({ submission: name, error: `the grading worker died (code ${code})` });
        const timer = setTimeout(() => {
          w.kill("SIGKILL");
          settle({ submission: name, error: `grading took longer than ${Math.round(watchdogMs / 1000)} s and was stopped` });
        }, watchdogMs);
        w.on("message", onMessage);
        w.once("exit", onExit);
        ready!.then(
          () => w.send({ id: i, submission: submissions[i], options: { ...opts.grade, assignment: opts.assignment, testsDir: opts.testsDir } }),
          (e: Error) => settle({ submission: name, error: e.message }),
        );
      });
      finish(i, row);
      if (row.error && worker.exitCode === null) {
        worker.kill("SIGKILL");
        worker = null;
      }
    }
    if (worker && worker.exitCode === null) {
      worker.kill();
    }
  };
  await Promise.all(Array.from({ length: jobs }, runLane));
  if (opts.csv) writeFileSync(opts.csv, toCsv(rows, testNames));
  return { rows, testNames };
}

/** A one-line progress bar with an ETA, for stderr. */
export function progressLine(done: number, total: number, startedMs: number, last?: GradebookRow): string {
  const width = 28;
  const filled = total > 0 ? Math.round((done / total) * width) : width;
  const elapsed = (Date.now() - startedMs) / 1000;
  const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
  const fmt = (s: number): string => (Number.isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}` : "?");
  const lastText = last ? `  ${last.submission}: ${last.report ? `${last.report.score}/${last.report.maxScore}` : "error"}` : "";
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}  elapsed ${fmt(elapsed)}  ETA ${fmt(eta)}${lastText}`;
}

