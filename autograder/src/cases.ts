import type { Labels, Rng } from "@semantic-gap/lib";

// Random-case builders every assignment's hidden tests share.

/** A uniform integer in [lo, hi]. */
export function intBetween(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/** Random labels in 0..C-1 that use every class when n >= C. */
export function randomLabels(rng: Rng, n: number, c: number): Labels {
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = i < c ? i : rng.int(c);
  const p = rng.permutation(n);
  return Int32Array.from(p, (k) => y[k]);
}
