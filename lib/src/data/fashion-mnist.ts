import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { quickMode } from "../env.js";
import { bytesToTensor, exists, isDirectory, isFile, resolveLimit } from "./common.js";
import { DataError, EMBEDDED_HELP, FASHION_MNIST_HELP } from "./errors.js";
import { idxRead, sha256Hex } from "./idx.js";
import type { ImageDataset, LimitOptions } from "./types.js";

/** Fashion-MNIST's class names, indexed by label. */
export const FASHION_MNIST_CLASSES: string[] = Object.freeze([
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
]) as string[];

/** Where Debian's dataset-fashion-mnist package installs the idx .gz files. */
export const FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist";

/** The four idx files of Fashion-MNIST (each read as NAME.gz or uncompressed NAME). */
export const FASHION_MNIST_FILES = Object.freeze({
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
});

/** Magic numbers of idx files of unsigned bytes with 3 dimensions (images) and 1 dimension (labels). */
export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

/** The name of the checksum file (sha256sum format: `<hex>  <file name>` per line). */
export const CHECKSUM_FILE = "SHA256SUMS";

const SUBSET_DIR_NAME = join("data", "fashion-mnist-subset");

/**
 * Absolute path of the Fashion-MNIST subset committed in the repository's data/ folder
 * (found relative to this module: lib/src/data or lib/dist/data -> data/fashion-mnist-subset).
 */
export function embeddedSubsetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const direct = resolve(here, "..", "..", "..", SUBSET_DIR_NAME);
  if (exists(direct)) return direct;
  // A copied or relocated lib: look in the ancestors for data/fashion-mnist-subset.
  for (let d = here; ; ) {
    const candidate = join(d, SUBSET_DIR_NAME);
    if (exists(join(candidate, CHECKSUM_FILE))) return candidate;
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return direct;
}

/** Where the Fashion-MNIST files will be read from, and why. */
export interface DatasetLocation {
  dir: string;
  source: "full" | "embedded";
  /** Why this directory was chosen, e.g. "set in FASHION_MNIST_DIR". */
  reason: string;
}

export interface LocateFashionMnistOptions {
  /** Read from this directory (first in the search order). */
  dir?: string;
  /** true: read the embedded subset; false: require the full files; unset: search, else the subset. */
  embedded?: boolean;
  /** The system directory searched after FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist). */
  systemDir?: string;
}

function sameDir(a: string, b: string): boolean {
  return resolve(a) === resolve(b);
}

/**
 * Picks the Fashion-MNIST directory: opts.dir, then FASHION_MNIST_DIR, then the system directory, else the
 * embedded subset. In quick mode (SEMANTIC_GAP_QUICK=1) the embedded subset wins unless opts.dir is given or
 * embedded is false. A dir or FASHION_MNIST_DIR that does not exist is an error, not a silent fallback.
 */
export function locateFashionMnist(opts: LocateFashionMnistOptions = {}): DatasetLocation {
  const fn = "loadFashionMnist";
  const embedded = embeddedSubsetDir();
  const sourceOf = (d: string): "full" | "embedded" => (sameDir(d, embedded) ? "embedded" : "full");
  if (opts.embedded === true) {
    if (opts.dir !== undefined && !sameDir(opts.dir, embedded)) {
      throw new DataError(`${fn}: options dir (${opts.dir}) and embedded: true contradict each other; pass one of them.`);
    }
    return { dir: embedded, source: "embedded", reason: "the embedded subset, as embedded: true asks" };
  }
  if (opts.dir !== undefined) {
    if (!isDirectory(opts.dir)) {
      throw new DataError(
        `${fn}: the directory ${opts.dir} (options dir) does not exist or is not a directory; expected a folder ` +
          `holding the four Fashion-MNIST idx files. ${FASHION_MNIST_HELP}`,
      );
    }
    return { dir: resolve(opts.dir), source: sourceOf(opts.dir), reason: "given as options dir" };
  }
  if (quickMode() && opts.embedded !== false) {
    return { dir: embedded, source: "embedded", reason: "the embedded subset, as quick mode (SEMANTIC_GAP_QUICK=1) asks" };
  }
  const env = process.env.FASHION_MNIST_DIR;
  if (env !== undefined && env !== "") {
    if (!isDirectory(env)) {
      throw new DataError(
        `${fn}: FASHION_MNIST_DIR is set to ${env}, which does not exist or is not a directory; expected a folder ` +
          `holding the four Fashion-MNIST idx files (unset FASHION_MNIST_DIR to use the defaults). ${FASHION_MNIST_HELP}`,
      );
    }
    return { dir: resolve(env), source: sourceOf(env), reason: "set in FASHION_MNIST_DIR" };
  }
  const systemDir = opts.systemDir ?? FASHION_MNIST_SYSTEM_DIR;
  if (isDirectory(systemDir)) return { dir: systemDir, source: sourceOf(systemDir), reason: "the system location" };
  if (opts.embedded === false) {
    throw new DataError(
      `${fn}: the full Fashion-MNIST was not found (FASHION_MNIST_DIR is not set and ${systemDir} does not ` +
        `exist) and embedded: false rules out the embedded subset. ${FASHION_MNIST_HELP}`,
    );
  }
  return { dir: embedded, source: "embedded", reason: "the embedded subset, as no full dataset is installed" };
}

/** Parses a sha256sum-style file into a map from file name to lowercase hex digest. */
export function parseChecksums(text: string, where: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) return;
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(t);
    if (!m) {
      throw new DataError(
        `${where}: line ${i + 1} is not '<64 hex digits>  <file name>': ${JSON.stringify(t.slice(0, 80))}`,
      );
    }
    out.set(m[2].trim(), m[1].toLowerCase());
  });
  return out;
}

function readChecksums(dir: string, required: boolean, help: string): Map<string, string> | null {
  const path = join(dir, CHECKSUM_FILE);
  if (!isFile(path)) {
    if (!required) return null;
    throw new DataError(
      `loadFashionMnist: the checksum file ${CHECKSUM_FILE} is missing from ${dir}; expected one SHA-256 line ` +
        `per idx file of the embedded subset. ${help}`,
    );
  }
  return parseChecksums(readFileSync(path, "utf8"), `loadFashionMnist: ${path}`);
}

interface ReadFileResult {
  path: string;
  bytes: Uint8Array;
}

function readDatasetFile(
  loc: DatasetLocation,
  base: string,
  what: string,
  sums: Map<string, string> | null,
  help: string,
): ReadFileResult {
  const candidates = [`${base}.gz`, base];
  const name = candidates.find((c) => isFile(join(loc.dir, c)));
  if (name === undefined) {
    throw new DataError(
      `loadFashionMnist: missing file ${base}.gz (or uncompressed ${base}) with the ${what} in ${loc.dir} ` +
        `(${loc.reason}); expected all four Fashion-MNIST idx files there. ${help}`,
    );
  }
  const path = join(loc.dir, name);
  const bytes = readFileSync(path);
  if (sums) {
    const expected = sums.get(name);
    if (expected === undefined) {
      throw new DataError(
        `loadFashionMnist: ${join(loc.dir, CHECKSUM_FILE)} has no SHA-256 entry for ${name}; expected one line per ` +
          `idx file. ${help}`,
      );
    }
    const actual = sha256Hex(bytes);
    if (actual !== expected) {
      throw new DataError(
        `loadFashionMnist: checksum mismatch for ${path}: expected SHA-256 ${expected} (from ${CHECKSUM_FILE}), ` +
          `got ${actual}; the file is corrupt or was modified. ${help}`,
      );
    }
  }
  return { path, bytes };
}

function readSplit(
  loc: DatasetLocation,
  split: "training" | "test",
  imagesBase: string,
  labelsBase: string,
  limit: number | undefined,
  limitName: string,
  sums: Map<string, string> | null,
  help: string,
): { x: ImageDataset["xTrain"]; y: Int32Array } {
  const fn = "loadFashionMnist";
  const imgFile = readDatasetFile(loc, imagesBase, `${split} images`, sums, help);
  const lblFile = readDatasetFile(loc, labelsBase, `${split} labels`, sums, help);
  const images = idxRead(imgFile.bytes, {
    expectMagic: IDX_IMAGES_MAGIC,
    what: `Fashion-MNIST ${split} images`,
    itemNoun: "images",
    where: imgFile.path,
    help,
  });
  const labels = idxRead(lblFile.bytes, {
    expectMagic: IDX_LABELS_MAGIC,
    what: `Fashion-MNIST ${split} labels`,
    itemNoun: "labels",
    where: lblFile.path,
    help,
  });
  const [n, h, w] = images.dims;
  if (h !== 28 || w !== 28) {
    throw new DataError(`${fn}: ${imgFile.path}: expected 28x28 Fashion-MNIST images, got ${h}x${w}. ${help}`);
  }
  if (labels.dims[0] !== n) {
    throw new DataError(
      `${fn}: ${lblFile.path} has ${labels.dims[0]} labels but ${imgFile.path} has ${n} images; expected one ` +
        `label per image (the two files do not belong together or one is damaged). ${help}`,
    );
  }
  const lbl = labels.data as Uint8Array;
  for (let i = 0; i < lbl.length; i++) {
    if (lbl[i] > 9) {
      throw new DataError(
        `${fn}: ${lblFile.path}: label ${lbl[i]} at index ${i} is out of range; expected a class in 0..9. ${help}`,
      );
    }
  }
  const take = resolveLimit(fn, limitName, limit, n);
  const x = bytesToTensor(images.data as Uint8Array, take, [1, 28, 28]);
  const y = Int32Array.from(lbl.subarray(0, take));
  return { x, y };
}

export interface LoadFashionMnistOptions extends LimitOptions {
  /** Read from this directory (first in the search order). */
  dir?: string;
  /** true: read the embedded subset; false: require the full files; unset: search, else the subset. */
  embedded?: boolean;
  /** The system directory searched after FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist). */
  systemDir?: string;
}

/**
 * Loads Fashion-MNIST from idx files (.gz or uncompressed): opts.dir, then FASHION_MNIST_DIR, then
 * /usr/share/datasets/fashion-mnist, else the embedded subset (checked against its SHA-256 sums); quick
 * mode reads the embedded subset. maxTrain / maxTest keep the first examples.
 * xTrain: (N, 1, 28, 28), yTrain: (N), xTest: (M, 1, 28, 28), yTest: (M)
 */
export function loadFashionMnist(opts: LoadFashionMnistOptions = {}): ImageDataset {
  resolveLimit("loadFashionMnist", "maxTrain", opts.maxTrain, 0);
  resolveLimit("loadFashionMnist", "maxTest", opts.maxTest, 0);
  return readFashionMnist(locateFashionMnist(opts), opts);
}

/**
 * Reads the four Fashion-MNIST idx files from a located directory (see locateFashionMnist); an embedded
 * location must carry SHA256SUMS, any other is checked against SHA256SUMS when it has one.
 * xTrain: (N, 1, 28, 28), yTrain: (N), xTest: (M, 1, 28, 28), yTest: (M)
 */
export function readFashionMnist(loc: DatasetLocation, limits: LimitOptions = {}): ImageDataset {
  resolveLimit("loadFashionMnist", "maxTrain", limits.maxTrain, 0);
  resolveLimit("loadFashionMnist", "maxTest", limits.maxTest, 0);
  const help = loc.source === "embedded" ? EMBEDDED_HELP : FASHION_MNIST_HELP;
  if (!isDirectory(loc.dir)) {
    throw new DataError(
      `loadFashionMnist: the directory ${loc.dir} (${loc.reason}) does not exist; expected a folder holding the ` +
        `four Fashion-MNIST idx files. ${help}`,
    );
  }
  const sums = readChecksums(loc.dir, loc.source === "embedded", help);
  const f = FASHION_MNIST_FILES;
  const train = readSplit(loc, "training", f.trainImages, f.trainLabels, limits.maxTrain, "maxTrain", sums, help);
  const test = readSplit(loc, "test", f.testImages, f.testLabels, limits.maxTest, "maxTest", sums, help);
  return {
    xTrain: train.x,
    yTrain: train.y,
    xTest: test.x,
    yTest: test.y,
    classNames: [...FASHION_MNIST_CLASSES],
    name: "fashion-mnist",
    source: loc.source,
    location: loc.dir,
  };
}
