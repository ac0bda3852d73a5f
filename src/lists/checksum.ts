/**
 * The `checksum` format: the lines checksum tools write, a hash and the file it is of.
 *
 * - GNU coreutils (`md5sum`, `sha1sum`, `sha256sum`) and blockhash's tools: `<hex>  <file>`, or
 *   `<hex> *<file>` (binary mode); a line starting with `\` has its name escaped (`\\`, `\n`).
 * - BSD and `--tag` (`md5 -r` aside): `SHA256 (<file>) = <hex>`, and OpenSSL's `SHA256(<file>)= <hex>`.
 * - `<file> <hash>`, the hash last (some SUMS files, `md5 -r`).
 *
 * The file name is kept as metadata (`file`). The algorithm is the BSD tag's, else told by the
 * hash's length where only one algorithm has it (32 hex digits: md5, 40: sha1); 64 digits are
 * PDQ, blockhash or SHA-256 alike, so such rows need the algorithm option (`algorithmByLength`).
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { addCommentedLines, algorithmByLength, isHashLength, listError, type RawRow, type RowSink } from './rows.js';

// A GNU line: the hash, one space, then a space (text mode) or `*` (binary mode), then the name.
const GNU = /^\\?([0-9a-fA-F]+) [ *](.+)$/s;
// A BSD or OpenSSL line: `TAG (name) = hash`, spaces optional around the parenthesis and `=`.
const BSD = /^([A-Za-z][A-Za-z0-9-]*) ?\((.*)\) ?= ?([0-9a-fA-F]+)$/s;
// The name first, the hash last.
const REVERSED = /^(.*?\S)\s+([0-9a-fA-F]+)$/s;

/** A GNU escaped name (its line starts with `\`): `\\` is a backslash, `\n` a line feed. */
function unescapeName(name: string): string {
  return name.replace(/\\(\\|n)/g, (_match, c: string) => (c === 'n' ? '\n' : '\\'));
}

function checksumRow(line: string, list: string, option: string | undefined): RawRow {
  const bsd = BSD.exec(line);
  if (bsd !== null) {
    const [, tag = '', file = '', hash = ''] = bsd;
    return { list, algorithm: tag.replace(/-/g, ''), hash, metadata: { file } };
  }
  const gnu = GNU.exec(line);
  const reversed = gnu === null ? REVERSED.exec(line) : null;
  if (gnu === null && reversed === null)
    throw listError('Expected "<hash>  <file>", "<TAG> (<file>) = <hash>" or "<file> <hash>"');
  const hash = (gnu === null ? reversed?.[2] : gnu[1]) ?? '';
  let file = (gnu === null ? reversed?.[1] : gnu[2]) ?? '';
  if (gnu !== null && line.startsWith('\\')) file = unescapeName(file);
  return { list, algorithm: algorithmByLength(hash, option), hash, metadata: { file } };
}

/**
 * Parses checksum-tool lines into a sink; blank lines and `#` comments are skipped.
 *
 * @internal Registered in `read-formats.ts`.
 * @example
 * ```ts
 * parseChecksumRows('0cc175b9c0f1b6a831c399e269772661  a.jpg\n', sink); // md5, metadata { file: 'a.jpg' }
 * ```
 */
export function parseChecksumRows(text: string, sink: RowSink, firstLine = 1): void {
  const { list, algorithm } = sink.options;
  addCommentedLines(text, sink, firstLine, (trimmed) => checksumRow(trimmed, list, algorithm));
}

/**
 * True when `line` (trimmed, not blank) is surely a checksum-tool line and not a `text` one: a GNU
 * line whose hash has the length of a known algorithm, or a BSD one. `<file> <hash>` is not
 * sniffed: `pdq <hex>` has that shape too.
 *
 * @internal Used by `detectListFormat`.
 */
export function looksLikeChecksumLine(line: string): boolean {
  const gnu = GNU.exec(line);
  if (gnu !== null) return isHashLength(gnu[1]?.length ?? 0);
  return BSD.test(line);
}
