import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { displayHtml, inNotebook, newDisplaySlot, type TslabDisplay } from "./display.js";

const require = createRequire(import.meta.url);

/** A plotly figure: traces, layout and config, exactly as plotly.js takes them. */
export interface Figure {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** Titles, axis types and size shared by the plot helpers. */
export interface PlotLayout {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  xType?: "linear" | "log" | "category";
  yType?: "linear" | "log" | "category";
  xRange?: [number, number];
  yRange?: [number, number];
  width?: number;
  height?: number;
  showLegend?: boolean;
  /** Image orientation: row 0 at the top and square cells (for pixel matrices). */
  imageAxes?: boolean;
  /** Tick positions on the x axis, labelled with their values (e.g. the k values of a search). */
  xTicks?: number[];
}

/** The ten colours of plotly's default palette, used for classes in order. */
export const CLASS_COLORS = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];

type Numbers = ArrayLike<number>;
const arr = (v: Numbers): number[] => Array.from(v);

function baseLayout(l: PlotLayout): Record<string, unknown> {
  const axis = (title?: string, type?: string, range?: [number, number]): Record<string, unknown> => ({
    ...(title ? { title: { text: title } } : {}),
    ...(type ? { type } : {}),
    // Log axes: labels at the decades only, written as powers of ten (10⁻¹⁵, not plotly's SI "1f").
    ...(type === "log" ? { exponentformat: "power", minorloglabels: "none" } : {}),
    ...(range ? { range: type === "log" ? range.map(Math.log10) : range } : {}),
    automargin: true,
  });
  const image = l.imageAxes ? { y: { autorange: "reversed", scaleanchor: "x" }, x: { constrain: "domain" } } : { x: {}, y: {} };
  return {
    // Left-aligned, so that plotly's toolbar (top right) does not cover a long title.
    ...(l.title ? { title: { text: l.title, x: 0, xref: "paper", xanchor: "left" } } : {}),
    xaxis: { ...axis(l.xTitle, l.xType, l.xRange), ...image.x, ...(l.xTicks ? { tickvals: l.xTicks, ticktext: l.xTicks.map(String) } : {}) },
    yaxis: { ...axis(l.yTitle, l.yType, l.yRange), ...image.y },
    height: l.height ?? 420,
    ...(l.width ? { width: l.width } : {}),
    ...(l.showLegend !== undefined ? { showlegend: l.showLegend } : {}),
    margin: { t: l.title ? 50 : 20, r: 20, b: 50, l: 60 },
    template: { layout: { font: { family: "DejaVu Sans, Arial, sans-serif" } } },
  };
}

/** Lines through (x, y) points, one trace per series. */
export function linePlot(series: Array<{ x: Numbers; y: Numbers; name?: string; mode?: string; dash?: string }>, layout: PlotLayout = {}): Figure {
  return {
    data: series.map((s) => ({
      type: "scatter",
      mode: s.mode ?? "lines",
      x: arr(s.x),
      y: arr(s.y),
      ...(s.name ? { name: s.name } : {}),
      ...(s.dash ? { line: { dash: s.dash } } : {}),
    })),
    layout: baseLayout(layout),
  };
}

/** Points, one trace per series (e.g. one per class). */
export function scatterPlot(
  series: Array<{ x: Numbers; y: Numbers; name?: string; text?: string[]; color?: string; size?: number; symbol?: string }>,
  layout: PlotLayout = {},
): Figure {
  return {
    data: series.map((s) => ({
      type: "scatter",
      mode: "markers",
      x: arr(s.x),
      y: arr(s.y),
      ...(s.name ? { name: s.name } : {}),
      ...(s.text ? { text: s.text } : {}),
      marker: { size: s.size ?? 7, ...(s.color ? { color: s.color } : {}), ...(s.symbol ? { symbol: s.symbol } : {}) },
    })),
    layout: baseLayout(layout),
  };
}

/** Means with symmetric error bars (e.g. mean ± standard deviation over folds), joined by lines. */
export function errorBarPlot(series: Array<{ x: Numbers; y: Numbers; error: Numbers; name?: string }>, layout: PlotLayout = {}): Figure {
  return {
    data: series.map((s) => ({
      type: "scatter",
      mode: "lines+markers",
      x: arr(s.x),
      y: arr(s.y),
      error_y: { type: "data", array: arr(s.error), visible: true },
      ...(s.name ? { name: s.name } : {}),
    })),
    layout: baseLayout(layout),
  };
}

/** Bars, one trace per series. */
export function barChart(series: Array<{ x: Array<string | number>; y: Numbers; name?: string }>, layout: PlotLayout = {}): Figure {
  return {
    data: series.map((s) => ({ type: "bar", x: s.x, y: arr(s.y), ...(s.name ? { name: s.name } : {}) })),
    layout: baseLayout(layout),
  };
}

/** A heatmap of z[row][col] over y (rows) and x (columns); `text` writes each value in its cell. */
export function heatmap(
  grid: { x: Array<string | number>; y: Array<string | number>; z: Numbers[] },
  layout: PlotLayout & { text?: boolean; colorscale?: string | Array<[number, string]>; zmin?: number; zmax?: number; digits?: number } = {},
): Figure {
  const z = grid.z.map(arr);
  const digits = layout.digits ?? 3;
  return {
    data: [
      {
        type: "heatmap",
        x: grid.x,
        y: grid.y,
        z,
        colorscale: layout.colorscale ?? "Viridis",
        ...(layout.zmin !== undefined ? { zmin: layout.zmin } : {}),
        ...(layout.zmax !== undefined ? { zmax: layout.zmax } : {}),
        ...(layout.text ? { text: z.map((row) => row.map((v) => v.toFixed(digits))), texttemplate: "%{text}" } : {}),
      },
    ],
    layout: baseLayout(layout),
  };
}

/** Histograms of values, overlaid, one trace per series. */
export function histogram(series: Array<{ values: Numbers; name?: string }>, layout: PlotLayout & { nbins?: number } = {}): Figure {
  return {
    data: series.map((s) => ({
      type: "histogram",
      x: arr(s.values),
      opacity: series.length > 1 ? 0.6 : 1,
      ...(layout.nbins ? { nbinsx: layout.nbins } : {}),
      ...(s.name ? { name: s.name } : {}),
    })),
    layout: { ...baseLayout(layout), barmode: "overlay" },
  };
}

/**
 * Decision regions of a classifier over a 2-D grid (z[row][col] = predicted class at (x[col], y[row])),
 * the data points of each class on top, and optional lines (e.g. where a class score is zero).
 */
export function decisionRegions(
  grid: { x: Numbers; y: Numbers; z: Numbers[]; classNames: string[] },
  points: Array<{ x: Numbers; y: Numbers; name?: string }> = [],
  lines: Array<{ x: Numbers; y: Numbers; name?: string }> = [],
  layout: PlotLayout & { range?: number } = {},
): Figure {
  const k = grid.classNames.length;
  // A stepped colour scale: class c gets a pale version of its colour over [c/k, (c+1)/k).
  const colorscale: Array<[number, string]> = [];
  for (let c = 0; c < k; c++) {
    const col = paler(CLASS_COLORS[c % CLASS_COLORS.length]);
    colorscale.push([c / k, col], [(c + 1) / k, col]);
  }
  const range = layout.range;
  return {
    data: [
      {
        type: "heatmap",
        x: arr(grid.x),
        y: arr(grid.y),
        z: grid.z.map(arr),
        zmin: -0.5,
        zmax: k - 0.5,
        colorscale,
        showscale: false,
        hoverinfo: "skip",
      },
      ...points.map((p, c) => ({
        type: "scatter",
        mode: "markers",
        x: arr(p.x),
        y: arr(p.y),
        name: p.name ?? grid.classNames[c],
        marker: { color: CLASS_COLORS[c % CLASS_COLORS.length], size: 6, line: { color: "white", width: 0.5 } },
      })),
      ...lines.map((l, c) => ({
        type: "scatter",
        mode: "lines",
        x: arr(l.x),
        y: arr(l.y),
        name: l.name,
        line: { color: CLASS_COLORS[c % CLASS_COLORS.length], dash: "dash" },
      })),
    ],
    layout: {
      ...baseLayout({ ...layout, ...(range ? { xRange: [-range, range], yRange: [-range, range] } : {}) }),
      ...(layout.width ? {} : { width: 560 }),
      height: layout.height ?? 520,
    },
  };
}

/**
 * Several figures as one grid of subplots, row by row: each figure's traces move to its own axes, its title
 * becomes the subplot's title, and a legend entry shared by several subplots (same trace name) appears once,
 * with the same colour everywhere. xTitle and yTitle, when given, replace the figures' own axis titles by one
 * shared title on the outer edges of the grid.
 */
export function figureGrid(
  figs: Figure[],
  opts: { rows: number; cols: number; title?: string; width?: number; height?: number; xTitle?: string; yTitle?: string },
): Figure {
  const { rows, cols } = opts;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || figs.length > rows * cols) {
    throw new RangeError(`figureGrid: ${figs.length} figures do not fit a grid of ${rows} x ${cols}`);
  }
  const data: Array<Record<string, unknown>> = [];
  const layout: Record<string, unknown> = {
    ...baseLayout({ title: opts.title, height: opts.height ?? 300 * rows, width: opts.width }),
    grid: { rows, columns: cols, pattern: "independent", xgap: opts.yTitle ? 0.08 : 0.15, ygap: 0.2 },
  };
  const annotations: Array<Record<string, unknown>> = [];
  const colorOf = new Map<string, string>();
  figs.forEach((fig, i) => {
    const n = i === 0 ? "" : String(i + 1);
    for (const t of fig.data) {
      const name = typeof t.name === "string" ? t.name : undefined;
      const first = name === undefined || !colorOf.has(name);
      const trace: Record<string, unknown> = { ...t, xaxis: `x${n}`, yaxis: `y${n}` };
      if (name) {
        const marker = (t.marker ?? {}) as Record<string, unknown>;
        const line = (t.line ?? {}) as Record<string, unknown>;
        const own = (marker.color ?? line.color) as string | undefined;
        if (first) colorOf.set(name, own ?? CLASS_COLORS[colorOf.size % CLASS_COLORS.length]);
        const color = colorOf.get(name);
        if (t.type === "scatter" && own === undefined) Object.assign(trace, { marker: { ...marker, color }, line: { ...line, color } });
        Object.assign(trace, { legendgroup: name, showlegend: first });
      }
      data.push(trace);
    }
    const row = Math.floor(i / cols);
    const col = i % cols;
    const fx = (fig.layout.xaxis ?? {}) as Record<string, unknown>;
    const fy = (fig.layout.yaxis ?? {}) as Record<string, unknown>;
    // Axis titles on the outer edge only: x along the bottom row, y down the left column.
    const bottom = row === rows - 1 || i + cols >= figs.length;
    const xTitle = opts.xTitle ? (bottom ? { title: { text: opts.xTitle } } : { title: undefined }) : {};
    const yTitle = opts.yTitle ? (col === 0 ? { title: { text: opts.yTitle } } : { title: undefined }) : {};
    layout[`xaxis${n}`] = { ...fx, ...xTitle, automargin: true };
    // A square-cell y axis (imageAxes) anchors its scale to its own subplot's x axis.
    layout[`yaxis${n}`] = { ...fy, ...(fy.scaleanchor ? { scaleanchor: `x${n}` } : {}), ...yTitle, automargin: true };
    const title = (fig.layout.title as { text?: string } | undefined)?.text;
    if (title) {
      annotations.push({
        text: title,
        showarrow: false,
        xref: `x${n} domain`,
        yref: `y${n} domain`,
        x: 0.5,
        y: 1.02,
        xanchor: "center",
        yanchor: "bottom",
        font: { size: 13 },
      });
    }
  });
  layout.annotations = annotations;
  layout.margin = { t: opts.title ? 70 : 40, r: 20, b: 50, l: 60 };
  return { data, layout };
}

function paler(hex: string): string {
  const v = parseInt(hex.slice(1), 16);
  const mix = (c: number): number => Math.round(c + (255 - c) * 0.7);
  return `rgb(${mix((v >> 16) & 255)}, ${mix((v >> 8) & 255)}, ${mix(v & 255)})`;
}

// ---------------------------------------------------------------- HTML and display
//
// How figures reach the page. Every figure is one text/html output: a div and a small script that draws
// into it with window.Plotly. The plotly.js bundle (read from node_modules, no network) is inlined once
// per kernel session, by the first figure shown (or by initPlotly()), so a notebook run from the top
// holds it once, above every figure that needs it. This works in the classic Notebook (require.js is
// hidden from the bundle, which would otherwise register an AMD module instead of window.Plotly), in
// JupyterLab (which runs the scripts of trusted HTML outputs) and in HTML exported by nbconvert, offline.
// Jupyter runs output scripts only in trusted notebooks: outputs you produced yourself, or a notebook
// you ran `jupyter trust` on. Re-running, in a later session of the same kernel, only the cell that
// carried the bundle leaves the saved notebook without it; the figures then say so and name the fix.

let bundleSent = false;

/**
 * A <script> that defines window.Plotly from the plotly.js bundle in node_modules (no network). The
 * bundle runs with define, module and exports hidden, so that a page with a module loader (the classic
 * Notebook has require.js) cannot capture it as a module instead of the global.
 */
export function plotlyBundleHtml(): string {
  const file = require.resolve("plotly.js-dist-min/plotly.min.js");
  const js = readFileSync(file, "utf8").replace(/<\/script/gi, "<\\/script");
  return `<script type="text/javascript">(function (define, module, exports) {\n${js}\n})();</script>`;
}

const MISSING_BUNDLE =
  "This plot needs plotly.js, which the page has not loaded: run sg.initPlotly(true) in a cell above, " +
  "or restart the kernel and run all cells.";

/**
 * The HTML of one figure: a div and a script that draws it with window.Plotly (waiting for the bundle
 * if it is still loading). With includeBundle, the plotly.js bundle comes first.
 */
export function figureHtml(fig: Figure, opts: { includeBundle?: boolean; id?: string } = {}): string {
  const id = opts.id ?? `sg-plot-${randomBytes(6).toString("hex")}`;
  const json = JSON.stringify({ data: fig.data, layout: fig.layout, config: { responsive: true, displaylogo: false, ...fig.config } })
    .replace(/<\//g, "<\\/");
  const height = typeof fig.layout.height === "number" ? fig.layout.height : 420;
  const width = typeof fig.layout.width === "number" ? `${fig.layout.width}px` : "100%";
  const draw =
    `<div id="${id}" class="sg-plot" style="width:${width};max-width:960px;height:${height}px;"></div>\n` +
    `<script type="text/javascript">(function () {\n` +
    `  var fig = ${json};\n` +
    `  var tries = 0;\n` +
    `  function draw() {\n` +
    `    var el = document.getElementById(${JSON.stringify(id)});\n` +
    `    if (window.Plotly && el) window.Plotly.newPlot(el, fig.data, fig.layout, fig.config);\n` +
    `    else if (++tries < 400) setTimeout(draw, 50);\n` +
    `    else if (el) el.textContent = ${JSON.stringify(MISSING_BUNDLE)};\n` +
    `  }\n` +
    `  draw();\n` +
    `})();</script>`;
  return (opts.includeBundle ? plotlyBundleHtml() + "\n" : "") + draw;
}

/**
 * Loads plotly.js into the notebook page as an output of its own, once per kernel session. Figures do
 * this themselves (the session's first figure carries the bundle), so a notebook needs it only to put
 * the bundle in a cell of its choice, or with force to load it again (e.g. after clearing all outputs,
 * which removes the output that held it). Nothing happens outside a kernel.
 */
export function initPlotly(force = false): void {
  if (!inNotebook() || (bundleSent && !force)) return;
  displayHtml(plotlyBundleHtml());
  bundleSent = true;
}

function takeBundle(): boolean {
  if (!inNotebook()) return false;
  const first = !bundleSent;
  bundleSent = true;
  return first;
}

/** Shows a figure in the notebook; the first figure of a kernel session carries the plotly.js bundle. */
export function showFigure(fig: Figure): void {
  displayHtml(figureHtml(fig, { includeBundle: takeBundle() }));
}

export const showLinePlot = (...a: Parameters<typeof linePlot>): void => showFigure(linePlot(...a));
export const showScatter = (...a: Parameters<typeof scatterPlot>): void => showFigure(scatterPlot(...a));
export const showErrorBars = (...a: Parameters<typeof errorBarPlot>): void => showFigure(errorBarPlot(...a));
export const showBarChart = (...a: Parameters<typeof barChart>): void => showFigure(barChart(...a));
export const showHeatmap = (...a: Parameters<typeof heatmap>): void => showFigure(heatmap(...a));
export const showHistogram = (...a: Parameters<typeof histogram>): void => showFigure(histogram(...a));
export const showDecisionRegions = (...a: Parameters<typeof decisionRegions>): void => showFigure(decisionRegions(...a));
export const showFigureGrid = (...a: Parameters<typeof figureGrid>): void => showFigure(figureGrid(...a));

/**
 * A line plot that redraws in place as points arrive (loss curves while training runs). Each redraw
 * replaces the plot's one output (update_display_data), so an executed notebook keeps the final figure.
 * Redraws are rate-limited (intervalMs); they reach the notebook while a synchronous training loop is
 * still running. Call render() when training is done, so the final figure holds every point.
 */
export interface LivePlot {
  /** Appends points to a series and redraws, at most once per intervalMs (a pending redraw follows). */
  extend(series: string, xs: Numbers, ys: Numbers): void;
  /** Redraws now with every point so far (call it once training is done). */
  render(): void;
  /** The figure as it stands. */
  figure(): Figure;
}

/** Starts a live line plot with the named series, empty; intervalMs (default 250) limits the redraw rate. */
export function liveLinePlot(opts: PlotLayout & { series: string[]; intervalMs?: number }): LivePlot {
  const data = new Map<string, { x: number[]; y: number[] }>(opts.series.map((s) => [s, { x: [], y: [] }]));
  const interval = opts.intervalMs ?? 250;
  // The bundle goes out as an output of its own before the plot's slot: the slot's output is replaced on
  // every redraw, and a bundle inside it would travel (megabytes) with each one.
  if (inNotebook()) initPlotly();
  const slot: TslabDisplay | null = newDisplaySlot();
  const id = `sg-live-${randomBytes(6).toString("hex")}`;
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const figure = (): Figure => linePlot(opts.series.map((name) => ({ name, ...data.get(name)! })), opts);
  const render = (): void => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    last = Date.now();
    if (!slot) return;
    slot.html(figureHtml(figure(), { id }));
  };
  const live: LivePlot = {
    extend(series, xs, ys) {
      const s = data.get(series);
      if (!s) throw new RangeError(`liveLinePlot.extend: unknown series "${series}" (have ${opts.series.join(", ")})`);
      if (xs.length !== ys.length) {
        throw new RangeError(`liveLinePlot.extend: xs has ${xs.length} values but ys has ${ys.length}`);
      }
      for (let i = 0; i < xs.length; i++) {
        s.x.push(xs[i]);
        s.y.push(ys[i]);
      }
      const wait = interval - (Date.now() - last);
      if (wait <= 0) render();
      else if (!timer && slot) timer = setTimeout(render, wait);
    },
    render,
    figure,
  };
  render();
  return live;
}
