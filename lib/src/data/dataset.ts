import { quickMode } from "../env.js";
import { loadCifar10 } from "./cifar10.js";
import { loadFashionMnist } from "./fashion-mnist.js";
import type { ImageDataset } from "./types.js";

export interface LoadDatasetOptions {
  /** The dataset wanted; CIFAR-10 is used only when CIFAR10_DIR is set (and then must be readable). */
  prefer?: "fashion-mnist" | "cifar-10";
  maxTrain?: number;
  maxTest?: number;
  /** true: the embedded Fashion-MNIST subset; false: never the subset; unset: as loadFashionMnist decides. */
  embedded?: boolean;
}

/**
 * Loads the curriculum's dataset: Fashion-MNIST by default (full when installed, else the embedded subset);
 * CIFAR-10 when preferred and CIFAR10_DIR is set. Quick mode (SEMANTIC_GAP_QUICK=1) reads the embedded
 * Fashion-MNIST subset unless embedded is false.
 * xTrain: (N, C, H, W), yTrain: (N), xTest: (M, C, H, W), yTest: (M)
 */
export function loadDataset(opts: LoadDatasetOptions = {}): ImageDataset {
  const { prefer = "fashion-mnist", maxTrain, maxTest, embedded } = opts;
  if (prefer !== "fashion-mnist" && prefer !== "cifar-10") {
    throw new RangeError(`loadDataset: prefer must be "fashion-mnist" or "cifar-10", got ${JSON.stringify(prefer)}`);
  }
  const cifarDir = process.env.CIFAR10_DIR;
  const wantsEmbedded = embedded === true || (embedded === undefined && quickMode());
  if (prefer === "cifar-10" && !wantsEmbedded && cifarDir !== undefined && cifarDir !== "") {
    return loadCifar10({ maxTrain, maxTest });
  }
  return loadFashionMnist({ maxTrain, maxTest, embedded });
}

/** A one-line description, e.g. "fashion-mnist (embedded subset): 5000 train, 1000 test, 1x28x28, 10 classes". */
export function describeDataset(ds: ImageDataset): string {
  const [, c, h, w] = ds.xTrain.shape;
  const src = ds.source === "embedded" ? "embedded subset" : "full";
  return (
    `${ds.name} (${src}): ${ds.xTrain.shape[0]} train, ${ds.xTest.shape[0]} test, ${c}x${h}x${w}, ` +
    `${ds.classNames.length} classes`
  );
}
