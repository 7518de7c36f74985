/**
 * A small seeded PRNG (xoshiro128**) with uniform and gaussian draws.
 * Integer arithmetic only (Math.imul, shifts), so a seed gives the same stream on every machine.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  /** Seeds the state from a 32-bit integer through splitmix32, as the xoshiro authors recommend. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new TypeError(`Rng: seed must be a finite number, got ${String(seed)}`);
    }
    let x = Math.trunc(seed) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniform float in [low, high). */
  uniformRange(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** A standard normal draw (Marsaglia's polar method; uses only log and sqrt). */
  gaussian(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    return u * f;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`Rng.int: n must be an integer in 1..2^32, got ${n}`);
    }
    // Rejection sampling keeps the draw unbiased.
    const limit = Math.floor(2 ** 32 / n) * n;
    let r: number;
    do {
      r = this.nextUint32();
    } while (r >= limit);
    return r % n;
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** k indices drawn from 0..n-1, with replacement unless replace is false. */
  choice(n: number, k: number, replace = true): Int32Array {
    if (!replace) {
      if (k > n) throw new RangeError(`Rng.choice: cannot draw ${k} of ${n} without replacement`);
      return this.permutation(n).slice(0, k);
    }
    const out = new Int32Array(k);
    for (let i = 0; i < k; i++) out[i] = this.int(n);
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Accepts a seed or an Rng and returns an Rng. */
export function toRng(seedOrRng: number | Rng): Rng {
  return seedOrRng instanceof Rng ? seedOrRng : new Rng(seedOrRng);
}
