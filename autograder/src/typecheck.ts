import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { paths } from "./paths.js";

/**
 * Type-checks submission files in a worker thread (the checker is CPU-bound and must not stall the grading
 * of tests running meanwhile). The result is feedback only: type errors never stop grading.
 * Returns messages like `knn.ts:12:5 TS2322: Type 'string' is not assignable to type 'number'.`
 */
export function typecheckSubmission(sources: Map<string, string>, timeoutMs = 30_000): Promise<string[]> {
  const libTypes = existsSync(paths.libDistTypes) ? paths.libDistTypes : paths.libSrcIndex;
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { files: Object.fromEntries(sources), libTypes, root: paths.root },
    resourceLimits: { maxOldGenerationSizeMb: 1024 },
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      resolve(["the type check did not finish in time and was skipped"]);
    }, timeoutMs);
    worker.once("message", (m: string[]) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(m);
    });
    worker.once("error", (e) => {
      clearTimeout(timer);
      resolve([`the type check failed to run: ${e.message}`]);
    });
  });
}

const workerSource = `
const { workerData, parentPort } = require("node:worker_threads");
const path = require("node:path");
const { createRequire } = require("node:module");
const ts = createRequire(path.join(workerData.root, "package.json"))("typescript");
// The submission lives in a folder of its own at the root of a virtual tree: a relative import cannot
// reach the repository, and the checker reads nothing but the submission, the library's declarations
// and the compiler's and Node's own declarations (so no message can quote a solution or a hidden test).
const dir = path.join(path.parse(workerData.root).root, "__submission__");
const allowed = [
  path.dirname(workerData.libTypes) + path.sep,
  path.join(workerData.root, "node_modules", "typescript") + path.sep,
  path.join(workerData.root, "node_modules", "@types") + path.sep,
];
const readable = (f) => allowed.some((a) => path.resolve(f).startsWith(a));
// Folders on the way to the allowed ones may be looked at (not read).
const onTheWay = (d) => allowed.some((a) => a.startsWith(path.resolve(d) + path.sep)) || readable(d + path.sep);
const files = new Map(Object.entries(workerData.files).map(([n, s]) => [path.join(dir, n), s]));
const options = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2022.d.ts"],
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  allowImportingTsExtensions: true,
  esModuleInterop: true,
  skipLibCheck: true,
  types: ["node"],
  typeRoots: [path.join(workerData.root, "node_modules", "@types")],
  paths: { "@semantic-gap/lib": [workerData.libTypes] },
};
const host = ts.createCompilerHost(options);
const getSourceFile = host.getSourceFile.bind(host);
host.getSourceFile = (f, lang, onError, create) =>
  files.has(f) ? ts.createSourceFile(f, files.get(f), lang, true) : readable(f) ? getSourceFile(f, lang, onError, create) : undefined;
const fileExists = host.fileExists.bind(host);
host.fileExists = (f) => files.has(f) || (readable(f) && fileExists(f));
const directoryExists = host.directoryExists ? host.directoryExists.bind(host) : () => true;
host.directoryExists = (d) => d === dir || (onTheWay(d) && directoryExists(d));
host.realpath = (f) => f;
const readFile = host.readFile.bind(host);
host.readFile = (f) => (files.has(f) ? files.get(f) : readable(f) ? readFile(f) : undefined);
const program = ts.createProgram([...files.keys()], options, host);
const out = [];
for (const d of ts.getPreEmitDiagnostics(program)) {
  if (d.category !== ts.DiagnosticCategory.Error) continue;
  if (d.file && !files.has(d.file.fileName)) continue;
  let where = "";
  if (d.file && d.start !== undefined) {
    const p = d.file.getLineAndCharacterOfPosition(d.start);
    where = path.basename(d.file.fileName) + ":" + (p.line + 1) + ":" + (p.character + 1) + " ";
  }
  out.push(where + "TS" + d.code + ": " + ts.flattenDiagnosticMessageText(d.messageText, " "));
  if (out.length >= 25) break;
}
parentPort.postMessage(out);
`;
