import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { GEMM_THREAD_MIN_FLOPS, Rng, gemm, gemmRaw, matmul, randn, setThreads, sharedZeros, threadCount, transpose, zeros, type Tensor } from "../src/index.js";
import { planGemm, splitsK } from "../src/linalg/parallel.js";
import { poolStats } from "../src/threads/pool.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const libSrc = path.join(here, "..", "src");

// The independent reference: a plain triple loop over get(), in the textbook order.
function naive(a: Tensor, b: Tensor, transA = false, transB = false): number[][] {
  const M = transA ? a.shape[1] : a.shape[0];
  const K = transA ? a.shape[0] : a.shape[1];
  const N = transB ? b.shape[0] : b.shape[1];
  const out: number[][] = [];
  for (let i = 0; i < M; i++) {
    const row: number[] = [];
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) s += (transA ? a.get(p, i) : a.get(i, p)) * (transB ? b.get(j, p) : b.get(p, j));
      row.push(s);
    }
    out.push(row);
  }
  return out;
}

// Worst |got - want| relative to the size of the terms summed (Σ|a||b| is at most K · max|a| · max|b|).
function relErr(got: Tensor, want: number[][], K: number): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    for (let j = 0; j < want[i].length; j++) worst = Math.max(worst, Math.abs(got.get(i, j) - want[i][j]));
  }
  return worst / (K * 16);
}

function bits(t: Tensor): number[] {
  const out: number[] = [];
  for (let i = 0; i < t.shape[0]; i++) for (let j = 0; j < t.shape[1]; j++) out.push(t.get(i, j));
  return out;
}

/** A row-major (rows, cols) tensor of randn values at every second element of every second row (no unit stride). */
function strided(rows: number, cols: number, rng: Rng): Tensor {
  const big = randn([2 * rows, 2 * cols + 1], rng);
  return big.hi(2 * rows, 2 * cols).step(2, 2);
}

const initialThreads = threadCount();
afterAll(() => setThreads(initialThreads));

describe("gemm paths against a triple loop", () => {
  const rng = new Rng(7);
  // Sizes that cross the kernel's 4x4 tile, its KC = 256, MC = 64 and NC = 512 blocks.
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1],
    [5, 3, 7],
    [67, 259, 13],
    [9, 300, 530],
  ];
  for (const threads of [1, 2]) {
    for (const [M, K, N] of shapes) {
      it(`${threads} thread(s), (${M}, ${K}) x (${K}, ${N}): plain, transposed, strided and offset views`, () => {
        setThreads(threads);
        const a = randn([M, K], rng);
        const b = randn([K, N], rng);
        const want = naive(a, b);
        expect(relErr(matmul(a, b), want, K)).toBeLessThan(1e-15);
        // Transposed storage: op(A) with unit row stride, op(B) with unit row stride.
        const at = transpose(randn([K, M], rng));
        const ref2 = naive(at, b);
        expect(relErr(matmul(at, b), ref2, K)).toBeLessThan(1e-15);
        const aT = randn([K, M], rng);
        const bT = randn([N, K], rng);
        expect(relErr(gemm(aT, bT, { transA: true, transB: true }), naive(aT, bT, true, true), K)).toBeLessThan(1e-15);
        // No unit stride anywhere in A or B.
        const as = strided(M, K, rng);
        const bs = strided(K, N, rng);
        expect(as.stride[1]).toBe(2);
        expect(relErr(matmul(as, bs), naive(as, bs), K)).toBeLessThan(1e-15);
        // Negative strides (a view read backwards) and an offset.
        const ar = randn([M, K], rng).step(-1, 1);
        expect(relErr(matmul(ar, b), naive(ar, b), K)).toBeLessThan(1e-15);
      });
    }
    it(`${threads} thread(s): alpha, beta and a strided out view keep the elements around it`, () => {
      setThreads(threads);
      const [M, K, N] = [70, 120, 90];
      const a = randn([M, K], rng);
      const b = randn([K, N], rng);
      const base = randn([2 * M, N + 3], rng);
      const old = bits(base);
      const view = base.step(2, 1).hi(M, N).lo(0, 0);
      const before = bits(view);
      gemm(a, b, { alpha: -0.5, beta: 3, out: view });
      const want = naive(a, b);
      let worst = 0;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) worst = Math.max(worst, Math.abs(view.get(i, j) - (-0.5 * want[i][j] + 3 * before[i * N + j])));
      }
      expect(worst / (K * 16)).toBeLessThan(1e-15);
      // Every element outside the view (odd rows, the last three columns) is untouched.
      const now = bits(base);
      for (let i = 0; i < 2 * M; i++) {
        for (let j = 0; j < N + 3; j++) if (i % 2 === 1 || j >= N) expect(now[i * (N + 3) + j]).toBe(old[i * (N + 3) + j]);
      }
      // beta = 0 ignores old values, NaN included; alpha = 0 only scales C.
      const nan = zeros([M, N]);
      nan.data.fill(NaN);
      expect(bits(gemm(a, b, { out: nan })).every(Number.isFinite)).toBe(true);
      const c = randn([M, N], rng);
      const c0 = bits(c);
      gemm(a, b, { alpha: 0, beta: 2, out: c });
      expect(bits(c)).toEqual(c0.map((v) => 2 * v));
    });
  }

  it("sums long K with a small C in fixed K segments, exactly like a triple loop up to rounding", () => {
    const [M, K, N] = [7, 3000, 5];
    expect(splitsK(M, N, K)).toBe(true);
    const a = randn([M, K], rng);
    const b = transpose(randn([N, K], rng));
    for (const t of [1, 2]) {
      setThreads(t);
      expect(relErr(matmul(a, b), naive(a, b), K)).toBeLessThan(1e-15);
    }
  });

  it("gemmRaw takes raw buffers, strides and offsets", () => {
    setThreads(1);
    const a = randn([3, 4], rng);
    const b = randn([4, 2], rng);
    const c = new Float64Array(1 + 3 * 2);
    gemmRaw(3, 2, 4, 1, a.data, 0, 4, 1, b.data, 0, 2, 1, 0, c, 1, 2, 1);
    const want = naive(a, b);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) expect(Math.abs(c[1 + i * 2 + j] - want[i][j])).toBeLessThan(1e-14);
    expect(c[0]).toBe(0);
  });
});

describe("threads", () => {
  const rng = new Rng(11);
  // Shapes cut by columns, by rows and by K segments, all above the one-thread threshold.
  const cases: Array<[string, number, number, number]> = [
    ["columns", 120, 300, 700],
    ["rows", 700, 300, 120],
    ["K segments", 40, 6000, 30],
  ];
  for (const [name, M, K, N] of cases) {
    it(`gives bit-identical results on 1 and 2 threads (cut by ${name})`, () => {
      expect(2 * M * N * K).toBeGreaterThanOrEqual(GEMM_THREAD_MIN_FLOPS);
      const split = planGemm(M, N, K, 2).split;
      expect(split).toBe(name === "columns" ? "cols" : name === "rows" ? "rows" : "k");
      const a = randn([M, K], rng);
      const b = randn([K, N], rng);
      setThreads(1);
      const one = bits(matmul(a, b));
      setThreads(2);
      // On a busy machine the worker may wake too late to take a task; repeat until it has taken some.
      const before = poolStats().workerTasks;
      for (let r = 0; r < 20 && poolStats().workerTasks === before; r++) expect(bits(matmul(a, b))).toEqual(one);
      expect(poolStats().workerTasks).toBeGreaterThan(before);
      // A transposed, non-shared out view: the same numbers again.
      const out = zeros([N, M]);
      gemm(a, b, { out: transpose(out) });
      expect(bits(transpose(out))).toEqual(one);
    });
  }

  it("starts the pool once and reuses its workers", () => {
    setThreads(2);
    const a = randn([200, 200], rng);
    matmul(a, a);
    const s0 = poolStats();
    expect(s0.workers).toBe(1);
    expect(s0.ready).toBe(1);
    for (let r = 0; r < 5; r++) matmul(a, a);
    const s1 = poolStats();
    expect(s1.workers).toBe(1);
    expect(s1.jobsOnWorkers).toBe(s0.jobsOnWorkers + 5);
  });

  it("runs small products on the calling thread", () => {
    setThreads(2);
    const n = Math.floor(Math.cbrt(GEMM_THREAD_MIN_FLOPS / 2)) - 1;
    const a = randn([n, n], rng);
    const before = poolStats();
    const c = matmul(a, a);
    expect(poolStats().jobsOnWorkers).toBe(before.jobsOnWorkers);
    expect(c.data.buffer instanceof SharedArrayBuffer).toBe(false);
    expect(relErr(c, naive(a, a), n)).toBeLessThan(1e-15);
  });

  it("takes operands in shared memory as they are (sharedZeros), with the same numbers", () => {
    setThreads(2);
    const [M, K, N] = [64, 200, 600];
    const a = randn([M, K], rng);
    const b = randn([K, N], rng);
    const sa = sharedZeros([M, K]);
    const sb = sharedZeros([K, N]);
    sa.data.set(a.data);
    sb.data.set(b.data);
    expect(sa.data.buffer instanceof SharedArrayBuffer).toBe(true);
    expect(sa.stride).toEqual([K, 1]);
    expect(bits(matmul(sa, sb))).toEqual(bits(matmul(a, b)));
    expect(() => sharedZeros([2, -1])).toThrow("sharedZeros: shape must be an array of non-negative integers, got [2,-1]");
  });

  it("rejects a bad thread count", () => {
    expect(() => setThreads(0)).toThrow("setThreads: n must be a positive integer, got 0");
  });
});

describe("processes", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sg-gemm-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The product every child computes and prints a checksum of, on its threads.
  const body = `
    const a = lib.randn([300, 400], 1), b = lib.randn([400, 500], 2);
    const c = lib.matmul(a, b);
    let h = 0; for (let i = 0; i < c.data.length; i++) h = (h * 31 + c.data[i] * 1e6) % 1e9;
    console.log(JSON.stringify({ threads: lib.threadCount(), h, sum: Array.from(c.data).reduce((s, v) => s + v, 0) }));
  `;

  function run(args: string[], script: string, env: Record<string, string> = {}): { status: number | null; out: string; err: string; ms: number } {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [...args, script], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, ...env },
    });
    return { status: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
  }

  it("a process that imports lib and multiplies on two threads exits by itself", () => {
    const script = path.join(dir, "exits.mts");
    writeFileSync(script, `import * as lib from ${JSON.stringify(path.join(libSrc, "index.ts"))};\n${body}`);
    const tsx = path.join(here, "..", "..", "node_modules", "tsx", "dist", "cli.mjs");
    const r = run([tsx], script, { SEMANTIC_GAP_THREADS: "2" });
    expect(r.err).toBe("");
    expect(r.status).toBe(0); // not killed by the timeout: no worker kept it alive
    const got = JSON.parse(r.out) as { threads: number };
    expect(got.threads).toBe(2);
  });

  // (1·-1) + (1 + 2^-30)(1 - 2^-30) is -2^-60 exactly: a fused multiply-add keeps it, a product rounded to
  // 1 before the add loses it. The product is also summed over a long K (several KC blocks) so that every
  // path of the kernel runs in the variant under test.
  const fmaBody = `
    const { fmaKernels } = await import(${JSON.stringify(path.join(libSrc, "wasm", "loader.ts"))});
    const a = lib.tensor([1, 1 + 2 ** -30], [1, 2]), b = lib.tensor([-1, 1 - 2 ** -30], [2, 1]);
    const x = lib.randn([20, 700], 3), y = lib.randn([700, 30], 4);
    const c = lib.matmul(x, y);
    let err = 0;
    for (let i = 0; i < 20; i++) for (let j = 0; j < 30; j++) {
      let s = 0; for (let p = 0; p < 700; p++) s += x.get(i, p) * y.get(p, j);
      err = Math.max(err, Math.abs(s - c.get(i, j)));
    }
    console.log(JSON.stringify({ mode: fmaKernels(), c: lib.matmul(a, b).data[0], err }));
  `;

  it("uses fused multiply-adds where the engine has them, and plain ones with SEMANTIC_GAP_FMA=0", () => {
    const script = path.join(dir, "fma.mts");
    writeFileSync(script, `import * as lib from ${JSON.stringify(path.join(libSrc, "index.ts"))};\n${fmaBody}`);
    const tsx = path.join(here, "..", "..", "node_modules", "tsx", "dist", "cli.mjs");
    const results = ["", "0"].map((fma) => {
      const r = run([tsx], script, fma ? { SEMANTIC_GAP_FMA: fma } : {});
      expect(r.err).toBe("");
      expect(r.status).toBe(0);
      return JSON.parse(r.out) as { mode: string; c: number; err: number };
    });
    const [auto, plain] = results;
    // Node 20 and later run relaxed SIMD (after the flag lib sets); x86-64 and arm64 CPUs fuse it.
    expect(auto.mode).toBe("fused");
    expect(auto.c).toBe(-(2 ** -60));
    expect(plain.mode).toBe("off");
    expect(plain.c).toBe(0);
    // Either way the product agrees with a plain loop to rounding (|entries| ~ 26, 700 terms).
    for (const r of results) expect(r.err).toBeLessThan(1e-11);
  });

  // lib bundled into one file, as the grader's child runs it (its kernels go in wasm/ beside it).
  async function bundleLib(): Promise<string> {
    const esbuild = await import("esbuild");
    const bundle = path.join(dir, "sglib.mjs");
    await esbuild.build({
      entryPoints: [path.join(libSrc, "index.ts")],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      outfile: bundle,
      logLevel: "silent",
      external: ["sharp", "plotly.js-dist-min", "tslab"],
      banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
    });
    return bundle;
  }

  it("names the missing kernel file and the command that builds it", async () => {
    const bundle = await bundleLib();
    const bare = mkdtempSync(path.join(dir, "bare-"));
    cpSync(bundle, path.join(bare, "sglib.mjs"));
    const script = path.join(bare, "child.mjs");
    const tries = [
      "lib.matmul(lib.randn([3, 3], 1), lib.randn([3, 3], 2))",
      // 8-bit images: the pruned search's integer kernel.
      "lib.kNearest(lib.tensor(Float64Array.from({ length: 64 * 16 }, (_, i) => (i * 7) % 256), [64, 16]), lib.tensor(new Float64Array(16), [1, 16]), 1, { method: 'pruned' })",
    ];
    writeFileSync(
      script,
      `import * as lib from "./sglib.mjs";\n` +
        `for (const f of [${tries.map((t) => `() => ${t}`).join(", ")}]) { try { f(); console.log("no error"); } catch (e) { console.log(e.message); } }`,
    );
    const r = run([], script);
    expect(r.status).toBe(0);
    const lines = r.out.trim().split("\n");
    for (const [i, name] of ["gemm", "knn"].entries()) {
      expect(lines[i]).toBe(
        `lib: the WebAssembly kernel ${name}.wasm is missing (looked for ${path.join(bare, `${name}.wasm`)} and ` +
          `${path.join(bare, "wasm", `${name}.wasm`)}); build the library first (npm run build)`,
      );
    }
  });

  it("gemm and kNearestParallel fall back to the calling thread under the permission model (no --allow-worker), with the same numbers", async () => {
    await bundleLib();
    mkdirSync(path.join(dir, "wasm"), { recursive: true });
    for (const f of readdirSync(path.join(libSrc, "wasm")).filter((n) => n.endsWith(".wasm"))) {
      cpSync(path.join(libSrc, "wasm", f), path.join(dir, "wasm", f));
    }
    const script = path.join(dir, "child.mjs");
    writeFileSync(
      script,
      `import * as lib from "./sglib.mjs";\nimport { Worker } from "node:worker_threads";\n` +
        `let denied = false; try { new Worker("0", { eval: true }).unref(); } catch (e) { denied = e.code === "ERR_ACCESS_DENIED"; }\n` +
        `if (!denied) throw new Error("workers were not denied");\n${body}`,
    );
    const major = Number(process.versions.node.split(".")[0]);
    const flag = major >= 23 ? "--permission" : "--experimental-permission";
    const denied = run([flag, `--allow-fs-read=${dir}`, "--no-warnings"], script, { SEMANTIC_GAP_THREADS: "2" });
    expect(denied.err).toBe("");
    expect(denied.status).toBe(0);
    // This process, on two threads, gives the same checksum.
    setThreads(2);
    const here2 = new Function("lib", `const log = console.log; let got; console.log = (s) => { got = s; };
      try { ${body} } finally { console.log = log; } return got;`) as (l: unknown) => string;
    const before = poolStats().jobsOnWorkers;
    const mine = JSON.parse(here2(await import("../src/index.js"))) as { threads: number };
    expect(poolStats().jobsOnWorkers).toBe(before + 1);
    expect(JSON.parse(denied.out)).toEqual({ ...mine, threads: 2 });

    // The kNN search on "2 threads" there runs on one and finds what the pool finds here.
    const knnScript = path.join(dir, "knn-child.mjs");
    const knnBody = `
      const train = lib.randn([400, 16], 3), test = lib.randn([50, 16], 4);
      const out = [];
      for (const method of ["brute", "pruned"]) {
        const nb = await lib.kNearestParallel(train, test, 3, { method, workers: 2 });
        out.push({ threads: nb.stats.threads, indices: Array.from(nb.indices), distances: Array.from(nb.distances) });
      }
    `;
    writeFileSync(knnScript, `import * as lib from "./sglib.mjs";\n${knnBody}\nconsole.log(JSON.stringify(out));`);
    const knnDenied = run([flag, `--allow-fs-read=${dir}`, "--no-warnings"], knnScript);
    expect(knnDenied.err).toBe("");
    const theirs = JSON.parse(knnDenied.out) as Array<{ threads: number }>;
    const lib = await import("../src/index.js");
    const ours = await (new Function("lib", `return (async () => { ${knnBody}; return out; })();`) as (l: unknown) => Promise<Array<{ threads: number }>>)(lib);
    expect(theirs.map((o) => o.threads)).toEqual([1, 1]);
    expect(ours.map((o) => o.threads)).toEqual([2, 2]);
    expect(theirs.map((o) => ({ ...o, threads: 0 }))).toEqual(ours.map((o) => ({ ...o, threads: 0 })));
  });
});
