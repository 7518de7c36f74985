export * from "./errors.js";
export * from "./random.js";
export * from "./tensor.js";
export * from "./gemm.js";
export * from "./env.js";
export * from "./gradcheck.js";
export * from "./data/index.js";
export * from "./linear.js";
