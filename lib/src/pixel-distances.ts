import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ShapeError, shapeStr } from "./errors.js";
import { instantiateWasm } from "./gemm.js";
import { checkTensor, forEachIndex, type Tensor } from "./tensor.js";

/** Images whose pixels are integers 0..255, as zero-padded rows of 16-bit values (the kernel's layout). */
export interface PixelRows {
  /** n rows of d8 values; values past d are 0. */
  data: Int16Array;
  n: number;
  /** Pixels per image. */
  d: number;
  /** d rounded up to a multiple of 8. */
  d8: number;
}

/**
 * The 8-bit pixels behind x, when every value of x is k / scale for an integer k in 0..255 (to 1e-9),
 * as pixel datasets scaled to [0, 1] are; otherwise null.
 * x: (N, D)
 */
export function toPixelRows(x: Tensor, scale = 255): PixelRows | null {
  checkTensor("toPixelRows", "x", x, 2);
  const [n, d] = x.shape;
  const d8 = Math.ceil(d / 8) * 8;
  const data = new Int16Array(n * d8);
  const src = x.data;
  let ok = true;
  forEachIndex(x, (p, k) => {
    if (!ok) return;
    const v = src[p] * scale;
    const r = Math.round(v);
    if (!(Math.abs(v - r) <= 1e-9) || r < 0 || r > 255) {
      ok = false;
      return;
    }
    const row = Math.floor(k / d);
    data[row * d8 + (k - row * d)] = r;
  });
  return ok ? { data, n, d, d8 } : null;
}

interface DistanceExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  sqdist(test: number, nTest: number, train: number, nTrain: number, d8: number, testNorm: number, trainNorm: number, out: number): void;
  l1dist(test: number, nTest: number, train: number, nTrain: number, d8: number, out: number): void;
}

let wasmBytes: Uint8Array | null = null;

function kernelBytes(): Uint8Array {
  if (wasmBytes) return wasmBytes;
  const file = fileURLToPath(new URL("./wasm/distances.wasm", import.meta.url));
  if (!existsSync(file)) {
    throw new Error(`PixelDistances: the WebAssembly kernel ${file} is missing; build the library first (npm run build)`);
  }
  wasmBytes = readFileSync(file);
  return wasmBytes;
}

function rowNorms(rows: Int16Array, n: number, d8: number, out: Int32Array, at: number): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = i * d8, end = k + d8; k < end; k++) s += rows[k] * rows[k];
    out[at + i] = s;
  }
}

/**
 * Exact distances between 8-bit images, in integer arithmetic with WebAssembly SIMD: squared L2 and L1
 * in pixel units (divide by 255² or 255 for pixels scaled to [0, 1]). Holds the training images in its
 * own memory; one instance per thread.
 */
export class PixelDistances {
  private readonly ex: DistanceExports;
  private readonly nTrainPad: number;
  private readonly trainAt = 0;
  private readonly trainNormAt: number;
  private readonly scratchAt: number;

  /** train: the training images as PixelRows. */
  constructor(readonly train: PixelRows) {
    this.ex = instantiateWasm(kernelBytes()) as DistanceExports;
    this.nTrainPad = Math.ceil(train.n / 4) * 4;
    this.trainNormAt = this.nTrainPad * train.d8 * 2;
    this.scratchAt = align16(this.trainNormAt + this.nTrainPad * 4);
    this.ensure(this.scratchAt);
    new Int16Array(this.ex.memory.buffer, this.trainAt, train.n * train.d8).set(train.data);
    rowNorms(train.data, train.n, train.d8, new Int32Array(this.ex.memory.buffer), this.trainNormAt / 4);
  }

  private ensure(bytes: number): void {
    const have = this.ex.memory.buffer.byteLength;
    if (bytes > have) this.ex.memory.grow(Math.ceil((bytes - have) / 65536));
  }

  /**
   * Distances from test rows [start, start + count) to every training image, written row by row into
   * out (count * train.n values): squared L2 for "l2", L1 for "l1", both in pixel units.
   */
  compute(test: PixelRows, start: number, count: number, metric: "l2" | "l1", out: Int32Array): void {
    const d8 = this.train.d8;
    if (test.d !== this.train.d) {
      throw new ShapeError(`PixelDistances.compute: test images have ${test.d} pixels, the training images ${this.train.d}`);
    }
    if (start < 0 || count < 0 || start + count > test.n) {
      throw new RangeError(`PixelDistances.compute: rows [${start}, ${start + count}) are outside the ${test.n} test images`);
    }
    if (out.length < count * this.train.n) {
      throw new ShapeError(`PixelDistances.compute: out holds ${out.length} values, needs ${shapeStr([count, this.train.n])}`);
    }
    const nTrain = this.train.n;
    const nTest = count + (count & 1);
    const testAt = this.scratchAt;
    const testNormAt = align16(testAt + nTest * d8 * 2);
    const outAt = align16(testNormAt + nTest * 4);
    this.ensure(outAt + nTest * this.nTrainPad * 4);
    const buf = this.ex.memory.buffer;
    const testRows = new Int16Array(buf, testAt, nTest * d8);
    testRows.set(test.data.subarray(start * d8, (start + count) * d8));
    if (nTest > count) testRows.fill(0, count * d8);
    if (metric === "l2") {
      rowNorms(testRows, nTest, d8, new Int32Array(buf), testNormAt / 4);
      this.ex.sqdist(testAt, nTest, this.trainAt, this.nTrainPad, d8, testNormAt, this.trainNormAt, outAt);
    } else if (metric === "l1") {
      this.ex.l1dist(testAt, nTest, this.trainAt, this.nTrainPad, d8, outAt);
    } else {
      throw new TypeError(`PixelDistances.compute: metric must be "l2" or "l1", got ${String(metric)}`);
    }
    const res = new Int32Array(this.ex.memory.buffer, outAt, nTest * this.nTrainPad);
    for (let i = 0; i < count; i++) {
      out.set(res.subarray(i * this.nTrainPad, i * this.nTrainPad + nTrain), i * nTrain);
    }
  }
}

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}
