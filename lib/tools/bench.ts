// Times lib's GEMM on the shapes the curriculum uses and, where numpy runs here, numpy's on the same
// shapes in the same run, and prints the ratio. Usage: npm run bench [-- --reps 5]
import { spawnSync } from "node:child_process";
import { Rng, matmul, randn } from "../src/index.js";

const repsArg = process.argv.indexOf("--reps");
const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 3;

// [label, M, K, N, transB]
const shapes: Array<[string, number, number, number, boolean]> = [
  ["square 256", 256, 256, 256, false],
  ["square 1024", 1024, 1024, 1024, false],
  ["kNN chunk: test 500x784 · train^T 784x5000", 500, 784, 5000, true],
  ["two-layer net: batch 200x784 · W1 784x100", 200, 784, 100, false],
  ["im2col conv: 32x(3·3·3) · cols 27x(32·32·50)", 32, 27, 51200, false],
];

function best(f: () => void): number {
  f();
  let bestMs = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return bestMs;
}

const rng = new Rng(0);
const ours: number[] = [];
for (const [, M, K, N, transB] of shapes) {
  const a = randn([M, K], rng);
  const b = transB ? randn([N, K], rng) : randn([K, N], rng);
  ours.push(best(() => matmul(a, b, false, transB)));
}

const py = `
import json, sys, time
import numpy as np
shapes = json.loads(sys.argv[1]); reps = int(sys.argv[2]); out = []
for M, K, N, tb in shapes:
    a = np.random.randn(M, K); b = np.random.randn(N, K) if tb else np.random.randn(K, N)
    f = (lambda: a @ b.T) if tb else (lambda: a @ b)
    f(); best = float("inf")
    for _ in range(reps):
        t = time.perf_counter(); f(); best = min(best, time.perf_counter() - t)
    out.append(best * 1000)
print(json.dumps(out))
`;
const r = spawnSync(
  "/usr/bin/python3",
  ["-c", py, JSON.stringify(shapes.map(([, M, K, N, tb]) => [M, K, N, tb])), String(reps)],
  { encoding: "utf8" },
);
const numpy: number[] | null = r.status === 0 ? (JSON.parse(r.stdout) as number[]) : null;

console.log(`GEMM, float64, best of ${reps} (numpy: the system python3's numpy, its default BLAS threads)`);
console.log(["shape".padEnd(46), "lib ms", "GFLOP/s", "numpy ms", "lib/numpy"].join("  "));
shapes.forEach(([label, M, K, N], i) => {
  const gflops = (2 * M * K * N) / ours[i] / 1e6;
  const np = numpy ? numpy[i] : NaN;
  console.log(
    [
      label.padEnd(46),
      ours[i].toFixed(1).padStart(6),
      gflops.toFixed(2).padStart(7),
      (numpy ? np.toFixed(1) : "n/a").padStart(8),
      (numpy ? `${(ours[i] / np).toFixed(1)}x` : "n/a").padStart(9),
    ].join("  "),
  );
});
if (!numpy) console.log("numpy did not run here, so there is no reference column:", r.stderr.trim().split("\n").pop());
