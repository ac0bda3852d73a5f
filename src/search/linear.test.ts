import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hammingDistance } from '../algorithms/hex.js';
import { LinearIndex } from './linear.js';

/** The slowest possible reference: byte-wise distance to every hash. */
function bruteForce(hashes: readonly Uint8Array[], query: Uint8Array, threshold: number) {
  return hashes.flatMap((h, index) => {
    const distance = hammingDistance(h, query);
    return distance <= threshold ? [{ index, distance }] : [];
  });
}

/** Near-duplicates of a few seeds: the clustered shape real lists have. */
const clustered = fc
  .tuple(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.nat(), fc.array(fc.nat(255), { maxLength: 12 })), { maxLength: 60 }))
  .map(([seeds, variants]) =>
    variants.map(([seed, flips]) => {
      const h = Uint8Array.from(seeds[seed % seeds.length]!);
      for (const bit of flips) h[bit >> 3]! ^= 0x80 >> (bit & 7);
      return h;
    }),
  );

describe('LinearIndex', () => {
  it('returns exactly the brute-force result for random and clustered lists at every threshold 0..64', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 40 }), clustered),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat(64),
        (hashes, query, threshold) => {
          // Query next to a stored hash half of the time, so matches are common.
          const q = hashes.length > 0 && threshold % 2 === 0 ? Uint8Array.from(hashes[0]!, (b, i) => (i === 3 ? b ^ 0x11 : b)) : query;
          expect(new LinearIndex(hashes, 256).search(q, threshold)).toEqual(bruteForce(hashes, q, threshold));
        },
      ),
      { seed: 20261128, numRuns: 400 },
    );
  });

  it('finds nothing in an empty index and everything at threshold 256', () => {
    expect(new LinearIndex([], 256).search(new Uint8Array(32), 10)).toEqual([]);
    const all = [new Uint8Array(32), new Uint8Array(32).fill(255)];
    expect(new LinearIndex(all, 256).search(new Uint8Array(32), 256).map((h) => h.distance)).toEqual([0, 256]);
  });

  it('works for 128- and 160-bit hashes', () => {
    const a = new Uint8Array(20).fill(0xf0);
    const b = Uint8Array.from(a, (x, i) => (i === 0 ? 0xf1 : x));
    expect(new LinearIndex([a, b], 160).search(a, 0)).toEqual([{ index: 0, distance: 0 }]);
    expect(new LinearIndex([a, b], 160).search(a, 1)).toHaveLength(2);
  });

  it('rejects a query of the wrong size and a threshold out of range', () => {
    const index = new LinearIndex([new Uint8Array(32)], 256);
    expect(() => index.search(new Uint8Array(16), 1)).toThrow(RangeError);
    expect(() => index.search(new Uint8Array(32), -1)).toThrow(RangeError);
    expect(() => new LinearIndex([new Uint8Array(16)], 256)).toThrow(RangeError);
  });
});
