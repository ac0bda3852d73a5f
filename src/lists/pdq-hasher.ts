/**
 * The `pdq` format: what the PDQ hashers of facebook/ThreatExchange print, one image a line, no
 * header (pdq/cpp, pdq/java, pdq/python and pdq/golang READMEs):
 *
 * - `<hash>,<quality>,<filename>`, the default output;
 * - `hash=<hash>,norm=<n>,delta=<n>,quality=<n>,…,filename=<filename>`, pdq-photo-hasher's
 *   `--details` (and the Go hasher's `-detailed`).
 *
 * Every row is a PDQ hash. The quality is kept as a number in metadata (`quality`), and so are the
 * other numeric fields of a details line (`norm`, `delta`); the file name as `file`, as the
 * checksum format keeps it. The file name is the rest of the line, commas and all.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { addCommentedLines, listError, type RawRow, type RowSink } from './rows.js';

// The default line: hash, an integer quality, then the file name (which may hold commas).
const PLAIN = /^([0-9a-fA-F]+),(-?\d+),(.*)$/s;
// A field of a details line.
const FIELD = /^([A-Za-z_]+)=(.*)$/s;
const INTEGER = /^-?\d+$/;

function detailsRow(line: string, list: string): RawRow {
  const metadata: Record<string, unknown> = {};
  let hash: string | undefined;
  let rest = line;
  while (rest !== '') {
    // The file name is last and may hold commas: it takes the rest of the line.
    const comma = rest.startsWith('filename=') ? -1 : rest.indexOf(',');
    const field = comma < 0 ? rest : rest.slice(0, comma);
    rest = comma < 0 ? '' : rest.slice(comma + 1);
    const match = FIELD.exec(field);
    if (match === null) throw listError(`Expected "name=value" fields but found ${JSON.stringify(field.slice(0, 40))}`);
    const [, key = '', value = ''] = match;
    if (key === 'hash') hash = value;
    else if (key === 'filename') metadata.file = value;
    else metadata[key] = INTEGER.test(value) ? Number(value) : value;
  }
  if (hash === undefined) throw listError('Missing hash: expected "hash=<hex>,…"');
  return { list, algorithm: 'pdq', hash, metadata };
}

function pdqRow(line: string, list: string): RawRow {
  if (line.startsWith('hash=')) return detailsRow(line, list);
  const plain = PLAIN.exec(line);
  if (plain === null) throw listError('Expected "<hash>,<quality>,<filename>" or "hash=<hex>,…,quality=<n>,…"');
  const [, hash = '', quality = '', file = ''] = plain;
  return {
    list,
    algorithm: 'pdq',
    hash,
    metadata: file === '' ? { quality: Number(quality) } : { quality: Number(quality), file },
  };
}

/**
 * Parses the PDQ hashers' lines into a sink; blank lines and `#` comments are skipped.
 *
 * @internal Registered in `read-formats.ts`.
 * @example
 * ```ts
 * parsePdqHasherRows(`${hex},100,bridge.jpg\n`, sink); // pdq, metadata { quality: 100, file: 'bridge.jpg' }
 * ```
 */
export function parsePdqHasherRows(text: string, sink: RowSink, firstLine = 1): void {
  const { list } = sink.options;
  addCommentedLines(text, sink, firstLine, (trimmed) => pdqRow(trimmed, list));
}

/**
 * True when `line` is surely a PDQ hasher's line: 64 hex digits, a comma and a quality, or a
 * details line. (A CSV header names its columns; these lines begin with data.)
 *
 * @internal Used by `detectListFormat`.
 */
export function looksLikePdqHasherLine(line: string): boolean {
  return /^(hash=)?[0-9a-fA-F]{64},(-?\d+,|norm=)/.test(line);
}
