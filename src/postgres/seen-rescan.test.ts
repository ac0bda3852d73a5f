/**
 * The PostgreSQL seen store's rescan on a real server: the exactness property the SQLite store
 * passes (src/testing/rescan-property.ts), uploads recorded late, the commit-order guard on the
 * sequence, one rescan at a time, and concurrent recorders, importers and rescans losing and
 * duplicating nothing. The SIGKILL resume is in seen-kill.test.ts.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSearched } from '../seen/record.js';
import type { RescanEvent } from '../seen/events.js';
import { fuzzTestTimeout } from '../testing/fuzz.js';
import { postgresTitle, usePostgres } from '../testing/postgres.js';
import { collect, rescanExactness } from '../testing/rescan-property.js';
import { resultOf } from '../testing/seen.js';
import { PgHashStore, PgSeenStore } from './index.js';
import { SEEN_LOCK_SPACE, SEEN_LOCKS } from './seen-schema.js';

const server = usePostgres({ beforeAll, afterAll });

const md5 = (i: number) => i.toString(16).padStart(32, '0');
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const found = (events: readonly RescanEvent[]) => events.map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`);

/** Both stores on a database of the test's own. */
async function stores(url = server.url()): Promise<{ url: string; lists: PgHashStore; seen: PgSeenStore }> {
  return { url, lists: await PgHashStore.connect(url), seen: await PgSeenStore.connect(url) };
}

describe.skipIf(!server.available)(postgresTitle('PgSeenStore.rescan', server.available), () => {
  it(
    'finds exactly what a brute-force scan of every recorded hash against every new entry finds',
    async (t) => {
      if (!server.running()) return t.skip();
      const { url, lists, seen } = await stores();
      const admin = new pg.Client(url);
      await admin.connect();
      try {
        await rescanExactness(async () => {
          // Each run on empty tables of one database (a database per run is slower to make).
          await admin.query(
            'TRUNCATE lists, entries, imports, checkpoints, seen_uploads, seen_known, seen_known_lists, seen_state, seen_cursor RESTART IDENTITY',
          );
          return {
            record: (contentId, result) => seen.record(contentId, result),
            importEntries: (entries, options) => lists.importEntries(entries, options),
            setListPolicy: (name, change) => lists.setListPolicy(name, change),
            lists: () => lists.lists(),
            rescan: (options) => seen.rescan(lists, options),
            close: () => undefined,
          };
        }, 25);
      } finally {
        await admin.end();
        await seen.close();
        await lists.close();
      }
    },
    fuzzTestTimeout() ?? 120_000,
  );

  it('searches an upload recorded after a round, but checked before its entries, against them in the next', async (t) => {
    if (!server.running()) return t.skip();
    const { lists, seen } = await stores();
    try {
      await lists.importEntries([{ list: 'l', id: 'e0', algorithm: 'md5', hash: md5(0) }]);
      await seen.record('u0', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], {}));
      expect(found(await collect(seen.rescan(lists)))).toEqual(['u0 e0 v1']);
      // Checked by a matcher still holding the list as it was before e0 (no version), recorded now.
      await seen.record('late', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], {}));
      // And one checked at version 1: it saw e0 then.
      await seen.record('current', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], { l: 1 }));
      expect(found(await collect(seen.rescan(lists)))).toEqual(['late e0 v1']);
      expect(await collect(seen.rescan(lists))).toEqual([]);
      // Recorded again (a new check, at no version): a new place in the sequence, searched again.
      await seen.record('u0', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], {}));
      expect(found(await collect(seen.rescan(lists)))).toEqual(['u0 e0 v1']);
    } finally {
      await seen.close();
      await lists.close();
    }
  });

  it('waits for a record whose sequence number was drawn before a round began, and searches it', async (t) => {
    if (!server.running()) return t.skip();
    const { url, lists, seen } = await stores();
    const recorder = new pg.Client(url);
    await recorder.connect();
    try {
      await lists.importEntries([{ list: 'l', id: 'e0', algorithm: 'md5', hash: md5(0) }]);
      // A record under way, as PgSeenStore.record writes it: its number drawn, not yet committed.
      await recorder.query('BEGIN');
      await recorder.query('SELECT pg_advisory_xact_lock_shared($1, $2)', [SEEN_LOCK_SPACE, SEEN_LOCKS.record]);
      await recorder.query(
        "INSERT INTO seen_uploads (content_id, at, versions, hashes) VALUES ('slow', now(), '{}', $1)",
        [encodeSearched([{ algorithm: 'md5', hash: bytes(md5(0)) }])],
      );
      // A later number, committed first.
      await seen.record('quick', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], {}));
      let settled = false;
      const rescan = collect(seen.rescan(lists)).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(settled).toBe(false);
      await recorder.query('COMMIT');
      const events = [...(await rescan), ...(await collect(seen.rescan(lists)))];
      expect(found(events).sort()).toEqual(['quick e0 v1', 'slow e0 v1']);
    } finally {
      await recorder.end();
      await seen.close();
      await lists.close();
    }
  });

  it('makes a record wait while a round fixes its last sequence number (the other half of the guard)', async (t) => {
    if (!server.running()) return t.skip();
    const { url, lists, seen } = await stores();
    const round = new pg.Client(url);
    await round.connect();
    try {
      await round.query('BEGIN');
      await round.query('SELECT pg_advisory_xact_lock($1, $2)', [SEEN_LOCK_SPACE, SEEN_LOCKS.record]);
      let settled = false;
      const recording = seen.record('u', resultOf([], {})).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(settled).toBe(false);
      await round.query('COMMIT');
      await recording;
      expect(await seen.count()).toBe(1);
    } finally {
      await round.end();
      await seen.close();
      await lists.close();
    }
  });

  it('runs one rescan at a time: a second waits for the first to end, then finds only what is new', async (t) => {
    if (!server.running()) return t.skip();
    const { url, lists, seen } = await stores();
    const other = await PgSeenStore.connect(url);
    try {
      await lists.importEntries([0, 1, 2].map((i) => ({ list: 'l', id: `e${i}`, algorithm: 'md5', hash: md5(i) })));
      for (const i of [0, 1, 2]) await seen.record(`u${i}`, resultOf([{ algorithm: 'md5', hash: bytes(md5(i)) }], {}));
      const first = seen.rescan(lists, { batchSize: 1 });
      const taken = [(await first.next()).value as RescanEvent];
      let settled = false;
      const second = collect(other.rescan(lists)).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(settled).toBe(false);
      for await (const event of { [Symbol.asyncIterator]: () => first }) taken.push(event);
      expect(found(taken)).toEqual(['u0 e0 v1', 'u1 e1 v1', 'u2 e2 v1']);
      expect(await second).toEqual([]);
    } finally {
      await other.close();
      await seen.close();
      await lists.close();
    }
  });

  it('resumes a rescan left by a break from its last acknowledged batch, with the same event ids', async (t) => {
    if (!server.running()) return t.skip();
    const { lists, seen } = await stores();
    try {
      await lists.importEntries(
        [0, 1, 2, 3, 4].map((i) => ({ list: 'l', id: `e${i}`, algorithm: 'md5', hash: md5(i) })),
      );
      for (let i = 0; i < 5; i++) await seen.record(`u${i}`, resultOf([{ algorithm: 'md5', hash: bytes(md5(i)) }], {}));
      const taken: RescanEvent[] = [];
      for await (const event of seen.rescan(lists, { batchSize: 2 })) {
        taken.push(event);
        if (taken.length === 3) break;
      }
      const rest = await collect(seen.rescan(lists, { batchSize: 2 }));
      // Batch [u2, u3] was in hand: u2 comes again, with the same id.
      expect(rest.map((e) => e.contentId)).toEqual(['u2', 'u3', 'u4']);
      expect(rest[0]?.id).toBe(taken[2]?.id);
      expect(await collect(seen.rescan(lists))).toEqual([]);
    } finally {
      await seen.close();
      await lists.close();
    }
  });

  it('searches only uploads recorded since the date given, and checks its options at call time', async (t) => {
    if (!server.running()) return t.skip();
    const { lists, seen } = await stores();
    try {
      await lists.importEntries([0, 1, 2].map((i) => ({ list: 'l', id: `e${i}`, algorithm: 'md5', hash: md5(i) })));
      for (const i of [0, 1, 2])
        await seen.record(`u${i}`, resultOf([{ algorithm: 'md5', hash: bytes(md5(i)) }], {}), {
          at: new Date(Date.UTC(2026, 0, 1 + i)),
        });
      const events = await collect(seen.rescan(lists, { since: new Date(Date.UTC(2026, 0, 2)) }));
      expect(events.map((e) => [e.contentId, e.recordedAt.toISOString()])).toEqual([
        ['u1', '2026-01-02T00:00:00.000Z'],
        ['u2', '2026-01-03T00:00:00.000Z'],
      ]);
      // A date before PostgreSQL's earliest (a JavaScript Date reaches further back) excludes nothing.
      expect(await collect(seen.rescan(lists, { since: new Date(-8.64e15) }))).toEqual([]);
      await lists.importEntries([{ list: 'l', id: 'e3', algorithm: 'md5', hash: md5(0) }]);
      expect(found(await collect(seen.rescan(lists, { since: new Date(-8.64e15) })))).toEqual(['u0 e3 v2']);
      expect(await seen.expire(new Date(-8.64e15))).toBe(0);
      expect(() => seen.rescan(lists, { batchSize: 0 })).toThrow(RangeError);
      expect(() => seen.rescan(lists, { thresholds: { pdq: 99 } })).toThrow(RangeError);
    } finally {
      await seen.close();
      await lists.close();
    }
  });
});
