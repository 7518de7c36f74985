import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { isTensor, tensor } from "@semantic-gap/lib";
import { delegationPart, fractionOf, testRng, validParts } from "./scoring.js";
import { StudentError, type HiddenTest, type LibEquivalents, type Student, type StudentObject, type TestPart } from "./types.js";

/**
 * A Student that imports the files of `dir` into this process. Only for trusted code (the reference
 * solutions in vitest): it has none of the engine's isolation.
 */
export function inProcessStudent(dir: string): Student {
  const load = async (file: string): Promise<Record<string, unknown>> => {
    const full = path.join(dir, file);
    if (!existsSync(full)) throw new StudentError("missing-file", `${file} was not found in the submission`);
    return (await import(pathToFileURL(full).href)) as Record<string, unknown>;
  };
  const invoke = async (target: () => unknown): Promise<unknown> => {
    try {
      return await target();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new StudentError(msg.startsWith("Not implemented") ? "not-implemented" : "threw", msg);
    }
  };
  const wrapObject = (obj: Record<string, unknown>): StudentObject => ({
    // Arguments are copies, as they are when they cross to the engine's child process.
    call: (method, ...args) => invoke(() => (obj[method] as (...a: unknown[]) => unknown)(...args.map(cloneValue))),
    callWithArgs: async (method, ...args) => {
      const copies = args.map(cloneValue);
      const value = await invoke(() => (obj[method] as (...a: unknown[]) => unknown).apply(obj, copies));
      return { value, argsAfter: copies };
    },
    get: async (prop) => cloneValue(obj[prop]),
  });
  return {
    async call(file, fn, ...args) {
      const mod = await load(file);
      if (typeof mod[fn] !== "function") throw new StudentError("missing-export", `${file} does not export ${fn}`);
      return invoke(() => (mod[fn] as (...a: unknown[]) => unknown)(...args.map(cloneValue)));
    },
    async callWithArgs(file, fn, ...args) {
      const mod = await load(file);
      if (typeof mod[fn] !== "function") throw new StudentError("missing-export", `${file} does not export ${fn}`);
      const copies = args.map(cloneValue);
      const value = await invoke(() => (mod[fn] as (...a: unknown[]) => unknown)(...copies));
      return { value, argsAfter: copies };
    },
    async construct(file, cls, ...args) {
      const mod = await load(file);
      const C = mod[cls] as (new (...a: unknown[]) => Record<string, unknown>) | undefined;
      if (typeof C !== "function") throw new StudentError("missing-export", `${file} does not export ${cls}`);
      const obj = (await invoke(() => new C(...args.map(cloneValue)))) as Record<string, unknown>;
      return wrapObject(obj);
    },
    source(file) {
      const full = path.join(dir, file);
      return existsSync(full) ? readFileSync(full, "utf8") : null;
    },
  };
}

/** A deep copy that keeps tensors as tensors (what crossing to a child process does too). */
export function cloneValue(v: unknown): unknown {
  if (isTensor(v)) {
    const flat = new Float64Array(v.shape.reduce((a, b) => a * b, 1));
    const idx = new Array<number>(v.shape.length).fill(0);
    for (let k = 0; k < flat.length; k++) {
      let p = v.offset;
      for (let d = 0; d < idx.length; d++) p += idx[d] * v.stride[d];
      flat[k] = v.data[p];
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d] < v.shape[d]) break;
        idx[d] = 0;
      }
    }
    return tensor(flat, v.shape);
  }
  if (ArrayBuffer.isView(v)) return (v as unknown as { slice(): unknown }).slice();
  if (Array.isArray(v)) return v.map(cloneValue);
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cloneValue(x)]));
  }
  return v;
}

/**
 * Runs tests against a Student in this process, with the engine's own seeding, scoring and delegation rule
 * (pass the module's `libEquivalents` to apply it); returns each test's parts and fraction earned.
 */
export async function runInProcess(
  tests: HiddenTest[],
  student: Student,
  seed: number,
  equivalents?: LibEquivalents,
): Promise<Array<{ name: string; fraction: number; parts: TestPart[] }>> {
  const results = [];
  for (const t of tests) {
    let parts: TestPart[];
    const delegated = delegationPart(t, equivalents, (f) => student.source(f));
    if (delegated) parts = [delegated];
    else {
      try {
        parts = await t.run(student, { seed, rng: testRng(seed, t.name) });
      } catch (e) {
        parts = [{ name: "run", weight: 1, passed: false, message: e instanceof Error ? e.message : String(e) }];
      }
      if (!validParts(parts)) parts = [{ name: "run", weight: 1, passed: false, message: "the test returned no valid parts" }];
    }
    results.push({ name: t.name, fraction: fractionOf(parts), parts });
  }
  return results;
}

/**
 * Runs each test against `student` under many grading seeds (`seedsFor(test name)` of them, 200 unless it
 * says otherwise) and returns every part lost, as `seed N: test / part: message`. A correct solution must
 * give an empty list: then no grading run can cost it a point by chance.
 */
export async function sweepSeeds(
  tests: HiddenTest[],
  student: Student,
  equivalents?: LibEquivalents,
  seedsFor: (testName: string) => number = () => 200,
): Promise<string[]> {
  const lost: string[] = [];
  for (const t of tests) {
    const n = seedsFor(t.name);
    for (let i = 0; i < n; i++) {
      // Seeds spread over the range a run draws from (a run's seed is a random 31-bit integer).
      const seed = (Math.imul(i + 1, 0x9e3779b1) >>> 1) % 2147483647;
      const [r] = await runInProcess([t], student, seed, equivalents);
      for (const p of r.parts) if (!p.passed) lost.push(`seed ${seed}: ${t.name} / ${p.name}: ${p.message}`);
    }
  }
  return lost;
}

/** A 32-bit FNV-1a hash of a test name (kept here for existing imports; it lives in scoring.ts). */
export { hashName } from "./scoring.js";

type InProcessResults = Awaited<ReturnType<typeof runInProcess>>;

/** Every failed part as `test / part: message`, for asserting what a (broken) submission loses. */
export function failures(results: InProcessResults): string[] {
  return results.flatMap((r) => r.parts.filter((p) => !p.passed).map((p) => `${r.name} / ${p.name}: ${p.message}`));
}

/** Every failed part as `test / part`. */
export function failedParts(results: InProcessResults): string[] {
  return results.flatMap((r) => r.parts.filter((p) => !p.passed).map((p) => `${r.name} / ${p.name}`));
}

/**
 * A Student over a copy of `file` from `fromDir` with text replaced (each `from` must occur) and then
 * transformed, written to a new folder under `tmpRoot` beside copies of `siblings`: a broken variant of a
 * reference solution, to check which parts of the hidden tests it loses. `tmpRoot` should sit inside the
 * repository, so that the library and sibling files resolve as they do for the real solutions.
 */
export function editedStudent(
  fromDir: string,
  tmpRoot: string,
  file: string,
  edits: Array<[string, string]>,
  opts: { transform?: (src: string) => string; siblings?: string[] } = {},
): Student {
  const dir = mkdtempSync(path.join(tmpRoot, "v-"));
  let src = readFileSync(path.join(fromDir, file), "utf8");
  for (const [from, to] of edits) {
    if (!src.includes(from)) throw new Error(`editedStudent: ${file} no longer contains ${JSON.stringify(from)}`);
    src = src.split(from).join(to);
  }
  if (opts.transform) src = opts.transform(src);
  writeFileSync(path.join(dir, file), src);
  for (const s of opts.siblings ?? []) copyFileSync(path.join(fromDir, s), path.join(dir, s));
  return inProcessStudent(dir);
}

/**
 * For the vitest checks of the hidden tests: a Student that behaves like `base` except for the given
 * functions and classes (keys "file:name") and source texts (keys "file"), to model a wrong submission.
 */
export function patchedStudent(
  base: Student,
  overrides: Record<string, unknown>,
  sources: Record<string, string> = {},
): Student {
  return {
    call: (file, fn, ...args) => {
      const f = overrides[`${file}:${fn}`] as ((...a: unknown[]) => unknown) | undefined;
      return f ? Promise.resolve().then(() => f(...args.map(cloneValue))) : base.call(file, fn, ...args);
    },
    callWithArgs: async (file, fn, ...args) => {
      const f = overrides[`${file}:${fn}`] as ((...a: unknown[]) => unknown) | undefined;
      if (!f) return base.callWithArgs(file, fn, ...args);
      const copies = args.map(cloneValue);
      return { value: await f(...copies), argsAfter: copies };
    },
    construct: async (file, cls, ...args) => {
      const C = overrides[`${file}:${cls}`] as (new (...a: unknown[]) => Record<string, unknown>) | undefined;
      if (!C) return base.construct(file, cls, ...args);
      const obj = new C(...args.map(cloneValue));
      return {
        call: async (m, ...a) => (obj[m] as (...x: unknown[]) => unknown).apply(obj, a.map(cloneValue)),
        callWithArgs: async (m, ...a) => {
          const copies = a.map(cloneValue);
          return { value: await (obj[m] as (...x: unknown[]) => unknown).apply(obj, copies), argsAfter: copies };
        },
        get: async (prop) => obj[prop],
      };
    },
    source: (file) => (file in sources ? sources[file] : base.source(file)),
  };
}

/**
 * For the vitest checks of the hidden tests: inProcessStudent's behaviour (arguments copied as they are
 * when they cross to the grader's child process, Not implemented errors told apart) with each module
 * imported once, so that sweeping hundreds of grading seeds stays fast.
 */
export function cachedStudent(dir: string): Student {
  const base = inProcessStudent(dir);
  const modules = new Map<string, Promise<Record<string, unknown> | null>>();
  const load = (file: string) => {
    if (!modules.has(file)) {
      const full = path.join(dir, file);
      modules.set(file, existsSync(full) ? (import(pathToFileURL(full).href) as Promise<Record<string, unknown>>) : Promise.resolve(null));
    }
    return modules.get(file)!;
  };
  const invoke = async (file: string, fn: string, args: unknown[]): Promise<unknown> => {
    const mod = await load(file);
    if (mod === null) throw new StudentError("missing-file", `${file} was not found in the submission`);
    const f = mod[fn];
    if (typeof f !== "function") throw new StudentError("missing-export", `${file} does not export ${fn}`);
    try {
      return await (f as (...a: unknown[]) => unknown)(...args);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new StudentError(msg.startsWith("Not implemented") ? "not-implemented" : "threw", msg);
    }
  };
  return {
    call: (file, fn, ...args) => invoke(file, fn, args.map(cloneValue)),
    callWithArgs: async (file, fn, ...args) => {
      const copies = args.map(cloneValue);
      return { value: await invoke(file, fn, copies), argsAfter: copies };
    },
    construct: (file, cls, ...args) => base.construct(file, cls, ...args),
    source: (file) => base.source(file),
  };
}

