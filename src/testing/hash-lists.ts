/**
 * Generated hash lists for the search tests: uniform, clustered, near-blank and duplicated lists,
 * and queries near, on or far from them — the shapes that break search structures. Test-only
 * (`*.fixture.ts` is left out of the package build).
 */
import { mulberry32 } from './prng.js';

/** Integers in [0, below) from a seed: thousands of hashes from one fast-check integer. */
export function prng(seed: number): (below: number) => number {
  const next = mulberry32(seed);
  return (below) => Math.floor(next() * below);
}

/** Flips one bit, most significant bit of byte 0 first. */
export function flipBit(hash: Uint8Array, bit: number): void {
  hash[bit >> 3]! ^= 0x80 >> (bit & 7);
}

/** A copy of `hash` with `flips` random bits flipped (a bit may flip back). */
export function flipped(hash: Uint8Array, flips: number, int: (below: number) => number): Uint8Array {
  const out = Uint8Array.from(hash);
  for (let k = 0; k < flips; k++) flipBit(out, int(256));
  return out;
}

/**
 * A 256-bit hash in hex `bits` distinct random bits away from `base` (exactly that distance),
 * drawn with `random` (a float in [0, 1), as `mulberry32` gives): vPDQ frames a few bits off.
 */
export function flippedHex(base: string, bits: number, random: () => number): string {
  const bytes = Buffer.from(base, 'hex');
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(Math.floor(random() * 256));
  for (const bit of chosen) flipBit(bytes, bit);
  return bytes.toString('hex');
}

export const SHAPES = ['random', 'clustered', 'extremes', 'duplicates', 'mixed'] as const;
export type Shape = (typeof SHAPES)[number];
export const QUERIES = ['near', 'stored', 'random', 'zeros', 'ones'] as const;
export type QueryKind = (typeof QUERIES)[number];

/**
 * `n` hashes of one shape: uniform; near-duplicate clusters (0–40 bits) around a few seeds;
 * near all-zeros or all-ones (the buckets of key 0 and key 2^w − 1 in every table); exact
 * duplicates of a few hashes; or a mix of all of these, as real lists are.
 */
export function makeList(shape: Shape, n: number, seed: number): Uint8Array[] {
  const int = prng(seed);
  const random = (): Uint8Array => Uint8Array.from({ length: 32 }, () => int(256));
  const seeds = Array.from({ length: 1 + int(4) }, random);
  const one = (kind: Exclude<Shape, 'mixed'>): Uint8Array => {
    if (kind === 'random') return random();
    if (kind === 'clustered') return flipped(seeds[int(seeds.length)]!, int(41), int);
    if (kind === 'extremes') return flipped(new Uint8Array(32).fill(int(2) === 0 ? 0 : 255), int(48), int);
    return Uint8Array.from(seeds[int(seeds.length)]!);
  };
  const kinds = ['random', 'clustered', 'extremes', 'duplicates'] as const;
  return Array.from({ length: n }, () => one(shape === 'mixed' ? kinds[int(4)]! : shape));
}

/** A query of one kind against `hashes`. */
export function makeQuery(kind: QueryKind, hashes: readonly Uint8Array[], seed: number): Uint8Array {
  const int = prng(seed ^ 0x5bd1e995);
  const stored = hashes.length > 0 ? hashes[int(hashes.length)]! : new Uint8Array(32);
  if (kind === 'near') return flipped(stored, int(48), int);
  if (kind === 'stored') return Uint8Array.from(stored);
  if (kind === 'zeros') return new Uint8Array(32);
  if (kind === 'ones') return new Uint8Array(32).fill(255);
  return Uint8Array.from({ length: 32 }, () => int(256));
}
