/**
 * The formats list files are read in beyond the three hashwarden also writes (`csv`, `ndjson`,
 * `text`): the layouts of other tools and programmes, each parsed by a file of its own. Adding
 * one: its parser file, its line in {@link LINE_DIALECTS}, and its name in `ListReadFormat` and
 * `LIST_READ_FORMATS` (formats.ts; the compiler checks the table against the name). The names live
 * in formats.ts so that the options and results there need nothing of the parsers.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { parseChecksumRows } from './checksum.js';
import { parseNdjsonRows, parseTextRows } from './line-formats.js';
import { parseNcmecRows } from './ncmec-xml.js';
import { parsePdqHasherRows } from './pdq-hasher.js';
import { parseTeRows } from './te-rows.js';
import type { ListFormat, ListReadFormat } from './formats.js';
import type { RowSink } from './rows.js';

/** Read-only formats read by a reader of their own (a stream of JSON), not by a line parser. */
type NotLineBased = 'stopncii';

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
  // Not line-based: given the whole document at once (stream.ts gathers it first).
  ncmec: parseNcmecRows,
} as const satisfies Record<Exclude<ListReadFormat, ListFormat | NotLineBased>, LineParser>;

const LINE_PARSERS: Readonly<Record<Exclude<ListReadFormat, 'csv' | NotLineBased>, LineParser>> = {
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
export function lineParser(format: Exclude<ListReadFormat, 'csv' | NotLineBased>): LineParser {
  return LINE_PARSERS[format];
}
