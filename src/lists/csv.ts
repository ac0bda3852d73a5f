/**
 * CSV list files: the header (which column is the hash, the algorithm, the id…; the rest are
 * metadata), its rows, and the tracking of the physical line where each record starts, shared by
 * the whole-file reader and the streaming one. csv-parse is loaded on first use.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { createRequire } from 'node:module';
import { HashwardenError, isHashwardenError } from '../errors.js';
import { MAX_CSV_COLUMNS } from './entry.js';
import { MAX_LIST_LINE_BYTES, type ResolvedParseOptions } from './formats.js';
import {
  ALGORITHM_KEYS,
  algorithmByLength,
  algorithmName,
  cell,
  forEachLine,
  ignoredCategory,
  listError,
  plural,
  type RawRow,
  type RowSink,
} from './rows.js';

/**
 * A cell a spreadsheet would run as a formula (OWASP's list: `=`, `+`, `-`, `@`, TAB, CR first),
 * behind any number of single quotes: the writer adds one quote to each such cell, the reader
 * takes one away, so every value goes out inert and comes back exactly.
 */
const FORMULA_WRITTEN = /^'*[=+\-@\t\r]/;
const FORMULA_READ = /^'+[=+\-@\t\r]/;

/**
 * A CSV cell's text made inert for spreadsheets: one more leading `'` on a value that starts
 * (after any quotes) with a formula character. {@link restoreFormula} undoes it.
 *
 * @internal Shared with `write.ts`.
 * @example
 * ```ts
 * neutraliseFormula('=1+1'); // "'=1+1"
 * neutraliseFormula("'=1+1"); // "''=1+1"
 * ```
 */
export function neutraliseFormula(value: string): string {
  return FORMULA_WRITTEN.test(value) ? `'${value}` : value;
}

/** A cell as written before {@link neutraliseFormula}: one leading `'` less before a formula character. */
function restoreFormula(value: string): string {
  return FORMULA_READ.test(value) ? value.slice(1) : value;
}

interface CsvHeader {
  readonly width: number;
  readonly hash: number;
  readonly algorithm: number;
  readonly id: number;
  readonly list: number;
  readonly label: number;
  readonly op: number;
  readonly category: number;
  readonly metadata: readonly (readonly [index: number, key: string])[];
}

function readCsvHeader(record: readonly string[], options: ResolvedParseOptions): CsvHeader {
  const names = record.map((name) => restoreFormula(name.trim()));
  // Only a file with old-Mac CR line ends gets here: read as one header line, it would import nothing.
  if (names.some((name) => /[\r\n]/.test(name)))
    throw listError('CSV header contains a line break; line ends must be LF or CRLF');
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
  // `signal_str`: python-threatexchange's name (`dataset -P --csv`).
  const hash = lower.includes('hash') ? lower.indexOf('hash') : lower.indexOf('signal_str');
  if (hash < 0) throw listError(`CSV header has no "hash" column (nor pytx's "signal_str")${found}`);
  const algorithmKey = ALGORITHM_KEYS.find((key) => lower.includes(key));
  // Without an algorithm column, each row's algorithm is told by its hash's length (and the
  // option, for the lengths several algorithms share): see `algorithmByLength`.
  const algorithm = algorithmKey === undefined ? -1 : lower.indexOf(algorithmKey);
  const special = new Set([
    hash,
    algorithm,
    lower.indexOf('id'),
    lower.indexOf('list'),
    lower.indexOf('label'),
    lower.indexOf('op'),
  ]);
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
    category: lower.indexOf('category'),
    metadata,
  };
}

function csvRow(record: readonly string[], header: CsvHeader, options: ResolvedParseOptions): RawRow {
  if (record.length !== header.width) {
    throw listError(`Expected ${plural(header.width, 'field')} as in the header but found ${record.length}`);
  }
  const at = (index: number): string | undefined => {
    const value = index < 0 ? undefined : cell(record[index]);
    return value === undefined ? undefined : restoreFormula(value);
  };
  const metadata: [string, string][] = [];
  for (const [index, key] of header.metadata) {
    const value = at(index);
    if (value !== undefined) metadata.push([key, value]);
  }
  const ignore = header.category < 0 ? undefined : ignoredCategory(at(header.category));
  const hash = at(header.hash) ?? '';
  return {
    ...(ignore === undefined ? {} : { ignore }),
    id: at(header.id),
    list: at(header.list) ?? options.list,
    algorithm:
      header.algorithm < 0
        ? algorithmByLength(hash, options.algorithm)
        : (algorithmName(at(header.algorithm)) ?? options.algorithm ?? ''),
    hash,
    label: at(header.label),
    op: at(header.op),
    // fromEntries, not assignment: a column called `__proto__` must stay a plain key.
    metadata: metadata.length > 0 ? Object.fromEntries(metadata) : undefined,
  };
}

/** The error of a header or a record with more than {@link MAX_CSV_COLUMNS} fields. */
function tooWide(header: boolean): HashwardenError {
  return listError(
    `Expected at most ${MAX_CSV_COLUMNS} fields in ${header ? 'the CSV header' : 'a record'} but found more`,
  );
}

type CsvParse = typeof import('csv-parse/sync');
let csvParse: CsvParse | undefined;

/**
 * csv-parse, loaded on first use through `require` (sync, and cheaper than `import`): a process
 * that opens a snapshot and never reads a CSV file should not pay for loading it at start-up.
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
  // The column guard's scan (see `guard`): where it is, and the lines of wide rows not yet reported.
  #scanQuoted = false;
  #scanInRecord = false;
  #scanFields = 0;
  #scanSkipping = false;
  #scanRecordLine = 0;
  #scanRecords = 0;
  readonly #wide: number[] = [];

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
    this.sink.fatal(
      this.#startLine(),
      new HashwardenError('ERR_LIST_FORMAT', `CSV syntax error (${String(error.code)}): ${message}`, { cause: error }),
    );
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
   * Finds the records of `bytes` (the next bytes for csv-parse, whose first line is `firstLine`)
   * with more than {@link MAX_CSV_COLUMNS} fields before csv-parse splits them, and returns the
   * bytes with each of those records replaced by its line feeds: csv-parse skips them as blank
   * lines, so it never builds their fields, and the line count stays right. Each is reported as a
   * bad row at its line, in order with the others (`#take`, `finish`). A header that wide fails
   * the file, and so does a wide record begun in earlier bytes, already given to csv-parse.
   * A quote toggles the quoted state (a doubled quote toggles it twice), as csv-parse reads any
   * input it accepts.
   */
  guard(bytes: Uint8Array, firstLine: number): Buffer {
    let line = firstLine;
    let start = 0;
    const kept: Uint8Array[] = [];
    // Where the current record starts in `bytes` (-1: in earlier bytes), and where bytes are kept from.
    let recordStart = this.#scanInRecord ? -1 : 0;
    let keepFrom = 0;
    const drop = (end: number, feeds: number): void => {
      kept.push(bytes.subarray(keepFrom, start), new Uint8Array(feeds).fill(10));
      keepFrom = end;
    };
    let feeds = 0;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i];
      if (!this.#scanInRecord) {
        if (byte === 10) line++;
        if (byte === 10 || byte === 13) continue;
        this.#scanInRecord = true;
        this.#scanFields = 1;
        this.#scanSkipping = false;
        this.#scanRecordLine = line;
        this.#scanRecords++;
        recordStart = i;
      }
      if (byte === 0x22) this.#scanQuoted = !this.#scanQuoted;
      else if (byte === 10) {
        line++;
        if (this.#scanSkipping) feeds++;
        if (!this.#scanQuoted) {
          this.#scanInRecord = false;
          if (this.#scanSkipping) {
            drop(i + 1, feeds);
            feeds = 0;
          }
        }
      } else if (byte === 0x2c && !this.#scanQuoted && ++this.#scanFields > MAX_CSV_COLUMNS && !this.#scanSkipping) {
        const header = this.#header === undefined && this.#scanRecords === 1;
        if (header || recordStart < 0) this.sink.fatal(this.#scanRecordLine, tooWide(header));
        this.#scanSkipping = true;
        this.#wide.push(this.#scanRecordLine);
        start = recordStart;
        // Line feeds of the record before this comma, inside quotes.
        feeds = line - this.#scanRecordLine;
      }
    }
    if (this.#scanSkipping && this.#scanInRecord) {
      // The record goes on in the next bytes: drop the rest of these, and its start from the next.
      drop(bytes.length, feeds);
    }
    if (kept.length === 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    kept.push(bytes.subarray(keepFrom));
    return Buffer.concat(kept);
  }

  /** Reports the wide rows (see `guard`) not reported yet; call at the end of the input. */
  finish(): void {
    this.#reportWide(Infinity);
  }

  /** Reports the wide rows that start before `line`, as bad rows. */
  #reportWide(line: number): void {
    while (this.#wide.length > 0 && (this.#wide[0] as number) < line) {
      const wide = this.#wide.shift() as number;
      this.sink.add(wide, () => {
        throw tooWide(false);
      });
    }
  }

  /**
   * Passes the records of a run of whole lines that holds no quote character, split at commas and
   * line ends here instead of by csv-parse: without quotes RFC 4180 is just that, and csv-parse's
   * generality was a large share of an import's time. `firstLine` is the run's first line. Only
   * for runs before csv-parse has been given anything (stream.ts takes every run after the first
   * quote to csv-parse, which may then be inside a quoted field at a run's end); the records, blank
   * lines and lines reported are csv-parse's.
   */
  plainLines(text: string, firstLine: number): void {
    this.#line = forEachLine(
      text,
      (line, content) => {
        // csv-parse skips empty lines (skip_empty_lines).
        // Split no further than one field past the limit: `#take` refuses the record then.
        if (content !== '') this.#take(content.split(',', MAX_CSV_COLUMNS + 1), line);
      },
      firstLine,
    );
  }

  /** One record that starts on `line`: the header, or a row for the sink. */
  #take(record: readonly string[], line: number): void {
    this.#reportWide(line);
    const wide = record.length > MAX_CSV_COLUMNS;
    if (wide && this.#header !== undefined) {
      this.sink.add(line, () => {
        throw tooWide(false);
      });
    } else if (wide) {
      this.sink.fatal(line, tooWide(true));
    } else if (this.#header === undefined) {
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

export function parseCsvRows(bytes: Uint8Array, sink: RowSink): void {
  const { parse: parseCsv, CsvError } = csv();
  const records = new CsvRecords(sink);
  const guarded = records.guard(bytes, 1);
  records.append(guarded);
  try {
    parseCsv(guarded, {
      ...records.parserOptions(MAX_LIST_LINE_BYTES),
      on_record: (record: string[], info) => records.record(record, info.bytes),
    });
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    records.syntaxError(error);
  }
  records.finish();
}
