/**
 * Several writers on one PostgreSQL store at once: imports into the same lists from several
 * connections, and from two processes, run one after the other per list (an advisory lock), so
 * that nothing is lost or duplicated, versions are not skipped or repeated, and each import's
 * counts are its own.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListEntry } from '../lists/entry.js';
import { postgresTitle, usePostgres } from '../testing/postgres.js';
import { PgHashStore } from './index.js';
import { LOCK_SPACE } from './schema.js';

const server = usePostgres({ beforeAll, afterAll });

/** `n` entries of `list` with ids and hashes of their own, each tagged `prefix`. */
function entries(list: string, prefix: string, n: number): ListEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    list,
    id: `${prefix}-${i}`,
    algorithm: 'md5' as const,
    hash: createHash('md5').update(`${list}/${prefix}-${i}`).digest('hex'),
  }));
}

describe.skipIf(!server.available)(postgresTitle('PgHashStore: concurrent writers', server.available), () => {
  it('makes an import into a list wait while another transaction holds that list', async (t) => {
    if (!server.running()) return t.skip();
    const url = server.url();
    const store = await PgHashStore.connect(url);
    const holder = new pg.Client(url);
    await holder.connect();
    try {
      await store.importEntries(entries('demo', 'a', 1));
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_SPACE, 'demo']);
      let done = false;
      const importing = store.importEntries(entries('demo', 'b', 100)).then((summaries) => {
        done = true;
        return summaries;
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect([done, await store.count()]).toEqual([false, 1]);
      // Another list is not held up.
      await store.importEntries(entries('other', 'c', 1));
      await holder.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_SPACE, 'demo']);
      expect((await importing)[0]).toMatchObject({ added: 100, version: 2 });
      expect(await store.count({ list: 'demo' })).toBe(101);
    } finally {
      await holder.end();
      await store.close();
    }
  });

  it('runs four imports of two lists from four connections at once, losing and duplicating nothing', async (t) => {
    if (!server.running()) return t.skip();
    const url = server.url();
    const stores = await Promise.all(Array.from({ length: 4 }, () => PgHashStore.connect(url)));
    try {
      const results = await Promise.all(
        stores.map((store, i) => {
          // Half of them name the lists in the other order: locks taken in name order cannot deadlock.
          const lists = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
          const rows = lists.flatMap((list) => [
            ...entries(list, `w${i}`, 3000),
            { list, id: 'shared', algorithm: 'md5' as const, hash: MD5_SHARED, label: `writer-${i}` },
          ]);
          return store.importEntries(rows);
        }),
      );
      for (const list of ['a', 'b']) {
        const summaries = results.map((r) => r.find((s) => s.list === list)).filter((s) => s !== undefined);
        // Each import counted its own rows: its 3,000, and the shared id added once, then updated.
        expect(summaries.map((s) => s.version).sort()).toEqual([1, 2, 3, 4]);
        const byVersion = summaries.sort((x, y) => x.version - y.version);
        expect(byVersion.map((s) => [s.added, s.updated, s.unchanged])).toEqual([
          [3001, 0, 0],
          [3000, 1, 0],
          [3000, 1, 0],
          [3000, 1, 0],
        ]);
        expect(await stores[0]?.count({ list })).toBe(12_001);
        expect((await stores[0]?.history(list))?.map((r) => r.version)).toEqual([1, 2, 3, 4]);
      }
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it('runs imports from two processes at once into the same list, losing and duplicating nothing', async (t) => {
    if (!server.running()) return t.skip();
    const url = server.url();
    const module = new URL('./index.ts', import.meta.url).href;
    const script = `
      const { PgHashStore } = await import(${JSON.stringify(module)});
      const { createHash } = await import('node:crypto');
      const [url, prefix] = process.argv.slice(-2);
      const store = await PgHashStore.connect(url);
      const rows = Array.from({ length: 5000 }, (_, i) => ({ op: 'add', entry: { list: 'demo', id: prefix + i, algorithm: 'sha1', hash: createHash('sha1').update(prefix + i).digest('hex') } }));
      const result = await store.importRows([{ rows: rows.slice(0, 2500) }, { rows: rows.slice(2500) }]);
      console.log(JSON.stringify(result.summaries));
      await store.close();`;
    const run = promisify(execFile);
    await (await PgHashStore.connect(url)).close(); // the schema, made before the race
    const outputs = await Promise.all(
      ['p', 'q'].map((prefix) =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', url, prefix], {
          timeout: 60_000,
        }),
      ),
    );
    const summaries = outputs.map((o) => (JSON.parse(o.stdout) as { added: number; version: number }[])[0]);
    expect(summaries.map((s) => [s?.version, s?.added]).sort()).toEqual([
      [1, 5000],
      [2, 5000],
    ]);
    const store = await PgHashStore.connect(url);
    try {
      expect(await store.count({ list: 'demo' })).toBe(10_000);
    } finally {
      await store.close();
    }
  }, 60_000);
});

const MD5_SHARED = 'ffffffffffffffffffffffffffffffff';
