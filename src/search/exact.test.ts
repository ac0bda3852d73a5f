import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExactIndex } from './exact.js';

const hash4 = fc.uint8Array({ minLength: 4, maxLength: 4 });

describe('ExactIndex', () => {
  it('finds exactly the positions holding the query, for random lists with duplicates', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(hash4, fc.constant(new Uint8Array([1, 2, 3, 4]))), { maxLength: 60 }), hash4, fc.boolean(), (hashes, other, present) => {
        const query = present && hashes.length > 0 ? hashes[0]! : other;
        const { index, order } = ExactIndex.build(hashes, 4);
        const [start, end] = index.find(query);
        const found = Array.from(order.subarray(start, end)).sort((a, b) => a - b);
        const expected = hashes.flatMap((h, i) => (Buffer.compare(h, query) === 0 ? [i] : []));
        expect(found).toEqual(expected);
      }),
      { seed: 11, numRuns: 300 },
    );
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
