/**
 * What the list-reader fuzz tests (formats.fuzz.test.ts, stream.fuzz.test.ts) share: valid list
 * files to start from (formatList's output for random entries, delta files with an `op` column,
 * text with comments, bare hex and vPDQ signal lines), their mutations, random bytes, and the checks of what a
 * reader may give back: normalised entries, or an `ERR_LIST_FORMAT` error naming `source:line`.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { ALGORITHM_NAMES, getAlgorithm } from '../algorithms/registry.js';
import { formatVpdqJson, parseVpdqJson } from '../algorithms/vpdq.js';
import { HashwardenError } from '../errors.js';
import { LIST_FORMATS, type ListFormat } from '../lists/formats.js';
import { formatList } from '../lists/write.js';
import { MAX_FIELD_LENGTH, normalizeEntry, type ListEntry } from '../lists/entry.js';
import { listEntries } from './list-entries.js';
import { vpdqFrameArrays } from './vpdq-entries.js';
import { mutated, type Mutation } from './mutate.js';
import { expectRowError } from './row-errors.js';

const encoder = new TextEncoder();

/** Texts the formats must quote or escape, for ids, labels and metadata. */
const SPECIALS = ['a,b', 'say "hi"', '"', 'two\nlines', 'crlf\r\ninside', 'ünïcödé', '#hash', '{"x":1}', 'tab\there'];

/** A valid hash of `algorithm` in any case, with white space around it sometimes. */
function hashText(): fc.Arbitrary<{ algorithm: string; hash: string }> {
  return fc
    .tuple(
      fc.constantFrom(...ALGORITHM_NAMES),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.boolean(),
      fc.constantFrom('', ' ', '\t'),
    )
    .map(([algorithm, bytes, upper, pad]) => {
      const hex = Buffer.from(bytes.subarray(0, getAlgorithm(algorithm).bits / 8)).toString('hex');
      return {
        algorithm: upper ? algorithm.toUpperCase() : algorithm,
        hash: `${pad}${upper ? hex.toUpperCase() : hex}${pad}`,
      };
    });
}

/** A delta file: CSV or NDJSON rows with an `op` of add, remove, delete (any case) or nothing. */
function deltaFile(): fc.Arbitrary<{ format: ListFormat; text: string }> {
  const op = fc.constantFrom('add', 'remove', 'Delete', '', 'ADD');
  const row = fc.record({
    op,
    id: fc.option(fc.constantFrom('x1', 'x2', 'y', 'ü'), { nil: undefined }),
    hash: hashText(),
  });
  return fc
    .tuple(fc.constantFrom<ListFormat>('csv', 'ndjson'), fc.array(row, { maxLength: 8 }), fc.constantFrom('\n', '\r\n'))
    .map(([format, rows, eol]) => {
      if (format === 'csv') {
        return {
          format,
          text: `op,id,algorithm,hash\n${rows.map((r) => `${r.op},${r.id ?? ''},${r.hash.algorithm},${r.hash.hash}`).join(eol)}${eol}`,
        };
      }
      return {
        format,
        text: rows
          .map((r) => `${JSON.stringify({ op: r.op, id: r.id, type: r.hash.algorithm, hash: r.hash.hash })}${eol}`)
          .join(''),
      };
    });
}

/**
 * Text lines: `<algorithm> <hex>`, bare hex (read with the algorithm option), `vpdq <signal>` (in
 * pytx's spacing or none, the type in any case), comments, blanks.
 */
function textFile(): fc.Arbitrary<{ format: ListFormat; text: string }> {
  const line = fc.oneof(
    hashText().map(({ algorithm, hash }) => `${algorithm} ${hash}`),
    fc
      .tuple(vpdqFrameArrays(3), fc.boolean(), fc.constantFrom('vpdq', 'VPDQ', "'collab' vpdq"))
      .map(([frames, compact, type]) => {
        const signal = formatVpdqJson(frames);
        return `${type} ${compact ? signal.replaceAll(', ', ',') : signal}`;
      }),
    hashText().map(({ hash }) => hash),
    fc.constantFrom('# a comment', '', '   ', 'photo_md5 0cc175b9c0f1b6a831c399e269772661'),
  );
  return fc
    .array(line, { maxLength: 12 })
    .map((lines) => ({ format: 'text' as const, text: lines.map((l) => `${l}\n`).join('') }));
}

/** A valid list file of some format: formatList's output, a delta file, or text lines. */
function validListFile(): fc.Arbitrary<{ readonly format: ListFormat; readonly bytes: Uint8Array }> {
  const written = fc
    .tuple(fc.constantFrom(...LIST_FORMATS), fc.array(listEntries(SPECIALS), { maxLength: 10 }))
    .map(([format, entries]) => ({ format, text: formatList(entries, format) }));
  return fc
    .oneof(
      { weight: 4, arbitrary: written },
      { weight: 2, arbitrary: deltaFile() },
      { weight: 2, arbitrary: textFile() },
    )
    .chain(({ format, text }) =>
      fc.boolean().map((bom) => ({ format, bytes: encoder.encode(`${bom ? '\uFEFF' : ''}${text}`) })),
    );
}

/** How a fuzzed list file came about: shown by fast-check with a failure. */
export interface FuzzedListFile {
  readonly format: ListFormat | undefined;
  readonly bytes: Uint8Array;
  readonly edits: readonly Mutation[];
}

/**
 * A list file to read: mostly a valid file with up to four edits, sometimes random bytes. `format`
 * is the format it was written in (undefined for random bytes).
 */
export function fuzzedListFile(): fc.Arbitrary<FuzzedListFile> {
  const fromValid = validListFile().chain(({ format, bytes }) =>
    mutated(fc.constant(bytes)).map((m) => ({ format: format as ListFormat | undefined, ...m })),
  );
  const random = fc
    .uint8Array({ maxLength: 400 })
    .map((bytes) => ({ format: undefined, bytes, edits: [] as Mutation[] }));
  const randomText = fc
    .string({ unit: 'grapheme', maxLength: 200 })
    .map((text) => ({ format: undefined, bytes: encoder.encode(text), edits: [] as Mutation[] }));
  return fc.oneof(
    { weight: 8, arbitrary: fromValid },
    { weight: 1, arbitrary: random },
    { weight: 1, arbitrary: randomText },
  );
}

/** Reader options: a format given or detected, an algorithm option or not, either policy. */
export function readerOptions(): fc.Arbitrary<{
  readonly format: ListFormat | undefined;
  readonly algorithm: string | undefined;
  readonly onError: 'fail' | 'skip';
}> {
  return fc.record({
    format: fc.option(fc.constantFrom(...LIST_FORMATS), { nil: undefined }),
    algorithm: fc.option(fc.constantFrom('md5', 'PDQ', ' sha256 '), { nil: undefined }),
    onError: fc.constantFrom('fail' as const, 'skip' as const),
  });
}

/** Physical lines of `bytes` (line feeds + 1): no row can start beyond. */
export function lineCount(bytes: Uint8Array): number {
  let n = 1;
  for (const b of bytes) if (b === 10) n++;
  return n;
}

function normalField(value: unknown): void {
  expect(typeof value).toBe('string');
  const text = value as string;
  expect(text.length).toBeGreaterThan(0);
  expect(text.length).toBeLessThanOrEqual(MAX_FIELD_LENGTH);
  expect(text.trim()).toBe(text);
}

/** Asserts `entry` is in normal form: what normalizeEntry gives for it is itself. */
export function expectNormalEntry(entry: ListEntry): void {
  normalField(entry.list);
  normalField(entry.id);
  if (entry.label !== undefined) normalField(entry.label);
  if (entry.algorithm === 'vpdq') {
    // The signal text as formatVpdqJson writes it: read and written again, it is itself.
    expect(formatVpdqJson(parseVpdqJson(entry.hash))).toBe(entry.hash);
    expect(normalizeEntry(entry)).toEqual(entry);
    return;
  }
  const algorithm = getAlgorithm(entry.algorithm);
  expect(entry.algorithm).toBe(algorithm.name);
  expect(entry.hash).toMatch(new RegExp(`^[0-9a-f]{${algorithm.bits / 4}}$`));
  if (entry.metadata !== undefined) {
    expect(typeof entry.metadata === 'object' && entry.metadata !== null && !Array.isArray(entry.metadata)).toBe(true);
    expect(Object.keys(entry.metadata).length).toBeGreaterThan(0);
  }
  expect(normalizeEntry(entry)).toEqual(entry);
}

/**
 * Asserts `error` is what a reader may throw for bad input: an `ERR_LIST_FORMAT` HashwardenError
 * whose message starts `source:line: ` with a line of the file. Returns the line.
 */
export function expectListError(error: unknown, source: string, lines: number): number {
  if (!(error instanceof HashwardenError))
    throw new Error(`expected a HashwardenError, got ${String(error)}`, { cause: error });
  const match = /^(\d+): /.exec(error.message.slice(source.length + 1));
  expect(match, error.message).not.toBeNull();
  const line = Number(match?.[1]);
  expectRowError(error, source, line);
  expect(line).toBeGreaterThanOrEqual(1);
  expect(line).toBeLessThanOrEqual(lines);
  return line;
}
