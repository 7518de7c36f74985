import { createRequire } from "node:module";
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { ShapeError, shapeStr } from "../errors.js";
import { samplePerClass } from "../data/preprocess.js";
import { checkLabels, checkTensor, contiguous, reshape, takeRows, type Labels, type Tensor } from "../tensor.js";
import { FONT_ASCENT, FONT_DESCENT, drawText, fitText, textWidth } from "./font.js";

const require = createRequire(import.meta.url);

/** How image values map to 0..255: per image (min..max), over all images, or a fixed range. */
export type Normalize = "none" | "per-image" | "global" | [number, number];

export interface ImageGridOptions {
  /** One caption per image, drawn under it. */
  labels?: string[];
  /** Images per row (default: all in one row up to 10, then rows of 10). */
  columns?: number;
  /** Integer upscaling factor (default 3 for images up to 32 pixels, else 1). */
  scale?: number;
  /** Pixels between images (default 4). */
  pad?: number;
  /**
   * Value mapping to gray levels 0..255: "none" takes values as gray levels (clipped), "per-image"
   * stretches each image's min..max, "global" all images' min..max, [lo, hi] a fixed range. Default:
   * [0, 1] when every value lies in 0..1, "none" when every value lies in 0..255 (raw pixels), else
   * "per-image" (for weights, gradients and other real-valued pictures).
   */
  normalize?: Normalize;
  /** A title drawn above the grid. */
  title?: string;
  /** Row captions drawn left of each row (e.g. class names). */
  rowLabels?: string[];
}

/** An encoding job: raw interleaved 8-bit pixels, captions already drawn in, turned into a PNG by sharp. */
interface PngJob {
  raw: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Reads (N, C, H, W), (N, H, W) or (H, W) images as an (N, C, H, W) view with C in {1, 3}. */
function asImageBatch(fn: string, images: Tensor): { n: number; c: 1 | 3; h: number; w: number; t: Tensor } {
  checkTensor(fn, "images", images);
  let t = images;
  if (t.shape.length === 2) t = reshape(t, [1, 1, t.shape[0], t.shape[1]]);
  else if (t.shape.length === 3) t = reshape(t, [t.shape[0], 1, t.shape[1], t.shape[2]]);
  if (t.shape.length !== 4 || (t.shape[1] !== 1 && t.shape[1] !== 3)) {
    throw new ShapeError(
      `${fn}: images must have shape (N, 1, H, W), (N, 3, H, W), (N, H, W) or (H, W), got ${shapeStr(images.shape)}`,
    );
  }
  return { n: t.shape[0], c: t.shape[1] as 1 | 3, h: t.shape[2], w: t.shape[3], t };
}

const TEXT_COLOR: [number, number, number] = [34, 34, 34];
/** Captions and row labels longer than this many pixels are cut with an ellipsis. */
const MAX_CAPTION_PX = 200;
const MAX_ROW_LABEL_PX = 240;

/**
 * Lays images out in a grid of raw pixels (nearest-neighbour upscaling) and draws the captions into it.
 * A column is as wide as its widest caption, so captions never run into each other.
 */
export function composeImageGrid(images: Tensor, opts: ImageGridOptions = {}, fn = "imageGridPng"): PngJob {
  const { n, c, h, w, t } = asImageBatch(fn, images);
  if (n === 0) throw new ShapeError(`${fn}: images must hold at least one image, got shape ${shapeStr(images.shape)}`);
  const scale = opts.scale ?? (Math.max(h, w) <= 32 ? 3 : 1);
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) {
    throw new RangeError(`${fn}: scale must be an integer from 1 to 64, got ${scale}`);
  }
  const pad = opts.pad ?? 4;
  if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`${fn}: pad must be a non-negative integer, got ${pad}`);
  if (opts.columns !== undefined && (!Number.isInteger(opts.columns) || opts.columns < 1)) {
    throw new RangeError(`${fn}: columns must be a positive integer, got ${opts.columns}`);
  }
  const columns = Math.min(n, opts.columns ?? (n <= 10 ? n : 10));
  const rows = Math.ceil(n / columns);
  const { title } = opts;
  if (opts.labels && opts.labels.length !== n) {
    throw new ShapeError(`${fn}: labels must have one entry per image (${n}), got ${opts.labels.length}`);
  }
  if (opts.rowLabels && opts.rowLabels.length !== rows) {
    throw new ShapeError(`${fn}: rowLabels must have one entry per row (${rows}), got ${opts.rowLabels.length}`);
  }
  const cellW = w * scale;
  const cellH = h * scale;
  const labels = opts.labels?.map((s) => fitText(String(s), Math.max(cellW, MAX_CAPTION_PX)));
  const rowLabels = opts.rowLabels?.map((s) => fitText(String(s), MAX_ROW_LABEL_PX));
  const lineH = FONT_ASCENT + FONT_DESCENT;
  const colW = Math.max(cellW, ...(labels ?? []).map((s) => Math.ceil(textWidth(s)) + 4));
  const captionH = labels ? lineH + 4 : 0;
  const titleH = title ? lineH + 8 : 0;
  const rowLabelW = rowLabels ? Math.ceil(Math.max(...rowLabels.map(textWidth))) + 10 : 0;
  const gridW = rowLabelW + pad + columns * (colW + pad);
  const width = title ? Math.max(gridW, Math.ceil(textWidth(title)) + 2 * pad + 4) : gridW;
  const height = titleH + pad + rows * (cellH + captionH + pad);
  const channels = c;
  const raw = new Uint8Array(width * height * channels).fill(255);

  // Value mapping.
  const contig = contiguous(t);
  const cd = contig.data;
  const co = contig.offset;
  const imgSize = c * h * w;
  const rangeOf = (from: number, to: number): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = co + from; k < co + to; k++) {
      if (cd[k] < lo) lo = cd[k];
      if (cd[k] > hi) hi = cd[k];
    }
    return [lo, hi];
  };
  const all = rangeOf(0, n * imgSize);
  const mode: Normalize =
    opts.normalize ?? (all[0] >= 0 && all[1] <= 1 ? [0, 1] : all[0] >= 0 && all[1] <= 255 ? "none" : "per-image");
  if (Array.isArray(mode) && !(mode.length === 2 && Number.isFinite(mode[0]) && Number.isFinite(mode[1]) && mode[1] > mode[0])) {
    throw new RangeError(`${fn}: normalize range must be [lo, hi] with lo < hi, got ${JSON.stringify(mode)}`);
  }

  for (let i = 0; i < n; i++) {
    let lo = 0;
    let hi = 255;
    if (mode === "global") [lo, hi] = all;
    else if (Array.isArray(mode)) [lo, hi] = mode;
    else if (mode === "per-image") [lo, hi] = rangeOf(i * imgSize, (i + 1) * imgSize);
    const span = hi > lo ? hi - lo : 1;
    const row = Math.floor(i / columns);
    const col = i % columns;
    const x0 = rowLabelW + pad + col * (colW + pad) + Math.floor((colW - cellW) / 2);
    const y0 = titleH + pad + row * (cellH + captionH + pad);
    for (let yy = 0; yy < cellH; yy++) {
      const sy = Math.floor(yy / scale);
      for (let xx = 0; xx < cellW; xx++) {
        const sx = Math.floor(xx / scale);
        const dst = ((y0 + yy) * width + x0 + xx) * channels;
        for (let ch = 0; ch < channels; ch++) {
          const v = cd[co + i * imgSize + ch * h * w + sy * w + sx];
          const m = mode === "none" ? v : ((v - lo) / span) * 255;
          raw[dst + ch] = m >= 0 ? (m <= 255 ? Math.round(m) : 255) : 0; // NaN -> 0
        }
      }
    }
  }

  const ink = { color: TEXT_COLOR };
  if (title) drawText(raw, width, height, channels, title, pad + 2, 4 + FONT_ASCENT, ink);
  labels?.forEach((label, i) => {
    const cx = rowLabelW + pad + (i % columns) * (colW + pad) + colW / 2;
    const top = titleH + pad + Math.floor(i / columns) * (cellH + captionH + pad) + cellH;
    drawText(raw, width, height, channels, label, cx, top + 2 + FONT_ASCENT, { ...ink, align: "center" });
  });
  rowLabels?.forEach((label, r) => {
    const mid = titleH + pad + r * (cellH + captionH + pad) + cellH / 2;
    drawText(raw, width, height, channels, label, rowLabelW - 6, mid + 5, { ...ink, align: "right" });
  });
  return { raw, width, height, channels };
}

// The encoder, shared by the async path (this thread) and the worker behind the sync path.
const ENCODER_SOURCE = `
async function encodePng(sharp, job) {
  const raw = Buffer.from(job.raw.buffer, job.raw.byteOffset, job.raw.byteLength);
  let img = sharp(raw, { raw: { width: job.width, height: job.height, channels: job.channels } });
  // sharp writes one-channel input as RGB unless told that it is gray
  if (job.channels === 1) img = img.toColourspace("b-w");
  return img.png({ compressionLevel: 9 }).toBuffer();
}`;

type Sharp = unknown;
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const encodePng = new Function(`${ENCODER_SOURCE}; return encodePng;`)() as (sharp: Sharp, job: PngJob) => Promise<Buffer>;

let sharpModule: Sharp | null = null;
function loadSharp(): Sharp {
  if (!sharpModule) sharpModule = require("sharp") as Sharp;
  return sharpModule;
}

/**
 * Encodes images as one PNG grid with sharp, upscaled, with optional captions and row labels.
 * images: (N, C, H, W) with C in {1, 3}, or (N, H, W)
 */
export async function imageGridPng(images: Tensor, opts: ImageGridOptions = {}): Promise<Buffer> {
  return encodePng(loadSharp(), composeImageGrid(images, opts));
}

/**
 * Encodes one image as a PNG (no padding; upscaled like the grids).
 * img: (C, H, W) with C in {1, 3}, or (H, W)
 */
export async function tensorToPng(
  img: Tensor,
  opts: Pick<ImageGridOptions, "scale" | "normalize" | "title"> = {},
): Promise<Buffer> {
  checkTensor("tensorToPng", "img", img);
  if (img.shape.length !== 2 && img.shape.length !== 3) {
    throw new ShapeError(`tensorToPng: img must have shape (C, H, W) or (H, W), got ${shapeStr(img.shape)}`);
  }
  const batch = img.shape.length === 2 ? reshape(img, [1, 1, img.shape[0], img.shape[1]]) : reshape(img, [1, ...img.shape]);
  return encodePng(loadSharp(), composeImageGrid(batch, { pad: 0, ...opts }, "tensorToPng"));
}

/** Picks perClass examples of every class (seeded) and lays them out one row per class. */
export function classGridImages(
  fn: string,
  x: Tensor,
  y: Labels,
  classNames: string[],
  perClass: number,
  seed: number,
): { images: Tensor; opts: ImageGridOptions } {
  checkTensor(fn, "x", x);
  if (x.shape.length !== 3 && x.shape.length !== 4) {
    throw new ShapeError(`${fn}: x must have shape (N, C, H, W) or (N, H, W), got ${shapeStr(x.shape)}`);
  }
  checkLabels(fn, "y", y, x.shape[0], classNames.length);
  const picks = samplePerClass(y, classNames.length, perClass, seed);
  return { images: takeRows(x, picks), opts: { columns: perClass, rowLabels: classNames } };
}

/**
 * A PNG of perClass random examples (seeded) of every class, one row per class labelled with its name.
 * x: (N, C, H, W) or (N, H, W), y: (N) labels in 0..classNames.length-1
 */
export async function classGridPng(
  x: Tensor,
  y: Labels,
  classNames: string[],
  perClass = 8,
  seed = 0,
  opts: ImageGridOptions = {},
): Promise<Buffer> {
  const grid = classGridImages("classGridPng", x, y, classNames, perClass, seed);
  return encodePng(loadSharp(), composeImageGrid(grid.images, { ...grid.opts, ...opts }, "classGridPng"));
}

// ---------------------------------------------------------------- the synchronous path

// sharp only encodes asynchronously. A notebook cell that shows a picture without `await` still wants the
// picture in its own output, so the sync path hands the job to a worker thread running sharp and blocks
// on Atomics.wait until the worker has posted the PNG back.
interface SyncEncoder {
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
}
let syncEncoder: SyncEncoder | null = null;

function startSyncEncoder(): SyncEncoder {
  const sab = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const code = `
const { workerData } = require("node:worker_threads");
const sharp = require(workerData.sharpPath);
${ENCODER_SOURCE}
const flag = new Int32Array(workerData.sab);
workerData.port.on("message", async (job) => {
  try {
    const png = await encodePng(sharp, job);
    workerData.port.postMessage({ png });
  } catch (e) {
    workerData.port.postMessage({ error: String((e && e.message) || e) });
  }
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});`;
  const worker = new Worker(code, {
    eval: true,
    workerData: { sab, port: port2, sharpPath: require.resolve("sharp") },
    transferList: [port2],
  });
  worker.unref();
  port1.unref();
  return { worker, port: port1, flag: new Int32Array(sab) };
}

/** Encodes an image grid as a PNG with sharp, synchronously (sharp runs in a worker thread). */
export function imageGridPngSync(images: Tensor, opts: ImageGridOptions = {}): Buffer {
  const job = composeImageGrid(images, opts);
  if (!syncEncoder) syncEncoder = startSyncEncoder();
  const { port, flag } = syncEncoder;
  Atomics.store(flag, 0, 0);
  port.postMessage(job);
  if (Atomics.wait(flag, 0, 0, 60_000) === "timed-out") {
    throw new Error("imageGridPngSync: the PNG encoder did not answer within 60 s");
  }
  const reply = receiveMessageOnPort(port)?.message as { png?: Uint8Array; error?: string } | undefined;
  if (!reply || reply.error || !reply.png) {
    throw new Error(`imageGridPngSync: sharp failed to encode the grid: ${reply?.error ?? "no reply"}`);
  }
  return Buffer.from(reply.png.buffer, reply.png.byteOffset, reply.png.byteLength);
}
