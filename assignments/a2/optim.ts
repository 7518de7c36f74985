import { add, checkSameShape, checkTensor, div, map, mul, sub, zerosLike, type Tensor } from "@semantic-gap/lib";

// First-order update rules. Each takes the weights w, their gradient dw and a config (hyperparameters and
// the rule's state from the previous step), and returns { nextW, config }: the updated weights and the
// config for the next step, carrying the new state. Missing hyperparameters take the defaults below;
// missing state starts at zeros. Never modify w or dw: return new tensors.

export interface SgdConfig {
  learningRate?: number;
}

export interface SgdMomentumConfig {
  learningRate?: number;
  momentum?: number;
  velocity?: Tensor;
}

export interface RmspropConfig {
  learningRate?: number;
  decayRate?: number;
  epsilon?: number;
  cache?: Tensor;
}

export interface AdamConfig {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  m?: Tensor;
  v?: Tensor;
  t?: number;
}

function checkArgs(fn: string, w: Tensor, dw: Tensor): void {
  checkTensor(fn, "w", w);
  checkTensor(fn, "dw", dw);
  checkSameShape(fn, "w", w, "dw", dw);
}

/**
 * Vanilla stochastic gradient descent: nextW = w − learningRate·dw.
 * config: { learningRate = 1e-2 }. w: any shape, dw: w's shape
 */
export function sgd(w: Tensor, dw: Tensor, config: SgdConfig = {}): { nextW: Tensor; config: SgdConfig } {
  checkArgs("sgd", w, dw);
  // TODO: Fill in the default learning rate, compute nextW (w's shape), and return it with the config
  // TODO: (including learningRate).
  throw new Error("Not implemented: sgd");
}

/**
 * SGD with momentum: velocity = momentum·velocity − learningRate·dw, nextW = w + velocity.
 * config: { learningRate = 1e-2, momentum = 0.9, velocity (w's shape, zeros at first) }.
 * w: any shape, dw: w's shape
 */
export function sgdMomentum(w: Tensor, dw: Tensor, config: SgdMomentumConfig = {}): { nextW: Tensor; config: SgdMomentumConfig } {
  checkArgs("sgdMomentum", w, dw);
  // TODO: Fill in the defaults, start the velocity at zeros (w's shape) when the config has none, update
  // TODO: it, step the weights along it, and return nextW with a config carrying the new velocity.
  throw new Error("Not implemented: sgdMomentum");
}

/**
 * RMSProp: cache = decayRate·cache + (1 − decayRate)·dw², nextW = w − learningRate·dw/(√cache + epsilon).
 * config: { learningRate = 1e-2, decayRate = 0.99, epsilon = 1e-8, cache (w's shape, zeros at first) }.
 * w: any shape, dw: w's shape
 */
export function rmsprop(w: Tensor, dw: Tensor, config: RmspropConfig = {}): { nextW: Tensor; config: RmspropConfig } {
  checkArgs("rmsprop", w, dw);
  // TODO: Fill in the defaults, start the cache at zeros (w's shape), update it with the squared gradient,
  // TODO: divide the step elementwise by √cache + epsilon, and return nextW with a config carrying the cache.
  throw new Error("Not implemented: rmsprop");
}

/**
 * Adam: t = t + 1; m = beta1·m + (1 − beta1)·dw; v = beta2·v + (1 − beta2)·dw²; with the bias-corrected
 * m̂ = m/(1 − beta1^t) and v̂ = v/(1 − beta2^t), nextW = w − learningRate·m̂/(√v̂ + epsilon).
 * config: { learningRate = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, m, v (w's shape, zeros at
 * first), t = 0 }. w: any shape, dw: w's shape
 */
export function adam(w: Tensor, dw: Tensor, config: AdamConfig = {}): { nextW: Tensor; config: AdamConfig } {
  checkArgs("adam", w, dw);
  // TODO: Fill in the defaults (m and v start at zeros of w's shape, t at 0), count this step (t + 1), update
  // TODO: m and v, correct their bias with the new t (without it the first steps are far too small), take
  // TODO: the step, and return nextW with a config carrying m, v and t.
  throw new Error("Not implemented: adam");
}
