import { samplePerClass } from "../data/preprocess.js";
import { checkLabels, checkTensor, takeRows, type Labels, type Tensor } from "../tensor.js";
import { displayPng } from "./display.js";
import { imageGridPngSync, type ImageGridOptions } from "./png.js";

/** Shows images as one PNG grid in the notebook. images: (N, C, H, W), C in {1, 3}, or (N, H, W) */
export function showImages(images: Tensor, opts: ImageGridOptions = {}): void {
  displayPng(imageGridPngSync(images, opts));
}

/**
 * Shows `perClass` random examples (seeded) of every class, one row per class captioned with its name.
 * x: (N, C, H, W), y: (N)
 */
export function showClassGrid(x: Tensor, y: Labels, classNames: string[], perClass = 8, seed = 0, opts: ImageGridOptions = {}): void {
  checkTensor("showClassGrid", "x", x);
  checkLabels("showClassGrid", "y", y, x.shape[0], classNames.length);
  const picks = samplePerClass(y, classNames.length, perClass, seed);
  showImages(takeRows(x, picks), { columns: perClass, rowLabels: classNames, ...opts });
}
