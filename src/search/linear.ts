/**
 * The reference search: compare the query with every stored hash and keep those within the
 * threshold. It is exact by construction, the baseline every faster index is tested against, and
 * fast enough for small lists. Hashes are packed into one Uint32Array (32-bit words, big-endian
 * byte order within each word, which Hamming distance does not care about) so the scan walks
 * memory linearly.
 */
import { integerInRange } from '../validate.js';

/** One search hit: the position of the stored hash and its distance to the query. */
export interface SearchHit {
  readonly index: number;
  readonly distance: number;
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function packWords(hash: Uint8Array, into: Uint32Array, at: number): void {
  for (let w = 0; w < hash.length / 4; w++) {
    into[at + w] =
      (((hash[4 * w] as number) << 24) | ((hash[4 * w + 1] as number) << 16) | ((hash[4 * w + 2] as number) << 8) | (hash[4 * w + 3] as number)) >>> 0;
  }
}

/**
 * Brute-force Hamming search over fixed-size hashes.
 *
 * @example
 * ```ts
 * const index = new LinearIndex([a, b, c], 256);
 * index.search(query, 10); // [{ index: 1, distance: 3 }]
 * ```
 */
export class LinearIndex {
  readonly bits: number;
  readonly count: number;
  readonly #words: Uint32Array;
  readonly #wordsPerHash: number;
  readonly #query: Uint32Array;

  constructor(hashes: readonly Uint8Array[], bits: number) {
    integerInRange(bits, 32, 4096, 'bits');
    if (bits % 32 !== 0) throw new RangeError(`Expected a multiple of 32 for bits but received ${bits} of type number`);
    this.bits = bits;
    this.count = hashes.length;
    this.#wordsPerHash = bits / 32;
    this.#words = new Uint32Array(hashes.length * this.#wordsPerHash);
    this.#query = new Uint32Array(this.#wordsPerHash);
    hashes.forEach((hash, i) => {
      if (hash.length * 8 !== bits) throw new RangeError(`Expected ${bits / 8} bytes for hash ${i} but received ${hash.length}`);
      packWords(hash, this.#words, i * this.#wordsPerHash);
    });
  }

  /** A linear index over `hashes` (each `bits / 8` bytes). */
  static fromHashes(hashes: readonly Uint8Array[], bits: number): LinearIndex {
    return new LinearIndex(hashes, bits);
  }

  /** The stored hash at position `index`, as bytes. */
  hashAt(index: number): Uint8Array {
    integerInRange(index, 0, this.count - 1, 'index');
    const out = new Uint8Array(this.bits / 8);
    const at = index * this.#wordsPerHash;
    for (let w = 0; w < this.#wordsPerHash; w++) {
      const word = this.#words[at + w] as number;
      out.set([word >>> 24, (word >>> 16) & 255, (word >>> 8) & 255, word & 255], 4 * w);
    }
    return out;
  }

  /**
   * Exact distances for candidate positions (e.g. from a multi-index lookup): appends a hit for
   * each of `candidates[0..length)` within `threshold` to `hits`, in the order given.
   */
  verify(candidates: Uint32Array, length: number, query: Uint8Array, threshold: number, hits: SearchHit[]): void {
    const q = this.#query;
    packWords(query, q, 0);
    const words = this.#words;
    const n = this.#wordsPerHash;
    for (let c = 0; c < length; c++) {
      const i = candidates[c] as number;
      const at = i * n;
      let d = 0;
      for (let w = 0; w < n && d <= threshold; w++) d += popcount32(((words[at + w] as number) ^ (q[w] as number)) >>> 0);
      if (d <= threshold) hits.push({ index: i, distance: d });
    }
  }

  /** Every stored hash within `threshold` bits of `query`, in storage order. */
  search(query: Uint8Array, threshold: number): SearchHit[] {
    if (query.length * 8 !== this.bits) throw new RangeError(`Expected ${this.bits / 8} bytes for query but received ${query.length}`);
    integerInRange(threshold, 0, this.bits, 'threshold');
    const q = this.#query;
    packWords(query, q, 0);
    const words = this.#words;
    const n = this.#wordsPerHash;
    const hits: SearchHit[] = [];
    for (let i = 0, at = 0; i < this.count; i++, at += n) {
      let d = 0;
      // Stop early once past the threshold: most stored hashes are far from any query.
      for (let w = 0; w < n && d <= threshold; w++) d += popcount32(((words[at + w] as number) ^ (q[w] as number)) >>> 0);
      if (d <= threshold) hits.push({ index: i, distance: d });
    }
    return hits;
  }
}
