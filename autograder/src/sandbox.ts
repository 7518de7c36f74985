import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import path from "node:path";
import { decodeUntrusted, CodecError } from "./codec.js";
import type { Runtime } from "./runtime.js";
import { StudentError, type StudentFailure } from "./types.js";

/** Limits and locations of one child process. */
export interface SandboxOptions {
  runtime: Runtime;
  /** The compiled submission (read-only for the child). */
  codeDir: string;
  /** The child's own temp folder (the only place it may write). */
  scratchDir: string;
  /** Where the child's stdout and stderr go (outside every folder the child may read). */
  logFile: string;
  /** V8 heap cap (--max-old-space-size), MB. */
  heapMb: number;
  /** Resident memory cap enforced by polling, MB (catches typed arrays, which live outside the heap). */
  rssMb: number;
  /** Cap on what the child may write (its log and its temp folder), MB. */
  diskMb: number;
  /** Also run the child in a fresh network namespace when the system allows it ("auto"). */
  netns: "auto" | "off";
  /** More Node flags for the child (e.g. --stack-size=...). */
  nodeArgs?: string[];
}

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

interface Pending {
  resolve: (v: { value: unknown; argsAfter?: unknown[] }) => void;
  reject: (e: StudentError) => void;
}

type LoadState = "loading" | "loaded" | { failed: string };

/** One child process running student code, answering requests over IPC. */
export class ChildSession {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private killedFor: { kind: StudentFailure; message: string } | null = null;
  private fatal: string | null = null;
  private monitor: NodeJS.Timeout | null = null;
  private readonly logFd: number;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  alive = true;
  /** What the child reported about loading each file. */
  readonly loadState = new Map<string, LoadState>();
  /** Set when the child has died: why, in words for the student. */
  death: StudentError | null = null;

  constructor(private readonly opts: SandboxOptions) {
    const { runtime, codeDir, scratchDir, logFile } = opts;
    this.logFd = openSync(logFile, "a");
    const nodeArgs = [
      permissionFlag(),
      `--allow-fs-read=${runtime.dir}`,
      `--allow-fs-read=${codeDir}`,
      `--allow-fs-read=${scratchDir}`,
      `--allow-fs-write=${scratchDir}`,
      `--max-old-space-size=${opts.heapMb}`,
      "--enable-source-maps",
      "--no-warnings",
      ...(opts.nodeArgs ?? []),
      runtime.runner,
      codeDir,
    ];
    const useNetns = opts.netns === "auto" && netnsAvailable();
    const [cmd, args] = useNetns ? ["unshare", ["-n", "--", process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
    const env: Record<string, string> = {
      PATH: "/usr/bin:/bin",
      HOME: scratchDir,
      TMPDIR: scratchDir,
      LANG: "C.UTF-8",
    };
    if (process.env.SEMANTIC_GAP_QUICK !== undefined) env.SEMANTIC_GAP_QUICK = process.env.SEMANTIC_GAP_QUICK;
    this.child = spawn(cmd, args, {
      cwd: scratchDir,
      env,
      stdio: ["ignore", this.logFd, this.logFd, "ipc"],
      serialization: "advanced",
      detached: false,
    });
    let readyResolve!: () => void;
    let readyReject!: (e: StudentError) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => undefined);
    this.child.on("message", (m: unknown) => {
      if (m && typeof m === "object" && (m as { op?: unknown }).op === "ready") readyResolve();
      else this.onMessage(m);
    });
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
    return this.child.pid;
  }

  /** Sends a request; resolves with the decoded outputs or rejects with a StudentError. */
  request(msg: Record<string, unknown>): Promise<{ value: unknown; argsAfter?: unknown[] }> {
    if (!this.alive) return Promise.reject(this.death ?? new StudentError("crash", "the grading process has stopped"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.child.send({ ...msg, id }, (err) => {
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
    this.child.kill("SIGKILL");
  }

  private onMessage(m: unknown): void {
    if (!m || typeof m !== "object" || Array.isArray(m)) return;
    const r = m as Record<string, unknown>;
    if (typeof r.op === "string") {
      const file = typeof r.file === "string" ? r.file : null;
      if (r.op === "loading" && file) this.loadState.set(file, "loading");
      else if (r.op === "loaded" && file) this.loadState.set(file, "loaded");
      else if (r.op === "load-failed" && file) this.loadState.set(file, { failed: String(r.message).slice(0, 2000) });
      else if (r.op === "fatal") this.fatal = String(r.message).slice(0, 2000);
      return;
    }
    if (typeof r.id !== "number") return;
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.ok === true) {
      try {
        const value = decodeUntrusted(r.value);
        const argsAfter = Array.isArray(r.argsAfter) ? (decodeUntrusted(r.argsAfter) as unknown[]) : undefined;
        p.resolve({ value, argsAfter });
      } catch (e) {
        const why = e instanceof CodecError ? e.message : String(e);
        p.reject(new StudentError("bad-output", `the returned value cannot be graded: ${why}`));
      }
    } else {
      const kinds: StudentFailure[] = ["not-implemented", "missing-export", "threw", "crash", "bad-output"];
      const kind = kinds.includes(r.kind as StudentFailure) ? (r.kind as StudentFailure) : "threw";
      p.reject(new StudentError(kind, typeof r.message === "string" ? r.message.slice(0, 2000) : "an error"));
    }
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
    const pid = this.child.pid;
    if (!pid) return;
    let ticks = 0;
    const pageKb = 4;
    this.monitor = setInterval(() => {
      if (!this.alive) return;
      ticks++;
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
      if (ticks % 5 === 0) {
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
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      if (++count > maxEntries) {
        total = Infinity;
        return;
      }
      const full = path.join(d, n);
      try {
        const st = lstatSync(full);
        total += Math.max(st.size, 4096);
        if (st.isDirectory()) walk(full);
      } catch {
        // vanished
      }
    }
  };
  walk(dir);
  return total;
}
