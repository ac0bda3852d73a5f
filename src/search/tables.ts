/**
 * The matcher's per-algorithm tables: the entries of one algorithm, by position, with the index
 * that finds positions. Built here from entries, or read from a snapshot (`snapshot/read.ts`).
 * Perceptual hashes get the linear scan or multi-index hashing over it, by list size
 * (`chooseSearchTier`) unless the caller says otherwise; exact hashes get a hash table.
 */
import type { AlgorithmName } from '../algorithms/registry.js';
import type { HashAlgorithm } from '../algorithms/types.js';
import { entryTableOf, type EntryTable } from './entry-table.js';
import type { ListEntry } from '../lists/entry.js';
import { ExactIndex } from './exact-index.js';
import { LinearIndex } from './linear.js';
import { MihIndex } from './mih.js';
import {
  chooseSearchTier,
  resolveSearchTierOptions,
  type ResolvedSearchTierOptions,
  type SearchTierOptions,
} from './tier.js';

/** How one algorithm's entries are searched, as `Matcher.describe()` and snapshots report it. */
export type TableSearch =
  | { readonly tier: 'linear' }
  | { readonly tier: 'mih'; readonly substringBits: readonly number[] }
  | { readonly tier: 'exact' };

export interface PerceptualTable {
  readonly kind: 'perceptual';
  readonly algorithm: HashAlgorithm<AlgorithmName>;
  /** The hashes and the scan; `index` searches through it. */
  readonly linear: LinearIndex;
  /** `linear` itself, or a multi-index over it. */
  readonly index: LinearIndex | MihIndex;
  readonly search: TableSearch;
  readonly entries: EntryTable;
}

export interface ExactTable {
  readonly kind: 'exact';
  readonly algorithm: HashAlgorithm<AlgorithmName>;
  readonly index: ExactIndex;
  readonly search: TableSearch;
  /** In the index's sorted order. */
  readonly entries: EntryTable;
}

/** One algorithm's entries with their index. */
export type MatcherTable = PerceptualTable | ExactTable;

/** The search the caller asked for, resolved once (`MatcherOptions.search`). */
export type ResolvedSearch = ResolvedSearchTierOptions;

/** Validates search options (`{ tier?, substringBits? }`) into a frozen object; undefined when absent. */
export function resolveSearch(value: unknown, name: string): ResolvedSearch | undefined {
  return value === undefined ? undefined : resolveSearchTierOptions(value as SearchTierOptions, name);
}

/** The perceptual index for `linear` under `search` (default: automatic tier). */
function perceptualIndex(
  linear: LinearIndex,
  search: ResolvedSearch | undefined,
): { index: LinearIndex | MihIndex; search: TableSearch } {
  const tier = chooseSearchTier(linear.count, search);
  if (tier.tier === 'linear') return { index: linear, search: { tier: 'linear' } };
  const mih = MihIndex.build(linear, { substringBits: tier.substringBits as number });
  return { index: mih, search: { tier: 'mih', substringBits: mih.substringBits } };
}

/**
 * Exact hashes sorted into their hash table, with the entries in the same order, so that positions
 * the table finds are entry numbers (the matcher's table and the snapshot writer both need this).
 */
export function sortExact(
  algorithm: HashAlgorithm<AlgorithmName>,
  entries: readonly ListEntry[],
): { index: ExactIndex; entries: ListEntry[] } {
  const { index, order } = ExactIndex.build(
    entries.map((e) => algorithm.parse(e.hash)),
    algorithm.bits / 8,
  );
  return { index, entries: Array.from(order, (i) => entries[i] as ListEntry) };
}

/** Builds the table of one algorithm from its normalised entries. */
export function buildTable(
  algorithm: HashAlgorithm<AlgorithmName>,
  entries: readonly ListEntry[],
  search?: ResolvedSearch,
): MatcherTable {
  if (algorithm.kind === 'perceptual') {
    const linear = LinearIndex.fromHashes(
      entries.map((e) => algorithm.parse(e.hash)),
      algorithm.bits,
    );
    return {
      kind: 'perceptual',
      algorithm,
      linear,
      ...perceptualIndex(linear, search),
      entries: entryTableOf(entries),
    };
  }
  const exact = sortExact(algorithm, entries);
  return {
    kind: 'exact',
    algorithm,
    index: exact.index,
    search: { tier: 'exact' },
    entries: entryTableOf(exact.entries),
  };
}

/** The table with its index rebuilt under `search` (a snapshot opened with other search options). */
export function reindexTable(table: MatcherTable, search: ResolvedSearch): MatcherTable {
  if (table.kind === 'exact') return table;
  return { ...table, ...perceptualIndex(table.linear, search) };
}
