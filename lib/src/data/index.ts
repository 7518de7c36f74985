export * from "./types.js";
export * from "./errors.js";
export { idxRead, idxEncode, sha256Hex, type IdxArray, type IdxData, type IdxReadOptions } from "./idx.js";
export * from "./fashion-mnist.js";
export * from "./cifar10.js";
export * from "./dataset.js";
export * from "./preprocess.js";
