/**
 * The `te` format: the headerless rows python-threatexchange 0.x wrote for its ThreatExchange
 * fetches and HMA 1.0 read as sample data (`hasher-matcher-actioner/sample_data/pdq.csv`, before
 * HMA 1.0 was removed): `<hash>,<ThreatExchange id>,<date>,<tags>`, one file per signal type, so
 * the rows do not name their algorithm (the algorithm option, else the hash's length).
 *
 * The ThreatExchange id is the entry's id (unique per indicator, so a later removal by id finds
 * it); the date is kept as metadata `date`, the space-separated tags as `tags` (text), and a
 * `disputed` tag (an opinion on ThreatExchange disputing the indicator) as `disputed: true`, a
 * boolean a policy or a reviewer can filter on. Disputed rows are imported: a dispute is a
 * signal to review, not a withdrawal, and leaving them out would let through what most members
 * still list.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { addCommentedLines, algorithmByLength, listError, type RawRow, type RowSink } from './rows.js';

// hash, numeric id, date, then the tags (the rest of the line; pytx wrote no quotes).
const TE_ROW = /^([0-9a-fA-F]+),(\d+),([^,]*),(.*)$/s;

function teRow(line: string, list: string, option: string | undefined): RawRow {
  const match = TE_ROW.exec(line);
  if (match === null) throw listError('Expected "<hash>,<ThreatExchange id>,<date>,<tags>"');
  const [, hash = '', id = '', date = '', tags = ''] = match;
  const metadata: Record<string, unknown> = {};
  if (date.trim() !== '') metadata.date = date.trim();
  const words = tags.trim().split(/\s+/).filter(Boolean);
  if (words.length > 0) metadata.tags = words.join(' ');
  if (words.includes('disputed')) metadata.disputed = true;
  return { id, list, algorithm: algorithmByLength(hash, option), hash, metadata };
}

/**
 * Parses `.te` rows into a sink; blank lines and `#` comments are skipped.
 *
 * @internal Registered in `read-formats.ts`.
 * @example
 * ```ts
 * parseTeRows(`${hex},2880742865368386,2020-07-31T18:47:52+0000,disputed media_type_photo\n`, sink);
 * ```
 */
export function parseTeRows(text: string, sink: RowSink, firstLine = 1): void {
  const { list, algorithm } = sink.options;
  addCommentedLines(text, sink, firstLine, (trimmed) => teRow(trimmed, list, algorithm));
}

/**
 * True when `line` is surely a `.te` row: a hash, a numeric id and an ISO date.
 *
 * @internal Used by `detectListFormat`.
 */
export function looksLikeTeRow(line: string): boolean {
  return /^[0-9a-fA-F]{32,},\d+,\d{4}-\d\d-\d\dT/.test(line);
}
