/**
 * Writing list files: `formatList` to a string, `writeListFile` to a file as the entries come, in
 * the layouts `parse.ts` reads back (CSV with a header and one column per metadata key, NDJSON,
 * text), and in those other tools read: python-threatexchange's `<signal type> <hash>` lines,
 * bare hex of one algorithm, and the PDQ tools' `hash,quality,meta` lines.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import { HashwardenError, isHashwardenError } from '../errors.js';
import { outputMode, writeAll, writeOutputFile } from '../output-file.js';
import { invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { neutraliseFormula } from './csv.js';
import { type EntryAlgorithm, normalEntry, type ListEntry } from './entry.js';
import { MAX_PATH_LENGTH, type ListFormat } from './formats.js';
import { listError } from './rows.js';

/**
 * A format {@link formatList} and {@link writeListFile} write: the list formats (`csv`, `ndjson`,
 * `text`), which `hashwarden import` reads back, and three that other tools read: `pytx`
 * (python-threatexchange's `<signal type> <hash>` lines: `pdq`, `video_md5` for MD5, `vpdq`),
 * `hex` (one bare hex hash a line, one algorithm a file) and `pdq-tools` (the PDQ hashers'
 * `hash,quality,meta` lines, PDQ only).
 *
 * @example
 * ```ts
 * const format: ExportFormat = 'pytx';
 * ```
 */
export type ExportFormat = ListFormat | 'pytx' | 'hex' | 'pdq-tools';

/**
 * Every format the writers take.
 *
 * @example
 * ```ts
 * EXPORT_FORMATS.includes(userChoice as ExportFormat);
 * ```
 */
export const EXPORT_FORMATS: readonly ExportFormat[] = Object.freeze([
  'csv',
  'ndjson',
  'text',
  'pytx',
  'hex',
  'pdq-tools',
] as const);

/**
 * python-threatexchange's signal type for each algorithm it reads. pytx dropped `photo_md5` in
 * 2022 (ThreatExchange #972): `video_md5` (the MD5 of a file's bytes, matched by `threatexchange
 * match video`) is its only MD5 type, and HMA 2's. Its `video_sha256` is not among the CLI's
 * default types, and it has none for SHA-1 or blockhash. Its vPDQ extension's type is `vpdq`, the
 * hash its JSON signal string, which a vPDQ entry's hash already is.
 */
const PYTX_SIGNAL_TYPES: Readonly<Partial<Record<EntryAlgorithm, string>>> = Object.freeze({
  pdq: 'pdq',
  md5: 'video_md5',
  [VPDQ_ALGORITHM]: 'vpdq',
});

/**
 * The image algorithms a format can hold, or undefined for every one (`hex` holds any one
 * algorithm a file). vPDQ is not among them: `formatList` writes a vPDQ entry where a format can
 * hold one (`pytx`, `text`, `csv`, `ndjson`), and whether `hashwarden export` writes videos is its
 * own choice, made apart from these.
 *
 * @internal For `hashwarden export`, which leaves the others out and counts them.
 * @example
 * ```ts
 * formatAlgorithms('pytx'); // ['pdq', 'md5']
 * ```
 */
export function formatAlgorithms(format: ExportFormat): readonly EntryAlgorithm[] | undefined {
  if (format === 'pytx')
    return (Object.keys(PYTX_SIGNAL_TYPES) as EntryAlgorithm[]).filter((name) => name !== VPDQ_ALGORITHM);
  return format === 'pdq-tools' ? ['pdq'] : undefined;
}

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

/**
 * A PDQ tools' meta field: the entry's id with `%`, `,` and control characters percent-encoded,
 * since those tools split the line at commas and read it with `getline`.
 */
function pdqMeta(id: string): string {
  return id.replace(/[%,\x00-\x1f\x7f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** The highest PDQ quality: the hashers score 0 to 100. */
const MAX_PDQ_QUALITY = 100;

/** An entry's PDQ quality (its `quality` metadata, an integer 0–100) as written, or empty when it has none. */
function pdqQuality(entry: ListEntry): string {
  const quality = entry.metadata?.quality;
  const text = typeof quality === 'number' ? String(quality) : typeof quality === 'string' ? quality.trim() : '';
  return /^\d{1,3}$/.test(text) && Number(text) <= MAX_PDQ_QUALITY ? String(Number(text)) : '';
}

/** An entry a format cannot hold: `ERR_LIST_FORMAT`, naming the entry as `normalizedAt` does. */
function cannotHold(format: ExportFormat, entry: ListEntry, index: number, why: string): never {
  throw listError(
    `Entry ${index}: ${format} cannot hold the ${entry.algorithm} hash of ${JSON.stringify(entry.id)}: ${why}`,
  );
}

/**
 * Turns entries into lines of one format. CSV lines need their columns; `text`, `pytx` and `hex`
 * hold no id, so a line equal to the one before it is written once (entries sorted by algorithm
 * and hash, as `hashwarden export` reads them, come out once each); `hex` holds the algorithm of
 * its first entry only.
 */
class LineWriter {
  #previous = '';
  #algorithm: EntryAlgorithm | undefined;

  constructor(
    readonly format: ExportFormat,
    readonly columns: CsvColumns,
  ) {}

  line(entry: ListEntry, index: number): string {
    const line = this.#line(entry, index);
    if (this.format === 'csv' || this.format === 'ndjson' || this.format === 'pdq-tools') return line;
    if (line === this.#previous) return '';
    this.#previous = line;
    return line;
  }

  #line(entry: ListEntry, index: number): string {
    switch (this.format) {
      case 'csv':
        return this.columns.line(entry);
      case 'ndjson':
        return `${JSON.stringify({ id: entry.id, list: entry.list, algorithm: entry.algorithm, hash: entry.hash, label: entry.label, metadata: entry.metadata })}\n`;
      case 'text':
        return `${entry.algorithm} ${entry.hash}\n`;
      case 'pytx': {
        const type = PYTX_SIGNAL_TYPES[entry.algorithm];
        if (type === undefined) cannotHold('pytx', entry, index, 'python-threatexchange has no signal type for it');
        return `${type} ${entry.hash}\n`;
      }
      case 'hex':
        if (entry.algorithm === 'vpdq') cannotHold('hex', entry, index, 'a vPDQ hash is not one hex string');
        this.#algorithm ??= entry.algorithm;
        if (entry.algorithm !== this.#algorithm)
          cannotHold('hex', entry, index, `the file holds ${this.#algorithm} hashes`);
        return `${entry.hash}\n`;
      case 'pdq-tools':
        if (entry.algorithm !== 'pdq') cannotHold('pdq-tools', entry, index, 'the PDQ tools read PDQ hashes only');
        return `${entry.hash},${pdqQuality(entry)},${pdqMeta(entry.id)}\n`;
    }
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
 * A vPDQ entry's hash is python-threatexchange's signal text (JSON, with spaces): CSV quotes it,
 * NDJSON holds it as a string, and `text` writes `vpdq <signal>`, the signal running to the end
 * of the line; `hex` and `pdq-tools` cannot hold one.
 *
 * For other tools: `pytx` writes `pdq <hex>`, `video_md5 <hex>` and `vpdq <signal>`
 * (python-threatexchange's file collaboration); `hex` writes the bare hash of one algorithm (pytx `match --hashes`, a file
 * collaboration with its `signal_type` set, `hashwarden import --algorithm`); `pdq-tools` writes
 * `<hex>,<quality>,<id>` for PDQ (the PDQ C++ tools read `hash[,meta]`): the quality from a
 * `quality` metadata value that is an integer 0–100, else empty, and `%`, `,` and control
 * characters of the id percent-encoded. An entry the format cannot hold (a SHA-256 in `pytx`, a
 * second algorithm in `hex`, anything but PDQ in `pdq-tools`) throws `ERR_LIST_FORMAT`: leave
 * such entries out first (`hashwarden export` does, and counts them). `text`, `pytx` and `hex`
 * write a line equal to the one before it once: entries sorted by algorithm and hash come out
 * once each.
 *
 * @example
 * ```ts
 * await writeFile('export.csv', formatList(parsed.entries, 'csv'));
 * ```
 */
export function formatList(entries: Iterable<ListEntry>, format: ExportFormat): string {
  if (
    entries === null ||
    typeof entries !== 'object' ||
    typeof (entries as Iterable<ListEntry>)[Symbol.iterator] !== 'function'
  ) {
    invalid('iterable of list entries', 'entries', entries);
  }
  oneOf(format, EXPORT_FORMATS, 'format');
  const normalised: ListEntry[] = [];
  let index = 0;
  for (const entry of entries) normalised.push(normalizedAt(entry, ++index));
  const columns = new CsvColumns();
  if (format === 'csv') for (const entry of normalised) columns.add(entry);
  const writer = new LineWriter(format, columns);
  let out = format === 'csv' ? columns.header() : '';
  index = 0;
  for (const entry of normalised) out += writer.line(entry, ++index);
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
  format: ExportFormat,
  options?: { readonly mode?: number },
): Promise<number> {
  nonEmptyString(path, 'path', MAX_PATH_LENGTH);
  const mode = outputMode(optionsObject(options, 'options').mode ?? undefined, 'options.mode');
  if (typeof entries !== 'function') invalid('function returning the entries', 'entries', entries);
  oneOf(format, EXPORT_FORMATS, 'format');
  const columns = new CsvColumns();
  if (format === 'csv') {
    let index = 0;
    for (const entry of entries()) columns.add(normalizedAt(entry, ++index));
  }
  return writeOutputFile({ path, mode, code: 'ERR_OUTPUT_WRITE', what: '' }, async (file) => {
    const writer = new LineWriter(format, columns);
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
      chunk += writer.line(normalizedAt(entry, ++count), count);
      // About 64 KiB a write: the file is written as the entries come, never held whole.
      if (chunk.length >= 65536) await flush();
    }
    await flush();
    return count;
  });
}
