import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { deserialize, serialize } from "node:v8";
import { CodecError, decodeUntrusted } from "./codec.js";
import type { Runtime } from "./runtime.js";
import { StudentError, type StudentFailure } from "./types.js";

/**
 * The child process that runs student code, and the operating-system sandbox around it.
 *
 * Two layers confine the child. The outer one is the operating system's, in the strongest mode this
 * machine allows (`sandboxMode()`):
 * - "bubblewrap": new user, PID, network, IPC, UTS and mount namespaces; the only files visible are
 *   read-only binds of the node binary and its shared libraries, the runtime folder and the compiled
 *   submission; the only writable place is a private size-capped tmpfs (`/tmp`, the scratch folder),
 *   which vanishes with the child; the child runs as an unprivileged uid (and, when the grader is root,
 *   bubblewrap itself runs as that uid, so no process of the sandbox holds root's credentials anywhere);
 *   `--die-with-parent`, no capabilities, a new session.
 * - "unprivileged-user": where user namespaces are unavailable but the grader is root, the child runs as a
 *   dedicated unprivileged uid (it owns only its scratch folder) in a fresh network namespace.
 * - "permission-model-only": neither is possible (not root, no user namespaces); said in every report.
 * In every mode the child has resource limits (CPU time, address space, file size, process count) and
 * runs under Node's permission model as the inner layer, with the runtime's own write routes
 * (process.report, heap snapshots, ...) removed by the runner.
 *
 * The parent treats the child as hostile: requests and replies cross on two pipes as length-prefixed
 * frames of V8-serialized data; a frame longer than the cap is refused from its header, before it is
 * buffered; a frame that does not parse, or a message that is not one of the known shapes field by field,
 * kills the child and costs the test in flight, never the report.
 */

export type SandboxMode = "bubblewrap" | "unprivileged-user" | "permission-model-only";
export type SandboxRequest = "auto" | "bubblewrap" | "unprivileged-user" | "permission-model-only";

/** Limits and locations of one child process. */
export interface SandboxOptions {
  runtime: Runtime;
  /** The compiled submission (read-only for the child). */
  codeDir: string;
  /** The child's own scratch folder outside bubblewrap (inside it, a private tmpfs is used instead). */
  scratchDir: string;
  /** Where the child's stdout and stderr go (outside every folder the child may read). */
  logFile: string;
  /** V8 heap cap (--max-old-space-size), MB. */
  heapMb: number;
  /** Resident memory cap enforced by polling, MB (catches typed arrays, which live outside the heap). */
  rssMb: number;
  /** Cap on what the child may write (its log, its scratch folder, any one file), MB. */
  diskMb: number;
  /** Address-space limit of the child (RLIMIT_AS), MB. */
  addressSpaceMb?: number;
  /** CPU-time limit of one child over its life (RLIMIT_CPU), s. */
  cpuSeconds?: number;
  /** Largest frame the child may send, bytes. */
  maxMessageBytes?: number;
  /** Which sandbox to use ("auto": the strongest available). */
  sandbox?: SandboxRequest;
  /** Keep Node's permission model inside the sandbox (default true; tests turn it off to show the OS layer holds alone). */
  permissionModel?: boolean;
  /** Also run the child in a fresh network namespace when the system allows it ("auto"). */
  netns: "auto" | "off";
  /** More Node flags for the child (e.g. --stack-size=...). */
  nodeArgs?: string[];
}

/** The uid and gid the child runs as when the grader is root (nobody:nogroup unless SEMANTIC_GAP_SANDBOX_UID says otherwise). */
export function sandboxUid(): number {
  const v = Number(process.env.SEMANTIC_GAP_SANDBOX_UID);
  return Number.isSafeInteger(v) && v > 0 ? v : 65534;
}
const isRoot = (): boolean => typeof process.getuid === "function" && process.getuid() === 0;

export const defaultLimits = { addressSpaceMb: 16384, cpuSeconds: 300, maxMessageBytes: 192 * 1024 * 1024, nproc: 512 };

let netnsWorks: boolean | null = null;
/** True when `unshare -n` can start a process without network interfaces here (root on Linux, no seccomp ban). */
export function netnsAvailable(): boolean {
  if (netnsWorks === null) {
    if (process.platform !== "linux") netnsWorks = false;
    else {
      const r = spawnSync("unshare", ["-n", "true"], { stdio: "ignore", timeout: 5000 });
      netnsWorks = r.status === 0;
    }
  }
  return netnsWorks;
}

function permissionFlag(): string {
  const [major, minor] = process.versions.node.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 13) ? "--permission" : "--experimental-permission";
}

function which(cmd: string): string | null {
  for (const dir of ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"]) {
    const p = path.join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return null;
}

/** The node binary and the shared libraries it loads (from ldd), as [path inside the sandbox, real file]. */
function nodeFiles(): Array<[string, string]> {
  const exe = realpathSync(process.execPath);
  const out: Array<[string, string]> = [[exe, exe]];
  const r = spawnSync("ldd", [exe], { encoding: "utf8", timeout: 5000 });
  if (r.status !== 0) return [];
  for (const line of r.stdout.split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m && existsSync(m[1])) out.push([m[1], realpathSync(m[1])]);
  }
  return out;
}

let nodeFilesCache: Array<[string, string]> | null = null;

/** The command that starts `node args` in bubblewrap (as `uid` when the grader is root). */
function bubblewrapCommand(o: {
  nodeArgs: string[];
  binds: string[];
  tmpfsBytes: number;
  env: Record<string, string>;
  dropTo: number | null;
}): [string, string[]] {
  nodeFilesCache ??= nodeFiles();
  const args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--as-pid-1"];
  args.push("--uid", String(sandboxUid()), "--gid", String(sandboxUid()));
  const files = nodeFilesCache.length > 0 ? nodeFilesCache : [["/usr", "/usr"], ["/lib", "/lib"], ["/lib64", "/lib64"]];
  for (const [inside, real] of files) {
    if (existsSync(real)) args.push("--ro-bind", real, inside);
  }
  // The scratch tmpfs first: the read-only binds may lie under /tmp (the grader's temp folders) and must not be hidden by it.
  args.push("--proc", "/proc", "--dev", "/dev", "--size", String(o.tmpfsBytes), "--tmpfs", "/tmp");
  for (const b of o.binds) args.push("--ro-bind", b, b);
  // Everything but the scratch tmpfs read-only, /dev (with /dev/shm) included.
  args.push("--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp");
  args.push("--clearenv");
  for (const [k, v] of Object.entries(o.env)) args.push("--setenv", k, v);
  args.push("--info-fd", "5", "--", realpathSync(process.execPath), ...o.nodeArgs);
  const bwrap = which("bwrap")!;
  if (o.dropTo === null) return [bwrap, args];
  return [which("setpriv")!, [`--reuid=${o.dropTo}`, `--regid=${o.dropTo}`, "--clear-groups", "--inh-caps=-all", "--", bwrap, ...args]];
}

let modeCache: Map<SandboxRequest, SandboxMode> | null = null;
let bwrapDrop: number | null | undefined;

function probe(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe", "ignore", "ignore", "ignore"], timeout: 15_000, encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() === "sandboxed";
}

/**
 * The sandbox the child runs in here: the strongest the system allows, or the one asked for (an error if
 * it cannot run). Probed once per process by starting node in it.
 */
export function sandboxMode(request: SandboxRequest = "auto"): SandboxMode {
  modeCache ??= new Map();
  const hit = modeCache.get(request);
  if (hit) return hit;
  const tryBwrap = (): boolean => {
    if (process.platform !== "linux" || !which("bwrap")) return false;
    const nodeArgs = ["-e", "process.stdout.write(process.getuid() === " + sandboxUid() + " ? 'sandboxed' : 'no')"];
    const base = { nodeArgs, binds: [], tmpfsBytes: 1 << 20, env: { PATH: "/usr/bin:/bin" } };
    // The info fd (5) of the real command is absent here: probe without it.
    const strip = ([c, a]: [string, string[]]): [string, string[]] => {
      const i = a.indexOf("--info-fd");
      return [c, i >= 0 ? [...a.slice(0, i), ...a.slice(i + 2)] : a];
    };
    if (isRoot() && which("setpriv")) {
      const [c, a] = strip(bubblewrapCommand({ ...base, dropTo: sandboxUid() }));
      if (probe(c, a)) {
        bwrapDrop = sandboxUid();
        return true;
      }
    }
    const [c, a] = strip(bubblewrapCommand({ ...base, dropTo: null }));
    if (probe(c, a)) {
      bwrapDrop = null;
      return true;
    }
    return false;
  };
  const tryUser = (): boolean =>
    isRoot() &&
    which("setpriv") !== null &&
    probe(which("setpriv")!, [`--reuid=${sandboxUid()}`, `--regid=${sandboxUid()}`, "--clear-groups", "--", process.execPath, "-e", "process.stdout.write(process.getuid() === " + sandboxUid() + " ? 'sandboxed' : 'no')"]);
  let mode: SandboxMode;
  if (request === "bubblewrap") {
    if (!tryBwrap()) throw new Error("bubblewrap cannot run here (is the bubblewrap package installed, and are user namespaces allowed?)");
    mode = "bubblewrap";
  } else if (request === "unprivileged-user") {
    if (!tryUser()) throw new Error("the child cannot be run as an unprivileged user here (the grader must run as root, with setpriv)");
    mode = "unprivileged-user";
  } else if (request === "permission-model-only") mode = "permission-model-only";
  else mode = tryBwrap() ? "bubblewrap" : tryUser() ? "unprivileged-user" : "permission-model-only";
  modeCache.set(request, mode);
  return mode;
}

/** Resource limits as a prlimit(1) prefix (empty where prlimit is missing). */
function rlimits(o: SandboxOptions): string[] {
  const prlimit = which("prlimit");
  if (!prlimit || process.platform !== "linux") return [];
  const mb = 1024 * 1024;
  return [
    prlimit,
    `--cpu=${o.cpuSeconds ?? defaultLimits.cpuSeconds}`,
    `--as=${(o.addressSpaceMb ?? defaultLimits.addressSpaceMb) * mb}`,
    `--fsize=${o.diskMb * mb}`,
    `--nproc=${defaultLimits.nproc}`,
    `--core=0`,
    "--",
  ];
}

interface Pending {
  resolve: (v: { value: unknown; argsAfter?: unknown[] }) => void;
  reject: (e: StudentError) => void;
}

type LoadState = "loading" | "loaded" | { failed: string };

const failureKinds: readonly StudentFailure[] = ["not-implemented", "missing-export", "threw", "crash", "bad-output"];

/** A message from the child, validated field by field; anything else is refused. */
export type ChildMessage =
  | { op: "ready" }
  | { op: "loading" | "loaded"; file: string }
  | { op: "load-failed"; file: string; message: string }
  | { op: "fatal"; message: string }
  | { id: number; ok: true; value: unknown; argsAfter?: unknown[] }
  | { id: number; ok: false; kind: StudentFailure; message: string };

const shortText = (v: unknown, max = 2000): string | null => (typeof v === "string" ? v.slice(0, max) : null);

/** Checks a decoded frame against the message shapes; returns null for anything else. Never throws. */
export function validateMessage(m: unknown): ChildMessage | null {
  try {
    if (!m || typeof m !== "object" || Array.isArray(m) || Object.getPrototypeOf(m) !== Object.prototype) return null;
    const r = m as Record<string, unknown>;
    if ("op" in r) {
      const file = shortText(r.file, 200);
      switch (r.op) {
        case "ready":
          return { op: "ready" };
        case "loading":
        case "loaded":
          return file ? { op: r.op, file } : null;
        case "load-failed": {
          const message = shortText(r.message);
          return file && message !== null ? { op: "load-failed", file, message } : null;
        }
        case "fatal": {
          const message = shortText(r.message);
          return message !== null ? { op: "fatal", message } : null;
        }
        default:
          return null;
      }
    }
    if (typeof r.id !== "number" || !Number.isSafeInteger(r.id)) return null;
    if (r.ok === true) {
      if (r.argsAfter !== undefined && !Array.isArray(r.argsAfter)) return null;
      return { id: r.id, ok: true, value: r.value, argsAfter: r.argsAfter as unknown[] | undefined };
    }
    if (r.ok === false) {
      const message = shortText(r.message);
      if (message === null || !failureKinds.includes(r.kind as StudentFailure)) return null;
      return { id: r.id, ok: false, kind: r.kind as StudentFailure, message };
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * Reads length-prefixed frames from a stream: a 4-byte little-endian length, then that many bytes.
 * A length over `max` is refused from the header (nothing of it is buffered); `onFrame` gets each frame.
 */
export class FrameReader {
  private header = Buffer.alloc(4);
  private headerFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private failed = false;

  constructor(
    private readonly max: number,
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onError: (why: string) => void,
  ) {}

  push(chunk: Buffer): void {
    let p = 0;
    while (p < chunk.length && !this.failed) {
      if (!this.body) {
        const n = Math.min(4 - this.headerFill, chunk.length - p);
        chunk.copy(this.header, this.headerFill, p, p + n);
        this.headerFill += n;
        p += n;
        if (this.headerFill < 4) return;
        const len = this.header.readUInt32LE(0);
        this.headerFill = 0;
        if (len > this.max) {
          this.failed = true;
          this.onError(`sent a message of ${len} bytes, over the limit of ${this.max} bytes`);
          return;
        }
        this.body = Buffer.allocUnsafe(len);
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.length - this.bodyFill, chunk.length - p);
      chunk.copy(this.body, this.bodyFill, p, p + n);
      this.bodyFill += n;
      p += n;
      if (this.bodyFill === this.body.length) {
        const frame = this.body;
        this.body = null;
        this.onFrame(frame);
      }
    }
  }
}

/** One frame: the length, then the V8 serialization of `msg`. */
export function frame(msg: unknown): Buffer {
  const body = serialize(msg);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** One child process running student code, answering requests over its framed pipes. */
export class ChildSession {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private killedFor: { kind: StudentFailure; message: string } | null = null;
  private fatal: string | null = null;
  private monitor: NodeJS.Timeout | null = null;
  private readonly logFd: number;
  /** The pid of the node process (inside bubblewrap it is not the spawned process). */
  private nodePid: number | undefined;
  readonly mode: SandboxMode;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  alive = true;
  /** What the child reported about loading each file. */
  readonly loadState = new Map<string, LoadState>();
  /** Set when the child has died: why, in words for the student. */
  death: StudentError | null = null;

  constructor(private readonly opts: SandboxOptions) {
    const { runtime, codeDir, logFile } = opts;
    this.mode = sandboxMode(opts.sandbox ?? "auto");
    const inBwrap = this.mode === "bubblewrap";
    const scratch = inBwrap ? "/tmp" : opts.scratchDir;
    this.logFd = openSync(logFile, "a");
    const nodeArgs = [
      ...(opts.permissionModel === false
        ? []
        : [permissionFlag(), `--allow-fs-read=${runtime.dir}`, `--allow-fs-read=${codeDir}`, `--allow-fs-read=${scratch}`, `--allow-fs-write=${scratch}`]),
      `--max-old-space-size=${opts.heapMb}`,
      // Without the trap handler V8 checks WebAssembly bounds explicitly instead of reserving ~10 GB of
      // address space per memory, so an address-space limit can be set at all.
      "--disable-wasm-trap-handler",
      "--enable-source-maps",
      "--no-warnings",
      ...(opts.nodeArgs ?? []),
      runtime.runner,
      codeDir,
    ];
    const env: Record<string, string> = { PATH: "/usr/bin:/bin", HOME: scratch, TMPDIR: scratch, LANG: "C.UTF-8", SG_CHANNEL: "3,4" };
    if (process.env.SEMANTIC_GAP_QUICK !== undefined) env.SEMANTIC_GAP_QUICK = process.env.SEMANTIC_GAP_QUICK;
    let cmd: string;
    let args: string[];
    const limits = rlimits(opts);
    if (inBwrap) {
      [cmd, args] = bubblewrapCommand({
        nodeArgs,
        binds: [runtime.dir, codeDir],
        tmpfsBytes: opts.diskMb * 1024 * 1024,
        env,
        dropTo: bwrapDrop ?? null,
      });
    } else if (this.mode === "unprivileged-user") {
      const u = String(sandboxUid());
      const inner = [which("setpriv")!, `--reuid=${u}`, `--regid=${u}`, "--clear-groups", "--inh-caps=-all", "--", process.execPath, ...nodeArgs];
      [cmd, args] = opts.netns === "auto" && netnsAvailable() ? ["unshare", ["-n", "--", ...inner]] : [inner[0], inner.slice(1)];
    } else {
      const useNetns = opts.netns === "auto" && netnsAvailable();
      [cmd, args] = useNetns ? ["unshare", ["-n", "--", process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
    }
    if (limits.length > 0) {
      args = [...limits.slice(1), cmd, ...args];
      cmd = limits[0];
    }
    this.child = spawn(cmd, args, {
      cwd: inBwrap ? "/" : scratch,
      env,
      stdio: ["ignore", this.logFd, this.logFd, "pipe", "pipe", "pipe"],
      detached: false,
    });
    let readyResolve!: () => void;
    let readyReject!: (e: StudentError) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => undefined);
    const maxBytes = opts.maxMessageBytes ?? defaultLimits.maxMessageBytes;
    const reader = new FrameReader(
      maxBytes,
      (f) => {
        let decoded: unknown;
        try {
          decoded = deserialize(f);
        } catch (e) {
          this.kill("bad-output", `your code wrote something that is not a message to the grader's channel (${e instanceof Error ? e.name : "junk"})`);
          return;
        }
        const m = validateMessage(decoded);
        if (!m) {
          this.kill("bad-output", "your code sent the grader a message it does not understand");
          return;
        }
        if ("op" in m && m.op === "ready") readyResolve();
        else this.onMessage(m);
      },
      (why) => this.kill("bad-output", `your code ${why}`),
    );
    const out = this.child.stdio[4] as Readable | null;
    out?.on("data", (c: Buffer) => reader.push(c));
    out?.on("error", () => undefined);
    (this.child.stdio[3] as Writable | null)?.on("error", () => undefined);
    const info = (this.child.stdio as unknown as Array<Readable | null>)[5];
    if (inBwrap && info) {
      let text = "";
      info.on("data", (c: Buffer) => {
        text += c.toString("utf8");
        if (text.length > 4096) text = text.slice(0, 4096);
        const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
        if (m) this.nodePid = Number(m[1]);
      });
      info.on("error", () => undefined);
    } else {
      this.nodePid = this.child.pid;
      info?.destroy();
    }
    this.exited = new Promise((res) => {
      this.child.once("exit", (code, signal) => {
        this.onExit(code, signal);
        readyReject(this.death!);
        res();
      });
      this.child.once("error", (e) => {
        if (!this.death) {
          this.death = new StudentError("crash", `the grading process could not start: ${e.message}`);
          this.alive = false;
          readyReject(this.death);
          this.rejectAll();
          res();
        }
      });
    });
    this.startMonitor();
  }

  get pid(): number | undefined {
    return this.nodePid;
  }

  /** Sends a request; resolves with the decoded outputs or rejects with a StudentError. */
  request(msg: Record<string, unknown>): Promise<{ value: unknown; argsAfter?: unknown[] }> {
    if (!this.alive) return Promise.reject(this.death ?? new StudentError("crash", "the grading process has stopped"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        (this.child.stdio[3] as Writable).write(frame({ ...msg, id }), (err) => {
          if (err && this.pending.has(id)) {
            this.pending.delete(id);
            reject(this.death ?? new StudentError("crash", `the grading process stopped: ${err.message}`));
          }
        });
      } catch (e) {
        this.pending.delete(id);
        reject(this.death ?? new StudentError("crash", `the grading process stopped: ${(e as Error).message}`));
      }
    });
  }

  /** Kills the child; pending requests reject with `kind` and `message`. */
  kill(kind: StudentFailure, message: string): void {
    if (!this.alive) return;
    this.killedFor ??= { kind, message };
    // Killing bubblewrap ends its whole PID namespace (--die-with-parent, --as-pid-1).
    this.child.kill("SIGKILL");
    if (this.nodePid && this.nodePid !== this.child.pid) {
      try {
        process.kill(this.nodePid, "SIGKILL");
      } catch {
        // gone already, or not ours to signal (it runs as another uid; bubblewrap's death ends it)
      }
    }
  }

  private onMessage(m: ChildMessage): void {
    if ("op" in m) {
      if (m.op === "loading" || m.op === "loaded") this.loadState.set(m.file, m.op);
      else if (m.op === "load-failed") this.loadState.set(m.file, { failed: m.message });
      else if (m.op === "fatal") this.fatal = m.message;
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) {
      try {
        const value = decodeUntrusted(m.value);
        const argsAfter = m.argsAfter ? (decodeUntrusted(m.argsAfter) as unknown[]) : undefined;
        p.resolve({ value, argsAfter });
      } catch (e) {
        const why = e instanceof CodecError ? e.message : e instanceof RangeError ? "it is nested too deeply" : "it is malformed";
        p.reject(new StudentError("bad-output", `the returned value cannot be graded: ${why}`));
      }
    } else p.reject(new StudentError(m.kind, m.message));
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.alive = false;
    if (this.monitor) clearInterval(this.monitor);
    let death: StudentError;
    if (this.killedFor) death = new StudentError(this.killedFor.kind, this.killedFor.message);
    else {
      const tail = this.logTail();
      if (/heap out of memory|Reached heap limit|Allocation failed|out of memory/i.test(tail)) {
        death = new StudentError("crash", `ran out of memory (the limit is ${this.opts.heapMb} MB of heap)`);
      } else if (/Maximum call stack size exceeded/.test(tail)) {
        death = new StudentError("crash", "crashed with a stack overflow (infinite recursion?)");
      } else if (this.fatal) {
        death = new StudentError("crash", `crashed: ${this.fatal}`);
      } else if (signal === "SIGXFSZ" || code === 128 + 25) {
        death = new StudentError("crash", `wrote more than ${this.opts.diskMb} MB (output or files) and was stopped`);
      } else if (signal === "SIGXCPU" || code === 128 + 24) {
        death = new StudentError("crash", "used up its CPU time and was stopped");
      } else if (signal) {
        death = new StudentError("crash", `the process was killed by ${signal}`);
      } else {
        death = new StudentError("crash", `the process exited (code ${code})`);
      }
    }
    this.death = death;
    for (const [file, st] of this.loadState) {
      if (st === "loading") this.loadState.set(file, { failed: `${file} did not finish loading: ${death.message}` });
    }
    this.rejectAll();
    for (const s of (this.child.stdio as unknown as Array<Readable | Writable | null>).slice(3)) s?.destroy();
    try {
      closeSync(this.logFd);
    } catch {
      // already closed
    }
  }

  private rejectAll(): void {
    const err = this.death ?? new StudentError("crash", "the grading process stopped");
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** The last few KB of the child's output (for classifying how it died). */
  logTail(bytes = 8192): string {
    try {
      const size = statSync(this.opts.logFile).size;
      const n = Math.min(bytes, size);
      const buf = Buffer.alloc(n);
      const fd = openSync(this.opts.logFile, "r");
      try {
        readSync(fd, buf, 0, n, size - n);
      } finally {
        closeSync(fd);
      }
      return buf.toString("utf8");
    } catch {
      return "";
    }
  }

  private startMonitor(): void {
    let ticks = 0;
    const pageKb = 4;
    this.monitor = setInterval(() => {
      if (!this.alive) return;
      ticks++;
      const pid = this.nodePid;
      if (pid) {
        try {
          const statm = readFileSync(`/proc/${pid}/statm`, "utf8").split(" ");
          const rssMb = (Number(statm[1]) * pageKb) / 1024;
          if (rssMb > this.opts.rssMb) {
            this.kill("crash", `used more than ${this.opts.rssMb} MB of memory and was stopped`);
            return;
          }
        } catch {
          // not Linux, or the process is gone
        }
      }
      // Inside bubblewrap the scratch folder is a size-capped tmpfs and the log is capped by RLIMIT_FSIZE.
      if (this.mode !== "bubblewrap" && ticks % 5 === 0) {
        const used = fstatSafe(this.logFd) + dirSize(this.opts.scratchDir, 2000);
        if (used > this.opts.diskMb * 1e6) {
          this.kill("crash", `wrote more than ${this.opts.diskMb} MB (output or files) and was stopped`);
        }
      }
    }, 50);
    this.monitor.unref();
  }
}

function fstatSafe(fd: number): number {
  try {
    return fstatSync(fd).size;
  } catch {
    return 0;
  }
}

/** Total size of regular files under `dir`, counting each entry as at least 4 KB; stops after `maxEntries`. */
function dirSize(dir: string, maxEntries: number): number {
  let total = 0;
  let count = 0;
  const stack: Array<[string, number]> = [[dir, 0]];
  while (stack.length > 0) {
    const [d, depth] = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (++count > maxEntries || depth > 64) return Infinity;
      const full = path.join(d, n);
      try {
        const st = lstatSync(full);
        total += Math.max(st.size, 4096);
        if (st.isDirectory()) stack.push([full, depth + 1]);
      } catch {
        // vanished
      }
    }
  }
  return total;
}

/**
 * Removes a folder the child may have filled (any depth, any permissions) without recursion in this
 * process: `rm -rf` in a child with a time limit, then Node's own removal for what is left.
 */
export function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  const rm = which("rm");
  if (rm) spawnSync(rm, ["-rf", "--one-file-system", "--", dir], { stdio: "ignore", timeout: 60_000 });
}
