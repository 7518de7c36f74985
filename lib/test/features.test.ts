import { describe, expect, it } from "vitest";
import { add, edgeOrientationHistograms, fromNested, randn, reshape, scale, transpose, zeros } from "../src/index.js";

// The 4x4 image and its histograms (cells of 2x2, 4 bins) were computed independently with numpy:
// np.gradient for the slopes, arctan2 mod π for the orientation, the linear split between bin centres.
const IMAGE = [
  [0, 1, 3, 2],
  [4, 0, 1, 5],
  [2, 2, 0, 1],
  [7, 3, 1, 0],
];
const RAW = [
  0.9183193874135105, 3.347617577367647, 1.2237809620369529, 6.140407792233395, 1.3773009007892232, 0.6734067024520045,
  5.09877662817191, 5.020951063135998, 0.28566267832699765, 0.75, 6.208201185732753, 5.624313671273473, 0.9571067811865476,
  0.7489070595053952, 3.0990750390353434, 1.6044827239450552,
];
const NORMALIZED = [
  0.1282737861992553, 0.46760591933660944, 0.1709416349372584, 0.8577117799240309, 0.1881988793143507, 0.09201648430754537,
  0.6967134391230666, 0.6860791005312804, 0.03394527378489752, 0.08912244150259738, 0.7377200626824306, 0.6683367548804384,
  0.25900363374976054, 0.2026624965631074, 0.8386438296657391, 0.4341906921558902,
];

describe("edgeOrientationHistograms", () => {
  const img = reshape(fromNested(IMAGE), [1, 1, 4, 4]);

  it("matches an independent numpy computation, raw and normalised", () => {
    const raw = edgeOrientationHistograms(img, { cellSize: 2, numBins: 4, normalize: false });
    expect(raw.shape).toEqual([1, 16]);
    Array.from(raw.data).forEach((v, k) => expect(v).toBeCloseTo(RAW[k], 12));
    const hist = edgeOrientationHistograms(img, { cellSize: 2, numBins: 4 });
    Array.from(hist.data).forEach((v, k) => expect(v).toBeCloseTo(NORMALIZED[k], 12));
  });

  it("puts a vertical edge at 0 degrees and a horizontal edge at 90, each in one bin when on a bin centre", () => {
    // 3 bins of 60 degrees, centres at 30, 90, 150: a vertical edge (gradient along x, 0 degrees) splits
    // between the bins centred at 150 and 30 (the orientation wraps at 180); a horizontal edge is bin 1.
    const vertical = zeros([1, 6, 6]);
    const horizontal = zeros([1, 6, 6]);
    for (let r = 0; r < 6; r++) for (let c = 3; c < 6; c++) vertical.set(0, r, c, 1);
    for (let r = 3; r < 6; r++) for (let c = 0; c < 6; c++) horizontal.set(0, r, c, 1);
    const v = edgeOrientationHistograms(vertical, { cellSize: 6, numBins: 3 });
    const h = edgeOrientationHistograms(horizontal, { cellSize: 6, numBins: 3 });
    expect(v.get(0, 0)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(v.get(0, 1)).toBeCloseTo(0, 12);
    expect(v.get(0, 2)).toBeCloseTo(Math.SQRT1_2, 12);
    expect([h.get(0, 0), h.get(0, 1), h.get(0, 2)].map((x) => Math.round(x * 1e12) / 1e12)).toEqual([0, 1, 0]);
  });

  it("ignores brightness and contrast, and leaves flat cells at zero", () => {
    const x = randn([3, 1, 8, 8], 7);
    const base = edgeOrientationHistograms(x, { cellSize: 4 });
    const changed = edgeOrientationHistograms(add(scale(x, 3.5), 0.25), { cellSize: 4 });
    for (let k = 0; k < base.data.length; k++) expect(changed.data[k]).toBeCloseTo(base.data[k], 12);
    const flat = edgeOrientationHistograms(add(zeros([1, 8, 8]), 0.5), { cellSize: 4 });
    expect(Array.from(flat.data).every((v) => v === 0)).toBe(true);
  });

  it("reads strided views like contiguous copies, and names bad arguments", () => {
    const x = randn([2, 4, 4], 3);
    const t = transpose(x, 0, 2, 1); // a non-contiguous view
    const copy = zeros([2, 4, 4]);
    for (let i = 0; i < 2; i++) for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) copy.set(i, r, c, t.get(i, r, c));
    const a = edgeOrientationHistograms(t, { cellSize: 2, numBins: 5 });
    const b = edgeOrientationHistograms(copy, { cellSize: 2, numBins: 5 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(() => edgeOrientationHistograms(x, { cellSize: 3 })).toThrow("edgeOrientationHistograms: cellSize must be a positive integer that divides the image size 4x4, got 3");
    expect(() => edgeOrientationHistograms(zeros([2, 3, 4, 4]))).toThrow("edgeOrientationHistograms: images must have one channel, got shape (2, 3, 4, 4)");
  });
});
