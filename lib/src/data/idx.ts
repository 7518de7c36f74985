import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { DataError } from "./errors.js";

/** The element arrays an idx file can hold. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed idx file: its magic number, element type, dimensions and elements in row-major order. */
export interface IdxArray {
  magic: number;
  typeCode: number;
  typeName: string;
  dims: number[];
  /** For unsigned bytes a view into the file's bytes (no copy); other types are decoded from big-endian. */
  data: IdxData;
}

export interface IdxReadOptions {
  /** The magic number the caller needs, e.g. 0x00000803 for images; anything else is an error. */
  expectMagic?: number;
  /** What the file should hold, for messages, e.g. "Fashion-MNIST training images". */
  what?: string;
  /** What one entry along the first dimension is called, for messages: "images", "labels". */
  itemNoun?: string;
  /** Where the bytes came from, for messages (the path when reading a file). */
  where?: string;
  /** How to get a good copy, appended to every error. */
  help?: string;
}

const IDX_TYPES: Record<number, { name: string; size: number }> = {
  0x08: { name: "unsigned bytes", size: 1 },
  0x09: { name: "signed bytes", size: 1 },
  0x0b: { name: "16-bit integers", size: 2 },
  0x0c: { name: "32-bit integers", size: 4 },
  0x0d: { name: "32-bit floats", size: 4 },
  0x0e: { name: "64-bit floats", size: 8 },
};

/** Formats a magic number as 0x00000803. */
export function hex32(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

function describeMagic(magic: number): string {
  const type = IDX_TYPES[(magic >>> 8) & 0xff];
  const nd = magic & 0xff;
  if ((magic >>> 16) !== 0 || !type) return "not an idx header";
  return `${type.name}, ${nd} dimension${nd === 1 ? "" : "s"}`;
}

function suffix(help?: string): string {
  return help ? ` ${help}` : "";
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Returns the bytes, gunzipped when they start with the gzip magic; corrupt gzip data is a DataError
 * naming `where`.
 */
export function gunzipIfNeeded(bytes: Uint8Array, where = "data", help?: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw new DataError(
      `${where}: corrupt gzip data (zlib says: ${(e as Error).message}); expected a complete gzip file, ` +
        `the file is damaged or was only partly downloaded.${suffix(help)}`,
    );
  }
}

/** Lowercase hex SHA-256 of the bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Parses an idx file (the format of MNIST and Fashion-MNIST) from a path or from bytes, gunzipping
 * first when the data is gzip. Checks the magic number (against `expectMagic` when given) and that the
 * data is exactly as long as the header says; every error names the file and what was expected.
 */
export function idxRead(source: string | Uint8Array, opts: IdxReadOptions = {}): IdxArray {
  const { expectMagic, help } = opts;
  let where = opts.where ?? (typeof source === "string" ? source : "idx data");
  let raw: Uint8Array;
  if (typeof source === "string") {
    try {
      raw = readFileSync(source);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const what = opts.what ? ` (${opts.what})` : "";
      if (code === "ENOENT") throw new DataError(`idxRead: file not found: ${source}${what}.${suffix(help)}`);
      throw new DataError(`idxRead: cannot read ${source}${what}: ${(e as Error).message}.${suffix(help)}`);
    }
  } else if (source instanceof Uint8Array) {
    raw = source;
  } else {
    throw new TypeError(`idxRead: source must be a file path or a Uint8Array, got ${typeof source}`);
  }
  const bytes = gunzipIfNeeded(raw, `idxRead: ${where}`, help);
  if (isGzip(raw)) where = `${where} (after gunzip)`;
  const what = opts.what ? ` for ${opts.what}` : "";

  if (bytes.length < 4) {
    throw new DataError(
      `idxRead: ${where} has ${bytes.length} bytes, too short for the 4-byte idx magic number` +
        `${expectMagic !== undefined ? ` (expected ${hex32(expectMagic)}${what})` : ""}; the file is truncated or empty.${suffix(help)}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (expectMagic !== undefined && magic !== expectMagic) {
    throw new DataError(
      `idxRead: ${where} has the wrong magic number: expected ${hex32(expectMagic)} (${describeMagic(expectMagic)})` +
        `${what}, got ${hex32(magic)} (${describeMagic(magic)}); this is not the right idx file or it is corrupt.${suffix(help)}`,
    );
  }
  const typeCode = (magic >>> 8) & 0xff;
  const type = IDX_TYPES[typeCode];
  const ndims = magic & 0xff;
  if ((magic >>> 16) !== 0 || !type || ndims === 0) {
    throw new DataError(
      `idxRead: ${where} is not an idx file: magic number ${hex32(magic)} must be 0x0000TTDD with type TT in ` +
        `08, 09, 0b, 0c, 0d, 0e and at least one dimension DD.${suffix(help)}`,
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataError(
      `idxRead: ${where} is truncated: a ${ndims}-dimensional idx header needs ${headerBytes} bytes, ` +
        `the file has ${bytes.length} (short read).${suffix(help)}`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, d) => a * d, 1);
  const dataBytes = count * type.size;
  const have = bytes.length - headerBytes;
  if (have !== dataBytes) {
    const noun = opts.itemNoun ?? "entries";
    const each =
      dims.length > 1 ? ` of ${dims.slice(1).join("x")}` : "";
    const sizeNote = type.size === 1 ? type.name : `${type.name} (${type.size} bytes each)`;
    const problem = have < dataBytes ? "the file is truncated (short read)" : `the file has ${have - dataBytes} extra bytes at the end`;
    throw new DataError(
      `idxRead: ${where}: header says ${dims[0]} ${noun}${each} (${sizeNote}) = ${dataBytes} bytes after the ` +
        `${headerBytes}-byte header, but the file has ${have}; ${problem}.${suffix(help)}`,
    );
  }
  const body = bytes.subarray(headerBytes);
  let data: IdxData;
  switch (typeCode) {
    case 0x08:
      data = body;
      break;
    case 0x09:
      data = new Int8Array(body.buffer, body.byteOffset, count);
      break;
    default: {
      const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      const Ctor = { 0x0b: Int16Array, 0x0c: Int32Array, 0x0d: Float32Array, 0x0e: Float64Array }[typeCode]!;
      const out = new Ctor(count);
      for (let i = 0; i < count; i++) {
        const p = i * type.size;
        out[i] =
          typeCode === 0x0b
            ? bv.getInt16(p, false)
            : typeCode === 0x0c
              ? bv.getInt32(p, false)
              : typeCode === 0x0d
                ? bv.getFloat32(p, false)
                : bv.getFloat64(p, false);
      }
      data = out;
    }
  }
  return { magic, typeCode, typeName: type.name, dims, data };
}

/**
 * Encodes unsigned bytes as an (uncompressed) idx file with magic 0x000008DD.
 * dims: the shape, data: the elements in row-major order (length = product of dims).
 */
export function idxEncode(dims: ReadonlyArray<number>, data: Uint8Array): Uint8Array {
  if (dims.length === 0 || dims.length > 255 || !dims.every((d) => Number.isInteger(d) && d >= 0 && d < 2 ** 32)) {
    throw new RangeError(`idxEncode: dims must be 1 to 255 non-negative 32-bit integers, got ${JSON.stringify(dims)}`);
  }
  const count = dims.reduce((a, d) => a * d, 1);
  if (!(data instanceof Uint8Array) || data.length !== count) {
    throw new RangeError(
      `idxEncode: data must be a Uint8Array of ${count} bytes for dims ${JSON.stringify(dims)}, got ` +
        `${data instanceof Uint8Array ? data.length + " bytes" : typeof data}`,
    );
  }
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + count);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}
