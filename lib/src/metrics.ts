// Scores of a classifier's predictions, for the lectures and assignments.
import { ShapeError } from "./errors.js";

/** Fraction of positions where predictions equal labels. */
export function accuracy(pred: ArrayLike<number>, y: ArrayLike<number>): number {
  if (pred.length !== y.length) {
    throw new ShapeError(`accuracy: pred has length ${pred.length} but y has length ${y.length}`);
  }
  if (y.length === 0) return NaN;
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) ok++;
  return ok / y.length;
}
