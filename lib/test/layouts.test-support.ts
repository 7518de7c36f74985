import { copy, sliceRows, tensor, toFloat64Array, transpose, type Rng, type Tensor } from "../src/index.js";

// Inputs for the tests of lib's fast paths: random values laced with special ones, and the same values in
// other memory layouts (a strided view, which takes the general paths, and a dense view at an offset).

/**
 * The bit pattern of every element in row-major order: tells 0 from −0 and every last bit apart, and writes
 * each NaN as "NaN" (the sign and payload of a NaN depend on how the engine compiled the code, not on it).
 */
export function bits(t: Tensor | number): string[] {
  const v = typeof t === "number" ? Float64Array.of(t) : Float64Array.from(toFloat64Array(t));
  const words = new BigUint64Array(v.buffer);
  return Array.from(v, (x, i) => (Number.isNaN(x) ? "NaN" : words[i].toString(16)));
}

export const SPECIAL = [0, -0, NaN, Infinity, -Infinity, 5e-324, -1e-310, 1e308, -1e308, 1, -1];

/** A dense random tensor of magnitudes from 1e-3 to 1e3; about one element in six is one of SPECIAL. */
export function random(shape: number[], rng: Rng): Tensor {
  const n = shape.reduce((a, d) => a * d, 1);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    d[i] = rng.uniform() < 1 / 6 ? SPECIAL[Math.floor(rng.uniform() * SPECIAL.length)] : (rng.uniform() - 0.5) * 10 ** Math.floor(rng.uniform() * 7 - 3);
  }
  return tensor(d, shape);
}

/** A view with t's values whose strides are reversed: not contiguous for two or more axes longer than 1. */
export function strided(t: Tensor): Tensor {
  return transpose(copy(transpose(t)));
}

/** A contiguous view of t's values that starts part-way into a larger buffer (offset > 0). */
export function offsetView(t: Tensor): Tensor {
  const rows = t.shape[0];
  const rest = t.shape.slice(1);
  const size = rest.reduce((a, d) => a * d, 1);
  const big = new Float64Array((rows + 3) * size);
  big.set(toFloat64Array(t), 2 * size);
  return sliceRows(tensor(big, [rows + 3, ...rest]), 2, 2 + rows);
}
