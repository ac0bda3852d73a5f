/**
 * The row machinery both list readers share (`parse.ts` reads a whole file, `stream.ts` a chunk at
 * a time), so they read a file the same way: a row as a parser reads it (`RawRow`), its `op`, the
 * sink that collects rows and keeps the bad ones with their lines, the (list, id) a remove row
 * removes, the errors of a list file, and the small text helpers of the parsers.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { PDQ_MIN_QUALITY } from '../algorithms/pdq.js';
import { isUtf8 } from 'node:buffer';
import { ALGORITHM_NAMES, getAlgorithm } from '../algorithms/registry.js';
import { HashwardenError, isHashwardenError } from '../errors.js';
import { normalizeEntry, rowError, type ListEntryInput } from './entry.js';
import { MAX_ROW_PROBLEMS, type ResolvedParseOptions, type RowProblem } from './formats.js';

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

/**
 * `n word`, with an `s` unless `n` is 1.
 *
 * @internal Shared with `csv.ts` and `parse.ts`.
 * @example
 * ```ts
 * plural(2, 'field'); // '2 fields'
 * ```
 */
export function plural(n: number, word: string): string {
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
  /** Why the row is not an entry at all (see `RowSink.ignored`): counted, never imported. */
  readonly ignore?: string;
}

// python-threatexchange's category of a signal known NOT to be of the class a collaboration
// shares (its `SignalCategory.NEGATIVE_CLASS`): listing it would flag exactly what was cleared.
const NEGATIVE_CLASS = /^\s*negative_class\s*$/i;

/**
 * True for a PDQ row whose metadata's `quality` is a number below {@link PDQ_MIN_QUALITY} (the PDQ
 * hashers' scale, kept as a number by every reader that sees one).
 *
 * @internal
 */
export function isLowQualityPdq(row: Pick<RawRow, 'algorithm' | 'metadata'>): boolean {
  const quality = row.metadata?.quality;
  return (
    typeof row.algorithm === 'string' &&
    row.algorithm.trim().toLowerCase() === 'pdq' &&
    typeof quality === 'number' &&
    quality < PDQ_MIN_QUALITY
  );
}

/**
 * `ignore` for a row whose category (a `category` column or field) is pytx's `NEGATIVE_CLASS`,
 * else undefined.
 *
 * @internal Shared by the CSV and NDJSON parsers.
 */
export function ignoredCategory(category: unknown): string | undefined {
  return typeof category === 'string' && NEGATIVE_CLASS.test(category) ? 'NEGATIVE_CLASS' : undefined;
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

/**
 * True when a cell or field holds something: not absent, null or blank.
 *
 * @internal Shared with `line-formats.ts`.
 * @example
 * ```ts
 * present('  '); // false
 * ```
 */
export function present(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');
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
    hasHash
      ? { id: row.id, list: row.list, algorithm: row.algorithm, hash: row.hash }
      : { id: row.id, list: row.list, algorithm: 'md5', hash: PLACEHOLDER_MD5 },
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
  /** Data rows seen, good, bad and ignored. */
  rows = 0;
  /**
   * Rows that are no entry and no error: pytx's `NEGATIVE_CLASS` rows (signals a collaboration
   * says are not of its class), counted and left out, never imported.
   */
  ignored = 0;
  /**
   * True for a reader of deltas (`streamListFile`), whose remove rows remove from a stored list;
   * false for a whole list (`parseList`), where nothing is stored to remove from. Read by formats
   * whose records say what to remove (NCMEC's deletions).
   */
  readonly delta: boolean = false;
  /**
   * PDQ adds whose metadata gives a `quality` below `PDQ_MIN_QUALITY`: imported as the list sent
   * them (the programme decided), but counted, since such a hash of a nearly featureless image
   * lies close to many others and is where false positives come from.
   */
  lowQuality = 0;
  #kept = 0;

  constructor(readonly options: ResolvedParseOptions) {}

  add(line: number, build: () => RawRow): void {
    this.rows++;
    try {
      const row = build();
      if (row.ignore !== undefined) this.ignored++;
      else {
        const op = rowOp(row.op);
        this.take(line, op, row);
        if (op === 'add' && isLowQualityPdq(row)) this.lowQuality++;
      }
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
    const problem: RowProblem = Object.freeze({
      source: this.options.source,
      line,
      error: rowError(error, this.options.source, line),
    });
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
    throw new HashwardenError('ERR_LIST_FORMAT', `${problem.error.message}; the rest of the file was not read${more}`, {
      cause: problem.error,
    });
  }
}

/**
 * Calls `fn(lineNumber, line)` for every physical line, without building an array of lines;
 * `firstLine` is the number of the text's first line (a reader parses a file a run of lines at a
 * time). Returns the number the line after the text would have.
 *
 * @internal Shared by the CSV, NDJSON and text parsers.
 */
export function forEachLine(text: string, fn: (line: number, content: string) => void, firstLine = 1): number {
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

/**
 * Adds a row to the sink for every line of `text` that is not blank or a `#` comment, built by
 * `build` from the trimmed line: the loop of the line formats without a header.
 *
 * @internal Shared by the text and checksum parsers.
 */
export function addCommentedLines(
  text: string,
  sink: RowSink,
  firstLine: number,
  build: (trimmed: string) => RawRow,
): void {
  forEachLine(
    text,
    (line, content) => {
      const trimmed = content.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      sink.add(line, () => build(trimmed));
    },
    firstLine,
  );
}

/** Non-empty trimmed text, or undefined. @internal */
export function cell(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  return text === '' ? undefined : text;
}

/**
 * Aliases of the algorithm column, in precedence order: when several are present the first is the
 * algorithm and the others are kept as metadata.
 *
 * @internal Shared by the CSV and NDJSON parsers.
 */
export const ALGORITHM_KEYS = ['algorithm', 'signal_type', 'type'] as const;

/**
 * python-threatexchange's names of hash types hashwarden knows under another: `photo_md5` (its
 * name for a photo's MD5 until April 2022, #972, still in older exports), and `video_md5` and
 * `video_sha256`, the MD5 and SHA-256 of a video file's bytes: exact file hashes, which match
 * that very file whatever it holds.
 */
const PYTX_NAMES: ReadonlyMap<string, string> = new Map([
  ['photo_md5', 'md5'],
  ['video_md5', 'md5'],
  ['video_sha256', 'sha256'],
]);
// Every alias has an underscore and no algorithm name does: a test that spares most rows the
// lower-casing and lookup, since this runs for every row.
const MAYBE_ALIAS = /_/;

/** The algorithm named by a row, pytx's names (`photo_md5`, `video_md5`, `video_sha256`) read as hashwarden's. @internal */
export function algorithmName<T>(value: T): T | string {
  if (typeof value !== 'string' || !MAYBE_ALIAS.test(value)) return value;
  return PYTX_NAMES.get(value.trim().toLowerCase()) ?? value;
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

/** Algorithm names by the number of hex digits of their hashes (`32` → md5; `64` → blockhash, pdq, sha256). */
const BY_HEX_DIGITS: ReadonlyMap<number, readonly string[]> = (() => {
  const map = new Map<number, string[]>();
  for (const name of ALGORITHM_NAMES) {
    const digits = getAlgorithm(name).bits / 4;
    map.set(digits, [...(map.get(digits) ?? []), name]);
  }
  return map;
})();

/**
 * True when some algorithm's hashes have `digits` hex digits.
 *
 * @internal Shared by the format sniffers.
 */
export function isHashLength(digits: number): boolean {
  return BY_HEX_DIGITS.has(digits);
}

/**
 * The algorithm of a hash given without its name, from its number of hex digits: the one
 * algorithm whose hashes have that many (32: md5, 40: sha1), else the `algorithm` option when it
 * is one of those that do (64 digits are a PDQ, blockhash or SHA-256 hash alike: guessing would
 * file a PDQ hash as a SHA-256 one, and it would never match), else `ERR_LIST_FORMAT` asking for
 * the option. So one file can mix MD5 and PDQ hashes (`--algorithm pdq`). A length no algorithm
 * has goes to the option (or is refused), for the hash check to report.
 *
 * @internal Shared by the parsers of formats that do not name the algorithm.
 * @example
 * ```ts
 * algorithmByLength('0cc175b9c0f1b6a831c399e269772661', 'pdq'); // 'md5'
 * ```
 */
export function algorithmByLength(hash: string, option: string | undefined): string {
  // No hash: the entry check reports what is missing.
  if (hash === '') return option ?? '';
  const names = BY_HEX_DIGITS.get(hash.length);
  if (option !== undefined && (names === undefined || names.includes(option))) return option;
  if (names?.length === 1) return names[0] as string;
  if (names === undefined)
    throw listError(`Cannot tell the algorithm of a hash of ${hash.length} characters: give the algorithm option`);
  throw listError(
    `A hash of ${hash.length} hex digits may be ${names.join(', ')}: give the algorithm option (--algorithm)`,
  );
}
