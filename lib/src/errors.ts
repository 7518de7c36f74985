/** Thrown when an argument has the wrong shape; the message names the function, the argument and both shapes. */
export class ShapeError extends Error {
  override name = "ShapeError";
}

/** Thrown when an argument has the wrong type (dtype, not a tensor, not an integer). */
export class DTypeError extends TypeError {
  override name = "DTypeError";
}

/** Formats a shape as `(2, 3)`. */
export function shapeStr(shape: ArrayLike<number>): string {
  const parts = Array.from(shape);
  return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(", ")})`;
}
