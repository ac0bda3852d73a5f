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
