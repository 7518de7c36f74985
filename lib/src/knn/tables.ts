// The tables the pruned search reads, built once per search: training rows ordered by total sum, the block
// levels and their sums, for L2 the level whose bounds come from GEMM, and for 8-bit images integer copies.
import { blockSums, nestedIn, runsOf } from "./blocks.js";
import { intBlockSums, toInts, type PixelData } from "./pixels.js";
import type { KnnData, KnnMetric } from "./types.js";

/** One level of coarse images: which block each dimension falls in, and every training row's block sums. */
export interface PruneLevel {
  blocks: number;
  /** (d) the block of each dimension. */
  group: Int32Array;
  /** (blocks) 1 / block size, the L2 bound's weights. */
  weight: Float64Array;
  /** (n, blocks) block sums of the training rows: in the order of `order`, or in training order with GEMM bounds. */
  coarse: Float64Array;
}

/** What the pruned search needs besides the training rows themselves. */
export interface PruneTables {
  /** (n) training indices sorted by total sum. */
  order: Int32Array;
  /** (n) total sums in that order (ascending). */
  sums: Float64Array;
  /** Coarse levels, coarsest first. */
  levels: PruneLevel[];
  /** For L2: the level whose bounds come from GEMM for all candidates at once (see prunedSearchL2). */
  gemm: GemmBound | null;
  /** Integer copies for 8-bit images, or null. */
  pixels: PixelData | null;
}

/**
 * The L2 bound of one level computed with GEMM: block sums scaled by 1/√|block| turn the weighted bound
 * Σ_b (ΔS_b)² / |b| into a plain squared distance between scaled coarse vectors, ‖c_q‖² + ‖c_x‖² − 2 c_q·c_x.
 */
export interface GemmBound {
  /** Index of the level in `levels`; the levels after it are finer and checked one candidate at a time. */
  level: number;
  /** (n, blocks) scaled block sums of the training rows, in training order. */
  scaled: Float64Array;
  /** (n) their squared norms. */
  norms: Float64Array;
}

/** What buildSearchTables builds from. */
export interface TableSpec {
  data: KnnData;
  /** The block partitions (blockGroups), coarsest first. */
  groups: Int32Array[];
  metric: KnnMetric;
  /** Chooses the memory (shared with workers or not). */
  alloc: (bytes: number) => ArrayBufferLike;
}

/**
 * Builds what the pruned search needs for training rows (n, d) and test rows (m, d): the order by total sum,
 * the block levels, for L2 the GEMM level, and for 8-bit images their integer copies.
 */
export function buildSearchTables({ data, groups, metric, alloc }: TableSpec): PruneTables {
  const { train: x, n, test, m, d } = data;
  const withGemm = metric === "l2";
  const total = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    const o = r * d;
    for (let p = 0; p < d; p++) s += x[o + p];
    total[r] = s;
  }
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => total[a] - total[b] || a - b);
  const order = new Int32Array(alloc(4 * n));
  const sums = new Float64Array(alloc(8 * n));
  for (let r = 0; r < n; r++) {
    order[r] = idx[r];
    sums[r] = total[idx[r]];
  }
  // The L2 search visits candidates in training order, the L1 scan in order of total sum.
  const rowOf = withGemm ? null : order;

  const meta = groups.map((group) => {
    let blocks = 0;
    for (let p = 0; p < d; p++) if (group[p] + 1 > blocks) blocks = group[p] + 1;
    const size = new Float64Array(blocks);
    for (let p = 0; p < d; p++) size[group[p]]++;
    const sharedGroup = new Int32Array(alloc(4 * d));
    sharedGroup.set(group);
    const weight = new Float64Array(alloc(8 * blocks));
    for (let j = 0; j < blocks; j++) weight[j] = 1 / size[j];
    return { blocks, group: sharedGroup, weight, maxSize: Math.max(...size), runs: runsOf(group) };
  });

  // 8-bit images: integer rows, and integer block sums for every level whose sums fit the kernels' 16 and 31 bits.
  let pixels: PixelData | null = null;
  {
    const d8 = Math.ceil(d / 8) * 8;
    const tr = new Int16Array(alloc(2 * n * d8));
    const te = new Int16Array(alloc(2 * m * d8));
    let scale = 0;
    for (const sc of [255, 1]) {
      if (toInts(x, n, d, d8, sc, tr) && toInts(test, m, d, d8, sc, te)) {
        scale = sc;
        break;
      }
    }
    if (scale > 0) {
      // Finest level first: a coarser level whose blocks are unions of its blocks is summed from it, not from pixels.
      const intLevels: Array<Int16Array | null> = meta.map(() => null);
      for (let l = meta.length - 1; l >= 0; l--) {
        const lv = meta[l];
        const bb = Math.ceil(lv.blocks / 8) * 8;
        const span = lv.maxSize * 255; // the largest |difference| of two block sums
        const fits = span <= 32767 && (metric === "l2" ? lv.blocks * span * span : lv.blocks * span) < 2 ** 31;
        if (!fits) continue;
        const out = new Int16Array(alloc(2 * n * bb));
        let done = false;
        for (let f = meta.length - 1; f > l && !done; f--) {
          const fine = intLevels[f];
          const parent = fine ? nestedIn(meta[f].group, lv.group, meta[f].blocks) : null;
          if (fine && parent) {
            const fb = Math.ceil(meta[f].blocks / 8) * 8;
            for (let r = 0; r < n; r++) {
              for (let j = 0; j < meta[f].blocks; j++) out[r * bb + parent[j]] += fine[r * fb + j];
            }
            done = true;
          }
        }
        if (!done) intBlockSums(tr, n, d, d8, lv.group, rowOf, bb, out);
        intLevels[l] = out;
      }
      pixels = {
        scale,
        d8,
        train: tr,
        test: te,
        levels: intLevels,
        b8: meta.map((lv) => Math.ceil(lv.blocks / 8) * 8),
        maxSize: meta.map((lv) => lv.maxSize),
      };
    }
  }

  let gemmLevel = -1;
  if (withGemm && meta.length > 0) {
    // GEMM gives the bounds of one level for all candidates, the finer levels are checked one candidate at a
    // time. The level of about d / 16 blocks (4x4 blocks of a 28x28 image) costs a sixteenth of brute force's
    // GEMM and prunes well; measured on Fashion-MNIST, the 7x7 level (1/49 of the GEMM) was slower overall,
    // because four times as many candidates then need the finer checks.
    const target = 16;
    gemmLevel = 0;
    for (let l = 1; l < meta.length; l++) {
      if (Math.abs(Math.log((meta[l].blocks * target) / d)) < Math.abs(Math.log((meta[gemmLevel].blocks * target) / d))) gemmLevel = l;
    }
  }

  // Float block sums where the search needs them: every level without integer sums, and the GEMM level.
  const levels: PruneLevel[] = meta.map((lv, l) => {
    const ints = pixels?.levels[l] ?? null;
    if (ints && l !== gemmLevel) return { blocks: lv.blocks, group: lv.group, weight: lv.weight, coarse: new Float64Array(0) };
    const coarse = new Float64Array(alloc(8 * n * lv.blocks));
    if (ints && pixels) {
      const bb = pixels.b8[l];
      for (let r = 0; r < n; r++) for (let j = 0; j < lv.blocks; j++) coarse[r * lv.blocks + j] = ints[r * bb + j] / pixels.scale;
    } else {
      blockSums(x, n, d, lv.runs, lv.blocks, rowOf, coarse);
    }
    return { blocks: lv.blocks, group: lv.group, weight: lv.weight, coarse };
  });

  let gemm: GemmBound | null = null;
  if (gemmLevel >= 0) {
    const lv = levels[gemmLevel];
    const b = lv.blocks;
    const scaled = new Float64Array(alloc(8 * n * b));
    const norms = new Float64Array(alloc(8 * n));
    const root = lv.weight.map(Math.sqrt);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < b; j++) {
        const v = lv.coarse[i * b + j] * root[j];
        scaled[i * b + j] = v;
        s += v * v;
      }
      norms[i] = s;
    }
    gemm = { level: gemmLevel, scaled, norms };
  }
  return { order, sums, levels, gemm, pixels };
}
