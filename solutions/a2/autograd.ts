/**
 * A scalar reverse-mode automatic differentiation engine: every Value remembers the Values it was computed
 * from and the local derivative of itself with respect to each of them, and `backward()` applies the chain
 * rule over the whole graph, from the output back to the leaves.
 */

/** A number or a Value: the second operand of add, mul, sub and div. */
export type Operand = Value | number;

const asValue = (o: Operand): Value => (o instanceof Value ? o : new Value(o));

export class Value {
  /** The number this node holds (computed in the forward pass). */
  data: number;
  /** ∂(output of the last backward pass)/∂(this node); 0 until backward runs. */
  grad = 0;
  /** The Values this one was computed from (none for a leaf). A Value may appear twice (x·x). */
  readonly children: Value[];
  /** ∂this/∂children[i], computed in the forward pass, one per child. */
  readonly localGrads: number[];
  /** The operation that made this Value ("" for a leaf), for printing and drawing the graph. */
  readonly op: string;

  /**
   * A leaf holds `data` and has no children; the operations below make the inner nodes, passing their
   * children and the local derivatives.
   */
  constructor(data: number, children: Value[] = [], localGrads: number[] = [], op = "") {
    if (typeof data !== "number") throw new TypeError(`Value: data must be a number, got ${typeof data}`);
    if (children.length !== localGrads.length) {
      throw new RangeError(`Value: ${children.length} children but ${localGrads.length} local gradients`);
    }
    this.data = data;
    this.children = children;
    this.localGrads = localGrads;
    this.op = op;
  }

  /** True for a Value made by `new Value(data)` rather than by an operation. */
  get isLeaf(): boolean {
    return this.children.length === 0;
  }

  /** this + o. */
  add(o: Operand): Value {
    const other = asValue(o);
    // TODO: Return a new Value holding this.data + other.data, whose children are this and other and whose
    // TODO: local gradients are ∂out/∂this and ∂out/∂other (the constructor's arguments).
    // BEGIN SOLUTION
    return new Value(this.data + other.data, [this, other], [1, 1], "+");
    // END SOLUTION
  }

  /** this · o. */
  mul(o: Operand): Value {
    const other = asValue(o);
    // TODO: A new Value holding the product, with children this and other and the two local gradients.
    // BEGIN SOLUTION
    return new Value(this.data * other.data, [this, other], [other.data, this.data], "×");
    // END SOLUTION
  }

  /** this − o. */
  sub(o: Operand): Value {
    const other = asValue(o);
    // TODO: A new Value holding the difference, with children this and other and the two local gradients.
    // BEGIN SOLUTION
    return new Value(this.data - other.data, [this, other], [1, -1], "−");
    // END SOLUTION
  }

  /** this / o. */
  div(o: Operand): Value {
    const other = asValue(o);
    // TODO: A new Value holding the quotient a/b, with children this and other; ∂(a/b)/∂a = 1/b and
    // TODO: ∂(a/b)/∂b = −a/b².
    // BEGIN SOLUTION
    const b = other.data;
    return new Value(this.data / b, [this, other], [1 / b, -this.data / (b * b)], "÷");
    // END SOLUTION
  }

  /** this^k for a number k. */
  pow(k: number): Value {
    if (typeof k !== "number") throw new TypeError(`Value.pow: the exponent must be a number, got ${typeof k}`);
    // TODO: A new Value holding this.data^k with one child (this) and the local gradient k·x^(k−1).
    // BEGIN SOLUTION
    return new Value(this.data ** k, [this], [k * this.data ** (k - 1)], `^${k}`);
    // END SOLUTION
  }

  /** −this. */
  neg(): Value {
    // TODO: A new Value holding −this.data with one child and its local gradient.
    // BEGIN SOLUTION
    return new Value(-this.data, [this], [-1], "neg");
    // END SOLUTION
  }

  /** e^this. */
  exp(): Value {
    // TODO: A new Value holding e^x with one child; the derivative of e^x is e^x.
    // BEGIN SOLUTION
    const e = Math.exp(this.data);
    return new Value(e, [this], [e], "exp");
    // END SOLUTION
  }

  /** The natural logarithm of this. */
  log(): Value {
    // TODO: A new Value holding ln x with one child; the derivative is 1/x.
    // BEGIN SOLUTION
    return new Value(Math.log(this.data), [this], [1 / this.data], "log");
    // END SOLUTION
  }

  /** tanh(this). */
  tanh(): Value {
    // TODO: A new Value holding t = tanh x with one child; the derivative is 1 − t².
    // BEGIN SOLUTION
    const t = Math.tanh(this.data);
    return new Value(t, [this], [1 - t * t], "tanh");
    // END SOLUTION
  }

  /** max(0, this). */
  relu(): Value {
    // TODO: A new Value holding max(0, x) with one child; the derivative is 1 for x > 0 and 0 otherwise
    // TODO: (0 at x = 0 too).
    // BEGIN SOLUTION
    return new Value(this.data > 0 ? this.data : 0, [this], [this.data > 0 ? 1 : 0], "relu");
    // END SOLUTION
  }

  /** The logistic sigmoid 1 / (1 + e^−this). */
  sigmoid(): Value {
    // TODO: A new Value holding s = σ(x) with one child; the derivative is s·(1 − s). Compute σ without
    // TODO: overflow for large |x| (e^−x overflows for x below about −710).
    // BEGIN SOLUTION
    const x = this.data;
    const s = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    return new Value(s, [this], [s * (1 - s)], "σ");
    // END SOLUTION
  }

  /**
   * Every Value this one depends on, itself included, each once, ordered so that a Value comes after all
   * of its children (this one last).
   */
  topologicalOrder(): Value[] {
    // TODO: A depth-first search from this Value that appends a node once all its children are appended.
    // TODO: Keep an explicit stack instead of recursing: a chain of 100,000 Values must not overflow the
    // TODO: call stack. Visit each node once, even when it is reached along several paths.
    // BEGIN SOLUTION
    const order: Value[] = [];
    const seen = new Set<Value>([this]);
    const stack: Array<{ node: Value; next: number }> = [{ node: this, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.children.length) {
        const child = top.node.children[top.next++];
        if (!seen.has(child)) {
          seen.add(child);
          stack.push({ node: child, next: 0 });
        }
      } else {
        order.push(top.node);
        stack.pop();
      }
    }
    return order;
    // END SOLUTION
  }

  /**
   * Backpropagates from this Value: afterwards every node's grad holds ∂this/∂node. The inner nodes'
   * grads are reset first; the leaves' grads accumulate across calls (two calls give twice the gradient).
   */
  backward(): void {
    // TODO: Take the topological order. Set the grad of every inner (non-leaf) node to 0, then add 1 to this
    // TODO: node's grad. Visit the nodes from this one back to the leaves: each node adds its grad times each
    // TODO: local gradient to the grad of the corresponding child (add, never assign: a child reached twice
    // TODO: must receive both contributions).
    // BEGIN SOLUTION
    const order = this.topologicalOrder();
    for (const v of order) if (!v.isLeaf) v.grad = 0;
    this.grad += 1;
    for (let i = order.length - 1; i >= 0; i--) {
      const v = order[i];
      for (let j = 0; j < v.children.length; j++) v.children[j].grad += v.localGrads[j] * v.grad;
    }
    // END SOLUTION
  }

  /** Sets the grad of this Value and of every Value it depends on to 0. */
  zeroGrad(): void {
    // TODO: Set the grad of every node of the topological order to 0.
    // BEGIN SOLUTION
    for (const v of this.topologicalOrder()) v.grad = 0;
    // END SOLUTION
  }

  toString(): string {
    return `Value(data=${this.data}, grad=${this.grad})`;
  }
}

/** The operations a GraphProgram may use, with their number of Value operands besides the receiver. */
export const GRAPH_OPS = {
  leaf: 0,
  add: 1,
  mul: 1,
  sub: 1,
  div: 1,
  pow: 0,
  neg: 0,
  exp: 0,
  log: 0,
  tanh: 0,
  relu: 0,
  sigmoid: 0,
} as const;

export type GraphOp = keyof typeof GRAPH_OPS;

/**
 * An expression graph written as data, one node per entry: node i is `ops[i]` applied to node `a[i]` (the
 * receiver) and, for add/mul/sub/div, to node `b[i]` or, when `b[i]` is −1, to the number `k[i]`. A leaf's
 * value and pow's exponent are `k[i]` too. Operands are earlier nodes; the last node is the output.
 */
export interface GraphProgram {
  ops: GraphOp[];
  a: ArrayLike<number>;
  b: ArrayLike<number>;
  k: ArrayLike<number>;
  /** What to call on the output, in order (default: one backward). */
  actions?: Array<"backward" | "zeroGrad">;
}

/**
 * Builds the graph a program describes out of Values, calls its actions on the output node, and returns
 * each node's data and grad. The notebook's checks and the grader use it: leave it as it is.
 * data: (n), grad: (n) for a program of n nodes.
 */
export function runGraph(program: GraphProgram): { data: Float64Array; grad: Float64Array } {
  const { ops, a, b, k } = program;
  const n = ops.length;
  if (n === 0) throw new RangeError("runGraph: the program has no nodes");
  if (a.length !== n || b.length !== n || k.length !== n) {
    throw new RangeError(`runGraph: ops, a, b and k must have one entry per node (${n}), got ${a.length}, ${b.length}, ${k.length}`);
  }
  const nodes: Value[] = new Array<Value>(n);
  const operand = (i: number, j: number, what: string): Value => {
    if (!Number.isInteger(j) || j < 0 || j >= i) throw new RangeError(`runGraph: node ${i}'s ${what} (${j}) must be an earlier node`);
    return nodes[j];
  };
  for (let i = 0; i < n; i++) {
    const op = ops[i];
    if (!Object.prototype.hasOwnProperty.call(GRAPH_OPS, op)) throw new RangeError(`runGraph: node ${i} has an unknown op ${JSON.stringify(op)}`);
    if (op === "leaf") {
      nodes[i] = new Value(k[i]);
      continue;
    }
    const x = operand(i, a[i], "receiver");
    if (GRAPH_OPS[op] === 1) {
      const y: Operand = b[i] === -1 ? k[i] : operand(i, b[i], "operand");
      nodes[i] = (x[op as "add"] as (o: Operand) => Value).call(x, y);
    } else if (op === "pow") {
      nodes[i] = x.pow(k[i]);
    } else {
      nodes[i] = (x[op as "exp"] as () => Value).call(x);
    }
  }
  const out = nodes[n - 1];
  for (const action of program.actions ?? ["backward"]) {
    if (action === "backward") out.backward();
    else if (action === "zeroGrad") out.zeroGrad();
    else throw new RangeError(`runGraph: unknown action ${JSON.stringify(action)}`);
  }
  return { data: Float64Array.from(nodes, (v) => v.data), grad: Float64Array.from(nodes, (v) => v.grad) };
}
