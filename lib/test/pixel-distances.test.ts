import { describe, expect, it } from "vitest";
import { PixelDistances, Rng, fromNested, full, toPixelRows, transpose, zeros, type Tensor } from "../src/index.js";

function randomPixels(n: number, d: number, rng: Rng): Tensor {
  const x = zeros([n, d]);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.int(256) / 255;
  return x;
}

// Reference: plain double loops on the float64 values, in pixel units (exact for these integers).
function reference(test: Tensor, train: Tensor, metric: "l2" | "l1"): number[] {
  const out: number[] = [];
  for (let i = 0; i < test.shape[0]; i++) {
    for (let j = 0; j < train.shape[0]; j++) {
      let s = 0;
      for (let k = 0; k < test.shape[1]; k++) {
        const diff = Math.round(test.get(i, k) * 255) - Math.round(train.get(j, k) * 255);
        s += metric === "l2" ? diff * diff : Math.abs(diff);
      }
      out.push(s);
    }
  }
  return out;
}

describe("toPixelRows", () => {
  it("recovers 8-bit pixels from values scaled to [0, 1] and pads rows to a multiple of 8", () => {
    const x = fromNested([
      [0, 1, 128 / 255],
      [1 / 255, 254 / 255, 0],
    ]);
    const rows = toPixelRows(x)!;
    expect(rows.d8).toBe(8);
    expect(Array.from(rows.data)).toEqual([0, 255, 128, 0, 0, 0, 0, 0, 1, 254, 0, 0, 0, 0, 0, 0]);
  });

  it("returns null for values that are not pixels", () => {
    expect(toPixelRows(fromNested([[0.5]]))).toBeNull();
    expect(toPixelRows(fromNested([[2]]))).toBeNull();
    expect(toPixelRows(fromNested([[-1 / 255]]))).toBeNull();
  });
});

describe("PixelDistances (WebAssembly SIMD, integer arithmetic)", () => {
  it("equals double loops exactly, for odd counts, rows not a multiple of 8 and strided views", () => {
    const rng = new Rng(3);
    for (const [nTest, nTrain, d] of [
      [1, 1, 1],
      [5, 7, 13],
      [6, 9, 784],
      [3, 5, 2100], // longer than the 2048-pixel chunk after which L1 flushes its 16-bit sums
    ]) {
      const test = randomPixels(nTest, d, rng);
      const trainT = transpose(randomPixels(d, nTrain, rng)); // a non-contiguous (nTrain, d) view
      const kernel = new PixelDistances(toPixelRows(trainT)!);
      const rows = toPixelRows(test)!;
      for (const metric of ["l2", "l1"] as const) {
        const out = new Int32Array(nTest * nTrain);
        kernel.compute(rows, 0, nTest, metric, out);
        expect(Array.from(out)).toEqual(reference(test, trainT, metric));
        // A slice of the test rows lands at the start of out.
        if (nTest > 2) {
          const part = new Int32Array(2 * nTrain);
          kernel.compute(rows, 1, 2, metric, part);
          expect(Array.from(part)).toEqual(Array.from(out.subarray(nTrain, 3 * nTrain)));
        }
      }
    }
  });

  it("reaches the largest distances without overflow (all 0 against all 255)", () => {
    const d = 3072;
    const black = toPixelRows(zeros([1, d]))!;
    const white = toPixelRows(full([1, d], 1))!;
    const kernel = new PixelDistances(white);
    const out = new Int32Array(1);
    kernel.compute(black, 0, 1, "l2", out);
    expect(out[0]).toBe(d * 255 * 255);
    kernel.compute(black, 0, 1, "l1", out);
    expect(out[0]).toBe(d * 255);
  });

  it("rejects mismatched widths and bad ranges with a sentence", () => {
    const kernel = new PixelDistances(toPixelRows(zeros([2, 4]))!);
    const test = toPixelRows(zeros([1, 5]))!;
    expect(() => kernel.compute(test, 0, 1, "l2", new Int32Array(2))).toThrow(
      "PixelDistances.compute: test images have 5 pixels, the training images 4",
    );
    const ok = toPixelRows(zeros([1, 4]))!;
    expect(() => kernel.compute(ok, 0, 2, "l2", new Int32Array(4))).toThrow("rows [0, 2) are outside the 1 test images");
  });
});
