import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { figureHtml, linePlot } from "../src/index.js";

// Figures must render where readers see them. These tests execute a small notebook in real Jupyter with
// the tslab kernel, export it to HTML with nbconvert, and load pages in headless Chromium with no network:
// the export as it is; the export with an AMD loader defined first (as require.js is in the classic
// Notebook); each output inserted the way JupyterLab renders trusted HTML (innerHTML, then every script
// re-created so that it runs); and the executed notebook, signed, opened in the classic Notebook served
// by a local Jupyter server. They never download a browser: Chromium is Debian's package `chromium`, which
// set-up on CI installs; without it they fail and say so.
const repo = path.resolve(import.meta.dirname, "..", "..");
const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const pythonFile = path.join(repo, ".jupyter-env", "python");
const dir = path.join(repo, "build", "test-viz-browser");
const kernelPath = path.join(repo, ".jupyter-env", "share", "jupyter");
const FIGURES = 4; // line, heatmap, live, scatter

function chromiumDom(url: string, budgetMs = 10_000): string {
  const profile = mkdtempSync(path.join(os.tmpdir(), "sg-chromium-"));
  try {
    const r = spawnSync(
      chromium!,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        `--user-data-dir=${profile}`,
        `--virtual-time-budget=${budgetMs}`,
        "--dump-dom",
        url,
      ],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 90_000 },
    );
    if (r.status !== 0) throw new Error(`chromium failed (${r.status}): ${r.stderr.slice(-500)}`);
    return r.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Each plotly figure draws into one div of class "plot-container plotly" holding its svg layers. */
const plots = (dom: string): number => dom.match(/class="plot-container plotly"/g)?.length ?? 0;

function python(): string {
  return readFileSync(pythonFile, "utf8").trim();
}

describe("plotly figures in the browser", () => {
  let html = "";

  beforeAll(() => {
    if (!chromium) throw new Error("these tests need Chromium (Debian package `chromium`; apt-get install chromium)");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const cells = [
      'import * as sg from "@semantic-gap/lib";',
      'sg.showLinePlot([{ x: [1, 2, 3], y: [3, 1, 2], name: "loss" }], { title: "first" });',
      'sg.showHeatmap({ x: ["a", "b"], y: ["c", "d"], z: [[1, 2], [3, 4]] }, { text: true });',
      'sg.showImages(sg.zeros([2, 1, 4, 4]), { labels: ["a", "b"] });',
      [
        'const live = sg.liveLinePlot({ series: ["loss"], title: "live", intervalMs: 20 });',
        "for (let i = 0; i < 20; i++) {",
        '  live.extend("loss", [i], [1 / (i + 1)]);',
        "  await new Promise((r) => setTimeout(r, 5));",
        "}",
        "live.render();",
      ].join("\n"),
      'sg.show(sg.scatterPlot([{ x: [0, 1], y: [1, 0], name: "pts" }]));',
    ];
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } },
      cells: cells.map((source, i) => ({ cell_type: "code", id: `c${i}`, metadata: {}, execution_count: null, outputs: [], source })),
    };
    writeFileSync(path.join(dir, "figs.ipynb"), JSON.stringify(nb));
    const script = [
      "import nbformat, nbclient",
      "from nbconvert import HTMLExporter",
      "nb = nbformat.read('figs.ipynb', 4)",
      "nbclient.NotebookClient(nb, timeout=120, kernel_name='tslab', resources={'metadata': {'path': '.'}}).execute()",
      "nbformat.write(nb, 'figs.out.ipynb')",
      "open('figs.html', 'w').write(HTMLExporter().from_notebook_node(nb)[0])",
    ].join("\n");
    const env = { ...process.env, JUPYTER_PATH: kernelPath };
    const run = spawnSync(python(), ["-c", script], { cwd: dir, env, encoding: "utf8", timeout: 180_000 });
    if (run.status !== 0) throw new Error(`executing the test notebook failed:\n${run.stderr.slice(-2000)}`);
    html = readFileSync(path.join(dir, "figs.html"), "utf8");
  }, 240_000);

  it("inline the plotly.js bundle once, and redraw a live plot in place", () => {
    // The bundle is inlined once, by the first figure, not by every figure.
    expect(html.split("(function (define, module, exports) {").length - 1).toBe(1);
    const executed = JSON.parse(readFileSync(path.join(dir, "figs.out.ipynb"), "utf8")) as {
      cells: Array<{ outputs?: Array<{ output_type: string; name?: string; data?: Record<string, unknown> }> }>;
    };
    expect(executed.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === "stream" && o.name === "stderr")).toEqual([]);
    // The live plot redrew in place: its cell has one output, and it holds all 20 points.
    const liveOutputs = executed.cells[4].outputs ?? [];
    expect(liveOutputs.length).toBe(1);
    const liveHtml = String(liveOutputs[0].data?.["text/html"]);
    expect(liveHtml).toContain('"title":{"text":"live"');
    expect(liveHtml).toContain(`"y":[${Array.from({ length: 20 }, (_, i) => 1 / (i + 1)).join(",")}]`);
  });

  it("render in the HTML that nbconvert exports, offline", () => {
    const dom = chromiumDom(`file://${path.join(dir, "figs.html")}`);
    expect(plots(dom)).toBe(FIGURES);
    expect(dom).toContain('class="heatmaplayer');
  }, 120_000);

  it("render when an AMD loader (require.js) is on the page first", () => {
    const amd = html.replace("<head>", "<head><script>window.define = function () {}; window.define.amd = {};</script>");
    writeFileSync(path.join(dir, "figs-amd.html"), amd);
    expect(plots(chromiumDom(`file://${path.join(dir, "figs-amd.html")}`))).toBe(FIGURES);
  }, 120_000);

  it("render when inserted as JupyterLab inserts trusted HTML outputs", () => {
    // innerHTML, then each script replaced by a fresh copy (scripts set through innerHTML never run); no require.js.
    const executed = JSON.parse(readFileSync(path.join(dir, "figs.out.ipynb"), "utf8")) as {
      cells: Array<{ outputs?: Array<{ data?: Record<string, string | string[]> }> }>;
    };
    const htmlOutputs = executed.cells
      .flatMap((c) => c.outputs ?? [])
      .map((o) => o.data?.["text/html"])
      .filter((h): h is string | string[] => h !== undefined)
      .map((h) => (Array.isArray(h) ? h.join("") : h));
    const lab = [
      '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>',
      `<script id="outputs" type="application/json">${JSON.stringify(htmlOutputs).replace(/</g, "\\u003c")}</script>`,
      "<script>",
      'for (const html of JSON.parse(document.getElementById("outputs").textContent)) {',
      '  const host = document.createElement("div");',
      "  host.innerHTML = html;",
      '  for (const old of Array.from(host.querySelectorAll("script"))) {',
      '    const s = document.createElement("script");',
      "    for (const a of Array.from(old.attributes)) s.setAttribute(a.name, a.value);",
      "    s.textContent = old.textContent;",
      "    old.replaceWith(s);",
      "  }",
      "  document.body.appendChild(host);",
      "}",
      "</script></body></html>",
    ].join("\n");
    writeFileSync(path.join(dir, "figs-lab.html"), lab);
    expect(plots(chromiumDom(`file://${path.join(dir, "figs-lab.html")}`))).toBe(FIGURES);
  }, 120_000);

  describe("in the classic Notebook", () => {
    let server: ChildProcess | null = null;
    let home = "";
    let port = 0;
    const token = "sg-viz-test";

    beforeAll(async () => {
      // A private Jupyter data, config and runtime dir: the notebook is signed (trusted) with a throwaway key.
      home = mkdtempSync(path.join(os.tmpdir(), "sg-classic-"));
      const env = {
        ...process.env,
        JUPYTER_PATH: kernelPath,
        JUPYTER_DATA_DIR: path.join(home, "data"),
        JUPYTER_CONFIG_DIR: path.join(home, "config"),
        JUPYTER_RUNTIME_DIR: path.join(home, "runtime"),
      };
      copyFileSync(path.join(dir, "figs.out.ipynb"), path.join(home, "classic.ipynb"));
      const sign = "import nbformat\nfrom nbformat.sign import NotebookNotary\nnb = nbformat.read('classic.ipynb', 4)\nNotebookNotary().sign(nb)";
      const signed = spawnSync(python(), ["-c", sign], { cwd: home, env, encoding: "utf8", timeout: 60_000 });
      if (signed.status !== 0) throw new Error(`signing failed: ${signed.stderr.slice(-1000)}`);
      port = await new Promise<number>((resolve, reject) => {
        const s = net.createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
          const p = (s.address() as net.AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      server = spawn(
        python(),
        ["-m", "notebook", "--no-browser", "--allow-root", `--port=${port}`, "--ip=127.0.0.1", `--NotebookApp.token=${token}`, `--NotebookApp.notebook_dir=${home}`],
        { cwd: home, env, stdio: "ignore" },
      );
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/api/status?token=${token}`);
          if (r.ok) break;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error("the Jupyter Notebook server did not start within 60 s");
        await new Promise((r) => setTimeout(r, 300));
      }
    }, 120_000);

    afterAll(async () => {
      if (server && server.exitCode === null) {
        const exited = new Promise((r) => server!.once("exit", r));
        server.kill("SIGTERM"); // the server shuts its kernels down on SIGTERM
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (server.exitCode === null) server.kill("SIGKILL");
      }
      if (home) rmSync(home, { recursive: true, force: true });
    }, 30_000);

    it("render in the trusted notebook's page (with require.js)", () => {
      const dom = chromiumDom(`http://127.0.0.1:${port}/notebooks/classic.ipynb?token=${token}`, 15_000);
      expect(dom).toMatch(/require(js|\.js)/); // the page really has require.js
      expect(plots(dom)).toBe(FIGURES);
    }, 120_000);
  });

  it("say what to do when the page never loaded plotly.js", () => {
    const page = `<!DOCTYPE html><html><body>${figureHtml(linePlot([{ x: [1, 2], y: [1, 2] }]), { id: "lonely" })}</body></html>`;
    writeFileSync(path.join(dir, "no-bundle.html"), page);
    const dom = chromiumDom(`file://${path.join(dir, "no-bundle.html")}`, 30_000); // a figure waits 20 s for the bundle
    expect(dom).toContain("This plot needs plotly.js, which the page has not loaded: run sg.initPlotly(true)");
  }, 120_000);
});
