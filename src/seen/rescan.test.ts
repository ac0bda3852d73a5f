import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDriver } from '../store/driver.js';
import { HashStore } from '../store/store.js';
import { fuzzTestTimeout } from '../testing/fuzz.js';
import { collect, rescanExactness } from '../testing/rescan-property.js';
import { resultOf } from '../testing/seen.js';
import { compareIds, type RescanEvent } from './rescan.js';
import { SeenStore } from './store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-rescan-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('rescan', () => {
  it(
    'finds exactly what a brute-force scan of every recorded hash against every new entry finds',
    () =>
      rescanExactness(async () => {
        const path = mkdtempSync(join(dir, 'run-'));
        const store = HashStore.open(join(path, 'hashes.db'));
        const seen = SeenStore.open(join(path, 'seen.db'));
        return {
          record: (contentId, result) => seen.record(contentId, result),
          importEntries: (entries, options) => store.importEntries(entries, options),
          setListPolicy: (name, change) => store.setListPolicy(name, change),
          lists: () => store.lists(),
          rescan: (options) => seen.rescan(store, options),
          close: () => {
            seen.close();
            store.close();
          },
        };
      }, 25),
    fuzzTestTimeout(),
  );
});

describe('rescan checkpoints', () => {
  const md5 = (i: number) => i.toString(16).padStart(32, '0');
  function seeded(count: number, at: (i: number) => Date = () => new Date()) {
    const store = HashStore.open(join(dir, 'hashes.db'));
    store.importEntries(
      Array.from({ length: count }, (_, i) => ({ list: 'l', id: `e${i}`, algorithm: 'md5' as const, hash: md5(i) })),
    );
    const seen = SeenStore.open(join(dir, 'seen.db'));
    for (let i = 0; i < count; i++)
      seen.record(`u${i}`, resultOf([{ algorithm: 'md5', hash: bytes(md5(i)) }], {}), { at: at(i) });
    return { store, seen };
  }
  const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));

  it('resumes a rescan left by a break from its last acknowledged batch, with the same event ids', async () => {
    const { store, seen } = seeded(5);
    const taken: string[] = [];
    for await (const event of seen.rescan(store, { batchSize: 2 })) {
      taken.push(event.contentId);
      if (taken.length === 3) break;
    }
    expect(taken).toEqual(['u0', 'u1', 'u2']);
    const rest = await collect(seen.rescan(store, { batchSize: 2 }));
    // Batch [u2, u3] was in hand: u2 comes again.
    expect(rest.map((e) => e.contentId)).toEqual(['u2', 'u3', 'u4']);
    expect(await collect(seen.rescan(store))).toEqual([]);
    seen.close();
    store.close();
  });

  it('searches only uploads recorded since the date given, and never a deleted one', async () => {
    const { store, seen } = seeded(4, (i) => new Date(Date.UTC(2026, 0, 1 + i)));
    seen.delete('u3');
    const events = await collect(seen.rescan(store, { since: new Date(Date.UTC(2026, 0, 2)) }));
    expect(events.map((e) => e.contentId)).toEqual(['u1', 'u2']);
    expect(events[0]?.recordedAt.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    seen.close();
    store.close();
  });

  it('reads a record’s list versions only when a search finds it, refusing damaged ones with ERR_STORE', async () => {
    const { store, seen } = seeded(3);
    seen.record('x', resultOf([{ algorithm: 'md5', hash: bytes(md5(999)) }], {}));
    seen.close();
    const alter = (sql: string) => {
      const raw = new (loadDriver())(join(dir, 'seen.db'));
      raw.prepare(sql).run();
      raw.close();
    };
    alter("UPDATE seen SET versions = '[1' WHERE content_id = 'x'");
    let reopened = SeenStore.open(join(dir, 'seen.db'));
    expect((await collect(reopened.rescan(store))).map((e) => e.contentId)).toEqual(['u0', 'u1', 'u2']);
    store.importEntries([{ list: 'm', id: 'ex', algorithm: 'md5', hash: md5(999) }]);
    await expect(collect(reopened.rescan(store))).rejects.toMatchObject({ code: 'ERR_STORE' });
    reopened.close();
    alter("UPDATE seen SET versions = '{}' WHERE content_id = 'x'");
    alter("UPDATE seen SET hashes = substr(hashes, 1, length(hashes) - 1) WHERE content_id = 'u0'");
    reopened = SeenStore.open(join(dir, 'seen.db'));
    await expect(collect(reopened.rescan(store))).rejects.toMatchObject({ code: 'ERR_STORE' });
    reopened.close();
    alter("DELETE FROM seen WHERE content_id = 'u0'");
    reopened = SeenStore.open(join(dir, 'seen.db'));
    expect((await collect(reopened.rescan(store))).map((e) => e.contentId)).toEqual(['x']);
    reopened.close();
    store.close();
  });

  it('finds an entry removed and added again anew, at its new version', async () => {
    const { store, seen } = seeded(2);
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`)).toEqual([
      'u0 e0 v1',
      'u1 e1 v1',
    ]);
    store.importEntries([{ list: 'l', id: 'e1', algorithm: 'md5', hash: md5(1) }], { replace: ['l'] });
    expect(await collect(seen.rescan(store))).toEqual([]);
    store.importEntries([{ list: 'l', id: 'e0', algorithm: 'md5', hash: md5(0) }]);
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`)).toEqual([
      'u0 e0 v3',
    ]);
    seen.close();
    store.close();
  });

  it('lets a second rescan begun meanwhile finish the same round: events repeated, none lost', async () => {
    const { store, seen } = seeded(5);
    const other = SeenStore.open(join(dir, 'seen.db'));
    const first = seen.rescan(store, { batchSize: 1 });
    const taken = [(await first.next()).value as RescanEvent];
    const all = await collect(other.rescan(store, { batchSize: 1 }));
    for await (const event of { [Symbol.asyncIterator]: () => first }) taken.push(event);
    expect(all.map((e) => e.contentId)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
    expect(new Set(taken.map((e) => e.id))).toEqual(new Set(all.map((e) => e.id)));
    expect(await collect(seen.rescan(store))).toEqual([]);
    other.close();
    seen.close();
    store.close();
  });

  it('searches an upload recorded after a round, but checked before its entries, against them in the next', async () => {
    const { store, seen } = seeded(1);
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`)).toEqual([
      'u0 e0 v1',
    ]);
    // Checked by a matcher still holding the list as it was before e0 (no version), recorded now.
    seen.record('late', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], {}));
    // And one checked at version 1: it saw e0 then.
    seen.record('current', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], { l: 1 }));
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`)).toEqual([
      'late e0 v1',
    ]);
    expect(await collect(seen.rescan(store))).toEqual([]);
    seen.close();
    store.close();
  });

  /**
   * The fixture `name` copied, refused read-only, opened (upgraded) with its two records, and the
   * list store its round read: `demo` version 1 with e1 and e2.
   */
  function upgraded(name: string): { path: string; seen: SeenStore; store: HashStore } {
    const path = join(dir, name);
    copyFileSync(new URL(`../../test-vectors/stores/${name}`, import.meta.url), path);
    expect(() => SeenStore.open(path, { readonly: true })).toThrow(expect.objectContaining({ code: 'ERR_STORE' }));
    const seen = SeenStore.open(path);
    expect(seen.count()).toBe(2);
    const store = HashStore.open(join(dir, 'hashes.db'));
    store.importEntries([
      { list: 'demo', id: 'e1', algorithm: 'md5', hash: md5(1) },
      { list: 'demo', id: 'e2', algorithm: 'md5', hash: md5(2) },
    ]);
    return { path, seen, store };
  }

  it('upgrades a schema 1 seen store, keeping its records, and then takes every entry as new', async () => {
    const { path, seen, store } = upgraded('seen-v1.db');
    // u1 saw no list: e1 comes again (a repeat the upgrade allows); u2 was checked against demo v1 = this one.
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId}`)).toEqual(['u1 e1']);
    seen.close();
    expect(SeenStore.open(path, { readonly: true }).count()).toBe(2);
    store.close();
  });

  it('upgrades a schema 2 seen store, keeping what its rounds took into account', async () => {
    const { seen, store } = upgraded('seen-v2.db');
    // Then e3 added: version 2.
    store.importEntries([{ list: 'demo', id: 'e3', algorithm: 'md5', hash: md5(3) }]);
    // u1's event for e1 came in the fixture's round and does not come again; u2 matches e3.
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`)).toEqual([
      'u2 e3 v2',
    ]);
    seen.close();
    store.close();
  });

  it('compares a list with what it knew in one ordered pass, over pages of known entries', async () => {
    const id = (i: number) => `e${i.toString().padStart(5, '0')}`;
    const first = Array.from({ length: 40_000 }, (_, i) => ({
      list: 'l',
      id: id(i),
      algorithm: 'md5' as const,
      hash: md5(i),
    }));
    const store = HashStore.open(join(dir, 'hashes.db'));
    store.importEntries(first);
    const seen = SeenStore.open(join(dir, 'seen.db'));
    expect(await collect(seen.rescan(store))).toEqual([]);
    // Version 2: ten removed, one changed, new ids before the first, between two and after the last.
    const second = first
      .filter((_, i) => i < 10 || i >= 20)
      .map((e) => (e.id === id(20_000) ? { ...e, hash: md5(100_000) } : e));
    second.push(
      { list: 'l', id: `${id(20_000)}x`, algorithm: 'md5', hash: md5(100_001) },
      { list: 'l', id: `${id(39_999)}z`, algorithm: 'md5', hash: md5(100_002) },
      { list: 'l', id: 'a0', algorithm: 'md5', hash: md5(100_003) },
    );
    store.importEntries(second, { replace: ['l'] });
    // Checked at version 1: each saw every entry of version 1.
    for (const [contentId, value] of [
      ['changed', 100_000],
      ['between', 100_001],
      ['after', 100_002],
      ['before', 100_003],
      ['unchanged', 5],
      ['old-hash', 20_000],
      ['removed', 15],
    ] as const)
      seen.record(contentId, resultOf([{ algorithm: 'md5', hash: bytes(md5(value)) }], { l: 1 }));
    const events = (await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`);
    expect(events.sort()).toEqual([
      `after ${id(39_999)}z v2`,
      'before a0 v2',
      `between ${id(20_000)}x v2`,
      `changed ${id(20_000)} v2`,
    ]);
    // Removed and added again: new again.
    store.importEntries([{ list: 'l', id: id(15), algorithm: 'md5', hash: md5(15) }]);
    seen.record('readded', resultOf([{ algorithm: 'md5', hash: bytes(md5(15)) }], { l: 2 }));
    expect(
      (await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`).sort(),
    ).toEqual([`readded ${id(15)} v3`, `removed ${id(15)} v3`]);
    seen.close();
    const db = new (loadDriver())(join(dir, 'seen.db'), { readonly: true });
    const known = db.prepare<[], { id: string }>("SELECT id FROM known WHERE list = 'l' ORDER BY id").pluck().all();
    db.close();
    expect(known).toEqual([...store.entries({ list: 'l' })].map((e) => e.id));
    store.close();
  });

  it('forgets the entries of a list the list store no longer has', async () => {
    const { store, seen } = seeded(3);
    expect(await collect(seen.rescan(store))).toHaveLength(3);
    const other = HashStore.open(join(dir, 'other.db'));
    other.importEntries([{ list: 'm', id: 'x', algorithm: 'md5', hash: md5(7) }]);
    expect(await collect(seen.rescan(other))).toEqual([]);
    other.close();
    const db = new (loadDriver())(join(dir, 'seen.db'), { readonly: true });
    expect(db.prepare('SELECT DISTINCT list FROM known').pluck().all()).toEqual(['m']);
    expect(db.prepare('SELECT list FROM known_lists').pluck().all()).toEqual(['m']);
    db.close();
    seen.close();
    store.close();
  });

  it('orders ids as SQLite does, by their UTF-8 bytes, also where UTF-16 order differs', () => {
    const ids = ['b', 'a', 'ab', '\u00e9', '\ue000', '\u{1f600}', '\uffff', 'a\u{1f600}', 'a\ue000', ''];
    const db = new (loadDriver())(':memory:');
    db.exec('CREATE TABLE t (id TEXT)');
    for (const id of ids) db.prepare('INSERT INTO t VALUES (?)').run(id);
    const sqlite = db.prepare<[], string>('SELECT id FROM t ORDER BY id').pluck().all();
    db.close();
    expect([...ids].sort(compareIds)).toEqual(sqlite);
    // Where JavaScript's own order is not SQLite's.
    expect([...ids].sort()).not.toEqual(sqlite);
  });

  it("refuses an entry of `known` whose hash is not its algorithm's length (a file altered by hand)", async () => {
    const { store, seen } = seeded(1);
    await collect(seen.rescan(store));
    const raw = new (loadDriver())(join(dir, 'seen.db'));
    raw.prepare("UPDATE known SET hash = x'010203'").run();
    raw.close();
    // An upload checked before e0 and recorded now needs e0 from the earlier round.
    seen.record('late', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], {}));
    await expect(collect(seen.rescan(store))).rejects.toMatchObject({ code: 'ERR_STORE' });
    seen.close();
    store.close();
  });

  it('checks its options at call time', () => {
    const { store, seen } = seeded(1);
    expect(() => seen.rescan(store, { batchSize: 0 })).toThrow(RangeError);
    expect(() => seen.rescan(store, { thresholds: { pdq: 99 } })).toThrow(RangeError);
    expect(() => seen.rescan(store, { workers: 17 })).toThrow(RangeError);
    expect(() => seen.rescan(store, { workers: 1.5 })).toThrow(TypeError);
    expect(() => seen.rescan({} as HashStore)).toThrow(TypeError);
    seen.close();
    store.close();
  });
});
