/**
 * The small statistics and orders the benches share: medians, nearest-rank percentiles, the load
 * average as printed, a seeded call order that takes every item about equally often, and seeded
 * random bytes.
 */
import { loadavg } from 'node:os';
import { mulberry32 } from '../src/testing/prng.js';

/** Median of a non-empty list (the mean of the middle two when its length is even). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile of an ascending list; NaN for an empty one. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** The 1, 5 and 15 minute load averages, as the reports print them (`1.74 2.10 2.15`). */
export function loadAverage(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

/**
 * `calls` items: seeded shuffles of all of `items`, one after another (the last one cut short), so
 * that each is taken about equally often and the same seed gives the same order.
 */
export function callOrder<T>(items: readonly T[], calls: number, seed: number): T[] {
  const random = mulberry32(seed ^ 0x5eed);
  const order: T[] = [];
  while (order.length < calls) {
    const pass = [...items];
    for (let i = pass.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pass[i], pass[j]] = [pass[j]!, pass[i]!];
    }
    order.push(...pass.slice(0, calls - order.length));
  }
  return order;
}

/** `length` bytes from xorshift32 seeded with `seed`: the same hashes on every run, so runs compare. */
export function randomBytes(length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s >>> 0;
  }
  return new Uint8Array(words.buffer, 0, length);
}
