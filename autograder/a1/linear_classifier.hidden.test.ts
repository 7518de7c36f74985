import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { matmul, type Labels, type Tensor } from "@semantic-gap/lib";
import { LinearSVM, Softmax, type TrainOptions } from "../../solutions/a1/linear_classifier.js";
import { inProcessStudent, runInProcess, failedParts, sweepSeeds, patchedStudent } from "../src/in-process.js";
import { tests, libEquivalents } from "./linear_classifier.hidden.js";

const solutions = inProcessStudent(fileURLToPath(new URL("../../solutions/a1", import.meta.url)));
const FILE = "linear_classifier.ts";

/** Re-creates W on every call to train instead of continuing. */
class RestartingSVM extends LinearSVM {
  override train(X: Tensor, y: Labels, opts: TrainOptions = {}): number[] {
    this.W = null;
    return super.train(X, y, opts);
  }
}

/** Breaks ties towards the last class. */
class LastOnTiesSoftmax extends Softmax {
  override predict(X: Tensor): Labels {
    const s = matmul(X, this.W!);
    const [n, c] = s.shape;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (s.get(i, j) >= s.get(i, best)) best = j;
      out[i] = best;
    }
    return out;
  }
}

/** Steps uphill: W += lr·dW. */
class AscendingSVM extends LinearSVM {
  override train(X: Tensor, y: Labels, opts: TrainOptions = {}): number[] {
    return super.train(X, y, { ...opts, learningRate: -(opts.learningRate ?? 1e-3) });
  }
}

describe("linear_classifier hidden tests", () => {
  it("give the reference solution full marks under 200 grading seeds (50 for the slowest tests)", async () => {
    // Every run draws a fresh seed and some parts are thresholds: no seed may cost a correct solution a point.
    expect(await sweepSeeds(tests, solutions, libEquivalents, (name) => (name.includes("learns three blobs") ? 50 : 200))).toEqual([]);
  }, 600_000);

  it("a train that restarts from new weights loses only the continuation part", async () => {
    const results = await runInProcess(tests, patchedStudent(solutions, { [`${FILE}:LinearSVM`]: RestartingSVM }), 4);
    expect(failedParts(results)).toEqual(["linear_classifier: LinearSVM.train takes SGD steps / three steps"]);
  });

  it("a predict that breaks ties towards the last class loses the predict part", async () => {
    const results = await runInProcess(tests, patchedStudent(solutions, { [`${FILE}:Softmax`]: LastOnTiesSoftmax }), 5);
    expect(failedParts(results)).toEqual(["linear_classifier: Softmax learns three blobs and predicts / predict"]);
  });

  it("gradient ascent fails the step, loss and accuracy parts", async () => {
    const results = await runInProcess(tests, patchedStudent(solutions, { [`${FILE}:LinearSVM`]: AscendingSVM }), 6);
    expect(failedParts(results)).toEqual([
      "linear_classifier: LinearSVM.train takes SGD steps / one step",
      "linear_classifier: LinearSVM.train takes SGD steps / three steps",
      "linear_classifier: LinearSVM learns three blobs and predicts / loss decreases",
      "linear_classifier: LinearSVM learns three blobs and predicts / accuracy",
    ]);
  });
});
