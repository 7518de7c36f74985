import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { imageToFashionMnist } from "../src/index.js";

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sharp = require("sharp") as any;

const svg = (w: number, h: number, bg: string, body: string): Buffer =>
  Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="${w}" height="${h}" fill="${bg}"/>${body}</svg>`);

describe("imageToFashionMnist", () => {
  it("trims, subsamples the longest side to 28, centres and negates a dark object on white", async () => {
    // A black 200x100 bar in the middle of a 400x300 white JPEG.
    const jpeg = await sharp(svg(400, 300, "#ffffff", `<rect x="120" y="90" width="200" height="100" fill="#000000"/>`)).jpeg({ quality: 95 }).toBuffer();
    const { image, steps } = await imageToFashionMnist(new Uint8Array(jpeg));
    expect(image.shape).toEqual([1, 1, 28, 28]);
    expect(steps.original).toEqual({ width: 400, height: 300 });
    expect(Math.abs(steps.trimmed.width - 200)).toBeLessThanOrEqual(2);
    expect(Math.abs(steps.trimmed.height - 100)).toBeLessThanOrEqual(2);
    expect(steps.resized).toEqual({ width: 28, height: 14 });
    expect(steps.negated).toBe(true);
    const px = (i: number, j: number) => image.data[i * 28 + j];
    // The bar fills rows 7..20 and becomes bright; the extended border is black.
    expect(px(0, 14)).toBe(0);
    expect(px(6, 14)).toBe(0);
    expect(px(14, 14)).toBeGreaterThan(240);
    expect(px(21, 14)).toBe(0);
  });

  it("keeps a light object on a dark background as it is (WebP input)", async () => {
    const webp = await sharp(svg(90, 90, "#000000", `<circle cx="45" cy="45" r="30" fill="#ffffff"/>`)).webp({ lossless: true }).toBuffer();
    const { image, steps } = await imageToFashionMnist(new Uint8Array(webp));
    expect(steps.negated).toBe(false);
    expect(image.data[14 * 28 + 14]).toBeGreaterThan(240);
    expect(image.data[0]).toBeLessThan(10);
  });

  it("names what it could not read", async () => {
    await expect(imageToFashionMnist(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow(/imageToFashionMnist: sharp could not read 4 bytes as an image/);
  });
});
