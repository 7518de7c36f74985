// Comparisons of tensors, for tests and for checking a student's result against a reference.
import { checkSameShape, checkTensor, toFloat64Array, type Tensor } from "./tensor.js";

/** Largest absolute elementwise difference between two tensors of the same shape. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  checkTensor("maxAbsDiff", "a", a);
  checkTensor("maxAbsDiff", "b", b);
  checkSameShape("maxAbsDiff", "a", a, "b", b);
  const fa = toFloat64Array(a);
  const fb = toFloat64Array(b);
  let m = 0;
  for (let i = 0; i < fa.length; i++) {
    const d = Math.abs(fa[i] - fb[i]);
    if (d > m || Number.isNaN(d)) m = d;
  }
  return m;
}

/** True when |a - b| <= atol + rtol * |b| everywhere (numpy's allclose). */
export function allClose(a: Tensor, b: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
  checkSameShape("allClose", "a", a, "b", b);
  const fa = toFloat64Array(a);
  const fb = toFloat64Array(b);
  for (let i = 0; i < fa.length; i++) {
    if (!(Math.abs(fa[i] - fb[i]) <= atol + rtol * Math.abs(fb[i]))) return false;
  }
  return true;
}
