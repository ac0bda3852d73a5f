/**
 * What a list file is and what reading one takes: the three formats (CSV with a header row,
 * NDJSON, and plain text with one `<algorithm> <hex>` per line, the python-threatexchange
 * `<signal type> <hash>` style), how a file's format is detected, the options of the readers and
 * the shape of their results. Everything else in `src/lists` builds on this file: the row
 * machinery both readers share (`rows.ts`), the CSV and line parsers (`csv.ts`,
 * `line-formats.ts`), the whole-file reader (`parse.ts`), the streaming one (`stream.ts`) and the
 * writer (`write.ts`).
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { ALGORITHM_NAMES, isAlgorithmName } from '../algorithms/registry.js';
import type { HashwardenError } from '../errors.js';
import { invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { MAX_FIELD_LENGTH, type ListEntry } from './entry.js';

/**
 * A list file format: `csv` (header row required), `ndjson` (one JSON object a line), `text`
 * (`<algorithm> <hex>` lines).
 *
 * @example
 * ```ts
 * const format: ListFormat = detectListFormat(path, head);
 * ```
 */
export type ListFormat = 'csv' | 'ndjson' | 'text';

/**
 * Every list format.
 *
 * @example
 * ```ts
 * LIST_FORMATS.includes(userChoice as ListFormat);
 * ```
 */
export const LIST_FORMATS: readonly ListFormat[] = Object.freeze(['csv', 'ndjson', 'text'] as const);

/**
 * A format the list readers accept: one of `LIST_FORMATS` (also written), or a read-only one
 * (`checksum`: `md5sum`/`sha256sum`/BSD checksum-tool lines; `pdq`: the PDQ hashers'
 * `hash,quality,filename` and `hash=…,quality=…` lines; `te`: pytx 0.x / HMA 1.0 `hash,id,date,tags`
 * rows), each parsed by its file registered in `read-formats.ts` (whose table the compiler checks
 * against this list); or one read other than by lines: `stopncii` (StopNCII.org's hash records, a
 * JSON array or a `FetchHashes` answer, read by `stopncii.ts` as a stream of JSON) and `ncmec`
 * (NCMEC's hash-sharing API v2 XML, read whole by `ncmec-xml.ts`).
 *
 * @example
 * ```ts
 * const format: ListReadFormat = flags.format ?? 'checksum';
 * ```
 */
export type ListReadFormat = ListFormat | 'checksum' | 'pdq' | 'te' | 'stopncii' | 'ncmec';

/**
 * Every format the list readers accept (`--format` of `hashwarden import`).
 *
 * @example
 * ```ts
 * LIST_READ_FORMATS.includes(flag as ListReadFormat);
 * ```
 */
export const LIST_READ_FORMATS: readonly ListReadFormat[] = Object.freeze([
  'csv',
  'ndjson',
  'text',
  'checksum',
  'pdq',
  'te',
  'stopncii',
  'ncmec',
] as const);

/**
 * What to do with bad rows: `fail` (the default) throws for the first one, `skip` returns them
 * beside the good entries.
 *
 * @example
 * ```ts
 * const onError: RowErrorPolicy = flags.skipBadRows ? 'skip' : 'fail';
 * ```
 */
export type RowErrorPolicy = 'fail' | 'skip';

/**
 * What to do with a row that repeats an earlier one of the same list, algorithm and hash, neither
 * with an id of its own (so both have the id `<algorithm>:<hash>`): `merge` (the default) keeps
 * the first row, with its label and metadata, and drops the repeat; `fail` treats it as any other
 * repeated id, a bad row. Rows with ids of their own that repeat are bad rows under either policy:
 * two records under one id say different things. Exports of several lists, checksum files of
 * copies and the PDQ test sets all repeat hashes; failing them only made users strip the repeats
 * by hand.
 *
 * @example
 * ```ts
 * parseList(text, { list: 'peer', dedupe: flags.strict ? 'fail' : 'merge' });
 * ```
 */
export type DedupePolicy = 'merge' | 'fail';

/**
 * Every dedupe policy.
 *
 * @example
 * ```ts
 * DEDUPE_POLICIES.includes(flag as DedupePolicy);
 * ```
 */
export const DEDUPE_POLICIES: readonly DedupePolicy[] = Object.freeze(['merge', 'fail'] as const);

/**
 * At most this many bad rows (1000) are kept, with their errors, in `ParsedList.skipped`; the
 * total is always counted. A file that is wrong on every line would otherwise hold one error
 * object per line.
 *
 * @example
 * ```ts
 * if (parsed.skippedCount > MAX_ROW_PROBLEMS) log(`${parsed.skippedCount - MAX_ROW_PROBLEMS} more not shown`);
 * ```
 */
export const MAX_ROW_PROBLEMS = 1000;

/**
 * Default size limit of `readListFile`: 1 GiB. (Files above about 512 MiB are refused anyway:
 * see `readListFile`.)
 *
 * @example
 * ```ts
 * await readListFile(path, { list: 'ncmec', maxBytes: DEFAULT_MAX_LIST_BYTES / 4 });
 * ```
 */
export const DEFAULT_MAX_LIST_BYTES = 1024 ** 3;

/**
 * Longest path or source name accepted: 4096 (Linux's PATH_MAX).
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * nonEmptyString(path, 'path', MAX_PATH_LENGTH);
 * ```
 */
export const MAX_PATH_LENGTH = 4096;

/**
 * Options of {@link parseList}.
 *
 * @example
 * ```ts
 * const options: ParseListOptions = { list: 'ncmec', format: 'csv', source: 'ncmec.csv', onError: 'skip' };
 * ```
 */
export interface ParseListOptions {
  /** The list every row belongs to unless the row names its own (`list` column or field). Required. */
  readonly list: string;
  /**
   * The format: one of `LIST_FORMATS`, or a read-only one of `LIST_READ_FORMATS` (`checksum`).
   * Default: detected from `source`'s extension, else sniffed from the first non-blank line.
   */
  readonly format?: ListReadFormat;
  /**
   * Algorithm of rows that do not name one: of every bare `<hex>` text line; where the hash's
   * length tells the algorithm (a CSV without an `algorithm` column, `checksum`, `te`), of the
   * hashes whose length several algorithms share (64 hex digits: pdq, blockhash, sha256), a
   * 32-digit hash being md5 and a 40-digit one sha1 whatever it says. Default: none, so rows it
   * would decide are errors. Case-insensitive.
   */
  readonly algorithm?: string;
  /** Name used in error messages (`source:line: problem`). Default `<input>`. */
  readonly source?: string;
  /** Bad-row policy. Default `fail`. */
  readonly onError?: RowErrorPolicy;
  /** Identical rows without ids (see {@link DedupePolicy}): `merge` (default) or `fail`. */
  readonly dedupe?: DedupePolicy;
}

/**
 * Options of {@link readListFile}: those of {@link parseList} (the source is the path) plus a size limit.
 *
 * @example
 * ```ts
 * const options: ReadListFileOptions = { list: 'internal', algorithm: 'md5', maxBytes: 64 * 1024 * 1024 };
 * ```
 */
export interface ReadListFileOptions extends Omit<ParseListOptions, 'source'> {
  /** Refuse files larger than this many bytes (`ERR_LIST_FORMAT`). Default 1 GiB. */
  readonly maxBytes?: number;
}

/**
 * One bad row: where it is and why (`error` is `ERR_LIST_FORMAT`, its message starting
 * `source:line:`, its `cause` the underlying error, e.g. `ERR_HASH_FORMAT`).
 *
 * @example
 * ```ts
 * for (const p of parsed.skipped) console.error(p.error.message); // "ncmec.csv:17: Expected 32 hex digits…"
 * ```
 */
export interface RowProblem {
  readonly source: string;
  /** 1-based physical line in the file where the row starts. */
  readonly line: number;
  readonly error: HashwardenError;
}

/**
 * The result of parsing a list file.
 *
 * @example
 * ```ts
 * const { entries, rows, skippedCount } = parseList(text, { list: 'demo', onError: 'skip' });
 * console.log(`${entries.length} of ${rows} rows imported, ${skippedCount} bad`);
 * ```
 */
export interface ParsedList {
  readonly format: ListReadFormat;
  /** The good rows, normalised, in file order. */
  readonly entries: readonly ListEntry[];
  /** The bad rows (only with `onError: 'skip'`), at most {@link MAX_ROW_PROBLEMS} of them. */
  readonly skipped: readonly RowProblem[];
  /** How many rows were bad in all (may exceed `skipped.length`). */
  readonly skippedCount: number;
  /** Rows dropped as repeats of an identical earlier row without an id (dedupe `merge`). */
  readonly merged: number;
  /**
   * Rows that are no entry: python-threatexchange's `NEGATIVE_CLASS` rows (a `category` column or
   * field saying the signal is known not to be of the class), counted and left out.
   */
  readonly ignored: number;
  /**
   * PDQ entries whose metadata gives a `quality` below 50 (`PDQ_MIN_QUALITY`): imported as sent, but
   * counted (the CLI warns), since matching on such hashes is where false positives come from.
   */
  readonly lowQuality: number;
  /** Data rows seen: `entries.length + merged + ignored + skippedCount` (headers, blank lines and comments excluded). */
  readonly rows: number;
}

/**
 * {@link ParseListOptions} checked, with their defaults filled in (`format` stays undefined when
 * it is to be detected).
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * const resolved: ResolvedParseOptions = resolveParseOptions(options, path);
 * ```
 */
export interface ResolvedParseOptions {
  readonly list: string;
  readonly format: ListReadFormat | undefined;
  readonly algorithm: string | undefined;
  readonly source: string;
  readonly onError: RowErrorPolicy;
  readonly dedupe: DedupePolicy;
}

/**
 * Checks parse options (`TypeError` / `RangeError` in the standard message shape) and fills in
 * the defaults; `source`, when given, overrides `options.source` (the reader passes its path).
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * resolveParseOptions({ list: 'demo', algorithm: 'MD5' }, 'in.txt'); // { list: 'demo', algorithm: 'md5', source: 'in.txt', onError: 'fail', … }
 * ```
 */
export function resolveParseOptions(
  options: ParseListOptions | undefined,
  source: string | undefined,
): ResolvedParseOptions {
  const o = optionsObject(options, 'options');
  const list = nonEmptyString(o.list, 'list', MAX_FIELD_LENGTH);
  // A blank default list would only surface later, as "Missing list" on every row.
  if (list.trim() === '') invalid(`non-empty string of at most ${MAX_FIELD_LENGTH} characters`, 'list', list, true);
  let algorithm: string | undefined;
  if (o.algorithm !== undefined) {
    const expected = `one of ${ALGORITHM_NAMES.join(', ')}`;
    if (typeof o.algorithm !== 'string') invalid(expected, 'algorithm', o.algorithm);
    algorithm = o.algorithm.trim().toLowerCase();
    if (!isAlgorithmName(algorithm)) invalid(expected, 'algorithm', o.algorithm, true);
  }
  const src = source ?? o.source;
  return Object.freeze({
    list,
    format: o.format === undefined ? undefined : oneOf(o.format, LIST_READ_FORMATS, 'format'),
    algorithm,
    source: src === undefined ? '<input>' : nonEmptyString(src, 'source', MAX_PATH_LENGTH),
    onError: o.onError === undefined ? 'fail' : oneOf(o.onError, ['fail', 'skip'] as const, 'onError'),
    dedupe: resolveDedupe(o.dedupe),
  });
}

/**
 * A `dedupe` option checked (`RangeError` in the standard shape), `merge` when absent.
 *
 * @internal Shared with the store's imports.
 * @example
 * ```ts
 * resolveDedupe(undefined); // 'merge'
 * ```
 */
export function resolveDedupe(value: unknown): DedupePolicy {
  return value === undefined ? 'merge' : oneOf(value, DEDUPE_POLICIES, 'dedupe');
}

/**
 * `text` without a leading byte-order mark.
 *
 * @internal Shared with `parse.ts`.
 * @example
 * ```ts
 * stripBom('\ufeffmd5 0cc1…'); // 'md5 0cc1…'
 * ```
 */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * The longest line (or CSV record) a list reader accepts (`streamListFile`, and `readListFile` and
 * `parseList`, which hold the file whole but still refuse such a line): 16 MiB. A list row is an id, a hash
 * and some metadata, far below this; a longer one means the file is not a list (or has CR-only line
 * ends), and holding it whole (or handing it to JSON.parse) is what a reader must not do.
 *
 * @example
 * ```ts
 * if (line.length > MAX_LIST_LINE_BYTES) skip();
 * ```
 */
export const MAX_LIST_LINE_BYTES = 16 * 1024 * 1024;
