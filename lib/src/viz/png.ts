import { createRequire } from "node:module";
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { ShapeError, shapeStr } from "../errors.js";
import { checkTensor, contiguous, reshape, type Tensor } from "../tensor.js";

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
   * Value mapping: "none" clips to 0..255 (raw pixels), "per-image" (default for values outside
   * 0..255) stretches each image's min..max, "global" all images' min..max, or a fixed [lo, hi].
   */
  normalize?: Normalize;
  /** A title drawn above the grid. */
  title?: string;
  /** Row captions drawn left of each row (e.g. class names). */
  rowLabels?: string[];
}

/** An encoding job: raw pixels plus an SVG overlay of text, turned into a PNG by sharp. */
interface PngJob {
  raw: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
  svg: string | null;
}

const FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif";

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Reads (N, C, H, W), (N, H, W) or (H, W) images as a list of (C, H, W) views with C in {1, 3}. */
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

/** Lays images out in a grid of raw pixels (nearest-neighbour upscaling) plus an SVG text overlay. */
export function composeImageGrid(images: Tensor, opts: ImageGridOptions = {}): PngJob {
  const fn = "imageGridPng";
  const { n, c, h, w, t } = asImageBatch(fn, images);
  if (n === 0) throw new ShapeError(`${fn}: images must hold at least one image, got shape ${shapeStr(images.shape)}`);
  const scale = opts.scale ?? (Math.max(h, w) <= 32 ? 3 : 1);
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) {
    throw new RangeError(`${fn}: scale must be an integer from 1 to 64, got ${scale}`);
  }
  const pad = opts.pad ?? 4;
  const columns = Math.max(1, Math.min(n, opts.columns ?? (n <= 10 ? n : 10)));
  const rows = Math.ceil(n / columns);
  const { labels, rowLabels, title } = opts;
  if (labels && labels.length !== n) {
    throw new ShapeError(`${fn}: labels must have one entry per image (${n}), got ${labels.length}`);
  }
  if (rowLabels && rowLabels.length !== rows) {
    throw new ShapeError(`${fn}: rowLabels must have one entry per row (${rows}), got ${rowLabels.length}`);
  }
  const cellW = w * scale;
  const cellH = h * scale;
  const fontSize = Math.max(10, Math.min(14, Math.round(cellW / 6)));
  const captionH = labels ? fontSize + 6 : 0;
  const titleH = title ? fontSize + 12 : 0;
  const longestRowLabel = rowLabels ? Math.max(...rowLabels.map((s) => s.length)) : 0;
  const rowLabelW = rowLabels ? Math.ceil(longestRowLabel * fontSize * 0.62) + 10 : 0;
  const width = rowLabelW + pad + columns * (cellW + pad);
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
  const mode: Normalize = opts.normalize ?? (all[0] >= 0 && all[1] <= 255 ? "none" : "per-image");

  for (let i = 0; i < n; i++) {
    let lo = 0;
    let hi = 255;
    if (mode === "global") [lo, hi] = all;
    else if (Array.isArray(mode)) [lo, hi] = mode;
    else if (mode === "per-image") [lo, hi] = rangeOf(i * imgSize, (i + 1) * imgSize);
    const span = hi > lo ? hi - lo : 1;
    const row = Math.floor(i / columns);
    const col = i % columns;
    const x0 = rowLabelW + pad + col * (cellW + pad);
    const y0 = titleH + pad + row * (cellH + captionH + pad);
    for (let yy = 0; yy < cellH; yy++) {
      const sy = Math.floor(yy / scale);
      for (let xx = 0; xx < cellW; xx++) {
        const sx = Math.floor(xx / scale);
        const dst = ((y0 + yy) * width + x0 + xx) * channels;
        for (let ch = 0; ch < channels; ch++) {
          const v = cd[co + i * imgSize + ch * h * w + sy * w + sx];
          const m = mode === "none" ? v : ((v - lo) / span) * 255;
          raw[dst + ch] = m <= 0 ? 0 : m >= 255 ? 255 : Math.round(m);
        }
      }
    }
  }

  let svg: string | null = null;
  if (labels || rowLabels || title) {
    const parts: string[] = [];
    if (title) {
      parts.push(`<text x="${pad}" y="${fontSize + 4}" font-size="${fontSize + 1}" font-weight="bold">${escapeXml(title)}</text>`);
    }
    labels?.forEach((label, i) => {
      const x = rowLabelW + pad + (i % columns) * (cellW + pad) + cellW / 2;
      const y = titleH + pad + Math.floor(i / columns) * (cellH + captionH + pad) + cellH + fontSize + 1;
      parts.push(`<text x="${x}" y="${y}" font-size="${fontSize}" text-anchor="middle">${escapeXml(label)}</text>`);
    });
    rowLabels?.forEach((label, r) => {
      const y = titleH + pad + r * (cellH + captionH + pad) + cellH / 2 + fontSize / 3;
      parts.push(`<text x="${rowLabelW - 6}" y="${y}" font-size="${fontSize}" text-anchor="end">${escapeXml(label)}</text>`);
    });
    svg =
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<g font-family="${FONT}" fill="#222">${parts.join("")}</g></svg>`;
  }
  return { raw, width, height, channels, svg };
}

// The encoder, shared by the async path (this thread) and the worker behind the sync path.
const ENCODER_SOURCE = `
async function encodePng(sharp, job) {
  let img = sharp(Buffer.from(job.raw.buffer, job.raw.byteOffset, job.raw.byteLength), {
    raw: { width: job.width, height: job.height, channels: job.channels },
  });
  if (job.svg) {
    if (job.channels === 1) img = sharp(await img.toColourspace("srgb").png().toBuffer());
    img = img.composite([{ input: Buffer.from(job.svg), top: 0, left: 0 }]);
    if (job.channels === 1) img = img.toColourspace("b-w");
  }
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

/** Encodes an image grid as a PNG with sharp. images: (N, C, H, W), C in {1, 3}, or (N, H, W) */
export async function imageGridPng(images: Tensor, opts: ImageGridOptions = {}): Promise<Buffer> {
  return encodePng(loadSharp(), composeImageGrid(images, opts));
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
