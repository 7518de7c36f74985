/**
 * Prints how long the dataset loaders take on this machine (full Fashion-MNIST when installed, the embedded
 * subset, and CIFAR-10 when CIFAR10_DIR is set).
 *
 *   npx tsx data/time-load.ts
 */
import { performance } from "node:perf_hooks";
import { describeDataset, loadCifar10, loadFashionMnist, type ImageDataset } from "../lib/src/data/index.js";

function timed(label: string, load: () => ImageDataset): void {
  const t0 = performance.now();
  try {
    const ds = load();
    const ms = performance.now() - t0;
    console.log(`${label}: ${(ms / 1000).toFixed(2)} s  ${describeDataset(ds)}`);
  } catch (e) {
    console.log(`${label}: skipped (${(e as Error).message.split(";")[0]})`);
  }
}

timed("Fashion-MNIST, full", () => loadFashionMnist({ embedded: false }));
timed("Fashion-MNIST, full, first 5000/500", () => loadFashionMnist({ embedded: false, maxTrain: 5000, maxTest: 500 }));
timed("Fashion-MNIST, embedded subset", () => loadFashionMnist({ embedded: true }));
if (process.env.CIFAR10_DIR) timed("CIFAR-10", () => loadCifar10());
