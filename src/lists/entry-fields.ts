/**
 * The fields every list entry shares, whatever its hash: the list's name, the id, the label and
 * the metadata, each checked and normalised one way, with their bounds (src/lists/entry.ts for
 * hashes of the registry's algorithms, src/lists/vpdq-entry.ts for videos).
 */
import { HashwardenError } from '../errors.js';

/** Metadata kept with an entry: extra CSV columns or NDJSON fields, as given. */
export type EntryMetadata = Readonly<Record<string, unknown>>;

/** The shared fields as a caller or a file gives them. */
export interface EntryFieldsInput {
  readonly id?: string | number | undefined;
  readonly label?: string | undefined;
  readonly metadata?: EntryMetadata | undefined;
}

/** Longest list name, id or label accepted; longer values are almost surely a parsing accident. */
export const MAX_FIELD_LENGTH = 1024;

/**
 * Most UTF-8 bytes of a list name, id or label: `MAX_FIELD_LENGTH` counts UTF-16 code units, and
 * each encodes to at most 3 bytes (a surrogate pair, two units, to 4). What a store or a snapshot
 * read from elsewhere may hold in one such field.
 */
export const MAX_FIELD_BYTES = 3 * MAX_FIELD_LENGTH;

/**
 * Most fields in a CSV header or record: 1,024. Clearinghouse and exchange files have a few
 * dozen columns; a record is refused from its field count before it is split, so an 8-million
 * column file costs a scan, not 8 million strings per record (or metadata of 8 million keys).
 */
export const MAX_CSV_COLUMNS = 1024;

/**
 * Most bytes of one entry's metadata, as JSON text in UTF-8: 64 KiB. Clearinghouse metadata (a
 * source, a date, a category, a case number) is a few hundred bytes; the limit leaves room for a
 * hundred times that while keeping what a matcher holds per entry, and what a match returns, small
 * (every match on an entry copies its metadata, and a store of millions of entries holds them all).
 */
export const MAX_METADATA_BYTES = 65_536;

/**
 * Most object keys in one entry's metadata, counted at every level of nesting: 1,024. A CSV row
 * within `MAX_CSV_COLUMNS` always fits (its metadata is one key per column), and so does any
 * provider's record seen so far (a few dozen fields); past it, the object is surely not metadata.
 */
export const MAX_METADATA_KEYS = 1024;

/**
 * Deepest nesting of objects and arrays in one entry's metadata, the metadata object itself being
 * level 1: 32. Provider records nest two or three levels; a deeper value is built to exhaust
 * recursive code (serialisation, comparison), and 32 is far from any stack limit.
 */
export const MAX_METADATA_DEPTH = 32;

// JSON bytes per UTF-16 code unit of a string at most: `\u001f` takes six (UTF-8 takes at most three).
const MAX_JSON_BYTES_PER_UNIT = 6;

/**
 * Checks an entry's metadata against {@link MAX_METADATA_DEPTH}, {@link MAX_METADATA_KEYS} and
 * {@link MAX_METADATA_BYTES}, walking it with a stack of its own, never recursing, so no nesting
 * can overflow the call stack. The byte count is exact: an upper bound is summed on the way (each
 * string's code units at their longest JSON form) and only metadata that may be over the limit, or
 * holds values JSON writes its own way (`toJSON`, class instances), is serialised to measure it.
 * Throws `ERR_LIST_FORMAT`.
 */
export function checkMetadata(metadata: object): void {
  const stack: [value: object, depth: number][] = [[metadata, 1]];
  let keys = 0;
  // JSON punctuation and scalars are counted exactly, strings at their longest: an upper bound.
  let bound = 0;
  let measure = false;
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, depth] = next;
    if (depth > MAX_METADATA_DEPTH) {
      throw new HashwardenError('ERR_LIST_FORMAT', `Expected metadata nested at most ${MAX_METADATA_DEPTH} deep`);
    }
    const names = Array.isArray(value) ? undefined : Object.keys(value);
    if (names !== undefined) {
      keys += names.length;
      if (keys > MAX_METADATA_KEYS) {
        throw new HashwardenError('ERR_LIST_FORMAT', `Expected at most ${MAX_METADATA_KEYS} metadata keys`);
      }
      const prototype: unknown = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) measure = true;
    }
    const count = names === undefined ? (value as unknown[]).length : names.length;
    // Brackets and commas, then each key with its quotes and colon.
    bound += 1 + Math.max(1, count);
    for (let i = 0; i < count; i++) {
      const key = names?.[i];
      if (key !== undefined) bound += key.length * MAX_JSON_BYTES_PER_UNIT + 3;
      const item: unknown = key === undefined ? (value as unknown[])[i] : (value as Record<string, unknown>)[key];
      if (typeof item === 'string') bound += item.length * MAX_JSON_BYTES_PER_UNIT + 2;
      else if (typeof item === 'number' && Number.isFinite(item)) bound += String(item).length;
      else if (typeof item === 'number' || typeof item === 'boolean' || item === null || item === undefined) bound += 5;
      else if (typeof item === 'object' && typeof (item as { toJSON?: unknown }).toJSON !== 'function')
        stack.push([item, depth + 1]);
      else measure = true;
    }
  }
  if (bound > MAX_METADATA_BYTES) measure = true;
  if (!measure) return;
  let json: string | undefined;
  try {
    json = JSON.stringify(metadata);
  } catch (error) {
    // A BigInt, a cycle through toJSON: nothing a store or a list file could keep.
    throw new HashwardenError('ERR_LIST_FORMAT', `Metadata cannot be written as JSON: ${(error as Error).message}`);
  }
  const bytes = json === undefined ? 0 : Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_METADATA_BYTES) {
    throw new HashwardenError(
      'ERR_LIST_FORMAT',
      `Expected at most ${MAX_METADATA_BYTES} bytes of metadata as JSON but received ${bytes}`,
    );
  }
}

/** One text field: trimmed, empty as absent (`ERR_LIST_FORMAT` when `required`), within {@link MAX_FIELD_LENGTH}. */
export function entryField(value: unknown, name: string, required: boolean): string | undefined {
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
 * The id, label and metadata of an entry checked as {@link normalizeEntry} checks them (trimmed,
 * within {@link MAX_FIELD_LENGTH}; metadata an object within the metadata limits, absent when it
 * has no key). Throws `ERR_LIST_FORMAT`.
 *
 * @internal Shared with the vPDQ entries of src/video/, whose hash is not hex.
 * @example
 * ```ts
 * entryFields({ id: ' a ', label: 'csam' }); // { id: 'a', label: 'csam', metadata: undefined }
 * ```
 */
export function entryFields(input: EntryFieldsInput): {
  id: string | undefined;
  label: string | undefined;
  metadata: EntryMetadata | undefined;
} {
  const id = entryField(input.id, 'id', false);
  const label = entryField(input.label, 'label', false);
  let metadata: EntryMetadata | undefined;
  if (input.metadata !== undefined && input.metadata !== null) {
    if (typeof input.metadata !== 'object' || Array.isArray(input.metadata)) {
      throw new HashwardenError(
        'ERR_LIST_FORMAT',
        `Expected an object for metadata but received ${Array.isArray(input.metadata) ? 'array' : typeof input.metadata}`,
      );
    }
    checkMetadata(input.metadata);
    if (Object.keys(input.metadata).length > 0) metadata = input.metadata;
  }
  return { id, label, metadata };
}

/**
 * A list name checked as {@link normalizeEntry} checks it: required, trimmed, within
 * {@link MAX_FIELD_LENGTH}. Throws `ERR_LIST_FORMAT`.
 *
 * @internal Shared with the vPDQ entries of src/video/.
 * @example
 * ```ts
 * listName(' ncmec '); // 'ncmec'
 * ```
 */
export function listName(value: unknown): string {
  return entryField(value, 'list', true) as string;
}
