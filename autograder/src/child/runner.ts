/**
 * The entry point of the child process that runs student code (bundled into the grader's runtime folder).
 *
 * It answers the grader's requests (load a file, call a function, construct a class, call a method, read
 * a property) and sends back raw outputs. Before any student code loads it takes away what the permission
 * model does not: the network modules, fetch, process.exit and native addons. Nothing here is trusted by
 * the grader; it only makes the student's failures arrive as readable messages.
 */
import { writeSync } from "node:fs";
import { Socket } from "node:net";
import { createRequire, syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { deserialize, serialize } from "node:v8";
import { CodecError, HANDLE_TAG, decodeTrusted, encodeValue } from "../codec.js";

type Kind = "not-implemented" | "missing-export" | "threw" | "crash" | "bad-output";

class RunnerError extends Error {
  constructor(
    public readonly kind: Kind,
    message: string,
  ) {
    super(message);
  }
}

interface Request {
  id: number;
  op: "call" | "construct" | "method" | "get" | "release";
  file?: string;
  name?: string;
  handle?: number;
  args?: unknown[];
  withArgs?: boolean;
  handles?: number[];
}

const codeDir = process.argv[2];
const realExit = (process as unknown as { reallyExit(code: number): never }).reallyExit.bind(process);
// The grader's channel: requests arrive on fd 3, replies leave on fd 4, each a 4-byte little-endian length
// and a V8 serialization (the parent refuses frames over its cap from the header).
const [inFd, outFd] = (process.env.SG_CHANNEL ?? "").split(",").map(Number);
if (!codeDir || !Number.isInteger(inFd) || !Number.isInteger(outFd)) {
  realExit(70);
}
const writeFrame = (msg: unknown): void => {
  const body = serialize(msg);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  for (const buf of [head, body]) {
    let off = 0;
    while (off < buf.length) off += writeSync(outFd, buf, off, buf.length - off);
  }
};
const send = (msg: unknown): void => {
  try {
    writeFrame(msg);
  } catch (e) {
    const m = msg as { id?: number };
    writeFrame({ id: m.id, ok: false, kind: "bad-output", message: `the result could not be sent back: ${errText(e)}` });
  }
};

function errText(e: unknown): string {
  try {
    if (e instanceof Error) return `${e.name}: ${String(e.message)}`.slice(0, 2000);
    return String(e).slice(0, 2000);
  } catch {
    return "an exception that cannot be printed";
  }
}

/** The first stack frame inside the submission, as `knn.ts:42:7` (source maps are on). */
function where(e: unknown): string {
  try {
    const stack = e instanceof Error && typeof e.stack === "string" ? e.stack : "";
    const prefix = pathToFileURL(codeDir).href + "/";
    for (const line of stack.split("\n")) {
      const i = line.indexOf(prefix);
      if (i >= 0) {
        const rest = line.slice(i + prefix.length).replace(/\)$/, "");
        return rest.replace(/\.js:/, ".ts:");
      }
      const j = line.indexOf(codeDir + path.sep);
      if (j >= 0) return line.slice(j + codeDir.length + 1).replace(/\)$/, "").replace(/\.js:/, ".ts:");
    }
  } catch {
    // ignore
  }
  return "";
}

function classify(e: unknown): RunnerError {
  if (e instanceof RunnerError) return e;
  if (e instanceof CodecError) return new RunnerError("bad-output", e.message);
  const text = errText(e);
  const at = where(e);
  const message = at ? `${text} (at ${at})` : text;
  return new RunnerError(/^(Error: )?Not implemented/.test(text) ? "not-implemented" : "threw", message);
}

// ---------------------------------------------------------------- hardening

const blockedModules = [
  "net",
  "tls",
  "http",
  "https",
  "http2",
  "dgram",
  "dns",
  "dns/promises",
  "child_process",
  "cluster",
  "worker_threads",
  "inspector",
  "inspector/promises",
  "repl",
  "wasi",
  "trace_events",
];

function blocker(what: string): () => never {
  // A plain function (not an arrow): `new` on it and `class extends` of it must work, and then throw.
  return function blocked(): never {
    throw new Error(`${what} is not available while grading`);
  };
}

function harden(): void {
  const require = createRequire(import.meta.url);
  // Load every module first, then patch: some load others and extend their classes at load time.
  const loaded: [string, Record<string | symbol, unknown>][] = [];
  for (const name of blockedModules) {
    try {
      loaded.push([name, require(`node:${name}`) as Record<string | symbol, unknown>]);
    } catch {
      // not in this Node version
    }
  }
  for (const [name, mod] of loaded) {
    for (const key of Reflect.ownKeys(mod)) {
      const value = mod[key];
      if (typeof value !== "function" && (typeof value !== "object" || value === null)) continue;
      const stub = blocker(`node:${name}`);
      try {
        Object.defineProperty(mod, key, { value: stub, writable: false, configurable: false, enumerable: true });
      } catch {
        try {
          mod[key] = stub;
        } catch {
          // a frozen export stays: the permission model and the missing network still hold
        }
      }
    }
  }
  const v8Module = require("node:v8") as Record<string, unknown>;
  const mod = require("node:module") as Record<string, unknown>;
  for (const key of ["register", "_load", "_resolveFilename", "createRequire"]) {
    try {
      Object.defineProperty(mod, key, { value: blocker(`node:module.${key}`), writable: false, configurable: false });
    } catch {
      // ignore
    }
  }
  syncBuiltinESMExports();
  const g = globalThis as Record<string, unknown>;
  for (const key of ["fetch", "WebSocket", "EventSource", "Request", "Response", "Headers", "FormData"]) {
    try {
      Object.defineProperty(g, key, { value: undefined, writable: false, configurable: false });
    } catch {
      // ignore
    }
  }
  const p = process as unknown as Record<string, unknown>;
  const exitBlocker = (code?: unknown): never => {
    throw new Error(`process.exit(${code === undefined ? "" : String(code)}) is not allowed in graded code`);
  };
  for (const key of ["exit", "reallyExit", "abort", "kill", "dlopen", "_kill", "_debugProcess", "binding", "_linkedBinding"]) {
    try {
      Object.defineProperty(p, key, {
        value: key.startsWith("exit") || key === "reallyExit" ? exitBlocker : blocker(`process.${key}`),
        writable: false,
        configurable: false,
      });
    } catch {
      // ignore
    }
  }
  // Write routes of the runtime itself, which the permission model of Node 20 does not check.
  const report = Object.freeze({
    writeReport: blocker("process.report.writeReport"),
    getReport: blocker("process.report.getReport"),
    directory: "",
    filename: "",
    compact: true,
    reportOnFatalError: false,
    reportOnSignal: false,
    reportOnUncaughtException: false,
    excludeNetwork: true,
    signal: "SIGUSR2",
  });
  try {
    Object.defineProperty(p, "report", { value: report, writable: false, configurable: false, enumerable: true });
  } catch {
    // the OS sandbox still holds
  }
  const v8 = v8Module;
  for (const key of ["writeHeapSnapshot", "getHeapSnapshot", "setHeapSnapshotNearHeapLimit", "takeCoverage", "stopCoverage", "setFlagsFromString", "startupSnapshot"]) {
    try {
      Object.defineProperty(v8, key, { value: blocker(`v8.${key}`), writable: false, configurable: false, enumerable: true });
    } catch {
      // ignore
    }
  }
  for (const key of ["setSourceMapsEnabled", "setUncaughtExceptionCaptureCallback", "chdir", "setuid", "setgid", "seteuid", "setegid", "setgroups", "initgroups"]) {
    try {
      Object.defineProperty(p, key, { value: blocker(`process.${key}`), writable: false, configurable: false });
    } catch {
      // ignore
    }
  }
  // The ES-module views of the patched built-ins (`import * as v8 from "node:v8"`) follow the patches.
  syncBuiltinESMExports();
  const getBuiltin = p.getBuiltinModule as ((id: string) => unknown) | undefined;
  if (typeof getBuiltin === "function") {
    Object.defineProperty(p, "getBuiltinModule", {
      value: (id: string) => {
        const name = String(id).replace(/^node:/, "");
        if (name === "module") throw new Error("node:module is not available while grading");
        return getBuiltin.call(process, id);
      },
      writable: false,
      configurable: false,
    });
  }
}

// ---------------------------------------------------------------- requests

const modules = new Map<string, Promise<Record<string, unknown>>>();
const handles = new Map<number, object>();
let nextHandle = 1;

function load(file: string): Promise<Record<string, unknown>> {
  let p = modules.get(file);
  if (!p) {
    const url = pathToFileURL(path.join(codeDir, file.replace(/\.ts$/, ".js"))).href;
    send({ op: "loading", file });
    p = (import(url) as Promise<Record<string, unknown>>).then(
      (m) => {
        send({ op: "loaded", file });
        return m;
      },
      (e: unknown) => {
        const c = classify(e);
        const err = new RunnerError("crash", `${file} failed to load: ${c.message}`);
        send({ op: "load-failed", file, message: err.message });
        throw err;
      },
    );
    modules.set(file, p);
  }
  return p;
}

async function run(req: Request): Promise<{ value: unknown; argsAfter?: unknown[] }> {
  const args = (req.args ?? []).map(decodeTrusted);
  switch (req.op) {
    case "call": {
      const mod = await load(req.file!);
      const fn = mod[req.name!];
      if (typeof fn !== "function") throw new RunnerError("missing-export", `${req.file} does not export a function ${req.name}`);
      const value = await (fn as (...a: unknown[]) => unknown)(...args);
      return { value, argsAfter: req.withArgs ? args : undefined };
    }
    case "construct": {
      const mod = await load(req.file!);
      const C = mod[req.name!];
      if (typeof C !== "function") throw new RunnerError("missing-export", `${req.file} does not export a class ${req.name}`);
      const obj = new (C as new (...a: unknown[]) => object)(...args);
      const h = nextHandle++;
      handles.set(h, obj);
      return { value: { [HANDLE_TAG]: h } };
    }
    case "method": {
      const obj = handles.get(req.handle!);
      if (!obj) throw new RunnerError("crash", "the object no longer exists");
      const m = (obj as Record<string, unknown>)[req.name!];
      if (typeof m !== "function") {
        throw new RunnerError("missing-export", `${obj.constructor?.name ?? "the object"} has no method ${req.name}`);
      }
      const value = await (m as (...a: unknown[]) => unknown).apply(obj, args);
      return { value, argsAfter: req.withArgs ? args : undefined };
    }
    case "get": {
      const obj = handles.get(req.handle!);
      if (!obj) throw new RunnerError("crash", "the object no longer exists");
      return { value: (obj as Record<string, unknown>)[req.name!] };
    }
    case "release": {
      for (const h of req.handles ?? []) handles.delete(h);
      return { value: null };
    }
  }
  throw new RunnerError("crash", `unknown request ${String(req.op)}`);
}

async function answer(req: Request): Promise<void> {
  let out: { value: unknown; argsAfter?: unknown[] };
  try {
    out = await run(req);
  } catch (e) {
    const c = classify(e);
    send({ id: req.id, ok: false, kind: c.kind, message: c.message });
    return;
  }
  try {
    const value = req.op === "construct" ? out.value : encodeValue(out.value);
    const argsAfter = out.argsAfter ? out.argsAfter.map((a) => encodeValue(a)) : undefined;
    send({ id: req.id, ok: true, value, argsAfter });
  } catch (e) {
    const c = classify(e);
    send({ id: req.id, ok: false, kind: "bad-output", message: `the returned value cannot be graded: ${c.message}` });
  }
}

process.on("uncaughtException", (e) => {
  send({ op: "fatal", message: `uncaught exception: ${classify(e).message}` });
  realExit(71);
});
process.on("unhandledRejection", (e) => {
  send({ op: "fatal", message: `unhandled promise rejection: ${classify(e).message}` });
  realExit(71);
});

// Requests: frames from the grader (trusted), decoded one by one. The socket is made before hardening
// takes node:net away; it polls the descriptor (a blocking read in the thread pool would keep the process
// from exiting).
let pendingBuf = Buffer.alloc(0);
const input = new Socket({ fd: inFd, readable: true, writable: false });
harden();
input.on("data", (chunk) => {
  pendingBuf = pendingBuf.length === 0 ? (chunk as Buffer) : Buffer.concat([pendingBuf, chunk as Buffer]);
  while (pendingBuf.length >= 4) {
    const len = pendingBuf.readUInt32LE(0);
    if (pendingBuf.length < 4 + len) break;
    const msg = deserialize(pendingBuf.subarray(4, 4 + len)) as Request;
    pendingBuf = pendingBuf.subarray(4 + len);
    void answer(msg);
  }
});
input.on("end", () => realExit(0));
send({ op: "ready", pid: process.pid });
