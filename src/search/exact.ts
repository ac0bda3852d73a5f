/**
 * Equality search for exact hashes (MD5, SHA-1, SHA-256): the hashes sorted by their bytes, found
 * by binary search. A sorted array, unlike a hash map, is the same thing in memory and on disk, so
 * a snapshot loads it as one read with nothing to rebuild.
 */
import { integerInRange } from '../validate.js';

function compareAt(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, bytes: number): number {
  for (let k = 0; k < bytes; k++) {
    const d = (a[aAt + k] as number) - (b[bAt + k] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Sorted exact hashes. Position `i` is the i-th hash in byte order; `build` returns the permutation
 * so callers can store their entries in the same order.
 *
 * @example
 * ```ts
 * const { index, order } = ExactIndex.build(hashes, 16);
 * const [start, end] = index.find(query); // positions start..end-1 hold `query`
 * ```
 */
export class ExactIndex {
  readonly bytes: number;
  readonly count: number;
  /** `count × bytes`, ascending. */
  readonly sorted: Uint8Array;

  private constructor(sorted: Uint8Array, bytes: number) {
    this.bytes = bytes;
    this.sorted = sorted;
    this.count = sorted.length / bytes;
  }

  /** Sorts `hashes`; `order[i]` is the input position of sorted position `i`. */
  static build(hashes: readonly Uint8Array[], bytes: number): { index: ExactIndex; order: Uint32Array } {
    integerInRange(bytes, 1, 64, 'bytes');
    hashes.forEach((h, i) => {
      if (h.length !== bytes) throw new RangeError(`Expected ${bytes} bytes for hash ${i} but received ${h.length}`);
    });
    const order = Uint32Array.from(hashes.keys()).sort((x, y) => compareAt(hashes[x] as Uint8Array, 0, hashes[y] as Uint8Array, 0, bytes) || x - y);
    const sorted = new Uint8Array(hashes.length * bytes);
    order.forEach((from, to) => sorted.set(hashes[from] as Uint8Array, to * bytes));
    return { index: new ExactIndex(sorted, bytes), order };
  }

  /** An index over bytes already sorted (from a snapshot); throws RangeError if they are not. */
  static fromSorted(sorted: Uint8Array, bytes: number): ExactIndex {
    integerInRange(bytes, 1, 64, 'bytes');
    if (sorted.length % bytes !== 0) throw new RangeError(`Expected a multiple of ${bytes} bytes but received ${sorted.length}`);
    for (let at = bytes; at < sorted.length; at += bytes) {
      if (compareAt(sorted, at - bytes, sorted, at, bytes) > 0) throw new RangeError(`Expected hashes in ascending order; position ${at / bytes} is out of order`);
    }
    return new ExactIndex(sorted, bytes);
  }

  /** The positions holding `query`: `[start, end)`, empty when absent. */
  find(query: Uint8Array): [number, number] {
    if (query.length !== this.bytes) throw new RangeError(`Expected ${this.bytes} bytes for query but received ${query.length}`);
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareAt(this.sorted, mid * this.bytes, query, 0, this.bytes) < 0) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < this.count && compareAt(this.sorted, end * this.bytes, query, 0, this.bytes) === 0) end++;
    return [lo, end];
  }
}
