import type { Rng } from "@semantic-gap/lib";

/**
 * Expression graphs as data (the GraphProgram that autograd.ts's runGraph builds out of Values), made at
 * random for the hidden tests, with references computed here independently of any Value class: the
 * forward values by plain arithmetic, and every gradient by forward-mode differentiation (dual numbers
 * seeded at one node at a time), exact up to rounding.
 */

export type Op = "leaf" | "add" | "mul" | "sub" | "div" | "pow" | "neg" | "exp" | "log" | "tanh" | "relu" | "sigmoid";

export interface Program {
  ops: Op[];
  a: number[];
  b: number[];
  k: number[];
  actions?: Array<"backward" | "zeroGrad">;
}

const BINARY = new Set<Op>(["add", "mul", "sub", "div"]);

/** The value of op on x (and y), with ∂/∂x and ∂/∂y. */
function apply(op: Op, x: number, y: number, k: number): [number, number, number] {
  switch (op) {
    case "add":
      return [x + y, 1, 1];
    case "mul":
      return [x * y, y, x];
    case "sub":
      return [x - y, 1, -1];
    case "div":
      return [x / y, 1 / y, -x / (y * y)];
    case "pow":
      return [x ** k, k * x ** (k - 1), 0];
    case "neg":
      return [-x, -1, 0];
    case "exp":
      return [Math.exp(x), Math.exp(x), 0];
    case "log":
      return [Math.log(x), 1 / x, 0];
    case "tanh": {
      const t = Math.tanh(x);
      return [t, 1 - t * t, 0];
    }
    case "relu":
      return [Math.max(0, x), x > 0 ? 1 : 0, 0];
    case "sigmoid": {
      const s = 1 / (1 + Math.exp(-x));
      return [s, s * (1 - s), 0];
    }
    case "leaf":
      return [k, 0, 0];
  }
}

/** The forward values of every node. */
export function evaluate(p: Program): Float64Array {
  const v = new Float64Array(p.ops.length);
  for (let i = 0; i < p.ops.length; i++) {
    const op = p.ops[i];
    const y = BINARY.has(op) ? (p.b[i] === -1 ? p.k[i] : v[p.b[i]]) : 0;
    v[i] = op === "leaf" ? p.k[i] : apply(op, v[p.a[i]], y, p.k[i])[0];
  }
  return v;
}

/**
 * ∂output/∂node for the given nodes (all when omitted; others are NaN), by forward mode: seed node i with
 * derivative 1 and carry derivatives forward through the nodes after it.
 */
export function gradients(p: Program, which?: number[]): Float64Array {
  const n = p.ops.length;
  const v = evaluate(p);
  const out = new Float64Array(n).fill(NaN);
  const d = new Float64Array(n);
  for (const i of which ?? Array.from({ length: n }, (_, j) => j)) {
    d.fill(0);
    d[i] = 1;
    for (let j = i + 1; j < n; j++) {
      const op = p.ops[j];
      if (op === "leaf") continue;
      const second = BINARY.has(op) && p.b[j] !== -1;
      const y = BINARY.has(op) ? (second ? v[p.b[j]] : p.k[j]) : 0;
      const [, dx, dy] = apply(op, v[p.a[j]], y, p.k[j]);
      d[j] = dx * d[p.a[j]] + (second ? dy * d[p.b[j]] : 0);
    }
    out[i] = d[n - 1];
  }
  return out;
}

/** Indices of the leaves. */
export const leavesOf = (p: Program): number[] => p.ops.flatMap((op, i) => (op === "leaf" ? [i] : []));

/** Indices of the inner nodes. */
export const innerOf = (p: Program): number[] => p.ops.flatMap((op, i) => (op === "leaf" ? [] : [i]));

const UNARY: Op[] = ["pow", "neg", "exp", "log", "tanh", "relu", "sigmoid"];
const EXPONENTS = [2, 3, -1, 0.5, 1.5];

/** Whether applying op to x (and y) stays well away from overflow, poles and kinks. */
function safe(op: Op, x: number, y: number, k: number): boolean {
  if (op === "div" && Math.abs(y) < 0.3) return false;
  if (op === "log" && x < 0.1) return false;
  if (op === "exp" && x > 3) return false;
  if (op === "relu" && Math.abs(x) < 1e-3) return false;
  if (op === "pow" && !Number.isInteger(k) && x < 0.1) return false;
  if (op === "pow" && k < 0 && Math.abs(x) < 0.3) return false;
  const [val, dx, dy] = apply(op, x, y, k);
  return [val, dx, dy].every((t) => Number.isFinite(t) && Math.abs(t) < 1e3);
}

/**
 * A random program with `leaves` leaves and `inner` operations. With `shared` false it is a tree: every
 * node is used exactly once (leftovers are summed into the output); with `shared` true operands are
 * drawn from all earlier nodes, so nodes are reused, sometimes as both operands of one operation.
 */
export function randomProgram(rng: Rng, leaves: number, inner: number, shared: boolean): Program {
  const p: Program = { ops: [], a: [], b: [], k: [] };
  const values: number[] = [];
  const push = (op: Op, a: number, b: number, k: number): number => {
    const x = a >= 0 ? values[a] : 0;
    const y = BINARY.has(op) ? (b === -1 ? k : values[b]) : 0;
    p.ops.push(op);
    p.a.push(a);
    p.b.push(b);
    p.k.push(k);
    values.push(op === "leaf" ? k : apply(op, x, y, k)[0]);
    return values.length - 1;
  };
  const pool: number[] = [];
  for (let i = 0; i < leaves; i++) pool.push(push("leaf", -1, -1, Math.round(rng.uniformRange(-2, 2) * 1000) / 1000 || 0.5));
  const take = (): number => (shared ? rng.int(values.length) : pool.splice(rng.int(pool.length), 1)[0]);
  let made = 0;
  for (let tries = 0; made < inner && tries < 50 * inner; tries++) {
    const binary = rng.uniform() < 0.55;
    const op: Op = binary ? (["add", "mul", "sub", "div"] as Op[])[rng.int(4)] : UNARY[rng.int(UNARY.length)];
    const k = op === "pow" ? EXPONENTS[rng.int(EXPONENTS.length)] : Math.round(rng.uniformRange(-2, 2) * 100) / 100;
    const a = take();
    const b = binary && (shared || pool.length > 0) && rng.uniform() < 0.7 ? take() : -1;
    const y = binary ? (b === -1 ? k : values[b]) : 0;
    if (safe(op, values[a], y, k)) {
      pool.push(push(op, a, b, k));
      made++;
    } else if (!shared) {
      pool.push(a, ...(b >= 0 ? [b] : []));
    }
  }
  // Sum what nothing uses yet into one output, so that every node reaches it.
  const used = new Set<number>();
  for (let i = 0; i < p.ops.length; i++) {
    if (p.ops[i] === "leaf") continue;
    used.add(p.a[i]);
    if (BINARY.has(p.ops[i]) && p.b[i] >= 0) used.add(p.b[i]);
  }
  const dangling = values.map((_, i) => i).filter((i) => !used.has(i));
  let acc = dangling[0];
  for (const j of dangling.slice(1)) acc = push("add", acc, j, 0);
  return p;
}

/** x ∘ op_1 ∘ ... ∘ op_n on one leaf: a chain of n + 1 nodes whose derivative is a product of n factors near 1. */
export function chainProgram(rng: Rng, n: number): Program {
  const p: Program = { ops: ["leaf"], a: [-1], b: [-1], k: [0.7] };
  for (let i = 1; i <= n; i++) {
    const r = rng.int(4);
    const op: Op = r === 0 ? "add" : r === 1 ? "sub" : r === 2 ? "mul" : "neg";
    p.ops.push(op);
    p.a.push(i - 1);
    p.b.push(-1);
    p.k.push(op === "mul" ? 1 + (rng.uniform() - 0.5) * 1e-3 : op === "neg" ? 0 : rng.uniform() * 1e-3);
  }
  return p;
}

/** The sum of c_i·x over `uses` terms, plus x·x: one leaf used uses + 2 times. */
export function reuseProgram(rng: Rng, uses: number): Program {
  const p: Program = { ops: ["leaf"], a: [-1], b: [-1], k: [rng.uniformRange(0.5, 1.5)] };
  const add = (op: Op, a: number, b: number, k: number): number => {
    p.ops.push(op);
    p.a.push(a);
    p.b.push(b);
    p.k.push(k);
    return p.ops.length - 1;
  };
  let acc = add("mul", 0, 0, 0);
  for (let i = 0; i < uses; i++) acc = add("add", acc, add("mul", 0, -1, Math.round(rng.uniformRange(-1, 1) * 100) / 100), 0);
  return p;
}
