import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { GradeReport } from "../src/engine.js";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { netnsAvailable, sandboxMode } from "../src/sandbox.js";
import { repoRoot } from "../src/paths.js";
import { toGradescope } from "../src/report.js";
import { T, attackSource, gradeToy, result, scores, tempDir, toyDir, toyMax, toySubmission } from "./helpers.js";

// Each submission attacks the knn.ts slot of the toy assignment (extra.ts is always correct). Every report
// must be complete (all 7 tests, each with feedback), the attack must fail, and the other tests must still
// be graded: extra.ts's three tests are worth 5 points in every case.

let server: net.Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  server = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function complete(r: GradeReport): void {
  expect(r.graderError).toBeUndefined();
  expect(r.tests.map((t) => t.name).sort()).toEqual(Object.values(T).sort());
  for (const t of r.tests) {
    expect(typeof t.output).toBe("string");
    expect(t.output.length).toBeGreaterThan(0);
    expect(t.score).toBeGreaterThanOrEqual(0);
    expect(t.score).toBeLessThanOrEqual(t.maxScore);
  }
  expect(toGradescope(r).tests).toHaveLength(7);
  // extra.ts is correct in every attack submission: its tests are unaffected.
  expect(result(r, T.sumSquares).score).toBe(2);
  expect(result(r, T.normalizeRows).score).toBe(2);
  expect(result(r, T.publicSum).score).toBe(1);
}

// The tests run concurrently, at most two gradings at a time (two cores; a per-test time limit must not
// be eaten by the machine's own load).
let running = 0;
const queue: (() => void)[] = [];
async function limited<R>(f: () => Promise<R>): Promise<R> {
  if (running >= 2) await new Promise<void>((r) => queue.push(r));
  running++;
  try {
    return await f();
  } finally {
    running--;
    queue.shift()?.();
  }
}

async function attack(name: string, opts: Parameters<typeof gradeToy>[1] = {}): Promise<GradeReport> {
  return limited(() => attackNow(name, opts));
}

async function attackNow(name: string, opts: Parameters<typeof gradeToy>[1] = {}): Promise<GradeReport> {
  const src = attackSource(name, { __PORT__: String(port), __OUT__: path.join(tempDir(), "results.json") });
  const r = await gradeToy(toySubmission(src), opts);
  complete(r);
  return r;
}

describe.concurrent("adversarial submissions", () => {
  it("the untouched base scores full marks (the control)", async () => {
    const r = await attack("correct");
    expect(r.score).toBe(toyMax);
  });

  it("an infinite loop times out only the tests that call it", async () => {
    const r = await attack("infinite-loop");
    expect(result(r, T.distances)).toMatchObject({ score: 0, failure: "timeout" });
    expect(result(r, T.distances).output).toMatch(/timed out after 4\.0 s/);
    expect(result(r, T.worked).failure).toBe("timeout");
    expect(result(r, T.predict).score).toBe(3);
    expect(r.score).toBe(9);
  });

  it("an infinite loop at import costs one timeout, then the file's tests fail at once", async () => {
    const r = await attack("import-loop");
    expect(result(r, T.distances).failure).toBe("timeout");
    expect(result(r, T.predict).output).toMatch(/knn\.ts did not finish loading: timed out/);
    expect(result(r, T.predict).failure).toBe("crash"); // failed at once: no second timeout
    expect(result(r, T.structure).score).toBe(1); // a structural check reads the source only
    expect(r.score).toBe(6);
  });

  it("process.exit(0) fails the call that made it", async () => {
    const r = await attack("exit");
    expect(result(r, T.distances).output).toMatch(/process\.exit\(0\) is not allowed/);
    expect(result(r, T.predict).score).toBe(3);
    expect(r.score).toBe(9);
  });

  it("a throw at import fails the file's calls with the error", async () => {
    const r = await attack("throw-at-import");
    expect(result(r, T.distances).output).toMatch(/knn\.ts failed to load: Error: boom at import \(at knn\.ts:\d+:\d+\)/);
    expect(result(r, T.predict).failure).toBe("crash");
    expect(r.score).toBe(6);
  });

  it("reading solutions/ or autograder/ through fs (or a dynamic import) is denied", async () => {
    const r = await attack("read-files");
    const out = result(r, T.distances).output;
    expect(out).toMatch(/ATTACK REPORT/);
    expect(out).not.toMatch(/GOT/);
    // Denied by the permission model, or not there at all inside the OS sandbox.
    expect(out.match(/ERR_ACCESS_DENIED|ENOENT/g)).toHaveLength(7);
    expect(result(r, T.predict).output).toMatch(/import solution: (ERR_ACCESS_DENIED|ERR_MODULE_NOT_FOUND)/);
    expect(existsSync(path.join(repoRoot, "autograder", "pwned.txt"))).toBe(false);
    expect(r.score).toBe(6);
  });

  it("child_process, workers, addons and bindings are unavailable", async () => {
    const r = await attack("child-process");
    const out = result(r, T.distances).output;
    expect(out).toMatch(/ATTACK REPORT/);
    expect(out).not.toMatch(/GOT/);
    expect(out).toMatch(/execSync: node:child_process is not available/);
    expect(out).toMatch(/worker: node:worker_threads is not available/);
    expect(out).toMatch(/dynamic import: node:child_process is not available/);
    expect(r.score).toBe(9);
  });

  it("the network is unreachable even without a network namespace", async () => {
    const before = connections;
    const r = await attack("network", { netns: "off" });
    const out = result(r, T.distances).output;
    expect(out).toMatch(/ATTACK REPORT/);
    expect(out).not.toMatch(/CONNECTED/);
    expect(out).toMatch(/net\.connect: node:net is not available/);
    expect(out).toMatch(/fetch: fetch is undefined/);
    expect(connections).toBe(before);
    expect(r.score).toBe(9);
  });

  it("the network is unreachable inside the sandbox's network namespace too", async () => {
    expect(netnsAvailable()).toBe(true); // root on Linux, as in CI
    const before = connections;
    const r = await attack("network", { netns: "auto" });
    expect(result(r, T.distances).output).not.toMatch(/CONNECTED/);
    expect(connections).toBe(before);
  });

  it("monkeypatching Math, Array.prototype, JSON and console changes nothing but the student's own outputs", async () => {
    const [patched, control] = await Promise.all([attack("monkeypatch"), attack("wrong-values")]);
    expect(scores(patched)).toEqual(scores(control));
    expect(patched.score).toBeLessThan(toyMax);
    expect(patched.studentOutput).toMatch(/All tests passed! Score: 15\/15/);
    expect(result(patched, T.distances).output).toMatch(/values differ at 28 of 28 positions/);
  });

  it("writing a fake results.json changes nothing", async () => {
    const dir = tempDir();
    const out = path.join(dir, "results.json");
    const sub = toySubmission(attackSource("fake-results", { __OUT__: out }));
    const cli = await limited(async () => spawnSync(
      process.execPath,
      ["--import", "tsx", "autograder/src/cli.ts", "grade", sub, "--assignment", "toy", "--tests-dir", path.join(toyDir, "tests"), "--out", out, "--no-typecheck", "--quiet"],
      { cwd: repoRoot, encoding: "utf8" },
    ));
    expect(cli.status, cli.stderr).toBe(0);
    const written = JSON.parse(readFileSync(out, "utf8")) as { score: number; tests: unknown[]; output: string };
    expect(written.score).toBe(toyMax);
    expect(written.tests).toHaveLength(7);
    expect(written.output).toMatch(/Your code printed/); // shown, labelled as the student's output
    expect(existsSync(path.join(repoRoot, "results.json"))).toBe(false);
    expect(existsSync("/autograder/results/results.json") && readFileSync("/autograder/results/results.json", "utf8").includes("perfect")).toBe(false);
  });

  it("allocating typed arrays past the memory cap stops the child; the other tests go on", async () => {
    const r = await attack("memory-external", { rssMb: 600 });
    expect(result(r, T.distances)).toMatchObject({ score: 0, failure: "crash" });
    expect(result(r, T.distances).output).toMatch(/used more than 600 MB of memory/);
    expect(result(r, T.predict).score).toBe(3);
    expect(r.score).toBe(9);
  });

  it("filling the JS heap runs out of memory; the other tests go on", async () => {
    const r = await attack("memory-heap", { heapMb: 96 });
    expect(result(r, T.distances).output).toMatch(/ran out of memory/);
    expect(result(r, T.predict).score).toBe(3);
    expect(r.score).toBe(9);
  });

  it("NaN in the output is named with its index", async () => {
    const r = await attack("nan");
    expect(result(r, T.distances).output).toBe("distances: contains NaN at index [0, 1]");
    expect(result(r, T.distances).score).toBe(1); // the inputs-unchanged part
  });

  it("a wrong shape is named with both shapes", async () => {
    const r = await attack("wrong-shape");
    expect(result(r, T.distances).output).toBe("distances: wrong shape: got (7, 4), expected (4, 7)");
  });

  it("mutating the inputs costs the inputs part", async () => {
    const r = await attack("mutate");
    expect(result(r, T.distances)).toMatchObject({ score: 3, status: "partial" });
    expect(result(r, T.distances).output).toMatch(/modified its input X/);
  });

  it("getters that throw and functions as results are bad outputs, not grader crashes", async () => {
    const r = await attack("bad-outputs");
    expect(result(r, T.distances)).toMatchObject({ score: 0, failure: "bad-output" });
    expect(result(r, T.distances).output).toMatch(/cannot be graded: Error: gotcha/);
    expect(result(r, T.predict).output).toMatch(/expected an Int32Array of labels, got a function/);
  });

  it("cyclic and oversized results are refused", async () => {
    const r = await attack("huge-output");
    expect(result(r, T.distances).output).toMatch(/contains a cycle/);
    expect(result(r, T.predict).output).toMatch(/too large/);
  });

  it("a syntax error is reported and costs only the file's tests", async () => {
    const r = await attack("syntax-error");
    expect(r.compileErrors).toEqual([expect.stringMatching(/^knn\.ts:\d+:\d+ Expression expected/)]);
    expect(result(r, T.predict).output).toMatch(/knn\.ts has a syntax error/);
    expect(r.score).toBe(6);
  });

  it("infinite recursion is a thrown RangeError", async () => {
    const r = await attack("stack-overflow");
    expect(result(r, T.distances)).toMatchObject({ failure: "threw" });
    expect(result(r, T.distances).output).toMatch(/Maximum call stack size exceeded/);
    expect(r.score).toBe(9);
  });

  it("an exception thrown from a timer crashes only the call in flight", async () => {
    const r = await attack("async-crash");
    expect(result(r, T.distances).output).toMatch(/crashed: uncaught exception: Error: async boom/);
    expect(r.score).toBe(9);
  });

  it("type errors are feedback, not failures", async () => {
    const r = await attack("type-errors", { typecheck: true });
    expect(r.score).toBe(toyMax);
    expect(r.typeErrors.some((e) => /^knn\.ts:\d+:\d+ TS2322/.test(e))).toBe(true);
  });
});

describe("the sandbox on this machine", () => {
  it("is bubblewrap (CI installs it; the grader runs as root there, the child as an unprivileged uid)", () => {
    expect(sandboxMode()).toBe("bubblewrap");
  });
});

// Writing outside the scratch folder, by every route the attack knows, in three set-ups: both layers,
// the operating system's sandbox alone (Node's permission model off), and the permission model with the
// runner's blocks alone. Each must hold by itself.
describe.concurrent("writing outside the scratch folder fails by every route", () => {
  const setups: Array<[string, Parameters<typeof gradeToy>[1]]> = [
    ["both layers", {}],
    ["the OS sandbox alone", { permissionModel: false, sandbox: "bubblewrap" }],
    ["the permission model and the runner's blocks alone", { sandbox: "permission-model-only" }],
  ];
  for (const [label, opts] of setups) {
    it(label, async () => {
      // Outside /tmp, which inside the OS sandbox is the scratch folder itself.
      mkdirSync(path.join(repoRoot, "build"), { recursive: true });
      const watched = mkdtempSync(path.join(repoRoot, "build", "sg-watched-"));
      onTestFinished(() => rmSync(watched, { recursive: true, force: true }));
      const sentinel = path.join(watched, "sentinel.txt");
      writeFileSync(sentinel, "untouched");
      const before = statSync(sentinel);
      mkdirSync(path.join(watched, "sub"));
      const targets = [watched, path.join(watched, "sub"), path.join(repoRoot, "autograder"), repoRoot];
      const src = attackSource("write-outside", { __TARGETS__: JSON.stringify(targets), __SENTINEL__: sentinel });
      const r = await limited(() => gradeToy(toySubmission(src), opts));
      complete(r);
      const out = result(r, T.distances).output;
      expect(out).toMatch(/ATTACK REPORT scratch \(allowed\): WROTE/);
      expect(out).toMatch(/\| 110 attempts \| got through: none/);
      expect(readdirSync(watched).sort()).toEqual(["sentinel.txt", "sub"]);
      expect(readdirSync(path.join(watched, "sub"))).toEqual([]);
      expect(readFileSync(sentinel, "utf8")).toBe("untouched");
      const after = statSync(sentinel);
      expect([after.mode, after.mtimeMs]).toEqual([before.mode, before.mtimeMs]);
      for (const dir of [repoRoot, path.join(repoRoot, "autograder")]) {
        expect(readdirSync(dir).filter((n) => n.startsWith("pwned-"))).toEqual([]);
      }
      expect(existsSync("/dev/shm/pwned") || existsSync("/var/tmp/pwned-sg")).toBe(false);
      expect(r.score).toBe(toyMax - 6); // the two tests that call computeDistancesNoLoops
    });
  }
});

describe.concurrent("a hostile child's messages", () => {
  it("junk, an oversized frame and forged fields on the reply channel cost only the calls that sent them", async () => {
    const r = await limited(() => gradeToy(toySubmission(attackSource("ipc-junk")), { sandbox: "bubblewrap" }));
    complete(r);
    expect(result(r, T.distances).score).toBe(0);
    expect(result(r, T.distances).output).toMatch(/sent a message of 1073741823 bytes, over the limit/);
    expect(result(r, T.predict).score).toBe(0);
    expect(result(r, T.predict).output).toMatch(/sent the grader a message it does not understand/);
    expect(result(r, T.predict).output).not.toMatch(/forged/);
    expect(r.score).toBe(5 + 1); // extra.ts, and the structure check (the source has matmul)
  });

  for (const sandbox of ["bubblewrap", "permission-model-only"] as const) {
    it(`a scratch tree 3,000 folders deep is contained and cleaned up (${sandbox})`, async () => {
      const r = await limited(() => gradeToy(toySubmission(attackSource("deep-tree")), { sandbox }));
      complete(r);
      // Inside bubblewrap the tree lives in the child's tmpfs; outside it, the disk watch stops the child.
      if (sandbox === "bubblewrap") expect(r.score).toBe(toyMax);
      else expect(r.score).toBeGreaterThanOrEqual(toyMax - 6);
    });
  }

  it("an expression nested 20,000 deep fails to compile; the type check and the report survive", async () => {
    const deep = `${"(".repeat(20_000)}1${")".repeat(20_000)}`;
    const r = await limited(() => gradeToy(toySubmission(attackSource("deep-expression", { __DEEP__: deep })), { typecheck: true }));
    complete(r);
    expect(r.compileErrors).toEqual(["knn.ts cannot be compiled: it is nested too deeply for the compiler"]);
    expect(result(r, T.distances).output).toMatch(/knn\.ts has a syntax error and cannot load/);
    expect(r.score).toBeLessThanOrEqual(6);
    expect(r.score).toBeGreaterThanOrEqual(5);
  });
});
