import { createRequire } from "node:module";
import { tensor, type Tensor } from "../tensor.js";

const require = createRequire(import.meta.url);

// The few calls of sharp used here (sharp's own typings are not part of this project's compile).
interface SharpImage {
  flatten(o: { background: string }): SharpImage;
  greyscale(): SharpImage;
  trim(o: { threshold: number }): SharpImage;
  resize(w: number, h: number, o: { fit: "inside"; kernel: "nearest" }): SharpImage;
  sharpen(o: { sigma: number }): SharpImage;
  extractChannel(c: number): SharpImage;
  png(): SharpImage;
  raw(): SharpImage;
  toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}
type Sharp = (input: string | Uint8Array, o?: { density?: number }) => SharpImage;

/** What imageToFashionMnist did to an image, for showing the steps. */
export interface OwnImageSteps {
  /** Size of the image as read. */
  original: { width: number; height: number };
  /** Size after trimming the border that has the corner's colour. */
  trimmed: { width: number; height: number };
  /** Size after subsampling the longest side to 28. */
  resized: { width: number; height: number };
  /** Whether the intensities were negated (the background was light). */
  negated: boolean;
}

/**
 * Converts an image file (any format sharp reads: PNG, JPEG, WebP, SVG, ...) or its bytes to a
 * Fashion-MNIST image the way that dataset was made from product photos: flattened onto white, gray,
 * the border of the corner's colour trimmed, the longest side subsampled to 28, sharpened (gaussian,
 * sigma 1), the short side extended to 28 with the image centred, and negated when the background is
 * light, so the object is bright on black. Pixel values 0..255 like the loaders'.
 * out: (1, 1, 28, 28)
 */
export async function imageToFashionMnist(input: string | Uint8Array): Promise<{ image: Tensor; steps: OwnImageSteps }> {
  if (typeof input !== "string" && !(input instanceof Uint8Array)) {
    throw new TypeError(`imageToFashionMnist: input must be a file path or the image's bytes, got ${typeof input}`);
  }
  const sharp = require("sharp") as Sharp;
  let gray: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    gray = await sharp(input).flatten({ background: "#ffffff" }).greyscale().extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    const what = typeof input === "string" ? input : `${input.length} bytes`;
    throw new Error(`imageToFashionMnist: sharp could not read ${what} as an image (${(e as Error).message})`);
  }
  const original = { width: gray.info.width, height: gray.info.height };
  // The background's level, from the four corners, decides the negation.
  const { width: w0, height: h0 } = original;
  const corners = [0, w0 - 1, (h0 - 1) * w0, h0 * w0 - 1].map((k) => gray.data[k]);
  const background = corners.reduce((s, v) => s + v, 0) / 4;
  const png = await sharp(input).flatten({ background: "#ffffff" }).greyscale().extractChannel(0).png().toBuffer({ resolveWithObject: true });
  // Trim the border within 5% of the corner's colour (sharp's threshold is a distance in 0..255).
  let trimmedBuf = png;
  try {
    trimmedBuf = await sharp(png.data).trim({ threshold: 13 }).png().toBuffer({ resolveWithObject: true });
  } catch {
    // A blank image has nothing to trim to; keep it whole.
  }
  const trimmed = { width: trimmedBuf.info.width, height: trimmedBuf.info.height };
  const small = await sharp(trimmedBuf.data)
    .resize(28, 28, { fit: "inside", kernel: "nearest" })
    .sharpen({ sigma: 1 })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = small.info;
  const negated = background > 127;
  const fill = negated ? 0 : background;
  const out = new Float64Array(28 * 28).fill(fill);
  const top = Math.floor((28 - height) / 2);
  const left = Math.floor((28 - width) / 2);
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      const v = small.data[i * width + j];
      out[(top + i) * 28 + left + j] = negated ? 255 - v : v;
    }
  }
  return { image: tensor(out, [1, 1, 28, 28]), steps: { original, trimmed, resized: { width, height }, negated } };
}
