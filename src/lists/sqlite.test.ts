/**
 * Tests of the SQLite store: round trips, upserts and versions, read-only use, refusal of files
 * that are not hashwarden stores, and all-or-nothing imports. Foreign and future databases are
 * made by patching a real store's bytes, so that only sqlite.ts imports better-sqlite3.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { normalizeEntry, type ListEntry, type ListEntryInput } from './model.js';
import { HashStore, STORE_SCHEMA_VERSION } from './sqlite.js';

const MD5_A = '0cc175b9c0f1b6a831c399e269772661';
const MD5_B = '92eb5ffee6ae2fec3ad71c777531578f';
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';

const entry = (input: Partial<ListEntryInput>): ListEntry => normalizeEntry({ list: 'demo', algorithm: 'md5', hash: MD5_A, ...input });

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
      { list: 'demo', added: 2, updated: 0, unchanged: 0, version: 1 },
      { list: 'other', added: 1, updated: 0, unchanged: 0, version: 1 },
    ]);
    const read = [...store.entries()];
    expect(read).toEqual([entries[1], entries[0], entries[2]]);
    expect(read[0]).not.toHaveProperty('label');
    expect(read[0]).not.toHaveProperty('metadata');
    expect(store.count()).toBe(3);
  });

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
    expect(store.importEntries(again)).toEqual([{ list: 'demo', added: 0, updated: 0, unchanged: 2, version: 2 }]);
    expect(store.lists()[0]?.version).toBe(2);
    expect(store.count()).toBe(2);
  });

  it('upserts by (list, id): a changed label, hash or metadata is an update', () => {
    const store = openStore();
    store.importEntries([entry({ id: '1', label: 'review' }), entry({ id: '2' }), entry({ id: '3', metadata: { k: 'v' } })]);
    const summary = store.importEntries([entry({ id: '1', label: 'csam' }), entry({ id: '2', hash: MD5_B }), entry({ id: '3' }), entry({ id: '4' })]);
    expect(summary).toEqual([{ list: 'demo', added: 1, updated: 3, unchanged: 0, version: 2 }]);
    expect([...store.entries()]).toEqual([
      entry({ id: '1', label: 'csam' }),
      entry({ id: '2', hash: MD5_B }),
      entry({ id: '3' }),
      entry({ id: '4' }),
    ]);
  });

  it('keeps two lists apart, even with the same ids', () => {
    const store = openStore();
    store.importEntries([entry({ id: 'x', list: 'one' }), entry({ id: 'x', list: 'two', hash: MD5_B }), entry({ id: 'y', list: 'two', algorithm: 'sha1', hash: SHA1 })]);
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
    store.importEntries([entry({ list: 'b' }), entry({ list: 'a', id: '1' }), entry({ list: 'a', id: '2', hash: MD5_B }), entry({ list: 'a', algorithm: 'sha1', hash: SHA1 })]);
    store.importEntries([entry({ list: 'a', id: '1' })]);
    const lists = store.lists();
    expect(lists).toEqual([
      { name: 'a', version: 2, counts: { md5: 2, sha1: 1 }, total: 3, updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) },
      { name: 'b', version: 1, counts: { md5: 1 }, total: 1, updatedAt: expect.any(String) },
    ]);
    expect(Date.parse(lists[0]?.updatedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(lists[1]?.updatedAt ?? ''));
  });

  it('imports plain objects, normalising them', () => {
    const store = openStore();
    store.importEntries([{ list: ' demo ', algorithm: 'MD5', hash: ` ${MD5_A.toUpperCase()} ` } as unknown as ListEntry]);
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
      for (let i = 0; i < n; i++) yield entry({ id: String(i).padStart(6, '0'), hash: i.toString(16).padStart(32, '0') });
    }
    expect(store.importEntries(generate())).toEqual([{ list: 'demo', added: n, updated: 0, unchanged: 0, version: 1 }]);
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
    const batch = [entry({ id: 'new1', list: 'other' }), entry({ id: 'kept', label: 'changed' }), { list: 'demo', algorithm: 'md5', hash: 'abc' } as ListEntry, entry({ id: 'new2' })];
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
    expect(caught(() => openStore('empty.db', { create: false })).message).toMatch(/not a hashwarden store \(the database is empty\)/);
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
    expect(error.message).toMatch(/schema version 2 is newer than this hashwarden supports/);
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
