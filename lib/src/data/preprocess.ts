import { ShapeError, shapeStr } from "../errors.js";
import { Rng } from "../random.js";
import {
  checkLabels,
  checkTensor,
  flattenRows,
  forEachIndex,
  mean,
  sameShape,
  scale,
  sliceRows,
  sub,
  takeLabels,
  takeRows,
  zeros,
  type Tensor,
} from "../tensor.js";

function checkBatch(fn: string, arg: string, x: unknown): Tensor {
  const t = checkTensor(fn, arg, x);
  if (t.shape.length < 1) throw new ShapeError(`${fn}: ${arg} must have a first (example) axis, got shape ()`);
  return t;
}

function checkLabelsFor(fn: string, x: Tensor, y: unknown): Int32Array {
  if (y instanceof Int32Array && y.length !== x.shape[0]) {
    throw new ShapeError(
      `${fn}: y has length ${y.length} but x has ${x.shape[0]} examples (x.shape ${shapeStr(x.shape)}); ` +
        `expected one label per example`,
    );
  }
  return checkLabels(fn, "y", y, x.shape[0]);
}

function checkCount(fn: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new RangeError(`${fn}: ${name} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

/**
 * Divides raw pixel values by 255, giving values in [0, 1].
 * x: any shape, out: same shape
 */
export function scaleTo01(x: Tensor): Tensor {
  checkTensor("scaleTo01", "x", x);
  return scale(x, 1 / 255);
}

/**
 * The mean over the examples (axis 0): the "mean image".
 * x: (N, ...), out: (...)
 */
export function meanImage(x: Tensor): Tensor {
  checkBatch("meanImage", "x", x);
  if (x.shape[0] === 0) throw new ShapeError(`meanImage: x has no examples (shape ${shapeStr(x.shape)})`);
  return mean(x, 0);
}

/**
 * Subtracts a mean image from every example (broadcast over axis 0).
 * x: (N, ...), mean: (...) or (1, ...), out: (N, ...)
 */
export function subtractMean(x: Tensor, mean: Tensor): Tensor {
  checkBatch("subtractMean", "x", x);
  checkTensor("subtractMean", "mean", mean);
  const rest = x.shape.slice(1);
  if (!sameShape(mean.shape, rest) && !sameShape(mean.shape, [1, ...rest])) {
    throw new ShapeError(
      `subtractMean: mean must have shape ${shapeStr(rest)} (x.shape without its first axis), got ` +
        `${shapeStr(mean.shape)} for x of shape ${shapeStr(x.shape)}`,
    );
  }
  return sub(x, mean);
}

/**
 * Flattens each example into a row (a view when x is contiguous).
 * x: (N, d1, ..., dk), out: (N, d1*...*dk)
 */
export function flattenImages(x: Tensor): Tensor {
  checkBatch("flattenImages", "x", x);
  return flattenRows(x);
}

/**
 * Appends a column of ones, so a bias can live in the last row of W (the bias trick).
 * x: (N, D), out: (N, D+1)
 */
export function addBiasColumn(x: Tensor): Tensor {
  checkTensor("addBiasColumn", "x", x, 2);
  const [n, d] = x.shape;
  const out = zeros([n, d + 1]);
  const o = out.data;
  const src = x.data;
  forEachIndex(x, (p, k) => {
    const i = Math.floor(k / d);
    o[k + i] = src[p];
  });
  for (let i = 0; i < n; i++) o[i * (d + 1) + d] = 1;
  return out;
}

/**
 * Reorders the examples by a seeded random permutation (the same seed gives the same order everywhere).
 * x: (N, ...), y: (N), out x: (N, ...), out y: (N)
 */
export function shuffleDataset(x: Tensor, y: Int32Array, seed: number): { x: Tensor; y: Int32Array } {
  checkBatch("shuffleDataset", "x", x);
  checkLabelsFor("shuffleDataset", x, y);
  if (typeof seed !== "number" || !Number.isFinite(seed)) {
    throw new TypeError(`shuffleDataset: seed must be a finite number, got ${String(seed)}`);
  }
  const perm = new Rng(seed).permutation(x.shape[0]);
  return { x: takeRows(x, perm), y: takeLabels(y, perm) };
}

/** The parts splitDataset returns; xTest/yTest only when numTest was given. */
export interface DatasetSplit {
  xTrain: Tensor;
  yTrain: Int32Array;
  xVal: Tensor;
  yVal: Int32Array;
  xTest?: Tensor;
  yTest?: Int32Array;
}

/**
 * Splits examples into contiguous train, validation and (optional) test blocks, in that order, after a
 * seeded shuffle when a seed is given. The tensors are views of x (or of its shuffled copy).
 * x: (N, ...), y: (N), xTrain: (numTrain, ...), xVal: (numVal, ...), xTest: (numTest, ...)
 */
export function splitDataset(
  x: Tensor,
  y: Int32Array,
  opts: { numTrain: number; numVal: number; numTest?: number; seed?: number },
): DatasetSplit {
  const fn = "splitDataset";
  checkBatch(fn, "x", x);
  checkLabelsFor(fn, x, y);
  if (typeof opts !== "object" || opts === null) {
    throw new TypeError(`${fn}: opts must be { numTrain, numVal, numTest?, seed? }, got ${String(opts)}`);
  }
  const numTrain = checkCount(fn, "numTrain", opts.numTrain);
  const numVal = checkCount(fn, "numVal", opts.numVal);
  const numTest = opts.numTest === undefined ? 0 : checkCount(fn, "numTest", opts.numTest);
  const n = x.shape[0];
  const total = numTrain + numVal + numTest;
  if (total > n) {
    throw new RangeError(
      `${fn}: numTrain + numVal + numTest = ${numTrain} + ${numVal} + ${numTest} = ${total} exceeds the ${n} ` +
        `examples in x (shape ${shapeStr(x.shape)})`,
    );
  }
  let xs = x;
  let ys = y;
  if (opts.seed !== undefined) ({ x: xs, y: ys } = shuffleDataset(x, y, opts.seed));
  const out: DatasetSplit = {
    xTrain: sliceRows(xs, 0, numTrain),
    yTrain: ys.slice(0, numTrain),
    xVal: sliceRows(xs, numTrain, numTrain + numVal),
    yVal: ys.slice(numTrain, numTrain + numVal),
  };
  if (opts.numTest !== undefined) {
    out.xTest = sliceRows(xs, numTrain + numVal, total);
    out.yTest = ys.slice(numTrain + numVal, total);
  }
  return out;
}

/**
 * How many examples each class has.
 * y: (N), out: (numClasses)
 */
export function classCounts(y: Int32Array, numClasses: number): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`classCounts: numClasses must be a positive integer, got ${String(numClasses)}`);
  }
  checkLabels("classCounts", "y", y, undefined, numClasses);
  const counts = new Int32Array(numClasses);
  for (let i = 0; i < y.length; i++) counts[y[i]]++;
  return counts;
}

/**
 * Indices of `perClass` examples of every class, picked in a seeded random order, grouped by class
 * (class 0's indices first), e.g. for a grid of sample images per class.
 * y: (N), out: (numClasses * perClass)
 */
export function samplePerClass(y: Int32Array, numClasses: number, perClass: number, seed: number): Int32Array {
  const fn = "samplePerClass";
  const counts = classCounts(y, numClasses);
  checkCount(fn, "perClass", perClass);
  counts.forEach((c, k) => {
    if (c < perClass) {
      throw new RangeError(`${fn}: class ${k} has ${c} examples, fewer than perClass (${perClass})`);
    }
  });
  const perm = new Rng(seed).permutation(y.length);
  const out = new Int32Array(numClasses * perClass);
  const filled = new Int32Array(numClasses);
  for (let i = 0; i < perm.length; i++) {
    const c = y[perm[i]];
    if (filled[c] < perClass) out[c * perClass + filled[c]++] = perm[i];
  }
  return out;
}
