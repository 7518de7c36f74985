import type { Tensor } from "../tensor.js";

/** A labelled image dataset as the loaders return it: raw pixels 0..255 as float64, images (N, C, H, W). */
export interface ImageDataset {
  /** Training images, raw pixel values 0..255. xTrain: (N, C, H, W) */
  xTrain: Tensor;
  /** Training labels in 0..classNames.length-1. yTrain: (N) */
  yTrain: Int32Array;
  /** Test images, raw pixel values 0..255. xTest: (M, C, H, W) */
  xTest: Tensor;
  /** Test labels. yTest: (M) */
  yTest: Int32Array;
  /** Class names, indexed by label. */
  classNames: string[];
  name: "fashion-mnist" | "cifar-10";
  /** Which files were read: the full dataset or the subset embedded in the repository. */
  source: "full" | "embedded";
  /** The directory the files were read from. */
  location: string;
}

/** Options shared by the loaders: take at most the first maxTrain / maxTest examples. */
export interface LimitOptions {
  maxTrain?: number;
  maxTest?: number;
}
