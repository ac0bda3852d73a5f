/**
 * Which search a list of perceptual hashes gets: the linear scan, or multi-index hashing (MIH,
 * mih.ts) with a substring width chosen by list size within a memory budget. The figures behind
 * each constant are in docs/benchmark.md (*Figures formerly in code comments*); the reasoning in
 * docs/algorithms.md.
 */
import { integerInRange, oneOf, optionsObject } from '../validate.js';

/** The one hash size the indexes store: the perceptual hashes hashwarden has are all 256-bit. */
const BITS = 256;

/**
 * Narrowest substring. Below 8 bits there would be 37+ tables of N ids each, and so few buckets
 * that almost every query would fall back to the scan.
 */
export const MIN_SUBSTRING_BITS = 8;
/**
 * Widest substring: a table's offsets take 4 × 2^width bytes, 64 MiB at 24 bits (there are 11 such
 * tables), and keys must fit the 32-bit integer arithmetic anyway.
 */
export const MAX_SUBSTRING_BITS = 24;

/** A substring width, 8–24 bits, else a TypeError or RangeError naming `name`. */
export function validSubstringBits(value: unknown, name: string): number {
  return integerInRange(value, MIN_SUBSTRING_BITS, MAX_SUBSTRING_BITS, name);
}

/**
 * Widths of the m = ⌈256 / target⌉ substrings, as equal as 256 allows, wider ones first. Wider
 * first because the first a + 1 tables get the larger radius, and at width ≈ log2 N the step from
 * radius s − 1 to s costs less in a wider table: C(w, s) more probes, each reading 1 + N/2^w
 * offsets-or-entries. At 1M and s = 2: 190 × 1.95 = 371 reads for a 20-bit table, 171 × 2.9 = 496
 * for a 19-bit one.
 *
 * @example
 * ```ts
 * substringWidths(20); // nine 20s, then four 19s: 13 substrings
 * ```
 */
export function substringWidths(target: number): number[] {
  validSubstringBits(target, 'substringBits');
  const m = Math.ceil(BITS / target);
  const base = Math.floor(BITS / m);
  const wider = BITS - base * m;
  return Array.from({ length: m }, (_, j) => (j < wider ? base + 1 : base));
}

/**
 * Smallest list for which {@link chooseSearchTier} picks MIH: below it the scan is as fast or
 * faster on random lists, takes well under a millisecond, and spends no index memory.
 */
export const MIH_MIN_COUNT = 32_768;

/** Which search a list of a given size gets, as {@link chooseSearchTier} returns it. */
export interface SearchTier {
  readonly tier: 'linear' | 'mih';
  /** Target substring width for `MihIndex.build`; present when `tier` is `'mih'`. */
  readonly substringBits?: number;
}

/** Overrides for {@link chooseSearchTier}; also `MatcherOptions.search` and `writeSnapshot`'s `search`. */
export interface SearchTierOptions {
  /** `'linear'`, `'mih'`, or `'auto'` (by list size). Default: `'auto'`. */
  readonly tier?: 'auto' | 'linear' | 'mih';
  /** Substring width when the tier is MIH, 8–24. Default: {@link defaultSubstringBits} of `count`. */
  readonly substringBits?: number;
}

/** The values of {@link SearchTierOptions.tier}. */
export const SEARCH_TIERS = ['auto', 'linear', 'mih'] as const;

/** {@link SearchTierOptions}, validated (messages name `name.tier`, `name.substringBits`). */
export interface ResolvedSearchTierOptions {
  readonly tier: (typeof SEARCH_TIERS)[number];
  readonly substringBits?: number;
}

/**
 * Validates search options once into a frozen object, so a caller that builds later (the matcher,
 * the snapshot writer) refuses a bad option before any work.
 *
 * @example
 * ```ts
 * resolveSearchTierOptions({ substringBits: 30 }, 'search'); // RangeError: Expected integer between 8 and 24 for search.substringBits …
 * ```
 */
export function resolveSearchTierOptions(
  options: SearchTierOptions | undefined,
  name: string,
): ResolvedSearchTierOptions {
  const o = optionsObject(options, name);
  const tier = o.tier === undefined ? 'auto' : oneOf(o.tier, SEARCH_TIERS, `${name}.tier`);
  if (o.substringBits === undefined) return Object.freeze({ tier });
  return Object.freeze({ tier, substringBits: validSubstringBits(o.substringBits, `${name}.substringBits`) });
}

/**
 * Most index memory per entry, beyond its 32-byte hash, that the automatic choices spend: 80
 * bytes, so a 10M-entry list needs at most 800 MB of tables next to its 320 MB of hashes. Each
 * table costs 4 bytes an entry of ids plus 4 × 2^width bytes of offsets, so below about 200k
 * entries no split fits (there {@link chooseSearchTier} keeps the scan, which is fast at that size).
 */
export const MAX_INDEX_BYTES_PER_ENTRY = 80;

/**
 * Bytes an entry that MIH tables of target width `substringBits` take for `count` entries
 * (offsets and ids, beyond the hashes).
 *
 * @example
 * ```ts
 * indexBytesPerEntry(1_000_000, 19); // 74.9: 14 tables of 18–19 bits
 * ```
 */
export function indexBytesPerEntry(count: number, substringBits: number): number {
  integerInRange(count, 1, 2 ** 32 - 1, 'count');
  const widths = substringWidths(substringBits);
  return (4 * widths.length * count + 4 * widths.reduce((sum, w) => sum + 2 ** w + 1, 0)) / count;
}

/** The widest target width whose tables fit MAX_INDEX_BYTES_PER_ENTRY, or undefined. */
function widestWithinBudget(count: number): number | undefined {
  if (count < 1) return undefined;
  for (let bits = MAX_SUBSTRING_BITS; bits >= MIN_SUBSTRING_BITS; bits--)
    if (indexBytesPerEntry(count, bits) <= MAX_INDEX_BYTES_PER_ENTRY) return bits;
  return undefined;
}

/**
 * Default substring width for `count` entries: the widest (fewest tables) whose index stays within
 * {@link MAX_INDEX_BYTES_PER_ENTRY}; when none does (small lists), round(log2 count) within 8–24,
 * about one entry per bucket as the paper advises. Fewer, wider tables are faster (the width
 * sweep is in docs/benchmark.md), so from 1M entries up the budget, not speed, picks the width.
 *
 * @example
 * ```ts
 * defaultSubstringBits(1_000_000);  // 19 → 14 substrings of 18–19 bits
 * defaultSubstringBits(10_000_000); // 23 → 12 substrings of 21–22 bits
 * ```
 */
export function defaultSubstringBits(count: number): number {
  integerInRange(count, 0, 2 ** 32 - 1, 'count');
  const fitting = widestWithinBudget(count);
  if (fitting !== undefined) return fitting;
  const bits = Math.round(Math.log2(Math.max(count, 1)));
  return Math.min(MAX_SUBSTRING_BITS, Math.max(MIN_SUBSTRING_BITS, bits));
}

/**
 * The search tier for a list of `count` hashes: MIH with {@link defaultSubstringBits} when the
 * list has at least {@link MIH_MIN_COUNT} (32,768) entries and some split fits
 * {@link MAX_INDEX_BYTES_PER_ENTRY} (from about 200k entries), else the linear scan. `options`
 * override either choice: `tier: 'mih'` builds MIH at any size, with `substringBits` or the
 * default width (which may then exceed the memory budget).
 *
 * @example
 * ```ts
 * chooseSearchTier(10_000);    // { tier: 'linear' }
 * chooseSearchTier(1_000_000); // { tier: 'mih', substringBits: 19 }
 * chooseSearchTier(10_000, { tier: 'mih', substringBits: 12 }); // { tier: 'mih', substringBits: 12 }
 * ```
 */
export function chooseSearchTier(count: number, options?: SearchTierOptions): SearchTier {
  integerInRange(count, 0, 2 ** 32 - 1, 'count');
  const { tier, substringBits: bits } = resolveSearchTierOptions(options, 'options');
  if (tier === 'linear') return { tier: 'linear' };
  if (tier === 'auto' && (count < MIH_MIN_COUNT || (bits === undefined && widestWithinBudget(count) === undefined)))
    return { tier: 'linear' };
  return { tier: 'mih', substringBits: bits ?? defaultSubstringBits(count) };
}
