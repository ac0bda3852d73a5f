/**
 * Reading a whole list into memory: `parseList` for text already held, `readListFile` for a file.
 * Every row is normalised through `normalizeEntry` and each bad row reported by file and physical
 * line, so a moderator can fix the file; a repeated id is a bad row too. For lists too large to
 * hold, `stream.ts` reads the same formats a chunk at a time.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { constants as bufferConstants, isUtf8 } from 'node:buffer';
import { readFile, stat } from 'node:fs/promises';
import { HashwardenError, isHashwardenError, readError } from '../errors.js';
import { integerInRange, invalid, nonEmptyString, optionsObject } from '../validate.js';
import { parseCsvRows } from './csv.js';
import { hasDefaultId, normalEntry, type ListEntry } from './entry.js';
import {
  DEFAULT_MAX_LIST_BYTES,
  MAX_LIST_LINE_BYTES,
  MAX_PATH_LENGTH,
  resolveParseOptions,
  stripBom,
  type ListReadFormat,
  type ParsedList,
  type ParseListOptions,
  type ReadListFileOptions,
  type ResolvedParseOptions,
} from './formats.js';
import { detectListFormat } from './detect.js';
import { lineParser } from './read-formats.js';
import { firstBadUtf8Line, listError, plural, RowSink, stripBomBytes, type RawRow, type RowOp } from './rows.js';

/** `parseList`'s sink: every entry, in file order, with duplicates caught. */
class ListSink extends RowSink {
  readonly entries: ListEntry[] = [];
  // `list \0 id` → first line, so a duplicate can name where the original is; negated when that
  // row's id is not its default one (`hasDefaultId`), which no repeat merges with. A sign, not an
  // object per entry: this map holds every id of the file.
  readonly #seen = new Map<string, number>();
  /** Rows dropped as repeats of an identical earlier row (dedupe `merge`). */
  merged = 0;

  protected take(line: number, op: RowOp, row: RawRow): void {
    // A ParsedList is a whole list; a removal only means something against a stored one.
    if (op === 'remove') throw listError('op remove is only for delta imports (hashwarden import, streamListFile)');
    const entry = normalEntry(row);
    const key = `${entry.list}\u0000${entry.id}`;
    const first = this.#seen.get(key);
    const same = hasDefaultId(entry);
    if (first !== undefined) {
      // Both ids are `<algorithm>:<hash>`, and the same: the same list, algorithm and hash.
      if (this.options.dedupe === 'merge' && same && first > 0) {
        this.merged++;
        return;
      }
      throw listError(
        `Duplicate id ${JSON.stringify(entry.id)} in list ${JSON.stringify(entry.list)}, first on line ${Math.abs(first)}`,
      );
    }
    this.#seen.set(key, same ? line : -line);
    this.entries.push(entry);
  }

  finish(format: ListReadFormat): ParsedList {
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
      merged: this.merged,
      ignored: this.ignored,
      lowQuality: this.lowQuality,
      rows: this.rows,
    });
  }
}

/**
 * The first line of `text` longer than {@link MAX_LIST_LINE_BYTES} (counted in UTF-16 code units,
 * at most its UTF-8 bytes), as `ERR_LIST_FORMAT`: the limit of the streaming reader, so that a
 * file it refuses is not parsed whole here either (one huge NDJSON line would go to JSON.parse).
 */
function refuseLongLines(text: string, source: string): void {
  let line = 1;
  for (let start = 0; start <= text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end - start > MAX_LIST_LINE_BYTES) {
      throw listError(
        `${source}:${line}: line longer than ${MAX_LIST_LINE_BYTES} bytes; not a list file, or CR-only line ends?`,
      );
    }
    start = end + 1;
  }
}

function parseResolved(text: string, bytes: Uint8Array | undefined, options: ResolvedParseOptions): ParsedList {
  const body = stripBom(text);
  refuseLongLines(body, options.source);
  const format = options.format ?? detectListFormat(options.source, body);
  const sink = new ListSink(options);
  if (format === 'csv') parseCsvRows(bytes ?? Buffer.from(body, 'utf8'), sink);
  else lineParser(format)(body, sink);
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
 * In every format the algorithm may be given by python-threatexchange's names: `video_md5` and
 * the `photo_md5` it used until April 2022 are read as `md5`, `video_sha256` as `sha256`. Text lines
 * may also be pytx's `<ROTATION> <type> <hash>` and `dataset -P` lines (see `docs/lists.md`). The `op` column or field (`add`, `remove` or `delete`, any case; empty means
 * `add`) is never kept as metadata: a ParsedList only adds, so a `remove` row is a bad row here
 * (import it as a delta, with `streamListFile`), and any other value is one too.
 *
 * Blank lines are ignored and a BOM and CRLF line ends are accepted in every format. A repeated
 * id in the same list is a bad row, naming the first line, except that a row repeating an earlier
 * one's list, algorithm and hash, neither with an id, is dropped and counted in `merged` (the
 * `dedupe` option, default `merge`; `fail` makes it a bad row too).
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
  const maxBytes =
    o.maxBytes === undefined
      ? DEFAULT_MAX_LIST_BYTES
      : integerInRange(o.maxBytes, 1, Number.MAX_SAFE_INTEGER, 'maxBytes');
  const resolved = resolveParseOptions(options, path);
  const tooLarge = (size: number): HashwardenError | undefined => {
    if (size > maxBytes) return listError(`${path} has ${size} bytes, above the limit of ${maxBytes}`);
    // Parsing needs the text as one string; beyond V8's limit the decode itself would fail.
    if (size > bufferConstants.MAX_STRING_LENGTH) {
      return listError(
        `${path} has ${size} bytes, more than the ${bufferConstants.MAX_STRING_LENGTH} this runtime can parse at once; split the list`,
      );
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
