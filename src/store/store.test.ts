/**
 * Tests of the SQLite store: round trips, upserts and versions, read-only use, refusal of files
 * that are not hashwarden stores, and all-or-nothing imports. Foreign and future databases are
 * made by patching a real store's bytes, so that only driver.ts imports better-sqlite3.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import type { ListEntry } from '../lists/entry.js';
import { add, batches, entry, MD5_A, MD5_B, rejected, remove, SHA1 } from '../testing/store-rows.js';
import { HashStore, STORE_SCHEMA_VERSION, type ImportRow } from './index.js';

function caught(fn: () => unknown): HashwardenError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HashwardenError);
    return error as HashwardenError;
  }
  throw new Error('expected a throw');
}

let dir: string;
let open: HashStore[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-store-'));
  open = [];
});

afterEach(async () => {
  for (const store of open) store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Opens a store that the test cleanup closes. */
function openStore(name = 'hashes.db', options?: Parameters<typeof HashStore.open>[1]): HashStore {
  const store = HashStore.open(join(dir, name), options);
  open.push(store);
  return store;
}

/** A closed store file holding one entry, for byte patching. */
async function storeBytes(): Promise<Buffer> {
  const path = join(dir, 'source.db');
  const store = HashStore.open(path);
  store.importEntries([entry({})]);
  store.close();
  return readFile(path);
}

describe('HashStore: import and read back', () => {
  it('stores entries and reads them back equal, label and metadata included', () => {
    const store = openStore();
    const entries = [
      entry({ id: 'b', label: 'csam', metadata: { source: 'vendor', nested: { n: 1, list: [true, null] } } }),
      entry({ id: 'a', algorithm: 'sha1', hash: SHA1.toUpperCase() }),
      entry({ id: 'c', list: 'other', hash: MD5_B, metadata: { z: '1', a: '2' } }),
    ];
    expect(store.importEntries(entries, { source: 'list.csv' })).toEqual([
      { list: 'demo', added: 2, updated: 0, unchanged: 0, version: 1, removed: 0, mode: 'merge' },
      { list: 'other', added: 1, updated: 0, unchanged: 0, version: 1, removed: 0, mode: 'merge' },
    ]);
    const read = [...store.entries()];
    expect(read).toEqual([entries[1], entries[0], entries[2]]);
    expect(read[0]).not.toHaveProperty('label');
    expect(read[0]).not.toHaveProperty('metadata');
    expect(store.count()).toBe(3);
  });

  it.skipIf(process.platform === 'win32')(
    'creates a store, and its write-ahead log, readable and writable by its owner only',
    () => {
      // The hashes of abuse material are themselves sensitive (docs/security.md).
      const store = openStore('private.db');
      store.importEntries([entry({})]);
      for (const file of ['private.db', 'private.db-wal', 'private.db-shm'])
        expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    },
  );

  it.skipIf(process.platform === 'win32')(
    'creates a store with the mode asked for, whatever the umask, and leaves an existing file its mode',
    () => {
      // A umask that would take the group's read bit away: the mode asked for still holds.
      const umask = process.umask(0o077);
      try {
        openStore('shared.db', { mode: 0o640 }).importEntries([entry({})]);
      } finally {
        process.umask(umask);
      }
      for (const file of ['shared.db', 'shared.db-wal', 'shared.db-shm'])
        expect(statSync(join(dir, file)).mode & 0o777).toBe(0o640);
      openStore('shared.db', { mode: 0o600 });
      expect(statSync(join(dir, 'shared.db')).mode & 0o777).toBe(0o640);
      expect(() => HashStore.open(join(dir, 'bad.db'), { mode: 0o1000 })).toThrow(RangeError);
      expect(() => HashStore.open(join(dir, 'bad.db'), { mode: '640' as unknown as number })).toThrow(TypeError);
      expect(existsSync(join(dir, 'bad.db'))).toBe(false);
    },
  );

  it('persists across close and reopen', () => {
    const first = openStore();
    first.importEntries([entry({ label: 'x' })]);
    first.close();
    expect([...openStore().entries()]).toEqual([entry({ label: 'x' })]);
  });

  it('counts a re-import of the same entries as unchanged and bumps the version', () => {
    const store = openStore();
    const entries = [entry({ metadata: { a: '1', b: '2' } }), entry({ hash: MD5_B })];
    store.importEntries(entries);
    // Same metadata in another key order is the same metadata.
    const again = [entry({ metadata: { b: '2', a: '1' } }), entry({ hash: MD5_B })];
    expect(store.importEntries(again)).toEqual([
      { list: 'demo', added: 0, updated: 0, unchanged: 2, version: 2, removed: 0, mode: 'merge' },
    ]);
    expect(store.lists()[0]?.version).toBe(2);
    expect(store.count()).toBe(2);
  });

  it('upserts by (list, id): a changed label, hash or metadata is an update', () => {
    const store = openStore();
    store.importEntries([
      entry({ id: '1', label: 'review' }),
      entry({ id: '2' }),
      entry({ id: '3', metadata: { k: 'v' } }),
    ]);
    const summary = store.importEntries([
      entry({ id: '1', label: 'csam' }),
      entry({ id: '2', hash: MD5_B }),
      entry({ id: '3' }),
      entry({ id: '4' }),
    ]);
    expect(summary).toEqual([
      { list: 'demo', added: 1, updated: 3, unchanged: 0, version: 2, removed: 0, mode: 'merge' },
    ]);
    expect([...store.entries()]).toEqual([
      entry({ id: '1', label: 'csam' }),
      entry({ id: '2', hash: MD5_B }),
      entry({ id: '3' }),
      entry({ id: '4' }),
    ]);
  });

  it('keeps two lists apart, even with the same ids', () => {
    const store = openStore();
    store.importEntries([
      entry({ id: 'x', list: 'one' }),
      entry({ id: 'x', list: 'two', hash: MD5_B }),
      entry({ id: 'y', list: 'two', algorithm: 'sha1', hash: SHA1 }),
    ]);
    expect([...store.entries({ list: 'one' })].map((e) => e.hash)).toEqual([MD5_A]);
    expect([...store.entries({ list: 'two' })].map((e) => e.hash)).toEqual([MD5_B, SHA1]);
    expect([...store.entries({ list: 'two', algorithm: 'sha1' })].map((e) => e.id)).toEqual(['y']);
    expect([...store.entries({ algorithm: 'md5' })].map((e) => `${e.list}/${e.id}`)).toEqual(['one/x', 'two/x']);
    expect(store.count({ list: 'two' })).toBe(2);
    expect(store.count({ algorithm: 'md5' })).toBe(2);
    expect(store.count({ list: 'one', algorithm: 'sha1' })).toBe(0);
    expect([...store.entries({ list: 'three' })]).toEqual([]);
  });

  it('lists() gives each list its version, counts per algorithm and update time', () => {
    const store = openStore();
    store.importEntries([
      entry({ list: 'b' }),
      entry({ list: 'a', id: '1' }),
      entry({ list: 'a', id: '2', hash: MD5_B }),
      entry({ list: 'a', algorithm: 'sha1', hash: SHA1 }),
    ]);
    store.importEntries([entry({ list: 'a', id: '1' })]);
    const lists = store.lists();
    expect(lists).toEqual([
      {
        name: 'a',
        version: 2,
        counts: { md5: 2, sha1: 1 },
        total: 3,
        updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        thresholds: {},
        enabled: true,
        quarantined: 0,
      },
      {
        name: 'b',
        version: 1,
        counts: { md5: 1 },
        total: 1,
        updatedAt: expect.any(String),
        thresholds: {},
        enabled: true,
        quarantined: 0,
      },
    ]);
    expect(Date.parse(lists[0]?.updatedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(lists[1]?.updatedAt ?? ''));
  });

  it('imports plain objects, normalising them', () => {
    const store = openStore();
    store.importEntries([
      { list: ' demo ', algorithm: 'MD5', hash: ` ${MD5_A.toUpperCase()} ` } as unknown as ListEntry,
    ]);
    expect([...store.entries({ list: 'demo' })]).toEqual([entry({})]);
  });

  it('returns no summaries and changes nothing for no entries', () => {
    const store = openStore();
    expect(store.importEntries([])).toEqual([]);
    expect(store.lists()).toEqual([]);
  });

  it('imports and streams 100,000 entries', () => {
    const store = openStore();
    const n = 100_000;
    function* generate(): Generator<ListEntry> {
      for (let i = 0; i < n; i++)
        yield entry({ id: String(i).padStart(6, '0'), hash: i.toString(16).padStart(32, '0') });
    }
    expect(store.importEntries(generate())).toEqual([
      { list: 'demo', added: n, updated: 0, unchanged: 0, version: 1, removed: 0, mode: 'merge' },
    ]);
    expect(store.count()).toBe(n);
    let seen = 0;
    let last: ListEntry | undefined;
    for (const e of store.entries({ algorithm: 'md5' })) {
      seen++;
      last = e;
    }
    expect(seen).toBe(n);
    expect(last).toEqual(entry({ id: '099999', hash: (n - 1).toString(16).padStart(32, '0') }));
  });
});

describe('HashStore: transactions', () => {
  it('rolls the whole import back when an entry in the middle is invalid', () => {
    const store = openStore();
    store.importEntries([entry({ id: 'kept' })]);
    const batch = [
      entry({ id: 'new1', list: 'other' }),
      entry({ id: 'kept', label: 'changed' }),
      { list: 'demo', algorithm: 'md5', hash: 'abc' } as ListEntry,
      entry({ id: 'new2' }),
    ];
    const error = caught(() => store.importEntries(batch));
    expect(error.code).toBe('ERR_HASH_FORMAT');
    expect(error.message).toMatch(/^Entry 3: /);
    expect(store.count()).toBe(1);
    expect([...store.entries()]).toEqual([entry({ id: 'kept' })]);
    expect(store.lists()).toEqual([expect.objectContaining({ name: 'demo', version: 1 })]);
  });

  it('rolls back and passes on an error thrown by the entries iterable itself', () => {
    const store = openStore();
    const failure = new Error('source broke');
    function* broken(): Generator<ListEntry> {
      yield entry({ id: '1' });
      throw failure;
    }
    expect(() => store.importEntries(broken())).toThrow(failure);
    expect(store.count()).toBe(0);
    expect(store.lists()).toEqual([]);
  });

  it('can write again after a loop over entries() is left early', () => {
    const store = openStore();
    store.importEntries([entry({ id: '1' }), entry({ id: '2' })]);
    for (const _ of store.entries()) break;
    expect(store.importEntries([entry({ id: '3' })])[0]?.added).toBe(1);
  });

  it('runs nested loops over entries() with the same filter', () => {
    const store = openStore();
    store.importEntries([entry({ id: '1' }), entry({ id: '2' })]);
    const pairs: string[] = [];
    for (const a of store.entries()) for (const b of store.entries()) pairs.push(a.id + b.id);
    expect(pairs).toEqual(['11', '12', '21', '22']);
  });

  it('refuses to write while a loop over entries() is open, with ERR_STORE', () => {
    const store = openStore();
    store.importEntries([entry({ id: '1' })]);
    for (const _ of store.entries()) {
      expect(caught(() => store.importEntries([entry({ id: '2' })])).code).toBe('ERR_STORE');
    }
    expect(store.count()).toBe(1);
  });
});

describe('HashStore: opening', () => {
  it('reads a store opened read-only, and refuses to write to it with ERR_STORE', () => {
    openStore().importEntries([entry({})]);
    const readonly = openStore('hashes.db', { readonly: true });
    expect([...readonly.entries()]).toEqual([entry({})]);
    expect(readonly.lists()).toHaveLength(1);
    const error = caught(() => readonly.importEntries([entry({ id: 'new' })]));
    expect(error.code).toBe('ERR_STORE');
    expect(error.message).toContain(join(dir, 'hashes.db'));
  });

  it('refuses a missing file without create, and does not create it', () => {
    const path = join(dir, 'missing.db');
    for (const options of [{ create: false }, { readonly: true }]) {
      const error = caught(() => HashStore.open(path, options));
      expect(error.code).toBe('ERR_STORE');
      expect(error.message).toContain(path);
      expect(error.cause).toMatchObject({ code: 'SQLITE_CANTOPEN' });
    }
    expect(existsSync(path)).toBe(false);
  });

  it('refuses an empty database without create', async () => {
    await writeFile(join(dir, 'empty.db'), '');
    expect(caught(() => openStore('empty.db', { create: false })).message).toMatch(
      /not a hashwarden store \(the database is empty\)/,
    );
  });

  it('refuses a text file with ERR_STORE, keeping the SQLite error as cause', async () => {
    const path = join(dir, 'notes.db');
    await writeFile(path, 'these are notes, not a database\n'.repeat(50));
    const error = caught(() => HashStore.open(path));
    expect(error.code).toBe('ERR_STORE');
    expect(error.message).toContain(path);
    expect(error.cause).toMatchObject({ code: 'SQLITE_NOTADB' });
    expect(await readFile(path, 'utf8')).toMatch(/^these are notes/);
  });

  it('refuses a SQLite database without a hashwarden schema version', async () => {
    const bytes = await storeBytes();
    expect(bytes.readUInt32BE(60)).toBe(STORE_SCHEMA_VERSION);
    bytes.writeUInt32BE(0, 60); // PRAGMA user_version lives at offset 60 of the header
    await writeFile(join(dir, 'foreign.db'), bytes);
    const error = caught(() => openStore('foreign.db'));
    expect(error.code).toBe('ERR_STORE');
    expect(error.message).toMatch(/not a hashwarden store \(it has tables .* but no hashwarden schema version\)/);
  });

  it('refuses a SQLite database without the hashwarden tables', async () => {
    // Renaming a table in the stored schema keeps every record the same length.
    const bytes = Buffer.from((await storeBytes()).toString('latin1').replaceAll('imports', 'importz'), 'latin1');
    await writeFile(join(dir, 'foreign.db'), bytes);
    expect(caught(() => openStore('foreign.db')).message).toMatch(/not a hashwarden store \(tables missing: imports\)/);
  });

  it('refuses a store from a newer schema version', async () => {
    const bytes = await storeBytes();
    bytes.writeUInt32BE(STORE_SCHEMA_VERSION + 1, 60);
    await writeFile(join(dir, 'future.db'), bytes);
    const error = caught(() => openStore('future.db', { readonly: true }));
    expect(error.code).toBe('ERR_STORE');
    expect(error.message).toMatch(
      new RegExp(`schema version ${STORE_SCHEMA_VERSION + 1} is newer than this hashwarden supports`),
    );
  });

  it('throws ERR_STORE after close, and closing twice is harmless', () => {
    const store = openStore();
    store.close();
    store.close();
    expect(caught(() => store.count()).code).toBe('ERR_STORE');
    expect(caught(() => [...store.entries()]).code).toBe('ERR_STORE');
  });

  it('validates its arguments with the standard errors', () => {
    const store = openStore();
    expect(() => HashStore.open('')).toThrow(RangeError);
    expect(() => HashStore.open(join(dir, 'x.db'), { readonly: true, create: true })).toThrow(
      new RangeError('Expected false when readonly is true for create but received true of type boolean'),
    );
    expect(() => HashStore.open(join(dir, 'x.db'), { readonly: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(() => store.entries({ algorithm: 'photodna' as 'md5' })).toThrow(RangeError);
    expect(() => store.count({ list: '' })).toThrow(RangeError);
    expect(() => store.importEntries(null as unknown as ListEntry[])).toThrow(TypeError);
    expect(() => store.importEntries([], { source: 42 as unknown as string })).toThrow(TypeError);
  });
});

describe('HashStore: schema version 1 stores', () => {
  // test-vectors/stores/v1.db: written by hashwarden's schema 1 store (lists demo: a md5 labelled
  // csam, b pdq with metadata; other: c sha1), copied before each use so the fixture never changes.
  const fixture = new URL('../../test-vectors/stores/v1.db', import.meta.url);
  const copy = async (): Promise<string> => {
    const path = join(dir, 'v1.db');
    await writeFile(path, await readFile(fixture));
    return path;
  };

  it('reads a version 1 store opened read-only as it is, its lists with the default policy', async () => {
    const path = await copy();
    const store = HashStore.open(path, { readonly: true });
    open.push(store);
    expect(store.lists().map((l) => [l.name, l.version, l.total, l.thresholds, l.enabled, l.label])).toEqual([
      ['demo', 1, 2, {}, true, undefined],
      ['other', 1, 1, {}, true, undefined],
    ]);
    expect(store.history().map((r) => [r.list, r.version, r.source, r.added, r.removed, r.mode])).toEqual([
      ['demo', 1, 'v1-fixture', 2, 0, 'merge'],
      ['other', 1, 'v1-fixture', 1, 0, 'merge'],
    ]);
    store.close();
    expect((await readFile(path)).readUInt32BE(60)).toBe(1);
  });

  it('upgrades a version 1 store opened for writing, keeping every entry', async () => {
    const path = await copy();
    const store = HashStore.open(path);
    open.push(store);
    expect([...store.entries({ list: 'demo' })].map((e) => [e.id, e.algorithm, e.label, e.metadata])).toEqual([
      ['a', 'md5', 'csam', undefined],
      ['b', 'pdq', undefined, { source: 'test' }],
    ]);
    expect(store.setListPolicy('demo', { thresholds: { pdq: 20 } }).thresholds).toEqual({ pdq: 20 });
    expect(store.importEntries([entry({ id: 'a', label: 'csam' })], { replace: ['demo'] })).toEqual([
      { list: 'demo', added: 0, updated: 0, unchanged: 1, removed: 1, version: 2, mode: 'replace' },
    ]);
    store.close();
    expect((await readFile(path)).readUInt32BE(60)).toBe(STORE_SCHEMA_VERSION);
  });
});

/** Batches of rows from a list of rows, `size` at a time, as an async reader yields them. */
describe('HashStore.importRows: deltas, replaces, one transaction', () => {
  it('adds, updates and removes by (list, id), and ignores a removal of an id it does not hold', async () => {
    const store = openStore();
    store.importEntries([entry({ id: '1' }), entry({ id: '2' }), entry({ id: '3' })]);
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
    expect([...store.entries()].map((e) => [e.id, e.label])).toEqual([
      ['1', undefined],
      ['2', 'review'],
      ['4', undefined],
    ]);
    expect(
      store.history('demo').map((r) => [r.version, r.source, r.added, r.updated, r.unchanged, r.removed, r.mode]),
    ).toEqual([
      [1, undefined, 3, 0, 0, 0, 'merge'],
      [2, 'delta.csv', 1, 1, 1, 1, 'merge'],
    ]);
  });

  it('replaces a list whole: what the import does not hold is removed, other lists are untouched', async () => {
    const store = openStore();
    store.importEntries([entry({ id: '1' }), entry({ id: '2' }), entry({ id: '3', list: 'other' })]);
    const { summaries } = await store.importRows(batches([add({ id: '2' }), add({ id: '5', hash: MD5_B })]), {
      replace: ['demo'],
    });
    expect(summaries).toEqual([
      { list: 'demo', added: 1, updated: 0, unchanged: 1, removed: 1, version: 2, mode: 'replace' },
    ]);
    expect([...store.entries()].map((e) => `${e.list}/${e.id}`)).toEqual(['demo/2', 'demo/5', 'other/3']);
  });

  it('refuses a replace that would empty a list unless allowed, and rows that do not belong in a replace', async () => {
    const store = openStore();
    store.importEntries([entry({ id: '1' })]);
    const empty = await rejected(store.importRows(batches([]), { replace: ['demo'], source: 'empty.csv' }));
    expect([empty.code, empty.message]).toEqual([
      'ERR_LIST_FORMAT',
      'empty.csv: no entries for list "demo", which a replace would empty (1 entries); allow it explicitly (allowEmpty, --allow-empty)',
    ]);
    expect(store.count()).toBe(1);
    const other = await rejected(
      store.importRows(batches([add({ id: '2' }, 2), add({ id: '3', list: 'other' }, 3)]), {
        replace: ['demo'],
        source: 'x.csv',
      }),
    );
    expect(other.message).toBe('x.csv:3: an entry of list "other" in a replace of "demo"');
    const removal = await rejected(store.importRows(batches([remove('1', 7)]), { replace: ['demo'], source: 'x.csv' }));
    expect(removal.message).toMatch(/^x\.csv:7: a removal row in a replace/);
    expect((await store.importRows(batches([]), { replace: ['demo'], allowEmpty: true })).summaries).toEqual([
      { list: 'demo', added: 0, updated: 0, unchanged: 0, removed: 1, version: 2, mode: 'replace' },
    ]);
    expect(store.count()).toBe(0);
  });

  it('refuses an id given twice, naming both lines, or skips the repeat with onError skip', async () => {
    const store = openStore();
    const rows = [add({ id: 'x' }, 2), add({ id: 'y' }, 3), add({ id: 'x', hash: MD5_B }, 4)];
    const error = await rejected(store.importRows(batches(rows), { source: 'list.csv' }));
    expect([error.code, error.message]).toEqual([
      'ERR_LIST_FORMAT',
      'list.csv:4: Duplicate id "x" in list "demo", first on line 2',
    ]);
    expect(store.count()).toBe(0);
    const result = await store.importRows(batches(rows), { source: 'list.csv', onError: 'skip' });
    expect([result.skippedCount, result.skipped, result.summaries[0]?.added]).toEqual([
      1,
      [{ line: 4, message: 'list.csv:4: Duplicate id "x" in list "demo", first on line 2' }],
      2,
    ]);
    expect([...store.entries()].find((e) => e.id === 'x')?.hash).toBe(MD5_A);
  });

  it('names the line of a bad entry and rolls back, and passes on an error from the rows', async () => {
    const store = openStore();
    store.importEntries([entry({ id: 'kept' })]);
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
    expect([...store.entries()].map((e) => e.id)).toEqual(['kept']);
    expect(store.lists()[0]?.version).toBe(1);
  });

  it('shows other connections the previous version until it commits, then the new one whole', async () => {
    const store = openStore();
    store.importEntries([entry({ id: 'old' })]);
    const reader = openStore('hashes.db', { readonly: true });
    const seen: number[] = [];
    async function* slow(): AsyncGenerator<{ rows: readonly ImportRow[] }> {
      for (let i = 0; i < 5; i++) {
        yield { rows: [add({ id: `n${i}` })] };
        await new Promise((resolve) => setTimeout(resolve, 5));
        seen.push(reader.count());
        // The importing connection itself refuses other writes meanwhile.
        expect(caught(() => store.importEntries([entry({ id: 'z' })])).code).toBe('ERR_STORE');
      }
    }
    await store.importRows(slow(), { replace: ['demo'] });
    expect(seen).toEqual([1, 1, 1, 1, 1]);
    expect(reader.count()).toBe(5);
    expect(reader.lists()[0]?.version).toBe(2);
  });
});

describe('HashStore.setListPolicy', () => {
  it('sets thresholds, label and enabled, keeps what is not given, and resets with null', () => {
    const store = openStore();
    store.importEntries([entry({})]);
    expect(store.setListPolicy('demo', { thresholds: { pdq: 24, blockhash: 8 }, label: 'review' })).toMatchObject({
      name: 'demo',
      version: 1,
      thresholds: { blockhash: 8, pdq: 24 },
      label: 'review',
      enabled: true,
    });
    expect(store.setListPolicy('demo', { thresholds: { pdq: null }, enabled: false })).toMatchObject({
      thresholds: { blockhash: 8 },
      label: 'review',
      enabled: false,
    });
    const reset = store.setListPolicy('demo', { label: null, enabled: true });
    expect([reset.label, reset.enabled, 'label' in reset]).toEqual([undefined, true, false]);
  });

  it("refuses an unknown list or algorithm, a threshold out of its algorithm's range, and a read-only store", () => {
    const store = openStore();
    store.importEntries([entry({})]);
    expect(caught(() => store.setListPolicy('nope', { enabled: false })).code).toBe('ERR_STORE');
    expect(caught(() => store.setListPolicy('demo', { thresholds: { photodna: 3 } as never })).code).toBe(
      'ERR_UNKNOWN_ALGORITHM',
    );
    expect(() => store.setListPolicy('demo', { thresholds: { pdq: 65 } })).toThrow(
      new RangeError('Expected integer between 0 and 64 for thresholds.pdq but received 65 of type number'),
    );
    expect(() => store.setListPolicy('demo', { thresholds: { md5: 1 } })).toThrow(RangeError);
    expect(() => store.setListPolicy('demo', { enabled: 'no' as unknown as boolean })).toThrow(TypeError);
    const readonly = openStore('hashes.db', { readonly: true });
    expect(caught(() => readonly.setListPolicy('demo', { enabled: false })).code).toBe('ERR_STORE');
  });
});

describe('HashStore.entry', () => {
  it('gives one entry by list and id, or undefined', () => {
    const store = HashStore.open(join(dir, 'one.db'));
    open.push(store);
    store.importEntries([entry({ id: 'a', label: 'csam', metadata: { case: 7 } }), entry({ id: 'b', hash: MD5_B })]);
    expect(store.entry('demo', 'a')).toEqual(entry({ id: 'a', label: 'csam', metadata: { case: 7 } }));
    expect(store.entry('demo', 'c')).toBeUndefined();
    expect(store.entry('other', 'a')).toBeUndefined();
    expect(() => store.entry('', 'a')).toThrow(RangeError);
  });
});
