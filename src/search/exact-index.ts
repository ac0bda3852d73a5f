/**
 * Equality search for exact hashes (MD5, SHA-1, SHA-256): a hash table whose hash function is the
 * digest's own leading bits. The digests are sorted by their bytes, and a directory gives, for
 * each value of the first k bits (k ≈ log2 N), where that bucket starts — open hashing with the
 * buckets stored back to back. Cryptographic digests are uniform, so a bucket holds about one
 * entry and a lookup is one directory read and a compare or two, whatever N; a crafted list that
 * piles entries into one bucket still costs only a binary search within it.
 *
 * A sorted array, unlike a JavaScript Map, is the same thing in memory and on disk, so a snapshot
 * loads it as one read; the directory (4 × 2^k bytes, about 4 bytes an entry) is rebuilt by the
 * same pass that checks the order.
 */
import { integerInRange } from '../validate.js';

/** Widest directory key: 2^24 + 1 slots (64 MiB) from about 16M entries on. */
const MAX_KEY_BITS = 24;

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
  /** Bits of the leading 32 that key the directory. */
  readonly #keyBits: number;
  /** `directory[key]`: first position whose leading #keyBits bits are ≥ key; 2^k + 1 entries. */
  readonly #directory: Uint32Array;

  private constructor(sorted: Uint8Array, bytes: number) {
    this.bytes = bytes;
    this.sorted = sorted;
    this.count = sorted.length / bytes;
    this.#keyBits = Math.min(MAX_KEY_BITS, Math.max(1, Math.round(Math.log2(Math.max(this.count, 1)))), 8 * bytes);
    const directory = new Uint32Array(2 ** this.#keyBits + 1);
    // Count each key one slot up, then prefix sums: directory[key] = entries with a smaller key.
    for (let i = 0; i < this.count; i++) {
      const slot = this.#key(sorted, i * bytes) + 1;
      directory[slot] = (directory[slot] as number) + 1;
    }
    for (let k = 1; k < directory.length; k++) directory[k] = (directory[k] as number) + (directory[k - 1] as number);
    this.#directory = directory;
  }

  /** The leading #keyBits bits of the hash at byte `at` of `bytes`. */
  #key(bytes: Uint8Array, at: number): number {
    let word = 0;
    for (let k = 0; k < 4; k++) word = (word << 8) | (k < this.bytes ? (bytes[at + k] as number) : 0);
    return (word >>> 0) >>> (32 - this.#keyBits);
  }

  /** Sorts `hashes`; `order[i]` is the input position of sorted position `i`. */
  static build(hashes: readonly Uint8Array[], bytes: number): { index: ExactIndex; order: Uint32Array } {
    integerInRange(bytes, 1, 64, 'bytes');
    hashes.forEach((h, i) => {
      if (h.length !== bytes) throw new RangeError(`Expected ${bytes} bytes for hash ${i} but received ${h.length}`);
    });
    const packed = new Uint8Array(hashes.length * bytes);
    hashes.forEach((h, i) => {
      packed.set(h, i * bytes);
    });
    return ExactIndex.buildPacked(packed, bytes);
  }

  /**
   * Sorts hashes held back to back (`bytes` each, e.g. read from a store), as {@link ExactIndex.build}
   * does: equal hashes keep their input order.
   */
  static buildPacked(packed: Uint8Array, bytes: number): { index: ExactIndex; order: Uint32Array } {
    integerInRange(bytes, 1, 64, 'bytes');
    if (packed.length % bytes !== 0)
      throw new RangeError(`Expected a multiple of ${bytes} bytes but received ${packed.length}`);
    const count = packed.length / bytes;
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((x, y) => compareAt(packed, x * bytes, packed, y * bytes, bytes) || x - y);
    const sorted = new Uint8Array(packed.length);
    order.forEach((from, to) => {
      sorted.set(packed.subarray(from * bytes, (from + 1) * bytes), to * bytes);
    });
    return { index: new ExactIndex(sorted, bytes), order };
  }

  /** An index over bytes already sorted (from a snapshot); throws RangeError if they are not. */
  static fromSorted(sorted: Uint8Array, bytes: number): ExactIndex {
    integerInRange(bytes, 1, 64, 'bytes');
    if (sorted.length % bytes !== 0)
      throw new RangeError(`Expected a multiple of ${bytes} bytes but received ${sorted.length}`);
    for (let at = bytes; at < sorted.length; at += bytes) {
      if (compareAt(sorted, at - bytes, sorted, at, bytes) > 0)
        throw new RangeError(`Expected hashes in ascending order; position ${at / bytes} is out of order`);
    }
    return new ExactIndex(sorted, bytes);
  }

  /** The positions holding `query`: `[start, end)`, empty when absent. */
  find(query: Uint8Array): [number, number] {
    if (query.length !== this.bytes)
      throw new RangeError(`Expected ${this.bytes} bytes for query but received ${query.length}`);
    const key = this.#key(query, 0);
    let lo = this.#directory[key] as number;
    let hi = this.#directory[key + 1] as number;
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
