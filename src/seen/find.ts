/**
 * The rescan's one search: recorded hashes, packed, against an index of the new entries, giving
 * the hits alone. Perceptual hashes go through the batch kernel (src/search/batch.ts: many
 * queries per pass over a multi-index of the new entries, hits as typed arrays), exact against a
 * brute-force scan like every index here, so a rescan finds what `matchImage` would; exact hashes
 * through the table's own sorted index. A table above the kernel's entry bound is searched one
 * query at a time by the matcher's index.
 */
import { BatchHits, BatchIndex, MAX_BATCH_ENTRIES, searchBatch } from '../search/batch.js';
import type { AlgorithmName } from '../algorithms/registry.js';
import type { HashAlgorithm } from '../algorithms/types.js';
import type { MatcherTable, PerceptualTable } from '../search/tables.js';

/** The batch index of each table, built once per rescan round (a table lives one round). */
const batchIndexes = new WeakMap<PerceptualTable, BatchIndex>();

/** The batch index of `table`, built on first use (its tables are what search threads share). */
export function batchIndexOf(table: PerceptualTable): BatchIndex {
  let index = batchIndexes.get(table);
  if (index === undefined) {
    index = BatchIndex.fromLinear(table.linear);
    batchIndexes.set(table, index);
  }
  return index;
}

/** Each new entry's threshold (its list's, under the current policy), by entry position. */
export interface EntryThresholds {
  /** Threshold of the entry at each position of the table (0 for exact hashes). */
  readonly ofEntry: Uint8Array;
  /** The largest of them: the radius the index is searched with before each entry's own is applied. */
  readonly widest: number;
}

/** The hits of {@link findMatches}, as parallel columns: query position, entry position, distance. */
export interface FoundHits {
  readonly query: ArrayLike<number>;
  readonly entry: ArrayLike<number>;
  readonly distance: ArrayLike<number>;
}

/** Whether the batch kernel searches `count` entries of `algorithm` (256-bit perceptual hashes, up to its bound). */
export function kernelTakes(algorithm: HashAlgorithm<AlgorithmName>, count: number): boolean {
  return algorithm.kind === 'perceptual' && count <= MAX_BATCH_ENTRIES && algorithm.bits === 256;
}

/** Whether {@link findMatches} searches `table` with the batch kernel (which a search thread can also run). */
export function usesKernel(table: MatcherTable): boolean {
  return table.kind === 'perceptual' && kernelTakes(table.algorithm, table.linear.count);
}

/** The kernel's hits of `queries` in `index`, each within its entry's own threshold. */
export function kernelMatches(index: BatchIndex, queries: Uint8Array, thresholds: EntryThresholds): FoundHits {
  const out: Gathered = { query: [], entry: [], distance: [] };
  const hits = searchBatch(index, queries, thresholds.widest, new BatchHits());
  for (let k = 0; k < hits.length; k++) {
    const entry = hits.entries[k] as number;
    const distance = hits.distances[k] as number;
    if (distance <= (thresholds.ofEntry[entry] as number)) push(out, hits.queries[k] as number, entry, distance);
  }
  return out;
}

/**
 * Every (query, entry) pair of one algorithm whose distance is within the entry's threshold:
 * `queries` holds `count` hashes back to back, `table.algorithm.bits / 8` bytes each. Hits come in
 * query order; within a query in the index's order.
 */
export function findMatches(
  table: MatcherTable,
  queries: Uint8Array,
  count: number,
  thresholds: EntryThresholds,
): FoundHits {
  const width = table.algorithm.bits / 8;
  if (queries.length !== count * width) throw new RangeError(`Expected ${count} hashes of ${width} bytes`);
  if (usesKernel(table)) return kernelMatches(batchIndexOf(table as PerceptualTable), queries, thresholds);
  const out: Gathered = { query: [], entry: [], distance: [] };
  for (let q = 0; q < count; q++) {
    const hash = queries.subarray(q * width, (q + 1) * width);
    if (table.kind === 'exact') {
      const [start, end] = table.index.find(hash);
      for (let i = start; i < end; i++) push(out, q, i, 0);
      continue;
    }
    for (const hit of table.index.search(hash, thresholds.widest)) {
      if (hit.distance <= (thresholds.ofEntry[hit.index] as number)) push(out, q, hit.index, hit.distance);
    }
  }
  return out;
}

/** Hits as {@link findMatches} gathers them. */
interface Gathered {
  readonly query: number[];
  readonly entry: number[];
  readonly distance: number[];
}

function push(out: Gathered, query: number, entry: number, distance: number): void {
  out.query.push(query);
  out.entry.push(entry);
  out.distance.push(distance);
}
