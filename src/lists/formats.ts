/**
 * Hash-list files in three formats: CSV with a header row, NDJSON, and plain text with one
 * `<algorithm> <hex>` per line (the python-threatexchange `<signal type> <hash>` style). Parsing
 * normalises every row through `normalizeEntry` and reports each bad row by file and physical
 * line, so a moderator can fix the file; `formatList` writes the same formats back. The row-level
 * machinery (options, the `op` column, the CSV line tracking, the text and NDJSON line parsers)
 * is shared with the streaming reader in `stream.ts`, so both read a file the same way.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { constants as bufferConstants, isUtf8 } from 'node:buffer';
import { createWriteStream } from 'node:fs';
import { chmod, readFile, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, extname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { createRequire } from 'node:module';
import { ALGORITHM_NAMES, isAlgorithmName } from '../algorithms/registry.js';
import { HashwardenError, isHashwardenError } from '../errors.js';
import { integerInRange, invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { MAX_FIELD_LENGTH, normalEntry, normalizeEntry, rowError, type ListEntry, type ListEntryInput } from './entry.js';

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
  /** The format. Default: detected from `source`'s extension, else sniffed from the first non-blank line. */
  readonly format?: ListFormat;
  /**
   * Algorithm of rows that do not name one (CSV without an `algorithm` column, bare `<hex>` text
   * lines). Default: none, so such rows are errors. Case-insensitive.
   */
  readonly algorithm?: string;
  /** Name used in error messages (`source:line: problem`). Default `<input>`. */
  readonly source?: string;
  /** Bad-row policy. Default `fail`. */
  readonly onError?: RowErrorPolicy;
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
  readonly format: ListFormat;
  /** The good rows, normalised, in file order. */
  readonly entries: readonly ListEntry[];
  /** The bad rows (only with `onError: 'skip'`), at most {@link MAX_ROW_PROBLEMS} of them. */
  readonly skipped: readonly RowProblem[];
  /** How many rows were bad in all (may exceed `skipped.length`). */
  readonly skippedCount: number;
  /** Data rows seen: `entries.length + skippedCount` (headers, blank lines and comments excluded). */
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
  readonly format: ListFormat | undefined;
  readonly algorithm: string | undefined;
  readonly source: string;
  readonly onError: RowErrorPolicy;
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
export function resolveParseOptions(options: ParseListOptions | undefined, source: string | undefined): ResolvedParseOptions {
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
    format: o.format === undefined ? undefined : oneOf(o.format, LIST_FORMATS, 'format'),
    algorithm,
    source: src === undefined ? '<input>' : nonEmptyString(src, 'source', MAX_PATH_LENGTH),
    onError: o.onError === undefined ? 'fail' : oneOf(o.onError, ['fail', 'skip'] as const, 'onError'),
  });
}

/**
 * `ERR_LIST_FORMAT` with `message`.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * throw listError(`${path}: not a list`);
 * ```
 */
export function listError(message: string): HashwardenError {
  return new HashwardenError('ERR_LIST_FORMAT', message);
}

/**
 * A failure to read a list file (missing, a directory, no permission) as `ERR_INPUT_READ`.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * throw readError(path, error);
 * ```
 */
export function readError(path: string, error: unknown): HashwardenError {
  return new HashwardenError('ERR_INPUT_READ', `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
}

/**
 * `bytes` without a leading UTF-8 byte-order mark.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * const body = stripBomBytes(await readFile(path));
 * ```
 */
export function stripBomBytes(bytes: Buffer): Buffer {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * What a row asks for: `add` (the default) or `remove` (delta files only).
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * const op: RowOp = rowOp(' Delete '); // 'remove'
 * ```
 */
export type RowOp = 'add' | 'remove';

/**
 * A row as a format parser reads it, before normalisation: the entry's fields plus the raw `op`
 * value (a CSV cell, an NDJSON field of any type, absent for text lines).
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * const row: RawRow = { list: 'demo', algorithm: 'md5', hash: '0cc1…', op: 'remove' };
 * ```
 */
export interface RawRow extends ListEntryInput {
  readonly op?: unknown;
}

/** JSON text of a value for a message, cut short: a cell can hold anything. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * The op of a row: `add` or `remove`, case-insensitive and trimmed, `delete` read as `remove`;
 * empty or absent means `add`. Anything else is a bad row (`ERR_LIST_FORMAT`).
 *
 * @example
 * ```ts
 * rowOp(undefined); // 'add'
 * rowOp('REMOVE');  // 'remove'
 * rowOp('x');       // throws: Expected add or remove for op but received "x"
 * ```
 */
function rowOp(value: unknown): RowOp {
  if (!present(value)) return 'add';
  if (typeof value === 'string') {
    const op = value.trim().toLowerCase();
    if (op === 'add') return 'add';
    if (op === 'remove' || op === 'delete') return 'remove';
  }
  throw listError(`Expected add or remove for op but received ${shown(value)}`);
}

// A stand-in hash for a remove row that has only an id, see `removalKey`.
const PLACEHOLDER_MD5 = new Uint8Array(16);

/**
 * The (list, id) a remove row removes. The id is the row's own, or, when it has none, the one
 * `normalizeEntry` gives the entry it would add (`<algorithm>:<hash>`), so a removal by hash finds
 * exactly what an add of the same line stored. A row with neither id nor hash is a bad row.
 * Label and metadata of a remove row are ignored.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * removalKey({ list: 'demo', algorithm: 'MD5', hash: '0CC1…' }); // { list: 'demo', id: 'md5:0cc1…' }
 * ```
 */
export function removalKey(row: RawRow): { readonly list: string; readonly id: string } {
  const hasHash = present(row.hash);
  if (!hasHash && !present(row.id)) throw listError('A remove row needs an id or a hash');
  // Both branches go through normalizeEntry so list, id (and hash) are checked, and the default id
  // built, by the one piece of code that does it for adds; without a hash, a valid stand-in lets it
  // check the list and id alone.
  const { list, id } = normalizeEntry(
    hasHash ? { id: row.id, list: row.list, algorithm: row.algorithm, hash: row.hash } : { id: row.id, list: row.list, algorithm: 'md5', hash: PLACEHOLDER_MD5 },
  );
  return { list, id };
}

/**
 * Collects rows: reads each row's op, hands the row to `take` and keeps the problems. Only
 * `HashwardenError`s count as bad rows; anything else is a bug here and propagates. `parseList`
 * uses a sink that keeps every entry and catches duplicates, the streaming reader one that keeps a
 * batch at a time.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * class CountingSink extends RowSink {
 *   adds = 0;
 *   protected take(_line: number, op: RowOp, row: RawRow): void { normalizeEntry(row); if (op === 'add') this.adds++; }
 * }
 * ```
 */
export abstract class RowSink {
  /** The bad rows kept: at most {@link MAX_ROW_PROBLEMS} over the sink's life (a reader may drain this). */
  readonly problems: RowProblem[] = [];
  /** Bad rows in all. */
  problemCount = 0;
  /** Data rows seen, good and bad. */
  rows = 0;
  #kept = 0;

  constructor(readonly options: ResolvedParseOptions) {}

  add(line: number, build: () => RawRow): void {
    this.rows++;
    try {
      const row = build();
      this.take(line, rowOp(row.op), row);
    } catch (error) {
      if (!isHashwardenError(error)) throw error;
      this.rejected(this.#problem(line, error));
    }
  }

  /** Normalises and keeps one row; throws a `HashwardenError` for a bad one. */
  protected abstract take(line: number, op: RowOp, row: RawRow): void;

  /** Called for each bad row once it is counted; may throw to stop at it. */
  protected rejected(_problem: RowProblem): void {}

  #problem(line: number, error: HashwardenError): RowProblem {
    const problem: RowProblem = Object.freeze({ source: this.options.source, line, error: rowError(error, this.options.source, line) });
    this.problemCount++;
    if (this.#kept < MAX_ROW_PROBLEMS) {
      this.#kept++;
      this.problems.push(problem);
    }
    return problem;
  }

  /**
   * A problem after which the rest of the input cannot be split into rows (a CSV quote error, a
   * bad header): importing the rows before it would be a silent half-import, so it always throws.
   */
  fatal(line: number, error: HashwardenError): never {
    const others = this.problemCount;
    const problem = this.#problem(line, error);
    const more = others > 0 ? ` (and ${plural(others, 'more bad row')} before it)` : '';
    throw new HashwardenError('ERR_LIST_FORMAT', `${problem.error.message}; the rest of the file was not read${more}`, { cause: problem.error });
  }
}

/** `parseList`'s sink: every entry, in file order, with duplicates caught. */
class ListSink extends RowSink {
  readonly entries: ListEntry[] = [];
  // `list \0 id` → first line, so a duplicate can name where the original is.
  readonly #seen = new Map<string, number>();

  protected take(line: number, op: RowOp, row: RawRow): void {
    // A ParsedList is a whole list; a removal only means something against a stored one.
    if (op === 'remove') throw listError('op remove is only for delta imports (hashwarden import, streamListFile)');
    const entry = normalEntry(row);
    const key = `${entry.list}\u0000${entry.id}`;
    const first = this.#seen.get(key);
    if (first !== undefined) {
      throw listError(`Duplicate id ${JSON.stringify(entry.id)} in list ${JSON.stringify(entry.list)}, first on line ${first}`);
    }
    this.#seen.set(key, line);
    this.entries.push(entry);
  }

  finish(format: ListFormat): ParsedList {
    const first = this.problems[0];
    if (first !== undefined && this.options.onError === 'fail') {
      const more = this.problemCount - 1;
      const suffix = more > 0 ? ` (and ${plural(more, 'more bad row')})` : '';
      throw new HashwardenError('ERR_LIST_FORMAT', `${first.error.message}${suffix}`, { cause: first.error });
    }
    return Object.freeze({
      format,
      entries: this.entries,
      skipped: Object.freeze(this.problems),
      skippedCount: this.problemCount,
      rows: this.rows,
    });
  }
}

/**
 * Calls `fn(lineNumber, line)` for every physical line, without building an array of lines;
 * `firstLine` is the number of the text's first line (a reader parses a file a run of lines at a
 * time). Returns the number the line after the text would have.
 */
function forEachLine(text: string, fn: (line: number, content: string) => void, firstLine = 1): number {
  let start = 0;
  let line = firstLine;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    fn(line, text.slice(start, stop));
    start = end + 1;
    line++;
  }
  return line;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Non-empty trimmed text, or undefined. */
function cell(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  return text === '' ? undefined : text;
}

// Aliases of the algorithm column, in precedence order: when several are present the first is the
// algorithm and the others are kept as metadata.
const ALGORITHM_KEYS = ['algorithm', 'signal_type', 'type'] as const;
// `op` is read, not kept: as metadata it would say "remove" on an entry that was added.
const ENTRY_KEYS = new Set<string>(['id', 'list', 'label', 'hash', 'op']);

// python-threatexchange calls the MD5 of a photo `photo_md5`. A test rather than a lower-cased
// lookup: this runs for every row, and most rows name no alias.
const PHOTO_MD5 = /^\s*photo_md5\s*$/i;

/** The algorithm named by a row, with `photo_md5` read as `md5`. */
function algorithmName<T>(value: T): T | string {
  return typeof value === 'string' && PHOTO_MD5.test(value) ? 'md5' : value;
}

// ---------------------------------------------------------------------------------------------
// CSV

interface CsvHeader {
  readonly width: number;
  readonly hash: number;
  readonly algorithm: number;
  readonly id: number;
  readonly list: number;
  readonly label: number;
  readonly op: number;
  readonly metadata: readonly (readonly [index: number, key: string])[];
}

function readCsvHeader(record: readonly string[], options: ResolvedParseOptions): CsvHeader {
  const names = record.map((name) => name.trim());
  // Only a file with old-Mac CR line ends gets here: read as one header line, it would import nothing.
  if (names.some((name) => /[\r\n]/.test(name))) throw listError('CSV header contains a line break; line ends must be LF or CRLF');
  const lower = names.map((name) => name.toLowerCase());
  const seen = new Set<string>();
  for (const name of lower) {
    if (name === '') continue;
    if (seen.has(name)) throw listError(`CSV header names the column ${JSON.stringify(name)} twice`);
    seen.add(name);
  }
  // A file that is not CSV at all can have a "header" of any length: show only its start.
  const shown = names.slice(0, 10).join(', ');
  const found = ` (columns: ${shown.length > 200 ? `${shown.slice(0, 197)}...` : shown}${names.length > 10 ? ', ...' : ''})`;
  const hash = lower.indexOf('hash');
  if (hash < 0) throw listError(`CSV header has no "hash" column${found}`);
  const algorithmKey = ALGORITHM_KEYS.find((key) => lower.includes(key));
  const algorithm = algorithmKey === undefined ? -1 : lower.indexOf(algorithmKey);
  if (algorithm < 0 && options.algorithm === undefined) {
    throw listError(`CSV header has no "algorithm" (or "signal_type", "type") column and no algorithm option was given${found}`);
  }
  const special = new Set([hash, algorithm, lower.indexOf('id'), lower.indexOf('list'), lower.indexOf('label'), lower.indexOf('op')]);
  const metadata: (readonly [number, string])[] = [];
  for (let i = 0; i < names.length; i++) {
    // An unnamed column (a trailing comma in the header) still keeps its values, under a made-up name.
    if (!special.has(i)) metadata.push([i, names[i] || `column${i + 1}`]);
  }
  return {
    width: record.length,
    hash,
    algorithm,
    id: lower.indexOf('id'),
    list: lower.indexOf('list'),
    label: lower.indexOf('label'),
    op: lower.indexOf('op'),
    metadata,
  };
}

function csvRow(record: readonly string[], header: CsvHeader, options: ResolvedParseOptions): RawRow {
  if (record.length !== header.width) {
    throw listError(`Expected ${plural(header.width, 'field')} as in the header but found ${record.length}`);
  }
  const at = (index: number): string | undefined => (index < 0 ? undefined : cell(record[index]));
  const metadata: [string, string][] = [];
  for (const [index, key] of header.metadata) {
    const value = at(index);
    if (value !== undefined) metadata.push([key, value]);
  }
  return {
    id: at(header.id),
    list: at(header.list) ?? options.list,
    algorithm: algorithmName(at(header.algorithm)) ?? options.algorithm ?? '',
    hash: at(header.hash) ?? '',
    label: at(header.label),
    op: at(header.op),
    // fromEntries, not assignment: a column called `__proto__` must stay a plain key.
    metadata: metadata.length > 0 ? Object.fromEntries(metadata) : undefined,
  };
}

type CsvParse = typeof import('csv-parse/sync');
let csvParse: CsvParse | undefined;

/**
 * csv-parse, loaded on first use through `require` (sync, and about half the cost of `import`):
 * loading it costs about 8 ms, which a process that opens a snapshot and never reads a CSV file
 * should not pay at start-up.
 */
function csv(): CsvParse {
  csvParse ??= createRequire(import.meta.url)('csv-parse/sync') as CsvParse;
  return csvParse;
}

/**
 * Turns csv-parse records into rows of a sink: the first record is the header, rows of empty cells
 * are blank lines, and each record is reported at the physical line where it starts. csv-parse
 * counts a CR inside a quoted field as a line of its own, so lines are worked out here from the
 * byte offset where each record ends (`info.bytes`), which it reports exactly, counting line feeds
 * in the bytes it was given. Those are handed over with {@link CsvRecords.append} as they go to
 * csv-parse (all at once, or a chunk at a time), and only bytes from the current record on are kept.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * const records = new CsvRecords(sink);
 * records.append(bytes);
 * parse(bytes, { ...records.parserOptions(), on_record: (record, info) => records.record(record, info.bytes) });
 * ```
 */
export class CsvRecords {
  #header: CsvHeader | undefined;
  // The bytes given and not yet passed by the line cursor, in order; #base is the offset of the first.
  readonly #window: Uint8Array[] = [];
  #base = 0;
  #cursor = 0;
  #line = 1;
  #recordEnd = 0;

  constructor(readonly sink: RowSink) {}

  /** The next bytes csv-parse is given (after any BOM), so lines can be counted in them. */
  append(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#window.push(bytes);
  }

  /**
   * csv-parse options: RFC 4180 with LF or CRLF line ends, ragged rows left to the row check,
   * blank lines skipped, records up to `maxRecordSize` characters (0: no limit).
   */
  parserOptions(maxRecordSize = 0) {
    return {
      bom: false,
      record_delimiter: ['\r\n', '\n'],
      relax_column_count: true,
      skip_empty_lines: true,
      max_record_size: maxRecordSize,
    };
  }

  /**
   * A csv-parse error (a broken quote, a record too long) as the fatal problem of the record where
   * it happened; csv-parse's own message counts lines its way, so the line reported is ours.
   */
  syntaxError(error: Error & { readonly code?: unknown }): never {
    const message = error.message.replace(/ at line \d+/, '');
    this.sink.fatal(this.#startLine(), new HashwardenError('ERR_LIST_FORMAT', `CSV syntax error (${String(error.code)}): ${message}`, { cause: error }));
  }

  /**
   * Passes one record to the sink; `end` is csv-parse's `info.bytes` as the record is emitted (the
   * offset just after it). Returns null, for csv-parse's `on_record` to keep nothing.
   */
  record(record: readonly string[], end: number): null {
    const line = this.#startLine();
    this.#recordEnd = end;
    this.#take(record, line);
    return null;
  }

  /**
   * Passes the records of a run of whole lines that holds no quote character, split at commas and
   * line ends here instead of by csv-parse: without quotes RFC 4180 is just that, and csv-parse's
   * generality was a third of an import's time. `firstLine` is the run's first line. Only for runs
   * before csv-parse has been given anything (stream.ts takes every run after the first quote to
   * csv-parse, which may then be inside a quoted field at a run's end); the records, blank lines
   * and lines reported are csv-parse's.
   */
  plainLines(text: string, firstLine: number): void {
    this.#line = forEachLine(text, (line, content) => {
      // csv-parse skips empty lines (skip_empty_lines).
      if (content !== '') this.#take(content.split(','), line);
    }, firstLine);
  }

  /** One record that starts on `line`: the header, or a row for the sink. */
  #take(record: readonly string[], line: number): void {
    if (this.#header === undefined) {
      try {
        this.#header = readCsvHeader(record, this.sink.options);
      } catch (error) {
        if (isHashwardenError(error)) this.sink.fatal(line, error);
        throw error;
      }
    } else if (!record.every((field) => field.trim() === '')) {
      // Rows of empty cells (",,,") are what spreadsheets write for blank lines: not data.
      const header = this.#header;
      this.sink.add(line, () => csvRow(record, header, this.sink.options));
    }
  }

  /**
   * The line where the next record starts: after the previous one and any blank lines csv-parse
   * skipped. Moves the cursor there, counting line feeds, and drops the bytes it passed.
   */
  #startLine(): number {
    for (;;) {
      const bytes = this.#window[0];
      if (bytes === undefined) return this.#line;
      let i = this.#cursor - this.#base;
      const stop = Math.min(this.#recordEnd - this.#base, bytes.length);
      for (; i < stop; i++) if (bytes[i] === 10) this.#line++;
      for (; i < bytes.length && (bytes[i] === 10 || bytes[i] === 13); i++) if (bytes[i] === 10) this.#line++;
      this.#cursor = this.#base + i;
      if (i < bytes.length) return this.#line;
      this.#window.shift();
      this.#base += bytes.length;
    }
  }
}

function parseCsvRows(bytes: Uint8Array, sink: RowSink): void {
  const { parse: parseCsv, CsvError } = csv();
  const records = new CsvRecords(sink);
  records.append(bytes);
  try {
    parseCsv(bytes, { ...records.parserOptions(), on_record: (record: string[], info) => records.record(record, info.bytes) });
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    records.syntaxError(error);
  }
}

// ---------------------------------------------------------------------------------------------
// NDJSON and text

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');
}

function objectRow(object: Record<string, unknown>, options: ResolvedParseOptions): RawRow {
  const algorithmKey = ALGORITHM_KEYS.find((key) => Object.hasOwn(object, key));
  const extra: [string, unknown][] = [];
  for (const [key, value] of Object.entries(object)) {
    if (key !== algorithmKey && key !== 'metadata' && !ENTRY_KEYS.has(key)) extra.push([key, value]);
  }
  let metadata: Record<string, unknown> | undefined = extra.length > 0 ? Object.fromEntries(extra) : undefined;
  const nested = object.metadata;
  if (nested !== undefined && nested !== null) {
    if (typeof nested !== 'object' || Array.isArray(nested)) throw listError(`Expected an object for metadata but found ${jsonType(nested)}`);
    metadata = { ...metadata, ...(nested as Record<string, unknown>) };
  }
  const algorithm = algorithmName(algorithmKey === undefined ? undefined : object[algorithmKey]);
  // normalizeEntry checks the types; the casts only say what it will accept.
  return {
    id: object.id as string | undefined,
    list: (present(object.list) ? object.list : options.list) as string,
    algorithm: (present(algorithm) ? algorithm : (options.algorithm ?? '')) as string,
    hash: object.hash as string,
    label: object.label as string | undefined,
    metadata,
    op: object.op,
  };
}

/**
 * Parses NDJSON lines into a sink; `firstLine` is the line number of the text's first line.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * parseNdjsonRows(bytes.toString('utf8'), sink, 1001);
 * ```
 */
export function parseNdjsonRows(text: string, sink: RowSink, firstLine = 1): void {
  forEachLine(text, (line, content) => {
    const json = content.trim();
    if (json === '') return;
    sink.add(line, () => {
      let value: unknown;
      try {
        value = JSON.parse(json);
      } catch (error) {
        throw listError(`Invalid JSON: ${(error as Error).message}`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw listError(`Expected a JSON object but found ${jsonType(value)}`);
      }
      return objectRow(value as Record<string, unknown>, sink.options);
    });
  }, firstLine);
}

/**
 * Parses text lines (`<algorithm> <hex>`, bare `<hex>` with the algorithm option, `#` comments)
 * into a sink; `firstLine` is the line number of the text's first line.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * parseTextRows('pdq 7a1b…\nphoto_md5 0cc1…\n', sink);
 * ```
 */
export function parseTextRows(text: string, sink: RowSink, firstLine = 1): void {
  const { list, algorithm } = sink.options;
  forEachLine(text, (line, content) => {
    const trimmed = content.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    sink.add(line, () => {
      const fields = trimmed.split(/\s+/);
      if (fields.length > 2) throw listError(`Expected "<algorithm> <hash>" but found ${fields.length} fields`);
      const [first = '', second] = fields;
      if (second !== undefined) return { list, algorithm: algorithmName(first), hash: second };
      if (algorithm === undefined) throw listError('Missing algorithm: expected "<algorithm> <hash>" (or give the algorithm option)');
      return { list, algorithm, hash: first };
    });
  }, firstLine);
}

// ---------------------------------------------------------------------------------------------
// Detection, parsing, reading

/** The first line that is not blank, found without splitting the whole text. */
function firstContentLine(text: string): string | undefined {
  let found: string | undefined;
  let start = 0;
  while (found === undefined && start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    if (line !== '') found = line;
    start = end + 1;
  }
  return found;
}

/**
 * The format of a list file: by extension (`.csv`; `.ndjson`, `.jsonl`, `.json-lines`; `.txt`),
 * otherwise sniffed from the first non-blank line of `head`: `{` means NDJSON, `#` text (only the
 * text format has comments), a line with a comma and the word `hash` (or just `hash`) a CSV
 * header, anything else text. Default `text` when there is nothing to sniff.
 *
 * @example
 * ```ts
 * detectListFormat('hashes.jsonl');                  // 'ndjson'
 * detectListFormat('export.dat', 'id,hash,type\n…'); // 'csv'
 * detectListFormat('list', 'md5 d41d8cd98f00b204e9800998ecf8427e'); // 'text'
 * ```
 */
export function detectListFormat(path: string, head?: string): ListFormat {
  if (typeof path !== 'string') invalid('string', 'path', path);
  if (head !== undefined && typeof head !== 'string') invalid('string', 'head', head);
  switch (extname(path).toLowerCase()) {
    case '.csv':
      return 'csv';
    case '.ndjson':
    case '.jsonl':
    case '.json-lines':
      return 'ndjson';
    case '.txt':
      return 'text';
  }
  const line = head === undefined ? undefined : firstContentLine(stripBom(head));
  if (line === undefined || line.startsWith('#')) return 'text';
  if (line.startsWith('{')) return 'ndjson';
  if ((line.includes(',') && /\bhash\b/i.test(line)) || /^"?hash"?$/i.test(line)) return 'csv';
  return 'text';
}

function parseResolved(text: string, bytes: Uint8Array | undefined, options: ResolvedParseOptions): ParsedList {
  const body = stripBom(text);
  const format = options.format ?? detectListFormat(options.source, body);
  const sink = new ListSink(options);
  switch (format) {
    case 'csv':
      parseCsvRows(bytes ?? Buffer.from(body, 'utf8'), sink);
      break;
    case 'ndjson':
      parseNdjsonRows(body, sink);
      break;
    case 'text':
      parseTextRows(body, sink);
      break;
  }
  return sink.finish(format);
}

/**
 * Parses a hash list held in memory. Every row is normalised (`normalizeEntry`); a bad row is an
 * `ERR_LIST_FORMAT` `HashwardenError` whose message starts `source:line:` (1-based physical line).
 * With `onError: 'fail'` (default) the whole input is read, then the first bad row throws, its
 * message saying how many more there were; with `'skip'` the good entries come back with the bad
 * rows in `skipped`. A CSV syntax error (a broken quote) or an unusable CSV header always throws,
 * since the rows after it cannot be found reliably.
 *
 * - CSV: header row required; columns `hash`, `algorithm` (or `signal_type`, `type`), `id`,
 *   `list`, `label`, `op`, matched trimmed and case-insensitively; other columns become string
 *   metadata (cells trimmed, empty cells omitted). Rows of empty cells are skipped as blank.
 * - NDJSON: one object a line with the same field names (case-sensitive); other fields, and the
 *   fields of a `metadata` object, become metadata.
 * - Text: `<algorithm> <hex>` (python-threatexchange's `<signal type> <hash>`, e.g. `pdq <hex>`)
 *   or, with the `algorithm` option, bare `<hex>`; `#` comments.
 *
 * In every format the algorithm may be given as `photo_md5` (python-threatexchange's name),
 * read as `md5`. The `op` column or field (`add`, `remove` or `delete`, any case; empty means
 * `add`) is never kept as metadata: a ParsedList only adds, so a `remove` row is a bad row here
 * (import it as a delta, with `streamListFile`), and any other value is one too.
 *
 * Blank lines are ignored and a BOM and CRLF line ends are accepted in every format. A repeated
 * id in the same list (including identical lines without ids) is a bad row, naming the first line.
 * Argument errors throw `TypeError` / `RangeError`.
 *
 * @example
 * ```ts
 * const { entries } = parseList('md5 d41d8cd98f00b204e9800998ecf8427e\n', { list: 'demo', format: 'text' });
 * // [{ id: 'md5:d41d8cd98f00b204e9800998ecf8427e', list: 'demo', algorithm: 'md5', hash: 'd41d8…' }]
 * ```
 */
export function parseList(text: string, options: ParseListOptions): ParsedList {
  if (typeof text !== 'string') invalid('string', 'text', text);
  return parseResolved(text, undefined, resolveParseOptions(options, undefined));
}

/**
 * The 1-based line of the first invalid UTF-8 sequence (none can span a line feed), for bytes
 * already known to hold one.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * if (!isUtf8(bytes)) throw new HashwardenError('ERR_LIST_FORMAT', `${path}:${firstBadUtf8Line(bytes)}: not valid UTF-8 text`);
 * ```
 */
export function firstBadUtf8Line(bytes: Uint8Array): number {
  let start = 0;
  let line = 1;
  while (start < bytes.length) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    if (!isUtf8(bytes.subarray(start, end))) return line;
    start = end + 1;
    line++;
  }
  return line;
}

/**
 * Reads and parses a list file (see {@link parseList}); `source` in messages is `path`. The format
 * defaults to the one {@link detectListFormat} finds from the path and the first line.
 *
 * Rejects with `ERR_INPUT_READ` when the file cannot be read (missing, a directory, no
 * permission) and with `ERR_LIST_FORMAT` when it is larger than `maxBytes` (default 1 GiB) or
 * than the longest string this runtime can hold (about 512 MiB on 64-bit Node), or is not valid
 * UTF-8, or has bad rows under the `fail` policy.
 *
 * @example
 * ```ts
 * const { entries, skippedCount } = await readListFile('ncmec.csv', { list: 'ncmec', onError: 'skip' });
 * ```
 */
export async function readListFile(path: string, options: ReadListFileOptions): Promise<ParsedList> {
  nonEmptyString(path, 'path', MAX_PATH_LENGTH);
  const o = optionsObject(options, 'options');
  const maxBytes = o.maxBytes === undefined ? DEFAULT_MAX_LIST_BYTES : integerInRange(o.maxBytes, 1, Number.MAX_SAFE_INTEGER, 'maxBytes');
  const resolved = resolveParseOptions(options, path);
  const tooLarge = (size: number): HashwardenError | undefined => {
    if (size > maxBytes) return listError(`${path} has ${size} bytes, above the limit of ${maxBytes}`);
    // Parsing needs the text as one string; beyond V8's limit the decode itself would fail.
    if (size > bufferConstants.MAX_STRING_LENGTH) {
      return listError(`${path} has ${size} bytes, more than the ${bufferConstants.MAX_STRING_LENGTH} this runtime can parse at once; split the list`);
    }
    return undefined;
  };
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    const error = tooLarge(info.size);
    if (error) throw error;
    bytes = await readFile(path);
  } catch (error) {
    if (isHashwardenError(error)) throw error;
    throw readError(path, error);
  }
  // The file may have grown between stat and read.
  const error = tooLarge(bytes.length);
  if (error) throw error;
  const body = stripBomBytes(bytes);
  if (!isUtf8(body)) throw listError(`${path}:${firstBadUtf8Line(body)}: not valid UTF-8 text`);
  return parseResolved(body.toString('utf8'), body, resolved);
}

// ---------------------------------------------------------------------------------------------
// Writing

const CSV_COLUMNS = ['id', 'list', 'algorithm', 'hash', 'label'] as const;

/** RFC 4180: quote a field holding a comma, quote, CR or LF, doubling its quotes. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function metadataText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The columns of a CSV list: the fixed ones, then one per metadata key in first-seen order. A key
 * the parser would read back as something else (`hash`, `Label`, ` x`, `op`…) cannot be a column.
 */
class CsvColumns {
  readonly keys: string[] = [];
  // `type` and `signal_type` are free: with an `algorithm` column present they read back as metadata.
  // `op` is no column formatList writes, but the parser would read it as one.
  readonly #lower = new Set<string>([...CSV_COLUMNS, 'op']);
  readonly #seen = new Set<string>();

  add(entry: ListEntry): void {
    for (const key of Object.keys(entry.metadata ?? {})) {
      if (this.#seen.has(key)) continue;
      // The parser trims header names and matches them case-insensitively.
      if (key.trim() !== key || key === '' || this.#lower.has(key.toLowerCase())) {
        throw listError(`Metadata key ${JSON.stringify(key)} cannot be written as a CSV column`);
      }
      this.#seen.add(key);
      this.#lower.add(key.toLowerCase());
      this.keys.push(key);
    }
  }

  header(): string {
    return `${[...CSV_COLUMNS, ...this.keys].map(csvField).join(',')}\n`;
  }

  line(entry: ListEntry): string {
    const row = [entry.id, entry.list, entry.algorithm, entry.hash, entry.label ?? ''];
    for (const key of this.keys) row.push(metadataText(entry.metadata?.[key]));
    return `${row.map(csvField).join(',')}\n`;
  }
}

/** One entry as a line of `format` (CSV lines need their columns). */
function formatLine(entry: ListEntry, format: ListFormat, columns: CsvColumns): string {
  switch (format) {
    case 'csv':
      return columns.line(entry);
    case 'ndjson':
      return `${JSON.stringify({ id: entry.id, list: entry.list, algorithm: entry.algorithm, hash: entry.hash, label: entry.label, metadata: entry.metadata })}\n`;
    case 'text':
      return `${entry.algorithm} ${entry.hash}\n`;
  }
}

/** `normalEntry` (entries from a store are normal already: checked, not rebuilt), its errors prefixed `Entry n:`. */
function normalizedAt(entry: ListEntry, index: number): ListEntry {
  try {
    return normalEntry(entry);
  } catch (error) {
    if (!isHashwardenError(error)) throw error;
    throw new HashwardenError(error.code, `Entry ${index}: ${error.message}`, { cause: error });
  }
}

/**
 * Writes entries as a list file. CSV has the header `id,list,algorithm,hash,label` then one column
 * per metadata key (in first-seen order; values that are not strings are written as JSON); NDJSON
 * writes `{ id, list, algorithm, hash, label?, metadata? }`; text writes `<algorithm> <hash>`
 * only, so ids, lists, labels and metadata are lost. Lines end with LF.
 *
 * `parseList` reads the output back to the same entries, with what each format cannot carry
 * excepted: text keeps only algorithm and hash, and CSV metadata comes back as trimmed non-empty
 * strings. Entries are validated with `normalizeEntry` first; a bad one, or a metadata key that
 * cannot be a CSV column (`hash`, `Label`, `op`, ` x`…), throws a `HashwardenError`.
 *
 * @example
 * ```ts
 * await writeFile('export.csv', formatList(parsed.entries, 'csv'));
 * ```
 */
export function formatList(entries: Iterable<ListEntry>, format: ListFormat): string {
  if (entries === null || typeof entries !== 'object' || typeof (entries as Iterable<ListEntry>)[Symbol.iterator] !== 'function') {
    invalid('iterable of list entries', 'entries', entries);
  }
  oneOf(format, LIST_FORMATS, 'format');
  const normalised: ListEntry[] = [];
  let index = 0;
  for (const entry of entries) normalised.push(normalizedAt(entry, ++index));
  const columns = new CsvColumns();
  if (format === 'csv') for (const entry of normalised) columns.add(entry);
  let out = format === 'csv' ? columns.header() : '';
  for (const entry of normalised) out += formatLine(entry, format, columns);
  return out;
}

/**
 * Writes entries to a list file as they come, without holding them, in the layout of
 * {@link formatList}: `entries()` is called once, or twice for CSV (a first pass finds the
 * metadata columns), and must give the same entries each time. The file is written aside and
 * renamed, so a failed write leaves any previous file whole. `options.mode`: the file's permission
 * bits, set whatever the umask (default `0o600`, owner only). Resolves to the number of entries.
 *
 * @example
 * ```ts
 * await writeListFile('ncmec.csv', () => store.entries({ list: 'ncmec' }), 'csv');
 * ```
 */
export async function writeListFile(path: string, entries: () => Iterable<ListEntry>, format: ListFormat, options?: { readonly mode?: number }): Promise<number> {
  nonEmptyString(path, 'path', MAX_PATH_LENGTH);
  const mode = optionsObject(options, 'options').mode ?? 0o600;
  integerInRange(mode, 0, 0o777, 'options.mode');
  if (typeof entries !== 'function') invalid('function returning the entries', 'entries', entries);
  oneOf(format, LIST_FORMATS, 'format');
  const columns = new CsvColumns();
  if (format === 'csv') {
    let index = 0;
    for (const entry of entries()) columns.add(normalizedAt(entry, ++index));
  }
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  // Owner-only: the hashes of abuse material are themselves sensitive (docs/security.md).
  const stream = createWriteStream(temporary, { flags: 'wx', mode: 0o600 });
  const failed = new Promise<never>((_resolve, reject) => stream.once('error', reject));
  failed.catch(() => undefined);
  let count = 0;
  try {
    let chunk = format === 'csv' ? columns.header() : '';
    for (const entry of entries()) {
      chunk += formatLine(normalizedAt(entry, ++count), format, columns);
      // About 64 KiB a write, waiting when the disk is behind rather than buffering the file.
      if (chunk.length >= 65536) {
        if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), failed]);
        chunk = '';
      }
    }
    stream.end(chunk);
    await Promise.race([finished(stream), failed]);
    // Set after writing, not through the umask-reduced creation mode.
    await chmod(temporary, mode);
    await rename(temporary, path);
  } catch (error) {
    // The stream opens its file asynchronously: wait until it is closed, or the file could appear
    // after the removal below.
    stream.destroy();
    if (!stream.closed) await once(stream, 'close').catch(() => undefined);
    await rm(temporary, { force: true });
    if (isHashwardenError(error)) throw error;
    throw new HashwardenError('ERR_OUTPUT_WRITE', `Cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
  return count;
}
