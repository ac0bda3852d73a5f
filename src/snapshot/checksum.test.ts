import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../testing/prng.js';
import { LinearIndex } from '../search/linear.js';
import { allocateArena, ascending, checksum, registerMemory } from './checksum.js';
import { xxh3 } from './xxh3.js';

function randomBytes(length: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

/** Lengths around every boundary of XXH3's long path: 240, stripes of 64, blocks of 1024, calls of 1 MiB. */
const LENGTHS = [
  0,
  1,
  17,
  240,
  241,
  255,
  256,
  257,
  319,
  320,
  1023,
  1024,
  1025,
  1088,
  1089,
  2047,
  2048,
  2049,
  5000,
  (1 << 20) - 1,
  1 << 20,
  (1 << 20) + 1,
  (1 << 20) + 1024 + 65,
  3 * (1 << 20) + 77,
];

describe('checksum', () => {
  it('is XXH3-64 of the empty input (xxhsum -H3: 2d06800538d394c2)', () => {
    expect(checksum(new Uint8Array(0))).toBe(0x2d06800538d394c2n);
  });

  it('hashes sections in an arena in place, equal to the JavaScript reference at every boundary', () => {
    const arena = allocateArena(4 << 20);
    LENGTHS.forEach((length, i) => {
      // Odd and aligned starts: the SIMD loop reads unaligned.
      for (const at of [0, 64, 7]) {
        if (at + length > arena.byteLength) continue;
        const view = new Uint8Array(arena, at, length);
        view.set(randomBytes(length, 100 + i));
        expect(checksum(view), `length ${length} at ${at}`).toBe(xxh3(view.slice()));
      }
    });
  });

  it('hashes bytes outside any arena through the staging memory, with the same result', () => {
    LENGTHS.forEach((length, i) => {
      const plain = randomBytes(length + 3, 200 + i).subarray(3);
      expect(checksum(plain), `length ${length}`).toBe(xxh3(plain));
    });
  });

  it('hashes the planes of a scan kernel in place once its memory is registered', () => {
    const index = LinearIndex.allocate(5000);
    const memory = index.wasmMemory();
    if (memory !== undefined) registerMemory(memory);
    const { a, b } = index.planes();
    a.set(randomBytes(a.length, 300));
    b.set(randomBytes(b.length, 301));
    expect(checksum(a)).toBe(xxh3(a.slice()));
    expect(checksum(b)).toBe(xxh3(b.slice()));
  });

  it('tells a single changed byte anywhere in a long section', () => {
    const arena = allocateArena(70_000);
    const view = new Uint8Array(arena, 0, 66_000);
    view.set(randomBytes(view.length, 400));
    const clean = checksum(view);
    for (const at of [0, 63, 64, 1023, 1024, 40_000, 65_935, 65_936, 65_999]) {
      view[at] = (view[at] as number) ^ 0x10;
      expect(checksum(view), `byte ${at}`).not.toBe(clean);
      view[at] = (view[at] as number) ^ 0x10;
    }
    expect(checksum(view)).toBe(clean);
  });
});

describe('ascending', () => {
  it('accepts non-decreasing values and finds a decrease at any position, in an arena and outside', () => {
    const arena = allocateArena(1 << 16);
    for (let n = 0; n <= 21; n++) {
      const values = Array.from({ length: n }, (_, i) => 5 + i * 3 + (i % 2));
      const inArena = new Uint32Array(arena, 64, n);
      inArena.set(values);
      expect(ascending(inArena), `n ${n}`).toBe(true);
      expect(ascending(Uint32Array.from(values))).toBe(true);
      for (let at = 1; at < n; at++) {
        inArena.set(values);
        inArena[at] = (inArena[at - 1] as number) - 1;
        expect(ascending(inArena), `n ${n}, decrease at ${at}`).toBe(false);
        expect(ascending(Uint32Array.from(inArena))).toBe(false);
      }
    }
  });

  it('compares as unsigned 32-bit values', () => {
    const arena = allocateArena(1 << 16);
    const values = new Uint32Array(arena, 0, 8);
    values.set([0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xffffffff]);
    expect(ascending(values)).toBe(true);
    values[7] = 0;
    expect(ascending(values)).toBe(false);
  });
});
