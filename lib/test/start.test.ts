import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const repo = path.resolve(import.meta.dirname, "..", "..");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

async function waitFor(url: string, ms: number): Promise<Response> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      return await fetch(url);
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${url} did not answer within ${ms} ms: ${String(last)}`);
}

// The start command (what `npm start` runs after set-up) serves Jupyter on the repository with the
// project's TypeScript kernel. Set-up has run before the unit tests, so the kernel spec exists.
describe("start", () => {
  let child: ChildProcess | null = null;
  afterAll(() => {
    if (child?.pid) process.kill(-child.pid, "SIGTERM");
  });

  it(
    "serves the notebooks and offers the tslab kernel from this checkout",
    async () => {
      const port = await freePort();
      // start.mjs reads the interpreter that set-up found; set-up (npm run setup) must have run.
      child = spawn(
        process.execPath,
        [path.join(repo, "lib", "tools", "start.mjs"), "--no-browser", `--port=${port}`, "--ip=127.0.0.1", "--NotebookApp.token=", "--NotebookApp.password="],
        { cwd: repo, detached: true, stdio: "ignore" },
      );
      const specs = (await (await waitFor(`http://127.0.0.1:${port}/api/kernelspecs`, 30_000)).json()) as {
        kernelspecs: Record<string, { spec: { display_name: string; argv: string[] } }>;
      };
      const tslab = specs.kernelspecs.tslab;
      expect(tslab.spec.display_name).toBe("TypeScript");
      expect(tslab.spec.argv[0]).toBe(path.join(repo, "node_modules", ".bin", "tslab"));
      const listing = (await (await fetch(`http://127.0.0.1:${port}/api/contents/notebooks`)).json()) as {
        content: Array<{ name: string }>;
      };
      const names = listing.content.map((c) => c.name);
      expect(names).toContain("00-semantic-gap.ipynb");
    },
    60_000,
  );
});
