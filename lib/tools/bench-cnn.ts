// Trains the curriculum's ThreeLayerConvNet (conv 32 7x7 pad 3 - relu - 2x2 max pool - affine 100 - relu
// - affine 10 - softmax, on (1, 28, 28)) for one epoch on the full Fashion-MNIST with lib's layers and
// Solver, and, where PyTorch runs here (python3-torch), the same net, batches and optimizer in PyTorch
// in the same run (float32 and float64, each at its faster thread count); prints seconds per epoch,
// images per second, where lib's time goes, one convolution forward+backward on the notebook's shapes,
// the ratios, and the load average. lib's convolution runs on the calling thread, its GEMM (the affine
// layers) on lib's thread pool. Usage: npm run bench:cnn [-- --iterations 100] (fewer iterations
// time part of an epoch and scale it up; the default is a whole epoch).
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import {
  Solver,
  affineBackward,
  affineForward,
  convBackwardFast,
  convBackwardFastParams,
  convForwardFast,
  loadFashionMnist,
  maxPoolBackwardFast,
  maxPoolForwardFast,
  meanImage,
  randn,
  reluBackward,
  reluForward,
  scaleTo01,
  sliceRows,
  softmaxLoss,
  subtractMean,
  timeMedian,
  zeros,
  type Labels,
  type Tensor,
} from "../src/index.js";
import { convGeometry } from "../src/conv/geometry.js";
import { kernelDescription } from "../src/wasm/loader.js";
import { col2im, im2col } from "../src/conv/im2col.js";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const BATCH = 64;
const LR = 1e-3;
const load = (): string => loadavg().map((v) => v.toFixed(2)).join(", ");
console.log(`load average before: ${load()} (2 cores); lib's kernels: ${kernelDescription()}`);

const ds = loadFashionMnist({ embedded: false });
const xTrain01 = scaleTo01(ds.xTrain);
const mean = meanImage(xTrain01);
const XTrain = subtractMean(xTrain01, mean);
const XTest = subtractMean(scaleTo01(ds.xTest), mean);
const perEpoch = Math.floor(XTrain.shape[0] / BATCH);
const iterations = Number(arg("--iterations") ?? perEpoch);
if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`bench-cnn: --iterations must be a positive integer`);

// Time spent per layer, in ms, summed over the training run.
const spent: Record<string, number> = {};
function timed<T>(label: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  spent[label] = (spent[label] ?? 0) + performance.now() - t0;
  return r;
}

/** ThreeLayerConvNet's architecture on lib's fast layers, with its params and init. */
class ConvNet {
  params: Record<string, Tensor>;
  constructor(seed = 0, weightScale = 1e-3) {
    this.params = {
      W1: randn([32, 1, 7, 7], seed, weightScale),
      b1: zeros([32]),
      W2: randn([32 * 14 * 14, 100], seed + 1, weightScale),
      b2: zeros([100]),
      W3: randn([100, 10], seed + 2, weightScale),
      b3: zeros([10]),
    };
  }
  loss(X: Tensor, y?: Labels): Tensor | { loss: number; grads: Record<string, Tensor> } {
    const p = this.params;
    const c1 = timed("conv forward", () => convForwardFast(X, p.W1, p.b1, { stride: 1, pad: 3 }));
    const r1 = timed("relu, softmax", () => reluForward(c1.out));
    const p1 = timed("pool forward", () => maxPoolForwardFast(r1.out, { poolHeight: 2, poolWidth: 2, stride: 2 }));
    const a2 = timed("affine forward", () => affineForward(p1.out, p.W2, p.b2));
    const r2 = timed("relu, softmax", () => reluForward(a2.out));
    const a3 = timed("affine forward", () => affineForward(r2.out, p.W3, p.b3));
    if (!y) return a3.out;
    const { loss, dx } = timed("relu, softmax", () => softmaxLoss(a3.out, y));
    const g3 = timed("affine backward", () => affineBackward(dx, a3.cache));
    const gr2 = timed("relu, softmax", () => reluBackward(g3.dx, r2.cache));
    const g2 = timed("affine backward", () => affineBackward(gr2.dx, a2.cache));
    const gp1 = timed("pool backward", () => maxPoolBackwardFast(g2.dx, p1.cache));
    const gr1 = timed("relu, softmax", () => reluBackward(gp1.dx, r1.cache));
    // The images need no gradient (PyTorch skips it too): the filters' and biases' gradients only.
    const g1 = timed("conv backward", () => convBackwardFastParams(gr1.dx, c1.cache));
    return { loss, grads: { W1: g1.dw, b1: g1.db, W2: g2.dw, b2: g2.db, W3: g3.dw, b3: g3.db } };
  }
}

const model = new ConvNet();
const solver = new Solver(
  model,
  { XTrain, yTrain: ds.yTrain, XVal: sliceRows(XTest, 0, 1000), yVal: ds.yTest.subarray(0, 1000) },
  { updateRule: "adam", optimConfig: { learningRate: LR }, batchSize: BATCH, numEpochs: 1, verbose: false },
);
const t0 = performance.now();
for (let t = 0; t < iterations; t++) timed("iteration", () => solver.step());
const trainMs = performance.now() - t0;
const libEpoch = (trainMs / 1000) * (perEpoch / iterations);
const profile = Object.entries(spent);
const testAcc = solver.checkAccuracy(XTest, ds.yTest);

const medianMs = (f: () => void): number => timeMedian(f).medianMs;
const convShapes = [
  { label: "ThreeLayerConvNet layer: x (64,1,28,28), w (32,1,7,7), pad 3", x: [64, 1, 28, 28], w: [32, 1, 7, 7], pad: 3 },
  { label: "x (64,32,14,14), w (64,32,3,3), pad 1", x: [64, 32, 14, 14], w: [64, 32, 3, 3], pad: 1 },
];
const libConv = convShapes.map((s) => {
  const x = randn(s.x, 1);
  const w = randn(s.w, 2);
  const b = randn([s.w[0]], 3);
  const fwdBwd = medianMs(() => {
    const { out, cache } = convForwardFast(x, w, b, { stride: 1, pad: s.pad });
    convBackwardFast(out, cache);
  });
  // The share of im2col and col2im (the copies around the WebAssembly product), one image at a time.
  const g = convGeometry("bench", x, w, b, { stride: 1, pad: s.pad });
  const K = g.C * g.HH * g.WW;
  const P = g.Ho * g.Wo;
  const cols = new Float64Array(K * P);
  const dx = new Float64Array(x.data.length);
  const copies = medianMs(() => {
    for (let n = 0; n < g.N; n++) {
      im2col(x.data, 0, n, 1, g, cols, 0, P);
      im2col(x.data, 0, n, 1, g, cols, 0, P);
      col2im(cols, 0, P, n, 1, g, dx);
    }
  });
  return { fwdBwd, copies };
});

// PyTorch, with OPENBLAS_* tuning variables removed from its environment only.
const env = { ...process.env };
delete env.OPENBLAS_CORETYPE;
delete env.OPENBLAS_L2_SIZE;
const job = { dir: ds.location, iterations, batchSize: BATCH, learningRate: LR, convShapes: convShapes.map(({ x, w, pad }) => ({ x, w, pad })) };
const py = spawnSync("/usr/bin/python3", [fileURLToPath(new URL("./bench_cnn.py", import.meta.url)), JSON.stringify(job)], { encoding: "utf8", env });
interface TorchRun { dtype: string; threads: number; seconds: number; testAccuracy: number; convMs: number[] }
const torch: { torch: string; runs: TorchRun[] } | null = py.status === 0 ? JSON.parse(py.stdout) : null;

const scaled = iterations === perEpoch ? "" : ` (${iterations} iterations timed, scaled to the epoch's ${perEpoch})`;
console.log(`\nThreeLayerConvNet, one epoch of full Fashion-MNIST: ${perEpoch} minibatches of ${BATCH}, Adam lr ${LR}${scaled}`);
console.log(["", "s / epoch", "images / s", "test acc", "lib / this"].map((s, i) => (i === 0 ? s.padEnd(34) : s.padStart(11))).join(""));
const row = (label: string, sec: number, acc: number, ratio: string) =>
  console.log(label.padEnd(34) + sec.toFixed(1).padStart(11) + Math.round((perEpoch * BATCH) / sec).toString().padStart(11) + acc.toFixed(4).padStart(11) + ratio.padStart(11));
row("lib (float64)", libEpoch, testAcc, "1.0x");
for (const r of torch?.runs ?? []) {
  const sec = r.seconds * (perEpoch / iterations);
  row(`PyTorch ${torch!.torch} ${r.dtype}, ${r.threads} thread${r.threads > 1 ? "s" : ""}`, sec, r.testAccuracy, `${(libEpoch / sec).toFixed(1)}x`);
}
if (!torch) console.log(`PyTorch did not run here, so there is no reference: ${py.stderr.trim().split("\n").pop() ?? ""}`);

console.log(`\nwhere lib's training time goes (${(trainMs / 1000).toFixed(1)} s over ${iterations} iterations)`);
const inLoss = profile.filter(([k]) => k !== "iteration");
const lossTotal = inLoss.reduce((s, [, v]) => s + v, 0);
const stepTotal = profile.find(([k]) => k === "iteration")![1];
for (const [k, v] of [...inLoss, ["Adam update, minibatch copy", stepTotal - lossTotal] as [string, number]].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${k.padEnd(30)} ${(v / 1000).toFixed(1).padStart(7)} s  ${((100 * v) / stepTotal).toFixed(0).padStart(3)}%`);
}

console.log(`\none convolution forward+backward, median of 7 (ms)`);
console.log(["".padEnd(64), "lib", "of it im2col/col2im", ...(torch?.runs ?? []).map((r) => `PyTorch ${r.dtype}`)].join("  "));
convShapes.forEach((s, i) => {
  const cells = [s.label.padEnd(64), libConv[i].fwdBwd.toFixed(1), libConv[i].copies.toFixed(1).padStart(19)];
  for (const r of torch?.runs ?? []) cells.push(`${r.convMs[i].toFixed(1)} (${(libConv[i].fwdBwd / r.convMs[i]).toFixed(1)}x)`.padStart(15));
  console.log(cells.join("  "));
});
console.log(`\nload average after: ${load()} (2 cores)`);
