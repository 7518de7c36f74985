import { tensor, type Tensor } from "@semantic-gap/lib";

/**
 * How values cross between the grader and the child process that runs student code.
 *
 * Node's "advanced" IPC serialization (the V8 serializer) carries numbers, strings, typed arrays, plain
 * objects and arrays; it cannot carry ndarray objects (their prototype holds the methods). A tensor
 * therefore crosses as `{ [TENSOR_TAG]: true, shape, data }` with a contiguous row-major copy of its data.
 * The same encoder is used in both directions; the parent decodes what comes back with
 * `decodeUntrusted`, which accepts only that vocabulary and rebuilds every value from scratch.
 */

export const TENSOR_TAG = "__sgTensor";
export const UNSUPPORTED_TAG = "__sgUnsupported";
export const HANDLE_TAG = "__sgHandle";

/** Limits on what a student's return value may be. */
export interface CodecLimits {
  /** Total numbers (tensor entries, typed array entries, array elements) in one value. */
  maxElements: number;
  /** Nesting depth of arrays and objects. */
  maxDepth: number;
  /** Characters in one string. */
  maxString: number;
}

export const defaultLimits: CodecLimits = { maxElements: 20_000_000, maxDepth: 32, maxString: 1_000_000 };

/** A value the student returned that cannot be graded (a function, a Map, a non-float64 ndarray...). */
export class UnsupportedValue {
  constructor(public readonly description: string) {}
  toString(): string {
    return this.description;
  }
}

/** Raised while encoding or decoding a value that breaks the rules. */
export class CodecError extends Error {
  override name = "CodecError";
}

const objectProto = Object.prototype;
const getProto = Object.getPrototypeOf;
const isArray = Array.isArray;
const ownKeys = Object.keys;
const isView = ArrayBuffer.isView;
const isSafeInteger = Number.isSafeInteger;

function typeName(x: unknown): string {
  if (x === null) return "null";
  if (typeof x !== "object") return typeof x;
  try {
    const proto = getProto(x);
    const ctor = proto && Object.prototype.hasOwnProperty.call(proto, "constructor") ? proto.constructor : null;
    const name = typeof ctor === "function" && typeof ctor.name === "string" ? ctor.name : "";
    return name ? name.slice(0, 60) : "Object";
  } catch {
    return "Object";
  }
}

/** True when `x` looks like an ndarray (shape and stride arrays, a data buffer). Reads can throw. */
function looksLikeNdarray(x: object): boolean {
  const r = x as { shape?: unknown; stride?: unknown; data?: unknown };
  return isArray(r.shape) && isArray(r.stride) && typeof r.data === "object" && r.data !== null && "offset" in x;
}

/**
 * Encodes a value for the other side. Tensors become tagged contiguous copies; other ndarrays, functions,
 * symbols, Maps and class-specific objects become an "unsupported" marker that names what they were.
 * Getters may run and throw (on the child side they are the student's); the caller catches that.
 */
export function encodeValue(value: unknown, limits: CodecLimits = defaultLimits): unknown {
  let budget = limits.maxElements;
  const spend = (n: number): void => {
    budget -= n;
    if (budget < 0) throw new CodecError(`the value is too large (more than ${limits.maxElements} numbers)`);
  };
  const seen = new Set<object>();

  const enc = (v: unknown, depth: number): unknown => {
    switch (typeof v) {
      case "number":
      case "boolean":
      case "undefined":
      case "bigint":
        return v;
      case "string":
        if (v.length > limits.maxString) throw new CodecError(`a string is too long (${v.length} characters)`);
        return v;
      case "function":
        return { [UNSUPPORTED_TAG]: "a function" };
      case "symbol":
        return { [UNSUPPORTED_TAG]: "a symbol" };
    }
    if (v === null) return null;
    const o = v as object;
    if (depth > limits.maxDepth) throw new CodecError(`the value is nested more than ${limits.maxDepth} levels deep`);
    if (seen.has(o)) throw new CodecError("the value contains a cycle or a shared sub-object");
    seen.add(o);
    try {
      if (isView(o)) {
        if (o instanceof DataView) return { [UNSUPPORTED_TAG]: "a DataView" };
        const ta = o as unknown as { length: number; slice(): unknown };
        spend(ta.length);
        return ta.slice();
      }
      if (isArray(o)) {
        const n = o.length;
        spend(n);
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = enc(o[i], depth + 1);
        return out;
      }
      if (looksLikeNdarray(o)) return encodeNdarray(o, spend);
      const proto = getProto(o);
      if (proto === objectProto || proto === null || isPlainClassInstance(o)) {
        const out: Record<string, unknown> = {};
        const keys = ownKeys(o);
        spend(keys.length);
        for (const k of keys) {
          if (k === "__proto__") continue;
          const x = (o as Record<string, unknown>)[k];
          if (typeof x === "function") continue; // methods of a returned object are not data
          out[k] = enc(x, depth + 1);
        }
        return out;
      }
      return { [UNSUPPORTED_TAG]: `an object of type ${typeName(o)}` };
    } finally {
      seen.delete(o);
    }
  };
  return enc(value, 0);
}

/** Instances of user classes cross as their own enumerable fields; built-ins (Map, Date, Promise...) do not. */
function isPlainClassInstance(o: object): boolean {
  if (o instanceof Map || o instanceof Set || o instanceof WeakMap || o instanceof WeakSet) return false;
  if (o instanceof Date || o instanceof RegExp || o instanceof Promise || o instanceof Error) return false;
  if (o instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && o instanceof SharedArrayBuffer)) {
    return false;
  }
  return typeof (o as { then?: unknown }).then !== "function";
}

function encodeNdarray(o: object, spend: (n: number) => void): unknown {
  const r = o as { shape: unknown[]; stride: unknown[]; offset: unknown; data: unknown };
  const shape = Array.from(r.shape);
  const stride = Array.from(r.stride);
  const offset = r.offset;
  const data = r.data;
  if (!(data instanceof Float64Array)) {
    const name = isView(data) ? typeName(data) : "a plain array";
    return { [UNSUPPORTED_TAG]: `an ndarray backed by ${name} (expected Float64Array)` };
  }
  if (shape.length !== stride.length || shape.length > 16) throw new CodecError("an ndarray has a malformed shape");
  if (!isSafeInteger(offset)) throw new CodecError("an ndarray has a malformed offset");
  let size = 1;
  let lo = offset as number;
  let hi = offset as number;
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d];
    const s = stride[d];
    if (!isSafeInteger(n) || (n as number) < 0 || !isSafeInteger(s)) throw new CodecError("an ndarray has a malformed shape");
    size *= n as number;
    if ((n as number) > 0) {
      const reach = ((n as number) - 1) * (s as number);
      if (reach < 0) lo += reach;
      else hi += reach;
    }
  }
  if (size > 0 && (lo < 0 || hi >= data.length)) throw new CodecError("an ndarray's shape and strides reach outside its data");
  spend(size);
  const out = new Float64Array(size);
  const dims = shape as number[];
  const strides = stride as number[];
  const idx = new Array<number>(dims.length).fill(0);
  for (let k = 0; k < size; k++) {
    let p = offset as number;
    for (let d = 0; d < idx.length; d++) p += idx[d] * strides[d];
    out[k] = data[p];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
  return { [TENSOR_TAG]: true, shape: dims.slice(), data: out };
}

/**
 * Decodes a value encoded by the trusted side (the grader's arguments, in the child): tagged tensors
 * become tensors, everything else is taken as it is.
 */
export function decodeTrusted(v: unknown): unknown {
  if (v === null || typeof v !== "object") return v;
  if (isView(v)) return v;
  if (isArray(v)) return v.map(decodeTrusted);
  const o = v as Record<string, unknown>;
  if (o[TENSOR_TAG] === true) return tensor(o.data as Float64Array, o.shape as number[]);
  const out: Record<string, unknown> = {};
  for (const k of ownKeys(o)) out[k] = decodeTrusted(o[k]);
  return out;
}

/**
 * Decodes a value that came from the student's process. Only data can arrive there (the V8 deserializer
 * makes no getters, proxies or functions), but its content is checked as if hostile: tensor tags must
 * carry a consistent shape and a Float64Array, sizes are bounded, and objects are rebuilt key by key.
 * Throws CodecError on anything outside the vocabulary.
 */
export function decodeUntrusted(v: unknown, limits: CodecLimits = defaultLimits): unknown {
  let budget = limits.maxElements;
  const spend = (n: number): void => {
    budget -= n;
    if (budget < 0) throw new CodecError(`the value is too large (more than ${limits.maxElements} numbers)`);
  };
  const dec = (x: unknown, depth: number): unknown => {
    switch (typeof x) {
      case "number":
      case "boolean":
      case "undefined":
      case "bigint":
        return x;
      case "string":
        if (x.length > limits.maxString) throw new CodecError(`a string is too long (${x.length} characters)`);
        return x;
      case "object":
        break;
      default:
        throw new CodecError(`unexpected ${typeof x}`);
    }
    if (x === null) return null;
    if (depth > limits.maxDepth) throw new CodecError(`nested more than ${limits.maxDepth} levels deep`);
    if (isView(x)) {
      if (x instanceof DataView) return new UnsupportedValue("a DataView");
      const ta = x as unknown as { length: number; slice(): unknown };
      spend(ta.length);
      return ta.slice();
    }
    if (isArray(x)) {
      spend(x.length);
      const out = new Array<unknown>(x.length);
      for (let i = 0; i < x.length; i++) out[i] = dec(x[i], depth + 1);
      return out;
    }
    const proto = getProto(x);
    if (proto !== objectProto && proto !== null) return new UnsupportedValue(`an object of type ${typeName(x)}`);
    const o = x as Record<string, unknown>;
    if (Object.prototype.hasOwnProperty.call(o, TENSOR_TAG)) return decodeTensor(o, spend);
    if (Object.prototype.hasOwnProperty.call(o, UNSUPPORTED_TAG)) {
      const d = o[UNSUPPORTED_TAG];
      return new UnsupportedValue(typeof d === "string" ? d.slice(0, 200) : "an unsupported value");
    }
    const keys = ownKeys(o);
    spend(keys.length);
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      if (k === "__proto__") continue;
      out[k] = dec(o[k], depth + 1);
    }
    return out;
  };
  return dec(v, 0);
}

function decodeTensor(o: Record<string, unknown>, spend: (n: number) => void): Tensor {
  const shape = o.shape;
  const data = o.data;
  if (o[TENSOR_TAG] !== true || !isArray(shape) || !(data instanceof Float64Array)) {
    throw new CodecError("a malformed tensor");
  }
  if (shape.length > 16) throw new CodecError("a tensor with too many dimensions");
  let size = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !isSafeInteger(d) || d < 0) throw new CodecError("a tensor with an invalid shape");
    size *= d;
  }
  if (size !== data.length) throw new CodecError("a tensor whose shape does not match its data");
  spend(size);
  return tensor(data.slice(), shape.slice() as number[]);
}
