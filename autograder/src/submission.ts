import { lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { readZip, ZipError, zipLimits } from "./unzip.js";

/** The files of a submission that the grader looks for, read into memory. */
export interface StagedSubmission {
  /** Expected file name -> source text. */
  sources: Map<string, string>;
  /** Expected file name -> where it was found (relative to the submission). */
  foundAt: Map<string, string>;
  missing: string[];
  /** Other .ts/.ipynb files seen and not graded (shown in the report). */
  ignored: string[];
  /** Problems reading the submission (a corrupt zip, an oversized file). */
  problems: string[];
}

const maxFileBytes = 2_000_000;
const maxWalkEntries = 20_000;

/**
 * Reads a submission folder or .zip and picks out the expected files by name, wherever they sit (Gradescope
 * and students' zips often add a folder level). The shallowest match wins. Symbolic links are never followed
 * and nothing is extracted to disk.
 */
export function stageSubmission(submission: string, expected: string[]): StagedSubmission {
  const want = new Set(expected);
  const candidates = new Map<string, { rel: string; depth: number; read: () => string }>();
  const ignored: string[] = [];
  const problems: string[] = [];
  const consider = (rel: string, size: number, read: () => string): void => {
    const base = path.posix.basename(rel);
    const depth = rel.split("/").length;
    if (rel.split("/").some((p) => p === "node_modules" || p === "__MACOSX" || p.startsWith("."))) return;
    if (!want.has(base)) {
      if (/\.(ts|ipynb)$/.test(base)) ignored.push(rel);
      return;
    }
    if (size > maxFileBytes) {
      problems.push(`${rel} is larger than ${maxFileBytes / 1e6} MB and was not graded`);
      return;
    }
    const prev = candidates.get(base);
    if (!prev || depth < prev.depth) {
      if (prev) ignored.push(prev.rel);
      candidates.set(base, { rel, depth, read });
    } else ignored.push(rel);
  };

  let st;
  try {
    st = statSync(submission);
  } catch {
    problems.push(`the submission ${path.basename(submission)} does not exist`);
    return finish(expected, candidates, ignored, problems);
  }
  if (st.isFile() && submission.toLowerCase().endsWith(".zip")) {
    try {
      if (st.size > zipLimits.maxArchiveBytes) throw new ZipError(`the zip is larger than ${zipLimits.maxArchiveBytes / 1e6} MB`);
      const skipped = (name: string): boolean => name.split("/").some((part) => part.startsWith(".") || part === "__MACOSX" || part === "node_modules");
      // Only the files the assignment names are inflated, each within its cap (see unzip.ts).
      const zip = readZip(new Uint8Array(readFileSync(submission)), (name) => {
        const base = path.posix.basename(name);
        return want.has(base) && !skipped(name) && !name.split("/").includes("..");
      });
      problems.push(...zip.problems);
      for (const name of zip.names) {
        const base = path.posix.basename(name);
        if (!want.has(base) && /\.(ts|ipynb)$/.test(base) && !skipped(name)) ignored.push(name);
      }
      for (const [name, data] of zip.files) {
        consider(name.replace(/^\/+/, ""), data.length, () => new TextDecoder().decode(data));
      }
    } catch (e) {
      problems.push(`the zip could not be read: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else if (st.isDirectory()) {
    let seen = 0;
    const walk = (dir: string, rel: string, depth: number): void => {
      if (depth > 6) return;
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        return;
      }
      for (const name of names) {
        if (++seen > maxWalkEntries) return;
        const full = path.join(dir, name);
        const r = rel ? `${rel}/${name}` : name;
        let ls;
        try {
          ls = lstatSync(full);
        } catch {
          continue;
        }
        if (ls.isSymbolicLink()) continue;
        if (ls.isDirectory()) {
          if (name === "node_modules" || name.startsWith(".")) continue;
          walk(full, r, depth + 1);
        } else if (ls.isFile()) {
          consider(r, ls.size, () => readFileSync(full, "utf8"));
        }
      }
    };
    walk(submission, "", 0);
  } else if (st.isFile() && want.has(path.basename(submission))) {
    consider(path.basename(submission), st.size, () => readFileSync(submission, "utf8"));
  } else {
    problems.push(`${path.basename(submission)} is neither a folder nor a .zip`);
  }
  return finish(expected, candidates, ignored, problems);
}

function finish(
  expected: string[],
  candidates: Map<string, { rel: string; read: () => string }>,
  ignored: string[],
  problems: string[],
): StagedSubmission {
  const sources = new Map<string, string>();
  const foundAt = new Map<string, string>();
  for (const name of expected) {
    const c = candidates.get(name);
    if (!c) continue;
    try {
      sources.set(name, c.read());
      foundAt.set(name, c.rel);
    } catch (e) {
      problems.push(`${c.rel} could not be read: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return {
    sources,
    foundAt,
    missing: expected.filter((n) => !sources.has(n)),
    ignored: ignored.slice(0, 50),
    problems,
  };
}
