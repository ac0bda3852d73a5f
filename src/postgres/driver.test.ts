/**
 * What happens without the optional peers, and what the test harness does without a server: the
 * entry imports without `pg` and `pg-copy-streams`, the first connect says how to install them,
 * and the Postgres tests skip with one message outside CI and fail in CI.
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runScript } from '../testing/jitless.js';
import { startPostgres } from '../testing/postgres.js';

/** A preload that makes `name` impossible to find, as when it is not installed (driver.ts loads it with require). */
function missing(name: string): string {
  const source = `import Module from 'node:module';
    const resolveFilename = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      if (request === ${JSON.stringify(name)}) throw Object.assign(new Error("Cannot find module '${name}'"), { code: 'MODULE_NOT_FOUND' });
      return resolveFilename.call(this, request, ...rest);
    };`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

describe('pg and pg-copy-streams, loaded on the first connect', () => {
  it.each(['pg', 'pg-copy-streams'])(
    'imports the entry without %s, and the first connect says how to install it',
    (name) => {
      const script = `
      const entry = await import('./src/postgres/index.ts');
      const out = { entry: typeof entry.PgHashStore, version: entry.PG_SCHEMA_VERSION };
      out.connect = await entry.PgHashStore.connect('postgresql://127.0.0.1:1/x').then(() => 'connected', (error) => ({ code: error.code, message: error.message }));
      console.log(JSON.stringify(out));`;
      const out = runScript(script, [], ['--import', missing(name)]) as {
        entry: string;
        connect: { code: string; message: string };
      };
      expect(out.entry).toBe('function');
      expect(out.connect.code).toBe('ERR_MISSING_DEPENDENCY');
      expect(out.connect.message).toContain(`${name} is not installed`);
      expect(out.connect.message).toContain('npm install pg pg-copy-streams');
    },
  );
});

describe('the test server, when none can start', () => {
  const root = mkdtempSync(join(tmpdir(), 'hashwarden-no-pg-'));
  mkdirSync(join(root, '15', 'bin'), { recursive: true }); // a version folder without initdb
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const ci = process.env.CI;
  afterEach(() => {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
    vi.restoreAllMocks();
  });

  it('skips outside CI, saying why once', async () => {
    delete process.env.CI;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(await startPostgres(root)).toBeUndefined();
    expect(await startPostgres(root)).toBeUndefined();
    expect(warn.mock.calls.map((call) => String(call[0]))).toEqual([
      expect.stringMatching(/^skipped: needs a PostgreSQL server .*no .*\/\*\/bin\/initdb/),
    ]);
  });

  it('throws in CI, which must run the Postgres tests', async () => {
    process.env.CI = 'true';
    await expect(startPostgres(root)).rejects.toThrow(/CI must run the PostgreSQL tests/);
  });
});
