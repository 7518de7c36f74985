import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Rng, convBackwardFast, convForwardFast, evalNumericalGradientArray, maxPoolForwardFast, maxAbsDiff, randn, reshape, toFloat64Array, tensor, type Tensor } from "@semantic-gap/lib";
import * as sol from "../../solutions/a2/conv_layers.js";
import { stubTypeScript } from "../src/generate.js";
import { StudentError } from "../src/types.js";
import { editedStudent, failedParts, failures, inProcessStudent, patchedStudent, runInProcess } from "../src/in-process.js";
import { refConvBackward, refConvForward, refPoolBackward, refPoolForward, refSpatialBnBackward, refSpatialBnForward } from "./conv_reference.js";
import { libEquivalents, tests } from "./conv_layers.hidden.js";
import { tests as publicTests } from "./conv_layers.public.js";

const solutionsDir = fileURLToPath(new URL("../../solutions/a2", import.meta.url));
const solutions = inProcessStudent(solutionsDir);
const FILE = "conv_layers.ts";
/**
 * Grading seeds swept: every random case is built to be far from a tie or a kink (distinct pooled values at
 * least 0.04 apart, conv and batchnorm smooth), so a correct solution cannot lose a point by chance.
 */
const SEEDS = 100;
const tmpRoot = fileURLToPath(new URL("../../build/tmp-conv-variants", import.meta.url));
mkdirSync(tmpRoot, { recursive: true });
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** The solution with `from` replaced by `to` in its first occurrence only (the forward pass comes first). */
function firstReplaced(from: string, to: string) {
  return editedStudent(solutionsDir, tmpRoot, FILE, [], {
    transform: (src) => {
      const i = src.indexOf(from);
      if (i < 0) throw new Error(`conv_layers.ts no longer contains ${JSON.stringify(from)}`);
      return src.slice(0, i) + to + src.slice(i + from.length);
    },
  });
}

/** A replacement function whose exceptions reach the tests as a student's do (StudentError "threw"). */
function asStudent<A extends unknown[], R>(f: (...a: A) => R): (...a: A) => R {
  return (...a: A) => {
    try {
      return f(...a);
    } catch (e) {
      throw new StudentError("threw", e instanceof Error ? e.message : String(e));
    }
  };
}

describe("conv_layers hidden tests", () => {
  it("the grader's references agree with the reference solution and with numerical gradients", () => {
    const rng = new Rng(5);
    for (let k = 0; k < 20; k++) {
      const stride = 1 + (k % 2);
      const pad = k % 3;
      const [HH, WW] = [2 + (k % 2), 1 + (k % 3)];
      const H = 2 * stride + HH - 2 * pad + (pad > 0 ? 2 * stride : 0);
      const W = 2 * stride + WW - 2 * pad + (pad > 0 ? 2 * stride : 0);
      const x = randn([2, 2, H, W], rng);
      const w = randn([3, 2, HH, WW], rng);
      const b = randn([3], rng);
      const param = { stride, pad };
      const s = sol.convForwardNaive(x, w, b, param);
      expect(maxAbsDiff(s.out, refConvForward(x, w, b, param))).toBeLessThan(1e-12);
      const dout = randn(s.out.shape, rng);
      const g = sol.convBackwardNaive(dout, s.cache);
      const r = refConvBackward(dout, x, w, param);
      for (const key of ["dx", "dw", "db"] as const) expect(maxAbsDiff(g[key], r[key])).toBeLessThan(1e-12);
      expect(maxAbsDiff(r.dx, evalNumericalGradientArray((t) => refConvForward(t, w, b, param), x, dout))).toBeLessThan(1e-8);
      // The library's fast convolution is a third, independent implementation.
      const fast = convForwardFast(x, w, b, param);
      expect(maxAbsDiff(fast.out, s.out)).toBeLessThan(1e-10);
      const fg = convBackwardFast(dout, fast.cache);
      for (const key of ["dx", "dw", "db"] as const) expect(maxAbsDiff(fg[key], r[key])).toBeLessThan(1e-10);
    }
    const x = randn([2, 3, 6, 4], rng);
    for (const p of [{ poolHeight: 2, poolWidth: 2, stride: 2 }, { poolHeight: 3, poolWidth: 2, stride: 1 }]) {
      const m = sol.maxPoolForwardNaive(x, p);
      expect(maxAbsDiff(m.out, refPoolForward(x, p, "max"))).toBe(0);
      expect(maxAbsDiff(maxPoolForwardFast(x, p).out, m.out)).toBe(0);
      const dout = randn(m.out.shape, rng);
      expect(maxAbsDiff(sol.maxPoolBackwardNaive(dout, m.cache).dx, refPoolBackward(dout, x, p, "max"))).toBeLessThan(1e-12);
      const a = sol.avgPoolForwardNaive(x, p);
      expect(maxAbsDiff(a.out, refPoolForward(x, p, "avg"))).toBeLessThan(1e-12);
      expect(maxAbsDiff(sol.avgPoolBackwardNaive(dout, a.cache).dx, refPoolBackward(dout, x, p, "avg"))).toBeLessThan(1e-12);
    }
    const gamma = randn([3], rng);
    const beta = randn([3], rng);
    const bn = { mode: "train" as const };
    const f = sol.spatialBatchnormForward(x, gamma, beta, bn);
    const ref = refSpatialBnForward(x, gamma, beta, { mode: "train" });
    expect(maxAbsDiff(f.out, ref.out)).toBeLessThan(1e-12);
    expect(maxAbsDiff((bn as sol.BatchnormParam).runningMean!, tensor(ref.runningMean, [3]))).toBeLessThan(1e-14);
    const dout = randn(x.shape, rng);
    const gb = sol.spatialBatchnormBackward(dout, f.cache);
    const rb = refSpatialBnBackward(dout, x, gamma);
    for (const key of ["dx", "dgamma", "dbeta"] as const) expect(maxAbsDiff(gb[key], rb[key])).toBeLessThan(1e-12);
  });

  it(`give the reference solution full marks for ${SEEDS} grading seeds, and it passes the public checks`, async () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const results = await runInProcess(tests, solutions, seed * 7919);
      expect(failures(results)).toEqual([]);
    }
    expect(failures(await runInProcess(publicTests, solutions, 1))).toEqual([]);
  }, 300_000);

  it("every test names its exercises, and each naive conv and max-pool exercise its fast library version", () => {
    for (const t of tests) expect(t.exercises?.length, t.name).toBeGreaterThan(0);
    expect(libEquivalents.convForwardNaive).toEqual(["convForwardFast"]);
    expect(libEquivalents.convBackwardNaive).toEqual(["convBackwardFast", "convBackwardFastParams"]);
    expect(libEquivalents.maxPoolForwardNaive).toEqual(["maxPoolForwardFast"]);
    expect(libEquivalents.maxPoolBackwardNaive).toEqual(["maxPoolBackwardFast"]);
  });

  it("a convolution that ignores the padding loses the padded forward cases only", async () => {
    const broken = firstReplaced(
      "const r = i * stride + u - pad;\n              if (r < 0 || r >= H) continue;\n              for (let v = 0; v < WW; v++) {\n                const q = j * stride + v - pad;",
      "const r = i * stride + u;\n              if (r < 0 || r >= H) continue;\n              for (let v = 0; v < WW; v++) {\n                const q = j * stride + v;",
    );
    for (const seed of [3, 4]) {
      expect(failedParts(await runInProcess(tests, broken, seed))).toEqual(["conv_layers: convForwardNaive on random geometries / with padding"]);
    }
  });

  it("a true convolution (flipped filter) loses every forward value part, and the public flip check", async () => {
    const broken = firstReplaced("wd[((f * C + c) * HH + u) * WW + v] * xd[", "wd[((f * C + c) * HH + (HH - 1 - u)) * WW + (WW - 1 - v)] * xd[");
    expect(failedParts(await runInProcess(tests, broken, 5))).toEqual([
      "conv_layers: convForwardNaive on random geometries / no padding",
      "conv_layers: convForwardNaive on random geometries / with padding",
      "conv_layers: convForwardNaive on random geometries / batch of one",
    ]);
    expect(failedParts(await runInProcess(publicTests, broken, 5))).toEqual([
      "conv_layers (public): convForwardNaive on hand-worked cases / pad 1, stride 1",
      "conv_layers (public): convForwardNaive on hand-worked cases / pad 1, stride 2",
      "conv_layers (public): convForwardNaive on hand-worked cases / not flipped (cross-correlation)",
    ]);
  });

  it("max pooling that sends a tie's gradient to the last maximum loses the tie parts only", async () => {
    const broken = firstReplaced("if (xd[k] > best || at < 0)", "if (xd[k] >= best || at < 0)");
    for (const seed of [6, 7]) {
      expect(failedParts(await runInProcess(tests, broken, seed))).toEqual([
        "conv_layers: maxPoolBackwardNaive on random geometries / ties go to the first maximum",
        "conv_layers: maxPoolBackwardNaive on random geometries / ties in overlapping windows",
      ]);
    }
  });

  it("spatial batchnorm over the wrong axes (per pixel over N) loses every part but dbeta", async () => {
    // Each (c, h, w) position normalized over the N images alone: the channel axis holds C·H·W "channels".
    const tile = (g: Tensor, hw: number) => tensor(Float64Array.from({ length: g.shape[0] * hw }, (_, i) => g.data[Math.floor(i / hw)]), [g.shape[0] * hw]);
    const broken = patchedStudent(solutions, {
      [`${FILE}:spatialBatchnormForward`]: asStudent((x: Tensor, gamma: Tensor, beta: Tensor, bn: sol.BatchnormParam) => {
        const [N, C, H, W] = x.shape;
        const r = sol.spatialBatchnormForward(reshape(x, [N, C * H * W, 1, 1]), tile(gamma, H * W), tile(beta, H * W), bn);
        const cache = { ...r.cache, shape: x.shape };
        return { out: reshape(r.out, x.shape), cache };
      }),
      [`${FILE}:spatialBatchnormBackward`]: asStudent((dout: Tensor, cache: sol.SpatialBatchnormCache & { shape: number[] }) => {
        const [N, C, H, W] = cache.shape;
        const g = sol.spatialBatchnormBackward(reshape(dout, [N, C * H * W, 1, 1]), cache);
        const perChannel = (t: Tensor) => tensor(Float64Array.from({ length: C }, (_, c) => toFloat64Array(t).slice(c * H * W, (c + 1) * H * W).reduce((a, v) => a + v, 0)), [C]);
        return { dx: reshape(g.dx, cache.shape), dgamma: perChannel(g.dgamma), dbeta: perChannel(g.dbeta) };
      }),
    });
    expect(failedParts(await runInProcess(tests, broken, 8))).toEqual([
      "conv_layers: spatialBatchnormForward / train mode: out",
      "conv_layers: spatialBatchnormForward / running statistics",
      "conv_layers: spatialBatchnormForward / momentum and eps",
      "conv_layers: spatialBatchnormForward / test mode uses the running statistics",
      "conv_layers: spatialBatchnormBackward / dx",
      "conv_layers: spatialBatchnormBackward / dgamma",
      "conv_layers: spatialBatchnormBackward / gradient check",
    ]);
  });

  it("a convolution without geometry checks loses the invalid-geometry parts only", async () => {
    const broken = firstReplaced("const Hout = windowCount(fn, \"height\", H, HH, pad, stride);", "const Hout = Math.floor(1 + (H + 2 * pad - HH) / stride);");
    const noChannelCheck = (src: string) => src.replace(/  if \(w\.shape\[1\] !== C\) throw[^\n]*\n/, "");
    const both = editedStudent(solutionsDir, tmpRoot, FILE, [], {
      transform: (src) => noChannelCheck(src.replace('const Hout = windowCount(fn, "height", H, HH, pad, stride);', "const Hout = Math.floor(1 + (H + 2 * pad - HH) / stride);")),
    });
    expect(failedParts(await runInProcess(tests, broken, 9))).toEqual(["conv_layers: convForwardNaive rejects invalid geometry / stride does not divide"]);
    expect(failedParts(await runInProcess(tests, both, 9))).toEqual([
      "conv_layers: convForwardNaive rejects invalid geometry / filter with another channel count",
      "conv_layers: convForwardNaive rejects invalid geometry / stride does not divide",
    ]);
  });

  it("the untouched stubs score 0 on every test and say what is not implemented", async () => {
    const stubs = editedStudent(solutionsDir, tmpRoot, FILE, [], { transform: (src) => stubTypeScript(src, FILE) });
    const results = await runInProcess(tests, stubs, 10);
    for (const r of results) {
      expect(r.fraction, r.name).toBe(0);
      for (const p of r.parts) expect(p.message ?? "", `${r.name} / ${p.name}`).toMatch(/not implemented|Not implemented/);
    }
  });
});
