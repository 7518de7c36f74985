import { ShapeError, shapeStr } from "../errors.js";
import { checkTensor, type Tensor } from "../tensor.js";

/** Convolution hyperparameters, as in the classic course: `{ stride, pad }`. */
export interface ConvParam {
  stride: number;
  pad: number;
}

/** Pooling hyperparameters, as in the classic course: `{ poolHeight, poolWidth, stride }`. */
export interface PoolParam {
  poolHeight: number;
  poolWidth: number;
  stride: number;
}

/** The checked sizes of one convolution. */
export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  F: number;
  HH: number;
  WW: number;
  stride: number;
  pad: number;
  Ho: number;
  Wo: number;
}

/** The checked sizes of one pooling. */
export interface PoolGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  ph: number;
  pw: number;
  stride: number;
  Ho: number;
  Wo: number;
}

function checkInt(fn: string, name: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new RangeError(`${fn}: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

// One output size along an axis: (size + 2·pad − k) / stride + 1, which must be a whole number >= 1.
function outputSize(fn: string, axis: string, size: number, k: number, kName: string, pad: number, stride: number): number {
  const span = size + 2 * pad - k;
  if (span < 0) {
    throw new ShapeError(
      `${fn}: the ${kName} (${k}) is larger than the padded input ${axis} (${size} + 2·${pad} = ${size + 2 * pad})`,
    );
  }
  if (span % stride !== 0) {
    throw new ShapeError(
      `${fn}: the geometry does not divide along the ${axis}: (${axis} ${size} + 2·pad ${pad} − ${kName} ${k}) = ${span} ` +
        `is not a multiple of the stride ${stride}`,
    );
  }
  return span / stride + 1;
}

/** Checks the arguments of a convolution and returns its sizes. x: (N, C, H, W), w: (F, C, HH, WW), b: (F) */
export function convGeometry(fn: string, x: Tensor, w: Tensor, b: Tensor, convParam: ConvParam): ConvGeometry {
  checkTensor(fn, "x", x, 4);
  checkTensor(fn, "w", w, 4);
  checkTensor(fn, "b", b, 1);
  if (typeof convParam !== "object" || convParam === null) {
    throw new TypeError(`${fn}: convParam must be an object { stride, pad }, got ${String(convParam)}`);
  }
  const stride = checkInt(fn, "convParam.stride", convParam.stride, 1);
  const pad = checkInt(fn, "convParam.pad", convParam.pad, 0);
  const [N, C, H, W] = x.shape;
  const [F, Cw, HH, WW] = w.shape;
  if (Cw !== C) {
    throw new ShapeError(
      `${fn}: the filters have ${Cw} channels (w.shape[1]) but the input has ${C} (x.shape[1]); ` +
        `w ${shapeStr(w.shape)}, x ${shapeStr(x.shape)}`,
    );
  }
  if (b.shape[0] !== F) {
    throw new ShapeError(`${fn}: b.shape[0] (${b.shape[0]}) must equal the number of filters w.shape[0] (${F})`);
  }
  if (HH < 1 || WW < 1) throw new ShapeError(`${fn}: w must have a non-empty filter, got ${shapeStr(w.shape)}`);
  const Ho = outputSize(fn, "height", H, HH, "filter height", pad, stride);
  const Wo = outputSize(fn, "width", W, WW, "filter width", pad, stride);
  return { N, C, H, W, F, HH, WW, stride, pad, Ho, Wo };
}

/** Checks the arguments of a pooling and returns its sizes. x: (N, C, H, W) */
export function poolGeometry(fn: string, x: Tensor, poolParam: PoolParam): PoolGeometry {
  checkTensor(fn, "x", x, 4);
  if (typeof poolParam !== "object" || poolParam === null) {
    throw new TypeError(`${fn}: poolParam must be an object { poolHeight, poolWidth, stride }, got ${String(poolParam)}`);
  }
  const ph = checkInt(fn, "poolParam.poolHeight", poolParam.poolHeight, 1);
  const pw = checkInt(fn, "poolParam.poolWidth", poolParam.poolWidth, 1);
  const stride = checkInt(fn, "poolParam.stride", poolParam.stride, 1);
  const [N, C, H, W] = x.shape;
  const Ho = outputSize(fn, "height", H, ph, "pool height", 0, stride);
  const Wo = outputSize(fn, "width", W, pw, "pool width", 0, stride);
  return { N, C, H, W, ph, pw, stride, Ho, Wo };
}

/** Checks that an upstream gradient has the shape of the forward output. */
export function checkDout(fn: string, dout: unknown, shape: ReadonlyArray<number>): Tensor {
  const d = checkTensor(fn, "dout", dout, 4);
  if (!d.shape.every((s, i) => s === shape[i])) {
    throw new ShapeError(`${fn}: dout must have the forward output's shape ${shapeStr(shape)}, got ${shapeStr(d.shape)}`);
  }
  return d;
}
