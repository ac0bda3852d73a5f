/**
 * The lines python-threatexchange (pytx) prints beyond `<signal type> <hash>`, read by the `text`
 * format, and pytx's names for hash types:
 *
 * - `hash --photo-preprocess rotations`: `<ROTATION> <signal type> <hash>` (ORIGINAL, ROTATE90, …),
 *   the rotation kept as metadata `rotation`;
 * - `dataset -P`: `'<collab>' <signal type> <hash> <metadata>` (the collaboration as a Python
 *   `repr`, left out with a single `-c`), kept as metadata `collab` and `details` (the text pytx
 *   prints for the signal's metadata).
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import type { RawRow } from './rows.js';

/** pytx's `--photo-preprocess rotations` names (its `RotationType`), in the order it prints them. */
const ROTATIONS = new Set([
  'ORIGINAL',
  'ROTATE90',
  'ROTATE180',
  'ROTATE270',
  'FLIPX',
  'FLIPY',
  'FLIPPLUS1',
  'FLIPMINUS1',
]);

// A Python repr of a string: quoted with ' (or " when it holds a '), backslash escapes inside.
const REPR = /^(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s+/s;
// The signal type and hash, then what pytx prints of the metadata (never a `#` comment).
const SIGNAL = /^(\S+)\s+(\S+)(?:\s+([^#\s].*))?$/s;

/**
 * Where the JSON array or object starting at `text[start]` ends (the index after its closing
 * bracket), or -1 when it does not close on the line: strings are skipped whole, escapes included,
 * so a bracket inside one does not count. Linear in the line, whatever it holds.
 */
function jsonValueEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

/** pytx's vPDQ signal type (its `VideoVPDQSignal.get_name()`), whose hash is JSON text with spaces. */
const VPDQ_TYPE = /^vpdq(?:\s|$)/i;

/**
 * The signal and what follows it of a `vpdq <signal> [<metadata>]` line (`rest` starts at the
 * type): the signal is the JSON array (or older object) after the type, brackets matched, since
 * it holds spaces; the metadata pytx prints after it, if any, is kept as `details`. A signal that
 * does not close takes the whole rest of the line, for the entry check to refuse.
 */
function vpdqSignal(rest: string): { hash: string; details?: string } {
  const text = rest.slice(4).trim();
  const end = text.startsWith('[') || text.startsWith('{') ? jsonValueEnd(text, 0) : -1;
  if (end < 0) return { hash: text };
  const details = text.slice(end).trim();
  return { hash: text.slice(0, end), ...(details === '' || details.startsWith('#') ? {} : { details }) };
}

/**
 * The row of a `text` line whose signal type is `vpdq` (after a pytx collaboration's repr, if
 * any), or undefined when the line is none: its signal is the rest of the line, spaces and all.
 *
 * @internal Used by the text format.
 * @example
 * ```ts
 * vpdqRow(`vpdq ${formatVpdqJson(frames)}`, 'l'); // { list: 'l', algorithm: 'vpdq', hash: '["…,100,0.0", …]' }
 * ```
 */
export function vpdqRow(line: string, list: string): RawRow | undefined {
  const repr = REPR.exec(line);
  const rest = repr === null ? line : line.slice(repr[0].length);
  if (!VPDQ_TYPE.test(rest)) return undefined;
  const { hash, details } = vpdqSignal(rest);
  const metadata: Record<string, string> = {};
  const collab = repr?.[1] ?? repr?.[2];
  if (collab !== undefined) metadata.collab = collab.replace(/\\(.)/gs, '$1');
  if (details !== undefined) metadata.details = details;
  return { list, algorithm: 'vpdq', hash, ...(Object.keys(metadata).length > 0 ? { metadata } : {}) };
}

/**
 * The row of a pytx line with more than two fields (trimmed), or undefined when it is none of
 * pytx's layouts; `algorithmName` is applied by the caller.
 *
 * @internal Used by the text format.
 * @example
 * ```ts
 * pytxRow(`ROTATE90 pdq ${hex}`, 'l'); // { list: 'l', algorithm: 'pdq', hash: hex, metadata: { rotation: 'ROTATE90' } }
 * ```
 */
export function pytxRow(line: string, list: string): RawRow | undefined {
  const space = line.search(/\s/);
  const first = line.slice(0, space);
  if (ROTATIONS.has(first)) {
    const rest = SIGNAL.exec(line.slice(space).trim());
    if (rest === null || rest[3] !== undefined) return undefined;
    return { list, algorithm: rest[1] ?? '', hash: rest[2] ?? '', metadata: { rotation: first } };
  }
  const repr = REPR.exec(line);
  const signal = SIGNAL.exec(repr === null ? line : line.slice(repr[0].length));
  if (signal === null) return undefined;
  const metadata: Record<string, string> = {};
  const collab = repr?.[1] ?? repr?.[2];
  if (collab !== undefined) metadata.collab = collab.replace(/\\(.)/gs, '$1');
  if (signal[3] !== undefined) metadata.details = signal[3];
  return { list, algorithm: signal[1] ?? '', hash: signal[2] ?? '', metadata };
}
