import { describe, expect, it } from "vitest";
import { testModules } from "../src/discover.js";
import { gradeSubmission } from "../src/engine.js";
import { writeAssignment } from "../src/generate.js";
import { paths } from "../src/paths.js";
import { tempDir } from "./helpers.js";

// Each real assignment through the real engine, in the sandbox it grades with: the reference solutions must
// earn every point, and the generated stubs none, each test saying what is not implemented.
for (const [assignment, modules] of [["a1", 6], ["a2", 6]] as const) describe(`${assignment.toUpperCase()} through the grading engine`, () => {
  it(`finds ${assignment}'s test modules (if discovery broke, this fails rather than skipping the rest)`, () => {
    expect(testModules(paths.tests(assignment)).length).toBeGreaterThanOrEqual(modules);
  });

  it("the solutions score 100%", async () => {
    const r = await gradeSubmission({ assignment, submission: paths.solutions(assignment), typecheck: false });
    const failed = r.tests.filter((t) => t.status !== "passed").map((t) => `${t.name}: ${t.output}`);
    expect(failed).toEqual([]);
    expect(r.score).toBe(r.maxScore);
    expect(r.maxScore).toBeGreaterThan(0);
  }, 120_000);

  it("the untouched stubs score 0 with 'not implemented' feedback and no crash", async () => {
    const stubs = tempDir(`sg-${assignment}-stubs-`);
    writeAssignment(paths.solutions(assignment), stubs);
    const r = await gradeSubmission({ assignment, submission: stubs, typecheck: false });
    expect(r.graderError).toBeUndefined();
    // Structural checks (no loops) count only with correct values, so a stub, which has no loops at all,
    // earns nothing from them either.
    expect(r.tests.filter((t) => t.score > 0).map((t) => t.name)).toEqual([]);
    expect(r.score).toBe(0);
    for (const t of r.tests) {
      if (t.failure !== undefined) {
        expect(t.failure, t.name).toBe("not-implemented");
        expect(t.output, t.name).toMatch(/not implemented yet \(Not implemented: \w+/);
      } else {
        // A test that finished must still say what is missing.
        expect(t.output, t.name).toMatch(/Not implemented|not implemented/);
      }
    }
  }, 120_000);
});
