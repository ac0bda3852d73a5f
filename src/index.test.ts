import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Imports `entry` of the built package in a fresh process, runs `then` (the module is `imported`),
 * and lists what of sharp, better-sqlite3, pg and the parsers of other programmes' files got loaded:
 * their JavaScript modules (CommonJS, or loaded with `require`, so they land in the require cache
 * even when imported from ESM) and any native library mapped into the process.
 */
function loadedAfterImport(entry: string, then = ''): string[] {
  const script = [
    `import { createRequire } from 'node:module';`,
    `const imported = await import(${JSON.stringify(entry)});`,
    then,
    `const modules = Object.keys(createRequire(import.meta.url).cache);`,
    `console.log(JSON.stringify([...modules, ...process.report.getReport().sharedObjects]));`,
  ].join('\n');
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  return (JSON.parse(out) as string[]).filter((path) =>
    /node_modules\/(sharp|@img|better-sqlite3|pg|pg-copy-streams|fast-xml-parser|@streamparser\/json)\/|libvips|better_sqlite3\.node/.test(
      path,
    ),
  );
}

describe('package entries', () => {
  beforeAll(() => {
    // `npm test` builds first; a bare `vitest run` may not have.
    if (!existsSync(join(root, 'dist', 'index.js'))) execFileSync('npm', ['run', 'build'], { cwd: root });
  }, 120_000);

  it('importing the core loads neither sharp, better-sqlite3 nor pg, nor the XML and JSON stream parsers', () => {
    expect(loadedAfterImport('hashwarden')).toEqual([]);
  });

  it('imports the XML and JSON stream parsers nowhere statically (an ES import never shows in the require cache)', () => {
    const files = readdirSync(join(root, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.js'),
    );
    const static_ = files.filter((f) =>
      /\bfrom\s*["'](fast-xml-parser|@streamparser\/json)["']/.test(readFileSync(join(root, 'dist', f), 'utf8')),
    );
    expect(static_).toEqual([]);
  });

  it('loads the XML and JSON stream parsers when an NCMEC or StopNCII list is first read', () => {
    const read = [
      `try { imported.parseList('<queryResult></queryResult>', { list: 'n', format: 'ncmec' }); } catch {}`,
      `try { imported.parseList('[]', { list: 's', format: 'stopncii' }); } catch {}`,
    ].join('\n');
    const loaded = loadedAfterImport('hashwarden', read);
    expect(loaded.some((path) => path.includes('node_modules/fast-xml-parser/'))).toBe(true);
    expect(loaded.some((path) => path.includes('node_modules/@streamparser/json/'))).toBe(true);
  });

  it('importing hashwarden/image loads sharp and libvips (so the check above can see them)', () => {
    const loaded = loadedAfterImport('hashwarden/image');
    expect(loaded.some((path) => path.includes('node_modules/sharp/'))).toBe(true);
    expect(loaded.some((path) => path.includes('libvips'))).toBe(true);
  });

  it('shares one HashwardenError class between the core and hashwarden/sqlite (one bundle, shared chunks)', () => {
    const script = [
      `import { HashwardenError } from 'hashwarden';`,
      `import { HashStore } from 'hashwarden/sqlite';`,
      `try { HashStore.open('/nonexistent-dir/x/store.db'); } catch (error) { console.log(JSON.stringify([error instanceof HashwardenError, error.code])); }`,
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([true, 'ERR_STORE']);
  });

  it('importing hashwarden/sqlite does not load better-sqlite3; opening a store does', () => {
    expect(loadedAfterImport('hashwarden/sqlite')).toEqual([]);
    const loaded = loadedAfterImport('hashwarden/sqlite', `imported.HashStore.open(':memory:').close();`);
    expect(loaded.some((path) => path.includes('node_modules/better-sqlite3/'))).toBe(true);
  });
});
