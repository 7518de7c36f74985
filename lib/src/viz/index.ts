export * from "./display.js";
export * from "./png.js";
export * from "./images.js";
export * from "./plot.js";
