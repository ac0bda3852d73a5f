/**
 * Which format a list file is in, when the caller does not say: by its first line where that is
 * unambiguous (another tool's layout), else by extension, else sniffed. Apart from formats.ts so
 * that the options and results there import nothing of the parsers whose layouts it recognises.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { extname } from 'node:path';
import { invalid } from '../validate.js';
import { looksLikeChecksumLine } from './checksum.js';
import { looksLikeNcmecXml } from './ncmec-xml.js';
import { stripBom, type ListReadFormat } from './formats.js';
import { looksLikePdqHasherLine } from './pdq-hasher.js';
import { looksLikeStopncii } from './stopncii.js';
import { looksLikeTeRow } from './te-rows.js';

const NDJSON_EXTENSIONS = new Set(['.ndjson', '.jsonl', '.json-lines']);

/** The first line that is not blank, found without splitting the whole text. */
function firstContentLine(text: string): string | undefined {
  let found: string | undefined;
  let start = 0;
  while (found === undefined && start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    if (line !== '') found = line;
    start = end + 1;
  }
  return found;
}

/**
 * The format of a list file: `stopncii` when `head` starts (after white space) with `[` or with an
 * object whose top-level keys before any nested value include `hashRecords` (StopNCII's records, or a
 * `FetchHashes` answer; an NDJSON row never has that key); `te` when the first non-blank line of `head` is a pytx 0.x / HMA 1.0
 * row (`<hash>,<id>,<ISO date>,…`; a CSV file's first line is a header, never that), else by
 * extension (`.csv`; `.ndjson`, `.jsonl`, `.json-lines`),
 * otherwise sniffed from the first non-blank line of `head`: `<?xml` or `<queryResult` means
 * `ncmec` (NCMEC's XML), a PDQ hasher's line
 * (`<64 hex>,<quality>,…` or `hash=<64 hex>,norm=…`) means `pdq`, a checksum tool's line
 * (`<hex>  <file>` with a hash length some algorithm has, or `SHA256 (<file>) = <hex>`)
 * `checksum`, in a `.txt` file too (which is otherwise `text`); then `#` means text, `{` NDJSON,
 * a line with a comma and the word `hash` or `signal_str` (or just `hash`) a CSV header, anything else text.
 * Default `text` when there is nothing to sniff.
 *
 * @example
 * ```ts
 * detectListFormat('hashes.jsonl');                  // 'ndjson'
 * detectListFormat('export.dat', 'id,hash,type\n…'); // 'csv'
 * detectListFormat('list', 'md5 d41d8cd98f00b204e9800998ecf8427e'); // 'text'
 * detectListFormat('SUMS', 'd41d8cd98f00b204e9800998ecf8427e  a.jpg'); // 'checksum'
 * ```
 */
export function detectListFormat(path: string, head?: string): ListReadFormat {
  if (typeof path !== 'string') invalid('string', 'path', path);
  if (head !== undefined && typeof head !== 'string') invalid('string', 'head', head);
  const extension = extname(path).toLowerCase();
  const line = head === undefined ? undefined : firstContentLine(stripBom(head));
  // A JSON document, whatever its extension: its records may span lines, so the whole head is looked at.
  if (head !== undefined && looksLikeStopncii(stripBom(head))) return 'stopncii';
  // A `.te` file is often called `.csv` (HMA 1.0's `pdq.csv`), but a CSV file's first line is a
  // header, never a hash: sniffed first.
  if (line !== undefined && !NDJSON_EXTENSIONS.has(extension) && looksLikeTeRow(line)) return 'te';
  switch (extension) {
    case '.csv':
      return 'csv';
    case '.ndjson':
    case '.jsonl':
    case '.json-lines':
      return 'ndjson';
  }
  if (line === undefined) return 'text';
  // No list format starts with `<`: an XML document is NCMEC's (whatever its extension, `.xml` or `.txt`).
  if (looksLikeNcmecXml(line)) return 'ncmec';
  // Other tools' lines first, in a `.txt` file too (their output is often saved as one, and the
  // text format refuses them): a PDQ details line holds the word hash and commas, like a header.
  if (looksLikePdqHasherLine(line)) return 'pdq';
  if (looksLikeChecksumLine(line)) return 'checksum';
  if (extension === '.txt' || line.startsWith('#')) return 'text';
  if (line.startsWith('{')) return 'ndjson';
  if ((line.includes(',') && /\b(hash|signal_str)\b/i.test(line)) || /^"?hash"?$/i.test(line)) return 'csv';
  return 'text';
}
