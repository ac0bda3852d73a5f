import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { HashStore, STORE_SCHEMA_VERSION } from './index.js';
import { runScript } from '../testing/jitless.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hashwarden-driver-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A preload that makes better-sqlite3 unloadable. `import` goes through the resolve hook given to
 * `register()`; `require()` (how driver.ts loads it) does not on Node 20, so the CommonJS resolver
 * is wrapped too. `missing`: the package cannot be found, as when it is not installed. `broken`:
 * it is found but fails to load, as a native binding built for another Node does.
 */
function preload(mode: 'missing' | 'broken'): string {
  const hook = `export async function resolve(specifier, context, next) {
    if (specifier === 'better-sqlite3') throw Object.assign(new Error("Cannot find package 'better-sqlite3'"), { code: 'ERR_MODULE_NOT_FOUND' });
    return next(specifier, context);
  }`;
  const source = `import Module, { register } from 'node:module';
    ${mode === 'missing' ? `register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});` : ''}
    const resolveFilename = Module._resolveFilename;
    const load = Module._load;
    Module._resolveFilename = function (request, ...rest) {
      if (request === 'better-sqlite3' && ${JSON.stringify(mode)} === 'missing') throw Object.assign(new Error("Cannot find module 'better-sqlite3'"), { code: 'MODULE_NOT_FOUND' });
      return resolveFilename.call(this, request, ...rest);
    };
    Module._load = function (request, ...rest) {
      if (request === 'better-sqlite3' && ${JSON.stringify(mode)} === 'broken') throw Object.assign(new Error('was compiled against a different Node.js version'), { code: 'ERR_DLOPEN_FAILED' });
      return load.call(this, request, ...rest);
    };`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/** What a child that cannot load better-sqlite3 saw, as JSON. */
function runWithout(mode: 'missing' | 'broken', store: string, fresh: string): Record<string, unknown> {
  const script = `
    const failure = (error) => ({ code: error.code, message: error.message, cause: error.cause?.code });
    const core = await import('./src/index.ts');
    const sqlite = await import('./src/store/index.ts');
    const out = { core: typeof core.Matcher, sqlite: [typeof sqlite.HashStore, sqlite.STORE_SCHEMA_VERSION] };
    try { sqlite.HashStore.open(${JSON.stringify(fresh)}); out.open = 'opened'; } catch (error) { out.open = failure(error); }
    out.matcher = await core.Matcher.open(${JSON.stringify(store)}).then(() => 'opened', failure);
    const { runCli } = await import('./src/cli/run.ts');
    let err = '';
    out.cli = { status: await runCli(['lists', '--db', ${JSON.stringify(store)}], { out: () => {}, err: (s) => { err += s; }, isTTY: false }) };
    out.cli.err = err;
    console.log(JSON.stringify(out));`;
  return runScript(script, [], ['--import', preload(mode)]) as Record<string, unknown>;
}

describe('better-sqlite3, loaded on the first open', () => {
  // A real store, made here where better-sqlite3 loads, for the children to fail to open.
  const store = join(dir, 'hashes.db');
  HashStore.open(store).close();

  it('imports without better-sqlite3, and says to install it when a store is opened', () => {
    const fresh = join(dir, 'missing.db');
    const out = runWithout('missing', store, fresh);
    expect(out.core).toBe('function');
    expect(out.sqlite).toEqual(['function', STORE_SCHEMA_VERSION]);
    const install = expect.stringContaining('npm install better-sqlite3') as unknown as string;
    expect(out.open).toMatchObject({ code: 'ERR_MISSING_DEPENDENCY', message: install });
    expect(out.matcher).toMatchObject({ code: 'ERR_MISSING_DEPENDENCY', message: install });
    const cli = out.cli as { status: number; err: string };
    expect(cli.status).not.toBe(0);
    expect(cli.err).toContain('ERR_MISSING_DEPENDENCY');
    expect(cli.err).toContain('npm install better-sqlite3');
    // Refused before anything was written: no empty file left where the store would have been.
    expect(existsSync(fresh)).toBe(false);
  });

  it('reports an installed better-sqlite3 that fails to load as ERR_MODULE_LOAD, with the cause', () => {
    const fresh = join(dir, 'broken.db');
    const out = runWithout('broken', store, fresh);
    expect(out.sqlite).toEqual(['function', STORE_SCHEMA_VERSION]);
    expect(out.open).toMatchObject({ code: 'ERR_MODULE_LOAD', cause: 'ERR_DLOPEN_FAILED' });
    expect(out.matcher).toMatchObject({ code: 'ERR_MODULE_LOAD', cause: 'ERR_DLOPEN_FAILED' });
    expect(existsSync(fresh)).toBe(false);
  });
});

/** Every module the declaration file `file` imports, directly or through the package's other declaration files. */
function declarationImports(file: string, seen = new Set<string>()): Set<string> {
  const specifiers = new Set<string>();
  if (seen.has(file)) return specifiers;
  seen.add(file);
  for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from |import\()['"]([^'"]+)['"]/g)) {
    if (specifier === undefined) continue;
    if (!specifier.startsWith('.')) specifiers.add(specifier);
    else
      for (const s of declarationImports(resolve(dirname(file), specifier.replace(/\.js$/, '.d.ts')), seen))
        specifiers.add(s);
  }
  return specifiers;
}

// The built package's declarations: tsc writes them on `npm run build`, which `npm test` runs first.
const declarations = join(ROOT, 'dist/store/index.d.ts');
it.skipIf(!existsSync(declarations))(
  "declares hashwarden/sqlite without better-sqlite3's types, which users do not install",
  () => {
    expect([...declarationImports(declarations)].filter((s) => s.includes('better-sqlite3'))).toEqual([]);
  },
);
