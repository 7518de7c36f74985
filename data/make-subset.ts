/**
 * Writes the embedded Fashion-MNIST subset (data/fashion-mnist-subset) from the full idx .gz files: the first
 * 5,000 training and the first 1,000 test images and labels, in the same idx .gz format, plus SHA256SUMS.
 *
 *   npm run data:subset                        # reads FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist
 *   npm run data:subset -- --from DIR --out DIR --train 5000 --test 1000
 *
 * gzip runs at a fixed level with a zero timestamp and a fixed OS byte, so the same Node.js (same zlib) writes
 * the same bytes every time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import {
  CHECKSUM_FILE,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SYSTEM_DIR,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  loadFashionMnist,
} from "../lib/src/data/fashion-mnist.js";
import { idxEncode, idxRead, sha256Hex } from "../lib/src/data/idx.js";

const GZIP_LEVEL = 9;

function parseArgs(argv: string[]): { from: string; out: string; train: number; test: number } {
  const here = dirname(fileURLToPath(import.meta.url));
  const env = process.env.FASHION_MNIST_DIR;
  const opts = {
    from: env !== undefined && env !== "" ? env : FASHION_MNIST_SYSTEM_DIR,
    out: join(here, "fashion-mnist-subset"),
    train: 5000,
    test: 1000,
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`make-subset: ${key} needs a value`);
    i++;
    if (key === "--from") opts.from = value;
    else if (key === "--out") opts.out = value;
    else if (key === "--train" || key === "--test") {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`make-subset: ${key} must be a positive integer, got ${value}`);
      opts[key === "--train" ? "train" : "test"] = n;
    } else throw new Error(`make-subset: unknown option ${key} (use --from, --out, --train, --test)`);
  }
  return { ...opts, from: resolve(opts.from), out: resolve(opts.out) };
}

/** gzip with fixed settings; the header's mtime is already 0, and the OS byte is pinned to 3 (Unix). */
function gzipFixed(bytes: Uint8Array): Buffer {
  const gz = gzipSync(bytes, { level: GZIP_LEVEL });
  if (gz.readUInt32LE(4) !== 0) throw new Error("make-subset: expected zlib to write a zero mtime");
  gz[9] = 3;
  return gz;
}

function firstItems(from: string, base: string, magic: number, n: number): { dims: number[]; bytes: Uint8Array } {
  const full = idxRead(join(from, `${base}.gz`), { expectMagic: magic, what: base });
  if (full.dims[0] < n) throw new Error(`make-subset: ${base} has only ${full.dims[0]} entries, need ${n}`);
  const dims = [n, ...full.dims.slice(1)];
  const itemSize = dims.slice(1).reduce((a, d) => a * d, 1);
  return { dims, bytes: (full.data as Uint8Array).subarray(0, n * itemSize) };
}

function main(): void {
  const { from, out, train, test } = parseArgs(process.argv.slice(2));
  mkdirSync(out, { recursive: true });
  const f = FASHION_MNIST_FILES;
  const plan: Array<[string, number, number]> = [
    [f.trainImages, IDX_IMAGES_MAGIC, train],
    [f.trainLabels, IDX_LABELS_MAGIC, train],
    [f.testImages, IDX_IMAGES_MAGIC, test],
    [f.testLabels, IDX_LABELS_MAGIC, test],
  ];
  const lines: string[] = [];
  for (const [base, magic, n] of plan) {
    const { dims, bytes } = firstItems(from, base, magic, n);
    const idx = idxEncode(dims, bytes);
    const gz = gzipFixed(idx);
    const name = `${base}.gz`;
    writeFileSync(join(out, name), gz);
    lines.push(`${sha256Hex(gz)}  ${name}`);
    console.log(
      `${name}: dims ${dims.join("x")}, ${idx.length} bytes, gzip ${gz.length} bytes, ` +
        `sha256 ${sha256Hex(gz)} (uncompressed sha256 ${sha256Hex(idx)})`,
    );
  }
  writeFileSync(join(out, CHECKSUM_FILE), lines.join("\n") + "\n");
  // Read it back through the library's loader, checksums included.
  const ds = loadFashionMnist({ dir: out, embedded: false });
  console.log(`read back: ${ds.xTrain.shape[0]} train, ${ds.xTest.shape[0]} test images from ${out}`);
}

main();
