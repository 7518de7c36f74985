import { statSync } from "node:fs";
import type { Tensor } from "../tensor.js";
import { tensor } from "../tensor.js";

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Checks an optional limit (maxTrain, maxTest) and returns min(limit, available). */
export function resolveLimit(fn: string, name: string, limit: number | undefined, available: number): number {
  if (limit === undefined) return available;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`${fn}: ${name} must be a non-negative integer, got ${String(limit)}`);
  }
  return Math.min(limit, available);
}

/** Copies the first n*itemSize bytes into a float64 tensor of shape [n, ...itemShape]. */
export function bytesToTensor(bytes: Uint8Array, n: number, itemShape: number[]): Tensor {
  const itemSize = itemShape.reduce((a, d) => a * d, 1);
  const out = new Float64Array(n * itemSize);
  for (let i = 0; i < out.length; i++) out[i] = bytes[i];
  return tensor(out, [n, ...itemShape]);
}
