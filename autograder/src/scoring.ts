import { Rng } from "@semantic-gap/lib";
import { delegations, fileOfExercise } from "./rules.js";
import type { HiddenTest, LibEquivalents, TestPart } from "./types.js";

/**
 * What the engine and the in-process checks of hidden tests share: per-test seeding, the score of a list
 * of parts, and the rule that an exercise earns nothing when it hands its work to the library.
 */

/** A 32-bit FNV-1a hash of a test name, to give each test its own stream from the run's seed. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The generator a test gets in a run with `seed`. */
export function testRng(seed: number, testName: string): Rng {
  return new Rng(seed ^ hashName(testName));
}

/** True when a test returned usable parts. */
export function validParts(parts: unknown): parts is TestPart[] {
  return (
    Array.isArray(parts) &&
    parts.length > 0 &&
    parts.every((p) => p && typeof p.name === "string" && typeof p.passed === "boolean" && typeof p.weight === "number" && p.weight >= 0)
  );
}

/** The fraction of the weight earned (0 when the weights add up to 0). */
export function fractionOf(parts: TestPart[]): number {
  const total = parts.reduce((a, p) => a + p.weight, 0);
  const earned = parts.reduce((a, p) => a + (p.passed ? p.weight : 0), 0);
  return total > 0 ? earned / total : 0;
}

/** Points rounded to 4 decimals, as reports show them. */
export const roundPoints = (x: number): number => Math.round(x * 1e4) / 1e4;

/**
 * The delegation rule for one test: for each exercise it grades that has library equivalents, the calls by
 * which the submission's implementation reaches one of them (or reaches something the rule engine cannot
 * resolve). Returns the failing part that scores the test 0, or null when the exercise does its own work.
 */
export function delegationPart(
  test: Pick<HiddenTest, "exercises" | "files">,
  equivalents: LibEquivalents | undefined,
  source: (file: string) => string | null,
): TestPart | null {
  if (!equivalents || !test.exercises) return null;
  const sources = new Map<string, string>();
  for (const f of test.files) {
    const s = source(f);
    if (s !== null) sources.set(f, s);
  }
  const found: string[] = [];
  for (const ex of test.exercises) {
    const own = (k: string): string[] | undefined => (Object.hasOwn(equivalents, k) && Array.isArray(equivalents[k]) ? equivalents[k] : undefined);
    const banned = own(ex) ?? own(ex.slice(ex.lastIndexOf(".") + 1));
    if (!banned || banned.length === 0) continue;
    let file: string | null;
    try {
      file = fileOfExercise(sources, test.files, ex);
    } catch {
      file = null;
    }
    if (file === null) continue;
    const calls = delegations(sources, file, ex, banned);
    if (calls.length > 0) found.push(`${ex} reaches ${calls.join("; ")}`);
  }
  if (found.length === 0) return null;
  return {
    name: "does its own work",
    weight: 1,
    passed: false,
    message: `no credit: the library already does this exercise's work, and the submission hands it over (${found.join("; ")}). Write it yourself`,
  };
}
