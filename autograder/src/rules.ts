import ts from "typescript";
import { lineOf, parse } from "./structure.js";

/**
 * The one rule engine for structural checks on submissions ("no loops", "vectorized", "no delegating to
 * the library"), for every assignment.
 *
 * From an entry function or method it finds everything the code can reach: every function, method and
 * function-valued variable of the same file (and of sibling submission files it imports) that is named
 * anywhere in reached code (called, aliased, passed, `(0, f)()`, `this.f`, `this["f"]`, `obj.f`), and every
 * library export it names (`import { x }`, `import { x as y }`, `lib.x`, `lib["x"]`, `lib["a" + "b"]` with
 * constant parts, `const { x } = lib`). What it cannot resolve (a computed name that is not a constant, the
 * library namespace used as a value, a dynamic import, `eval`, `Function`, `globalThis`, `Reflect`) is
 * reported as unresolved, and the rules treat it as a violation.
 */

export const LIB_MODULE = "@semantic-gap/lib";

export interface Reached {
  /** The functions reached, by name, in the order found (the entry first). */
  functions: FunctionInfo[];
  /** Library exports named in reached code. */
  libUses: Array<{ name: string; line: number; where: string }>;
  /** What could not be resolved, as descriptions with lines. */
  unresolved: string[];
  /** Functions that call themselves through the file. */
  recursion: string[];
}

export interface FunctionInfo {
  /** `fn`, or `Class.method` for methods. */
  name: string;
  /** The bare name (`method` for `Class.method`). */
  short: string;
  file: string;
  body: ts.Node;
}

interface FileInfo {
  file: string;
  sf: ts.SourceFile;
  /** By bare name and by `Class.method`. */
  functions: Map<string, FunctionInfo[]>;
  /** Module-level variables that are not functions (their initializers are followed when named). */
  variables: Map<string, ts.Expression>;
  /** Local name -> library export name. */
  libNamed: Map<string, string>;
  libNamespaces: Set<string>;
  /** Local name -> [sibling file, its export name]. */
  siblingImports: Map<string, [string, string]>;
  /** Constant strings (`const a = "x"`), for computed names. */
  constants: Map<string, ts.Expression>;
  /** Class names of the file. */
  classes: Set<string>;
}

function siblingFile(spec: string, files: Set<string>): string | null {
  const m = /^\.\/([A-Za-z0-9_.-]+?)(\.ts|\.js|\.mjs)?$/.exec(spec);
  return m && files.has(`${m[1]}.ts`) ? `${m[1]}.ts` : null;
}

function analyse(file: string, source: string, files: Set<string>): FileInfo {
  const sf = parse(source, file);
  const info: FileInfo = {
    file,
    sf,
    functions: new Map(),
    variables: new Map(),
    libNamed: new Map(),
    libNamespaces: new Set(),
    siblingImports: new Map(),
    constants: new Map(),
    classes: new Set(),
  };
  const add = (name: string, short: string, body: ts.Node | undefined): void => {
    if (!body) return;
    const fn: FunctionInfo = { name, short, file, body };
    for (const key of new Set([name, short])) {
      const list = info.functions.get(key) ?? [];
      list.push(fn);
      info.functions.set(key, list);
    }
  };
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const spec = st.moduleSpecifier.text;
      const sib = siblingFile(spec, files);
      const clause = st.importClause;
      if (!clause) continue;
      const nb = clause.namedBindings;
      if (spec === LIB_MODULE) {
        if (clause.name) info.libNamespaces.add(clause.name.text);
        if (nb && ts.isNamespaceImport(nb)) info.libNamespaces.add(nb.name.text);
        if (nb && ts.isNamedImports(nb)) for (const el of nb.elements) info.libNamed.set(el.name.text, (el.propertyName ?? el.name).text);
      } else if (sib && nb && ts.isNamedImports(nb)) {
        for (const el of nb.elements) info.siblingImports.set(el.name.text, [sib, (el.propertyName ?? el.name).text]);
      }
    }
  }
  const className = (n: ts.Node): string | null => {
    for (let p: ts.Node | undefined = n.parent; p; p = p.parent) {
      if ((ts.isClassDeclaration(p) || ts.isClassExpression(p)) && p.name) return p.name.text;
    }
    return null;
  };
  const visit = (n: ts.Node): void => {
    if (ts.isClassDeclaration(n) && n.name) info.classes.add(n.name.text);
    if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isGetAccessor(n) || ts.isSetAccessor(n)) && n.name) {
      const short = n.name.getText(sf);
      const cls = ts.isFunctionDeclaration(n) ? null : className(n);
      add(cls ? `${cls}.${short}` : short, short, n.body);
    } else if (ts.isConstructorDeclaration(n)) {
      const cls = className(n);
      add(cls ? `${cls}.constructor` : "constructor", "constructor", n.body);
    } else if ((ts.isVariableDeclaration(n) || ts.isPropertyDeclaration(n) || ts.isPropertyAssignment(n)) && n.initializer) {
      const init = n.initializer;
      const short = n.name.getText(sf);
      if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) {
        const cls = ts.isPropertyDeclaration(n) ? className(n) : null;
        add(cls ? `${cls}.${short}` : short, short, init.body);
      } else if (ts.isVariableDeclaration(n) && ts.isObjectBindingPattern(n.name)) {
        // const { a, b: c } = lib: naming a or c follows the initializer (which names the library's a and b).
        for (const el of n.name.elements) if (ts.isIdentifier(el.name)) info.variables.set(el.name.text, init);
      } else if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name)) {
        info.variables.set(n.name.text, init);
        if (n.parent && ts.isVariableDeclarationList(n.parent) && n.parent.flags & ts.NodeFlags.Const) info.constants.set(n.name.text, init);
      } else if (ts.isPropertyDeclaration(n)) {
        info.variables.set(short, init);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return info;
}

// Every test of a submission asks about the same few files: their analyses are kept (a few at a time).
const cache = new Map<string, FileInfo>();
function analyseCached(file: string, source: string, files: Set<string>): FileInfo {
  const key = `${file}\u0000${[...files].sort().join(",")}\u0000${source}`;
  let info = cache.get(key);
  if (!info) {
    info = analyse(file, source, files);
    if (cache.size >= 16) cache.delete(cache.keys().next().value!);
    cache.set(key, info);
  }
  return info;
}

/** The constant string value of an expression (literals, `+`, templates and const names of them), or null. */
export function constantString(e: ts.Expression, constants: Map<string, ts.Expression>, depth = 0): string | null {
  if (depth > 20) return null;
  if (ts.isStringLiteralLike(e)) return e.text;
  if (ts.isNumericLiteral(e)) return String(Number(e.text));
  if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isNonNullExpression(e)) {
    return constantString(e.expression, constants, depth + 1);
  }
  if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    const a = constantString(e.left, constants, depth + 1);
    const b = a === null ? null : constantString(e.right, constants, depth + 1);
    return a === null || b === null ? null : a + b;
  }
  if (ts.isTemplateExpression(e)) {
    let out = e.head.text;
    for (const span of e.templateSpans) {
      const v = constantString(span.expression, constants, depth + 1);
      if (v === null) return null;
      out += v + span.literal.text;
    }
    return out;
  }
  if (ts.isIdentifier(e)) {
    const init = constants.get(e.text);
    return init ? constantString(init, constants, depth + 1) : null;
  }
  return null;
}

const opaque = new Set(["eval", "Function", "globalThis", "Reflect", "require", "module", "exports"]);

/** True when `n` is the name being declared (not a reference). */
function isDeclarationName(n: ts.Identifier): boolean {
  const p = n.parent;
  return (
    ((ts.isFunctionDeclaration(p) ||
      ts.isMethodDeclaration(p) ||
      ts.isPropertyDeclaration(p) ||
      ts.isVariableDeclaration(p) ||
      ts.isParameter(p) ||
      ts.isClassDeclaration(p) ||
      ts.isPropertyAssignment(p) ||
      ts.isGetAccessor(p) ||
      ts.isSetAccessor(p) ||
      ts.isBindingElement(p) ||
      ts.isImportSpecifier(p) ||
      ts.isNamespaceImport(p) ||
      ts.isImportClause(p) ||
      ts.isPropertySignature(p) ||
      ts.isMethodSignature(p)) &&
      (p as { name?: ts.Node }).name === n) ||
    (ts.isPropertyAccessExpression(p) && p.name === n) ||
    (ts.isQualifiedName(p) && p.right === n) ||
    ts.isTypeReferenceNode(p) ||
    (ts.isImportSpecifier(p) && p.propertyName === n) ||
    (ts.isBindingElement(p) && p.propertyName === n)
  );
}

/**
 * Everything reachable from `entry` (a function name, or `Class.method`) in `file` of `sources`. Returns
 * null when the entry is not found.
 */
export function reach(sources: Map<string, string>, file: string, entry: string, stopAt: ReadonlySet<string> = new Set()): Reached | null {
  const names = new Set(sources.keys());
  const infos = new Map<string, FileInfo>();
  const infoOf = (f: string): FileInfo | null => {
    if (!sources.has(f)) return null;
    let i = infos.get(f);
    if (!i) {
      i = analyseCached(f, sources.get(f)!, names);
      infos.set(f, i);
    }
    return i;
  };
  const start = infoOf(file)?.functions.get(entry);
  if (!start || start.length === 0) return null;
  const out: Reached = { functions: [], libUses: [], unresolved: [], recursion: [] };
  const seen = new Set<ts.Node>();
  const seenVars = new Set<ts.Node>();
  const onStack = new Set<FunctionInfo>();

  const libUse = (name: string, node: ts.Node, where: string): void => {
    out.libUses.push({ name, line: lineOf(node), where });
  };

  /** Names declared inside a function (parameters, variables, inner functions): they shadow the file's. */
  const localsOf = (root: ts.Node): Set<string> => {
    const out = new Set<string>();
    const fn = root.parent && ts.isFunctionLike(root.parent) ? root.parent : null;
    const addName = (name: ts.BindingName): void => {
      if (ts.isIdentifier(name)) out.add(name.text);
      else for (const el of name.elements) if (!ts.isOmittedExpression(el)) addName(el.name);
    };
    for (const p of fn?.parameters ?? []) addName(p.name);
    const visit = (n: ts.Node): void => {
      if (ts.isVariableDeclaration(n)) addName(n.name);
      else if (ts.isParameter(n)) addName(n.name);
      else if (ts.isFunctionDeclaration(n) && n.name) out.add(n.name.text);
      else if (ts.isCatchClause(n) && n.variableDeclaration) addName(n.variableDeclaration.name);
      ts.forEachChild(n, visit);
    };
    if (fn) visit(root);
    return out;
  };

  const visitCode = (info: FileInfo, root: ts.Node, where: string): void => {
    const locals = localsOf(root);
    const follow = (fns: FunctionInfo[] | undefined): void => {
      for (const fn of fns ?? []) inspect(fn);
    };
    const followName = (name: string, node: ts.Node): void => {
      if (info.libNamed.has(name)) libUse(info.libNamed.get(name)!, node, where);
      else if (info.siblingImports.has(name)) {
        const [sib, exported] = info.siblingImports.get(name)!;
        const si = infoOf(sib);
        if (si) {
          if (si.libNamed.has(exported)) libUse(si.libNamed.get(exported)!, node, `${where} (through ${sib})`);
          follow(si.functions.get(exported));
          if (si.classes.has(exported)) for (const [k, fns] of si.functions) if (k.startsWith(`${exported}.`)) follow(fns);
          const v = si.variables.get(exported);
          if (v && !seenVars.has(v)) {
            seenVars.add(v);
            visitCode(si, v, `${where} (through ${sib})`);
          }
        }
      } else {
        follow(info.functions.get(name));
        if (info.classes.has(name)) for (const [k, fns] of info.functions) if (k.startsWith(`${name}.`)) follow(fns);
        const v = info.variables.get(name);
        if (v && !seenVars.has(v)) {
          seenVars.add(v);
          visitCode(info, v, where);
        }
      }
    };
    const visit = (n: ts.Node): void => {
      if (ts.isIdentifier(n) && !isDeclarationName(n)) {
        if (info.libNamespaces.has(n.text)) {
          const p = n.parent;
          if (ts.isPropertyAccessExpression(p) && p.expression === n) libUse(p.name.text, p, where);
          else if (ts.isElementAccessExpression(p) && p.expression === n) {
            const key = constantString(p.argumentExpression, info.constants);
            if (key === null) out.unresolved.push(`a computed name on the library at line ${lineOf(p)}${where}, which cannot be resolved`);
            else libUse(key, p, where);
          } else if (ts.isVariableDeclaration(p) && ts.isObjectBindingPattern(p.name) && p.initializer === n) {
            for (const el of p.name.elements) {
              const key = el.propertyName ? (ts.isIdentifier(el.propertyName) || ts.isStringLiteral(el.propertyName) ? el.propertyName.text : null) : ts.isIdentifier(el.name) ? el.name.text : null;
              if (key === null) out.unresolved.push(`a computed name on the library at line ${lineOf(p)}${where}, which cannot be resolved`);
              else libUse(key, p, where);
            }
          } else out.unresolved.push(`the library namespace ${n.text} used as a value at line ${lineOf(n)}${where}`);
        } else if (opaque.has(n.text) && !info.functions.has(n.text) && !info.variables.has(n.text)) {
          out.unresolved.push(`a use of ${n.text} at line ${lineOf(n)}${where}, which cannot be followed`);
        } else if (!locals.has(n.text)) followName(n.text, n);
      } else if (ts.isPropertyAccessExpression(n)) {
        // this.f, super.f, obj.f: any method or function-valued property of that name in the file.
        follow(info.functions.get(n.name.text));
      } else if (ts.isElementAccessExpression(n)) {
        const recv = n.expression;
        const isSelf = recv.kind === ts.SyntaxKind.ThisKeyword || recv.kind === ts.SyntaxKind.SuperKeyword;
        const key = constantString(n.argumentExpression, info.constants);
        if (key !== null && (isSelf || !ts.isNumericLiteral(n.argumentExpression))) follow(info.functions.get(key));
        else if (key === null && isSelf) out.unresolved.push(`a computed member name at line ${lineOf(n)}${where}, which cannot be resolved`);
      } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
        out.unresolved.push(`a dynamic import at line ${lineOf(n)}${where}`);
      }
      ts.forEachChild(n, visit);
    };
    visit(root);
  };

  const inspect = (fn: FunctionInfo): void => {
    if (stopAt.has(fn.short) && out.functions.length > 0) return;
    if (onStack.has(fn)) {
      out.recursion.push(fn.name);
      return;
    }
    if (seen.has(fn.body)) return;
    seen.add(fn.body);
    onStack.add(fn);
    out.functions.push(fn);
    const isEntry = out.functions.length === 1;
    const where = isEntry ? "" : ` (in ${fn.name}${fn.file === file ? "" : ` of ${fn.file}`}, which it calls)`;
    visitCode(infoOf(fn.file)!, fn.body, where);
    onStack.delete(fn);
  };
  for (const fn of start) inspect(fn);
  out.recursion = [...new Set(out.recursion)];
  return out;
}

/** Where `exercise` is defined among `files` of the submission (the first file that has it), or null. */
export function fileOfExercise(sources: Map<string, string>, files: string[], exercise: string): string | null {
  for (const f of files) {
    const src = sources.get(f);
    if (src === undefined) continue;
    const short = exercise.includes(".") ? exercise.slice(exercise.lastIndexOf(".") + 1) : exercise;
    if (!src.includes(short)) continue;
    if (reach(new Map([[f, src]]), f, exercise)) return f;
  }
  return null;
}

/**
 * Calls by which `exercise` hands its work to the library: uses of the `equivalents` (lib exports that do
 * the exercise's work) anywhere it reaches, and anything it reaches that cannot be resolved. Empty when the
 * exercise does its own work (or is not found: the tests fail it then).
 */
export function delegations(sources: Map<string, string>, file: string, exercise: string, equivalents: string[]): string[] {
  let r: Reached | null;
  try {
    r = reach(sources, file, exercise);
  } catch {
    return [`${exercise} could not be analysed (the file is nested too deeply)`];
  }
  if (!r) return [];
  const banned = new Set(equivalents);
  const found = r.libUses.filter((u) => banned.has(u.name)).map((u) => `${u.name} from the library at line ${u.line}${u.where}`);
  return [...new Set([...found, ...r.unresolved])];
}

/** Array methods that loop over their receiver. */
export const ITERATION_METHODS = new Set([
  "forEach",
  "map",
  "reduce",
  "reduceRight",
  "filter",
  "flatMap",
  "some",
  "every",
  "find",
  "findIndex",
  "findLast",
  "findLastIndex",
]);

/**
 * What breaks a "no loops" rule in `entry` and everything it reaches in its file: loop statements, array
 * iteration (not the library's elementwise tensor functions), Array.from with a mapping function, uses of
 * `forbidden` functions (such as the naive version), recursion and anything unresolved. Empty when it
 * follows the rule; null when the entry is not in the source.
 */
export function loopViolations(source: string, file: string, entry: string, forbidden: string[] = []): string[] | null {
  const r = reach(new Map([[file, source]]), file, entry, new Set(forbidden));
  if (!r) return null;
  const info = analyseCached(file, source, new Set([file]));
  const found: string[] = [];
  for (const fn of r.functions) {
    const where = fn === r.functions[0] ? "" : ` (in ${fn.short}, which it calls)`;
    const visit = (n: ts.Node): void => {
      if (ts.isForStatement(n) || ts.isForOfStatement(n) || ts.isForInStatement(n)) found.push(`a for loop at line ${lineOf(n)}${where}`);
      else if (ts.isWhileStatement(n) || ts.isDoStatement(n)) found.push(`a while loop at line ${lineOf(n)}${where}`);
      else if (ts.isCallExpression(n)) {
        const c = n.expression;
        if (ts.isPropertyAccessExpression(c) && ITERATION_METHODS.has(c.name.text)) {
          const recv = c.expression;
          if (!(ts.isIdentifier(recv) && info.libNamespaces.has(recv.text))) {
            found.push(`a call to .${c.name.text}(...) at line ${lineOf(n)}${where}, which loops over an array`);
          }
        }
        if (ts.isPropertyAccessExpression(c) && c.name.text === "from" && ts.isIdentifier(c.expression) && c.expression.text === "Array" && n.arguments.length > 1) {
          found.push(`Array.from with a mapping function at line ${lineOf(n)}${where}, which loops`);
        }
      }
      if (ts.isIdentifier(n) && forbidden.includes(n.text) && !isDeclarationName(n)) found.push(`a use of ${n.text} at line ${lineOf(n)}${where}`);
      if (ts.isPropertyAccessExpression(n) && forbidden.includes(n.name.text)) found.push(`a use of ${n.name.text} at line ${lineOf(n)}${where}`);
      if (ts.isElementAccessExpression(n)) {
        const key = constantString(n.argumentExpression, info.constants);
        if (key !== null && forbidden.includes(key)) found.push(`a use of ${key} at line ${lineOf(n)}${where}`);
      }
      ts.forEachChild(n, visit);
    };
    visit(fn.body);
  }
  for (const f of r.recursion) found.push(`recursion through ${f.includes(".") ? f.slice(f.indexOf(".") + 1) : f}`);
  found.push(...r.unresolved);
  return [...new Set(found)];
}
