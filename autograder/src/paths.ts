import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository (or unpacked Gradescope source) root: the folder holding autograder/. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export const paths = {
  root: repoRoot,
  lib: path.join(repoRoot, "lib"),
  libSrcIndex: path.join(repoRoot, "lib", "src", "index.ts"),
  libDistIndex: path.join(repoRoot, "lib", "dist", "index.js"),
  libDistTypes: path.join(repoRoot, "lib", "dist", "index.d.ts"),
  solutions: (a: string) => path.join(repoRoot, "solutions", a),
  assignments: (a: string) => path.join(repoRoot, "assignments", a),
  tests: (a: string) => path.join(repoRoot, "autograder", a),
  nodeModules: path.join(repoRoot, "node_modules"),
};

/** Names of the assignments that have a test folder (autograder/aN). */
export function isAssignmentName(name: string): boolean {
  return /^a\d+$/.test(name) && existsSync(paths.tests(name));
}
