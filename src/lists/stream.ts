/**
 * The streaming reader of list files: `streamListFile` reads a CSV, NDJSON or text list a chunk at
 * a time and yields its rows in batches, so a list of tens of millions of lines imports in bounded
 * memory. It reads exactly as `readListFile` does (same formats, detection, header rules,
 * normalisation and error text, from the machinery in `rows.ts`, `csv.ts` and `line-formats.ts`),
 * adds the `op` column of delta files (`remove` rows), and leaves duplicate detection to the store.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { isUtf8 } from 'node:buffer';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { type HashwardenError, isHashwardenError, readError } from '../errors.js';
import { integerInRange, nonEmptyString, optionsObject } from '../validate.js';
import { CsvRecords } from './csv.js';
import {
  MAX_LIST_LINE_BYTES,
  MAX_PATH_LENGTH,
  resolveParseOptions,
  type ListReadFormat,
  type ReadListFileOptions,
  type ResolvedParseOptions,
  type RowProblem,
} from './formats.js';
import { detectListFormat } from './detect.js';
import { MAX_NCMEC_XML_BYTES, ncmecTooLarge } from './ncmec-xml.js';
import { lineParser } from './read-formats.js';
import { feedStopncii, looksLikeStopncii, stopnciiSink } from './stopncii.js';
import { firstBadUtf8Line, listError, removalKey, RowSink, stripBomBytes, type RawRow, type RowOp } from './rows.js';
import { normalEntry, type ListEntry } from './entry.js';

/**
 * One row of a list file, as the streaming reader yields it: an entry to add, or the (list, id)
 * of one to remove. `line` is the 1-based physical line where the row starts.
 *
 * @example
 * ```ts
 * const row: ListRow = { op: 'remove', list: 'ncmec', id: 'md5:0cc175b9c0f1b6a831c399e269772661', line: 17 };
 * ```
 */
export type ListRow =
  | { readonly op: 'add'; readonly entry: ListEntry; readonly line: number }
  | { readonly op: 'remove'; readonly list: string; readonly id: string; readonly line: number };

/**
 * A batch of rows, and how far into the file the reader is (for a progress bar).
 *
 * @example
 * ```ts
 * bar.update(batch.bytesRead / batch.bytesTotal);
 * ```
 */
export interface ListBatch {
  /** At most `batchSize` rows, in file order. */
  readonly rows: readonly ListRow[];
  /**
   * Bad rows met since the previous batch, up to this batch's last row (only with `onError:
   * 'skip'`); at most `MAX_ROW_PROBLEMS` (1000) over the whole file.
   */
  readonly problems: readonly RowProblem[];
  /**
   * Bytes of the file consumed so far (cumulative, a chunk of whole lines at a time); the last
   * batch has all of them.
   */
  readonly bytesRead: number;
  /** The file's size when it was opened. */
  readonly bytesTotal: number;
}

/**
 * What the whole file held, returned when the generator finishes.
 *
 * @example
 * ```ts
 * console.log(`${summary.adds} to add, ${summary.removes} to remove, ${summary.skippedCount} bad of ${summary.rows}`);
 * ```
 */
export interface ListStreamSummary {
  readonly format: ListReadFormat;
  /** Data rows seen, good and bad (headers, blank lines and comments excluded). */
  readonly rows: number;
  readonly adds: number;
  readonly removes: number;
  /** Rows left out as no entry at all: python-threatexchange's `NEGATIVE_CLASS` rows (see `ParsedList.ignored`). */
  readonly ignored: number;
  /** PDQ adds of a quality below 50 in their metadata (see `ParsedList.lowQuality`). */
  readonly lowQuality: number;
  /** Bad rows in all (only `onError: 'skip'` gets this far with any). */
  readonly skippedCount: number;
}

/**
 * Default size limit of `streamListFile`: 16 GiB. The reader never holds the file, so this is no
 * memory limit (unlike `readListFile`'s 1 GiB); it only refuses what is surely not a hash list (a
 * disk image, a video picked by mistake) before spending an hour on it. Ten million rows with ids
 * and some metadata are about 2 GiB.
 *
 * @example
 * ```ts
 * streamListFile(path, { list: 'ncmec', maxBytes: DEFAULT_MAX_STREAM_BYTES * 2 });
 * ```
 */
export const DEFAULT_MAX_STREAM_BYTES = 16 * 1024 ** 3;

/**
 * Default rows per batch of `streamListFile`: 10,000 (a few MB of rows), so the cost per batch (an
 * await, a progress update) is negligible.
 *
 * @example
 * ```ts
 * streamListFile(path, { list: 'ncmec', batchSize: DEFAULT_LIST_BATCH_SIZE / 10 });
 * ```
 */
export const DEFAULT_LIST_BATCH_SIZE = 10_000;

/**
 * Options of {@link streamListFile}: those of `readListFile` plus the batch size.
 *
 * @example
 * ```ts
 * const options: StreamListOptions = { list: 'ncmec', format: 'csv', onError: 'skip', batchSize: 5000 };
 * ```
 */
export interface StreamListOptions extends ReadListFileOptions {
  /** Refuse files larger than this many bytes (`ERR_LIST_FORMAT`). Default {@link DEFAULT_MAX_STREAM_BYTES} (16 GiB). */
  readonly maxBytes?: number;
  /** Rows per batch. Default {@link DEFAULT_LIST_BATCH_SIZE} (10,000); 1 to 1,000,000. */
  readonly batchSize?: number;
}

// 64 KiB reads, Node's own stream default: fewer awaits gain nothing once a read costs less than
// the rows in it, and the chunk is part of what the reader holds.
const CHUNK_BYTES = 64 * 1024;
// Detection looks for the first non-blank line this far at most, so a file of blank lines is not held.
const SNIFF_BYTES = 1024 * 1024;

/** The streaming reader's sink: rows wait here until they make a batch; nothing else is kept. */
class BatchSink extends RowSink {
  override readonly delta = true;
  readonly pending: ListRow[] = [];
  adds = 0;
  removes = 0;

  protected take(line: number, op: RowOp, row: RawRow): void {
    if (op === 'add') {
      this.pending.push({ op, entry: normalEntry(row), line });
      this.adds++;
    } else {
      const { list, id } = removalKey(row);
      this.pending.push({ op, list, id, line });
      this.removes++;
    }
  }

  protected override rejected(problem: RowProblem): void {
    // Stop at once: the rows before it were yielded already, and reading on would only delay the
    // rollback of the import they went into.
    if (this.options.onError === 'fail') throw problem.error;
  }

  /** The next batch: up to `size` rows, with the bad rows before the last of them (all, when `last`). */
  batch(size: number, bytesRead: number, bytesTotal: number, last: boolean): ListBatch {
    const rows = this.pending.splice(0, size);
    const until = last && this.pending.length === 0 ? Infinity : (rows.at(-1)?.line ?? Infinity);
    let count = 0;
    while (count < this.problems.length && (this.problems[count]?.line ?? Infinity) < until) count++;
    const problems = this.problems.splice(0, count);
    return Object.freeze({ rows: Object.freeze(rows), problems: Object.freeze(problems), bytesRead, bytesTotal });
  }
}

/** A run of whole lines of the file (the last may lack its line feed), checked to be UTF-8. */
interface Segment {
  readonly bytes: Buffer;
  /** Line number of its first line. */
  readonly line: number;
  /** File offset just after it. */
  readonly end: number;
}

function countLineFeeds(bytes: Uint8Array): number {
  let count = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) count++;
  return count;
}

/**
 * Reads a file a chunk at a time and hands it out as runs of whole lines: splitting at line feeds
 * keeps a UTF-8 sequence, a CRLF and (for text and NDJSON) a row within one run, so each run can
 * be checked and parsed on its own.
 */
class SegmentReader {
  #carry: Buffer[] = [];
  #carryBytes = 0;
  #line = 1;
  #offset = 0;
  #eof = false;
  /** Bytes read from the file so far. */
  bytesRead = 0;

  constructor(
    readonly handle: FileHandle,
    readonly path: string,
    readonly maxBytes: number,
    /** Hand out chunks as read, not cut at line feeds (a JSON document: its reader checks it). */
    readonly raw = false,
  ) {}

  async next(): Promise<Segment | undefined> {
    while (!this.#eof) {
      let chunk: Buffer;
      try {
        const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
        const { bytesRead } = await this.handle.read(buffer, 0, CHUNK_BYTES, null);
        chunk = buffer.subarray(0, bytesRead);
      } catch (error) {
        throw readError(this.path, error);
      }
      if (chunk.length === 0) {
        this.#eof = true;
        break;
      }
      this.bytesRead += chunk.length;
      // The size was checked at open; this catches a file that grows while it is read.
      if (this.bytesRead > this.maxBytes)
        throw listError(`${this.path} grew past the limit of ${this.maxBytes} bytes while read`);
      if (this.raw) {
        this.#offset += chunk.length;
        return { bytes: chunk, line: 1, end: this.#offset };
      }
      const lf = chunk.lastIndexOf(10);
      if (lf < 0) {
        this.#carry.push(chunk);
        this.#carryBytes += chunk.length;
        if (this.#carryBytes > MAX_LIST_LINE_BYTES) throw this.#tooLong();
        continue;
      }
      if (this.#carryBytes + lf > MAX_LIST_LINE_BYTES) throw this.#tooLong();
      const head = chunk.subarray(0, lf + 1);
      const bytes = this.#carry.length > 0 ? Buffer.concat([...this.#carry, head]) : head;
      this.#carry = lf + 1 < chunk.length ? [chunk.subarray(lf + 1)] : [];
      this.#carryBytes = chunk.length - lf - 1;
      return this.#segment(bytes);
    }
    if (this.#carryBytes === 0) return undefined;
    const bytes = Buffer.concat(this.#carry);
    this.#carry = [];
    this.#carryBytes = 0;
    return this.#segment(bytes);
  }

  #tooLong(): HashwardenError {
    return listError(
      `${this.path}:${this.#line}: line longer than ${MAX_LIST_LINE_BYTES} bytes; not a list file, or CR-only line ends?`,
    );
  }

  #segment(bytes: Buffer): Segment {
    if (!isUtf8(bytes))
      throw listError(`${this.path}:${this.#line + firstBadUtf8Line(bytes) - 1}: not valid UTF-8 text`);
    const segment: Segment = { bytes, line: this.#line, end: this.#offset + bytes.length };
    this.#line += countLineFeeds(bytes);
    this.#offset = segment.end;
    return segment;
  }
}

/** True when the file's first 64 KiB (read without moving its position) are StopNCII's JSON. */
async function looksLikeStopnciiFile(handle: FileHandle, path: string): Promise<boolean> {
  try {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, 0);
    return looksLikeStopncii(stripBomBytes(buffer.subarray(0, bytesRead)).toString('utf8'));
  } catch (error) {
    throw readError(path, error);
  }
}

type CsvStream = typeof import('csv-parse');
let csvStream: Promise<CsvStream> | undefined;

/** csv-parse's stream parser, passing each record to `records` and holding none. */
function csvParser(csv: CsvStream, records: CsvRecords) {
  /**
   * csv-parse pushes each record as it ends, with `info.bytes` at the record's end. Taking it from
   * `push` rather than an `on_record` callback spares the info object csv-parse builds for every
   * call, which made the reader half as fast. A sink error (a bad row under 'fail', a bad header)
   * is kept for the caller rather than thrown through csv-parse and the stream machinery; the rest
   * of the chunk is then parsed and ignored.
   */
  class RecordParser extends csv.Parser {
    failure: { readonly error: unknown } | undefined;

    override push(record: unknown, encoding?: BufferEncoding): boolean {
      if (record === null) return super.push(record, encoding);
      if (this.failure === undefined) {
        try {
          records.record(record as string[], this.info.bytes);
        } catch (error) {
          this.failure = { error };
        }
      }
      return true;
    }

    /** Writes one run of lines (or ends the input), resolving once every record in it is passed on. */
    async feed(bytes: Buffer | undefined): Promise<void> {
      try {
        if (bytes === undefined) {
          this.end();
          await finished(this, { readable: false });
        } else {
          await new Promise<void>((resolve, reject) => {
            this.write(bytes, (error) => (error ? reject(error) : resolve()));
          });
        }
      } catch (error) {
        if (this.failure === undefined && error instanceof csv.CsvError) records.syntaxError(error);
        if (this.failure === undefined) throw error;
      }
      if (this.failure !== undefined) throw this.failure.error;
    }
  }
  const parser = new RecordParser(records.parserOptions(MAX_LIST_LINE_BYTES));
  // Errors arrive through the write callbacks; without a listener the 'error' event would crash the process.
  parser.on('error', () => {});
  return parser;
}

/**
 * Reads a list file as a stream of batches of rows. Memory holds about one batch of rows (plus the
 * rows of the chunk being parsed) and one 64 KiB chunk of the file (a longer line is held whole, up
 * to {@link MAX_LIST_LINE_BYTES}), never the file, so a list of any length imports in bounded memory. Formats, format detection, header rules, normalisation
 * (`normalizeEntry`), BOM and CRLF handling and the text of each bad-row error are those of
 * `readListFile` (see `parseList`), messages starting `path:line:`. Detection by content looks at
 * the first non-blank line within the first MiB.
 *
 * Rows carry an op, from a CSV column or NDJSON field called `op`: `add` (also when empty or
 * absent), `remove`, or `delete` (read as `remove`), any case; anything else is a bad row. Text
 * lines always add. A remove row names the (list, id) to remove: its own list or the `list`
 * option, and its own id or, without one, the id an add of the same row gets (`<algorithm>:<hash>`,
 * so the algorithm and hash are checked as for an add); one with neither id nor hash is a bad row.
 * The algorithm may be given by python-threatexchange's names (`video_md5`, `video_sha256`, and
 * `photo_md5`, its name until April 2022), as in `readListFile`.
 *
 * Unlike `readListFile`, the reader does not catch a (list, id) given twice: that would take a
 * set of every id, growing with the file. The store the rows go into catches duplicates
 * (`HashStore.importRows`).
 *
 * Bad rows: with `onError: 'fail'` (default) the first one throws its `ERR_LIST_FORMAT` error
 * (cause: the underlying error, e.g. `ERR_HASH_FORMAT`) when reached, after earlier batches were
 * yielded. That is safe because the import they feed is one transaction, which the caller rolls
 * back on the error, so nothing is half-applied. With `'skip'` they are counted and reported in
 * each batch's `problems` (at most `MAX_ROW_PROBLEMS`, 1000, in all). A problem after which rows
 * cannot be found (a CSV quote error, a bad CSV header, a line over {@link MAX_LIST_LINE_BYTES}, a
 * CSV record past `MAX_CSV_COLUMNS` fields whose quoted line breaks carried it into a later chunk)
 * and invalid UTF-8 (naming its line) always throw.
 *
 * The file is opened on the first `next()` and closed when the generator finishes, throws, or is
 * stopped early (`return()`, or `break` out of `for await`). The generator is lazy: it reads the
 * next chunk only when the rows it holds do not make a batch. Argument errors throw `TypeError` /
 * `RangeError` at the call; an unreadable file (missing, a directory, no permission) rejects with
 * `ERR_INPUT_READ`, a file larger than `maxBytes` (default 16 GiB) with `ERR_LIST_FORMAT`.
 *
 * @example
 * ```ts
 * const reader = streamListFile('delta.csv', { list: 'ncmec', onError: 'skip' });
 * for (let step = await reader.next(); ; step = await reader.next()) {
 *   if (step.done) { console.log(`${step.value.adds} adds, ${step.value.removes} removes`); break; }
 *   for (const row of step.value.rows) stage(row);
 *   bar.update(step.value.bytesRead / step.value.bytesTotal);
 * }
 * ```
 */
export function streamListFile(
  path: string,
  options: StreamListOptions,
): AsyncGenerator<ListBatch, ListStreamSummary, void> {
  nonEmptyString(path, 'path', MAX_PATH_LENGTH);
  const o = optionsObject(options, 'options');
  const maxBytes =
    o.maxBytes === undefined
      ? DEFAULT_MAX_STREAM_BYTES
      : integerInRange(o.maxBytes, 1, Number.MAX_SAFE_INTEGER, 'maxBytes');
  const batchSize =
    o.batchSize === undefined ? DEFAULT_LIST_BATCH_SIZE : integerInRange(o.batchSize, 1, 1_000_000, 'batchSize');
  return readBatches(path, resolveParseOptions(options, path), maxBytes, batchSize);
}

async function* readBatches(
  path: string,
  options: ResolvedParseOptions,
  maxBytes: number,
  batchSize: number,
): AsyncGenerator<ListBatch, ListStreamSummary, void> {
  let bytesTotal: number;
  let handle: FileHandle;
  try {
    // stat before open: opening a FIFO would wait for a writer.
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    bytesTotal = info.size;
    if (bytesTotal > maxBytes) throw listError(`${path} has ${bytesTotal} bytes, above the limit of ${maxBytes}`);
    handle = await open(path, 'r');
  } catch (error) {
    if (isHashwardenError(error)) throw error;
    throw readError(path, error);
  }
  let parser: ReturnType<typeof csvParser> | undefined;
  try {
    // StopNCII's JSON is told from its head before reading lines: it may have no line feed at all.
    const json = options.format ?? ((await looksLikeStopnciiFile(handle, path)) ? 'stopncii' : undefined);
    const reader = new SegmentReader(handle, path, maxBytes, json === 'stopncii');
    const sink = new BatchSink(options);
    // Runs read for detection, parsed before any further read.
    const held: Segment[] = [];
    let first = await reader.next();
    if (first !== undefined) first = { ...first, bytes: stripBomBytes(first.bytes) };
    if (first !== undefined) held.push(first);
    let format = json;
    if (format === undefined) {
      let head = first?.bytes.toString('utf8') ?? '';
      for (let size = head.length; !/\S/.test(head) && size < SNIFF_BYTES; ) {
        const more = await reader.next();
        if (more === undefined) break;
        held.push(more);
        head = more.bytes.toString('utf8');
        size += more.bytes.length;
      }
      format = detectListFormat(path, head);
    }
    let records: CsvRecords | undefined;
    let quoted = false;
    const parseLines = format === 'csv' || format === 'stopncii' ? undefined : lineParser(format);
    const stopncii = format === 'stopncii' ? stopnciiSink(sink) : undefined;
    // XML is no run of lines: the document is gathered whole (bounded) and parsed at its end.
    const document: Buffer[] | undefined = format === 'ncmec' ? [] : undefined;
    if (format === 'csv') {
      // Loaded here, not at module load: a process that never reads a CSV file should not pay for it.
      records = new CsvRecords(sink);
      csvStream ??= import('csv-parse');
      parser = csvParser(await csvStream, records);
    }
    /** Parses one run of lines into the sink (`undefined`: the end of the file). */
    const parse = async (bytes: Buffer | undefined, line: number): Promise<void> => {
      if (stopncii !== undefined) feedStopncii(sink, stopncii, bytes);
      else if (document !== undefined) {
        if (bytes !== undefined) {
          document.push(bytes);
          if (reader.bytesRead > MAX_NCMEC_XML_BYTES) throw ncmecTooLarge(path);
        } else parseLines?.(Buffer.concat(document).toString('utf8'), sink, 1);
      } else if (parser === undefined || records === undefined) {
        if (bytes !== undefined) parseLines?.(bytes.toString('utf8'), sink, line);
      } else if (bytes === undefined) {
        await parser.feed(undefined);
        records.finish();
      } else if (bytes.length > 0) {
        // Runs of lines without a quote are split by CsvRecords itself, until the first quote:
        // from then on csv-parse takes every run, since one may end inside a quoted field.
        if (!quoted && bytes.indexOf(0x22) < 0) {
          records.plainLines(bytes.toString('utf8'), line);
          return;
        }
        quoted = true;
        const guarded = records.guard(bytes, line);
        records.append(guarded);
        await parser.feed(guarded);
      }
    };

    for (
      let segment = held.shift() ?? (await reader.next());
      segment !== undefined;
      segment = held.shift() ?? (await reader.next())
    ) {
      await parse(segment.bytes, segment.line);
      // `>`, not `>=`: a full batch waits for one more row, so the last batch is the one cut at the
      // end of the file, with all of the problems and all of the bytes.
      while (sink.pending.length > batchSize) yield sink.batch(batchSize, segment.end, bytesTotal, false);
    }
    await parse(undefined, 0);
    while (sink.pending.length > 0 || sink.problems.length > 0)
      yield sink.batch(batchSize, reader.bytesRead, bytesTotal, true);
    return Object.freeze({
      format,
      rows: sink.rows,
      adds: sink.adds,
      removes: sink.removes,
      ignored: sink.ignored,
      lowQuality: sink.lowQuality,
      skippedCount: sink.problemCount,
    });
  } finally {
    parser?.destroy();
    try {
      await handle.close();
    } catch {
      // Only a descriptor already gone fails to close; what the reading did is what to report.
    }
  }
}
