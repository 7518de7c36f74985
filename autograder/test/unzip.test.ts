import { writeFileSync } from "node:fs";
import path from "node:path";
import { Deflate, deflateSync, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { readZip, zipLimits, ZipError } from "../src/unzip.js";
import { T, gradeToy, result, tempDir, toyDir } from "./helpers.js";
import { readFileSync } from "node:fs";

interface RawEntry {
  name: string;
  /** The bytes stored (already deflated when method is 8). */
  data: Uint8Array;
  method: 0 | 8;
  /** The uncompressed size the headers claim. */
  declared: number;
}

/** A zip built by hand, so that its headers can lie; `alias` adds central entries pointing at entry 0's record. */
function makeZip(entries: RawEntry[], alias: string[] = []): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const offsets: number[] = [];
  const header = (size: number, f: (v: DataView) => void): Uint8Array => {
    const b = new Uint8Array(size);
    f(new DataView(b.buffer));
    return b;
  };
  const centralFor = (e: RawEntry, name: Uint8Array, at: number) =>
    header(46, (v) => {
      v.setUint32(0, 0x02014b50, true);
      v.setUint16(10, e.method, true);
      v.setUint32(20, e.data.length, true);
      v.setUint32(24, e.declared, true);
      v.setUint16(28, name.length, true);
      v.setUint32(42, at, true);
    });
  for (const e of entries) {
    const name = enc.encode(e.name);
    const local = header(30, (v) => {
      v.setUint32(0, 0x04034b50, true);
      v.setUint16(8, e.method, true);
      v.setUint32(18, e.data.length, true);
      v.setUint32(22, e.declared, true);
      v.setUint16(26, name.length, true);
    });
    offsets.push(offset);
    parts.push(local, name, e.data);
    central.push(centralFor(e, name, offset), name);
    offset += 30 + name.length + e.data.length;
  }
  for (const a of alias) {
    const name = enc.encode(a);
    central.push(centralFor(entries[0], name, offsets[0]), name);
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const eocd = header(22, (v) => {
    v.setUint32(0, 0x06054b50, true);
    v.setUint16(8, entries.length + alias.length, true);
    v.setUint16(10, entries.length + alias.length, true);
    v.setUint32(12, cdSize, true);
    v.setUint32(16, offset, true);
  });
  const all = [...parts, ...central, eocd];
  const out = new Uint8Array(all.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of all) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** `mb` megabytes of zeros, deflated piece by piece (never held inflated). */
function zerosDeflated(mb: number): Uint8Array {
  const out: Uint8Array[] = [];
  const d = new Deflate({ level: 9 }, (chunk) => out.push(chunk));
  const piece = new Uint8Array(1 << 20);
  for (let i = 0; i < mb; i++) d.push(piece, i === mb - 1);
  const total = new Uint8Array(out.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of out) {
    total.set(c, p);
    p += c.length;
  }
  return total;
}

const all = () => true;

describe("bounded zip unpacking", () => {
  it("reads stored and deflated entries byte for byte, and only the ones asked for", () => {
    const text = new TextEncoder().encode("export const x = 1;\n".repeat(5000));
    const noise = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 2654435761) >>> 24);
    const zip = zipSync({ "a/knn.ts": text, "a/noise.bin": [noise, { level: 0 }], "a/other.ts": text });
    const r = readZip(zip, (n) => n !== "a/other.ts");
    expect(r.names).toEqual(["a/knn.ts", "a/noise.bin", "a/other.ts"]);
    expect([...r.files.keys()]).toEqual(["a/knn.ts", "a/noise.bin"]);
    expect(r.files.get("a/knn.ts")).toEqual(text);
    expect(r.files.get("a/noise.bin")).toEqual(noise);
    expect(r.inflatedBytes).toBe(text.length + noise.length); // other.ts was never inflated
    expect(r.problems).toEqual([]);
  });

  it("a bomb (32 MB of zeros declared as 10 bytes) is refused while inflating, within one cap of memory", () => {
    const bomb = zerosDeflated(32);
    expect(bomb.length).toBeLessThan(200_000);
    const zip = makeZip([
      { name: "knn.ts", data: bomb, method: 8, declared: 10 },
      { name: "extra.ts", data: deflateSync(new TextEncoder().encode("export {};")), method: 8, declared: 10 },
    ]);
    const r = readZip(zip, all);
    expect(r.problems).toEqual([`knn.ts is larger than ${zipLimits.maxEntryBytes / 1e6} MB and was not graded`]);
    expect([...r.files.keys()]).toEqual(["extra.ts"]);
    // The inflater stopped one piece past the cap: 4 KB of input inflate to at most ~4.2 MB.
    expect(r.inflatedBytes).toBeLessThan(zipLimits.maxEntryBytes + 4096 * 1032 + 100);
  });

  it("the total of the kept files is capped too", () => {
    const mb = new Uint8Array(1_000_000).fill(65);
    const zip = zipSync({ "a.ts": mb, "b.ts": mb, "c.ts": mb });
    const r = readZip(zip, all, { ...zipLimits, maxTotalBytes: 2_500_000 });
    expect([...r.files.keys()]).toEqual(["a.ts", "b.ts"]);
    expect(r.problems).toEqual(["the files of the zip together are larger than 2.5 MB; c.ts was not graded"]);
  });

  it("entries that share bytes (an overlapping bomb) refuse the whole zip", () => {
    const zip = makeZip([{ name: "knn.ts", data: new TextEncoder().encode("export {};"), method: 0, declared: 10 }], ["extra.ts", "again/knn.ts"]);
    expect(() => readZip(zip, all)).toThrow(new ZipError("its entries overlap (a zip bomb?)"));
  });

  it("caps the number of entries, and refuses records that point outside the file", () => {
    const zip = zipSync(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}.ts`, new Uint8Array(1)])));
    const r = readZip(zip, all, { ...zipLimits, maxEntries: 4 });
    expect(r.names).toHaveLength(4);
    expect(r.problems).toEqual(["the zip has 6 entries; only the first 4 were looked at"]);
    const bad = makeZip([{ name: "knn.ts", data: new Uint8Array(4), method: 0, declared: 4 }]);
    new DataView(bad.buffer).setUint32(bad.length - 22 - 46 - 6 + 42, 1_000_000, true);
    expect(() => readZip(bad, all)).toThrow(ZipError);
    expect(() => readZip(new TextEncoder().encode("PK not a zip"), all)).toThrow(/not a zip file/);
  });

  it("a bomb submission is graded: the report is complete and says which file was refused", async () => {
    const extra = new Uint8Array(readFileSync(path.join(toyDir, "solution", "extra.ts")));
    const zip = makeZip([
      { name: "sub/knn.ts", data: zerosDeflated(16), method: 8, declared: 100 },
      { name: "sub/extra.ts", data: extra, method: 0, declared: extra.length },
    ]);
    const file = path.join(tempDir(), "bomb.zip");
    writeFileSync(file, zip);
    const r = await gradeToy(file);
    expect(r.graderError).toBeUndefined();
    expect(r.problems).toEqual([`sub/knn.ts is larger than ${zipLimits.maxEntryBytes / 1e6} MB and was not graded`]);
    expect(r.files.missing).toEqual(["knn.ts"]);
    expect(result(r, T.distances).output).toBe("needs knn.ts, which your submission does not contain");
    expect(r.score).toBe(5);
  });
});
