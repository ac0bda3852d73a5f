/**
 * Seen records for tests: a result carrying given searched hashes, as a matcher's would, so a
 * seen store can record uploads no image produced (random hashes and their variants).
 */
import { rememberSearched, type SearchedQuery } from '../matcher/searched.js';
import type { ImageMatchResult } from '../matcher/types.js';

/** A result as `matchImage` would return it, with `queries` as what it searched. */
export function resultOf(queries: readonly SearchedQuery[], versions: Record<string, number>): ImageMatchResult {
  const result = { matched: false, matches: [] } as unknown as ImageMatchResult;
  rememberSearched(result, { queries, versions });
  return result;
}
