import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kthSmallest } from './select.js';

describe('kthSmallest', () => {
  it('returns what sorting returns at every rank, duplicates and signed zeros included', () => {
    const value = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
      fc.constantFrom(0, -0, 1, -1, 3.5),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 300 }), fc.nat(), (list, seed) => {
        const values = Float64Array.from(list);
        const k = seed % values.length;
        const expected = Float64Array.from(values).sort()[k] as number;
        const got = kthSmallest(values, k, new Float64Array(values.length));
        const from = Math.floor(k / 2);
        const part = kthSmallest(values, k - from, new Float64Array(values.length), from);
        expect(part === Float64Array.from(values.subarray(from)).sort()[k - from]).toBe(true);
        expect(got === expected, `${got} vs ${expected}`).toBe(true);
      }),
      { seed: 0x5e1ec7, numRuns: 500 },
    );
  });

  it('handles sorted, reversed and constant inputs, and leaves its input alone', () => {
    const n = 100_000;
    const sorted = Float64Array.from({ length: n }, (_, i) => i);
    const reversed = sorted.slice().reverse();
    const constant = new Float64Array(n).fill(7);
    const scratch = new Float64Array(n);
    expect(kthSmallest(sorted, 500, scratch)).toBe(500);
    expect(kthSmallest(reversed, 500, scratch)).toBe(500);
    expect(kthSmallest(constant, n - 1, scratch)).toBe(7);
    expect(kthSmallest(reversed, 0, scratch, 10, 20)).toBe(n - 20);
    expect(reversed[0]).toBe(n - 1);
  });

  it('rejects a rank outside the range, and scratch too small, with a RangeError', () => {
    const scratch = new Float64Array(2);
    expect(() => kthSmallest(Float64Array.of(1, 2), 2, scratch)).toThrow(RangeError);
    expect(() => kthSmallest(Float64Array.of(1, 2), -1, scratch)).toThrow(RangeError);
    expect(() => kthSmallest(Float64Array.of(1, 2), 0.5, scratch)).toThrow(RangeError);
    expect(() => kthSmallest(Float64Array.of(1, 2, 3), 0, scratch)).toThrow(RangeError);
  });
});
