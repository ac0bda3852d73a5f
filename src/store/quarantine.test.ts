/**
 * Entry quarantine: a disabled entry is never matched by a matcher opened from the store or a
 * snapshot exported from it, whatever imports do to its list, until enabled or expired.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../cli/run.js';
import { HashwardenError } from '../errors.js';
import { readSnapshot } from '../index.js';
import type { ListEntry } from '../lists/entry.js';
import { Matcher } from '../matcher/matcher.js';
import { HashStore, STORE_SCHEMA_VERSION } from './index.js';

let dir: string;
const open: HashStore[] = [];
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-quarantine-'));
});
afterEach(() => {
  vi.useRealTimers();
  for (const s of open.splice(0)) s.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const md5 = (c: string): ListEntry => ({ list: 'vendor', id: c, algorithm: 'md5', hash: c.repeat(32) });
const ENTRIES = [md5('a'), md5('b'), md5('c')];

function fresh(): { store: HashStore; path: string } {
  const path = join(dir, `q${n++}.db`);
  const store = HashStore.open(path);
  open.push(store);
  store.importEntries(ENTRIES, { source: 'vendor.csv' });
  return { store, path };
}

/** The ids of `list` a matcher opened from `source` finds for each of a, b, c. */
async function matchedIds(source: string): Promise<string[]> {
  const matcher = await Matcher.open(source);
  return ['a', 'b', 'c'].filter((c) => matcher.matchHash({ algorithm: 'md5', hash: c.repeat(32) }).length > 0);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('HashStore quarantine', () => {
  it('leaves a disabled entry out of a matcher opened from the store, and enable brings it back', async () => {
    const { store, path } = fresh();
    const q = store.disableEntry('vendor', 'b', { reason: 'matches a common meme' });
    expect(q).toMatchObject({ list: 'vendor', id: 'b', reason: 'matches a common meme' });
    expect(q.until).toBeUndefined();
    expect(await matchedIds(path)).toEqual(['a', 'c']);
    // The list's contents are unchanged: only its matching.
    expect(store.count({ list: 'vendor' })).toBe(3);
    expect(store.lists()[0]).toMatchObject({ total: 3, quarantined: 1, version: 2 });
    expect(store.enableEntry('vendor', 'b')).toBe(true);
    expect(store.enableEntry('vendor', 'b')).toBe(false);
    expect(store.quarantined()).toEqual([]);
    expect(await matchedIds(path)).toEqual(['a', 'b', 'c']);
  });

  it('records disable and enable in the history with the entry, reason and end', () => {
    const { store } = fresh();
    const until = new Date(Date.now() + 3_600_000);
    store.disableEntry('vendor', 'a', { reason: 'flag image', until });
    store.enableEntry('vendor', 'a');
    const [imported, disabled, enabled] = store.history('vendor');
    expect(imported).toMatchObject({ mode: 'merge', version: 1 });
    expect(imported?.entry).toBeUndefined();
    expect(disabled).toMatchObject({
      mode: 'disable',
      version: 2,
      added: 0,
      removed: 0,
      entry: { id: 'a', reason: 'flag image', until: until.toISOString() },
    });
    expect(enabled).toMatchObject({ mode: 'enable', version: 3, entry: { id: 'a' } });
  });

  it('matches an entry again once its quarantine has expired, and a reload picks the expiry up', async () => {
    const { store, path } = fresh();
    const start = Date.parse('2030-01-01T00:00:00Z');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(start);
    store.disableEntry('vendor', 'c', { reason: 'until the vendor fixes it', until: new Date(start + 60_000) });
    const matcher = await Matcher.open(path);
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'c'.repeat(32) })).toEqual([]);
    expect(store.quarantined('vendor').map((q) => q.id)).toEqual(['c']);
    vi.setSystemTime(start + 60_001);
    expect(store.quarantined('vendor')).toEqual([]);
    expect(store.lists()[0]?.quarantined).toBe(0);
    // No new version, but the signature counts quarantines in force: the reload reads again.
    expect(await matcher.reload()).toBe(true);
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'c'.repeat(32) }).map((m) => m.entryId)).toEqual(['c']);
    expect(await matchedIds(path)).toEqual(['a', 'b', 'c']);
    // Enabling an expired quarantine lifts nothing (and records nothing).
    expect(store.enableEntry('vendor', 'c')).toBe(false);
    expect(store.history('vendor').map((r) => r.mode)).toEqual(['merge', 'disable']);
  });

  it('keeps an entry disabled across a re-import of the same list', async () => {
    const { store, path } = fresh();
    store.disableEntry('vendor', 'a', { reason: 'false positive' });
    store.importEntries(ENTRIES, { source: 'vendor.csv' });
    await store.importRows([{ rows: ENTRIES.map((entry) => ({ op: 'add' as const, entry })) }], { source: 'again' });
    expect(store.quarantined('vendor').map((q) => q.id)).toEqual(['a']);
    expect(await matchedIds(path)).toEqual(['b', 'c']);
  });

  it('keeps an entry disabled when a replace drops it and a later import adds it back', async () => {
    const { store, path } = fresh();
    store.disableEntry('vendor', 'a', { reason: 'false positive' });
    await store.importRows([{ rows: [md5('b'), md5('c')].map((entry) => ({ op: 'add' as const, entry })) }], {
      replace: ['vendor'],
    });
    expect(store.entry('vendor', 'a')).toBeUndefined();
    expect(store.quarantined('vendor').map((q) => q.id)).toEqual(['a']);
    const file = join(dir, `vendor${n++}.csv`);
    await writeFile(file, `id,algorithm,hash\n${ENTRIES.map((e) => `${e.id},md5,${e.hash}`).join('\n')}\n`);
    await store.importFile(file, { list: 'vendor', replace: ['vendor'] });
    expect(store.entry('vendor', 'a')).toBeDefined();
    expect(await matchedIds(path)).toEqual(['b', 'c']);
  });

  it('quarantines an id the list does not hold yet, so that it never matches when it arrives', async () => {
    const { store, path } = fresh();
    store.disableEntry('vendor', 'd', { reason: 'known bad hash in the next delta' });
    store.importEntries([md5('d')]);
    const matcher = await Matcher.open(path);
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'd'.repeat(32) })).toEqual([]);
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'a'.repeat(32) })).toHaveLength(1);
  });

  it('leaves the entry out of a snapshot exported from the store and records it there', async () => {
    const { store, path } = fresh();
    const until = new Date(Date.now() + 86_400_000);
    store.disableEntry('vendor', 'b', { reason: 'blank screenshot', until });
    const snapshot = join(dir, `q${n++}.snap`);
    const err: string[] = [];
    const status = await runCli(['export', '--db', path, '--snapshot', snapshot], {
      out: () => {},
      err: (s) => err.push(s),
      isTTY: false,
    });
    expect(err.join('')).toBe('');
    expect(status).toBe(0);
    const read = await readSnapshot(snapshot);
    expect(read.lists).toEqual([
      {
        name: 'vendor',
        version: 2,
        quarantined: [{ id: 'b', reason: 'blank screenshot', until: until.toISOString() }],
      },
    ]);
    expect(await matchedIds(snapshot)).toEqual(['a', 'c']);
    expect((await Matcher.open(snapshot)).lists[0]?.quarantined).toEqual(read.lists[0]?.quarantined);
  });

  it('refuses bad arguments with TypeError or RangeError', () => {
    const { store } = fresh();
    expect(thrown(() => store.disableEntry('vendor', 'a', undefined as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => store.disableEntry('vendor', 'a', { reason: '' }))).toBeInstanceOf(RangeError);
    expect(thrown(() => store.disableEntry('vendor', 'a', { reason: 1 as never }))).toBeInstanceOf(TypeError);
    expect(thrown(() => store.disableEntry('', 'a', { reason: 'r' }))).toBeInstanceOf(RangeError);
    expect(
      thrown(() => store.disableEntry('vendor', 'a', { reason: 'r', until: '2031-01-01' as never })),
    ).toBeInstanceOf(TypeError);
    expect(thrown(() => store.disableEntry('vendor', 'a', { reason: 'r', until: new Date('nope') }))).toBeInstanceOf(
      RangeError,
    );
    const past = thrown(() => store.disableEntry('vendor', 'a', { reason: 'r', until: new Date(Date.now() - 1000) }));
    expect(past).toBeInstanceOf(RangeError);
    expect((past as Error).message).toMatch(/^Expected Date after .* for until but received/);
    const far = new Date(Date.UTC(10000, 0, 1));
    expect(thrown(() => store.disableEntry('vendor', 'a', { reason: 'r', until: far }))).toBeInstanceOf(RangeError);
    expect(thrown(() => store.enableEntry('vendor', 7 as never))).toBeInstanceOf(TypeError);
    expect(store.quarantined()).toEqual([]);
    expect(store.history('vendor')).toHaveLength(1);
  });

  it('refuses a list the store does not hold, and a read-only store, with ERR_STORE', () => {
    const { store, path } = fresh();
    const missing = thrown(() => store.disableEntry('vendr', 'a', { reason: 'typo' }));
    expect(missing).toBeInstanceOf(HashwardenError);
    expect((missing as HashwardenError).code).toBe('ERR_STORE');
    expect((thrown(() => store.enableEntry('vendr', 'a')) as HashwardenError).code).toBe('ERR_STORE');
    const readonly = HashStore.open(path, { readonly: true });
    open.push(readonly);
    const refused = thrown(() => readonly.disableEntry('vendor', 'a', { reason: 'r' }));
    expect((refused as HashwardenError).code).toBe('ERR_STORE');
    expect(store.quarantined()).toEqual([]);
  });

  it('trims the list and id as imports store them, and disabling again replaces the reason', () => {
    const { store } = fresh();
    store.disableEntry(' vendor ', ' a ', { reason: 'first' });
    store.disableEntry('vendor', 'a', { reason: 'second' });
    expect(store.quarantined().map((q) => [q.list, q.id, q.reason])).toEqual([['vendor', 'a', 'second']]);
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
