import { FONT_ASCENT, FONT_DESCENT, FONT_PX, GLYPHS } from "./font-data.js";

// Captions are drawn from a committed glyph atlas rather than rendered as SVG text: SVG text needs the
// machine's fonts (through fontconfig), and where none is installed every letter becomes an empty box.
// The atlas makes captions look the same on every machine, with or without fonts.

export { FONT_ASCENT, FONT_DESCENT, FONT_PX };

interface Glyph {
  advance: number;
  left: number;
  top: number;
  width: number;
  height: number;
  alpha: Uint8Array;
}

const decoded = new Map<string, Glyph>();

function glyph(ch: string): Glyph {
  let g = decoded.get(ch);
  if (!g) {
    const e = GLYPHS[ch] ?? GLYPHS["?"];
    g = { advance: e[0], left: e[1], top: e[2], width: e[3], height: e[4], alpha: Buffer.from(e[5], "base64") };
    decoded.set(ch, g);
  }
  return g;
}

/** Width in pixels of a line of caption text (characters missing from the atlas count as "?"). */
export function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += glyph(ch).advance;
  return w;
}

/** Cuts text to at most maxWidth pixels, ending in "…" when it had to cut. */
export function fitText(text: string, maxWidth: number): string {
  if (textWidth(text) <= maxWidth) return text;
  const chars = [...text];
  while (chars.length > 0 && textWidth(chars.join("") + "…") > maxWidth) chars.pop();
  return chars.length > 0 ? chars.join("") + "…" : "";
}

/**
 * Draws one line of text into interleaved 8-bit pixels (1 or 3 channels), blending by glyph coverage.
 * (x, baseline) is where the text starts; align "center" or "right" puts x at its middle or end.
 * Pixels outside the canvas are skipped.
 */
export function drawText(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  text: string,
  x: number,
  baseline: number,
  opts: { color?: [number, number, number]; align?: "left" | "center" | "right" } = {},
): void {
  const color = opts.color ?? [34, 34, 34];
  const ink = channels === 1 ? [Math.round(0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2])] : color;
  const align = opts.align ?? "left";
  let pen = align === "left" ? x : x - textWidth(text) / (align === "center" ? 2 : 1);
  for (const ch of text) {
    const g = glyph(ch);
    const gx = Math.round(pen) + g.left;
    const gy = Math.round(baseline) + g.top;
    for (let yy = 0; yy < g.height; yy++) {
      const py = gy + yy;
      if (py < 0 || py >= height) continue;
      for (let xx = 0; xx < g.width; xx++) {
        const px = gx + xx;
        const a = g.alpha[yy * g.width + xx];
        if (px < 0 || px >= width || a === 0) continue;
        const base = (py * width + px) * channels;
        for (let c = 0; c < channels; c++) {
          pixels[base + c] = Math.round((pixels[base + c] * (255 - a) + ink[c] * a) / 255);
        }
      }
    }
    pen += g.advance;
  }
}
