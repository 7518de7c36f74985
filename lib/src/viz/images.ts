import type { Labels, Tensor } from "../tensor.js";
import { displayPng } from "./display.js";
import { classGridImages, imageGridPngSync, type ImageGridOptions } from "./png.js";

/** Shows images as one PNG grid in the notebook. images: (N, C, H, W), C in {1, 3}, or (N, H, W) */
export function showImages(images: Tensor, opts: ImageGridOptions = {}): void {
  displayPng(imageGridPngSync(images, opts));
}

/**
 * Shows `perClass` random examples (seeded) of every class, one row per class captioned with its name.
 * x: (N, C, H, W), y: (N)
 */
export function showClassGrid(x: Tensor, y: Labels, classNames: string[], perClass = 8, seed = 0, opts: ImageGridOptions = {}): void {
  const grid = classGridImages("showClassGrid", x, y, classNames, perClass, seed);
  showImages(grid.images, { ...grid.opts, ...opts });
}
