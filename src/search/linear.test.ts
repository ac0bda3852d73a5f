import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hammingDistance } from '../algorithms/hex.js';
import { makeList, makeQuery, prng, QUERIES } from '../testing/hash-lists.js';
import { LinearIndex, type LinearKernel, type SearchHit } from './linear.js';

const KERNELS: readonly LinearKernel[] = ['wasm', 'js'];
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The slowest possible reference: byte-wise distance to every hash. */
function bruteForce(hashes: readonly Uint8Array[], query: Uint8Array, threshold: number): SearchHit[] {
  return hashes.flatMap((h, index) => {
    const distance = hammingDistance(h, query);
    return distance <= threshold ? [{ index, distance }] : [];
  });
}

/** The list shapes the kernels are tested on (the mix is covered by the multi-index tests). */
const SHAPES = ['random', 'clustered', 'extremes', 'duplicates'] as const;

const lists = fc.record({
  shape: fc.constantFrom(...SHAPES),
  // Small sizes (and those around the wasm loop's groups of four) as often as large ones.
  n: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 3000 })),
  seed: fc.integer(),
  query: fc.constantFrom(...QUERIES),
});

const THRESHOLDS = [...Array.from({ length: 65 }, (_, t) => t), 96, 128, 200, 255, 256];

describe('LinearIndex search', () => {
  it('returns exactly the brute-force result with both kernels, for every threshold 0..64 and N up to 3000', () => {
    fc.assert(
      fc.property(lists, ({ shape, n, seed, query: kind }) => {
        const hashes = makeList(shape, n, seed);
        const query = makeQuery(kind, hashes, seed);
        const indexes = KERNELS.map((kernel) => LinearIndex.fromHashes(hashes, 256, { kernel }));
        for (const threshold of THRESHOLDS) {
          const expected = bruteForce(hashes, query, threshold);
          for (const index of indexes)
            expect(index.search(query, threshold), `${index.kernel} at ${threshold}`).toEqual(expected);
        }
      }),
      { seed: 20261128, numRuns: 120 },
    );
  });

  it('returns exactly the brute-force result for small random and clustered lists (fast-check shrinks these)', () => {
    const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const clustered = fc
      .tuple(
        fc.array(hash, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.array(fc.nat(255), { maxLength: 12 })), { maxLength: 60 }),
      )
      .map(([seeds, variants]) =>
        variants.map(([s, flips]) => {
          const h = Uint8Array.from(seeds[s % seeds.length]!);
          for (const bit of flips) h[bit >> 3]! ^= 0x80 >> (bit & 7);
          return h;
        }),
      );
    fc.assert(
      fc.property(
        fc.oneof(fc.array(hash, { maxLength: 40 }), clustered),
        hash,
        fc.nat(64),
        fc.constantFrom(...KERNELS),
        (hashes, other, threshold, kernel) => {
          // Query next to a stored hash half of the time, so matches are common.
          const query =
            hashes.length > 0 && threshold % 2 === 0
              ? Uint8Array.from(hashes[0]!, (b, i) => (i === 3 ? b ^ 0x11 : b))
              : other;
          expect(new LinearIndex(hashes, 256, { kernel }).search(query, threshold)).toEqual(
            bruteForce(hashes, query, threshold),
          );
        },
      ),
      { seed: 20261128, numRuns: 400 },
    );
  });

  it.each(KERNELS)('%s: reads no hash past the last one, for every count 0..12', (kernel) => {
    // Plane A all ones, plane B all zeros: every stored hash is 128 bits from the zero query. A
    // scan that ran one hash too far would read plane B's zeros as a plane-A half and the zeroed
    // memory after it as its plane-B half, and report a phantom hit at distance 0.
    const hash = Uint8Array.from({ length: 32 }, (_, i) => (i < 16 ? 255 : 0));
    for (let n = 0; n <= 12; n++) {
      const index = LinearIndex.fromHashes(
        Array.from({ length: n }, () => hash),
        256,
        { kernel },
      );
      expect(index.search(new Uint8Array(32), 127), `count ${n}`).toEqual([]);
      expect(index.search(new Uint8Array(32), 128), `count ${n}`).toHaveLength(n);
    }
  });

  it.each(KERNELS)('%s: finds nothing in an empty index and everything at threshold 256', (kernel) => {
    expect(new LinearIndex([], 256, { kernel }).search(new Uint8Array(32), 10)).toEqual([]);
    const all = [new Uint8Array(32), new Uint8Array(32).fill(255)];
    expect(new LinearIndex(all, 256, { kernel }).search(new Uint8Array(32), 256).map((h) => h.distance)).toEqual([
      0, 256,
    ]);
  });

  it.each(KERNELS)('%s: returns every hit when there are more than the output buffer first holds', (kernel) => {
    const hash = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
    const other = hash.map((b) => b ^ 0xff);
    // 5000 copies, then 3000 far ones: more hits than an 8000-hash index's first output buffer.
    const hashes = [...Array.from({ length: 5000 }, () => hash), ...Array.from({ length: 3000 }, () => other)];
    const index = LinearIndex.fromHashes(hashes, 256, { kernel });
    const hits = index.search(hash, 0);
    expect(hits).toHaveLength(5000);
    expect(hits.every((h, i) => h.index === i && h.distance === 0)).toBe(true);
    // Still right after the buffer grew: the planes and hashes read back, and every hash matches.
    expect(index.search(hash, 256)).toEqual(bruteForce(hashes, hash, 256));
    expect(index.hashAt(7999)).toEqual(other);
    expect(index.planes().b.subarray(0, 16)).toEqual(hash.subarray(16));
  });
});

describe('LinearIndex verify', () => {
  it('equals filtering the brute force over arbitrary candidate lists, with both kernels', () => {
    fc.assert(
      fc.property(
        lists,
        fc.integer({ min: 0, max: 3000 }),
        fc.nat(64),
        ({ shape, n, seed, query: kind }, m, threshold) => {
          const hashes = makeList(shape, Math.max(1, n), seed);
          const query = makeQuery(kind, hashes, seed);
          const int = prng(seed + m);
          // Any order, with duplicates, more candidates than hashes; only the first `length` count.
          const candidates = Uint32Array.from({ length: m }, () => int(hashes.length));
          const length = int(m + 1);
          const distances = hashes.map((h) => hammingDistance(h, query));
          const expected = Array.from(candidates.subarray(0, length), (index) => ({
            index,
            distance: distances[index]!,
          })).filter((h) => h.distance <= threshold);
          for (const kernel of KERNELS) {
            const hits: SearchHit[] = [{ index: -1, distance: -1 }];
            LinearIndex.fromHashes(hashes, 256, { kernel }).verify(candidates, length, query, threshold, hits);
            expect(hits, kernel).toEqual([{ index: -1, distance: -1 }, ...expected]);
          }
        },
      ),
      { seed: 7, numRuns: 150 },
    );
  });
});

describe('LinearIndex planes', () => {
  it('stores bytes 0-15 in plane A and 16-31 in plane B, and fromPlanes round-trips across kernels', () => {
    const hashes = makeList('random', 1001, 42);
    for (const from of KERNELS) {
      const { a, b } = LinearIndex.fromHashes(hashes, 256, { kernel: from }).planes();
      expect(a).toHaveLength(1001 * 16);
      hashes.forEach((h, i) => {
        expect(a.subarray(16 * i, 16 * i + 16)).toEqual(h.subarray(0, 16));
        expect(b.subarray(16 * i, 16 * i + 16)).toEqual(h.subarray(16));
      });
      for (const to of KERNELS) {
        const index = LinearIndex.fromPlanes(a, b, 1001, { kernel: to });
        expect(index.kernel).toBe(to);
        expect(index.count).toBe(1001);
        hashes.forEach((h, i) => {
          expect(index.hashAt(i)).toEqual(h);
        });
        expect(index.search(hashes[500]!, 60)).toEqual(bruteForce(hashes, hashes[500]!, 60));
      }
    }
  });

  it('copies the planes it is given', () => {
    const a = new Uint8Array(16);
    const index = LinearIndex.fromPlanes(a, new Uint8Array(16), 1);
    a.fill(255);
    expect(index.hashAt(0)).toEqual(new Uint8Array(32));
  });
});

describe('LinearIndex kernel', () => {
  it('uses WebAssembly by default on Node and JS when asked', () => {
    expect(new LinearIndex([], 256).kernel).toBe('wasm');
    expect(LinearIndex.fromHashes([], 256, { kernel: 'auto' }).kernel).toBe('wasm');
    expect(LinearIndex.fromHashes([], 256, { kernel: 'js' }).kernel).toBe('js');
  });

  it('falls back to JS where WebAssembly is absent, and refuses an explicit wasm there', () => {
    const script = `
      const { LinearIndex } = await import('./src/search/linear.ts');
      const index = LinearIndex.fromHashes([new Uint8Array(32), new Uint8Array(32).fill(1)], 256);
      let refused;
      try { LinearIndex.fromHashes([], 256, { kernel: 'wasm' }); } catch (e) { refused = e.code; }
      console.log(JSON.stringify({ wasm: typeof WebAssembly, kernel: index.kernel, hits: index.search(new Uint8Array(32), 8), refused }));`;
    const out = execFileSync(
      process.execPath,
      ['--jitless', '--no-warnings', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: ROOT,
        encoding: 'utf8',
        // V8 warns that --jitless disables WebAssembly; the test checks that, so keep it off the log.
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(JSON.parse(out)).toEqual({
      wasm: 'undefined',
      kernel: 'js',
      hits: [{ index: 0, distance: 0 }],
      refused: 'ERR_MODULE_LOAD',
    });
  });
});

describe('LinearIndex arguments', () => {
  const index = new LinearIndex([new Uint8Array(32)], 256);

  it('supports 256-bit hashes only', () => {
    expect(() => new LinearIndex([new Uint8Array(20)], 160)).toThrow(
      new RangeError('Expected 256 for bits but received 160 of type number'),
    );
    expect(() => LinearIndex.fromHashes([], 128)).toThrow(RangeError);
    expect(() => new LinearIndex([], '256' as unknown as number)).toThrow(TypeError);
  });

  it('rejects hashes, queries and thresholds of the wrong type or size', () => {
    expect(() => new LinearIndex([new Uint8Array(16)], 256)).toThrow(RangeError);
    expect(() => new LinearIndex(['00'.repeat(32)] as unknown as Uint8Array[], 256)).toThrow(TypeError);
    expect(() => index.search(new Uint8Array(16), 1)).toThrow(RangeError);
    expect(() => index.search(Array(32).fill(0) as unknown as Uint8Array, 1)).toThrow(TypeError);
    expect(() => index.search(new Uint8Array(32), -1)).toThrow(RangeError);
    expect(() => index.search(new Uint8Array(32), 257)).toThrow(
      new RangeError('Expected integer between 0 and 256 for threshold but received 257 of type number'),
    );
    expect(() => index.search(new Uint8Array(32), 1.5)).toThrow(TypeError);
    expect(() => new LinearIndex([], 256, { kernel: 'gpu' as LinearKernel })).toThrow(RangeError);
  });

  it('rejects bad candidates, planes and positions', () => {
    const q = new Uint8Array(32);
    const hits: SearchHit[] = [];
    // Position 0 matches, but the list is refused whole: nothing is appended.
    expect(() => index.verify(new Uint32Array([0, 1]), 2, q, 4, hits)).toThrow(RangeError);
    expect(hits).toEqual([]);
    expect(() => index.verify(new Uint32Array([0]), 2, q, 4, [])).toThrow(RangeError);
    expect(() => index.verify([0] as unknown as Uint32Array, 1, q, 4, [])).toThrow(TypeError);
    expect(() => index.verify(new Uint32Array([0]), 1, q, 300, [])).toThrow(RangeError);
    expect(() => LinearIndex.fromPlanes(new Uint8Array(16), new Uint8Array(32), 1)).toThrow(RangeError);
    expect(() => LinearIndex.fromPlanes(new Uint8Array(16), new Uint8Array(16), -1)).toThrow(RangeError);
    expect(() => index.hashAt(1)).toThrow(RangeError);
  });
});
