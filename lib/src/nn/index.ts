export * from "./layers.js";
export * from "./losses.js";
export * from "./dropout.js";
export * from "./batchnorm.js";
export * from "./optim.js";
export * from "./solver.js";
export * from "./solver-plots.js";
