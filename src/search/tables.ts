/**
 * The matcher's per-algorithm tables: the entries of one algorithm, by position, with the index
 * that finds positions. Built here from entries, or read from a snapshot (`snapshot/read.ts`).
 * Perceptual hashes get the linear scan or multi-index hashing over it, by list size
 * (`chooseSearchTier`) unless the caller says otherwise; exact hashes get a hash table.
 */
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { HashAlgorithm } from '../algorithms/types.js';
import {
  entryTableOf,
  packedEntryTable,
  permuteColumns,
  type EntryColumns,
  type EntryTable,
  type PackedEntries,
} from './entry-table.js';
import type { ListEntry } from '../lists/entry.js';
import { ExactIndex } from './exact-index.js';
import { LinearIndex } from './linear.js';
import { MihIndex, mihTables, type MihTable } from './mih.js';
import {
  chooseSearchTier,
  substringWidths,
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
  /**
   * Set on a table built to be written, not searched (`buildPackedTables(…, { defer: true })`):
   * its multi-index tables, made one at a time as the snapshot writer stores them. `index` is then
   * `linear`, and `search` names the tier and widths the file will hold.
   */
  readonly pending?: () => Iterable<MihTable>;
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

/**
 * The perceptual index for `linear` under `search` (default: automatic tier). With `defer`, a
 * multi-index is left for a snapshot writer to make table by table (`PerceptualTable.pending`).
 */
export function perceptualIndex(
  linear: LinearIndex,
  search: ResolvedSearch | undefined,
  defer = false,
): Pick<PerceptualTable, 'index' | 'search' | 'pending'> {
  const tier = chooseSearchTier(linear.count, search);
  if (tier.tier === 'linear') return { index: linear, search: { tier: 'linear' } };
  if (defer) {
    const widths = substringWidths(tier.substringBits as number);
    return { index: linear, search: { tier: 'mih', substringBits: widths }, pending: () => mihTables(linear, widths) };
  }
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

/** Bytes of each half of a 256-bit hash: the linear index keeps each half in its own plane. */
const HALF_BYTES = 16;

/** Copies `count` hashes held back to back into the two planes: first halves to `a`, second to `b`. */
function splitHalves(hashes: Uint8Array, a: Uint8Array, b: Uint8Array, count: number): void {
  const aligned = [hashes, a, b].every((x) => x.byteOffset % 4 === 0);
  if (!aligned) {
    for (let i = 0; i < count; i++) {
      const at = i * 2 * HALF_BYTES;
      a.set(hashes.subarray(at, at + HALF_BYTES), i * HALF_BYTES);
      b.set(hashes.subarray(at + HALF_BYTES, at + 2 * HALF_BYTES), i * HALF_BYTES);
    }
    return;
  }
  // Word by word: a copy per half would make two views an entry. The words' byte order does not
  // matter: they are copied, never read as numbers.
  const words = (x: Uint8Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length >>> 2);
  const from = words(hashes);
  const toA = words(a);
  const toB = words(b);
  for (let i = 0, w = 0, h = 0; i < count; i++, h += 4) {
    toA[h] = from[w++] as number;
    toA[h + 1] = from[w++] as number;
    toA[h + 2] = from[w++] as number;
    toA[h + 3] = from[w++] as number;
    toB[h] = from[w++] as number;
    toB[h + 1] = from[w++] as number;
    toB[h + 2] = from[w++] as number;
    toB[h + 3] = from[w++] as number;
  }
}

/**
 * Builds the table of one algorithm from its entries packed (hashes back to back, `bits / 8`
 * bytes each, and their columns in the same order), as a store is read: the same table
 * {@link buildTable} builds from entry objects, with no object per entry. An exact table holds its
 * entries in its hash table's order: `reordered`, when given, is told that order (position i holds
 * the entry given at `order[i]`) so the caller can put its own per-entry values in it too.
 */
export function buildPackedTable(
  algorithm: HashAlgorithm<AlgorithmName>,
  hashes: readonly Uint8Array[],
  columns: EntryColumns,
  search?: ResolvedSearch,
  defer = false,
  reordered?: (order: Uint32Array) => void,
): MatcherTable {
  const count = columns.listIndex.length;
  const width = algorithm.bits / 8;
  if (hashes.reduce((sum, chunk) => sum + chunk.length, 0) !== count * width)
    throw new RangeError(`Expected ${count} hashes of ${width} bytes for ${algorithm.name}`);
  if (algorithm.kind === 'perceptual') {
    const linear = LinearIndex.allocate(count);
    const { a, b } = linear.planes();
    let at = 0;
    for (const chunk of hashes) {
      const n = chunk.length / width;
      splitHalves(chunk, a.subarray(at * HALF_BYTES), b.subarray(at * HALF_BYTES), n);
      at += n;
    }
    return {
      kind: 'perceptual',
      algorithm,
      linear,
      ...perceptualIndex(linear, search, defer),
      entries: packedEntryTable(columns),
    };
  }
  const { index, order } = ExactIndex.buildPacked(
    hashes.length === 1 ? (hashes[0] as Uint8Array) : Buffer.concat(hashes, count * width),
    width,
  );
  reordered?.(order);
  return {
    kind: 'exact',
    algorithm,
    index,
    search: { tier: 'exact' },
    entries: packedEntryTable(permuteColumns(columns, order)),
  };
}

/**
 * The tables of packed entries (see {@link buildPackedTable}), in the same order. With `defer`,
 * for a snapshot writer only: multi-index tables are left for the writer to make one at a time
 * (`PerceptualTable.pending`), so that the file takes each while the next is built.
 */
export function buildPackedTables(
  packed: ReadonlyMap<AlgorithmName, PackedEntries>,
  search?: ResolvedSearch,
  { defer = false }: { readonly defer?: boolean } = {},
): Map<AlgorithmName, MatcherTable> {
  const tables = new Map<AlgorithmName, MatcherTable>();
  for (const [name, { hashes, columns }] of packed)
    tables.set(name, buildPackedTable(getAlgorithm(name), hashes, columns, search, defer));
  return tables;
}

/** The table with its index rebuilt under `search` (a snapshot opened with other search options). */
export function reindexTable(table: MatcherTable, search: ResolvedSearch): MatcherTable {
  if (table.kind === 'exact') return table;
  return { ...table, ...perceptualIndex(table.linear, search) };
}
