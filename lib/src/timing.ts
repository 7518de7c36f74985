// Timing that survives a busy machine: several runs, the median rather than one run or the best, and for
// comparisons the ratio within each pair of back-to-back runs, so that a load spike slows both sides of a
// pair instead of one side of the comparison. Notebooks use it for their speed checks; tests never assert
// on wall-clock time.

/** How to time: repetitions, warm-up runs (not counted) and the clock (milliseconds). */
export interface TimingOptions {
  /** Timed runs (default 7). */
  repeats?: number;
  /** Untimed runs first, to let the JIT compile the code (default 1). */
  warmup?: number;
  /** The clock in milliseconds (default performance.now). */
  now?: () => number;
}

/** The median of the timed runs and every run's time, in milliseconds. */
export interface Timing {
  medianMs: number;
  timesMs: number[];
}

/** Two functions timed in interleaved pairs. */
export interface SpeedComparison {
  /** Median time of the slow function, in milliseconds. */
  slowMs: number;
  /** Median time of the fast function, in milliseconds. */
  fastMs: number;
  /** Median over the pairs of slow time / fast time. */
  ratio: number;
  /** The ratio of every pair, in the order run. */
  ratios: number[];
}

/** The median of a non-empty list of numbers (the mean of the two middle values for an even count). */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError("median: values must hold at least one number");
  const s = Array.from(values).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function timingArgs(fn: string, opts: TimingOptions): { repeats: number; warmup: number; now: () => number } {
  const repeats = opts.repeats ?? 7;
  const warmup = opts.warmup ?? 1;
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`${fn}: repeats must be a positive integer, got ${repeats}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`${fn}: warmup must be a non-negative integer, got ${warmup}`);
  return { repeats, warmup, now: opts.now ?? (() => performance.now()) };
}

/** Runs f `warmup` times untimed, then `repeats` times timed; returns the median and every time. */
export function timeMedian(f: () => unknown, opts: TimingOptions = {}): Timing {
  const { repeats, warmup, now } = timingArgs("timeMedian", opts);
  for (let r = 0; r < warmup; r++) f();
  const timesMs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t = now();
    f();
    timesMs.push(now() - t);
  }
  return { medianMs: median(timesMs), timesMs };
}

/**
 * Times `slow` and `fast` back to back, `repeats` times, and returns their median times and the median of
 * the per-pair ratios slow / fast.
 */
export function compareSpeed(slow: () => unknown, fast: () => unknown, opts: TimingOptions = {}): SpeedComparison {
  const { repeats, warmup, now } = timingArgs("compareSpeed", opts);
  for (let r = 0; r < warmup; r++) {
    slow();
    fast();
  }
  const slowTimes: number[] = [];
  const fastTimes: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let t = now();
    slow();
    const s = now() - t;
    t = now();
    fast();
    const f = now() - t;
    slowTimes.push(s);
    fastTimes.push(f);
    ratios.push(s / Math.max(f, 1e-9));
  }
  return { slowMs: median(slowTimes), fastMs: median(fastTimes), ratio: median(ratios), ratios };
}

/** The least-squares line y ≈ intercept + slope·x through points (x[i], y[i]), and its R². */
export function fitLine(x: ArrayLike<number>, y: ArrayLike<number>): { slope: number; intercept: number; r2: number } {
  if (x.length !== y.length) throw new RangeError(`fitLine: x has ${x.length} points but y has ${y.length}`);
  if (x.length < 2) throw new RangeError(`fitLine: needs at least 2 points, got ${x.length}`);
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - mx) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) ** 2;
  }
  if (sxx === 0) throw new RangeError("fitLine: the x values are all equal, so no line is defined");
  const slope = sxy / sxx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept: my - slope * mx, r2 };
}
