export * from "./display.js";
export {
  classGridPng,
  composeImageGrid,
  imageGridPng,
  imageGridPngSync,
  tensorToPng,
  type ImageGridOptions,
  type Normalize,
} from "./png.js";
export * from "./images.js";
export * from "./plot.js";
export * from "./show.js";
export * from "./graph.js";
