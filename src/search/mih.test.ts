import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { parseHex } from '../algorithms/hex.js';
import { flipBit, flipped, makeList, makeQuery, prng, QUERIES, SHAPES } from '../testing/hash-lists.js';
import { hasShared, sharedPath, sharedTitle } from '../testing/shared.js';
import { LinearIndex } from './linear.js';
import { DEFAULT_GUARD_FRACTION, MihIndex } from './mih.js';
import {
  MAX_INDEX_BYTES_PER_ENTRY,
  MIH_MIN_COUNT,
  chooseSearchTier,
  defaultSubstringBits,
  indexBytesPerEntry,
  substringWidths,
} from './tier.js';

const PDQ_LISTS = sharedPath('reference', 'pdq', 'hash-lists');

/** Every threshold MIH may serve, and some only the scan can (radius beyond the probe limit). */
const THRESHOLDS = [...Array.from({ length: 65 }, (_, t) => t), 80, 128, 256];
/** Divisors of 256 (8, 16) and not (9, 11, 13): unequal substrings. 8 bits means full buckets. */
const WIDTHS = [8, 9, 11, 13, 16] as const;

function expectSameAsLinear(index: MihIndex, query: Uint8Array, thresholds: readonly number[], label: string): void {
  for (const threshold of thresholds) {
    expect(index.search(query, threshold), `${label}, threshold ${threshold}`).toEqual(
      index.linear.search(query, threshold),
    );
  }
}

describe('MihIndex search', () => {
  it('returns exactly what the linear scan returns, for every list shape, width and threshold 0..64', () => {
    fc.assert(
      fc.property(
        fc.record({
          shape: fc.constantFrom(...SHAPES),
          n: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3000 })),
          seed: fc.integer(),
          query: fc.constantFrom(...QUERIES),
          substringBits: fc.constantFrom(...WIDTHS),
          // Infinity: the tables answer every query they can, so the MIH path itself is tested.
          guardFraction: fc.constantFrom(Infinity, DEFAULT_GUARD_FRACTION),
        }),
        ({ shape, n, seed, query: kind, substringBits, guardFraction }) => {
          const hashes = makeList(shape, n, seed);
          const index = MihIndex.build(LinearIndex.fromHashes(hashes, 256), { substringBits, guardFraction });
          expectSameAsLinear(index, makeQuery(kind, hashes, seed), THRESHOLDS, `${shape} ×${n}, ${substringBits} bits`);
        },
      ),
      { seed: 20261128, numRuns: 60 },
    );
  });

  it('returns exactly what the linear scan returns for small lists (fast-check shrinks these)', () => {
    const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const variants = fc.array(fc.tuple(fc.nat(), fc.array(fc.nat(255), { maxLength: 20 })), { maxLength: 50 });
    const clustered = fc.tuple(fc.array(hash, { minLength: 1, maxLength: 4 }), variants).map(([seeds, vs]) =>
      vs.map(([s, flips]) => {
        const h = Uint8Array.from(seeds[s % seeds.length]!);
        for (const bit of flips) flipBit(h, bit);
        return h;
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.array(hash, { maxLength: 40 }), clustered),
        hash,
        fc.nat(64),
        fc.constantFrom(...WIDTHS),
        (hashes, other, threshold, substringBits) => {
          // Next to a stored hash half of the time, so matches are common.
          const query =
            hashes.length > 0 && threshold % 2 === 0
              ? Uint8Array.from(hashes[0]!, (b, i) => (i === 5 ? b ^ 0x24 : b))
              : other;
          const index = MihIndex.build(LinearIndex.fromHashes(hashes, 256), { substringBits, guardFraction: Infinity });
          expect(index.search(query, threshold)).toEqual(index.linear.search(query, threshold));
        },
      ),
      { seed: 20261128, numRuns: 300 },
    );
  });

  it('returns exactly what the linear scan returns on 20,000-hash random and mixed lists', () => {
    for (const shape of ['random', 'mixed'] as const) {
      const hashes = makeList(shape, 20_000, 7);
      const linear = LinearIndex.fromHashes(hashes, 256);
      for (const options of [
        {},
        { substringBits: 14, guardFraction: Infinity },
        { substringBits: 20, guardFraction: Infinity },
      ]) {
        const index = MihIndex.build(linear, options);
        for (const [q, kind] of QUERIES.entries()) {
          // Every threshold for near queries; a sample for the rest keeps the file fast.
          const thresholds = kind === 'near' || kind === 'stored' ? THRESHOLDS : [0, 8, 16, 31, 47, 64];
          expectSameAsLinear(
            index,
            makeQuery(kind, hashes, q + 1),
            thresholds,
            `${shape}, ${JSON.stringify(options)}, ${kind}`,
          );
        }
      }
    }
  });

  it('returns exactly what the linear scan returns on 100,000-hash lists of every shape', () => {
    for (const [s, shape] of SHAPES.entries()) {
      const hashes = makeList(shape, 100_000, 11 + s);
      const linear = LinearIndex.fromHashes(hashes, 256);
      const index = MihIndex.build(linear);
      for (const [q, kind] of QUERIES.entries()) {
        // Every threshold on the random list; on clustered ones most thresholds match most of
        // the list (100k hits a query), so a sample keeps the file fast.
        const thresholds = shape === 'random' && kind === 'near' ? THRESHOLDS : [0, 10, 24, 31, 64];
        expectSameAsLinear(index, makeQuery(kind, hashes, 100 + q), thresholds, `${shape}, ${kind}`);
      }
    }
  });

  it('finds entries that only one table reaches, at exactly its radius (the tighter pigeonhole rule is not too tight)', () => {
    // For t = s·m + a: table j ≤ a is probed to radius s, the others to s − 1. Each entry here
    // is exactly t away, spread so that one table j0 sees it at exactly its radius and every
    // other table one bit beyond its radius: only that one probe can find it.
    for (const substringBits of [8, 11, 13, 16]) {
      const index0 = MihIndex.build(LinearIndex.fromHashes([], 256), { substringBits });
      const widths = index0.substringBits;
      const m = widths.length;
      const starts = widths.map((_, j) => widths.slice(0, j).reduce((sum, w) => sum + w, 0));
      const int = prng(substringBits);
      for (const t of [0, 1, m - 1, m, m + 3, 2 * m - 1, 2 * m + 1, 47, 64]) {
        const s = Math.floor(t / m);
        const a = t % m;
        const query = Uint8Array.from({ length: 32 }, () => int(256));
        const entries: Uint8Array[] = [];
        for (let j0 = 0; j0 < m; j0++) {
          const radius = (j: number): number => (j <= a ? s : s - 1);
          if (radius(j0) < 0) continue;
          const entry = Uint8Array.from(query);
          for (let j = 0; j < m; j++) {
            const distance = j === j0 ? radius(j) : radius(j) + 1;
            for (let k = 0; k < distance; k++) flipBit(entry, starts[j]! + k);
          }
          entries.push(entry);
        }
        const filler = makeList('random', 200, t);
        const index = MihIndex.build(LinearIndex.fromHashes([...filler, ...entries], 256), {
          substringBits,
          guardFraction: Infinity,
        });
        expect(index.plan(query, t).linear, `${substringBits} bits, t ${t}`).toBe(false);
        const hits = index.search(query, t).filter((h) => h.index >= filler.length);
        expect(hits, `${substringBits} bits, t ${t}`).toEqual(
          entries.map((_, k) => ({ index: filler.length + k, distance: t })),
        );
        expect(index.search(query, t), `${substringBits} bits, t ${t}`).toEqual(index.linear.search(query, t));
      }
    }
  });

  it('reports each match once, however many tables find it', () => {
    // Exact duplicates sit in the same bucket of every table; near copies in most of them.
    const hash = Uint8Array.from({ length: 32 }, (_, i) => (i * 37) & 255);
    const int = prng(3);
    const hashes = [
      ...Array.from({ length: 300 }, () => Uint8Array.from(hash)),
      ...Array.from({ length: 300 }, () => flipped(hash, 1 + int(6), int)),
    ];
    const index = MihIndex.build(LinearIndex.fromHashes(hashes, 256), { substringBits: 8, guardFraction: Infinity });
    expect(index.plan(hash, 40).candidates).toBeGreaterThan(hashes.length * 10);
    const hits = index.search(hash, 40);
    expect(hits.map((h) => h.index)).toEqual(hashes.map((_, i) => i));
    expect(hits.slice(0, 300).every((h) => h.distance === 0)).toBe(true);
  });

  it('reports each match once and in position order when more than 1,024 entries match', () => {
    // Past SORT_HITS_IN_PLACE the hits are ordered by a radix sort of their positions and a
    // second verify: shuffled near copies, found many times over, must still come out in order.
    const hash = Uint8Array.from({ length: 32 }, (_, i) => (i * 59) & 255);
    const int = prng(5);
    const hashes = Array.from({ length: 4000 }, (_, i) =>
      i % 4 < 2
        ? Uint8Array.from(hash)
        : i % 4 === 2
          ? flipped(hash, 1 + int(9), int)
          : Uint8Array.from({ length: 32 }, () => int(256)),
    );
    const linear = LinearIndex.fromHashes(hashes, 256);
    const index = MihIndex.build(linear, { substringBits: 8, guardFraction: Infinity });
    for (const threshold of [0, 9, 20, 40]) {
      const hits = index.search(hash, threshold);
      expect(hits.length).toBeGreaterThan(1024);
      expect(hits).toEqual(linear.search(hash, threshold));
    }
  });

  it('answers from the scan for thresholds beyond the probe limit, still exactly', () => {
    const hashes = makeList('mixed', 500, 11);
    const index = MihIndex.build(LinearIndex.fromHashes(hashes, 256), { substringBits: 20, guardFraction: Infinity });
    const query = makeQuery('near', hashes, 11);
    // 13 tables of 19–20 bits, t = 7·13 + 0: radius 7 in the first table, 137,980 keys. At
    // t = 90 = 6·13 + 12 every table is at radius 6, at most 60,460 keys: still the tables.
    expect(index.plan(query, 91)).toEqual({
      probes: 137_980 + 12 * 60_460 - 4 * (60_460 - 43_796),
      candidates: 0,
      linear: true,
    });
    expect(index.plan(query, 90).linear).toBe(false);
    expectSameAsLinear(index, query, [64, 90, 91, 200, 256], 'beyond the limit');
  });

  it('finds nothing in an empty index and the one hash of a one-hash index', () => {
    const empty = MihIndex.build(LinearIndex.fromHashes([], 256));
    expect(empty.search(new Uint8Array(32), 64)).toEqual([]);
    const hash = new Uint8Array(32).fill(0x5a);
    const one = MihIndex.build(LinearIndex.fromHashes([hash], 256), { guardFraction: Infinity });
    expect(one.search(hash, 0)).toEqual([{ index: 0, distance: 0 }]);
    expect(one.search(new Uint8Array(32), 127)).toEqual([]);
    expect(one.search(new Uint8Array(32), 128)).toEqual([{ index: 0, distance: 128 }]);
  });
});

describe('MihIndex radii and plan', () => {
  it('probes the first a + 1 tables to radius s and the rest to s − 1, for t = s·m + a', () => {
    // 32 tables of 8 bits: C(8, ≤0) = 1, C(8, ≤1) = 9, C(8, ≤2) = 37 keys per table.
    const index = MihIndex.build(LinearIndex.fromHashes(makeList('random', 100, 1), 256), {
      substringBits: 8,
      guardFraction: Infinity,
    });
    const q = new Uint8Array(32);
    const probes = (t: number): number => index.plan(q, t).probes;
    expect(probes(0)).toBe(1); // s = 0, a = 0: one table, its own key only
    expect(probes(5)).toBe(6); // s = 0: the rest at radius −1 are not read
    expect(probes(31)).toBe(32);
    expect(probes(32)).toBe(9 + 31); // s = 1, a = 0
    expect(probes(40)).toBe(9 * 9 + 23); // s = 1, a = 8; radius ⌊t/m⌋ = 1 everywhere would be 288
    expect(probes(64)).toBe(37 + 31 * 9);
  });

  it('counts the candidates in the probed buckets, duplicates included', () => {
    // Eight copies of one hash: 16 tables of 16 bits, each copy in the query's own bucket.
    const hash = Uint8Array.from({ length: 32 }, (_, i) => i);
    const index = MihIndex.build(
      LinearIndex.fromHashes(
        Array.from({ length: 8 }, () => hash),
        256,
      ),
      { substringBits: 16, guardFraction: Infinity },
    );
    expect(index.plan(hash, 0)).toEqual({ probes: 1, candidates: 8, linear: false });
    expect(index.plan(hash, 15)).toEqual({ probes: 16, candidates: 128, linear: false });
    expect(index.search(hash, 15)).toHaveLength(8);
  });

  it('falls back to the scan exactly when probes + candidates exceed guardFraction × N', () => {
    const hashes = makeList('mixed', 4000, 5);
    const linear = LinearIndex.fromHashes(hashes, 256);
    const open = MihIndex.build(linear, { substringBits: 12, guardFraction: Infinity });
    const { offsets, ids } = open.tables();
    for (const [k, kind] of QUERIES.entries()) {
      const query = makeQuery(kind, hashes, k);
      for (const t of [4, 16, 31]) {
        const { probes, candidates } = open.plan(query, t);
        const work = probes + candidates;
        const at = MihIndex.fromTables(linear, open.substringBits, offsets, ids, {
          guardFraction: work / hashes.length,
        });
        const below = MihIndex.fromTables(linear, open.substringBits, offsets, ids, {
          guardFraction: (work - 0.5) / hashes.length,
        });
        expect(at.plan(query, t), `${kind} at ${t}`).toEqual({ probes, candidates, linear: false });
        expect(below.plan(query, t).linear, `${kind} at ${t}`).toBe(true);
        // search decides as plan does: the scan answers for `below` only.
        const scan = vi.spyOn(linear, 'search');
        const viaTables = at.search(query, t);
        expect(scan, `${kind} at ${t}`).not.toHaveBeenCalled();
        expect(below.search(query, t)).toEqual(viaTables);
        expect(scan, `${kind} at ${t}`).toHaveBeenCalledTimes(1);
        scan.mockRestore();
      }
    }
    // With every probed bucket empty, the probes alone decide, before any table is read.
    const blank = LinearIndex.fromHashes(
      Array.from({ length: 100 }, () => new Uint8Array(32)),
      256,
    );
    const tables = MihIndex.build(blank, { substringBits: 12 }).tables();
    const ones = new Uint8Array(32).fill(255);
    const fits = MihIndex.fromTables(blank, substringWidths(12), tables.offsets, tables.ids, {
      guardFraction: 5 / 100,
    });
    const over = MihIndex.fromTables(blank, substringWidths(12), tables.offsets, tables.ids, {
      guardFraction: 4.5 / 100,
    });
    expect(fits.plan(ones, 4)).toEqual({ probes: 5, candidates: 0, linear: false });
    expect(over.plan(ones, 4)).toEqual({ probes: 5, candidates: 0, linear: true });
    const scan = vi.spyOn(blank, 'search');
    expect(fits.search(ones, 4)).toEqual([]);
    expect(scan).not.toHaveBeenCalled();
    expect(over.search(ones, 4)).toEqual([]);
    expect(scan).toHaveBeenCalledTimes(1);
  });

  it('guards a clustered list: a query near its blank hashes is answered by the scan, exactly', () => {
    // Shaped like real lists: a quarter near-blank (within 12 bits of all zeros), the rest in
    // near-duplicate clusters around 40 images, 0–8 bits apart.
    const int = prng(17);
    const seeds = Array.from({ length: 40 }, () => Uint8Array.from({ length: 32 }, () => int(256)));
    const hashes = Array.from({ length: 20_000 }, (_, i) =>
      i % 4 === 0 ? flipped(new Uint8Array(32), int(13), int) : flipped(seeds[int(40)]!, int(9), int),
    );
    const index = MihIndex.build(LinearIndex.fromHashes(hashes, 256));
    expect(index.guardFraction).toBe(DEFAULT_GUARD_FRACTION);
    const blank = flipped(new Uint8Array(32), 3, int);
    const plan = index.plan(blank, 31);
    expect(plan.linear).toBe(true);
    expect(plan.probes + plan.candidates).toBeGreaterThan(20_000 * DEFAULT_GUARD_FRACTION);
    expect(index.search(blank, 31)).toEqual(index.linear.search(blank, 31));
    expect(index.search(blank, 31).length).toBeGreaterThan(4000);
    // A query far from every cluster still goes through the tables.
    const far = Uint8Array.from({ length: 32 }, () => int(256));
    expect(index.plan(far, 8).linear).toBe(false);
    expect(index.search(far, 8)).toEqual(index.linear.search(far, 8));
    // And so does one inside a cluster at a small threshold, on the same list.
    const near = flipped(seeds[0]!, 2, int);
    expect(index.search(near, 4)).toEqual(index.linear.search(near, 4));
  });
});

describe('MihIndex layout and tables', () => {
  it('keys substring j by bits starts[j].. of the hash, most significant bit of byte 0 first', () => {
    // The snapshot format depends on this layout, so it is pinned: a hash with one bit set sits,
    // in the table holding that bit, in the bucket of the matching power of two.
    const widths = substringWidths(11); // 16 of 11 bits, then 8 of 10
    const starts = widths.map((_, j) => widths.slice(0, j).reduce((sum, w) => sum + w, 0));
    for (const bit of [0, 7, 8, 10, 11, 175, 176, 200, 255]) {
      const hash = new Uint8Array(32);
      flipBit(hash, bit);
      const index = MihIndex.build(LinearIndex.fromHashes([new Uint8Array(32), hash], 256), { substringBits: 11 });
      const { offsets, ids } = index.tables();
      const j = starts.findLastIndex((start) => start <= bit);
      const key = 1 << (starts[j]! + widths[j]! - 1 - bit);
      expect([offsets[j]![key], offsets[j]![key + 1]], `bit ${bit}`).toEqual([1, 2]);
      expect(ids[j]![1], `bit ${bit}`).toBe(1);
      expect(offsets[j]![0], `bit ${bit}`).toBe(0);
    }
  });

  it.each([9, 16, 20, 24])(
    'lists every position once per table, ascending within each bucket, %i-bit substrings',
    (bits) => {
      const hashes = makeList('mixed', 3000, 9);
      const index = MihIndex.build(LinearIndex.fromHashes(hashes, 256), { substringBits: bits });
      const { offsets, ids } = index.tables();
      expect(offsets.map((o) => o.length)).toEqual(index.substringBits.map((w) => 2 ** w + 1));
      for (const [j, table] of ids.entries()) {
        expect([...table].sort((x, y) => x - y)).toEqual(hashes.map((_, i) => i));
        const off = offsets[j]!;
        for (let k = 0; k + 1 < off.length; k++)
          for (let p = off[k]! + 1; p < off[k + 1]!; p++) expect(table[p]!).toBeGreaterThan(table[p - 1]!);
      }
    },
  );

  it('splits 256 bits into substrings of equal or nearly equal width, none wider than asked, wider first', () => {
    expect(substringWidths(16)).toEqual(Array(16).fill(16));
    expect(substringWidths(17)).toEqual(Array(16).fill(16));
    expect(substringWidths(20)).toEqual([...Array(9).fill(20), ...Array(4).fill(19)]);
    expect(substringWidths(22)).toEqual([...Array(4).fill(22), ...Array(8).fill(21)]);
    for (let bits = 8; bits <= 24; bits++) {
      const widths = substringWidths(bits);
      expect(widths.reduce((sum, w) => sum + w, 0)).toBe(256);
      expect(Math.max(...widths)).toBeLessThanOrEqual(bits);
      expect(Math.max(...widths) - Math.min(...widths)).toBeLessThanOrEqual(1);
      expect(widths).toEqual([...widths].sort((x, y) => y - x));
    }
  });

  it('gives the same results from fromTables(tables()) without rebuilding, sharing the arrays', () => {
    const hashes = makeList('mixed', 2000, 21);
    const built = MihIndex.build(LinearIndex.fromHashes(hashes, 256), { substringBits: 13 });
    const { offsets, ids } = built.tables();
    const loaded = MihIndex.fromTables(built.linear, built.substringBits, offsets, ids);
    expect(loaded.m).toBe(built.m);
    expect(loaded.substringBits).toEqual(built.substringBits);
    expect(loaded.tables().offsets[0]).toBe(offsets[0]);
    for (const [k, kind] of QUERIES.entries()) {
      const query = makeQuery(kind, hashes, k);
      for (const t of [0, 3, 10, 20, 31, 45, 64]) {
        expect(loaded.plan(query, t)).toEqual(built.plan(query, t));
        expect(loaded.search(query, t)).toEqual(built.search(query, t));
      }
    }
  });
});

describe('MihIndex on the PDQ reference lists', () => {
  const present = hasShared('reference', 'pdq', 'hash-lists');

  it.skipIf(!present)(
    sharedTitle(
      'matches the linear scan for the 100 needles in the 1,350 real PDQ hashes at thresholds 0..64',
      present,
    ),
    () => {
      const read = (name: string): Uint8Array[] =>
        readFileSync(join(PDQ_LISTS, name), 'utf8')
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => parseHex(line, 32, 'pdq'));
      const haystack = read('haystack.txt');
      const needles = read('needles.txt');
      expect([haystack.length, needles.length]).toEqual([1350, 100]);
      const linear = LinearIndex.fromHashes(haystack, 256);
      let matched = 0;
      for (const options of [
        {},
        { guardFraction: Infinity },
        { substringBits: 8, guardFraction: Infinity },
        { substringBits: 13, guardFraction: Infinity },
      ]) {
        const index = MihIndex.build(linear, options);
        for (const needle of needles) {
          for (let t = 0; t <= 64; t++) {
            const expected = linear.search(needle, t);
            matched += expected.length;
            expect(index.search(needle, t)).toEqual(expected);
          }
        }
      }
      // The needles are near copies of haystack hashes: the comparison is not of empty lists.
      expect(matched).toBeGreaterThan(1000);
    },
  );
});

describe('search tiers', () => {
  it('scans small lists and indexes large ones with the widest split within the memory budget', () => {
    expect(chooseSearchTier(0)).toEqual({ tier: 'linear' });
    expect(chooseSearchTier(MIH_MIN_COUNT - 1)).toEqual({ tier: 'linear' });
    // From 32,768 entries MIH would be faster, but no split fits 80 bytes an entry before ~180k.
    expect(chooseSearchTier(MIH_MIN_COUNT)).toEqual({ tier: 'linear' });
    expect(chooseSearchTier(100_000)).toEqual({ tier: 'linear' });
    expect(chooseSearchTier(200_000)).toEqual({ tier: 'mih', substringBits: 15 });
    expect(chooseSearchTier(1_000_000)).toEqual({ tier: 'mih', substringBits: 19 });
    expect(chooseSearchTier(10_000_000)).toEqual({ tier: 'mih', substringBits: 23 });
    expect(chooseSearchTier(100_000_000)).toEqual({ tier: 'mih', substringBits: 24 });
    expect([0, 1, 300, 1350, 100_000].map(defaultSubstringBits)).toEqual([8, 8, 8, 10, 17]);
  });

  it('keeps every automatic choice within the memory budget', () => {
    for (let n = 1; n <= 2 ** 31; n = Math.ceil(n * 1.37)) {
      const tier = chooseSearchTier(n);
      if (tier.tier === 'mih')
        expect(indexBytesPerEntry(n, tier.substringBits as number)).toBeLessThanOrEqual(MAX_INDEX_BYTES_PER_ENTRY);
    }
    expect(indexBytesPerEntry(1_000_000, 19)).toBeCloseTo(74.9, 1);
  });

  it('lets the caller override the tier and the width', () => {
    expect(chooseSearchTier(1000, { tier: 'mih' })).toEqual({ tier: 'mih', substringBits: 10 });
    expect(chooseSearchTier(1000, { tier: 'mih', substringBits: 12 })).toEqual({ tier: 'mih', substringBits: 12 });
    expect(chooseSearchTier(1_000_000, { tier: 'linear' })).toEqual({ tier: 'linear' });
    expect(chooseSearchTier(1_000_000, { substringBits: 16 })).toEqual({ tier: 'mih', substringBits: 16 });
    expect(chooseSearchTier(1_000_000, { tier: 'auto' })).toEqual({ tier: 'mih', substringBits: 19 });
    expect(chooseSearchTier(100_000, { tier: 'mih' })).toEqual({ tier: 'mih', substringBits: 17 });
  });
});

describe('MihIndex arguments', () => {
  const linear = LinearIndex.fromHashes([new Uint8Array(32), new Uint8Array(32).fill(1)], 256);
  const index = MihIndex.build(linear, { substringBits: 8 });

  it('rejects bad queries and thresholds with the standard messages', () => {
    expect(() => index.search(new Uint8Array(32), 257)).toThrow(
      new RangeError('Expected integer between 0 and 256 for threshold but received 257 of type number'),
    );
    expect(() => index.search(new Uint8Array(32), -1)).toThrow(RangeError);
    expect(() => index.search(new Uint8Array(32), 1.5)).toThrow(TypeError);
    expect(() => index.plan(new Uint8Array(32), '8' as unknown as number)).toThrow(TypeError);
    expect(() => index.search(new Uint8Array(31), 8)).toThrow(
      new RangeError('Expected Uint8Array of 32 bytes for query but received 31 bytes'),
    );
    expect(() => index.plan([0] as unknown as Uint8Array, 8)).toThrow(TypeError);
  });

  it('rejects bad indexes and options', () => {
    expect(() => MihIndex.build({} as LinearIndex)).toThrow(
      new TypeError('Expected LinearIndex for linear but received [object Object] of type object'),
    );
    expect(() => MihIndex.build(linear, { substringBits: 7 })).toThrow(
      new RangeError('Expected integer between 8 and 24 for options.substringBits but received 7 of type number'),
    );
    expect(() => MihIndex.build(linear, { substringBits: 25 })).toThrow(RangeError);
    expect(() => MihIndex.build(linear, { substringBits: '16' as unknown as number })).toThrow(TypeError);
    expect(() => MihIndex.build(linear, { guardFraction: 0 })).toThrow(RangeError);
    expect(() => MihIndex.build(linear, { guardFraction: Number.NaN })).toThrow(TypeError);
    expect(() => MihIndex.build(linear, null as unknown as undefined)).toThrow(TypeError);
    expect(() => chooseSearchTier(-1)).toThrow(RangeError);
    expect(() => chooseSearchTier(10, { tier: 'fast' as 'mih' })).toThrow(
      new RangeError('Expected one of auto, linear, mih for options.tier but received "fast" of type string'),
    );
    expect(() => substringWidths(30)).toThrow(RangeError);
  });

  it('rejects tables that do not fit the index', () => {
    const { offsets, ids } = index.tables();
    const widths = index.substringBits;
    expect(() => MihIndex.fromTables(linear, widths, offsets, ids)).not.toThrow();
    expect(() => MihIndex.fromTables(linear, [...widths.slice(1), 16], offsets, ids)).toThrow(RangeError); // sums to 264
    expect(() => MihIndex.fromTables(linear, widths, offsets.slice(1), ids)).toThrow(
      new RangeError('Expected 32 tables for offsets but received 31'),
    );
    expect(() => MihIndex.fromTables(linear, widths, offsets, [...ids.slice(1), new Uint32Array(3)])).toThrow(
      RangeError,
    );
    expect(() => MihIndex.fromTables(linear, widths, [new Uint32Array(257), ...offsets.slice(1)], ids)).toThrow(
      RangeError,
    ); // does not reach N
    const backwards = Uint32Array.from(offsets[0]!);
    backwards[5] = 1;
    expect(() => MihIndex.fromTables(linear, widths, [backwards, ...offsets.slice(1)], ids)).toThrow(RangeError);
    expect(() => MihIndex.fromTables(linear, widths, offsets, [Uint32Array.of(0, 2), ...ids.slice(1)])).toThrow(
      new RangeError('Expected ids below 2 for ids[0] but received 2'),
    );
    expect(() =>
      MihIndex.fromTables(linear, widths, offsets.map((o) => [...o]) as unknown as Uint32Array[], ids),
    ).toThrow(TypeError);
    expect(() => MihIndex.fromTables(linear, 16 as unknown as number[], offsets, ids)).toThrow(TypeError);
  });
});
