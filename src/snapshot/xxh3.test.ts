import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../testing/prng.js';
import { XXH3_SECRET, xxh3, xxh3Accumulators, xxh3MergeAccumulators } from './xxh3.js';

interface Vector {
  length: number;
  seed: number;
  xxh3: string;
}

const VECTORS_FILE = new URL('../../test-vectors/xxh3/vectors.json', import.meta.url);
const doc = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { algorithm: string; vectors: Vector[] };

/** The vectors' input, as test-vectors/xxh3/generate.ts builds it: byte k = floor(rng() × 256) of a fresh mulberry32(seed). */
function inputFor(length: number, seed: number): Uint8Array {
  const rng = mulberry32(seed);
  const bytes = new Uint8Array(length);
  for (let k = 0; k < length; k++) bytes[k] = Math.floor(rng() * 256);
  return bytes;
}

function hex(h: bigint): string {
  return h.toString(16).padStart(16, '0');
}

function vector(length: number): Vector {
  const v = doc.vectors.find((x) => x.length === length);
  if (v === undefined) throw new Error(`no vector of length ${length}`);
  return v;
}

// A deliberately plain BigInt version of the long path's loop, written from the specification's
// pseudo-code, independent of the split-double arithmetic in xxh3.ts.
const M64 = (1n << 64n) - 1n;
const SECRET = new DataView(XXH3_SECRET.slice().buffer);

function referenceAccumulators(bytes: Uint8Array): BigUint64Array {
  const input = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const acc = BigUint64Array.of(
    0xc2b2ae3dn,
    0x9e3779b185ebca87n,
    0xc2b2ae3d27d4eb4fn,
    0x165667b19e3779f9n,
    0x85ebca77c2b2ae63n,
    0x85ebca77n,
    0x27d4eb2f165667c5n,
    0x9e3779b1n,
  );
  const stripe = (at: number, secretAt: number): void => {
    for (let i = 0; i < 8; i++) {
      const data = input.getBigUint64(at + 8 * i, true);
      const keyed = data ^ SECRET.getBigUint64(secretAt + 8 * i, true);
      acc[i ^ 1] = ((acc[i ^ 1] as bigint) + data) & M64;
      acc[i] = ((acc[i] as bigint) + (keyed & 0xffffffffn) * (keyed >> 32n)) & M64;
    }
  };
  const blocks = Math.floor((bytes.length - 1) / 1024);
  for (let b = 0; b < blocks; b++) {
    for (let n = 0; n < 16; n++) stripe(b * 1024 + 64 * n, 8 * n);
    for (let i = 0; i < 8; i++) {
      let a = acc[i] as bigint;
      a ^= a >> 47n;
      a ^= SECRET.getBigUint64(128 + 8 * i, true);
      acc[i] = (a * 0x9e3779b1n) & M64;
    }
  }
  const stripes = Math.floor((bytes.length - 1 - blocks * 1024) / 64);
  for (let n = 0; n < stripes; n++) stripe(blocks * 1024 + 64 * n, 8 * n);
  stripe(bytes.length - 64, 121);
  return acc;
}

describe('xxh3', () => {
  it(`matches every xxhsum -H3 vector (${doc.vectors.length} inputs, lengths 0–300 and long ones)`, () => {
    expect(doc.algorithm).toBe('XXH3_64bits, seed 0, default secret');
    expect(doc.vectors.length).toBeGreaterThan(300);
    const wrong: string[] = [];
    for (const v of doc.vectors) {
      const got = hex(xxh3(inputFor(v.length, v.seed)));
      if (got !== v.xxh3) wrong.push(`length ${v.length}: ${got}, expected ${v.xxh3}`);
    }
    expect(wrong).toEqual([]);
  });

  it('gives the same hash for a subarray at an odd (or 4-aligned) byteOffset as for a copy, on every path', () => {
    for (const length of [0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1024, 1025, 4097]) {
      const v = vector(length);
      const input = inputFor(length, v.seed);
      // Every offset goes through the same DataView reads; odd ones are where a bug would show.
      for (const offset of [1, 3, 4, 7]) {
        // Junk around the view: nothing outside it may be read.
        const backing = new Uint8Array(offset + length + 13).fill(0xa5);
        backing.set(input, offset);
        const view = backing.subarray(offset, offset + length);
        expect(hex(xxh3(view)), `length ${length} at offset ${offset}`).toBe(v.xxh3);
        expect(xxh3(view)).toBe(xxh3(view.slice()));
      }
    }
  });

  it('reads a Node Buffer (a slice of the shared pool) like any Uint8Array', () => {
    const v = vector(300);
    const input = Buffer.from(inputFor(300, v.seed));
    expect(hex(xxh3(input))).toBe(v.xxh3);
  });

  it('is not changed by writes to the exported XXH3_SECRET, which is the 192-byte default secret', () => {
    expect(XXH3_SECRET.length).toBe(192);
    expect([XXH3_SECRET[0], XXH3_SECRET[1], XXH3_SECRET[190], XXH3_SECRET[191]]).toEqual([0xb8, 0xfe, 0x40, 0x7e]);
    const saved = XXH3_SECRET.slice();
    try {
      XXH3_SECRET.fill(0);
      expect(hex(xxh3(new Uint8Array(0)))).toBe(vector(0).xxh3);
      expect(hex(xxh3(inputFor(2048, vector(2048).seed)))).toBe(vector(2048).xxh3);
    } finally {
      XXH3_SECRET.set(saved);
    }
  });
});

describe('xxh3 long path', () => {
  it('ends in xxh3MergeAccumulators, fed the accumulators of a plain BigInt loop from the specification', () => {
    for (const length of [241, 255, 256, 257, 511, 1023, 1024, 1025, 1088, 1089, 2049, 4097]) {
      const v = vector(length);
      const input = inputFor(length, v.seed);
      const reference = referenceAccumulators(input);
      expect(Array.from(xxh3Accumulators(input)), `accumulators, length ${length}`).toEqual(Array.from(reference));
      expect(hex(xxh3MergeAccumulators(reference, length)), `length ${length}`).toBe(v.xxh3);
    }
  });

  it('keeps carries exact when every product is as large as it can be (keyed lanes all ones)', () => {
    // Each lane is the complement of its secret word, so both 32-bit halves of every keyed lane are
    // 0xffffffff: the largest product, in every stripe of every block and of the last block.
    const length = 3 * 1024;
    const input = new Uint8Array(length);
    const view = new DataView(input.buffer);
    for (let at = 0; at < length; at += 8) {
      const stripeInBlock = Math.floor((at % 1024) / 64);
      const key = SECRET.getBigUint64(8 * stripeInBlock + (at % 64), true);
      view.setBigUint64(at, ~key & M64, true);
    }
    expect(Array.from(xxh3Accumulators(input))).toEqual(Array.from(referenceAccumulators(input)));
    // The same from an odd offset.
    const shifted = new Uint8Array(length + 1);
    shifted.set(input, 1);
    expect(Array.from(xxh3Accumulators(shifted.subarray(1)))).toEqual(Array.from(referenceAccumulators(input)));
    const ones = new Uint8Array(5000).fill(0xff);
    expect(Array.from(xxh3Accumulators(ones))).toEqual(Array.from(referenceAccumulators(ones)));
    expect(xxh3(ones)).toBe(xxh3MergeAccumulators(referenceAccumulators(ones), ones.length));
  });

  it('refuses inputs that never reach the merge', () => {
    expect(() => xxh3MergeAccumulators(new BigUint64Array(8), 240)).toThrow(RangeError);
    expect(() => xxh3MergeAccumulators(new BigUint64Array(8), 241.5)).toThrow(RangeError);
    expect(() => xxh3MergeAccumulators(new BigUint64Array(7), 1000)).toThrow(RangeError);
    expect(() => xxh3Accumulators(new Uint8Array(240))).toThrow(RangeError);
  });
});
