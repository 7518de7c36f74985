import ts from "typescript";

/**
 * Structural checks on a submission's syntax tree (for exercises that demand a form, such as "no loop over
 * examples"), decided from the source, never from timing.
 */

/** Parses TypeScript source (syntax errors are tolerated: the tree is still built). */
export function parse(source: string, fileName = "submission.ts"): ts.SourceFile {
  return ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
}

/** The body of a function, method or arrow function named `name` (the first found), or null. */
export function findFunction(source: string | ts.SourceFile, name: string): ts.Node | null {
  const sf = typeof source === "string" ? parse(source) : source;
  let found: ts.Node | null = null;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.name && n.name.getText(sf) === name && n.body) {
      found = n.body;
      return;
    }
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name && n.initializer) {
      const init = n.initializer;
      if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) {
        found = init.body;
        return;
      }
    }
    if (ts.isPropertyDeclaration(n) && n.name.getText(sf) === name && n.initializer) {
      const init = n.initializer;
      if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) {
        found = init.body;
        return;
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

/** Every loop statement (for, for-of, for-in, while, do) under `node`. */
export function loopsIn(node: ts.Node): ts.Node[] {
  const out: ts.Node[] = [];
  const visit = (n: ts.Node): void => {
    if (
      ts.isForStatement(n) ||
      ts.isForOfStatement(n) ||
      ts.isForInStatement(n) ||
      ts.isWhileStatement(n) ||
      ts.isDoStatement(n)
    ) {
      out.push(n);
    }
    ts.forEachChild(n, visit);
  };
  visit(node);
  return out;
}

/** Calls under `node` whose callee is `name` or ends in `.name` (e.g. "matmul", "forEach", "map"). */
export function callsTo(node: ts.Node, name: string): ts.CallExpression[] {
  const out: ts.CallExpression[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n)) {
      const c = n.expression;
      if ((ts.isIdentifier(c) && c.text === name) || (ts.isPropertyAccessExpression(c) && c.name.text === name)) out.push(n);
    }
    ts.forEachChild(n, visit);
  };
  visit(node);
  return out;
}

/** The 1-based line of a node, for feedback ("a loop at line 42"). */
export function lineOf(node: ts.Node): number {
  const sf = node.getSourceFile();
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}
