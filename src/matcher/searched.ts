/**
 * What a `matchImage` call searched, kept beside its result for a seen record (src/seen/): every
 * hash looked up, as bytes, with the turn, border and frame it is of, and the versions of the
 * lists searched. Held in a WeakMap rather than on the result, so that the result's fields, its
 * JSON and the `hashwarden match` output stay as they are, and the bytes go when the result does.
 */
import type { AlgorithmName } from '../algorithms/registry.js';
import type { SearchedOf } from '../image/queries.js';

/** One hash a `matchImage` call looked up: its algorithm, its bytes, and what of the upload it is of. */
export type SearchedQuery = SearchedOf<Uint8Array> & { readonly algorithm: AlgorithmName };

/** Everything one `matchImage` call searched. */
export interface SearchedUpload {
  /** In the order the call looked them up (per pass, per algorithm, the upload as it is first). */
  readonly queries: readonly SearchedQuery[];
  /** The version of each list the call searched, by name (lists without a version are absent). */
  readonly versions: Readonly<Record<string, number>>;
}

const searched = new WeakMap<object, SearchedUpload>();

/** Keeps what the call that made `result` searched. */
export function rememberSearched(result: object, upload: SearchedUpload): void {
  searched.set(result, upload);
}

/** What the `matchImage` call that made `result` searched; undefined for any other object. */
export function searchedBy(result: object): SearchedUpload | undefined {
  return searched.get(result);
}
