import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import {
  classGridPng,
  composeImageGrid,
  inNotebook,
  samplePerClass,
  show,
  tensorToPng,
  decisionRegions,
  errorBarPlot,
  figureGrid,
  figureHtml,
  fromNested,
  heatmap,
  imageGridPng,
  imageGridPngSync,
  linePlot,
  plotlyBundleHtml,
  reshape,
  tensor,
  zeros,
} from "../src/index.js";

async function decode(png: Buffer): Promise<{ width: number; height: number; channels: number; data: Buffer }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

describe("image grids (PNG through sharp)", () => {
  it("upscales pixels by nearest neighbour and keeps raw 0..255 values", async () => {
    // One 2x2 gray image [[0, 100], [200, 255]] at scale 2 with no padding: a 4x4 PNG.
    const img = reshape(fromNested([0, 100, 200, 255]), [1, 1, 2, 2]);
    const png = await imageGridPng(img, { scale: 2, pad: 0 });
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    const { width, height, channels, data } = await decode(png);
    expect([width, height]).toEqual([4, 4]);
    expect(png[25]).toBe(0); // IHDR colour type 0: gray in, gray PNG out
    const at = (x: number, y: number): number => data[(y * width + x) * channels];
    expect([at(0, 0), at(1, 1), at(2, 0), at(3, 1), at(0, 2), at(1, 3), at(2, 2), at(3, 3)]).toEqual([0, 0, 100, 100, 200, 200, 255, 255]);
  });

  it("stretches real-valued images (e.g. classifier weights) per image", async () => {
    const w = tensor([-2, 0, 2, 4], [1, 2, 2]); // (N, H, W), values outside 0..255
    const { data, width, channels } = await decode(await imageGridPng(w, { scale: 1, pad: 0 }));
    const px = [0, 1, 2, 3].map((i) => data[i * channels]);
    // min -2 -> 0, max 4 -> 255, 0 -> 85, 2 -> 170
    expect(px).toEqual([0, 85, 170, 255]);
    expect(width).toBe(2);
  });

  it("lays out colour images in columns with padding", () => {
    const rgb = zeros([3, 3, 2, 2]);
    rgb.data.fill(255);
    const job = composeImageGrid(rgb, { columns: 2, scale: 3, pad: 1 });
    // 2 columns of 6 px + 3 gaps; 2 rows of 6 px + 3 gaps.
    expect([job.width, job.height, job.channels]).toEqual([15, 15, 3]);
  });

  it("draws labels below the images (text pixels appear in the caption band)", async () => {
    const img = zeros([2, 1, 28, 28]);
    const plain = await decode(await imageGridPng(img, { scale: 3 }));
    const labelled = await decode(await imageGridPng(img, { scale: 3, labels: ["Trouser", "Bag"] }));
    expect(labelled.height).toBeGreaterThan(plain.height);
    let dark = 0;
    for (let y = plain.height; y < labelled.height; y++) {
      for (let x = 0; x < labelled.width; x++) if (labelled.data[(y * labelled.width + x) * labelled.channels] < 128) dark++;
    }
    expect(dark).toBeGreaterThan(20); // rendered glyphs, not an empty band
  });

  it("gives the same bytes synchronously (sharp in a worker) as asynchronously", async () => {
    const img = reshape(fromNested([0, 50, 100, 150, 200, 250]), [1, 1, 2, 3]);
    const a = await imageGridPng(img, { labels: ["x"] });
    const b = imageGridPngSync(img, { labels: ["x"] });
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it("explains bad shapes and label counts", async () => {
    await expect(imageGridPng(zeros([2, 2, 4, 4]))).rejects.toThrow(
      "imageGridPng: images must have shape (N, 1, H, W), (N, 3, H, W), (N, H, W) or (H, W), got (2, 2, 4, 4)",
    );
    expect(() => imageGridPngSync(zeros([3, 4, 4]), { labels: ["a"] })).toThrow(
      "imageGridPng: labels must have one entry per image (3), got 1",
    );
  });
});

describe("single images, class grids and captions", () => {
  it("tensorToPng upscales a (C, H, W) colour image without padding", async () => {
    // A 2x2 RGB image: red, green / blue, white; channel planes (3, 2, 2).
    const img = tensor([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255], [3, 2, 2]);
    const { width, height, channels, data } = await decode(await tensorToPng(img, { scale: 3 }));
    expect([width, height, channels]).toEqual([6, 6, 3]);
    const rgb = (x: number, y: number): number[] => Array.from(data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
    expect(rgb(0, 0)).toEqual([255, 0, 0]);
    expect(rgb(2, 2)).toEqual([255, 0, 0]); // the same source pixel after x3 upscaling
    expect(rgb(3, 0)).toEqual([0, 255, 0]);
    expect(rgb(0, 5)).toEqual([0, 0, 255]);
    expect(rgb(5, 5)).toEqual([255, 255, 255]);
    await expect(tensorToPng(zeros([2, 3, 2, 2]))).rejects.toThrow("tensorToPng: img must have shape (C, H, W) or (H, W), got (2, 3, 2, 2)");
  });

  it("maps values in 0..1 to the full gray range by default, and RGB weights per image", async () => {
    const unit = await decode(await tensorToPng(tensor([0, 0.5, 1, 0.25], [2, 2]), { scale: 1 }));
    expect([0, 1, 2, 3].map((i) => unit.data[i * unit.channels])).toEqual([0, 128, 255, 64]); // 0.5*255 = 127.5 -> 128
    // Colour "weights" with negative values: one range over all three channels of the image.
    const w = tensor([-1, 1, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3], [1, 3, 2, 2]);
    const out = await decode(await imageGridPng(w, { scale: 1, pad: 0 }));
    // min -1 -> 0, max 3 -> 255: pixel (0,0) = (-1, 0, 3) -> (0, 64, 255); pixel (1,0) = (1, 0, 3) -> (128, 64, 255)
    expect(Array.from(out.data.subarray(0, 6))).toEqual([0, 64, 255, 128, 64, 255]);
  });

  it("classGridPng puts the seeded picks of class k in row k, labelled with the class name", async () => {
    // 3 classes of 4x4 images whose gray level encodes the example index (i * 8), labels cycling 0, 1, 2.
    const n = 30;
    const x = zeros([n, 1, 4, 4]);
    for (let i = 0; i < n; i++) for (let p = 0; p < 16; p++) x.data[i * 16 + p] = i * 8;
    const y = Int32Array.from({ length: n }, (_, i) => i % 3);
    const png = await classGridPng(x, y, ["aa", "bb", "cc"], 2, 7, { scale: 1, pad: 2 });
    const { width, height, channels, data } = await decode(png);
    const picks = samplePerClass(y, 3, 2, 7);
    const job = composeImageGrid(zeros([6, 1, 4, 4]), { columns: 2, scale: 1, pad: 2, rowLabels: ["aa", "bb", "cc"] });
    expect([width, height]).toEqual([job.width, job.height]);
    const rowLabelW = width - 2 - 2 * (4 + 2); // grid width = rowLabelW + pad + 2 * (cell + pad)
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 2; c++) {
        const i = picks[r * 2 + c];
        expect(y[i]).toBe(r);
        const px = rowLabelW + 2 + c * 6 + 1;
        const py = 2 + r * 6 + 1;
        expect(data[(py * width + px) * channels], `row ${r} column ${c}`).toBe(i * 8);
      }
    }
    // The row labels are drawn in the left band: dark text on white.
    let ink = 0;
    for (let yy = 0; yy < height; yy++) for (let xx = 0; xx < rowLabelW; xx++) if (data[(yy * width + xx) * channels] < 128) ink++;
    expect(ink).toBeGreaterThan(10);
  });

  it("widens columns to fit captions and cuts over-long ones", () => {
    const img = zeros([2, 1, 4, 4]);
    const narrow = composeImageGrid(img, { scale: 1, pad: 0 });
    expect(narrow.width).toBe(8);
    const wide = composeImageGrid(img, { scale: 1, pad: 0, labels: ["Ankle boot", "Sneaker"] });
    expect(wide.width).toBeGreaterThan(2 * 60); // two columns as wide as "Ankle boot" (about 64 px at 13 px)
    const long = composeImageGrid(img, { scale: 1, pad: 0, labels: ["x".repeat(500), "y"] });
    expect(long.width).toBeLessThanOrEqual(2 * 204);
  });

  it("draws the same captions on a machine without any fonts", () => {
    // Captions come from the committed glyph atlas, not from fontconfig: with an empty font configuration
    // a child process must produce the very same PNG bytes.
    const dir = mkdtempSync(path.join(os.tmpdir(), "sg-nofonts-"));
    try {
      writeFileSync(path.join(dir, "fonts.conf"), '<?xml version="1.0"?>\n<fontconfig></fontconfig>\n');
      const lib = path.resolve(import.meta.dirname, "..", "src", "index.ts");
      const script = `import * as sg from ${JSON.stringify(lib)};
const png = await sg.imageGridPng(sg.zeros([2, 1, 8, 8]), { labels: ["T-shirt/top", "Bag"], title: "Fonts?" });
process.stdout.write(png.toString("base64"));`;
      const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        env: { ...process.env, FONTCONFIG_FILE: path.join(dir, "fonts.conf") },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(0);
      return imageGridPng(zeros([2, 1, 8, 8]), { labels: ["T-shirt/top", "Bag"], title: "Fonts?" }).then((here) => {
        expect(Buffer.from(r.stdout, "base64").equals(here)).toBe(true);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("show() checks its argument and, outside a kernel, shows nothing", () => {
    expect(inNotebook()).toBe(false);
    expect(show(linePlot([{ x: [1], y: [1] }]))).toBe(false);
    expect(show("<b>hi</b>")).toBe(false);
    expect(show(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe(false);
    expect(() => show(new Uint8Array([1, 2, 3]))).toThrow("show: bytes must be a PNG");
    expect(() => show(42 as unknown as string)).toThrow("show: expected PNG bytes, a plotly Figure");
  });
});

describe("plotly figures", () => {
  it("builds traces and layout as plotly.js takes them", () => {
    const fig = linePlot([{ x: [1, 2], y: new Float64Array([3, 4]), name: "loss" }], { title: "T", xTitle: "it", yType: "log" });
    expect(fig.data[0]).toEqual({ type: "scatter", mode: "lines", x: [1, 2], y: [3, 4], name: "loss" });
    expect(fig.layout.yaxis).toMatchObject({ type: "log" });
    const eb = errorBarPlot([{ x: [1, 3, 5], y: [0.8, 0.82, 0.81], error: [0.01, 0.02, 0.01] }]);
    expect(eb.data[0].error_y).toEqual({ type: "data", array: [0.01, 0.02, 0.01], visible: true });
    const hm = heatmap({ x: ["1e-3", "1e-2"], y: ["0"], z: [[0.5, 0.25]] }, { text: true, digits: 2 });
    expect(hm.data[0].text).toEqual([["0.50", "0.25"]]);
    const dr = decisionRegions({ x: [0, 1], y: [0, 1], z: [[0, 1], [1, 2]], classNames: ["a", "b", "c"] });
    expect(dr.data[0]).toMatchObject({ type: "heatmap", zmin: -0.5, zmax: 2.5 });
  });

  it("labels log axes at the decades, as powers of ten", () => {
    const fig = linePlot([{ x: [1e-15, 1], y: [1, 2] }], { xType: "log" });
    expect(fig.layout.xaxis).toMatchObject({ type: "log", exponentformat: "power", minorloglabels: "none" });
    expect(fig.layout.yaxis).not.toHaveProperty("exponentformat");
    const ticked = linePlot([{ x: [1, 5, 100], y: [1, 2, 3] }], { xType: "log", xTicks: [1, 5, 100] });
    expect(ticked.layout.xaxis).toMatchObject({ tickvals: [1, 5, 100], ticktext: ["1", "5", "100"] });
  });

  it("figureGrid puts each figure on its own axes, titles the subplots and lists a shared legend entry once", () => {
    const figs = [0, 1, 2, 3].map((i) =>
      decisionRegions({ x: [0, 1], y: [0, 1], z: [[0, 1], [1, 0]], classNames: ["a", "b"] }, [{ x: [0], y: [0] }, { x: [1], y: [1] }], [], { title: `panel ${i}` }),
    );
    const g = figureGrid(figs, { rows: 2, cols: 2, title: "all", xTitle: "x1", yTitle: "x2" });
    expect(g.layout.grid).toMatchObject({ rows: 2, columns: 2, pattern: "independent" });
    expect(g.data).toHaveLength(12);
    expect(g.data.map((t) => t.xaxis)).toEqual(["x", "x", "x", "x2", "x2", "x2", "x3", "x3", "x3", "x4", "x4", "x4"]);
    // class "a" and class "b" in the legend once each, from the first panel
    expect(g.data.filter((t) => t.showlegend === true).map((t) => t.name)).toEqual(["a", "b"]);
    expect((g.layout.annotations as Array<{ text: string }>).map((a) => a.text)).toEqual(["panel 0", "panel 1", "panel 2", "panel 3"]);
    // axis titles on the outer edges only
    expect(g.layout.xaxis3).toMatchObject({ title: { text: "x1" } });
    expect((g.layout.xaxis as { title?: unknown }).title).toBeUndefined();
    expect(g.layout.yaxis3).toMatchObject({ title: { text: "x2" } });
    expect((g.layout.yaxis2 as { title?: unknown }).title).toBeUndefined();
    expect(() => figureGrid(figs, { rows: 1, cols: 3 })).toThrow("figureGrid: 4 figures do not fit a grid of 1 x 3");
    // Line plots without colours: a series keeps its colour from panel to panel; own axis titles stay without shared ones.
    const lines = [0, 1].map(() => linePlot([{ x: [0, 1], y: [1, 2], name: "svm" }, { x: [0, 1], y: [2, 1], name: "softmax" }], { xTitle: "a", yTitle: "loss" }));
    const lg = figureGrid(lines, { rows: 1, cols: 2 });
    const colors = lg.data.map((t) => (t.line as { color: string }).color);
    expect(colors[0]).not.toBe(colors[1]);
    expect([colors[2], colors[3]]).toEqual([colors[0], colors[1]]);
    expect(lg.layout.yaxis2).toMatchObject({ title: { text: "loss" } });
    // Image axes: each panel's square cells are anchored to its own x axis.
    const img = figureGrid([0, 1].map(() => heatmap({ x: [0], y: [0], z: [[1]] }, { imageAxes: true })), { rows: 1, cols: 2 });
    expect(img.layout.yaxis).toMatchObject({ scaleanchor: "x", autorange: "reversed" });
    expect(img.layout.yaxis2).toMatchObject({ scaleanchor: "x2", autorange: "reversed" });
  });

  it("emits HTML that draws with window.Plotly and cannot be closed early by data", () => {
    const html = figureHtml(linePlot([{ x: [1], y: [2], name: "</script><b>" }]), { id: "p1" });
    expect(html).toContain('<div id="p1"');
    expect(html).toContain("window.Plotly.newPlot");
    expect(html.match(/<\/script>/g)?.length).toBe(1); // only the real closing tag
    expect(html).not.toContain("plotly.js v"); // no bundle unless asked
  });

  it("inlines the plotly.js bundle from node_modules with AMD and CommonJS hidden", () => {
    const bundle = plotlyBundleHtml();
    expect(bundle.startsWith('<script type="text/javascript">(function (define, module, exports) {')).toBe(true);
    expect(bundle.length).toBeGreaterThan(1_000_000);
    expect(bundle.slice(0, -9)).not.toMatch(/<\/script/i);
    // Inside a <script>, "<!--" followed by "<script" would change how the HTML parser finds the end of
    // the element; the bundle must contain neither (a future plotly.js that does needs another escape).
    expect(bundle).not.toContain("<!--");
    expect(bundle.slice(8)).not.toMatch(/<script/i);
  });
});
