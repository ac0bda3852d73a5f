/**
 * Writing list files: `formatList` to a string, `writeListFile` to a file as the entries come, in
 * the layouts `parse.ts` reads back (CSV with a header and one column per metadata key, NDJSON,
 * text).
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { HashwardenError, isHashwardenError } from '../errors.js';
import { outputMode, writeAll, writeOutputFile } from '../output-file.js';
import { invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { neutraliseFormula } from './csv.js';
import { normalEntry, type ListEntry } from './entry.js';
import { LIST_FORMATS, MAX_PATH_LENGTH, type ListFormat } from './formats.js';
import { listError } from './rows.js';

const CSV_COLUMNS = ['id', 'list', 'algorithm', 'hash', 'label'] as const;

/**
 * A CSV cell: made inert for spreadsheets (`neutraliseFormula`: the reader takes the quote away
 * again), then quoted as RFC 4180 asks when it holds a comma, quote, CR or LF, quotes doubled.
 */
function csvField(text: string): string {
  const value = neutraliseFormula(text);
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
 * excepted: text keeps only algorithm and hash, and CSV metadata comes back as non-empty strings,
 * trimmed. A CSV cell (header names included) that starts with a formula character (`=`, `+`,
 * `-`, `@`, TAB, CR) behind any single quotes is written with one more leading `'`, which the
 * reader takes off again, so a spreadsheet opening the file runs nothing. Entries are validated with `normalizeEntry` first; a bad one, or a metadata key that
 * cannot be a CSV column (`hash`, `Label`, `op`, ` x`…), throws a `HashwardenError`.
 *
 * @example
 * ```ts
 * await writeFile('export.csv', formatList(parsed.entries, 'csv'));
 * ```
 */
export function formatList(entries: Iterable<ListEntry>, format: ListFormat): string {
  if (
    entries === null ||
    typeof entries !== 'object' ||
    typeof (entries as Iterable<ListEntry>)[Symbol.iterator] !== 'function'
  ) {
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
 * renamed, so a failed write leaves any previous file whole. A file replaced keeps its owner and,
 * unless `options.mode` (permission bits, set whatever the umask) is given, its mode; a new file
 * is `0o600`, owner only. `ERR_OUTPUT_WRITE` when the file cannot be written or its owner cannot
 * be kept. Resolves to the number of entries.
 *
 * @example
 * ```ts
 * await writeListFile('ncmec.csv', () => store.entries({ list: 'ncmec' }), 'csv');
 * ```
 */
export async function writeListFile(
  path: string,
  entries: () => Iterable<ListEntry>,
  format: ListFormat,
  options?: { readonly mode?: number },
): Promise<number> {
  nonEmptyString(path, 'path', MAX_PATH_LENGTH);
  const mode = outputMode(optionsObject(options, 'options').mode ?? undefined, 'options.mode');
  if (typeof entries !== 'function') invalid('function returning the entries', 'entries', entries);
  oneOf(format, LIST_FORMATS, 'format');
  const columns = new CsvColumns();
  if (format === 'csv') {
    let index = 0;
    for (const entry of entries()) columns.add(normalizedAt(entry, ++index));
  }
  return writeOutputFile({ path, mode, code: 'ERR_OUTPUT_WRITE', what: '' }, async (file) => {
    let count = 0;
    let position = 0;
    let chunk = format === 'csv' ? columns.header() : '';
    const flush = async (): Promise<void> => {
      const bytes = Buffer.from(chunk);
      chunk = '';
      await writeAll(file, bytes, position);
      position += bytes.length;
    };
    for (const entry of entries()) {
      chunk += formatLine(normalizedAt(entry, ++count), format, columns);
      // About 64 KiB a write: the file is written as the entries come, never held whole.
      if (chunk.length >= 65536) await flush();
    }
    await flush();
    return count;
  });
}
