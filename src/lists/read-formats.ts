/**
 * The formats list files are read in beyond the three hashwarden also writes (`csv`, `ndjson`,
 * `text`): the layouts of other tools and programmes, each parsed by a file of its own. Adding
 * one: its parser file, and one line in {@link LINE_DIALECTS}.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { parseChecksumRows } from './checksum.js';
import { parseNdjsonRows, parseTextRows } from './line-formats.js';
import { parsePdqHasherRows } from './pdq-hasher.js';
import { parseTeRows } from './te-rows.js';
import type { ListFormat } from './formats.js';
import type { RowSink } from './rows.js';

/** A parser of a run of whole lines into a sink; `firstLine` is the line number of the first. */
export type LineParser = (text: string, sink: RowSink, firstLine?: number) => void;

/**
 * The line-based read-only formats, by their `--format` name.
 *
 * @internal Shared with `parse.ts` and `stream.ts`.
 */
export const LINE_DIALECTS = {
  checksum: parseChecksumRows,
  pdq: parsePdqHasherRows,
  te: parseTeRows,
} as const satisfies Record<string, LineParser>;

/**
 * A format the list readers accept: one of `LIST_FORMATS` (also written), or a read-only one
 * (`checksum`: `md5sum`/`sha256sum`/BSD checksum-tool lines; `pdq`: the PDQ hashers'
 * `hash,quality,filename` and `hash=…,quality=…` lines; `te`: pytx 0.x / HMA 1.0 `hash,id,date,tags`
 * rows).
 *
 * @example
 * ```ts
 * const format: ListReadFormat = flags.format ?? 'checksum';
 * ```
 */
export type ListReadFormat = ListFormat | keyof typeof LINE_DIALECTS;

/**
 * Every format the list readers accept (`--format` of `hashwarden import`).
 *
 * @example
 * ```ts
 * LIST_READ_FORMATS.includes(flag as ListReadFormat);
 * ```
 */
// The written formats spelt out, not LIST_FORMATS: formats.ts imports this file, so its values are
// not there yet while this one is evaluated.
export const LIST_READ_FORMATS: readonly ListReadFormat[] = Object.freeze([
  'csv',
  'ndjson',
  'text',
  ...(Object.keys(LINE_DIALECTS) as (keyof typeof LINE_DIALECTS)[]),
]);

const LINE_PARSERS: Readonly<Record<Exclude<ListReadFormat, 'csv'>, LineParser>> = {
  ndjson: parseNdjsonRows,
  text: parseTextRows,
  ...LINE_DIALECTS,
};

/**
 * The parser of a line-based format (every one but CSV, whose records may span lines).
 *
 * @internal Shared with `parse.ts` and `stream.ts`.
 * @example
 * ```ts
 * lineParser('checksum')(text, sink, 1);
 * ```
 */
export function lineParser(format: Exclude<ListReadFormat, 'csv'>): LineParser {
  return LINE_PARSERS[format];
}
