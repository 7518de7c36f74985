import sharp from "sharp";
import { describe, expect, it } from "vitest";
import {
  composeImageGrid,
  decisionRegions,
  errorBarPlot,
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
  });
});
