import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import {
  at,
  CIFAR10_CLASSES,
  CIFAR10_RECORD_BYTES,
  DataError,
  loadCifar10,
  loadDataset,
  locateCifar10,
} from "../src/index.js";

const tmp = mkdtempSync(join(tmpdir(), "sg-cifar-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

function expectDataError(fn: () => unknown, fragments: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, "expected a DataError").toBeInstanceOf(DataError);
  for (const f of fragments) expect((err as Error).message).toContain(f);
}

const HOW = ["cifar-10-binary.tar.gz", "www.cs.toronto.edu/~kriz/cifar.html", "CIFAR10_DIR"];

/** The pixel byte this test writes for global image g, channel c, row i, column j. */
const pixel = (g: number, c: number, i: number, j: number): number => (g * 31 + c * 101 + i * 7 + j * 3) % 256;

/** One record: label byte, then the R, G and B planes (32x32 each, row-major). */
function record(g: number, label: number): Uint8Array {
  const r = new Uint8Array(CIFAR10_RECORD_BYTES);
  r[0] = label;
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < 32; i++) for (let j = 0; j < 32; j++) r[1 + c * 1024 + i * 32 + j] = pixel(g, c, i, j);
  return r;
}

let dirCount = 0;
/**
 * Writes 5 training batches of `perBatch` records (image g = batch*perBatch + r, label g % 10) and a test
 * batch of 2 records (images 100, 101), optionally inside cifar-10-batches-bin/, with batches.meta.txt.
 */
function writeCifar(
  opts: { perBatch?: number; nested?: boolean; meta?: string | null; edit?: (name: string, b: Uint8Array) => Uint8Array | null } = {},
): { base: string; batches: string } {
  const { perBatch = 3, nested = true, meta = CIFAR10_CLASSES.join("\n") + "\n\n", edit = (_n: string, b: Uint8Array) => b } = opts;
  const base = join(tmp, `c${dirCount++}`);
  const batches = nested ? join(base, "cifar-10-batches-bin") : base;
  mkdirSync(batches, { recursive: true });
  const batch = (first: number, n: number) => {
    const out = new Uint8Array(n * CIFAR10_RECORD_BYTES);
    for (let r = 0; r < n; r++) out.set(record(first + r, (first + r) % 10), r * CIFAR10_RECORD_BYTES);
    return out;
  };
  const files: Array<[string, Uint8Array]> = [1, 2, 3, 4, 5].map((b) => [`data_batch_${b}.bin`, batch((b - 1) * perBatch, perBatch)]);
  files.push(["test_batch.bin", batch(100, 2)]);
  for (const [name, bytes] of files) {
    const e = edit(name, bytes);
    if (e !== null) writeFileSync(join(batches, name), e);
  }
  if (meta !== null) writeFileSync(join(batches, "batches.meta.txt"), meta);
  return { base, batches };
}

describe("loadCifar10 on small files in the binary format", () => {
  it("places every pixel: record bytes R plane, G plane, B plane map to (C, H, W)", () => {
    const { base, batches } = writeCifar();
    const ds = loadCifar10({ dir: base });
    expect(ds.name).toBe("cifar-10");
    expect(ds.source).toBe("full");
    expect(ds.location).toBe(batches);
    expect(ds.xTrain.shape).toEqual([15, 3, 32, 32]);
    expect(ds.xTest.shape).toEqual([2, 3, 32, 32]);
    expect(ds.xTrain.data).toBeInstanceOf(Float64Array);
    expect(Array.from(ds.yTrain)).toEqual(Array.from({ length: 15 }, (_, g) => g % 10));
    expect(Array.from(ds.yTest)).toEqual([0, 1]);
    for (let g = 0; g < 15; g++)
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 32; i++)
          for (let j = 0; j < 32; j++) if (at(ds.xTrain, g, c, i, j) !== pixel(g, c, i, j)) throw new Error(`pixel ${g},${c},${i},${j}`);
    // Spot checks spelled out: record 4 (batch 2, record 1), green plane, row 2, column 5.
    expect(at(ds.xTrain, 4, 1, 2, 5)).toBe((4 * 31 + 101 + 14 + 15) % 256);
    expect(at(ds.xTest, 1, 2, 31, 31)).toBe(pixel(101, 2, 31, 31));
    expect(ds.classNames).toEqual(CIFAR10_CLASSES);
  });

  it("reads CIFAR10_DIR, the batch folder itself, and class names from batches.meta.txt", () => {
    const { batches } = writeCifar({ nested: false, meta: "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n" });
    vi.stubEnv("CIFAR10_DIR", batches);
    const ds = loadCifar10();
    expect(ds.location).toBe(batches);
    expect(ds.classNames).toEqual(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]);
    expect(locateCifar10()).toBe(batches);
  });

  it("without batches.meta.txt the standard class names are used", () => {
    const { base } = writeCifar({ meta: null });
    expect(loadCifar10({ dir: base }).classNames).toEqual([
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]);
  });

  it("maxTrain takes the first records across batch files; maxTest the first test records", () => {
    const { base } = writeCifar();
    const ds = loadCifar10({ dir: base, maxTrain: 7, maxTest: 1 });
    expect(ds.xTrain.shape).toEqual([7, 3, 32, 32]);
    expect(Array.from(ds.yTrain)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(at(ds.xTrain, 6, 0, 0, 0)).toBe(pixel(6, 0, 0, 0));
    expect(ds.xTest.shape).toEqual([1, 3, 32, 32]);
    expect(() => loadCifar10({ dir: base, maxTrain: -2 })).toThrow("loadCifar10: maxTrain must be a non-negative integer, got -2");
  });

  it("loadDataset picks CIFAR-10 only when preferred and CIFAR10_DIR is set", () => {
    const { base } = writeCifar();
    vi.stubEnv("SEMANTIC_GAP_QUICK", "");
    vi.stubEnv("CIFAR10_DIR", base);
    expect(loadDataset({ prefer: "cifar-10" }).name).toBe("cifar-10");
    expect(loadDataset({ prefer: "cifar-10", embedded: true }).name).toBe("fashion-mnist");
    vi.stubEnv("SEMANTIC_GAP_QUICK", "1");
    expect(loadDataset({ prefer: "cifar-10", maxTrain: 5 }).source).toBe("embedded");
    expect(loadDataset({ prefer: "cifar-10", embedded: false }).name).toBe("cifar-10");
    vi.stubEnv("SEMANTIC_GAP_QUICK", "");
    vi.stubEnv("CIFAR10_DIR", "");
    expect(loadDataset({ prefer: "cifar-10", maxTrain: 5, maxTest: 5 }).name).toBe("fashion-mnist");
    vi.stubEnv("CIFAR10_DIR", join(tmp, "gone"));
    expectDataError(() => loadDataset({ prefer: "cifar-10" }), ["gone (CIFAR10_DIR) does not exist"]);
    expect(() => loadDataset({ prefer: "mnist" as "cifar-10" })).toThrow('loadDataset: prefer must be "fashion-mnist" or "cifar-10", got "mnist"');
  });
});

describe("CIFAR-10 errors say what was expected, where, and how to get it", () => {
  it("no location given", () => {
    vi.stubEnv("CIFAR10_DIR", "");
    expectDataError(() => loadCifar10(), ["no CIFAR-10 location given: pass { dir } or set CIFAR10_DIR", ...HOW]);
  });

  it("directory missing", () => {
    const d = join(tmp, "absent");
    expectDataError(() => loadCifar10({ dir: d }), [`${d} (options dir) does not exist`, ...HOW]);
  });

  it("directory without batch files, and the python version", () => {
    const d = join(tmp, "empty");
    mkdirSync(join(d, "cifar-10-batches-py"), { recursive: true });
    expectDataError(() => loadCifar10({ dir: d }), [
      "holds neither cifar-10-batches-bin/ nor data_batch_1.bin",
      "cifar-10-batches-py, the python version, which is a different format",
      ...HOW,
    ]);
  });

  it("a batch file missing", () => {
    const { base, batches } = writeCifar({ edit: (n, b) => (n === "data_batch_4.bin" ? null : b) });
    expectDataError(() => loadCifar10({ dir: base }), [`missing file data_batch_4.bin in ${batches}`, "test_batch.bin", ...HOW]);
  });

  it("a truncated record (size not a multiple of 3073)", () => {
    const { base, batches } = writeCifar({ edit: (n, b) => (n === "data_batch_2.bin" ? b.subarray(0, 2 * 3073 + 1000) : b) });
    expectDataError(() => loadCifar10({ dir: base }), [
      `${join(batches, "data_batch_2.bin")} has 7146 bytes, which is not a whole, non-zero number of 3073-byte records`,
      "1 label byte + 3072 pixel bytes",
      "2 whole records and 1000 bytes left over",
      "truncated",
      ...HOW,
    ]);
  });

  it("an empty batch file", () => {
    const { base } = writeCifar({ edit: (n, b) => (n === "test_batch.bin" ? new Uint8Array(0) : b) });
    expectDataError(() => loadCifar10({ dir: base }), ["test_batch.bin has 0 bytes", ...HOW]);
  });

  it("a label above 9", () => {
    const { base, batches } = writeCifar({
      edit: (n, b) => {
        if (n !== "data_batch_3.bin") return b;
        const c = Uint8Array.from(b);
        c[1 * CIFAR10_RECORD_BYTES] = 42; // record 1's label byte
        return c;
      },
    });
    expectDataError(() => loadCifar10({ dir: base }), [
      `${join(batches, "data_batch_3.bin")}: record 1 has label 42; expected a class in 0..9`,
      ...HOW,
    ]);
  });

  it("batches.meta.txt with the wrong number of names", () => {
    const { base } = writeCifar({ meta: "cat\ndog\n" });
    expectDataError(() => loadCifar10({ dir: base }), ["batches.meta.txt lists 2 class names; expected 10", ...HOW]);
  });
});
