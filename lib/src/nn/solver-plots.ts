import { liveLinePlot, type LivePlot } from "../viz/plot.js";
import type { SolverProgress } from "./solver.js";

/** Two live plots fed by Solver's progress callback, and a render() to draw their last points. */
export interface SolverLivePlots {
  loss: LivePlot;
  accuracy: LivePlot;
  /** Pass as Solver's `onProgress`. */
  onProgress: (p: SolverProgress) => void;
  /** Redraws both plots with every point (call it once training is done). */
  render(): void;
}

/**
 * Live curves for a Solver run: the minibatch loss per iteration, and training and validation accuracy per
 * epoch (epoch 0 is the check after the first iteration). `title` prefixes both plot titles.
 */
export function solverLivePlots(opts: { title?: string; intervalMs?: number } = {}): SolverLivePlots {
  const prefix = opts.title ? `${opts.title}: ` : "";
  const loss = liveLinePlot({
    title: `${prefix}training loss`,
    xTitle: "iteration",
    yTitle: "minibatch loss",
    series: ["minibatch loss"],
    intervalMs: opts.intervalMs,
  });
  const accuracy = liveLinePlot({
    title: `${prefix}accuracy`,
    xTitle: "epoch",
    yTitle: "accuracy",
    series: ["train", "validation"],
    intervalMs: opts.intervalMs,
  });
  let lossShown = 0;
  let accShown = 0;
  const onProgress = (p: SolverProgress): void => {
    const xs: number[] = [];
    for (let i = lossShown; i < p.lossHistory.length; i++) xs.push(i + 1);
    if (xs.length > 0) loss.extend("minibatch loss", xs, p.lossHistory.slice(lossShown));
    lossShown = p.lossHistory.length;
    const n = Math.min(p.trainAccHistory.length, p.valAccHistory.length);
    if (n > accShown) {
      const epochs: number[] = [];
      for (let i = accShown; i < n; i++) epochs.push(i);
      accuracy.extend("train", epochs, p.trainAccHistory.slice(accShown, n));
      accuracy.extend("validation", epochs, p.valAccHistory.slice(accShown, n));
      accShown = n;
    }
  };
  return {
    loss,
    accuracy,
    onProgress,
    render() {
      loss.render();
      accuracy.render();
    },
  };
}
