/**
 * The rescan's one search: recorded hashes, packed, against an index of the new entries, giving
 * the hits alone. Kept to this one function so that a batch kernel (many queries per pass over
 * the index) can take its place; this version asks the matcher's own indexes one query at a time,
 * so it finds exactly what `matchImage` finds (the indexes are exact: indexed == brute force).
 */
import type { MatcherTable } from '../search/tables.js';

/** Each new entry's threshold (its list's, under the current policy), by entry position. */
export interface EntryThresholds {
  /** Threshold of the entry at each position of the table (0 for exact hashes). */
  readonly ofEntry: Uint8Array;
  /** The largest of them: the radius the index is searched with before each entry's own is applied. */
  readonly widest: number;
}

/** The hits of {@link findMatches}, as parallel columns: query position, entry position, distance. */
export interface FoundHits {
  readonly query: number[];
  readonly entry: number[];
  readonly distance: number[];
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
  const out: FoundHits = { query: [], entry: [], distance: [] };
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

function push(out: FoundHits, query: number, entry: number, distance: number): void {
  out.query.push(query);
  out.entry.push(entry);
  out.distance.push(distance);
}
