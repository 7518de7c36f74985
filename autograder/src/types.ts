import type { Rng } from "@semantic-gap/lib";

/**
 * The interface between hidden tests and the grading engine.
 *
 * A hidden test runs in the trusted grader process. It never imports the student's code: it talks to it
 * through a `Student`, whose calls the engine carries out in a locked-down child process. Arguments and
 * return values cross as data (tensors, typed arrays, numbers, strings, plain objects and arrays), so a
 * test computes the reference itself (from solutions/, in this process) and compares.
 */

/** What a test can ask of a submission. Every call may reject with a StudentError. */
export interface Student {
  /** Calls an exported function of a submission file, e.g. call("linear_svm.ts", "svmLossNaive", W, X, y, 0.1). */
  call(file: string, fn: string, ...args: unknown[]): Promise<unknown>;
  /** Like call, and also returns the arguments as they were after the call (to detect mutated inputs). */
  callWithArgs(file: string, fn: string, ...args: unknown[]): Promise<{ value: unknown; argsAfter: unknown[] }>;
  /** Constructs an exported class, e.g. construct("knn.ts", "KNearestNeighbor"). */
  construct(file: string, cls: string, ...args: unknown[]): Promise<StudentObject>;
  /** The source text of a submission file (for structural checks on its syntax tree), or null when missing. */
  source(file: string): string | null;
}

/** A live instance of a student's class, held in the child process. */
export interface StudentObject {
  /** Calls a method on the instance. */
  call(method: string, ...args: unknown[]): Promise<unknown>;
  /** Like call, with the arguments as they were after the call. */
  callWithArgs(method: string, ...args: unknown[]): Promise<{ value: unknown; argsAfter: unknown[] }>;
  /** Reads a property of the instance (e.g. "params"). */
  get(prop: string): Promise<unknown>;
}

/** Why a student call failed: the engine turns this into feedback, never into a crash of the grader. */
export type StudentFailure =
  | "not-implemented" // the stub's `Not implemented: <name>` error
  | "missing-file"
  | "missing-export"
  | "threw" // any other exception from student code
  | "timeout"
  | "crash" // process exit, out of memory, stack overflow, import failure
  | "bad-output"; // a return value that cannot cross back (functions, symbols, cycles)

export class StudentError extends Error {
  override name = "StudentError";
  constructor(
    public readonly kind: StudentFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface TestContext {
  /** This grading run's seed: fresh per run, recorded in the report so a run can be replayed. */
  seed: number;
  /** A generator seeded from `seed` and the test's name. */
  rng: Rng;
}

/** One part of a test's outcome; a test's score is maxScore × (sum of earned weights / sum of weights). */
export interface TestPart {
  /** What this part checks, e.g. "shape", "values", "gradient". */
  name: string;
  weight: number;
  passed: boolean;
  /** Shown to the student: what failed, without hidden inputs or expected outputs. */
  message?: string;
}

export interface HiddenTest {
  /** Unique within the assignment, e.g. "knn: computeDistancesNoLoops matches two loops". */
  name: string;
  /** Submission files the test needs; if one is missing the test scores 0 and says which. */
  files: string[];
  maxScore: number;
  /** Time limit for this test's child process, in ms (the engine has a default). */
  timeoutMs?: number;
  /** Public tests are run by `npm run check` for students and are visible in results.json. */
  visibility?: "visible" | "after_published";
  /**
   * The exercise functions or methods this test grades (`"affineForward"`, `"ThreeLayerConvNet.loss"`).
   * When the submission's implementation of one of them hands its work to the library (see
   * `libEquivalents`), the test earns nothing and says which call did it.
   */
  exercises?: string[];
  /** Runs the test; returns its parts. Throwing a StudentError scores the unfinished parts 0. */
  run(student: Student, ctx: TestContext): Promise<TestPart[]>;
}

/**
 * What a hidden test module may export beside `tests`: for each exercise function or method it grades,
 * the names of the library's exports that do that exercise's work, e.g.
 * `{ affineForward: ["affineForward"], convForwardNaive: ["convForwardFast"] }`.
 */
export type LibEquivalents = Record<string, string[]>;

/** What an assignment's hidden test module exports. */
export interface TestSuite {
  assignment: string; // "a1"
  tests: HiddenTest[];
}
