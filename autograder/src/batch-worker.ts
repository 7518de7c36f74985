/**
 * A batch grading worker: grades the submissions its parent sends, one at a time, and sends back reports.
 * Student code runs in this worker's own child processes, never here.
 */
import { loadTests, type LoadedTest } from "./discover.js";
import { gradeSubmission, type GradeOptions } from "./engine.js";

interface Job {
  id: number;
  submission: string;
  options: Omit<GradeOptions, "submission" | "tests" | "onTest"> & { testsDir?: string };
}

const cache = new Map<string, Promise<LoadedTest[]>>();

process.on("message", (job: Job) => {
  void (async () => {
    try {
      const key = `${job.options.assignment}:${job.options.testsDir ?? ""}`;
      if (!cache.has(key)) cache.set(key, loadTests(job.options.assignment, job.options.testsDir));
      const tests = await cache.get(key)!;
      const report = await gradeSubmission({ ...job.options, submission: job.submission, tests });
      process.send!({ id: job.id, report });
    } catch (e) {
      process.send!({ id: job.id, error: e instanceof Error ? e.message : String(e) });
    }
  })();
});
process.send!({ ready: true });
