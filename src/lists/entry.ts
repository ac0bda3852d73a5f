/**
 * The list model: an entry is one hash of one algorithm in one named list. Entries are normalised
 * on the way in (algorithm name lower-cased, hash parsed and re-formatted as lower-case hex), so
 * everything downstream can compare strings.
 */
import { canonicalAlgorithm, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import { HashwardenError, isHashwardenError } from '../errors.js';
import { checkMetadata, entryField, entryFields, type EntryMetadata, MAX_FIELD_LENGTH } from './entry-fields.js';
import { normalizeVpdqEntry, vpdqDefaultId } from './vpdq-entry.js';

export {
  MAX_FIELD_LENGTH,
  MAX_FIELD_BYTES,
  MAX_CSV_COLUMNS,
  MAX_METADATA_BYTES,
  MAX_METADATA_KEYS,
  MAX_METADATA_DEPTH,
  entryFields,
  listName,
} from './entry-fields.js';
export type { EntryFieldsInput, EntryMetadata } from './entry-fields.js';

/** What a list entry's hash is: a registered algorithm's, or a video's vPDQ (a set of PDQ frames). */
export type EntryAlgorithm = AlgorithmName | typeof VPDQ_ALGORITHM;

/** A normalised list entry. */
export interface ListEntry {
  /** Unique within its list. Defaults to `<algorithm>:<hash>` when the source has none. */
  readonly id: string;
  /** The list's name (`ncmec`, `internal-removals`, …). */
  readonly list: string;
  readonly algorithm: EntryAlgorithm;
  /**
   * Lower-case hex; for a `vpdq` entry (one video's frames), python-threatexchange's signal text
   * as `formatVpdqJson` writes it (src/lists/vpdq-entry.ts).
   */
  readonly hash: string;
  /** What a match means to the caller (`csam`, `review`, …). */
  readonly label?: string;
  readonly metadata?: EntryMetadata;
}

/** An entry as a caller or a file gives it, before normalisation. */
export interface ListEntryInput {
  readonly id?: string | number | undefined;
  readonly list: string;
  readonly algorithm: string;
  /**
   * Hex text (any case, surrounding white space ignored) or bytes; for `vpdq`, python-threatexchange's
   * signal text or the packed frames (`packVpdq`).
   */
  readonly hash: string | Uint8Array;
  readonly label?: string | undefined;
  readonly metadata?: EntryMetadata | undefined;
}

/**
 * Validates and normalises one entry. Throws `ERR_LIST_FORMAT` (missing or oversized fields,
 * metadata over {@link MAX_METADATA_BYTES}, {@link MAX_METADATA_KEYS} or {@link MAX_METADATA_DEPTH}),
 * `ERR_UNKNOWN_ALGORITHM` or `ERR_HASH_FORMAT`, all `HashwardenError`.
 *
 * @example
 * ```ts
 * normalizeEntry({ list: 'demo', algorithm: 'MD5', hash: ' D41D8CD98F00B204E9800998ECF8427E ' });
 * // { id: 'md5:d41d8cd98f00b204e9800998ecf8427e', list: 'demo', algorithm: 'md5', hash: 'd41d…' }
 * ```
 */
export function normalizeEntry(input: ListEntryInput): ListEntry {
  if (input === null || typeof input !== 'object') {
    throw new HashwardenError(
      'ERR_LIST_FORMAT',
      `Expected an entry object but received ${input === null ? 'null' : typeof input}`,
    );
  }
  const list = entryField(input.list, 'list', true) as string;
  const name = entryField(input.algorithm, 'algorithm', true) as string;
  if (name.toLowerCase() === VPDQ_ALGORITHM) {
    const { frames: _, ...entry } = normalizeVpdqEntry(input);
    return entry;
  }
  const algorithm = getAlgorithm(name);
  let bytes: Uint8Array;
  if (input.hash instanceof Uint8Array) {
    bytes = input.hash;
    algorithm.format(bytes); // validates the length
  } else {
    bytes = algorithm.parse(entryField(input.hash, 'hash', true) as string);
  }
  const hash = algorithm.format(bytes);
  const { id: givenId, label, metadata } = entryFields(input);
  const id = givenId ?? `${algorithm.name}:${hash}`;
  const entry: ListEntry = { id, list, algorithm: algorithm.name, hash };
  if (label !== undefined) Object.assign(entry, { label });
  if (metadata !== undefined) Object.assign(entry, { metadata });
  return entry;
}

/**
 * True when an entry's id is the one `normalizeEntry` gives a row without one
 * (`<algorithm>:<hash>`, a vPDQ entry's `vpdq:<SHA-256 of its signal text>`): two such entries of
 * one list with the same id are the same row, which the `merge` dedupe policy keeps once.
 *
 * @internal Shared by the list readers and the store's imports.
 * @example
 * ```ts
 * hasDefaultId(normalizeEntry({ list: 'a', algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' })); // true
 * ```
 */
export function hasDefaultId(entry: Pick<ListEntry, 'id' | 'algorithm' | 'hash'>): boolean {
  if (entry.algorithm === VPDQ_ALGORITHM)
    return entry.id.length === VPDQ_DEFAULT_ID_LENGTH && entry.id === vpdqDefaultId(entry.hash);
  return (
    entry.id.length === entry.algorithm.length + 1 + entry.hash.length &&
    entry.id === `${entry.algorithm}:${entry.hash}`
  );
}

/** Length of a vPDQ entry's default id: `vpdq:` and 64 hex digits. */
const VPDQ_DEFAULT_ID_LENGTH = VPDQ_ALGORITHM.length + 1 + 64;

/** Lower-case hex digits only; with the length of `bits` / 4, the form `normalizeEntry` gives. */
const LOWER_HEX = /^[0-9a-f]*$/;

/** True for a code unit `trim` could remove: ASCII white space and controls, or anything past ASCII (checked by `trim` then). */
const edgy = (code: number): boolean => code <= 32 || code >= 127;

/** A string as `normalizeEntry` leaves it: non-empty, within the length limit, trimmed. */
function normalField(value: unknown): boolean {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_FIELD_LENGTH) return false;
  // Most fields are plain ASCII: two code units decide without building a trimmed copy.
  return edgy(value.charCodeAt(0)) || edgy(value.charCodeAt(value.length - 1)) ? value.trim() === value : true;
}

/** True when `metadata` has at least one own key, without listing them. */
function hasKeys(metadata: object): boolean {
  for (const key in metadata) if (Object.hasOwn(metadata, key)) return true;
  return false;
}

/**
 * `normalizeEntry`, made cheap for an entry already in normal form (what the list readers build
 * from clean files, and what they yield): its fields are checked as they are instead of being
 * parsed and written again; anything else goes through `normalizeEntry`. The same entry and the
 * same errors either way.
 *
 * @example
 * ```ts
 * const entry = normalEntry({ list: 'ncmec', algorithm: 'md5', hash: '0cc175b9c0f1b6a831c399e269772661' });
 * ```
 */
export function normalEntry(input: ListEntryInput): ListEntry {
  // An exact name lookup: a name that needs trimming or case folding goes the slow way.
  const algorithm =
    input !== null && typeof input === 'object' && typeof input.algorithm === 'string'
      ? canonicalAlgorithm(input.algorithm)
      : undefined;
  if (
    algorithm !== undefined &&
    typeof input.hash === 'string' &&
    normalField(input.list) &&
    (input.id === undefined || normalField(input.id)) &&
    (input.label === undefined || normalField(input.label))
  ) {
    const { metadata } = input;
    if (
      input.hash.length === algorithm.bits / 4 &&
      LOWER_HEX.test(input.hash) &&
      (metadata === undefined || metadata === null || (typeof metadata === 'object' && !Array.isArray(metadata)))
    ) {
      const entry = {
        id: (input.id as string | undefined) ?? `${algorithm.name}:${input.hash}`,
        list: input.list as string,
        algorithm: algorithm.name,
        hash: input.hash,
      };
      if (input.label !== undefined) Object.assign(entry, { label: input.label });
      if (metadata !== undefined && metadata !== null && hasKeys(metadata)) {
        checkMetadata(metadata);
        Object.assign(entry, { metadata });
      }
      return entry;
    }
  }
  return normalizeEntry(input);
}

/** Wraps a per-row failure into `ERR_LIST_FORMAT` naming the source and line, keeping the cause. */
export function rowError(error: unknown, source: string, line: number): HashwardenError {
  const message = error instanceof Error ? error.message : String(error);
  return new HashwardenError('ERR_LIST_FORMAT', `${source}:${line}: ${message}`, {
    cause: isHashwardenError(error) ? error : undefined,
  });
}
