// A lib's entry point (libs/<lib>/src/index.ts) exports interfaces, tokens, modules and clients;
// its stores and repositories stay behind it, so other libs depend on the interface and Nest (or a
// factory the lib exports for tests) chooses the implementation. A barrel that exports a class
// named *Store or *Repository fails here. The barrels' exports are read with the TypeScript
// checker, so `export *` re-exports count too.
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '../../..');

// The one store class a barrel may export: unionfs' in-memory ContentStore, a real implementation
// (not a mock) that containers' and commits' specs use as their content store. Nothing may be added.
const KNOWN_EXCEPTIONS: Record<string, string[]> = {
  unionfs: ['MemoryContentStore'],
};

function exportedStoreClasses(): Record<string, string[]> {
  const barrels = readdirSync(path.join(root, 'libs'))
    .map((lib) => ({ lib, file: path.join(root, 'libs', lib, 'src', 'index.ts') }))
    .filter((b) => existsSync(b.file));
  const config = ts.readConfigFile(path.join(root, 'tsconfig.base.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram(
    barrels.map((b) => b.file),
    { ...options, noEmit: true, skipLibCheck: true, types: ['node'] },
  );
  const checker = program.getTypeChecker();
  const found: Record<string, string[]> = {};
  for (const { lib, file } of barrels) {
    const source = program.getSourceFile(file)!;
    const module = checker.getSymbolAtLocation(source);
    if (!module) continue;
    for (const exported of checker.getExportsOfModule(module)) {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (target.flags & ts.SymbolFlags.Class && /(Store|Repository)$/.test(exported.name)) (found[lib] ??= []).push(exported.name);
    }
  }
  for (const names of Object.values(found)) names.sort();
  return found;
}

describe('barrel exports', () => {
  jest.setTimeout(120_000);

  it('exports no store or repository class from any lib beyond the known exceptions', () => {
    expect(exportedStoreClasses()).toEqual(KNOWN_EXCEPTIONS);
  });
});
