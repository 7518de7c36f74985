import { fromNested, reshape, type Tensor } from "@semantic-gap/lib";
import { compareTensor, expectThat } from "../src/compare.js";
import type { HiddenTest, TestPart } from "../src/types.js";

// Public checks for conv_layers.ts, worked by hand: the lecture's 3x3 filter over a 3x3 image of ones, a
// 2x2 filter that tells cross-correlation from a flipped filter, and pooling on the lecture's 6x6 example.
// Worth no points: the hidden tests, on random geometries, carry the grade.

const F = "conv_layers.ts";
const image = (rows: number[][]): Tensor => reshape(fromNested(rows), [1, 1, rows.length, rows[0].length]);
const lectureFilter = [
  [5.4, 0.1, 3.6],
  [1.8, 2.3, 4.5],
  [1.1, 3.4, 7.2],
];
const lectureGrid = [
  [4, 7, 6, 9, 3, 11],
  [8, 3, 21, 4, 0, 0],
  [1, 2, 1, 3, 5, 6],
  [7, 9, 4, 3, 1, 8],
  [5, 2, 1, 5, 5, 0],
  [0, 1, 6, 4, 5, 6],
];
const ones3 = () => image([[1, 1, 1], [1, 1, 1], [1, 1, 1]]);
const HAND = { atol: 1e-9, rtol: 0 };

function outOf(got: unknown): unknown {
  return got !== null && typeof got === "object" ? (got as { out?: unknown }).out : undefined;
}

const convPublic: HiddenTest = {
  name: "conv_layers (public): convForwardNaive on hand-worked cases",
  files: [F],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const parts: TestPart[] = [];
    const w = image(lectureFilter);
    const b = fromNested([0]);
    // Same padding: the centre sees the whole filter (sum 29.4), a corner only the filter's opposite 2x2
    // corner (top-left: 2.3 + 4.5 + 3.4 + 7.2 = 17.4), an edge six of its entries.
    const same = await student.call(F, "convForwardNaive", ones3(), w, b, { stride: 1, pad: 1 });
    parts.push(compareTensor("pad 1, stride 1", outOf(same), image([[17.4, 20.3, 8.6], [21.1, 29.4, 14.1], [10.5, 17.7, 9.6]]), HAND));
    // Stride 2 keeps the four corners of the same-padded output.
    const strided = await student.call(F, "convForwardNaive", ones3(), w, b, { stride: 2, pad: 1 });
    parts.push(compareTensor("pad 1, stride 2", outOf(strided), image([[17.4, 8.6], [10.5, 9.6]]), HAND));
    // w = [[1, 0], [0, −1]], bias 0.5: out[i][j] = x[i][j] − x[i+1][j+1] + 0.5 = −3.5 everywhere on 1..9.
    // A flipped filter would give +4.5.
    const diag = await student.call(F, "convForwardNaive", image([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), image([[1, 0], [0, -1]]), fromNested([0.5]), { stride: 1, pad: 0 });
    parts.push(compareTensor("not flipped (cross-correlation)", outOf(diag), image([[-3.5, -3.5], [-3.5, -3.5]]), HAND));
    return parts;
  },
};

const poolPublic: HiddenTest = {
  name: "conv_layers (public): pooling on the lecture's 6x6 example",
  files: [F],
  maxScore: 0,
  visibility: "visible",
  async run(student) {
    const x = image(lectureGrid);
    const p = { poolHeight: 2, poolWidth: 2, stride: 2 };
    const mx = await student.call(F, "maxPoolForwardNaive", x, p);
    const av = await student.call(F, "avgPoolForwardNaive", x, p);
    const gl = await student.call(F, "globalAvgPoolForward", x);
    const glOut = outOf(gl) as Tensor | undefined;
    return [
      compareTensor("max pool 2x2", outOf(mx), image([[8, 21, 11], [9, 4, 8], [5, 6, 6]]), HAND),
      compareTensor("average pool 2x2 (top-left 5.5)", outOf(av), image([[5.5, 10, 3.5], [4.75, 2.75, 5], [2, 4, 4]]), HAND),
      expectThat("global average pool (166 / 36)", glOut !== undefined && compareTensor("g", glOut, fromNested([[166 / 36]]), HAND).passed, "globalAvgPoolForward should give a (1, 1) out holding 166/36"),
    ];
  },
};

export const tests: HiddenTest[] = [convPublic, poolPublic];
