import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import {
  at,
  DataError,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SYSTEM_DIR,
  classCounts,
  embeddedSubsetDir,
  idxEncode,
  idxRead,
  loadFashionMnist,
  locateFashionMnist,
  readFashionMnist,
  sha256Hex,
  sliceRows,
  sum,
} from "../src/index.js";

// Reference numbers computed independently with numpy (gzip.open + np.frombuffer) on the official
// Fashion-MNIST files; integers, so they are compared exactly.
const REF = {
  firstTrainLabels: [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4],
  firstTestLabels: [9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0],
  trainImage0Sum: 76247,
  trainImage0Row10: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 193, 228, 218, 213, 198, 180, 212, 210, 211, 213, 223, 220, 243, 202, 0],
  testImage0Sum: 33456,
  first5000TrainCounts: [457, 556, 504, 501, 488, 493, 493, 512, 490, 506],
  first1000TestCounts: [107, 105, 111, 93, 115, 87, 97, 95, 95, 95],
  first5000TrainPixelSum: 286031984,
  first1000TestPixelSum: 58034149,
  fullTrainPixelSum: 3431114169,
  lastTrainLabel: 5,
  lastTrainImageSum: 16684,
  lastTestLabel: 5,
  lastTestImageSum: 24390,
};

const fullDir = process.env.FASHION_MNIST_DIR || FASHION_MNIST_SYSTEM_DIR;
const fullPresent = existsSync(join(fullDir, `${FASHION_MNIST_FILES.trainLabels}.gz`));

const tmp = mkdtempSync(join(tmpdir(), "sg-fmnist-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

/** Sets the environment the search depends on: no quick mode, no FASHION_MNIST_DIR unless given. */
function cleanEnv(fashionDir?: string): void {
  vi.stubEnv("SEMANTIC_GAP_QUICK", "");
  vi.stubEnv("FASHION_MNIST_DIR", fashionDir ?? "");
}

function expectDataError(fn: () => unknown, fragments: Array<string | RegExp>): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, "expected a DataError").toBeInstanceOf(DataError);
  const msg = (err as Error).message;
  for (const f of fragments) {
    if (typeof f === "string") expect(msg).toContain(f);
    else expect(msg).toMatch(f);
  }
}

let fakeCount = 0;
/**
 * Writes a small dataset in Fashion-MNIST's format: nTrain/nTest images whose pixel (i, r, c) is
 * (i + r + c) % 256, labels i % 10. `edit` may replace any file's uncompressed bytes before writing.
 */
function writeFake(
  opts: { nTrain?: number; nTest?: number; gz?: boolean; edit?: (name: string, bytes: Uint8Array) => Uint8Array | null } = {},
): string {
  const { nTrain = 4, nTest = 3, gz = true, edit = (_n: string, b: Uint8Array) => b } = opts;
  const dir = join(tmp, `fake${fakeCount++}`);
  mkdirSync(dir);
  const images = (n: number) =>
    idxEncode([n, 28, 28], Uint8Array.from({ length: n * 784 }, (_, k) => (Math.floor(k / 784) + Math.floor((k % 784) / 28) + (k % 28)) % 256));
  const labels = (n: number) => idxEncode([n], Uint8Array.from({ length: n }, (_, i) => i % 10));
  const f = FASHION_MNIST_FILES;
  const files: Array<[string, Uint8Array]> = [
    [f.trainImages, images(nTrain)],
    [f.trainLabels, labels(nTrain)],
    [f.testImages, images(nTest)],
    [f.testLabels, labels(nTest)],
  ];
  for (const [base, bytes] of files) {
    const edited = edit(base, bytes);
    if (edited === null) continue;
    writeFileSync(join(dir, gz ? `${base}.gz` : base), gz ? gzipSync(edited) : edited);
  }
  return dir;
}

describe("the embedded subset", () => {
  it("lives in data/fashion-mnist-subset and matches its SHA256SUMS", () => {
    const dir = embeddedSubsetDir();
    expect(dir.replace(/\\/g, "/")).toMatch(/\/data\/fashion-mnist-subset$/);
    const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8").trim().split("\n");
    expect(sums).toHaveLength(4);
    for (const line of sums) {
      const [hex, name] = line.split(/\s+/);
      expect(sha256Hex(readFileSync(join(dir, name))), name).toBe(hex);
    }
  });

  it("loads with the right shapes, labels and pixel values (embedded: true)", () => {
    cleanEnv();
    const ds = loadFashionMnist({ embedded: true });
    expect(ds.name).toBe("fashion-mnist");
    expect(ds.source).toBe("embedded");
    expect(ds.location).toBe(embeddedSubsetDir());
    expect(ds.xTrain.shape).toEqual([5000, 1, 28, 28]);
    expect(ds.xTest.shape).toEqual([1000, 1, 28, 28]);
    expect(ds.xTrain.data).toBeInstanceOf(Float64Array);
    expect(ds.yTrain).toBeInstanceOf(Int32Array);
    expect(ds.yTrain).toHaveLength(5000);
    expect(ds.yTest).toHaveLength(1000);
    expect(ds.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(ds.classNames[ds.yTrain[0]]).toBe("Ankle boot");
    expect(Array.from(ds.yTrain.subarray(0, 20))).toEqual(REF.firstTrainLabels);
    expect(Array.from(ds.yTest.subarray(0, 20))).toEqual(REF.firstTestLabels);
    expect(sum(sliceRows(ds.xTrain, 0, 1))).toBe(REF.trainImage0Sum);
    expect(sum(sliceRows(ds.xTest, 0, 1))).toBe(REF.testImage0Sum);
    const row10 = Array.from({ length: 28 }, (_, c) => at(ds.xTrain, 0, 0, 10, c));
    expect(row10).toEqual(REF.trainImage0Row10);
    expect(sum(ds.xTrain)).toBe(REF.first5000TrainPixelSum);
    expect(sum(ds.xTest)).toBe(REF.first1000TestPixelSum);
    expect(Array.from(classCounts(ds.yTrain, 10))).toEqual(REF.first5000TrainCounts);
    expect(Array.from(classCounts(ds.yTest, 10))).toEqual(REF.first1000TestCounts);
  });

  it("is what loadFashionMnist falls back to when no full set is installed, and what quick mode reads", () => {
    cleanEnv();
    const none = join(tmp, "no-such-system-dir");
    const ds = loadFashionMnist({ systemDir: none, maxTrain: 10, maxTest: 5 });
    expect(ds.source).toBe("embedded");
    expect(ds.xTrain.shape).toEqual([10, 1, 28, 28]);
    expect(ds.xTest.shape).toEqual([5, 1, 28, 28]);
    vi.stubEnv("SEMANTIC_GAP_QUICK", "1");
    vi.stubEnv("FASHION_MNIST_DIR", writeFake());
    expect(loadFashionMnist({ maxTrain: 1, maxTest: 1 }).source).toBe("embedded");
  });

  it.skipIf(!fullPresent)("holds exactly the first 5,000 train and 1,000 test examples of the full files", () => {
    const f = FASHION_MNIST_FILES;
    const sub = embeddedSubsetDir();
    for (const [base, n, size] of [
      [f.trainImages, 5000, 784],
      [f.trainLabels, 5000, 1],
      [f.testImages, 1000, 784],
      [f.testLabels, 1000, 1],
    ] as const) {
      const full = idxRead(join(fullDir, `${base}.gz`));
      const part = idxRead(join(sub, `${base}.gz`));
      expect(part.dims[0]).toBe(n);
      expect(part.dims.slice(1)).toEqual(full.dims.slice(1));
      expect(Buffer.from(part.data as Uint8Array).equals(Buffer.from((full.data as Uint8Array).subarray(0, n * size))), base).toBe(true);
    }
  });
});

describe("the full Fashion-MNIST", () => {
  it.skipIf(!fullPresent)("loads 60,000 + 10,000 images with the independently computed reference numbers", () => {
    cleanEnv(fullDir);
    const ds = loadFashionMnist({ embedded: false });
    expect(ds.source).toBe("full");
    expect(ds.xTrain.shape).toEqual([60000, 1, 28, 28]);
    expect(ds.xTest.shape).toEqual([10000, 1, 28, 28]);
    expect(Array.from(classCounts(ds.yTrain, 10))).toEqual(new Array(10).fill(6000));
    expect(Array.from(classCounts(ds.yTest, 10))).toEqual(new Array(10).fill(1000));
    expect(Array.from(ds.yTrain.subarray(0, 20))).toEqual(REF.firstTrainLabels);
    expect(sum(sliceRows(ds.xTrain, 0, 1))).toBe(REF.trainImage0Sum);
    expect(ds.yTrain[59999]).toBe(REF.lastTrainLabel);
    expect(sum(sliceRows(ds.xTrain, 59999, 60000))).toBe(REF.lastTrainImageSum);
    expect(ds.yTest[9999]).toBe(REF.lastTestLabel);
    expect(sum(sliceRows(ds.xTest, 9999, 10000))).toBe(REF.lastTestImageSum);
    expect(sum(ds.xTrain)).toBe(REF.fullTrainPixelSum);
  });

  it.skipIf(!fullPresent)("maxTrain/maxTest keep the first examples, the same ones the embedded subset holds", () => {
    cleanEnv(fullDir);
    const full = loadFashionMnist({ embedded: false, maxTrain: 5000, maxTest: 500 });
    const sub = loadFashionMnist({ embedded: true, maxTest: 500 });
    expect(full.xTrain.shape).toEqual([5000, 1, 28, 28]);
    expect(full.xTest.shape).toEqual([500, 1, 28, 28]);
    expect(Array.from(full.yTrain)).toEqual(Array.from(sub.yTrain));
    expect(Array.from(full.yTest)).toEqual(Array.from(sub.yTest));
    expect(Buffer.from(full.xTrain.data.buffer).equals(Buffer.from(sub.xTrain.data.buffer))).toBe(true);
  });
});

describe("reading small files in Fashion-MNIST's format", () => {
  it("places pixels and labels exactly, from .gz and from uncompressed files", () => {
    cleanEnv();
    for (const gz of [true, false]) {
      const ds = loadFashionMnist({ dir: writeFake({ gz }) });
      expect(ds.source).toBe("full");
      expect(ds.xTrain.shape).toEqual([4, 1, 28, 28]);
      expect(ds.xTest.shape).toEqual([3, 1, 28, 28]);
      expect(Array.from(ds.yTrain)).toEqual([0, 1, 2, 3]);
      expect(at(ds.xTrain, 3, 0, 5, 7)).toBe(3 + 5 + 7);
      expect(at(ds.xTest, 2, 0, 27, 27)).toBe(2 + 27 + 27);
    }
  });

  it("maxTrain larger than the data is clamped; a bad maxTrain is an error", () => {
    cleanEnv();
    const dir = writeFake();
    expect(loadFashionMnist({ dir, maxTrain: 100, maxTest: 2 }).xTest.shape[0]).toBe(2);
    expect(loadFashionMnist({ dir, maxTrain: 100 }).xTrain.shape[0]).toBe(4);
    expect(() => loadFashionMnist({ dir, maxTrain: -1 })).toThrow("loadFashionMnist: maxTrain must be a non-negative integer, got -1");
    expect(() => loadFashionMnist({ dir, maxTest: 2.5 })).toThrow("loadFashionMnist: maxTest must be a non-negative integer, got 2.5");
  });

  it("checks SHA256SUMS when a directory has one", () => {
    cleanEnv();
    const dir = writeFake();
    const names = Object.values(FASHION_MNIST_FILES).map((b) => `${b}.gz`);
    const good = names.map((n) => `${sha256Hex(readFileSync(join(dir, n)))}  ${n}`).join("\n");
    writeFileSync(join(dir, "SHA256SUMS"), good + "\n");
    expect(loadFashionMnist({ dir }).yTrain.length).toBe(4);
    writeFileSync(join(dir, "SHA256SUMS"), good.replace(/^[0-9a-f]/, (c) => (c === "0" ? "1" : "0")) + "\n");
    expectDataError(() => loadFashionMnist({ dir }), [
      "checksum mismatch",
      names[0],
      "apt-get install dataset-fashion-mnist",
    ]);
  });
});

describe("the search order", () => {
  it("opts.dir, then FASHION_MNIST_DIR, then the system directory, else the embedded subset", () => {
    const a = writeFake();
    const b = writeFake();
    const c = writeFake();
    cleanEnv(b);
    expect(locateFashionMnist({ dir: a, systemDir: c })).toMatchObject({ dir: a, source: "full", reason: "given as options dir" });
    expect(locateFashionMnist({ systemDir: c })).toMatchObject({ dir: b, source: "full", reason: "set in FASHION_MNIST_DIR" });
    cleanEnv();
    expect(locateFashionMnist({ systemDir: c })).toMatchObject({ dir: c, source: "full", reason: "the system location" });
    expect(locateFashionMnist({ systemDir: join(tmp, "absent") })).toMatchObject({
      dir: embeddedSubsetDir(),
      source: "embedded",
    });
    expect(locateFashionMnist({ systemDir: c, embedded: true }).source).toBe("embedded");
    expect(locateFashionMnist({ dir: embeddedSubsetDir() }).source).toBe("embedded");
  });

  it("quick mode reads the embedded subset unless a dir is given or embedded is false", () => {
    const b = writeFake();
    cleanEnv(b);
    vi.stubEnv("SEMANTIC_GAP_QUICK", "1");
    expect(locateFashionMnist().source).toBe("embedded");
    expect(locateFashionMnist({ embedded: false }).dir).toBe(b);
    const a = writeFake();
    expect(locateFashionMnist({ dir: a }).dir).toBe(a);
  });

  it("the default system directory is Debian's", () => {
    expect(FASHION_MNIST_SYSTEM_DIR).toBe("/usr/share/datasets/fashion-mnist");
  });
});

describe("Fashion-MNIST errors say what was expected, where, and how to get it", () => {
  const HOW = ["apt-get install dataset-fashion-mnist", "FASHION_MNIST_DIR", "github.com/zalandoresearch/fashion-mnist"];

  it("options dir does not exist", () => {
    cleanEnv();
    const d = join(tmp, "missing-dir");
    expectDataError(() => loadFashionMnist({ dir: d }), [`the directory ${d} (options dir) does not exist`, ...HOW]);
  });

  it("FASHION_MNIST_DIR set but missing: an error, not a silent fallback", () => {
    const d = join(tmp, "missing-env-dir");
    cleanEnv(d);
    expectDataError(() => loadFashionMnist(), [`FASHION_MNIST_DIR is set to ${d}, which does not exist`, ...HOW]);
  });

  it("no full set and embedded: false", () => {
    cleanEnv();
    const sys = join(tmp, "absent-system");
    expectDataError(() => loadFashionMnist({ embedded: false, systemDir: sys }), [
      "the full Fashion-MNIST was not found",
      `${sys} does not exist`,
      "embedded: false",
      ...HOW,
    ]);
  });

  it("dir and embedded: true together", () => {
    cleanEnv();
    expectDataError(() => loadFashionMnist({ dir: writeFake(), embedded: true }), ["contradict"]);
  });

  it("a file is missing: names the file and the directory searched", () => {
    cleanEnv();
    const dir = writeFake({ edit: (n, b) => (n === FASHION_MNIST_FILES.testLabels ? null : b) });
    expectDataError(() => loadFashionMnist({ dir }), [
      "missing file t10k-labels-idx1-ubyte.gz (or uncompressed t10k-labels-idx1-ubyte) with the test labels",
      `in ${dir} (given as options dir)`,
      "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz",
      ...HOW,
    ]);
  });

  it("wrong magic number (labels where images belong)", () => {
    cleanEnv();
    const lbl = idxEncode([4], new Uint8Array(4));
    const dir = writeFake({ edit: (n, b) => (n === FASHION_MNIST_FILES.trainImages ? lbl : b) });
    expectDataError(() => loadFashionMnist({ dir }), [
      join(dir, "train-images-idx3-ubyte.gz"),
      "wrong magic number: expected 0x00000803",
      "for Fashion-MNIST training images",
      "got 0x00000801",
      ...HOW,
    ]);
  });

  it("wrong magic number in a label file", () => {
    cleanEnv();
    const dir = writeFake({ edit: (n, b) => (n === FASHION_MNIST_FILES.testLabels ? idxEncode([3, 1], new Uint8Array(3)) : b) });
    expectDataError(() => loadFashionMnist({ dir }), ["expected 0x00000801", "Fashion-MNIST test labels", "got 0x00000802"]);
  });

  it("truncated image file: header says N images of 28x28 = X bytes, file has Y", () => {
    cleanEnv();
    const dir = writeFake({ gz: false, edit: (n, b) => (n === FASHION_MNIST_FILES.trainImages ? b.subarray(0, 16 + 784 * 3 + 100) : b) });
    expectDataError(() => loadFashionMnist({ dir }), [
      join(dir, "train-images-idx3-ubyte"),
      "header says 4 images of 28x28 (unsigned bytes) = 3136 bytes after the 16-byte header, but the file has 2452",
      "truncated (short read)",
      ...HOW,
    ]);
  });

  it("images that are not 28x28", () => {
    cleanEnv();
    const dir = writeFake({ edit: (n, b) => (n === FASHION_MNIST_FILES.testImages ? idxEncode([3, 32, 32], new Uint8Array(3 * 1024)) : b) });
    expectDataError(() => loadFashionMnist({ dir }), ["expected 28x28 Fashion-MNIST images, got 32x32", ...HOW]);
  });

  it("label count differs from image count", () => {
    cleanEnv();
    const dir = writeFake({ edit: (n, b) => (n === FASHION_MNIST_FILES.trainLabels ? idxEncode([5], new Uint8Array(5)) : b) });
    expectDataError(() => loadFashionMnist({ dir }), [
      `${join(dir, "train-labels-idx1-ubyte.gz")} has 5 labels but ${join(dir, "train-images-idx3-ubyte.gz")} has 4 images`,
      "expected one label per image",
      ...HOW,
    ]);
  });

  it("label out of range", () => {
    cleanEnv();
    const dir = writeFake({ edit: (n, b) => (n === FASHION_MNIST_FILES.testLabels ? idxEncode([3], Uint8Array.from([1, 12, 3])) : b) });
    expectDataError(() => loadFashionMnist({ dir }), ["label 12 at index 1 is out of range; expected a class in 0..9", ...HOW]);
  });

  it("corrupt gzip", () => {
    cleanEnv();
    const dir = writeFake();
    const p = join(dir, "train-labels-idx1-ubyte.gz");
    const gz = readFileSync(p);
    writeFileSync(p, gz.subarray(0, gz.length - 6));
    expectDataError(() => loadFashionMnist({ dir }), [p, "corrupt gzip data", "expected a complete gzip file", ...HOW]);
  });

  describe("the embedded subset's own errors point to the repository copy", () => {
    const REPAIR = ["git checkout -- data/fashion-mnist-subset", "npm run data:subset"];
    const copyEmbedded = (): string => {
      const d = join(tmp, `embedded-copy${fakeCount++}`);
      cpSync(embeddedSubsetDir(), d, { recursive: true });
      return d;
    };
    const asEmbedded = (dir: string) => ({ dir, source: "embedded" as const, reason: "the embedded subset" });

    it("a copy reads like the original", () => {
      const ds = readFashionMnist(asEmbedded(copyEmbedded()), { maxTrain: 3, maxTest: 3 });
      expect(Array.from(ds.yTrain)).toEqual([9, 0, 0]);
      expect(ds.source).toBe("embedded");
    });

    it("checksum mismatch", () => {
      const d = copyEmbedded();
      const p = join(d, "t10k-labels-idx1-ubyte.gz");
      const bytes = readFileSync(p);
      bytes[bytes.length - 1] ^= 0x01;
      writeFileSync(p, bytes);
      const expected = readFileSync(join(d, "SHA256SUMS"), "utf8").match(/^([0-9a-f]{64})\s+t10k-labels/m)![1];
      expectDataError(() => readFashionMnist(asEmbedded(d)), [
        `checksum mismatch for ${p}`,
        `expected SHA-256 ${expected} (from SHA256SUMS)`,
        `got ${sha256Hex(bytes)}`,
        "corrupt or was modified",
        ...REPAIR,
      ]);
    });

    it("SHA256SUMS missing", () => {
      const d = copyEmbedded();
      rmSync(join(d, "SHA256SUMS"));
      expectDataError(() => readFashionMnist(asEmbedded(d)), [`the checksum file SHA256SUMS is missing from ${d}`, ...REPAIR]);
    });

    it("SHA256SUMS without an entry for a file", () => {
      const d = copyEmbedded();
      const p = join(d, "SHA256SUMS");
      writeFileSync(p, readFileSync(p, "utf8").split("\n").filter((l) => !l.includes("train-images")).join("\n"));
      expectDataError(() => readFashionMnist(asEmbedded(d)), ["has no SHA-256 entry for train-images-idx3-ubyte.gz", ...REPAIR]);
    });

    it("a malformed SHA256SUMS line", () => {
      const d = copyEmbedded();
      writeFileSync(join(d, "SHA256SUMS"), "not a checksum line\n");
      expectDataError(() => readFashionMnist(asEmbedded(d)), ["line 1 is not '<64 hex digits>  <file name>'"]);
    });

    it("a file of the subset missing", () => {
      const d = copyEmbedded();
      rmSync(join(d, "train-images-idx3-ubyte.gz"));
      expectDataError(() => readFashionMnist(asEmbedded(d)), ["missing file train-images-idx3-ubyte.gz", d, ...REPAIR]);
    });

    it("the subset's folder missing", () => {
      const d = join(tmp, "no-embedded");
      expectDataError(() => readFashionMnist(asEmbedded(d)), [`the directory ${d} (the embedded subset) does not exist`, ...REPAIR]);
    });
  });
});
