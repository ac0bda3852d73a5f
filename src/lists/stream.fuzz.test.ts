/**
 * Fuzz tests of the list file readers on disk (docs/fuzzing.md): streamListFile against
 * readListFile on the same mutated or random files (flips, truncation, quotes, commas, line ends,
 * BOM, NUL, invalid UTF-8, lines past the 64 KiB chunk), with random names, options and batch
 * sizes. The stream must be well formed (batch sizes, increasing lines, bytes read, a summary that
 * adds up) and read what readListFile reads: the same entries, the same bad rows on the same lines
 * (beyond those only a whole-file reader sees: remove rows and repeated ids), the same refusals.
 * Bad options of either reader are argument errors at the call.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { MAX_ROW_PROBLEMS, type ParsedList } from './formats.js';
import { readListFile } from './parse.js';
import { streamListFile, type ListRow, type ListStreamSummary, type StreamListOptions } from './stream.js';
import { hasDefaultId, type ListEntry } from './entry.js';
import { expectListError, expectNormalEntry, fuzzedListFile, lineCount, readerOptions } from '../testing/list-fuzz.js';
import { fuzzParameters, fuzzTestTimeout, isArgumentError } from '../testing/fuzz.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-stream-fuzz-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function fileOf(bytes: Uint8Array, extension: string): Promise<string> {
  const path = join(dir, `${++files}${extension}`);
  await writeFile(path, bytes);
  return path;
}

interface Streamed {
  readonly rows: readonly ListRow[];
  readonly problemLines: readonly number[];
  readonly summary: ListStreamSummary;
}

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

async function attempt<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Reads the whole stream, checking each batch as it comes. */
async function stream(
  path: string,
  size: number,
  lines: number,
  options: StreamListOptions,
  batchSize: number,
): Promise<Streamed> {
  const reader = streamListFile(path, options);
  const rows: ListRow[] = [];
  const problemLines: number[] = [];
  let bytesRead = 0;
  let last: { bytesRead: number } | undefined;
  for (;;) {
    const step = await reader.next();
    if (step.done) {
      const summary = step.value;
      if (last !== undefined) expect(last.bytesRead).toBe(size);
      expect(summary.adds).toBe(rows.filter((r) => r.op === 'add').length);
      expect(summary.removes).toBe(rows.length - summary.adds);
      expect(summary.rows).toBe(summary.adds + summary.removes + summary.skippedCount);
      expect(problemLines.length).toBe(Math.min(summary.skippedCount, MAX_ROW_PROBLEMS));
      if (options.onError !== 'skip') expect(summary.skippedCount).toBe(0);
      return { rows, problemLines, summary };
    }
    const batch = step.value;
    expect(batch.rows.length).toBeLessThanOrEqual(batchSize);
    expect(batch.rows.length + batch.problems.length).toBeGreaterThan(0);
    expect(batch.bytesTotal).toBe(size);
    expect(batch.bytesRead).toBeGreaterThanOrEqual(bytesRead);
    expect(batch.bytesRead).toBeLessThanOrEqual(size);
    bytesRead = batch.bytesRead;
    last = batch;
    for (const row of batch.rows) {
      expect(row.line).toBeGreaterThan(rows.at(-1)?.line ?? 0);
      expect(row.line).toBeLessThanOrEqual(lines);
      if (row.op === 'add') expectNormalEntry(row.entry);
      else for (const text of [row.list, row.id]) expect(text.length > 0 && text.trim() === text).toBe(true);
      rows.push(row);
    }
    for (const problem of batch.problems) {
      expect(problem.source).toBe(path);
      expect(problem.line).toBeGreaterThan(problemLines.at(-1) ?? 0);
      expect(expectListError(problem.error, path, lines)).toBe(problem.line);
      problemLines.push(problem.line);
    }
  }
}

const key = (list: string, id: string): string => `${list}\0${id}`;

/**
 * What readListFile must hold given the stream, under `skip`: the adds (a repeated (list, id) is a
 * bad row there, at its line, unless both rows have their default id: merged), and as bad rows the
 * stream's, the removals and the repeats.
 */
function expectSameRead(parsed: ParsedList, streamed: Streamed): void {
  // (list, id) → whether the first row with it had its default id.
  const seen = new Map<string, boolean>();
  const entries: ListEntry[] = [];
  const badLines = new Set(streamed.problemLines);
  for (const row of streamed.rows) {
    if (row.op === 'remove') {
      badLines.add(row.line);
      continue;
    }
    const k = key(row.entry.list, row.entry.id);
    const first = seen.get(k);
    if (first !== undefined) {
      // A repeat of the same row without an id is merged (dedupe 'merge'), any other is bad.
      if (!(first && hasDefaultId(row.entry))) badLines.add(row.line);
      continue;
    }
    seen.set(k, hasDefaultId(row.entry));
    entries.push(row.entry);
  }
  expect(parsed.entries).toEqual(entries);
  expect(parsed.rows).toBe(streamed.summary.rows);
  expect(parsed.ignored).toBe(streamed.summary.ignored);
  expect(parsed.skippedCount).toBe(streamed.summary.rows - entries.length - parsed.merged - parsed.ignored);
  if (parsed.skippedCount <= MAX_ROW_PROBLEMS)
    expect(parsed.skipped.map((p) => p.line)).toEqual([...badLines].sort((a, b) => a - b));
}

/** The `path:line:` a list error starts with. */
function where(error: unknown): string {
  return /^(.*?:\d+):/s.exec((error as Error).message)?.[1] ?? `no line in ${String(error)}`;
}

describe('streamListFile fuzz', () => {
  it(
    'streams well-formed batches and reads what readListFile reads, whatever the bytes',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fuzzedListFile(),
          readerOptions(),
          fc.constantFrom('.csv', '.ndjson', '.txt', '', '.dat'),
          fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(10_000)),
          async (file, o, extension, batchSize) => {
            const path = await fileOf(file.bytes, extension);
            const lines = lineCount(file.bytes);
            const base = {
              list: 'fuzz',
              ...(o.format === undefined ? {} : { format: o.format }),
              ...(o.algorithm === undefined ? {} : { algorithm: o.algorithm }),
            };
            const skip = { ...base, onError: 'skip' as const };
            const streamed = await attempt(stream(path, file.bytes.length, lines, { ...skip, batchSize }, batchSize));
            const read = await attempt(readListFile(path, skip));
            if (!streamed.ok) {
              // A structural problem: both refuse the file, naming the same line.
              expectListError(streamed.error, path, lines);
              expect(read.ok, `readListFile read what the stream refused: ${String(streamed.error)}`).toBe(false);
              if (!read.ok && where(read.error) !== where(streamed.error)) {
                // Two problems in one file: readListFile checks the encoding of the whole file before
                // any row, the stream each run of lines as it reaches it, so it names the earlier one.
                expect((read.error as Error).message).toMatch(/: not valid UTF-8 text$/);
                expect(expectListError(streamed.error, path, lines)).toBeLessThan(
                  expectListError(read.error, path, lines),
                );
              }
              return;
            }
            expect(read.ok, `readListFile refused what the stream read: ${read.ok ? '' : String(read.error)}`).toBe(
              true,
            );
            if (read.ok) {
              expect(read.value.format).toBe(streamed.value.summary.format);
              expectSameRead(read.value, streamed.value);
            }
            // Under `fail` the stream stops at its first bad row, and reads everything when it has none.
            const failed = await attempt(
              stream(path, file.bytes.length, lines, { ...base, onError: 'fail', batchSize }, batchSize),
            );
            const firstBad = streamed.value.problemLines[0];
            if (firstBad === undefined) {
              expect(failed.ok).toBe(true);
              if (failed.ok) expect(failed.value.rows).toEqual(streamed.value.rows);
            } else {
              expect(failed.ok).toBe(false);
              if (!failed.ok) expect(expectListError(failed.error, path, lines)).toBe(firstBad);
            }
          },
        ),
        fuzzParameters(120),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'refuses bad options of streamListFile and readListFile with argument errors at the call, never anything else',
    async () => {
      const anything = fc.anything({
        withNullPrototype: true,
        withBigInt: true,
        withBoxedValues: true,
        withSparseArray: true,
      });
      const mostly = (valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
        fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: anything });
      const options = fc.oneof(
        { weight: 1, arbitrary: anything },
        {
          weight: 6,
          arbitrary: fc.record(
            {
              list: mostly(fc.constantFrom('fuzz', ' ', '')),
              format: mostly(fc.constantFrom('csv', 'text', 'xml')),
              algorithm: mostly(fc.constantFrom('md5', 'photodna')),
              onError: mostly(fc.constantFrom('fail', 'skip', 'ignore')),
              maxBytes: mostly(fc.oneof(fc.integer({ min: -1, max: 100 }), fc.constantFrom(2 ** 53, 1.5))),
              batchSize: mostly(fc.oneof(fc.integer({ min: -1, max: 3 }), fc.constantFrom(1_000_000, 1_000_001))),
            },
            { requiredKeys: [] },
          ),
        },
      );
      const path = await fileOf(new TextEncoder().encode('md5 0cc175b9c0f1b6a831c399e269772661\nmd5 zz\n'), '.txt');
      await fc.assert(
        fc.asyncProperty(options, async (o) => {
          let reader: ReturnType<typeof streamListFile> | undefined;
          try {
            reader = streamListFile(path, o as StreamListOptions);
          } catch (error) {
            expect(isArgumentError(error), String(error)).toBe(true);
          }
          // Accepted options: the file is read, and only its contents (a bad row, a size above maxBytes) can fail.
          if (reader !== undefined) {
            const streamed = await attempt(
              (async () => {
                for await (const _ of reader) void _;
              })(),
            );
            if (!streamed.ok) expect((streamed.error as HashwardenError).code).toBe('ERR_LIST_FORMAT');
          }
          const read = await attempt(readListFile(path, o as StreamListOptions));
          if (!read.ok)
            expect(
              read.error instanceof HashwardenError
                ? read.error.code
                : isArgumentError(read.error)
                  ? 'argument'
                  : String(read.error),
            ).toMatch(/^(ERR_LIST_FORMAT|argument)$/);
        }),
        fuzzParameters(150),
      );
    },
    fuzzTestTimeout(),
  );
});
