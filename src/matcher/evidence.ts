/**
 * Evidence-ready results: when a `matchImage` result carries the upload's exact hashes
 * (`ImageMatchResult.exactHashes`), so a reviewer or a report to a clearinghouse needs no re-hashing.
 */
import { getAlgorithm } from '../algorithms/registry.js';
import type { State } from './state.js';

/**
 * True when `state` holds exact-hash entries: a list that asks for exact hashes is one a report
 * will name files of by MD5, SHA-1 or SHA-256, so every result over it carries all three.
 */
export function holdsExact(state: State): boolean {
  for (const [name, table] of state.tables) {
    if (getAlgorithm(name).kind === 'exact' && table.entries.count > 0) return true;
  }
  return false;
}
