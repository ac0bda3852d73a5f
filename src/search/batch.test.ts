import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeList, makeQuery, prng, QUERIES, SHAPES } from '../testing/hash-lists.js';
import {
  BATCH_GUARD_FRACTION,
  BATCH_SCAN_BELOW,
  BATCH_SORT_FROM,
  BatchHits,
  BatchIndex,
  defaultBatchSubstringBits,
  MAX_BATCH_ENTRIES,
  searchBatch,
} from './batch.js';
import { LinearIndex } from './linear.js';

/** Every threshold a perceptual algorithm allows (PDQ and blockhash go to 64), and a few beyond. */
const THRESHOLDS = [...Array.from({ length: 65 }, (_, t) => t), 80, 128, 256];
/** Divisors of 256 (8, 16) and not (9, 13, 20): unequal substrings and ones straddling byte 16. */
const WIDTHS = [0, 8, 9, 13, 16, 20] as const;

function concat(hashes: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(32 * hashes.length);
  hashes.forEach((hash, i) => out.set(hash, 32 * i));
  return out;
}

function popcount(byte: number): number {
  let c = 0;
  for (let x = byte; x !== 0; x &= x - 1) c++;
  return c;
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, byte) => popcount(byte));

/** The distance of every (query, entry) pair, query-major: the reference, computed once per set. */
function distances(queries: Uint8Array, entries: Uint8Array): Uint16Array {
  const nq = queries.length / 32;
  const ne = entries.length / 32;
  const out = new Uint16Array(nq * ne);
  for (let q = 0; q < nq; q++)
    for (let e = 0; e < ne; e++) {
      let d = 0;
      for (let b = 0; b < 32; b++)
        d += POPCOUNT[(queries[32 * q + b] as number) ^ (entries[32 * e + b] as number)] as number;
      out[q * ne + e] = d;
    }
  return out;
}

/** Every (query, entry, distance) within `threshold`, by comparing each pair. */
function bruteForce(
  queries: Uint8Array,
  entries: Uint8Array,
  threshold: number,
  all = distances(queries, entries),
): string[] {
  const ne = entries.length / 32;
  const hits: string[] = [];
  all.forEach((d, k) => {
    if (d <= threshold) hits.push(`${Math.floor(k / ne)}:${k % ne}:${d}`);
  });
  return hits;
}

function listed(hits: BatchHits): string[] {
  return Array.from({ length: hits.length }, (_, k) => `${hits.queries[k]}:${hits.entries[k]}:${hits.distances[k]}`);
}

/** Queries of every kind (near an entry, an entry itself, random, all zeros, all ones). */
function queriesFor(hashes: readonly Uint8Array[], count: number, seed: number): Uint8Array {
  const int = prng(seed);
  return concat(
    Array.from({ length: count }, (_, k) => makeQuery(QUERIES[int(QUERIES.length)] ?? 'random', hashes, seed + k)),
  );
}

/**
 * Per table i, a query exactly `threshold` from a random entry that only table i can find, at a
 * mask of the largest weight probed there. With t = s·m + a, tables 0..a are probed at radius s and
 * the rest at s − 1: substring j of the query differs from the entry's in radius_j + 1 bits for
 * every j but i, which differs in radius_i bits (fewer when a radius exceeds the width).
 */
function tightQueries(
  index: BatchIndex,
  hashes: readonly Uint8Array[],
  threshold: number,
  int: (below: number) => number,
): Uint8Array[] {
  const widths = index.substringBits;
  const m = widths.length;
  const s = Math.floor(threshold / m);
  const a = threshold - s * m;
  const tight: Uint8Array[] = [];
  for (let i = 0; i < m; i++) {
    const query = Uint8Array.from(hashes[int(hashes.length)] as Uint8Array);
    let start = 0;
    widths.forEach((width, j) => {
      const radius = j <= a ? s : s - 1;
      const flips = j === i ? radius : radius + 1;
      // Distinct bits of substring j (bit 0: the top bit of byte 0): its first ones, its last
      // ones (the first and the last flip masks in probe order) or random ones.
      const bits = Array.from({ length: width }, (_, b) => start + b);
      const order = int(3);
      if (order === 1) bits.reverse();
      else if (order === 2) bits.sort(() => int(3) - 1);
      for (const bit of bits.slice(0, Math.max(0, flips)))
        query[bit >> 3] = (query[bit >> 3] as number) ^ (0x80 >> (bit & 7));
      start += width;
    });
    tight.push(query);
  }
  return tight;
}

describe('searchBatch', () => {
  it('finds exactly the pairs brute force finds, for every list shape, width and threshold 0..64', () => {
    fc.assert(
      fc.property(
        fc.record({
          shape: fc.constantFrom(...SHAPES),
          n: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1500 })),
          queries: fc.integer({ min: 0, max: 40 }),
          seed: fc.integer(),
          substringBits: fc.constantFrom(...WIDTHS),
          // Infinity: the tables answer every query they can, so the kernel itself is tested.
          guardFraction: fc.constantFrom(Infinity, BATCH_GUARD_FRACTION),
        }),
        ({ shape, n, queries: count, seed, substringBits, guardFraction }) => {
          const hashes = makeList(shape, n, seed);
          const entries = concat(hashes);
          const index = BatchIndex.fromHashes(entries, { substringBits, guardFraction });
          const queries = queriesFor(hashes, count, seed);
          const hits = new BatchHits(1);
          const all = distances(queries, entries);
          for (const threshold of THRESHOLDS) {
            searchBatch(index, queries, threshold, hits);
            expect(listed(hits), `${shape} ×${n}, ${substringBits} bits, t = ${threshold}`).toEqual(
              bruteForce(queries, entries, threshold, all),
            );
          }
        },
      ),
      { seed: 20261206, numRuns: 40 },
    );
  });

  it('finds exactly the pairs brute force finds for small sets (fast-check shrinks these)', () => {
    const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(
        fc.array(hash, { maxLength: 30 }),
        fc.array(hash, { maxLength: 10 }),
        fc.nat(64),
        fc.constantFrom(...WIDTHS),
        fc.constantFrom(Infinity, BATCH_GUARD_FRACTION),
        (entryList, queryList, threshold, substringBits, guardFraction) => {
          // Queries are entries with a few bits flipped as often as they are random.
          const queries = concat(
            queryList.map((q, k) => {
              const base = entryList[k % Math.max(1, entryList.length)];
              if (base === undefined || k % 2 === 1) return q;
              const near = Uint8Array.from(base);
              near[(q[0] as number) % 32] = (near[(q[0] as number) % 32] as number) ^ (q[1] as number);
              return near;
            }),
          );
          const entries = concat(entryList);
          const index = BatchIndex.fromHashes(entries, { substringBits, guardFraction });
          expect(listed(searchBatch(index, queries, threshold))).toEqual(bruteForce(queries, entries, threshold));
        },
      ),
      { seed: 20261206, numRuns: 100 },
    );
  });

  it('finds a pair at exactly the threshold that only one table, at its outermost radius, can find', () => {
    // The pairs a kernel that skips any probe would miss (tightQueries).
    fc.assert(
      fc.property(
        fc.constantFrom(...WIDTHS.filter((w) => w > 0)),
        fc.integer({ min: 0, max: 64 }),
        fc.integer(),
        (substringBits, threshold, seed) => {
          const int = prng(seed);
          const hashes = makeList('random', 600, seed);
          const entries = concat(hashes);
          const index = BatchIndex.fromHashes(entries, { substringBits, guardFraction: Infinity });
          const tight = tightQueries(index, hashes, threshold, int);
          const queries = concat(tight);
          const expected = bruteForce(queries, entries, threshold);
          // Substring i's radius may exceed its width (small widths, t near 64): then fewer flips.
          expect(expected.length).toBeGreaterThan(0);
          expect(listed(searchBatch(index, queries, threshold))).toEqual(expected);
        },
      ),
      { seed: 20261206, numRuns: 40 },
    );
  });

  it('answers batches larger than one kernel chunk (65,536 queries), with queries near entries spread through them', () => {
    const hashes = makeList('mixed', 60, 7);
    const entries = concat(hashes);
    const index = BatchIndex.fromHashes(entries, { substringBits: 16, guardFraction: Infinity });
    const queries = queriesFor(hashes, 66_000, 11);
    expect(listed(searchBatch(index, queries, 31))).toEqual(bruteForce(queries, entries, 31));
  });

  it(`finds exactly the pairs brute force finds in sets large enough (${BATCH_SORT_FROM}) to sort queries by key`, () => {
    const hashes = makeList('mixed', BATCH_SORT_FROM, 17);
    const entries = concat(hashes);
    const int = prng(19);
    for (const guardFraction of [Infinity, BATCH_GUARD_FRACTION]) {
      const index = BatchIndex.fromHashes(entries, { guardFraction });
      for (const threshold of [0, 8, 31, 64]) {
        const queries = concat([...tightQueries(index, hashes, threshold, int), ...hashes.slice(0, 8)]);
        expect(listed(searchBatch(index, queries, threshold)), `t = ${threshold}`).toEqual(
          bruteForce(queries, entries, threshold),
        );
      }
    }
  });

  it('hands a query near a cluster to the scan and still finds every entry once', () => {
    // 2,000 copies of one hash: every query near it crowds one bucket per table, past the guard.
    const base = makeList('random', 1, 3)[0] as Uint8Array;
    const entries = concat([...Array.from({ length: 2000 }, () => base), ...makeList('random', 2000, 4)]);
    const index = BatchIndex.fromHashes(entries, { substringBits: 16 });
    const queries = concat([base, makeList('random', 1, 5)[0] as Uint8Array]);
    const hits = searchBatch(index, queries, 31);
    expect(hits.length).toBe(2000);
    expect(listed(hits)).toEqual(bruteForce(queries, entries, 31));
  });

  it('is searched through a share of its tables as it is itself, each with its own area for its calls', () => {
    const hashes = makeList('clustered', 3000, 21);
    const entries = concat(hashes);
    const index = BatchIndex.fromHashes(entries, { guardFraction: Infinity });
    const shared = index.share();
    if (shared === undefined) throw new Error('expected tables to share');
    const other = BatchIndex.attach(shared, entries, { guardFraction: Infinity });
    expect(other.substringBits).toEqual(index.substringBits);
    const queries = queriesFor(hashes, 400, 5);
    // Alternating, and at thresholds that need more masks than the last (a new area each time).
    for (const threshold of [8, 31, 40, 64]) {
      const mine = new BatchHits();
      const theirs = new BatchHits();
      searchBatch(index, queries, threshold, mine);
      searchBatch(other, queries, threshold, theirs);
      expect(listed(theirs), `t = ${threshold}`).toEqual(bruteForce(queries, entries, threshold));
      expect(listed(mine), `t = ${threshold}`).toEqual(listed(theirs));
    }
    expect(BatchIndex.fromHashes(concat(hashes.slice(0, 10))).share()).toBeUndefined();
    expect(() => BatchIndex.attach(shared, entries.subarray(32))).toThrow(RangeError);
  });

  it('reads queries at any byte offset of their buffer', () => {
    const hashes = makeList('clustered', 800, 9);
    const entries = concat(hashes);
    const index = BatchIndex.fromHashes(entries, { guardFraction: Infinity });
    const queries = queriesFor(hashes, 50, 13);
    const shifted = new Uint8Array(queries.length + 3);
    shifted.set(queries, 3);
    expect(listed(searchBatch(index, shifted.subarray(3), 24))).toEqual(bruteForce(queries, entries, 24));
  });

  it('indexes a LinearIndex as it is, and scans sets too small for tables', () => {
    const hashes = makeList('random', 100, 1);
    const linear = LinearIndex.fromHashes(hashes, 256);
    const index = BatchIndex.fromLinear(linear);
    expect(index.linear).toBe(linear);
    expect(index.substringBits).toEqual([]);
    expect(defaultBatchSubstringBits(BATCH_SCAN_BELOW - 1)).toBe(0);
    expect(defaultBatchSubstringBits(BATCH_SCAN_BELOW)).toBeGreaterThan(0);
    const queries = concat(hashes.slice(0, 5));
    expect(listed(searchBatch(index, queries, 0))).toEqual(['0:0:0', '1:1:0', '2:2:0', '3:3:0', '4:4:0']);
  });

  it('clears a reused output buffer and grows it past its capacity', () => {
    const hashes = makeList('duplicates', 600, 2);
    const index = BatchIndex.fromHashes(concat(hashes), { guardFraction: Infinity });
    const out = new BatchHits(1);
    const queries = concat(hashes.slice(0, 20));
    searchBatch(index, queries, 10, out);
    const first = listed(out);
    expect(first.length).toBeGreaterThan(20);
    searchBatch(index, queries, 10, out);
    expect(listed(out)).toEqual(first);
  });

  it('refuses bad arguments with TypeError or RangeError', () => {
    const index = BatchIndex.fromHashes(new Uint8Array(64));
    expect(() => searchBatch(index, new Uint8Array(33), 5)).toThrow(RangeError);
    expect(() => searchBatch(index, [] as unknown as Uint8Array, 5)).toThrow(TypeError);
    expect(() => searchBatch(index, new Uint8Array(32), 257)).toThrow(RangeError);
    expect(() => searchBatch(index, new Uint8Array(32), 1.5)).toThrow(TypeError);
    expect(() => searchBatch({} as BatchIndex, new Uint8Array(32), 5)).toThrow(TypeError);
    expect(() => searchBatch(index, new Uint8Array(32), 5, {} as BatchHits)).toThrow(TypeError);
    expect(() => BatchIndex.fromHashes(new Uint8Array(31))).toThrow(RangeError);
    expect(() => BatchIndex.fromHashes(new Uint8Array(32), { substringBits: 30 })).toThrow(RangeError);
    expect(() => BatchIndex.fromLinear({} as LinearIndex)).toThrow(TypeError);
    expect(() => BatchIndex.fromLinear(LinearIndex.allocate(MAX_BATCH_ENTRIES + 1))).toThrow(RangeError);
    expect(() => BatchIndex.fromHashes(new Uint8Array(32), { guardFraction: 0 })).toThrow(RangeError);
  });
});
