import { checkSameShape, checkTensor, sizeOf, tensor, toFloat64Array, type Tensor } from "../tensor.js";

// First-order update rules, all of one signature: (w, dw, config?) => { nextW, config }. The config holds
// the hyperparameters (defaults of the classic course code) and the rule's state (zeros when absent); the
// returned config is a new object carrying the new state. w, dw and the given config are never modified.

/** What an update rule returns: the updated weights and the config for the next step. */
export interface UpdateResult<C> {
  nextW: Tensor;
  config: C;
}

/**
 * An update rule. Its config is typed loosely here so that a rule with its own config type (a student's
 * optim.ts) can be handed to Solver.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UpdateRule = (w: Tensor, dw: Tensor, config?: any) => { nextW: Tensor; config: any };

export interface SgdConfig {
  learningRate?: number;
}

export interface SgdMomentumConfig {
  learningRate?: number;
  momentum?: number;
  /** The velocity, w's shape (zeros when absent). */
  velocity?: Tensor;
}

export interface RmspropConfig {
  learningRate?: number;
  decayRate?: number;
  epsilon?: number;
  /** Moving average of dw², w's shape (zeros when absent). */
  cache?: Tensor;
}

export interface AdamConfig {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Moving averages of dw and dw², w's shape (zeros when absent). */
  m?: Tensor;
  v?: Tensor;
  /** Steps taken so far. */
  t?: number;
}

function prepare(fn: string, w: Tensor, dw: Tensor, config: unknown): { wd: Float64Array; g: Float64Array } {
  checkTensor(fn, "w", w);
  checkTensor(fn, "dw", dw);
  checkSameShape(fn, "w", w, "dw", dw);
  if (config !== undefined && (config === null || typeof config !== "object")) {
    throw new TypeError(`${fn}: config must be an object or undefined, got ${String(config)}`);
  }
  return { wd: toFloat64Array(w), g: toFloat64Array(dw) };
}

function num(fn: string, name: string, v: unknown, fallback: number): number {
  const x = v === undefined ? fallback : v;
  if (typeof x !== "number" || !Number.isFinite(x)) throw new RangeError(`${fn}: config.${name} must be a finite number, got ${String(v)}`);
  return x;
}

/**
 * The state tensor `name` of a config in row-major order (its own data when dense: only read, never
 * written), or zeros; it must have w's shape.
 */
function state(fn: string, name: string, t: unknown, w: Tensor): Float64Array {
  if (t === undefined) return new Float64Array(sizeOf(w.shape));
  const s = checkTensor(fn, `config.${name}`, t);
  checkSameShape(fn, `config.${name}`, s, "w", w);
  return toFloat64Array(s);
}

/** Vanilla SGD: w − learningRate·dw. w: any shape, dw: w's shape */
export function sgd(w: Tensor, dw: Tensor, config: SgdConfig = {}): UpdateResult<SgdConfig> {
  const fn = "sgd";
  const { wd, g } = prepare(fn, w, dw, config);
  const lr = num(fn, "learningRate", config.learningRate, 1e-2);
  const next = new Float64Array(wd.length);
  for (let i = 0; i < wd.length; i++) next[i] = wd[i] - lr * g[i];
  return { nextW: tensor(next, w.shape), config: { ...config, learningRate: lr } };
}

/** SGD with momentum: v = momentum·v − learningRate·dw, then w + v. w: any shape, dw: w's shape */
export function sgdMomentum(w: Tensor, dw: Tensor, config: SgdMomentumConfig = {}): UpdateResult<SgdMomentumConfig> {
  const fn = "sgdMomentum";
  const { wd, g } = prepare(fn, w, dw, config);
  const lr = num(fn, "learningRate", config.learningRate, 1e-2);
  const mu = num(fn, "momentum", config.momentum, 0.9);
  const v0 = state(fn, "velocity", config.velocity, w);
  const v = new Float64Array(wd.length);
  const next = new Float64Array(wd.length);
  for (let i = 0; i < wd.length; i++) {
    v[i] = mu * v0[i] - lr * g[i];
    next[i] = wd[i] + v[i];
  }
  return { nextW: tensor(next, w.shape), config: { ...config, learningRate: lr, momentum: mu, velocity: tensor(v, w.shape) } };
}

/**
 * RMSProp: cache = decayRate·cache + (1 − decayRate)·dw², then w − learningRate·dw/(√cache + epsilon).
 * w: any shape, dw: w's shape
 */
export function rmsprop(w: Tensor, dw: Tensor, config: RmspropConfig = {}): UpdateResult<RmspropConfig> {
  const fn = "rmsprop";
  const { wd, g } = prepare(fn, w, dw, config);
  const lr = num(fn, "learningRate", config.learningRate, 1e-2);
  const decay = num(fn, "decayRate", config.decayRate, 0.99);
  const eps = num(fn, "epsilon", config.epsilon, 1e-8);
  const cache0 = state(fn, "cache", config.cache, w);
  const cache = new Float64Array(wd.length);
  const next = new Float64Array(wd.length);
  for (let i = 0; i < wd.length; i++) {
    cache[i] = decay * cache0[i] + (1 - decay) * g[i] * g[i];
    next[i] = wd[i] - (lr * g[i]) / (Math.sqrt(cache[i]) + eps);
  }
  return {
    nextW: tensor(next, w.shape),
    config: { ...config, learningRate: lr, decayRate: decay, epsilon: eps, cache: tensor(cache, w.shape) },
  };
}

/**
 * Adam: t + 1; m = beta1·m + (1 − beta1)·dw; v = beta2·v + (1 − beta2)·dw²; with the bias-corrected
 * m̂ = m/(1 − beta1^t) and v̂ = v/(1 − beta2^t), w − learningRate·m̂/(√v̂ + epsilon).
 * w: any shape, dw: w's shape
 */
export function adam(w: Tensor, dw: Tensor, config: AdamConfig = {}): UpdateResult<AdamConfig> {
  const fn = "adam";
  const { wd, g } = prepare(fn, w, dw, config);
  const lr = num(fn, "learningRate", config.learningRate, 1e-3);
  const b1 = num(fn, "beta1", config.beta1, 0.9);
  const b2 = num(fn, "beta2", config.beta2, 0.999);
  const eps = num(fn, "epsilon", config.epsilon, 1e-8);
  const t = num(fn, "t", config.t, 0) + 1;
  const m0 = state(fn, "m", config.m, w);
  const v0 = state(fn, "v", config.v, w);
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  const m = new Float64Array(wd.length);
  const v = new Float64Array(wd.length);
  const next = new Float64Array(wd.length);
  for (let i = 0; i < wd.length; i++) {
    m[i] = b1 * m0[i] + (1 - b1) * g[i];
    v[i] = b2 * v0[i] + (1 - b2) * g[i] * g[i];
    next[i] = wd[i] - (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
  }
  return {
    nextW: tensor(next, w.shape),
    config: { ...config, learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, m: tensor(m, w.shape), v: tensor(v, w.shape), t },
  };
}

/** The update rules by name, as Solver's `updateRule` option accepts them. */
export const updateRules = { sgd, sgdMomentum, rmsprop, adam } as const;

/** The name of one of lib's update rules. */
export type UpdateRuleName = keyof typeof updateRules;
