// Block partitions of a row's dimensions (square blocks of an image), and the sums of rows over blocks:
// the coarse images whose distances bound the true distance from below (knn.ts describes the method).

/**
 * Block partitions of the dimensions, coarsest first: for an image (C, H, W) or (H, W) flattened row-major,
 * square blocks of edge ceil(max(H, W) / 2^l), l >= 2, within each channel (7, 4 and 2 for 28x28); for plain
 * vectors, contiguous runs of length ceil(d / 4^l). Levels stop before blocks shrink to single dimensions.
 */
export function blockGroups(d: number, imageShape?: ReadonlyArray<number>): Int32Array[] {
  let c = 1;
  let h = 1;
  let w = d;
  if (imageShape && imageShape.length >= 2) {
    h = imageShape[imageShape.length - 2];
    w = imageShape[imageShape.length - 1];
    c = d / (h * w);
  } else if (!imageShape) {
    const s = Math.round(Math.sqrt(d));
    if (s * s === d && s >= 4) {
      h = s;
      w = s;
    }
  }
  const groups: Int32Array[] = [];
  if (!Number.isInteger(c) || c < 1) return groups;
  const twoD = h > 1;
  // The 2x2-block level of an image prunes too little to pay for itself (measured on Fashion-MNIST).
  for (let l = twoD ? 2 : 1; l < 16; l++) {
    const edge = twoD ? Math.ceil(Math.max(h, w) / 2 ** l) : Math.ceil(w / 4 ** l);
    if (edge < 2) break;
    const bh = twoD ? edge : 1;
    const bw = edge;
    const nbh = Math.ceil(h / bh);
    const nbw = Math.ceil(w / bw);
    const g = new Int32Array(d);
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          g[ch * h * w + y * w + x] = ch * nbh * nbw + Math.floor(y / bh) * nbw + Math.floor(x / bw);
        }
      }
    }
    groups.push(g);
  }
  return groups;
}

/** Runs of consecutive dimensions in the same block: [start, length, block] triples. */
export function runsOf(group: Int32Array): Int32Array {
  const out: number[] = [];
  for (let p = 0; p < group.length; ) {
    let e = p + 1;
    while (e < group.length && group[e] === group[p]) e++;
    out.push(p, e - p, group[p]);
    p = e;
  }
  return Int32Array.from(out);
}

/**
 * Sums of each row over each block: x (n, d) -> (n, blocks), rows taken in `order` when given. Summing runs
 * of neighbouring dimensions in a register is several times faster than adding pixel by pixel into the blocks.
 */
export function blockSums(
  x: Float64Array,
  n: number,
  d: number,
  runs: Int32Array,
  blocks: number,
  order: Int32Array | null,
  out: Float64Array,
): void {
  const nr = runs.length;
  for (let r = 0; r < n; r++) {
    const src = (order ? order[r] : r) * d;
    const dst = r * blocks;
    for (let t = 0; t < nr; t += 3) {
      let s = 0;
      const a = src + runs[t];
      const e = a + runs[t + 1];
      for (let p = a; p < e; p++) s += x[p];
      out[dst + runs[t + 2]] += s;
    }
  }
}



/** For each block of the fine partition, the block of the coarse one that contains it; null if some fine block straddles two. */
export function nestedIn(fine: Int32Array, coarse: Int32Array, fineBlocks: number): Int32Array | null {
  const parent = new Int32Array(fineBlocks).fill(-1);
  for (let p = 0; p < fine.length; p++) {
    if (parent[fine[p]] === -1) parent[fine[p]] = coarse[p];
    else if (parent[fine[p]] !== coarse[p]) return null;
  }
  return parent;
}
