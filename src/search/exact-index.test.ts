import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExactIndex } from './exact-index.js';

const hash4 = fc.uint8Array({ minLength: 4, maxLength: 4 });

describe('ExactIndex', () => {
  it('finds exactly the positions holding the query, for random lists with duplicates', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(hash4, fc.constant(new Uint8Array([1, 2, 3, 4]))), { maxLength: 60 }),
        hash4,
        fc.boolean(),
        (hashes, other, present) => {
          const query = present && hashes.length > 0 ? hashes[0]! : other;
          const { index, order } = ExactIndex.build(hashes, 4);
          const [start, end] = index.find(query);
          const found = Array.from(order.subarray(start, end)).sort((a, b) => a - b);
          const expected = hashes.flatMap((h, i) => (Buffer.compare(h, query) === 0 ? [i] : []));
          expect(found).toEqual(expected);
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it('finds every stored digest and no absent one in a 20,000-entry list with a crowded bucket', () => {
    let seed = 7;
    const byte = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    // Uniform digests, plus 2,000 sharing their first 6 bytes: one directory bucket holds them all.
    const hashes = Array.from({ length: 20_000 }, (_, i) => {
      const h = Uint8Array.from({ length: 16 }, byte);
      if (i % 10 === 0) h.set([1, 2, 3, 4, 5, 6]);
      return h;
    });
    const { index, order } = ExactIndex.build(hashes, 16);
    const same = ExactIndex.fromSorted(index.sorted, 16);
    for (const [i, h] of hashes.entries()) {
      for (const ix of [index, same]) {
        const [start, end] = ix.find(h);
        expect(Array.from(order.subarray(start, end))).toContain(i);
      }
    }
    const stored = new Set(hashes.map((h) => Buffer.from(h).toString('hex')));
    for (let q = 0; q < 2000; q++) {
      const absent = Uint8Array.from({ length: 16 }, byte);
      if (q % 2 === 0) absent.set([1, 2, 3, 4, 5, 6]);
      const [start, end] = index.find(absent);
      expect(end - start).toBe(stored.has(Buffer.from(absent).toString('hex')) ? 1 : 0);
    }
  });

  it('rebuilds from its sorted bytes and refuses unsorted ones', () => {
    const { index } = ExactIndex.build([new Uint8Array([9]), new Uint8Array([1]), new Uint8Array([5])], 1);
    expect(Array.from(index.sorted)).toEqual([1, 5, 9]);
    expect(ExactIndex.fromSorted(index.sorted, 1).find(new Uint8Array([5]))).toEqual([1, 2]);
    expect(() => ExactIndex.fromSorted(new Uint8Array([2, 1]), 1)).toThrow(RangeError);
    expect(() => ExactIndex.fromSorted(new Uint8Array(3), 2)).toThrow(RangeError);
  });

  it('returns an empty range on an empty index and rejects a query of the wrong size', () => {
    const { index } = ExactIndex.build([], 16);
    expect(index.find(new Uint8Array(16))).toEqual([0, 0]);
    expect(() => index.find(new Uint8Array(4))).toThrow(RangeError);
  });
});
