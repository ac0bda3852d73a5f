/**
 * The public surface, held still: each package entry's exported names (values and types, as the
 * TypeScript compiler sees them) must equal the checked-in src/exports.json, so that an export is
 * added or removed only on purpose (update the file in the same change), and each must have its
 * row in docs/api.md's export index.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The package entries, by the specifier a user imports, with their source. */
const ENTRIES = {
  hashwarden: 'src/index.ts',
  'hashwarden/image': 'src/image/index.ts',
  'hashwarden/sqlite': 'src/store/index.ts',
  'hashwarden/postgres': 'src/postgres/index.ts',
  'hashwarden/express': 'src/express/index.ts',
  'hashwarden/fastify': 'src/fastify/index.ts',
  'hashwarden/web': 'src/web/index.ts',
  'hashwarden/server': 'src/server/index.ts',
  'hashwarden/exchanges': 'src/exchanges/index.ts',
  'hashwarden/seen': 'src/seen/index.ts',
  'hashwarden/video': 'src/video/index.ts',
} as const;
type Entry = keyof typeof ENTRIES;

interface Surface {
  readonly values: string[];
  readonly types: string[];
}

/** Each entry's exported names, sorted: a name is a value when it exists at run time (a class is). */
function surfaces(): Record<Entry, Surface> {
  const files = Object.values(ENTRIES).map((file) => join(root, file));
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const out = {} as Record<Entry, Surface>;
  for (const [entry, file] of Object.entries(ENTRIES) as [Entry, string][]) {
    const source = program.getSourceFile(join(root, file));
    const module = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    if (module === undefined) throw new Error(`${file}: not a module the compiler can read`);
    const values: string[] = [];
    const types: string[] = [];
    for (const symbol of checker.getExportsOfModule(module)) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      (target.flags & ts.SymbolFlags.Value ? values : types).push(symbol.name);
    }
    out[entry] = { values: values.sort(), types: types.sort() };
  }
  return out;
}

describe('public API', () => {
  let actual: Record<Entry, Surface>;
  beforeAll(() => {
    actual = surfaces();
  }, 120_000);

  it('exports exactly the names listed in src/exports.json from each entry', () => {
    const expected = JSON.parse(readFileSync(join(root, 'src', 'exports.json'), 'utf8')) as Record<Entry, Surface>;
    expect(actual).toEqual(expected);
  });

  it('gives every export its row in the export index of docs/api.md', () => {
    const api = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
    const rows = new Set([...api.matchAll(/^\| `([A-Za-z_$][\w$]*)`/gm)].map((m) => m[1]));
    const missing = Object.entries(actual).flatMap(([entry, { values, types }]) =>
      [...values, ...types].filter((name) => !rows.has(name)).map((name) => `${entry}: ${name}`),
    );
    expect(missing).toEqual([]);
  });
});
