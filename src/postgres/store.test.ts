/**
 * Tests of the PostgreSQL store against a real server (src/testing/postgres.ts): the SQLite
 * store's scenarios (src/store/store.test.ts) with the same expectations — round trips, upserts
 * and versions, deltas, replaces refusing to empty a list, repeats, policy, history, checkpoints,
 * all-or-nothing imports — plus what only a server has: the schema checked on connect, credentials
 * kept out of messages, and imports from several connections at once.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ImportRow } from '../store/types.js';
import { add, batches, entry, MD5_A, MD5_B, rejected, remove, SHA1 } from '../testing/store-rows.js';
import { postgresTitle, usePostgres } from '../testing/postgres.js';
import { PgHashStore } from './index.js';

async function all<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterator) out.push(value);
  return out;
}

const pg = usePostgres({ beforeAll, afterAll });
const available = pg.available;
const running = pg.running;
let open: PgHashStore[] = [];
afterEach(async () => {
  for (const store of open) await store.close();
  open = [];
});

/** A store in a database of its own, closed after the test. */
async function fresh(
  options?: Parameters<typeof PgHashStore.connect>[1],
): Promise<{ store: PgHashStore; url: string }> {
  const url = pg.url();
  const store = await PgHashStore.connect(url, options);
  open.push(store);
  return { store, url };
}
async function freshStore(): Promise<PgHashStore> {
  return (await fresh()).store;
}
async function connect(url: string): Promise<PgHashStore> {
  const store = await PgHashStore.connect(url);
  open.push(store);
  return store;
}

describe.skipIf(!available)(postgresTitle('PgHashStore: import and read back', available), () => {
  it('stores entries and reads them back equal, label and metadata included', async (t) => {
    if (!running()) return t.skip();
    const store = await freshStore();
    const stored = [
      entry({ id: 'b', label: 'csam', metadata: { case: 7, note: 'tab\there\nnewline \\ backslash' } }),
      entry({ id: 'a', algorithm: 'sha1', hash: SHA1 }),
      entry({ id: 'c', list: 'other', hash: MD5_B }),
    ];
    expect(await store.importEntries(stored, { source: 'first.csv' })).toEqual([
      { list: 'demo', added: 2, updated: 0, unchanged: 0, removed: 0, version: 1, mode: 'merge' },
      { list: 'other', added: 1, updated: 0, unchanged: 0, removed: 0, version: 1, mode: 'merge' },
    ]);
    expect(await all(store.entries())).toEqual([stored[1], stored[0], stored[2]]);
    expect(await all(store.entries({ list: 'demo', algorithm: 'md5' }))).toEqual([stored[0]]);
    expect(await store.count({ list: 'demo' })).toBe(2);
    expect(await store.entry('demo', 'b')).toEqual(stored[0]);
    expect(await store.entry('demo', 'zzz')).toBeUndefined();
  });

  it('counts a re-import as unchanged, a changed label or hash as an update, and bumps the version', async (t) => {
    if (!running()) return t.skip();
    const store = await freshStore();
    await store.importEntries([entry({ id: '1' }), entry({ id: '2' })]);
    expect(await store.importEntries([entry({ id: '1' }), entry({ id: '2', label: 'review' })])).toEqual([
      { list: 'demo', added: 0, updated: 1, unchanged: 1, removed: 0, version: 2, mode: 'merge' },
    ]);
    // A repeated (list, id) in one importEntries call keeps the last one, as SQLite's.
    await store.importEntries([entry({ id: '3' }), entry({ id: '3', hash: MD5_B })]);
    expect((await store.entry('demo', '3'))?.hash).toBe(MD5_B);
  });

  it('lists() gives each list its version, counts per algorithm, policy and update time', async (t) => {
    if (!running()) return t.skip();
    const store = await freshStore();
    await store.importEntries([entry({ id: '1' }), entry({ id: '2', algorithm: 'sha1', hash: SHA1 })]);
    await store.importEntries([entry({ id: '9', list: 'b-list' })]);
    await store.importEntries([entry({ id: '3' })]);
    const lists = await store.lists();
    expect(lists.map((l) => [l.name, l.version, l.counts, l.total, l.enabled, l.thresholds])).toEqual([
      ['b-list', 1, { md5: 1 }, 1, true, {}],
      ['demo', 2, { md5: 2, sha1: 1 }, 3, true, {}],
    ]);
    expect(Date.parse(lists[1]?.updatedAt as string)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('streams 20,000 entries in key order through the cursor, and leaves a loop early without harm', async (t) => {
    if (!running()) return t.skip();
    const store = await freshStore();
    const many = Array.from({ length: 20_000 }, (_, i) =>
      entry({ id: `id-${String(i).padStart(6, '0')}`, hash: i.toString(16).padStart(32, '0') }),
    );
    await store.importEntries(many);
    let n = 0;
    for await (const e of store.entries({ list: 'demo' })) {
      expect(e.id).toBe(many[n]?.id);
      n++;
    }
    expect(n).toBe(20_000);
    for await (const e of store.entries()) if (e.id === 'id-000010') break;
    // Every connection went back to the pool: the store still reads and writes.
    await store.importEntries([entry({ id: 'after' })]);
    expect(await store.count()).toBe(20_001);
  });
});

describe.skipIf(!available)(
  postgresTitle('PgHashStore.importRows: deltas, replaces, one transaction', available),
  () => {
    it('adds, updates and removes by (list, id), and ignores a removal of an id it does not hold', async (t) => {
      if (!running()) return t.skip();
      const store = await freshStore();
      await store.importEntries([entry({ id: '1' }), entry({ id: '2' }), entry({ id: '3' })]);
      const result = await store.importRows(
        batches([
          add({ id: '1' }, 2),
          add({ id: '2', label: 'review' }, 3),
          remove('3', 4),
          remove('9', 5),
          add({ id: '4', hash: MD5_B }, 6),
        ]),
        { source: 'delta.csv' },
      );
      expect(result).toEqual({
        summaries: [{ list: 'demo', added: 1, updated: 1, unchanged: 1, removed: 1, version: 2, mode: 'merge' }],
        skipped: [],
        skippedCount: 0,
      });
      expect((await all(store.entries())).map((e) => [e.id, e.label])).toEqual([
        ['1', undefined],
        ['2', 'review'],
        ['4', undefined],
      ]);
      expect(
        (await store.history('demo')).map((r) => [
          r.version,
          r.source,
          r.added,
          r.updated,
          r.unchanged,
          r.removed,
          r.mode,
        ]),
      ).toEqual([
        [1, undefined, 3, 0, 0, 0, 'merge'],
        [2, 'delta.csv', 1, 1, 1, 1, 'merge'],
      ]);
    });

    it('replaces a list whole: what the import does not hold is removed, other lists are untouched', async (t) => {
      if (!running()) return t.skip();
      const store = await freshStore();
      await store.importEntries([entry({ id: '1' }), entry({ id: '2' }), entry({ id: '3', list: 'other' })]);
      const { summaries } = await store.importRows(batches([add({ id: '2' }), add({ id: '5', hash: MD5_B })]), {
        replace: ['demo'],
      });
      expect(summaries).toEqual([
        { list: 'demo', added: 1, updated: 0, unchanged: 1, removed: 1, version: 2, mode: 'replace' },
      ]);
      expect((await all(store.entries())).map((e) => `${e.list}/${e.id}`)).toEqual(['demo/2', 'demo/5', 'other/3']);
    });

    it('refuses a replace that would empty a list unless allowed, and rows that do not belong in a replace', async (t) => {
      if (!running()) return t.skip();
      const store = await freshStore();
      await store.importEntries([entry({ id: '1' })]);
      const empty = await rejected(store.importRows(batches([]), { replace: ['demo'], source: 'empty.csv' }));
      expect([empty.code, empty.message]).toEqual([
        'ERR_LIST_FORMAT',
        'empty.csv: no entries for list "demo", which a replace would empty (1 entries); allow it explicitly (allowEmpty, --allow-empty)',
      ]);
      expect(await store.count()).toBe(1);
      const other = await rejected(
        store.importRows(batches([add({ id: '2' }, 2), add({ id: '3', list: 'other' }, 3)]), {
          replace: ['demo'],
          source: 'x.csv',
        }),
      );
      expect(other.message).toBe('x.csv:3: an entry of list "other" in a replace of "demo"');
      const removal = await rejected(
        store.importRows(batches([remove('1', 7)]), { replace: ['demo'], source: 'x.csv' }),
      );
      expect(removal.message).toMatch(/^x\.csv:7: a removal row in a replace/);
      // Removal rows taking a list's last entries are refused too, and roll back.
      const emptied = await rejected(store.importRows(batches([remove('1', 2)]), { source: 'd.csv' }));
      expect([emptied.code, emptied.message]).toEqual([
        'ERR_LIST_FORMAT',
        'd.csv: removal rows would empty list "demo" (1 entries); allow it explicitly (allowEmpty, --allow-empty)',
      ]);
      expect([await store.count(), (await store.lists())[0]?.version]).toEqual([1, 1]);
      expect((await store.importRows(batches([]), { replace: ['demo'], allowEmpty: true })).summaries).toEqual([
        { list: 'demo', added: 0, updated: 0, unchanged: 0, removed: 1, version: 2, mode: 'replace' },
      ]);
      expect(await store.count()).toBe(0);
    });

    it('refuses an id given twice, naming both lines, or skips the repeat with onError skip', async (t) => {
      if (!running()) return t.skip();
      const store = await freshStore();
      const rows = [add({ id: 'x' }, 2), add({ id: 'y' }, 3), add({ id: 'x', hash: MD5_B }, 4)];
      const error = await rejected(store.importRows(batches(rows), { source: 'list.csv' }));
      expect([error.code, error.message]).toEqual([
        'ERR_LIST_FORMAT',
        'list.csv:4: Duplicate id "x" in list "demo", first on line 2',
      ]);
      expect(await store.count()).toBe(0);
      const result = await store.importRows(batches(rows), { source: 'list.csv', onError: 'skip' });
      expect([result.skippedCount, result.skipped, result.summaries[0]?.added]).toEqual([
        1,
        [{ line: 4, message: 'list.csv:4: Duplicate id "x" in list "demo", first on line 2' }],
        2,
      ]);
      expect((await store.entry('demo', 'x'))?.hash).toBe(MD5_A);
    });

    it('refuses a row whose id or label holds a NUL character, naming its line, or skips it with onError skip', async (t) => {
      if (!running()) return t.skip();
      const store = await freshStore();
      const rows = [
        add({ id: 'fine' }, 2),
        add({ id: 'nul\u0000id', hash: MD5_B }, 3),
        add({ id: 'l', label: 'x\u0000' }, 4),
      ];
      const error = await rejected(store.importRows(batches(rows), { source: 'nul.csv' }));
      expect([error.code, error.message]).toEqual([
        'ERR_LIST_FORMAT',
        'nul.csv:3: a NUL character in the list, id or label, which PostgreSQL cannot store',
      ]);
      const result = await store.importRows(batches(rows), { source: 'nul.csv', onError: 'skip' });
      expect([result.skippedCount, result.skipped.map((s) => s.line), await store.count()]).toEqual([2, [3, 4], 1]);
    });

    it('merges a repeated hash without ids under dedupe merge, and refuses it under dedupe fail', async (t) => {
      if (!running()) return t.skip();
      const store = await freshStore();
      const same = (line: number): ImportRow => add({ id: `md5:${MD5_A}` }, line);
      const merged = await store.importRows(batches([same(1), same(2)]), { source: 'l.csv' });
      expect([merged.summaries[0]?.added, merged.skippedCount]).toEqual([1, 0]);
      const failed = await rejected(store.importRows(batches([same(1), same(2)]), { source: 'l.csv', dedupe: 'fail' }));
      expect(failed.message).toBe(`l.csv:2: Duplicate id "md5:${MD5_A}" in list "demo", first on line 1`);
    });

    it('names the line of a bad entry and rolls back, and passes on an error from the rows', async (t) => {
      if (!running()) return t.skip();
      const store = await freshStore();
      await store.importEntries([entry({ id: 'kept' })]);
      const bad = await rejected(
        store.importRows(
          batches([
            add({ id: 'n' }, 2),
            { op: 'add', entry: { list: 'demo', id: 'z', algorithm: 'md5', hash: 'abc' }, line: 3 },
          ]),
          { source: 'l.csv' },
        ),
      );
      expect([bad.code, bad.message.slice(0, 9)]).toEqual(['ERR_HASH_FORMAT', 'l.csv:3: ']);
      const failure = new Error('download broke');
      async function* broken(): AsyncGenerator<{ rows: readonly ImportRow[] }> {
        yield { rows: [add({ id: 'n' })] };
        throw failure;
      }
      await expect(store.importRows(broken())).rejects.toBe(failure);
      expect((await all(store.entries())).map((e) => e.id)).toEqual(['kept']);
      expect((await store.lists())[0]?.version).toBe(1);
      expect(await store.history()).toHaveLength(1);
    });

    it('shows other connections the previous version until it commits, then the new one whole', async (t) => {
      if (!running()) return t.skip();
      const { store, url } = await fresh();
      await store.importEntries([entry({ id: 'old' })]);
      const reader = await connect(url);
      const seen: number[] = [];
      async function* slow(): AsyncGenerator<{ rows: readonly ImportRow[] }> {
        for (let i = 0; i < 5; i++) {
          yield { rows: [add({ id: `n${i}` })] };
          await new Promise((resolve) => setTimeout(resolve, 5));
          seen.push(await reader.count());
        }
      }
      await store.importRows(slow(), { replace: ['demo'] });
      expect(seen).toEqual([1, 1, 1, 1, 1]);
      expect(await reader.count()).toBe(5);
      expect((await reader.lists())[0]?.version).toBe(2);
    });

    it('writes the checkpoint in the import transaction, and not when the import is refused', async (t) => {
      if (!running()) return t.skip();
      const store = await freshStore();
      await store.importRows(batches([add({ id: '1' })]), { checkpoint: { key: 'ncmec:feed', value: '{"next":1}' } });
      expect(await store.checkpoint('ncmec:feed')).toBe('{"next":1}');
      await rejected(
        store.importRows(batches([add({ id: '2' }, 1), add({ id: '2' }, 2)]), {
          checkpoint: { key: 'ncmec:feed', value: '{"next":2}' },
        }),
      );
      expect(await store.checkpoint('ncmec:feed')).toBe('{"next":1}');
      expect(await store.checkpoint('absent')).toBeUndefined();
    });
  },
);

describe.skipIf(!available)(postgresTitle('PgHashStore.importFile', available), () => {
  it('imports a CSV file with removals, names a bad row file:line, and refuses another list without multiList', async (t) => {
    if (!running()) return t.skip();
    const store = await freshStore();
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-pg-file-'));
    try {
      const path = join(dir, 'list.csv');
      await writeFile(path, `id,algorithm,hash,label\n1,md5,${MD5_A},csam\n2,md5,${MD5_B},\n3,sha1,${SHA1},\n`);
      const first = await store.importFile(path, { list: 'demo' });
      expect([first.summaries, first.read.adds, first.ordered]).toEqual([
        [{ list: 'demo', added: 3, updated: 0, unchanged: 0, removed: 0, version: 1, mode: 'merge' }],
        3,
        true,
      ]);
      expect((await store.history())[0]?.source).toBe(path);
      const delta = join(dir, 'delta.csv');
      await writeFile(delta, `op,id,algorithm,hash\nremove,2,,\nadd,4,md5,${MD5_B}\n`);
      expect((await store.importFile(delta, { list: 'demo' })).summaries[0]).toMatchObject({
        added: 1,
        removed: 1,
        version: 2,
      });
      const bad = join(dir, 'bad.csv');
      await writeFile(bad, `id,algorithm,hash\n5,md5,${MD5_A}\n6,md5,xyz\n`);
      const error = await rejected(store.importFile(bad, { list: 'demo' }));
      expect(error.message.startsWith(`${bad}:3`)).toBe(true);
      const other = join(dir, 'other.csv');
      await writeFile(other, `list,id,algorithm,hash\ndemo,7,md5,${MD5_A}\nvendor,8,md5,${MD5_B}\n`);
      expect((await rejected(store.importFile(other, { list: 'demo' }))).message).toMatch(
        /other\.csv:3: a row of list "vendor"/,
      );
      expect((await store.importFile(other, { list: 'demo', multiList: true })).summaries.map((s) => s.list)).toEqual([
        'demo',
        'vendor',
      ]);
      expect((await all(store.entries({ list: 'demo' }))).map((e) => e.id)).toEqual(['1', '3', '4', '7']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!available)(postgresTitle('PgHashStore.setListPolicy', available), () => {
  it('sets thresholds, label and enabled, keeps what is not given, and resets with null', async (t) => {
    if (!running()) return t.skip();
    const store = await freshStore();
    await store.importEntries([entry({})]);
    expect(await store.setListPolicy('demo', { thresholds: { pdq: 24, blockhash: 8 }, label: 'review' })).toMatchObject(
      {
        name: 'demo',
        version: 1,
        thresholds: { blockhash: 8, pdq: 24 },
        label: 'review',
        enabled: true,
        total: 1,
      },
    );
    expect(await store.setListPolicy('demo', { thresholds: { pdq: null }, enabled: false })).toMatchObject({
      thresholds: { blockhash: 8 },
      label: 'review',
      enabled: false,
    });
    const reset = await store.setListPolicy('demo', { label: null, enabled: true });
    expect([reset.label, reset.enabled, 'label' in reset]).toEqual([undefined, true, false]);
    expect((await store.lists())[0]?.version).toBe(1);
  });

  it("refuses an unknown list or algorithm and a threshold out of its algorithm's range", async (t) => {
    if (!running()) return t.skip();
    const store = await freshStore();
    await store.importEntries([entry({})]);
    expect((await rejected(store.setListPolicy('nope', { enabled: false }))).code).toBe('ERR_STORE');
    await expect(store.setListPolicy('demo', { thresholds: { photodna: 3 } as never })).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_ALGORITHM',
    });
    await expect(store.setListPolicy('demo', { thresholds: { pdq: 65 } })).rejects.toThrow(
      new RangeError('Expected integer between 0 and 64 for thresholds.pdq but received 65 of type number'),
    );
  });
});
