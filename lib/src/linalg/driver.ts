// Runs one GEMM on the given number of threads: on this thread for 1, else on the pool, with operands that
// are not in shared memory copied in (and C copied back). The numbers never depend on the thread count.
import { runJob } from "../threads/pool.js";
import { scaleC, type GemmOperands } from "./kernel.js";
import { addPartials, gemmTask, planGemm, splitsK, type GemmJob } from "./parallel.js";

/**
 * C = alpha * op(A) * op(B) + beta * C (see GemmOperands) on `threads` threads. zeroC: C is known to hold
 * zeros (beta is then irrelevant and C is not scaled first).
 */
export function runGemm(ops: GemmOperands, beta: number, threads: number, zeroC = false): void {
  const { M, N, K, alpha, A, aOff, aRs, aCs, B, bOff, bRs, bCs, C, cOff, cRs, cCs } = ops;
  if (M === 0 || N === 0) return;
  if (K === 0 || alpha === 0) {
    if (!zeroC) scaleC(ops, beta, 0, M, 0, N);
    return;
  }
  const plan = planGemm(M, N, K, threads);
  const kSplit = splitsK(M, N, K);
  if (threads === 1 || plan.count === 1) {
    const job: GemmJob = { ops, beta, plan, partials: kSplit ? new Float64Array(plan.count * M * N) : null, zeroC };
    if (kSplit && !zeroC) scaleC(ops, beta, 0, M, 0, N);
    for (let t = 0; t < plan.count; t++) gemmTask(job, t);
    if (kSplit) addPartials(job);
    return;
  }
  // Workers see shared memory only: operands elsewhere are copied in (the span of elements they use).
  const a = toShared(A, aOff, M, aRs, K, aCs, "a");
  const b = toShared(B, bOff, K, bRs, N, bCs, "b");
  const c = toShared(C, cOff, M, cRs, N, cCs, "c");
  const shared: GemmOperands = { ...ops, A: a.data, aOff: a.off, B: b.data, bOff: b.off, C: c.data, cOff: c.off };
  // A C copied in holds the same zeros as the original.
  const job: GemmJob = { ops: shared, beta, plan, partials: kSplit ? new Float64Array(new SharedArrayBuffer(8 * plan.count * M * N)) : null, zeroC };
  if (kSplit && !zeroC) scaleC(shared, beta, 0, M, 0, N);
  runJob("gemm", job, plan.count, threads);
  if (kSplit) addPartials(job);
  if (c.copied) C.set(c.data.subarray(0, c.hi - c.lo), c.lo);
}

interface SharedSpan {
  data: Float64Array;
  off: number;
  lo: number;
  hi: number;
  copied: boolean;
}

// Copies kept for reuse, per operand, up to this many doubles (larger ones are allocated per product).
const STAGE_KEEP = 4 << 20;
const stages = new Map<string, Float64Array>();

function toShared(x: Float64Array, off: number, rows: number, rs: number, cols: number, cs: number, role: string): SharedSpan {
  if (x.buffer instanceof SharedArrayBuffer) return { data: x, off, lo: 0, hi: 0, copied: false };
  const lo = off + Math.min(0, (rows - 1) * rs) + Math.min(0, (cols - 1) * cs);
  const hi = off + Math.max(0, (rows - 1) * rs) + Math.max(0, (cols - 1) * cs) + 1;
  const n = hi - lo;
  let buf = stages.get(role);
  if (!buf || buf.length < n) {
    buf = new Float64Array(new SharedArrayBuffer(8 * Math.max(n, Math.min(STAGE_KEEP, 2 * (buf?.length ?? 0)))));
    if (n <= STAGE_KEEP) stages.set(role, buf);
  }
  buf.set(x.subarray(lo, hi));
  return { data: buf, off: off - lo, lo, hi, copied: true };
}
