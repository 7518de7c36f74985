import { displayHtml, displayPng, inNotebook } from "./display.js";
import { showFigure, type Figure } from "./plot.js";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isFigure(x: unknown): x is Figure {
  return typeof x === "object" && x !== null && Array.isArray((x as Figure).data) && typeof (x as Figure).layout === "object";
}

/**
 * Shows a PNG (the bytes from imageGridPng, classGridPng or tensorToPng), a plotly Figure or an HTML
 * string in the notebook, and returns whether it was shown: outside a tslab kernel (scripts, tests, the
 * grader) it checks its argument and does nothing else.
 */
export function show(x: Uint8Array | Figure | string): boolean {
  if (x instanceof Uint8Array) {
    if (x.length < 8 || PNG_SIGNATURE.some((b, i) => x[i] !== b)) {
      throw new TypeError(`show: bytes must be a PNG (from imageGridPng, classGridPng or tensorToPng), got ${x.length} bytes without the PNG signature`);
    }
    displayPng(x);
  } else if (isFigure(x)) {
    showFigure(x);
  } else if (typeof x === "string") {
    displayHtml(x);
  } else {
    const what = x === null ? "null" : typeof x === "object" ? ((x as object).constructor?.name ?? "object") : typeof x;
    throw new TypeError(`show: expected PNG bytes, a plotly Figure ({ data, layout }) or an HTML string, got ${what}`);
  }
  return inNotebook();
}
