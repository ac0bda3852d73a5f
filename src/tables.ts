/**
 * The matcher's per-algorithm tables: the entries of one algorithm, by position, with the index
 * that finds positions. Built here from entries, or read from a snapshot (`lists/snapshot.ts`).
 */
import type { AlgorithmName } from './algorithms/registry.js';
import type { HashAlgorithm } from './algorithms/types.js';
import { entryTableOf, type EntryTable } from './lists/entry-table.js';
import type { ListEntry } from './lists/model.js';
import { ExactIndex } from './search/exact.js';
import { LinearIndex, type SearchHit } from './search/linear.js';

/** What the matcher needs of a perceptual index: exact search, and the stored hash of a hit. */
export interface PerceptualIndex {
  search(query: Uint8Array, threshold: number): SearchHit[];
  hashAt(index: number): Uint8Array;
}

export interface PerceptualTable {
  readonly kind: 'perceptual';
  readonly algorithm: HashAlgorithm<AlgorithmName>;
  readonly index: PerceptualIndex;
  readonly entries: EntryTable;
}

export interface ExactTable {
  readonly kind: 'exact';
  readonly algorithm: HashAlgorithm<AlgorithmName>;
  readonly index: ExactIndex;
  /** In the index's sorted order. */
  readonly entries: EntryTable;
}

/** One algorithm's entries with their index. */
export type MatcherTable = PerceptualTable | ExactTable;

/** Builds the table of one algorithm from its normalised entries. */
export function buildTable(algorithm: HashAlgorithm<AlgorithmName>, entries: readonly ListEntry[]): MatcherTable {
  const hashes = entries.map((e) => algorithm.parse(e.hash));
  if (algorithm.kind === 'perceptual') {
    return { kind: 'perceptual', algorithm, index: LinearIndex.fromHashes(hashes, algorithm.bits), entries: entryTableOf(entries) };
  }
  const { index, order } = ExactIndex.build(hashes, algorithm.bits / 8);
  return { kind: 'exact', algorithm, index, entries: entryTableOf(Array.from(order, (i) => entries[i] as ListEntry)) };
}

