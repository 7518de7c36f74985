import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { tensor } from "../tensor.js";
import { isDirectory, isFile, resolveLimit } from "./common.js";
import { CIFAR10_HELP, DataError } from "./errors.js";
import type { ImageDataset, LimitOptions } from "./types.js";

/** CIFAR-10's class names, indexed by label (the order of batches.meta.txt). */
export const CIFAR10_CLASSES: string[] = Object.freeze([
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
]) as string[];

/** One record of the binary version: 1 label byte, then 32x32 red, 32x32 green, 32x32 blue bytes. */
export const CIFAR10_RECORD_BYTES = 1 + 3 * 32 * 32;

/** The training batch files, in the order they are read, and the test batch. */
export const CIFAR10_TRAIN_FILES = Object.freeze([1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`));
export const CIFAR10_TEST_FILE = "test_batch.bin";
export const CIFAR10_META_FILE = "batches.meta.txt";
const BATCH_FOLDER = "cifar-10-batches-bin";

/**
 * Finds the folder holding CIFAR-10's binary batch files: opts.dir or CIFAR10_DIR, or its
 * cifar-10-batches-bin subfolder. Throws a DataError saying where it looked and how to get the data.
 */
export function locateCifar10(opts: { dir?: string } = {}): string {
  const fn = "loadCifar10";
  const env = process.env.CIFAR10_DIR;
  const base = opts.dir ?? (env !== undefined && env !== "" ? env : undefined);
  const why = opts.dir !== undefined ? "options dir" : "CIFAR10_DIR";
  if (base === undefined) {
    throw new DataError(`${fn}: no CIFAR-10 location given: pass { dir } or set CIFAR10_DIR. ${CIFAR10_HELP}`);
  }
  if (!isDirectory(base)) {
    throw new DataError(
      `${fn}: ${base} (${why}) does not exist or is not a directory; expected a folder holding ${BATCH_FOLDER} ` +
        `or the batch files data_batch_1.bin .. data_batch_5.bin and test_batch.bin. ${CIFAR10_HELP}`,
    );
  }
  const nested = join(base, BATCH_FOLDER);
  if (isDirectory(nested)) return resolve(nested);
  if (isFile(join(base, CIFAR10_TRAIN_FILES[0])) || isFile(join(base, CIFAR10_TEST_FILE))) return resolve(base);
  const pyHint = isDirectory(join(base, "cifar-10-batches-py"))
    ? ` It holds cifar-10-batches-py, the python version, which is a different format.`
    : "";
  throw new DataError(
    `${fn}: ${base} (${why}) holds neither ${BATCH_FOLDER}/ nor ${CIFAR10_TRAIN_FILES[0]}; expected the binary ` +
      `version's batch files data_batch_1.bin .. data_batch_5.bin and test_batch.bin.${pyHint} ${CIFAR10_HELP}`,
  );
}

function missingFile(dir: string, name: string): DataError {
  return new DataError(
    `loadCifar10: missing file ${name} in ${dir}; expected the binary version's batch files ` +
      `${[...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].join(", ")}. ${CIFAR10_HELP}`,
  );
}

/** The number of records of a batch file of `size` bytes; a DataError unless it is a whole, non-zero number. */
function checkRecordBytes(path: string, size: number): number {
  if (size === 0 || size % CIFAR10_RECORD_BYTES !== 0) {
    const whole = Math.floor(size / CIFAR10_RECORD_BYTES);
    throw new DataError(
      `loadCifar10: ${path} has ${size} bytes, which is not a whole, non-zero number of ${CIFAR10_RECORD_BYTES}-byte ` +
        `records (1 label byte + 3072 pixel bytes each; a full batch is 10000 records = 30730000 bytes): ${whole} ` +
        `whole records and ${size - whole * CIFAR10_RECORD_BYTES} bytes left over. The file is truncated or is not ` +
        `the binary version. ${CIFAR10_HELP}`,
    );
  }
  return size / CIFAR10_RECORD_BYTES;
}

function recordCount(dir: string, name: string): number {
  const path = join(dir, name);
  if (!isFile(path)) throw missingFile(dir, name);
  return checkRecordBytes(path, statSync(path).size);
}

/** Reads the first `take` records of a batch file into x (from image `at`) and y. */
function readRecords(dir: string, name: string, take: number, x: Float64Array, y: Int32Array, at: number): void {
  if (take === 0) return;
  const path = join(dir, name);
  // Re-checked on the bytes read, in case the file changed since it was first measured.
  const buf = readFileSync(path);
  checkRecordBytes(path, buf.length);
  const px = 3 * 32 * 32;
  for (let r = 0; r < take; r++) {
    const base = r * CIFAR10_RECORD_BYTES;
    const label = buf[base];
    if (label > 9) {
      throw new DataError(
        `loadCifar10: ${path}: record ${r} has label ${label}; expected a class in 0..9 (is this CIFAR-100 or ` +
          `not a CIFAR-10 batch?). ${CIFAR10_HELP}`,
      );
    }
    y[at + r] = label;
    // The record's pixels are already channel-major (R plane, G plane, B plane, each row-major 32x32),
    // which is exactly the (C, H, W) layout of one image.
    const o = (at + r) * px;
    for (let k = 0; k < px; k++) x[o + k] = buf[base + 1 + k];
  }
}

function readClassNames(dir: string): string[] {
  const path = join(dir, CIFAR10_META_FILE);
  if (!isFile(path)) return [...CIFAR10_CLASSES];
  const names = readFileSync(path, "utf8")
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (names.length !== 10) {
    throw new DataError(
      `loadCifar10: ${path} lists ${names.length} class names; expected 10, one per line. ${CIFAR10_HELP}`,
    );
  }
  return names;
}

/**
 * Loads CIFAR-10's binary version from opts.dir or CIFAR10_DIR (the folder holding cifar-10-batches-bin,
 * or that folder itself); maxTrain / maxTest keep the first examples.
 * xTrain: (N, 3, 32, 32), yTrain: (N), xTest: (M, 3, 32, 32), yTest: (M)
 */
export function loadCifar10(opts: { dir?: string } & LimitOptions = {}): ImageDataset {
  const fn = "loadCifar10";
  resolveLimit(fn, "maxTrain", opts.maxTrain, 0);
  resolveLimit(fn, "maxTest", opts.maxTest, 0);
  const dir = locateCifar10(opts);
  const trainCounts = CIFAR10_TRAIN_FILES.map((f) => recordCount(dir, f));
  const testCount = recordCount(dir, CIFAR10_TEST_FILE);
  const classNames = readClassNames(dir);
  const nTrain = resolveLimit(fn, "maxTrain", opts.maxTrain, trainCounts.reduce((a, b) => a + b, 0));
  const nTest = resolveLimit(fn, "maxTest", opts.maxTest, testCount);
  const px = 3 * 32 * 32;
  const xTrain = new Float64Array(nTrain * px);
  const yTrain = new Int32Array(nTrain);
  let at = 0;
  CIFAR10_TRAIN_FILES.forEach((f, i) => {
    const take = Math.min(trainCounts[i], nTrain - at);
    readRecords(dir, f, take, xTrain, yTrain, at);
    at += take;
  });
  const xTest = new Float64Array(nTest * px);
  const yTest = new Int32Array(nTest);
  readRecords(dir, CIFAR10_TEST_FILE, nTest, xTest, yTest, 0);
  return {
    xTrain: tensor(xTrain, [nTrain, 3, 32, 32]),
    yTrain,
    xTest: tensor(xTest, [nTest, 3, 32, 32]),
    yTest,
    classNames,
    name: "cifar-10",
    source: "full",
    location: dir,
  };
}
