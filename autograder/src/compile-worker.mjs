// Compiles submission files to JavaScript in a worker thread with its own heap and stack limits, so that a
// file built to exhaust the compiler (an expression nested 20,000 deep) costs that file, not the grader.
// Plain JavaScript: it must load in a worker without any TypeScript loader.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parentPort, workerData } from "node:worker_threads";
import { createRequire } from "node:module";

const { files, modules, root } = workerData;
const ts = createRequire(path.join(root, "package.json"))("typescript");
const siblings = new Set(files.map((f) => f.name));

function map(spec) {
  if (Object.prototype.hasOwnProperty.call(modules, spec)) return pathToFileURL(modules[spec]).href;
  const m = /^\.\/([A-Za-z0-9_.-]+?)(\.ts|\.js|\.mjs)?$/.exec(spec);
  if (m && siblings.has(`${m[1]}.ts`)) return `./${m[1]}.js`;
  return spec;
}

// Rewrites import specifiers: the library and the ndarray packages point at the runtime's bundles,
// `./x`, `./x.js` and `./x.ts` at the compiled sibling `./x.js`.
function rewriter(ctx) {
  const f = ctx.factory;
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      return f.updateImportDeclaration(node, node.modifiers, node.importClause, f.createStringLiteral(map(node.moduleSpecifier.text)), node.attributes);
    }
    if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      return f.updateExportDeclaration(node, node.modifiers, node.isTypeOnly, node.exportClause, f.createStringLiteral(map(node.moduleSpecifier.text)), node.attributes);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments.length >= 1 && ts.isStringLiteral(node.arguments[0])) {
      const [first, ...rest] = node.arguments;
      return f.updateCallExpression(node, node.expression, node.typeArguments, [f.createStringLiteral(map(first.text)), ...rest.map((a) => ts.visitNode(a, visit))]);
    }
    return ts.visitEachChild(node, visit, ctx);
  };
  return (sf) => ts.visitNode(sf, visit);
}

function posText(file, sf, start) {
  if (!sf || start === undefined) return file;
  const { line, character } = sf.getLineAndCharacterOfPosition(start);
  return `${file}:${line + 1}:${character + 1}`;
}

for (const { name, source } of files) {
  parentPort.postMessage({ started: name });
  try {
    const out = ts.transpileModule(source, {
      fileName: name,
      reportDiagnostics: true,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        inlineSourceMap: true,
        inlineSources: false,
        isolatedModules: true,
        useDefineForClassFields: true,
      },
      transformers: { before: [rewriter] },
    });
    const diags = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    const errors = diags.slice(0, 10).map((d) => `${posText(name, d.file, d.start)} ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
    parentPort.postMessage({ name, ok: errors.length === 0, errors, output: errors.length === 0 ? out.outputText : "" });
  } catch (e) {
    const why = e instanceof RangeError ? "it is nested too deeply for the compiler" : `the compiler failed (${e instanceof Error ? e.name : "error"})`;
    parentPort.postMessage({ name, ok: false, errors: [`${name} cannot be compiled: ${why}`], output: "" });
  }
}
