import { describe, expect, it } from 'vitest';
import { DIHEDRAL_NAMES } from '../algorithms/dihedral.js';
import type { SearchedQuery } from '../matcher/searched.js';
import type { ListHeader } from '../store/types.js';
import { mulberry32 } from '../testing/prng.js';
import type { PerceptualTable } from '../search/tables.js';
import {
  batchEvents,
  buildRound,
  type KnownRow,
  type LateRound,
  type RescanEvent,
  type RoundTable,
  type SeqRow,
  type UploadBatch,
} from './events.js';
import { FindPool, PassSearch } from './find-pool.js';
import { findMatches } from './find.js';
import { encodeSearched, recordBlobs } from './record.js';

const random = mulberry32(2207);
const randomHash = (): Uint8Array => Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));

/** `hash` with `bits` random bits flipped (some may flip back). */
function near(hash: Uint8Array, bits: number): Uint8Array {
  const out = Uint8Array.from(hash);
  for (let k = 0; k < bits; k++) {
    const bit = Math.floor(random() * 256);
    out[bit >> 3] = (out[bit >> 3] as number) ^ (0x80 >> (bit & 7));
  }
  return out;
}

const policy = new Map<string, ListHeader>(
  ['a', 'b'].map((name, i) => [
    name,
    { name, enabled: true, version: 3, thresholds: i === 0 ? { pdq: 24 } : {} } as unknown as ListHeader,
  ]),
);

/** Entries over the kernel's scan bound (so its tables are used), in two lists of two thresholds. */
function entries(count: number, since: number): KnownRow[] {
  return Array.from({ length: count }, (_, i) => ({
    list: i % 2 === 0 ? 'a' : 'b',
    id: `e${since}-${i}`,
    algorithm: 'pdq',
    hash: randomHash(),
    since,
  }));
}

/** Uploads of 8 PDQ hashes and an MD5, one in 8 near an entry, some checked at version 2 of list a. */
function uploads(count: number, near: readonly KnownRow[]): SeqRow[] {
  return Array.from({ length: count }, (_, i) => {
    const queries: SearchedQuery[] = DIHEDRAL_NAMES.map((transform) => ({
      algorithm: 'pdq',
      hash: randomHash(),
      transform,
    }));
    if (i % 8 === 0 && near.length > 0) {
      const entry = near[Math.floor(random() * near.length)] as KnownRow;
      (queries[Math.floor(random() * 8)] as { hash: Uint8Array }).hash = nearHash(entry.hash);
    }
    queries.push({ algorithm: 'md5', hash: randomHash().subarray(0, 16) });
    return {
      seq: i + 1,
      content_id: `u${i}`,
      at: 1_700_000_000_000 + i,
      versions: JSON.stringify(i % 3 === 0 ? { a: 2 } : {}),
      hashes: encodeSearched(queries),
    };
  });
}

/** `hash` with exactly `bits` distinct bits flipped. */
function flipExactly(hash: Uint8Array, bits: number): Uint8Array {
  const out = Uint8Array.from(hash);
  const order = Array.from({ length: 256 }, (_, i) => i).sort(() => random() - 0.5);
  for (const bit of order.slice(0, bits)) out[bit >> 3] = (out[bit >> 3] as number) ^ (0x80 >> (bit & 7));
  return out;
}

function nearHash(hash: Uint8Array): Uint8Array {
  return near(hash, Math.floor(random() * 48));
}

const BITS = Uint8Array.from({ length: 256 }, (_, v) => [...v.toString(2)].filter((c) => c === '1').length);

/** Every (query, entry, distance) within the entry's threshold, by query then entry position. */
function bruteForce(round: RoundTable, queries: Uint8Array, count: number): string[] {
  const { a, b } = (round.table as PerceptualTable).linear.planes();
  const out: string[] = [];
  for (let q = 0; q < count; q++) {
    for (let e = 0; e < round.ofEntry.length; e++) {
      let d = 0;
      for (let k = 0; k < 16; k++) {
        d += BITS[((queries[32 * q + k] as number) ^ (a[16 * e + k] as number)) & 0xff] as number;
        d += BITS[((queries[32 * q + 16 + k] as number) ^ (b[16 * e + k] as number)) & 0xff] as number;
      }
      if (d <= (round.ofEntry[e] as number)) out.push(`${q}:${e}:${d}`);
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the rescan search threads', () => {
  it('find what findMatches finds on the calling thread, hit for hit', async () => {
    // Enough entries, and thresholds low enough (31 and 24), that the kernel probes its tables:
    // below about 2,200 entries, or past t = 31 at 6,000, its cost guard scans every query.
    const known = entries(6000, 3);
    const round = buildRound(known, policy, {});
    const table = round.tables.get('pdq');
    if (table === undefined) throw new Error('no table');
    const pool = FindPool.start(2);
    if (pool === undefined) throw new Error('no search threads from source');
    try {
      for (const count of [1, 7, 1500]) {
        const queries = new Uint8Array(32 * count);
        for (let q = 0; q < count; q++) {
          const base = (known[Math.floor(random() * known.length)] as KnownRow).hash;
          // Some exactly at a threshold (list b's 31, list a's 24), the pairs an off-by-one loses.
          const query =
            q % 4 === 0 ? nearHash(base) : q % 4 === 1 ? flipExactly(base, q % 8 === 1 ? 31 : 24) : randomHash();
          queries.set(query, 32 * q);
        }
        const here = findMatches(table.table, queries, count, table);
        const there = await pool.find(table, queries, count);
        if (count > 1000) expect(here.query.length).toBeGreaterThan(100);
        // And what the kernel's tables find is every pair within
        // each entry's threshold, as a comparison of every query with every entry finds.
        const pairs = Array.from(here.query, (q, h) => `${q}:${here.entry[h]}:${here.distance[h]}`);
        expect(pairs).toEqual(bruteForce(table, queries, count));
        expect(Array.from(there.query)).toEqual(Array.from(here.query));
        expect(Array.from(there.entry)).toEqual(Array.from(here.entry));
        expect(Array.from(there.distance)).toEqual(Array.from(here.distance));
      }
    } finally {
      await pool.close();
    }
    await expect(pool.find(table, new Uint8Array(32), 1)).rejects.toThrow(/closed/);
  });

  it('give a pass the events batchEvents gives, main and late, once the threads take over', async () => {
    const known = entries(1200, 3);
    const main = buildRound(known, policy, {});
    const older = entries(700, 2);
    const late: LateRound = { round: buildRound(older, policy, {}), after: 300 };
    const rows = uploads(2400, [...known, ...older]);
    const search = new PassSearch(main, late, 2, 0);
    try {
      const all: RescanEvent[] = [];
      const expected: RescanEvent[] = [];
      // Every batch once, then again (the same uploads) until the threads have searched several:
      // a machine under load may take seconds to start them.
      const until = Date.now() + 30_000;
      for (let from = 0; from < rows.length || (search.threaded <= 5 && Date.now() < until); from += 100) {
        const batch = rows.slice(from % rows.length, (from % rows.length) + 100);
        all.push(...(await search.events(batch)));
        expected.push(...batchEvents(batch, main, late));
        // Time for the threads to start and index the tables, as a longer pass would give them.
        if (search.threaded === 0) await sleep(100);
      }
      expect(search.threaded).toBeGreaterThan(5);
      expect(expected.length).toBeGreaterThan(100);
      expect(all).toEqual(expected);
    } finally {
      await search.close();
    }
  });

  it('take over a pass that never waits on I/O (their messages still get through)', async () => {
    const known = entries(600, 3);
    const search = new PassSearch(buildRound(known, policy, {}), undefined, 1, 0);
    const batch = uploads(20, known);
    try {
      // No sleep here: a rescan's reads are synchronous, and so may its consumer be.
      const until = Date.now() + 15_000;
      while (search.threaded === 0 && Date.now() < until) await search.events(batch);
      expect(search.threaded).toBe(1);
    } finally {
      await search.close();
    }
  });

  it('give for seq and hashes alone the events of whole rows, reading the rest only of uploads found', async () => {
    const known = entries(600, 3);
    const main = buildRound(known, policy, {});
    const rows = uploads(400, known);
    const read: number[] = [];
    // The upload a store would find deleted since it read the batch: its record is gone, so are its events.
    const gone = 8;
    const uploadBatch: UploadBatch = {
      seq: rows.map((row) => row.seq),
      hashes: recordBlobs(rows.map((row) => row.hashes)),
      details: (upload) => {
        read.push(upload);
        return upload === gone ? undefined : rows[upload];
      },
    };
    const search = new PassSearch(main, undefined, 2, 0);
    try {
      const until = Date.now() + 15_000;
      let events = await search.events(uploadBatch);
      while (search.threaded === 0 && Date.now() < until) events = await search.events(uploadBatch);
      const expected = batchEvents(rows, main);
      expect(expected.some((event) => event.contentId === `u${gone}`)).toBe(true);
      expect(events).toEqual(expected.filter((event) => event.contentId !== `u${gone}`));
      expect(new Set(read)).toEqual(new Set([gone, ...expected.map((event) => Number(event.contentId.slice(1)))]));
    } finally {
      await search.close();
    }
  });

  it('search on the calling thread when no thread is allowed', async () => {
    const known = entries(600, 3);
    const main = buildRound(known, policy, {});
    const search = new PassSearch(main, undefined, 0, 0);
    const batch = uploads(200, known);
    expect(await search.events(batch)).toEqual(batchEvents(batch, main));
    expect(search.threaded).toBe(0);
    await search.close();
  });
});
