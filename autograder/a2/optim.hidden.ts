import { adam, isTensor, randn, rmsprop, sgd, sgdMomentum, type Rng, type Tensor } from "@semantic-gap/lib";
import { compareNumber, compareTensor, expectThat, unchanged } from "../src/compare.js";
import type { HiddenTest, LibEquivalents, Student, TestPart } from "../src/types.js";
import { REF_TOL, failAll, intBetween, readFields, tryCall } from "./nn_helpers.js";

// Hidden tests for optim.ts: each update rule against the library's (written independently of the
// exercise, and checked against PyTorch's optimizers in lib's tests) on random weights, gradients and
// hyperparameters from the grading run's seed, over three chained steps.

const FILE = "optim.ts";

type Config = Record<string, unknown>;
type LibRule = (w: Tensor, dw: Tensor, config?: never) => { nextW: Tensor; config: Config };

interface RuleSpec {
  name: "sgd" | "sgdMomentum" | "rmsprop" | "adam";
  lib: LibRule;
  /** Random non-default hyperparameters. */
  hyper(rng: Rng): Config;
  /** The state fields the returned config must carry (tensors of w's shape, or numbers). */
  state: string[];
  /** The hyperparameter defaults of the classic course code. */
  defaults: Config;
}

const logUniform = (rng: Rng, lo: number, hi: number) => Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * rng.uniform());

const rules: RuleSpec[] = [
  { name: "sgd", lib: sgd as LibRule, hyper: (rng) => ({ learningRate: logUniform(rng, 1e-3, 0.5) }), state: [], defaults: { learningRate: 1e-2 } },
  {
    name: "sgdMomentum",
    lib: sgdMomentum as LibRule,
    hyper: (rng) => ({ learningRate: logUniform(rng, 1e-3, 0.5), momentum: 0.5 + 0.45 * rng.uniform() }),
    state: ["velocity"],
    defaults: { learningRate: 1e-2, momentum: 0.9 },
  },
  {
    name: "rmsprop",
    lib: rmsprop as LibRule,
    hyper: (rng) => ({ learningRate: logUniform(rng, 1e-4, 0.1), decayRate: 0.9 + 0.099 * rng.uniform(), epsilon: 1e-8 }),
    state: ["cache"],
    defaults: { learningRate: 1e-2, decayRate: 0.99, epsilon: 1e-8 },
  },
  {
    name: "adam",
    lib: adam as LibRule,
    hyper: (rng) => ({ learningRate: logUniform(rng, 1e-4, 0.1), beta1: 0.8 + 0.15 * rng.uniform(), beta2: 0.99 + 0.0099 * rng.uniform(), epsilon: 1e-8 }),
    state: ["m", "v", "t"],
    defaults: { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
  },
];

/** Calls the student's rule; returns nextW and config, or the feedback that explains why not. */
async function step(student: Student, rule: string, args: unknown[]): Promise<{ nextW?: unknown; config?: Config; after?: unknown[]; problem?: string }> {
  const r = await tryCall(() => student.callWithArgs(FILE, rule, ...args));
  if (r.problem !== undefined) return { problem: r.problem };
  const f = readFields(r.value.value, rule, ["nextW", "config"]);
  if (f.problem) return { problem: f.problem };
  const config = f.value.config;
  if (config === null || typeof config !== "object" || Array.isArray(config) || isTensor(config)) {
    return { problem: `${rule} must return the next step's config as an object` };
  }
  return { nextW: f.value.nextW, config: config as Config, after: r.value.argsAfter };
}

/** Compares a config's state fields with the library's (tensors or numbers, e.g. Adam's t). */
function stateMatches(got: Config, want: Config, fields: string[]): boolean {
  return fields.every((k) =>
    typeof want[k] === "number" ? got[k] === want[k] : compareTensor(k, got[k], want[k] as Tensor, REF_TOL).passed,
  );
}

function ruleTest(spec: RuleSpec): HiddenTest {
  const stateful = spec.state.length > 0;
  return {
    name: `optim: ${spec.name}`,
    files: [FILE],
    maxScore: stateful ? 3 : 2,
    exercises: [spec.name],
    async run(student, ctx) {
      const rng = ctx.rng;
      const parts: TestPart[] = [];
      const shape = rng.uniform() < 0.3 ? [intBetween(rng, 2, 8)] : [intBetween(rng, 1, 5), intBetween(rng, 1, 5)];
      const w = randn(shape, rng);
      const grads = [0, 1, 2].map(() => randn(shape, rng));
      const hyper = spec.hyper(rng);
      // The library's three steps from w with these hyperparameters.
      const ref: Array<{ nextW: Tensor; config: Config }> = [];
      let cfg: Config = { ...hyper };
      let cur = w;
      for (const g of grads) {
        const r = spec.lib(cur, g, cfg as never);
        ref.push(r);
        cfg = r.config;
        cur = r.nextW;
      }

      // First step, and the inputs left as they were.
      const first = await step(student, spec.name, [w, grads[0], { ...hyper }]);
      const chainNames = ["steps 2 and 3 with the returned config", ...(stateful ? ["state after three steps"] : [])];
      if (first.problem !== undefined) {
        parts.push(...failAll(["first step: nextW", "inputs unchanged", ...chainNames], first.problem));
      } else {
        parts.push(compareTensor("first step: nextW", first.nextW, ref[0].nextW, REF_TOL));
        const changed = [unchanged("inputs unchanged", "w", w, first.after![0]), unchanged("inputs unchanged", "dw", grads[0], first.after![1])];
        parts.push(changed.find((p) => !p.passed) ?? changed[0]);
        // Steps 2 and 3, each from the previous step's nextW and returned config (the state must carry over).
        let prev = first;
        let callFailed = false;
        let problem = "";
        for (let k = 1; k < 3; k++) {
          const next = isTensor(prev.nextW)
            ? await step(student, spec.name, [prev.nextW, grads[k], prev.config])
            : { problem: `${spec.name} must return nextW as a tensor` };
          if (next.problem !== undefined) {
            callFailed = true;
            problem = next.problem;
            break;
          }
          if (!problem && !compareTensor("nextW", next.nextW, ref[k].nextW, REF_TOL).passed) {
            problem = `step ${k + 1}: nextW is off (is the state carried in the returned config and used?)`;
          }
          prev = next;
        }
        parts.push(expectThat(chainNames[0], problem === "", problem));
        if (stateful) {
          // Every rule's state depends on the gradients only, so it is graded even when a step's nextW is off.
          const good = !callFailed && stateMatches(prev.config!, ref[2].config, spec.state);
          parts.push(expectThat(chainNames[1], good, callFailed ? problem : `the returned config must carry ${spec.state.join(", ")} after each step, as the update rule defines them`));
        }
      }

      // Defaults: no config at all.
      const bare = await step(student, spec.name, [w, grads[0]]);
      if (bare.problem !== undefined) parts.push(expectThat("defaults", false, bare.problem));
      else {
        const want = spec.lib(w, grads[0]);
        const hyperOk = Object.entries(spec.defaults).every(([k, v]) => bare.config![k] === v);
        const p = compareTensor("defaults", bare.nextW, want.nextW, REF_TOL);
        parts.push(p.passed && !hyperOk ? expectThat("defaults", false, `the returned config must hold the default hyperparameters ${Object.keys(spec.defaults).join(", ")}`) : p);
      }

      // Resuming from a given state: the library's config after two steps.
      if (stateful) {
        const resumed = await step(student, spec.name, [ref[1].nextW, grads[2], { ...ref[1].config }]);
        parts.push(
          resumed.problem !== undefined
            ? expectThat("resumes from a given state", false, resumed.problem)
            : compareTensor("resumes from a given state", resumed.nextW, ref[2].nextW, REF_TOL),
        );
      }
      return parts;
    },
  };
}

/** Adam's first step is learningRate·sign(dw) up to epsilon: the bias correction undoes the zero start (a hand-derived reference). */
const adamFirstStep: HiddenTest = {
  name: "optim: adam's bias-corrected first step",
  files: [FILE],
  maxScore: 1,
  exercises: ["adam"],
  async run(student, ctx) {
    const w = randn([3, 4], ctx.rng);
    const dw = randn([3, 4], ctx.rng);
    const lr = 1e-3 * (1 + ctx.rng.uniform());
    const r = await step(student, "adam", [w, dw, { learningRate: lr }]);
    if (r.problem !== undefined) return [expectThat("first step = learningRate·sign(dw)", false, r.problem)];
    if (!isTensor(r.nextW)) return [expectThat("first step = learningRate·sign(dw)", false, "adam must return nextW as a tensor")];
    const moved = r.nextW.data.map((v, i) => v - w.data[i]);
    // With zero initial state, m̂ = dw and v̂ = dw² exactly, so the step is learningRate·dw/(|dw| + epsilon);
    // rounding in w − step is ~1e-16, far inside learningRate·1e-9.
    const ok = moved.every((d, i) => Math.abs(d + (lr * dw.data[i]) / (Math.abs(dw.data[i]) + 1e-8)) <= lr * 1e-9);
    return [
      expectThat("first step = learningRate·sign(dw)", ok, "Adam's first step should move every weight by learningRate against its gradient's sign (check the bias correction)"),
      compareNumber("t after one step", r.config?.t, 1, { atol: 0, rtol: 0 }),
    ];
  },
};

export const tests: HiddenTest[] = [...rules.map(ruleTest), adamFirstStep];

export const libEquivalents: LibEquivalents = {
  sgd: ["sgd", "updateRules"],
  sgdMomentum: ["sgdMomentum", "updateRules"],
  rmsprop: ["rmsprop", "updateRules"],
  adam: ["adam", "updateRules"],
};
