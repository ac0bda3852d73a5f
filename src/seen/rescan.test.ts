import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDriver } from '../store/driver.js';
import { HashStore } from '../store/store.js';
import { fuzzTestTimeout } from '../testing/fuzz.js';
import { type RescanControls, rescanSkipsAllowLists, rescanSkipsQuarantined } from '../testing/list-controls.js';
import { collect, rescanExactness } from '../testing/rescan-property.js';
import { resultOf } from '../testing/seen.js';
import { compareIds, groupBlobs, type RescanEvent } from './rescan.js';
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

/** Runs a shared rescan case (src/testing/list-controls.ts) on SQLite stores of the test's own. */
async function withControls(body: (controls: RescanControls) => Promise<void>): Promise<void> {
  const store = HashStore.open(join(dir, 'hashes.db'));
  const seen = SeenStore.open(join(dir, 'seen.db'));
  try {
    await body({ lists: store, record: (id, r) => seen.record(id, r), rescan: () => seen.rescan(store) });
  } finally {
    seen.close();
    store.close();
  }
}

describe('rescan and allow lists', () => {
  it('reports no hit for the new entries of an allow list, and reports those of a block list', () =>
    withControls(rescanSkipsAllowLists));
});

describe('a group’s blob', () => {
  /** A group's blob as SQLite makes it: per upload its seq, its blob's length (all ones: none) and its blob. */
  const groupOf = (uploads: readonly [number, number[] | null][]) =>
    Uint8Array.from(
      uploads.flatMap(([seq, blob]) => {
        const head = Buffer.alloc(12);
        head.writeBigUInt64BE(BigInt(seq));
        head.writeUInt32BE(blob === null ? 0xffffffff : blob.length, 8);
        return [...head, ...(blob ?? [])];
      }),
    );

  it('splits into each upload’s seq and blob, none for an upload over its bound', () => {
    const read = groupBlobs(
      groupOf([
        [7, [1, 2]],
        [2 ** 40 + 9, null],
        [2 ** 40 + 10, [1]],
      ]),
      3,
    );
    expect(Array.from(read?.seq ?? [])).toEqual([7, 2 ** 40 + 9, 2 ** 40 + 10]);
    expect([...(read?.hashes.start ?? [])]).toEqual([12, -1, 38]);
    expect([...(read?.hashes.end ?? [])]).toEqual([14, 26, 39]);
  });

  it('is refused out of seq order, so the group is read a row an upload', () => {
    expect(
      groupBlobs(
        groupOf([
          [8, [1]],
          [7, [1]],
        ]),
        2,
      ),
    ).toBeUndefined();
    expect(
      groupBlobs(
        groupOf([
          [8, [1]],
          [8, [1]],
        ]),
        2,
      ),
    ).toBeUndefined();
  });
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

  it('reads uploads whose hashes pass a group’s byte bound in the next group, losing none, and refuses one over its own', async () => {
    // Six records of 14 MiB (blockhash hashes no table searches, then one MD5): past 64 MiB a group stops.
    const count = 6;
    const filler = Math.floor((14 * 1024 * 1024) / 34);
    const blob = (i: number) => {
      const out = Buffer.alloc(1 + filler * 34 + 18, 0xab);
      out[0] = 1;
      for (let k = 0; k < filler; k++) out.writeUInt16BE(0x0100, 1 + k * 34);
      out.writeUInt16BE(0x0300, 1 + filler * 34);
      Buffer.from(md5(i), 'hex').copy(out, 3 + filler * 34);
      return out;
    };
    const store = HashStore.open(join(dir, 'hashes.db'));
    store.importEntries(
      Array.from({ length: count }, (_, i) => ({ list: 'l', id: `e${i}`, algorithm: 'md5' as const, hash: md5(i) })),
    );
    SeenStore.open(join(dir, 'seen.db')).close();
    const raw = new (loadDriver())(join(dir, 'seen.db'));
    const insert = raw.prepare("INSERT INTO seen (content_id, at, versions, hashes) VALUES (?, ?, '{}', ?)");
    for (let i = 0; i < count; i++) insert.run(`u${i}`, Date.now(), blob(i));
    raw.close();
    const seen = SeenStore.open(join(dir, 'seen.db'));
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId}`)).toEqual(
      Array.from({ length: count }, (_, i) => `u${i} e${i}`),
    );
    seen.close();
    // A record over the bound is read as none, in its place among the group's: refused, not skipped.
    const alter = new (loadDriver())(join(dir, 'seen.db'));
    alter.prepare("UPDATE seen SET hashes = zeroblob(17 * 1024 * 1024) WHERE content_id = 'u1'").run();
    alter.close();
    store.importEntries([{ list: 'm', id: 'e0', algorithm: 'md5', hash: md5(0) }]);
    const reopened = SeenStore.open(join(dir, 'seen.db'));
    await expect(collect(reopened.rescan(store))).rejects.toMatchObject({ code: 'ERR_STORE' });
    reopened.close();
    store.close();
  });

  it('finds the same in a seen store of UTF-16 text as in one of UTF-8', async () => {
    const raw = new (loadDriver())(join(dir, 'seen.db'));
    raw.pragma('encoding = "UTF-16le"');
    raw.exec('CREATE TABLE t (a); DROP TABLE t'); // written: the file now exists, in UTF-16
    raw.close();
    const { store, seen } = seeded(3);
    const utf16 = new (loadDriver())(join(dir, 'seen.db'), { readonly: true });
    expect(utf16.pragma('encoding', { simple: true })).toBe('UTF-16le');
    utf16.close();
    seen.record('none', resultOf([{ algorithm: 'md5', hash: bytes(md5(99)) }], {}));
    expect((await collect(seen.rescan(store, { batchSize: 2 }))).map((e) => `${e.contentId} ${e.entryId}`)).toEqual([
      'u0 e0',
      'u1 e1',
      'u2 e2',
    ]);
    seen.close();
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
    const ids = ['b', 'a', 'ab', '\u00e9', '\ue000', '\u{1f601}', '\u{1f600}', '\uffff', 'a\u{1f600}', 'a\ue000', ''];
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

describe('rescan of quarantined entries', () => {
  it('reports no event for a quarantined entry, and reports it once the entry is enabled again', () =>
    withControls(rescanSkipsQuarantined));
});
