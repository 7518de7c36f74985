import { isTensor, randn, type Tensor } from "@semantic-gap/lib";
import { compareNumber, expectThat } from "../src/compare.js";
import type { HiddenTest } from "../src/types.js";

// Public checks for cnn.ts: the default parameter shapes and the loss of a fresh net, ln 10 for ten classes.
// Worth no points: the hidden tests carry the grade.

const F = "cnn.ts";

const shapes: HiddenTest = {
  name: "cnn (public): ThreeLayerConvNet's default parameters and loss at initialization",
  files: [F],
  maxScore: 0,
  visibility: "visible",
  timeoutMs: 60_000,
  async run(student) {
    const net = await student.construct(F, "ThreeLayerConvNet");
    const p = (await net.get("params")) as Record<string, Tensor> | null;
    // 32 filters of 1x7x7; pooled maps 32 x 14 x 14 = 6272 values feed 100 hidden units, then 10 scores.
    const want: Record<string, number[]> = { W1: [32, 1, 7, 7], b1: [32], W2: [6272, 100], b2: [100], W3: [100, 10], b3: [10] };
    const ok = p !== null && typeof p === "object" && Object.entries(want).every(([k, s]) => isTensor(p[k]) && p[k].shape.join() === s.join());
    const small = await student.construct(F, "ThreeLayerConvNet", { inputDim: [1, 8, 8], numFilters: 4, filterSize: 3, hiddenDim: 10 });
    const X = randn([5, 1, 8, 8], 0);
    const out = (await small.call("loss", X, Int32Array.from([0, 1, 2, 3, 4]))) as { loss?: unknown } | null;
    return [
      expectThat("default shapes", ok, "params should be W1 (32, 1, 7, 7), b1 (32), W2 (6272, 100), b2 (100), W3 (100, 10), b3 (10)"),
      compareNumber("loss at initialization", out?.loss, Math.log(10), { atol: 1e-3, rtol: 0 }),
    ];
  },
};

export const tests: HiddenTest[] = [shapes];
