import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { DataError, idxEncode, idxRead, sha256Hex } from "../src/index.js";

/** Builds idx bytes by hand: magic, big-endian dims, then the body. */
function idxBytes(magic: number, dims: number[], body: number[] | Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

/** Asserts fn throws a DataError whose message contains every fragment. */
function expectDataError(fn: () => unknown, fragments: Array<string | RegExp>): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, "expected a DataError").toBeInstanceOf(DataError);
  const msg = (err as Error).message;
  for (const f of fragments) {
    if (typeof f === "string") expect(msg).toContain(f);
    else expect(msg).toMatch(f);
  }
}

const tmp = mkdtempSync(join(tmpdir(), "sg-idx-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("idxRead on hand-built bytes", () => {
  it("parses a 3-D unsigned-byte file (2 images of 2x3) in row-major order", () => {
    const body = [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255];
    const r = idxRead(idxBytes(0x00000803, [2, 2, 3], body));
    expect(r.magic).toBe(0x803);
    expect(r.typeCode).toBe(0x08);
    expect(r.typeName).toBe("unsigned bytes");
    expect(r.dims).toEqual([2, 2, 3]);
    expect(r.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(r.data)).toEqual(body);
  });

  it("parses a 1-D label file and reads dims as big-endian (256 labels: dims bytes 00 00 01 00)", () => {
    const body = Array.from({ length: 256 }, (_, i) => i % 10);
    const bytes = idxBytes(0x00000801, [256], body);
    expect(Array.from(bytes.subarray(4, 8))).toEqual([0, 0, 1, 0]);
    const r = idxRead(bytes);
    expect(r.dims).toEqual([256]);
    expect(r.data[255]).toBe(5);
  });

  it("gunzips gzip input transparently (detected by the 1f 8b magic, not the name)", () => {
    const raw = idxBytes(0x00000801, [3], [7, 8, 9]);
    const r = idxRead(gzipSync(raw));
    expect(Array.from(r.data)).toEqual([7, 8, 9]);
  });

  it("decodes big-endian 32-bit integers, 16-bit integers and 64-bit floats", () => {
    // int32: -2 = ff ff ff fe, 258 = 00 00 01 02
    const i32 = idxRead(idxBytes(0x00000c01, [2], [0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 2]));
    expect(i32.data).toBeInstanceOf(Int32Array);
    expect(Array.from(i32.data)).toEqual([-2, 258]);
    // int16: -1 = ff ff, 513 = 02 01
    const i16 = idxRead(idxBytes(0x00000b01, [2], [0xff, 0xff, 2, 1]));
    expect(Array.from(i16.data)).toEqual([-1, 513]);
    // float64 1.5 = 3f f8 00 00 00 00 00 00
    const f64 = idxRead(idxBytes(0x00000e01, [1], [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]));
    expect(f64.data[0]).toBe(1.5);
    // signed bytes: 0xff = -1
    const i8 = idxRead(idxBytes(0x00000901, [2], [0xff, 0x7f]));
    expect(Array.from(i8.data)).toEqual([-1, 127]);
  });

  it("reads a file path, gzipped or not", () => {
    const raw = idxBytes(0x00000802, [2, 2], [1, 2, 3, 4]);
    writeFileSync(join(tmp, "a-idx2-ubyte"), raw);
    writeFileSync(join(tmp, "a-idx2-ubyte.gz"), gzipSync(raw));
    expect(Array.from(idxRead(join(tmp, "a-idx2-ubyte")).data)).toEqual([1, 2, 3, 4]);
    expect(idxRead(join(tmp, "a-idx2-ubyte.gz")).dims).toEqual([2, 2]);
  });

  it("idxEncode writes what idxRead reads, with magic 0x00000803 for 3 dims", () => {
    const data = Uint8Array.from({ length: 24 }, (_, i) => (i * 37) % 256);
    const enc = idxEncode([2, 3, 4], data);
    expect(Array.from(enc.subarray(0, 4))).toEqual([0, 0, 8, 3]);
    expect(enc.length).toBe(16 + 24);
    const r = idxRead(enc);
    expect(r.dims).toEqual([2, 3, 4]);
    expect(Array.from(r.data)).toEqual(Array.from(data));
  });

  it("sha256Hex matches the published digest of 'abc'", () => {
    // FIPS 180-2 test vector.
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});

describe("idxRead errors name the file, what was expected and what was found", () => {
  const help = "HOW-TO-GET-IT";

  it("wrong magic number: expected 0x00000803, got 0x00000801", () => {
    const labels = idxBytes(0x00000801, [2], [1, 2]);
    expectDataError(
      () => idxRead(labels, { expectMagic: 0x00000803, what: "training images", where: "imgs.gz", help }),
      ["imgs.gz", "wrong magic number", "expected 0x00000803", "unsigned bytes, 3 dimensions", "training images",
        "got 0x00000801", "unsigned bytes, 1 dimension", help],
    );
  });

  it("not an idx file at all (no expected magic given)", () => {
    const text = new TextEncoder().encode("<html>404 Not Found</html>");
    expectDataError(() => idxRead(text, { where: "page.html" }), ["page.html", "is not an idx file", "0x3c68746d"]);
  });

  it("fewer than 4 bytes", () => {
    expectDataError(
      () => idxRead(new Uint8Array([0, 0]), { expectMagic: 0x801, where: "tiny" }),
      ["tiny has 2 bytes", "too short for the 4-byte idx magic number", "expected 0x00000801", "truncated"],
    );
  });

  it("truncated header", () => {
    const bytes = idxBytes(0x00000803, [5], []); // claims 3 dims, has room for 1
    expectDataError(() => idxRead(bytes, { where: "hdr" }), [
      "hdr is truncated",
      "a 3-dimensional idx header needs 16 bytes",
      "the file has 8",
    ]);
  });

  it("truncated data: header says N images of 28x28 = X bytes, file has Y", () => {
    const bytes = idxBytes(0x00000803, [3, 28, 28], new Uint8Array(2 * 784 + 10));
    expectDataError(() => idxRead(bytes, { itemNoun: "images", where: "imgs", help }), [
      "imgs: header says 3 images of 28x28 (unsigned bytes) = 2352 bytes after the 16-byte header",
      "but the file has 1578",
      "truncated (short read)",
      help,
    ]);
  });

  it("extra bytes after the data", () => {
    const bytes = idxBytes(0x00000801, [2], [1, 2, 3]);
    expectDataError(() => idxRead(bytes, { itemNoun: "labels", where: "lbl" }), [
      "lbl: header says 2 labels (unsigned bytes) = 2 bytes after the 8-byte header",
      "the file has 3",
      "1 extra bytes at the end",
    ]);
  });

  it("corrupt gzip (damaged stream) and truncated gzip", () => {
    const gz = gzipSync(idxBytes(0x00000801, [100], new Uint8Array(100).fill(3)));
    const damaged = Uint8Array.from(gz);
    damaged[12] ^= 0xff;
    damaged[13] ^= 0xff;
    expectDataError(() => idxRead(damaged, { where: "x.gz", help }), ["x.gz: corrupt gzip data", "zlib says", help]);
    const cut = gz.subarray(0, gz.length - 10);
    expectDataError(() => idxRead(cut, { where: "cut.gz" }), [
      "cut.gz: corrupt gzip data",
      "unexpected end of file",
      "only partly downloaded",
    ]);
  });

  it("missing file", () => {
    const p = join(tmp, "nope-idx1-ubyte.gz");
    expectDataError(() => idxRead(p, { what: "test labels", help }), [`file not found: ${p}`, "test labels", help]);
  });

  it("a path that cannot be read (a directory), and a source that is neither a path nor bytes", () => {
    expectDataError(() => idxRead(tmp, { what: "training images", help }), [`cannot read ${tmp} (training images)`, "EISDIR", help]);
    expect(() => idxRead(42 as unknown as Uint8Array)).toThrow("idxRead: source must be a file path or a Uint8Array, got number");
  });

  it("idxEncode rejects bad dims", () => {
    expect(() => idxEncode([], new Uint8Array(0))).toThrow("idxEncode: dims must be 1 to 255 non-negative 32-bit integers, got []");
    expect(() => idxEncode([2, -1], new Uint8Array(0))).toThrow("got [2,-1]");
  });

  it("idxEncode rejects data of the wrong length", () => {
    expect(() => idxEncode([2, 2], new Uint8Array(3))).toThrow(
      "idxEncode: data must be a Uint8Array of 4 bytes for dims [2,2], got 3 bytes",
    );
  });
});
