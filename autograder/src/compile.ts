import { writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";

/** The outcome of compiling one submission file to JavaScript. */
export interface CompiledFile {
  name: string;
  ok: boolean;
  /** Syntax errors that stop the file from loading, as `knn.ts:12:3 message`. */
  errors: string[];
}

function posText(file: string, sf: ts.SourceFile | undefined, start: number | undefined): string {
  if (!sf || start === undefined) return file;
  const { line, character } = sf.getLineAndCharacterOfPosition(start);
  return `${file}:${line + 1}:${character + 1}`;
}

/**
 * Rewrites import specifiers of a submission file: the library and the ndarray packages point at the
 * runtime's bundles, `./x`, `./x.js` and `./x.ts` point at the compiled sibling `./x.js`.
 */
function specifierRewriter(modules: Record<string, string>, siblings: Set<string>): ts.TransformerFactory<ts.SourceFile> {
  const map = (spec: string): string => {
    if (Object.prototype.hasOwnProperty.call(modules, spec)) return pathToFileURL(modules[spec]).href;
    const m = /^\.\/([A-Za-z0-9_.-]+?)(\.ts|\.js|\.mjs)?$/.exec(spec);
    if (m && siblings.has(`${m[1]}.ts`)) return `./${m[1]}.js`;
    return spec;
  };
  return (ctx) => {
    const f = ctx.factory;
    const visit = (node: ts.Node): ts.Node => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        return f.updateImportDeclaration(
          node,
          node.modifiers,
          node.importClause,
          f.createStringLiteral(map(node.moduleSpecifier.text)),
          node.attributes,
        );
      }
      if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        return f.updateExportDeclaration(
          node,
          node.modifiers,
          node.isTypeOnly,
          node.exportClause,
          f.createStringLiteral(map(node.moduleSpecifier.text)),
          node.attributes,
        );
      }
      if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments.length >= 1 &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        const [first, ...rest] = node.arguments;
        return f.updateCallExpression(node, node.expression, node.typeArguments, [
          f.createStringLiteral(map((first as ts.StringLiteral).text)),
          ...rest.map((a) => ts.visitNode(a, visit) as ts.Expression),
        ]);
      }
      return ts.visitEachChild(node, visit, ctx);
    };
    return (sf) => ts.visitNode(sf, visit) as ts.SourceFile;
  };
}

/**
 * Compiles the submission's TypeScript files to ES modules in `outDir` without type checking (type errors
 * must not stop grading). Only syntax errors make a file fail, with a message the student can act on.
 */
export function compileSubmission(
  sources: Map<string, string>,
  outDir: string,
  modules: Record<string, string>,
): CompiledFile[] {
  writeFileSync(path.join(outDir, "package.json"), '{ "type": "module" }\n');
  const siblings = new Set(sources.keys());
  const results: CompiledFile[] = [];
  for (const [name, source] of sources) {
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
      transformers: { before: [specifierRewriter(modules, siblings)] },
    });
    const diags = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    const errors = diags.slice(0, 10).map((d) => `${posText(name, d.file, d.start)} ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
    if (errors.length === 0) writeFileSync(path.join(outDir, name.replace(/\.ts$/, ".js")), out.outputText);
    results.push({ name, ok: errors.length === 0, errors });
  }
  return results;
}
