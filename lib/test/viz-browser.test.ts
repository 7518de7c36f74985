import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

// Figures must render where readers see them. This test executes a small notebook in real Jupyter with the
// tslab kernel, exports it to HTML with nbconvert, and loads the page in headless Chromium with no
// network: once as exported, and once with an AMD loader defined first, as in the classic Notebook's page
// (require.js).
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
  it.skipIf(!chromium)("render in headless Chromium, with and without require.js", () => {
    const dir = path.join(repo, "build", "test-viz-browser");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const cells = [
      'import * as sg from "@semantic-gap/lib";',
      'sg.showLinePlot([{ x: [1, 2, 3], y: [3, 1, 2], name: "loss" }], { title: "first" });',
      'sg.showHeatmap({ x: ["a", "b"], y: ["c", "d"], z: [[1, 2], [3, 4]] }, { text: true });',
      'sg.showImages(sg.zeros([2, 1, 4, 4]), { labels: ["a", "b"] });',
    ];
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
      "open('figs.html', 'w').write(HTMLExporter().from_notebook_node(nb)[0])",
    ].join("\n");
    const py = readFileSync(pythonFile, "utf8").trim();
    const env = { ...process.env, JUPYTER_PATH: path.join(repo, ".jupyter-env", "share", "jupyter") };
    const run = spawnSync(py, ["-c", script], { cwd: dir, env, encoding: "utf8", timeout: 180_000 });
    expect(run.status, run.stderr).toBe(0);
    const html = readFileSync(path.join(dir, "figs.html"), "utf8");
    // The bundle is inlined once, by the first figure, not by every figure.
    expect(html.split("(function (define, module, exports) {").length - 1).toBe(1);

    const plain = chromiumDom(path.join(dir, "figs.html"));
    expect(plain.match(/class="main-svg"/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    expect(plain).toContain('class="heatmaplayer');

    // The classic Notebook's page has require.js: an AMD `define` exists before any output runs.
    const amd = html.replace("<head>", "<head><script>window.define = function () {}; window.define.amd = {};</script>");
    writeFileSync(path.join(dir, "figs-amd.html"), amd);
    const withAmd = chromiumDom(path.join(dir, "figs-amd.html"));
    expect(withAmd.match(/class="main-svg"/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  }, 240_000);
});
