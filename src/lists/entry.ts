/**
 * The list model: an entry is one hash of one algorithm in one named list. Entries are normalised
 * on the way in (algorithm name lower-cased, hash parsed and re-formatted as lower-case hex), so
 * everything downstream can compare strings.
 */
import { canonicalAlgorithm, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError, isHashwardenError } from '../errors.js';

/** Metadata kept with an entry: extra CSV columns or NDJSON fields, as given. */
export type EntryMetadata = Readonly<Record<string, unknown>>;

/** A normalised list entry. */
export interface ListEntry {
  /** Unique within its list. Defaults to `<algorithm>:<hash>` when the source has none. */
  readonly id: string;
  /** The list's name (`ncmec`, `internal-removals`, …). */
  readonly list: string;
  readonly algorithm: AlgorithmName;
  /** Lower-case hex. */
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
  /** Hex text (any case, surrounding white space ignored) or bytes. */
  readonly hash: string | Uint8Array;
  readonly label?: string | undefined;
  readonly metadata?: EntryMetadata | undefined;
}

/** Longest list name, id or label accepted; longer values are almost surely a parsing accident. */
export const MAX_FIELD_LENGTH = 1024;

/** Largest metadata of one entry: bytes of its JSON text, UTF-8. */
export const MAX_METADATA_BYTES = 65_536;

function field(value: unknown, name: string, required: boolean): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (required) throw new HashwardenError('ERR_LIST_FORMAT', `Missing ${name}`);
    return undefined;
  }
  if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
  if (typeof value !== 'string')
    throw new HashwardenError('ERR_LIST_FORMAT', `Expected a string for ${name} but received ${typeof value}`);
  const text = value.trim();
  if (text.length === 0) {
    if (required) throw new HashwardenError('ERR_LIST_FORMAT', `Missing ${name}`);
    return undefined;
  }
  if (text.length > MAX_FIELD_LENGTH) {
    throw new HashwardenError(
      'ERR_LIST_FORMAT',
      `Expected at most ${MAX_FIELD_LENGTH} characters for ${name} but received ${text.length}`,
    );
  }
  return text;
}

/**
 * Validates and normalises one entry. Throws `ERR_LIST_FORMAT` (missing or oversized fields),
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
  const list = field(input.list, 'list', true) as string;
  const algorithm = getAlgorithm(field(input.algorithm, 'algorithm', true) as string);
  let bytes: Uint8Array;
  if (input.hash instanceof Uint8Array) {
    bytes = input.hash;
    algorithm.format(bytes); // validates the length
  } else {
    bytes = algorithm.parse(field(input.hash, 'hash', true) as string);
  }
  const hash = algorithm.format(bytes);
  const id = field(input.id, 'id', false) ?? `${algorithm.name}:${hash}`;
  const label = field(input.label, 'label', false);
  const entry: ListEntry = { id, list, algorithm: algorithm.name, hash };
  if (label !== undefined) Object.assign(entry, { label });
  if (input.metadata !== undefined && input.metadata !== null) {
    if (typeof input.metadata !== 'object' || Array.isArray(input.metadata)) {
      throw new HashwardenError(
        'ERR_LIST_FORMAT',
        `Expected an object for metadata but received ${Array.isArray(input.metadata) ? 'array' : typeof input.metadata}`,
      );
    }
    if (Object.keys(input.metadata).length > 0) Object.assign(entry, { metadata: input.metadata });
  }
  return entry;
}

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
      if (metadata !== undefined && metadata !== null && hasKeys(metadata)) Object.assign(entry, { metadata });
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
