/**
 * Entry quarantine and allow lists in the SQLite store: the rules both stores share
 * (src/testing/list-controls.ts; a disabled entry is never matched by a matcher opened from the
 * store or a snapshot exported from it, whatever imports do to its list, until enabled or
 * expired), then this store's own: crafted rows, schema version 3 stores.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run.js';
import { HashwardenError } from '../errors.js';
import { Matcher } from '../matcher/matcher.js';
import { listControlCases, VENDOR } from '../testing/list-controls.js';
import { HashStore, STORE_SCHEMA_VERSION } from './index.js';

let dir: string;
const open: HashStore[] = [];
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-quarantine-'));
});
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fresh(): { store: HashStore; path: string } {
  const path = join(dir, `q${n++}.db`);
  const store = HashStore.open(path);
  open.push(store);
  store.importEntries(VENDOR, { source: 'vendor.csv' });
  return { store, path };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('HashStore quarantine and allow lists', () => {
  listControlCases({
    make: async () => {
      const { store, path } = fresh();
      return {
        store,
        dir: await mkdtemp(join(dir, 'case-')),
        open: () => Matcher.open(path),
        exportSnapshot: async (snapshot) => {
          const err: string[] = [];
          const status = await runCli(['export', '--db', path, '--snapshot', snapshot], {
            out: () => {},
            err: (s) => err.push(s),
            isTTY: false,
          });
          expect([status, err.join('')]).toEqual([0, '']);
        },
        readonly: async () => {
          const readonly = HashStore.open(path, { readonly: true });
          open.push(readonly);
          return readonly;
        },
      };
    },
  });
});

describe('HashStore quarantine: crafted stores', () => {
  it('refuses a quarantine row longer than disableEntry writes, with ERR_STORE, without reading it whole', async () => {
    const { store, path } = fresh();
    store.close();
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(path);
    db.prepare("INSERT INTO quarantine (list, id, reason, since) VALUES ('vendor', 'a', ?, 'x')").run('r'.repeat(1e6));
    db.close();
    const reopened = HashStore.open(path, { readonly: true });
    open.push(reopened);
    const error = thrown(() => reopened.quarantined());
    expect((error as HashwardenError).code).toBe('ERR_STORE');
    expect((error as Error).message).toMatch(/not what disableEntry writes/);
  });
});

describe('HashStore quarantine: schema version 3 stores', () => {
  // test-vectors/stores/v3.db: written by hashwarden's schema 3 store (lists demo: a and b md5,
  // label block; other: c sha1), copied before use.
  const copy = async (): Promise<string> => {
    const path = join(dir, `v3-${n++}.db`);
    await writeFile(path, await readFile(new URL('../../test-vectors/stores/v3.db', import.meta.url)));
    return path;
  };

  it('reads a version 3 store opened read-only as it is, with nothing quarantined', async () => {
    const path = await copy();
    const s = HashStore.open(path, { readonly: true });
    open.push(s);
    expect(s.quarantined()).toEqual([]);
    expect(s.lists().map((l) => [l.name, l.total, l.quarantined])).toEqual([
      ['demo', 2, 0],
      ['other', 1, 0],
    ]);
    expect(s.history().map((r) => r.mode)).toEqual(['merge', 'merge']);
    expect((await Matcher.open(path)).matchHash({ algorithm: 'md5', hash: 'a'.repeat(32) })).toHaveLength(1);
    s.close();
    expect((await readFile(path)).readUInt32BE(60)).toBe(3);
  });

  it('upgrades a version 3 store opened for writing, keeping its lists, and then quarantines', async () => {
    const path = await copy();
    const s = HashStore.open(path);
    open.push(s);
    expect(s.lists().map((l) => [l.name, l.version, l.label])).toEqual([
      ['demo', 1, 'block'],
      ['other', 1, undefined],
    ]);
    s.disableEntry('demo', 'a', { reason: 'r' });
    expect(s.quarantined().map((q) => q.id)).toEqual(['a']);
    s.close();
    expect((await readFile(path)).readUInt32BE(60)).toBe(STORE_SCHEMA_VERSION);
    expect((await Matcher.open(path)).matchHash({ algorithm: 'md5', hash: 'a'.repeat(32) })).toEqual([]);
  });
});
