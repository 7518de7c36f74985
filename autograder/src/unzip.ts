import { Inflate } from "fflate";

/**
 * Bounded reading of a submission's zip. The central directory is read (never trusted: declared sizes are
 * ignored), every entry's local record is located and checked not to overlap any other's or the directory,
 * and only the entries the caller asks for are inflated, by fflate's streaming inflater fed in small
 * pieces, with the bytes produced counted as they come: an entry that inflates past its cap is refused at
 * that point, so a bomb costs at most one cap of memory.
 *
 * Memory bound of the grader while unpacking: the zip itself (at most `maxArchiveBytes`), plus the files it
 * keeps (at most `maxTotalBytes` together), plus one piece of inflated output (`feedBytes` of input
 * inflate to at most ~1032 times as much, about 4 MB).
 */
export interface ZipLimits {
  maxArchiveBytes: number;
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
}

export const zipLimits: ZipLimits = {
  maxArchiveBytes: 50_000_000,
  maxEntries: 5_000,
  maxEntryBytes: 2_000_000,
  maxTotalBytes: 20_000_000,
};

/** Compressed bytes handed to the inflater at a time (deflate expands at most ~1032x). */
const feedBytes = 4096;

export interface ZipContents {
  /** Every entry name in the directory (files and folders), in order. */
  names: string[];
  /** The inflated entries that were asked for and fit their caps. */
  files: Map<string, Uint8Array>;
  /** What was refused and why, in words for the submission's report. */
  problems: string[];
  /** Bytes produced by the inflater in all (for tests of the bound). */
  inflatedBytes: number;
}

export class ZipError extends Error {
  override name = "ZipError";
}

class TooLarge extends Error {}

const u16 = (b: Uint8Array, p: number): number => b[p] | (b[p + 1] << 8);
const u32 = (b: Uint8Array, p: number): number => (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x1000000;

interface Entry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  localOffset: number;
  dataStart: number;
  dataEnd: number;
}

function endOfDirectory(b: Uint8Array): { count: number; size: number; offset: number; at: number } {
  const lowest = Math.max(0, b.length - 22 - 0xffff);
  for (let p = b.length - 22; p >= lowest; p--) {
    if (u32(b, p) === 0x06054b50) {
      const count = u16(b, p + 10);
      const size = u32(b, p + 12);
      const offset = u32(b, p + 16);
      if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) throw new ZipError("ZIP64 archives are not accepted");
      return { count, size, offset, at: p };
    }
  }
  throw new ZipError("it is not a zip file (no end-of-directory record)");
}

/**
 * Reads the entries of `bytes` that `wanted` accepts (by name), within `limits`. Throws ZipError for an
 * archive that cannot be read at all or is built to mislead (overlapping entries, records outside the
 * file); per-entry problems (too large, encrypted, an unknown method) are listed and the entry is skipped.
 */
export function readZip(bytes: Uint8Array, wanted: (name: string) => boolean, limits: ZipLimits = zipLimits): ZipContents {
  if (bytes.length > limits.maxArchiveBytes) throw new ZipError(`the zip is larger than ${limits.maxArchiveBytes / 1e6} MB`);
  const eocd = endOfDirectory(bytes);
  if (eocd.offset + eocd.size > eocd.at) throw new ZipError("its directory lies outside the file");
  const problems: string[] = [];
  const entries: Entry[] = [];
  let p = eocd.offset;
  const count = Math.min(eocd.count, limits.maxEntries);
  if (eocd.count > limits.maxEntries) problems.push(`the zip has ${eocd.count} entries; only the first ${limits.maxEntries} were looked at`);
  for (let i = 0; i < count; i++) {
    if (p + 46 > eocd.at || u32(bytes, p) !== 0x02014b50) throw new ZipError("its directory is corrupt");
    const flags = u16(bytes, p + 8);
    const method = u16(bytes, p + 10);
    const compressedSize = u32(bytes, p + 20);
    const nameLen = u16(bytes, p + 28);
    const extraLen = u16(bytes, p + 30);
    const commentLen = u16(bytes, p + 32);
    const localOffset = u32(bytes, p + 42);
    if (p + 46 + nameLen > eocd.at) throw new ZipError("its directory is corrupt");
    const name = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
    if (localOffset + 30 > eocd.offset || u32(bytes, localOffset) !== 0x04034b50) throw new ZipError(`the record of ${JSON.stringify(name.slice(0, 80))} is missing`);
    const dataStart = localOffset + 30 + u16(bytes, localOffset + 26) + u16(bytes, localOffset + 28);
    const dataEnd = dataStart + compressedSize;
    if (dataEnd > eocd.offset) throw new ZipError(`the data of ${JSON.stringify(name.slice(0, 80))} runs past the end of the entries`);
    entries.push({ name, method, flags, compressedSize, localOffset, dataStart, dataEnd });
  }
  // No two entries may share bytes (overlapping entries are how a small zip claims to hold terabytes).
  const byOffset = [...entries].sort((a, b) => a.localOffset - b.localOffset);
  for (let i = 1; i < byOffset.length; i++) {
    if (byOffset[i].localOffset < byOffset[i - 1].dataEnd) throw new ZipError("its entries overlap (a zip bomb?)");
  }

  const files = new Map<string, Uint8Array>();
  let total = 0;
  let inflatedBytes = 0;
  for (const e of entries) {
    if (e.name.endsWith("/") || !wanted(e.name)) continue;
    if (e.flags & 1) {
      problems.push(`${e.name} is encrypted and was not graded`);
      continue;
    }
    const cap = Math.min(limits.maxEntryBytes, limits.maxTotalBytes - total);
    const chunks: Uint8Array[] = [];
    let size = 0;
    const take = (chunk: Uint8Array): void => {
      size += chunk.length;
      inflatedBytes += chunk.length;
      if (size > cap) throw new TooLarge();
      chunks.push(chunk);
    };
    try {
      if (e.method === 0) take(bytes.slice(e.dataStart, e.dataEnd));
      else if (e.method === 8) {
        const inflater = new Inflate((chunk) => take(chunk));
        if (e.dataEnd === e.dataStart) inflater.push(new Uint8Array(0), true);
        for (let q = e.dataStart; q < e.dataEnd; q += feedBytes) {
          const end = Math.min(e.dataEnd, q + feedBytes);
          inflater.push(bytes.subarray(q, end), end === e.dataEnd);
        }
      } else {
        problems.push(`${e.name} uses a compression method the grader does not read (${e.method}); zip it again with the default settings`);
        continue;
      }
    } catch (err) {
      if (err instanceof TooLarge) {
        problems.push(
          size > limits.maxEntryBytes || cap === limits.maxEntryBytes
            ? `${e.name} is larger than ${limits.maxEntryBytes / 1e6} MB and was not graded`
            : `the files of the zip together are larger than ${limits.maxTotalBytes / 1e6} MB; ${e.name} was not graded`,
        );
      } else problems.push(`${e.name} could not be inflated (the zip is corrupt)`);
      continue;
    }
    const out = new Uint8Array(size);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    total += size;
    files.set(e.name, out);
  }
  return { names: entries.map((e) => e.name), files, problems, inflatedBytes };
}
