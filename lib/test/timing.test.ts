import { describe, expect, it } from "vitest";
import { compareSpeed, fitLine, median, timeMedian } from "../src/index.js";

/** A fake clock: each call to work(ms) advances it by ms, so timings are exact and independent of the machine. */
function fakeClock(): { now: () => number; work: (ms: number) => void } {
  let t = 0;
  return { now: () => t, work: (ms) => void (t += ms) };
}

describe("median", () => {
  it("takes the middle value, or the mean of the two middle values", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow("median: values must hold at least one number");
  });
});

describe("timeMedian and compareSpeed", () => {
  it("report the median run and ignore the warm-up", () => {
    const clock = fakeClock();
    const costs = [100, 3, 9, 5, 7]; // the first (100 ms) is the warm-up
    let k = 0;
    const r = timeMedian(() => clock.work(costs[k++]), { repeats: 4, warmup: 1, now: clock.now });
    expect(r.timesMs).toEqual([3, 9, 5, 7]);
    expect(r.medianMs).toBe(6);
  });

  it("take the ratio within each pair, so a spike that slows one pair does not decide the verdict", () => {
    const clock = fakeClock();
    const load = [1, 1, 8, 1, 1]; // the third pair runs on a machine 8x slower
    let i = 0;
    let j = 0;
    const r = compareSpeed(
      () => clock.work(20 * load[i++]),
      () => clock.work(2 * load[j++]),
      { repeats: 5, warmup: 0, now: clock.now },
    );
    expect(r.ratios).toEqual([10, 10, 10, 10, 10]);
    expect(r.ratio).toBe(10);
    expect(r.slowMs).toBe(20);
    expect(r.fastMs).toBe(2);
    expect(() => compareSpeed(() => 0, () => 0, { repeats: 0 })).toThrow("compareSpeed: repeats must be a positive integer, got 0");
  });
});

describe("fitLine", () => {
  it("recovers an exact line and measures the fit", () => {
    const x = [250, 500, 1000, 2000, 4000];
    const fit = fitLine(x, x.map((v) => 0.5 + 0.003 * v));
    expect(fit.slope).toBeCloseTo(0.003, 12);
    expect(fit.intercept).toBeCloseTo(0.5, 10);
    expect(fit.r2).toBeCloseTo(1, 12);
    // numpy.polyfit([0, 1, 2, 3], [1, 3, 2, 5], 1) = [1.1, 1.1]; R² (numpy.corrcoef squared) = 0.691428...
    const noisy = fitLine([0, 1, 2, 3], [1, 3, 2, 5]);
    expect(noisy.slope).toBeCloseTo(1.1, 12);
    expect(noisy.intercept).toBeCloseTo(1.1, 12);
    expect(noisy.r2).toBeCloseTo(0.6914285714285714, 12);
    expect(() => fitLine([1, 1], [2, 3])).toThrow("fitLine: the x values are all equal");
  });
});
