import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

// Figures must render where readers see them. This test executes a small notebook in real Jupyter with the
// tslab kernel, exports it to HTML with nbconvert, and loads the page in headless Chromium with no
// network: once as exported, once with an AMD loader defined first, as in the classic Notebook's page
// (require.js), and once inserting each output the way JupyterLab renders trusted HTML (innerHTML, then
// every script re-created so that it runs). The test never downloads a browser: without Chromium
// (Debian package `chromium`) it is skipped.
const repo = path.resolve(import.meta.dirname, "..", "..");
const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const pythonFile = path.join(repo, ".jupyter-env", "python");

function chromiumDom(file: string): string {
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
        "--virtual-time-budget=10000",
        "--dump-dom",
        `file://${file}`,
      ],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
    );
    if (r.status !== 0) throw new Error(`chromium failed (${r.status}): ${r.stderr.slice(-500)}`);
    return r.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

describe("plotly figures in an exported notebook", () => {
  it.skipIf(!chromium)("render in headless Chromium as exported, under require.js and as JupyterLab inserts them", () => {
    const dir = path.join(repo, "build", "test-viz-browser");
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
    const figures = 4; // line, heatmap, live, scatter
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } },
      cells: cells.map((source, i) => ({ cell_type: "code", id: `c${i}`, metadata: {}, execution_count: null, outputs: [], source })),
    };
    writeFileSync(path.join(dir, "figs.ipynb"), JSON.stringify(nb));
    const script = [
      "import nbformat, nbclient, sys",
      "from nbconvert import HTMLExporter",
      "nb = nbformat.read('figs.ipynb', 4)",
      "nbclient.NotebookClient(nb, timeout=120, kernel_name='tslab', resources={'metadata': {'path': '.'}}).execute()",
      "nbformat.write(nb, 'figs.out.ipynb')",
      "open('figs.html', 'w').write(HTMLExporter().from_notebook_node(nb)[0])",
    ].join("\n");
    const py = readFileSync(pythonFile, "utf8").trim();
    const env = { ...process.env, JUPYTER_PATH: path.join(repo, ".jupyter-env", "share", "jupyter") };
    const run = spawnSync(py, ["-c", script], { cwd: dir, env, encoding: "utf8", timeout: 180_000 });
    expect(run.status, run.stderr).toBe(0);
    const html = readFileSync(path.join(dir, "figs.html"), "utf8");
    // The bundle is inlined once, by the first figure, not by every figure.
    expect(html.split("(function (define, module, exports) {").length - 1).toBe(1);

    // Each plotly figure draws into one div of class plot-container holding its svg layers.
    const plots = (dom: string): number => dom.match(/class="plot-container plotly"/g)?.length ?? 0;
    const plain = chromiumDom(path.join(dir, "figs.html"));
    expect(plots(plain)).toBe(figures);
    expect(plain).toContain('class="heatmaplayer');

    // The classic Notebook's page has require.js: an AMD `define` exists before any output runs.
    const amd = html.replace("<head>", "<head><script>window.define = function () {}; window.define.amd = {};</script>");
    writeFileSync(path.join(dir, "figs-amd.html"), amd);
    const withAmd = chromiumDom(path.join(dir, "figs-amd.html"));
    expect(plots(withAmd)).toBe(figures);

    // JupyterLab: trusted text/html goes in through innerHTML, then each script is replaced by a fresh copy
    // (scripts set through innerHTML never run); there is no require.js.
    const executed = JSON.parse(readFileSync(path.join(dir, "figs.out.ipynb"), "utf8")) as {
      cells: Array<{ outputs?: Array<{ data?: Record<string, string | string[]> }> }>;
    };
    // The live plot redrew in place: its cell has one output, and it holds all 20 points.
    const liveOutputs = executed.cells[4].outputs ?? [];
    expect(liveOutputs.length).toBe(1);
    const liveHtml = String(liveOutputs[0].data?.["text/html"]);
    expect(liveHtml).toContain('"title":{"text":"live"');
    expect(liveHtml).toContain(`"y":[${Array.from({ length: 20 }, (_, i) => 1 / (i + 1)).join(",")}]`);
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
    const inLab = chromiumDom(path.join(dir, "figs-lab.html"));
    expect(plots(inLab)).toBe(figures);
  }, 240_000);
});
