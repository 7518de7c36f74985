/**
 * The notebooks' one switch: SEMANTIC_GAP_QUICK=1 selects quick mode (embedded data, few iterations,
 * the same code paths), which the test suite uses; unset, notebooks run in full mode.
 */
export function quickMode(): boolean {
  const v = process.env.SEMANTIC_GAP_QUICK;
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

/** Picks the quick-mode value in quick mode and the full-mode value otherwise. */
export function byMode<T>(quick: T, full: T): T {
  return quickMode() ? quick : full;
}
