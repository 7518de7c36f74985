// Times lib's GEMM on square products and on the shapes the curriculum runs, and numpy's (the system
// python3's, through its BLAS) on the same shapes in the same run, and prints GFLOP/s and the ratio.
// Each figure is the median of --reps timed runs after one warm-up run.
//
// Usage: npm run bench [-- --reps 5] [--threads N] [--only 1024,knn] [--threshold]
//   --threads    threads for lib (default: SEMANTIC_GAP_THREADS, else every core); lib on one thread is timed too
//   --only       run only the shapes whose label contains one of these words
//   --threshold  instead: time small square products on one thread and on the pool, to place
//                GEMM_THREAD_MIN_FLOPS (lib/src/gemm.ts) where the pool starts to pay
//
// The numpy side runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment (so OpenBLAS
// picks its kernel for this CPU itself); the report names the kernel and threads it ran (threadpoolctl).
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { Rng, matmul, randn, setThreads, threadCount } from "../src/index.js";
import { runGemm } from "../src/linalg/driver.js";
import { activeThreads } from "../src/threads/pool.js";
import { kernelDescription } from "../src/wasm/loader.js";

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const reps = Number(option("reps") ?? 5);
const threads = Number(option("threads") ?? threadCount());
const only = option("only")?.split(",");

if (process.argv.includes("--threshold")) {
  // Operands as a caller has them (not in shared memory, so the pool copies them in), the result in shared
  // memory (as gemm allocates it when it uses the pool).
  const t = Math.max(2, threads);
  console.log(`n x n x n products, median of ${reps} runs: 1 thread against ${t}; load average ${loadavg().map((v) => v.toFixed(2)).join(" ")}`);
  for (const n of [16, 32, 48, 64, 80, 96, 128, 160, 192, 256]) {
    const a = randn([n, n], 1);
    const b = randn([n, n], 2);
    const c = new Float64Array(new SharedArrayBuffer(8 * n * n));
    const ops = { M: n, N: n, K: n, alpha: 1, A: a.data, aOff: 0, aRs: n, aCs: 1, B: b.data, bOff: 0, bRs: n, bCs: 1, C: c, cOff: 0, cRs: n, cCs: 1 };
    setThreads(t);
    const one = median(() => runGemm(ops, 0, 1));
    const many = median(() => runGemm(ops, 0, t));
    console.log(`n = ${String(n).padStart(3)}  ${(2 * n ** 3 / 1e6).toFixed(2).padStart(7)} MFLOP  1 thread ${(one * 1000).toFixed(0).padStart(6)} µs  ${t} threads ${(many * 1000).toFixed(0).padStart(6)} µs  ${(one / many).toFixed(2)}x`);
  }
  process.exit(0);
}

// [label, M, K, N, transA, transB]
type Shape = [string, number, number, number, boolean, boolean];
const all: Shape[] = [
  ["square 1024", 1024, 1024, 1024, false, false],
  ["square 2048", 2048, 2048, 2048, false, false],
  ["kNN chunk: test 500x784 · train^T (784x5000)", 500, 784, 5000, false, true],
  ["two-layer net fwd: X 200x784 · W1 784x100", 200, 784, 100, false, false],
  ["two-layer net bwd: X^T (784x200) · dH 200x100", 784, 200, 100, true, false],
  ["two-layer net bwd: dH 200x100 · W1^T (100x784)", 200, 100, 784, false, true],
  // im2col of (N, 1, 28, 28) images for 32 filters 7x7, pad 3: cols (49, N·784); forward and both gradients.
  ...[50, 100].flatMap((n): Shape[] => {
    const p = n * 784;
    return [
      [`conv fwd N=${n}: W 32x49 · cols 49x${p}`, 32, 49, p, false, false],
      [`conv bwd N=${n}: dOut 32x${p} · cols^T (${p}x49)`, 32, p, 49, false, true],
      [`conv bwd N=${n}: W^T (49x32) · dOut 32x${p}`, 49, 32, p, true, false],
    ];
  }),
];
const shapes = only ? all.filter(([label]) => only.some((w) => label.includes(w))) : all;

function median(f: () => void): number {
  f();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const rng = new Rng(0);
const operands = shapes.map(([, M, K, N, ta, tb]) => [randn(ta ? [K, M] : [M, K], rng), randn(tb ? [N, K] : [K, N], rng)]);
function timeLib(t: number): number[] {
  setThreads(t);
  return shapes.map(([, , , , ta, tb], i) => median(() => matmul(operands[i][0], operands[i][1], ta, tb)));
}
const loadBefore = loadavg();
const ours = timeLib(threads);
const used = activeThreads();
const ours1 = threads > 1 ? timeLib(1) : ours;

const py = `
import json, sys, time
import numpy as np
shapes = json.loads(sys.argv[1]); reps = int(sys.argv[2]); out = []
for M, K, N, ta, tb in shapes:
    a = np.random.randn(K, M) if ta else np.random.randn(M, K)
    b = np.random.randn(N, K) if tb else np.random.randn(K, N)
    x = a.T if ta else a
    y = b.T if tb else b
    f = lambda: x @ y
    f(); times = []
    for _ in range(reps):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    times.sort(); out.append(times[len(times) // 2] * 1000)
info = []
try:
    import threadpoolctl
    info = [f"{d.get('internal_api')} {d.get('version')}, kernel {d.get('architecture')}, {d.get('num_threads')} threads"
            for d in threadpoolctl.threadpool_info() if d.get('user_api') == 'blas']
except Exception:
    pass
print(json.dumps({"ms": out, "blas": info, "numpy": np.__version__}))
`;
const env = { ...process.env };
delete env.OPENBLAS_CORETYPE;
delete env.OPENBLAS_L2_SIZE;
const r = spawnSync("/usr/bin/python3", ["-c", py, JSON.stringify(shapes.map(([, M, K, N, ta, tb]) => [M, K, N, ta, tb])), String(reps)], {
  encoding: "utf8",
  env,
});
const numpy = r.status === 0 ? (JSON.parse(r.stdout) as { ms: number[]; blas: string[]; numpy: string }) : null;
const loadAfter = loadavg();

console.log(`GEMM, float64, median of ${reps} runs; lib on ${used} thread(s) (of ${threads} asked) and on 1 thread`);
console.log(`lib's kernel: ${kernelDescription()}`);
console.log(
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}); load average ${loadBefore.map((v) => v.toFixed(2)).join(" ")} ` +
    `before, ${loadAfter.map((v) => v.toFixed(2)).join(" ")} after (other processes slow the timings down)`,
);
console.log(
  numpy
    ? `numpy ${numpy.numpy}: ${numpy.blas.join("; ") || "BLAS not identified (threadpoolctl missing)"}; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset`
    : `numpy did not run here, so there is no reference column: ${r.stderr.trim().split("\n").pop()}`,
);
console.log(["shape".padEnd(50), "lib ms", "GFLOP/s", "1 thr ms", "numpy ms", "GFLOP/s", "lib/numpy"].join("  "));
shapes.forEach(([label, M, K, N], i) => {
  const flop = 2 * M * K * N;
  const np = numpy ? numpy.ms[i] : NaN;
  console.log(
    [
      label.padEnd(50),
      ours[i].toFixed(1).padStart(6),
      (flop / ours[i] / 1e6).toFixed(1).padStart(7),
      ours1[i].toFixed(1).padStart(8),
      (numpy ? np.toFixed(1) : "n/a").padStart(8),
      (numpy ? (flop / np / 1e6).toFixed(1) : "n/a").padStart(7),
      (numpy ? `${(ours[i] / np).toFixed(2)}x` : "n/a").padStart(9),
    ].join("  "),
  );
});
