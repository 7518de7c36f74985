import { Rng } from "../random.js";
import { checkSameShape, checkTensor, copy, tensor, toFloat64Array, type Tensor } from "../tensor.js";
import type { LayerOutput } from "./layers.js";

/** Dropout's settings: keep probability p in (0, 1], the mode, and the seed (or generator) of the mask. */
export interface DropoutParam {
  p: number;
  mode: "train" | "test";
  /** A seed or an Rng; required in train mode. An Rng advances by one draw per element. */
  seed?: number | Rng;
}

/** What dropoutForward keeps: its settings and the mask (each element 0 or 1/p; null in test mode). */
export interface DropoutCache {
  dropoutParam: DropoutParam;
  mask: Tensor | null;
}

/**
 * Inverted dropout. In train mode an element is kept where the generator's uniform draw, taken in row-major
 * order, is below p, and kept elements are scaled by 1/p, so the expected output equals x; in test mode the
 * layer is the identity.
 * x: any shape, out: x's shape
 */
export function dropoutForward(x: Tensor, dropoutParam: DropoutParam): LayerOutput<DropoutCache> {
  const fn = "dropoutForward";
  checkTensor(fn, "x", x);
  if (dropoutParam === null || typeof dropoutParam !== "object") {
    throw new TypeError(`${fn}: dropoutParam must be an object { p, mode, seed }, got ${String(dropoutParam)}`);
  }
  const { p, mode, seed } = dropoutParam;
  if (typeof p !== "number" || !(p > 0 && p <= 1)) {
    throw new RangeError(`${fn}: dropoutParam.p is the keep probability and must be in (0, 1], got ${String(p)}`);
  }
  if (mode === "test") return { out: copy(x), cache: { dropoutParam, mask: null } };
  if (mode !== "train") throw new RangeError(`${fn}: dropoutParam.mode must be "train" or "test", got ${JSON.stringify(mode)}`);
  if (!(seed instanceof Rng) && typeof seed !== "number") {
    throw new TypeError(`${fn}: dropoutParam.seed must be a number or an Rng in train mode, got ${String(seed)}`);
  }
  const rng = seed instanceof Rng ? seed : new Rng(seed);
  const src = toFloat64Array(x);
  const mask = new Float64Array(src.length);
  const out = new Float64Array(src.length);
  const keep = 1 / p;
  for (let i = 0; i < src.length; i++) {
    if (rng.uniform() < p) {
      mask[i] = keep;
      out[i] = src[i] * keep;
    }
  }
  return { out: tensor(out, x.shape), cache: { dropoutParam, mask: tensor(mask, x.shape) } };
}

/** Backward pass of dropoutForward: dout times the mask in train mode, dout itself in test mode. */
export function dropoutBackward(dout: Tensor, cache: DropoutCache): { dx: Tensor } {
  const fn = "dropoutBackward";
  checkTensor(fn, "dout", dout);
  if (cache.mask === null) return { dx: copy(dout) };
  checkSameShape(fn, "dout", dout, "the mask", cache.mask);
  const d = toFloat64Array(dout);
  const m = cache.mask.data;
  const dx = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) dx[i] = d[i] * m[i];
  return { dx: tensor(dx, dout.shape) };
}
