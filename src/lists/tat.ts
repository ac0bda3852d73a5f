/**
 * Tech Against Terrorism's hash list records (python-threatexchange's `TATHashListEntry`:
 * `hash_digest`, `algorithm`, `ideology`, `file_type`, `deleted`, `updated_on`, a numeric `id`),
 * read one way by the NDJSON reader (line-formats.ts) and by the TAT connector
 * (src/exchanges/tat.ts), so that a list imported from TAT's file and one fetched from its API
 * hold the same ids, hashes and metadata (the connector adds the ideology as the label).
 *
 * Part of the core: no native modules here.
 */
import { algorithmName, listError, type RawRow } from './rows.js';

/** TAT's name of the hash field. @internal */
export const TAT_HASH_KEY = 'hash_digest';

// The fields a TAT record's entry is made of; every other field is kept as metadata.
const TAT_ENTRY_KEYS = new Set<string>(['id', 'algorithm', TAT_HASH_KEY]);

/**
 * True for an object in TAT's shape: a `hash_digest` and no `hash` of its own (an object with
 * both is hashwarden's, `hash_digest` kept as metadata).
 *
 * @internal Shared by the NDJSON reader and the TAT connector.
 */
export function isTatRecord(object: Readonly<Record<string, unknown>>): boolean {
  return !Object.hasOwn(object, 'hash') && Object.hasOwn(object, TAT_HASH_KEY);
}

/** True for a record TAT has withdrawn (`deleted: true`): a removal of its id. @internal */
export function tatDeleted(object: Readonly<Record<string, unknown>>): boolean {
  return object.deleted === true;
}

/**
 * A TAT record's algorithm as an entry's (pytx's names read as hashwarden's). TAT lists file
 * hashes (MD5, PDQ, SHA-256), never a video's vPDQ frames: a record naming `vpdq` is a bad row
 * (`ERR_LIST_FORMAT`), not an entry whose digest would be read as a signal. @internal
 */
export function tatAlgorithm(value: unknown): unknown {
  const name = algorithmName(value);
  if (typeof name === 'string' && name.trim().toLowerCase() === 'vpdq')
    throw listError('A TAT record cannot hold a vPDQ hash (TAT lists MD5, PDQ and SHA-256 digests)');
  return name;
}

/** A TAT id as an entry's: TAT's ids are numbers, an entry's id is text. @internal */
export function tatId(value: unknown): unknown {
  return typeof value === 'number' ? String(value) : value;
}

/**
 * The row of one TAT record of list `list`: id, algorithm (`MD5`, `PDQ`, `SHA256`: matched
 * case-insensitively later) and `hash_digest` as the entry's, the other fields as metadata, and
 * `deleted: true` as `op: 'remove'`. Not checked here: `normalizeEntry` (or `removalKey`) does.
 *
 * @internal Shared by the NDJSON reader and the TAT connector.
 * @example
 * ```ts
 * tatRecordRow({ id: 2819, algorithm: 'MD5', hash_digest: '0cc1…', ideology: 'islamist', deleted: false }, 'tat');
 * // { id: '2819', list: 'tat', algorithm: 'MD5', hash: '0cc1…', metadata: { ideology: 'islamist', deleted: false } }
 * ```
 */
export function tatRecordRow(record: Readonly<Record<string, unknown>>, list: string): RawRow {
  const extra = Object.entries(record).filter(([key]) => !TAT_ENTRY_KEYS.has(key));
  return {
    id: tatId(record.id) as string | undefined,
    list,
    algorithm: tatAlgorithm(record.algorithm) as string,
    hash: record[TAT_HASH_KEY] as string,
    ...(extra.length > 0 ? { metadata: Object.fromEntries(extra) } : {}),
    ...(tatDeleted(record) ? { op: 'remove' } : {}),
  };
}
