/**
 * The two line formats of list files: NDJSON (one JSON object a line, unknown fields kept as
 * metadata) and text (`<algorithm> <hex>`, bare `<hex>` with the algorithm option, `#` comments,
 * `vpdq <signal>` with python-threatexchange's signal text, spaces and all, to the end of the line).
 * Each parser takes a run of whole lines, so the streaming reader can hand them a chunk at a time.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import type { ResolvedParseOptions } from './formats.js';
import { hashOutputRows } from './hash-output.js';
import { pytxRow, vpdqRow } from './pytx.js';
import {
  addCommentedLines,
  ALGORITHM_KEYS,
  algorithmName,
  forEachLine,
  ignoredCategory,
  isHashLength,
  listError,
  present,
  type RawRow,
  type RowSink,
} from './rows.js';
import { isTatRecord, TAT_HASH_KEY, tatAlgorithm, tatDeleted, tatId } from './tat.js';

const HEX = /^[0-9a-f]+$/i;

// `op` is read, not kept: as metadata it would say "remove" on an entry that was added.
const ENTRY_KEYS = new Set<string>(['id', 'list', 'label', 'hash', 'op']);

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
function objectRow(object: Record<string, unknown>, options: ResolvedParseOptions): RawRow {
  const algorithmKey = ALGORITHM_KEYS.find((key) => Object.hasOwn(object, key));
  // Tech Against Terrorism's hash list names the hash `hash_digest` (its `TATHashListEntry`).
  const tat = isTatRecord(object);
  const hashKey = tat ? TAT_HASH_KEY : 'hash';
  // TAT marks a withdrawn hash `deleted: true`: a removal, as an `op` of remove.
  const deleted = tat && tatDeleted(object) && !present(object.op);
  const extra: [string, unknown][] = [];
  for (const [key, value] of Object.entries(object)) {
    if (key !== algorithmKey && key !== hashKey && key !== 'metadata' && !ENTRY_KEYS.has(key)) extra.push([key, value]);
  }
  let metadata: Record<string, unknown> | undefined = extra.length > 0 ? Object.fromEntries(extra) : undefined;
  const nested = object.metadata;
  if (nested !== undefined && nested !== null) {
    if (typeof nested !== 'object' || Array.isArray(nested))
      throw listError(`Expected an object for metadata but found ${jsonType(nested)}`);
    metadata = { ...metadata, ...(nested as Record<string, unknown>) };
  }
  const named = algorithmKey === undefined ? undefined : object[algorithmKey];
  const algorithm = tat ? tatAlgorithm(named) : algorithmName(named);
  const ignore = ignoredCategory(object.category);
  // normalizeEntry checks the types; the casts only say what it will accept.
  const id = tat ? tatId(object.id) : object.id;
  return {
    id: id as string | undefined,
    list: (present(object.list) ? object.list : options.list) as string,
    algorithm: (present(algorithm) ? algorithm : (options.algorithm ?? '')) as string,
    hash: object[hashKey] as string,
    label: object.label as string | undefined,
    metadata,
    op: deleted ? 'remove' : object.op,
    ...(ignore === undefined ? {} : { ignore }),
  };
}

/**
 * Parses NDJSON lines into a sink; `firstLine` is the line number of the text's first line.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * parseNdjsonRows(bytes.toString('utf8'), sink, 1001);
 * ```
 */
export function parseNdjsonRows(text: string, sink: RowSink, firstLine = 1): void {
  forEachLine(
    text,
    (line, content) => {
      const json = content.trim();
      if (json === '') return;
      let value: unknown;
      try {
        value = JSON.parse(json);
      } catch (error) {
        sink.add(line, () => {
          throw listError(`Invalid JSON: ${(error as Error).message}`);
        });
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        sink.add(line, () => {
          throw listError(`Expected a JSON object but found ${jsonType(value)}`);
        });
        return;
      }
      const object = value as Record<string, unknown>;
      const several = hashOutputRows(object, sink.options);
      if (several === undefined) sink.add(line, () => objectRow(object, sink.options));
      else for (const build of several) sink.add(line, build);
    },
    firstLine,
  );
}

/**
 * Parses text lines (`<algorithm> <hex>`, bare `<hex>` with the algorithm option, `#` comments)
 * into a sink; `firstLine` is the line number of the text's first line.
 *
 * @internal Shared with `stream.ts`.
 * @example
 * ```ts
 * parseTextRows('pdq 7a1b…\nvideo_md5 0cc1…\n', sink);
 * ```
 */
export function parseTextRows(text: string, sink: RowSink, firstLine = 1): void {
  const { list, algorithm } = sink.options;
  addCommentedLines(text, sink, firstLine, (trimmed) => {
    const fields = trimmed.split(/\s+/);
    const [first = '', second] = fields;
    // A hash where the algorithm should be is a checksum tool's line: say so, rather than
    // report the hash as an unknown algorithm's name.
    if (second !== undefined && isHashLength(first.length) && HEX.test(first)) {
      throw listError(
        'Expected "<algorithm> <hash>" but the line starts with a hash: a checksum tool\'s "<hash>  <file>" line? Read the file with --format checksum',
      );
    }
    if (fields.length > 2) {
      // A vPDQ signal is JSON with spaces: the rest of the line, not one field.
      const video = vpdqRow(trimmed, list);
      if (video !== undefined) return video;
      const row = pytxRow(trimmed, list);
      if (row === undefined) throw listError(`Expected "<algorithm> <hash>" but found ${fields.length} fields`);
      return { ...row, algorithm: algorithmName(row.algorithm) };
    }
    if (second !== undefined) return { list, algorithm: algorithmName(first), hash: second };
    if (algorithm === undefined)
      throw listError('Missing algorithm: expected "<algorithm> <hash>" (or give the algorithm option)');
    return { list, algorithm, hash: first };
  });
}
