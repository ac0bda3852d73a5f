/**
 * Hostile list files against the bounds on what a row may hold: CSV headers and records past
 * MAX_CSV_COLUMNS, metadata past MAX_METADATA_KEYS, MAX_METADATA_BYTES or MAX_METADATA_DEPTH
 * (nested 100,000 deep too), through every reader and through normalizeEntry for entries given by
 * code. Each is a bad row naming its line, skipped under `onError: 'skip'`; a header too wide
 * fails the file; nothing overflows the stack or holds a record's millions of fields.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHashwardenError } from '../errors.js';
import { runScript } from '../testing/jitless.js';
import {
  MAX_CSV_COLUMNS,
  MAX_METADATA_BYTES,
  MAX_METADATA_DEPTH,
  MAX_METADATA_KEYS,
  normalEntry,
  normalizeEntry,
  type ListEntryInput,
} from './entry.js';
import type { ListFormat, RowErrorPolicy } from './formats.js';
import { parseList, readListFile } from './parse.js';
import { streamListFile } from './stream.js';

const MD5_A = '0cc175b9c0f1b6a831c399e269772661';
const MD5_B = '92eb5ffee6ae2fec3ad71c777531578f';
const MD5_C = '4a8a08f09d37b73795649038408b5f33';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-bounds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const READERS = ['parseList', 'readListFile', 'streamListFile'] as const;
type Reader = (typeof READERS)[number];

/** What a reader made of a file: the lines of its entries and of its bad rows, or the error it threw. */
type Outcome =
  | { readonly ok: true; readonly entries: readonly string[]; readonly bad: readonly number[] }
  | { readonly ok: false; readonly code: unknown; readonly message: string };

let files = 0;
async function read(reader: Reader, text: string, format: ListFormat, onError: RowErrorPolicy): Promise<Outcome> {
  const path = join(dir, `${++files}.${format === 'ndjson' ? 'ndjson' : 'csv'}`);
  await writeFile(path, text);
  try {
    if (reader === 'streamListFile') {
      const entries: string[] = [];
      const bad: number[] = [];
      // Small batches: rows and bad rows must come out in order across them too.
      for await (const batch of streamListFile(path, { list: 'l', onError, batchSize: 1 })) {
        for (const row of batch.rows) if (row.op === 'add') entries.push(row.entry.hash);
        for (const problem of batch.problems) bad.push(problem.line);
      }
      return { ok: true, entries, bad };
    }
    const parsed =
      reader === 'parseList'
        ? parseList(text, { list: 'l', format, onError, source: path })
        : await readListFile(path, { list: 'l', onError });
    return { ok: true, entries: parsed.entries.map((e) => e.hash), bad: parsed.skipped.map((p) => p.line) };
  } catch (error) {
    if (!isHashwardenError(error)) throw error;
    return { ok: false, code: error.code, message: error.message.replace(path, 'FILE') };
  }
}

/** Reads `text` with every reader under both policies: skip gives `entries` and `bad`, fail names `bad[0]`. */
async function expectBadRows(
  text: string,
  format: ListFormat,
  entries: readonly string[],
  bad: readonly number[],
): Promise<void> {
  for (const reader of READERS) {
    expect(await read(reader, text, format, 'skip'), reader).toEqual({ ok: true, entries, bad });
    const failed = await read(reader, text, format, 'fail');
    expect(failed, reader).toMatchObject({ ok: false, code: 'ERR_LIST_FORMAT' });
    expect((failed as { message: string }).message, reader).toMatch(new RegExp(`^FILE:${bad[0]}: `));
  }
}

/** NDJSON text of an object whose `d` is arrays nested `depth` deep, built as text (no recursion). */
function nested(depth: number): string {
  return `{"d":${'['.repeat(depth)}1${']'.repeat(depth)}}`;
}

describe('metadata bounds on entries given by code', () => {
  const entry = (metadata: unknown): ListEntryInput => ({
    list: 'l',
    algorithm: 'md5',
    hash: MD5_A,
    metadata: metadata as ListEntryInput['metadata'],
  });
  const outcome = (metadata: unknown, normalise: (input: ListEntryInput) => unknown) => {
    try {
      normalise(entry(metadata));
      return 'ok';
    } catch (error) {
      return isHashwardenError(error) ? error.code : error;
    }
  };
  const both = (metadata: unknown) => {
    const slow = outcome(metadata, normalizeEntry);
    expect(outcome(metadata, normalEntry)).toEqual(slow);
    return slow;
  };

  it('takes metadata up to MAX_METADATA_BYTES of UTF-8 JSON and refuses one byte more', () => {
    // {"a":"…"} is 8 bytes around the value.
    expect(both({ a: 'x'.repeat(MAX_METADATA_BYTES - 8) })).toBe('ok');
    expect(both({ a: 'x'.repeat(MAX_METADATA_BYTES - 7) })).toBe('ERR_LIST_FORMAT');
    // é is 2 bytes of UTF-8; \u0001 is written as 6 bytes of JSON.
    expect(both({ a: `${'é'.repeat((MAX_METADATA_BYTES - 8) / 2)}` })).toBe('ok');
    expect(both({ a: `x${'é'.repeat((MAX_METADATA_BYTES - 8) / 2)}` })).toBe('ERR_LIST_FORMAT');
    expect(both({ a: '\u0001'.repeat((MAX_METADATA_BYTES - 8) / 6), b: 1 })).toBe('ERR_LIST_FORMAT');
    expect(both({ a: '\u0001'.repeat((MAX_METADATA_BYTES - 8) / 6 - 1) })).toBe('ok');
    // A value JSON writes its own way is measured as written.
    expect(both({ a: { toJSON: () => 'x'.repeat(MAX_METADATA_BYTES) } })).toBe('ERR_LIST_FORMAT');
    expect(both({ a: new Date(0) })).toBe('ok');
  });

  it('takes MAX_METADATA_KEYS keys, counted at every level, and refuses one more', () => {
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(both(keys(MAX_METADATA_KEYS))).toBe('ok');
    expect(both(keys(MAX_METADATA_KEYS + 1))).toBe('ERR_LIST_FORMAT');
    expect(both({ ...keys(MAX_METADATA_KEYS - 2), inner: { x: 1 } })).toBe('ok');
    expect(both({ ...keys(MAX_METADATA_KEYS - 1), inner: { x: 1 } })).toBe('ERR_LIST_FORMAT');
  });

  it('takes nesting MAX_METADATA_DEPTH deep, refuses one more, and never overflows the stack', () => {
    const deep = (depth: number): unknown => {
      let value: unknown = 1;
      for (let i = 1; i < depth; i++) value = i % 2 === 0 ? [value] : { v: value };
      return { v: value };
    };
    expect(both(deep(MAX_METADATA_DEPTH))).toBe('ok');
    expect(both(deep(MAX_METADATA_DEPTH + 1))).toBe('ERR_LIST_FORMAT');
    expect(both(deep(100_000))).toBe('ERR_LIST_FORMAT');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(both(cycle)).toBe('ERR_LIST_FORMAT');
    expect(both({ big: 1n })).toBe('ERR_LIST_FORMAT');
  });
});

describe('NDJSON metadata nested deep', () => {
  for (const depth of [5_000, 100_000]) {
    it(`is a bad row at ${depth.toLocaleString('en')} levels, named by line and skippable, in every reader`, async () => {
      const text = [
        `{"hash":"${MD5_A}","algorithm":"md5"}`,
        `{"hash":"${MD5_B}","algorithm":"md5","metadata":${nested(depth)}}`,
        `{"hash":"${MD5_C}","algorithm":"md5","x":${nested(depth).slice(5, -1)}}`,
        `{"hash":"${MD5_C}","algorithm":"md5","id":"c"}`,
      ].join('\n');
      await expectBadRows(text, 'ndjson', [MD5_A, MD5_C], [2, 3]);
    });
  }

  it('takes metadata nested MAX_METADATA_DEPTH deep', async () => {
    // The metadata object is level 1, `d`'s arrays the levels below it.
    const text = `{"hash":"${MD5_A}","algorithm":"md5","metadata":${nested(MAX_METADATA_DEPTH - 1)}}\n`;
    await expectBadRows(`${text}{"hash":"x","algorithm":"md5"}\n`, 'ndjson', [MD5_A], [2]);
    const over = `{"hash":"${MD5_A}","algorithm":"md5","metadata":${nested(MAX_METADATA_DEPTH)}}\n`;
    await expectBadRows(over, 'ndjson', [], [1]);
  });

  it('counts keys and bytes of NDJSON metadata, top-level fields and the metadata object together', async () => {
    const fields = Array.from({ length: MAX_METADATA_KEYS }, (_, i) => `"k${i}":1`).join(',');
    const wide = `{"hash":"${MD5_A}","algorithm":"md5","extra":1,"metadata":{${fields}}}`;
    const big = `{"hash":"${MD5_B}","algorithm":"md5","note":"${'x'.repeat(MAX_METADATA_BYTES)}"}`;
    await expectBadRows([wide, big, `{"hash":"${MD5_C}","algorithm":"md5"}`].join('\n'), 'ndjson', [MD5_C], [1, 2]);
  });
});

describe('CSV column bounds', () => {
  const commas = (n: number) => ','.repeat(n);

  it('fails the file for a header of more than MAX_CSV_COLUMNS columns, even when skipping', async () => {
    const text = `hash,algorithm${commas(MAX_CSV_COLUMNS - 1)}\n${MD5_A},md5${commas(MAX_CSV_COLUMNS - 1)}\n`;
    for (const reader of READERS) {
      for (const onError of ['skip', 'fail'] as const) {
        const outcome = await read(reader, text, 'csv', onError);
        expect(outcome, reader).toMatchObject({ ok: false, code: 'ERR_LIST_FORMAT' });
        expect((outcome as { message: string }).message, reader).toMatch(/^FILE:1: /);
      }
    }
    // The same with the header quoted, so that csv-parse, not the plain splitter, would read it.
    const quoted = `"hash",algorithm${commas(MAX_CSV_COLUMNS - 1)}\n${MD5_A},md5${commas(MAX_CSV_COLUMNS - 1)}\n`;
    for (const reader of READERS) {
      expect(await read(reader, quoted, 'csv', 'skip'), reader).toMatchObject({ ok: false, code: 'ERR_LIST_FORMAT' });
    }
  });

  it('takes a header and records of exactly MAX_CSV_COLUMNS fields', async () => {
    const header = `hash,algorithm${commas(MAX_CSV_COLUMNS - 2)}`;
    const rows = [
      `${MD5_A},md5${',x'.repeat(MAX_CSV_COLUMNS - 2)}`,
      `"${MD5_B}",md5${',"y"'.repeat(MAX_CSV_COLUMNS - 2)}`,
    ];
    await expectBadRows(
      [header, ...rows, `${MD5_C},md5${commas(MAX_CSV_COLUMNS - 1)}`].join('\n'),
      'csv',
      [MD5_A, MD5_B],
      [4],
    );
  });

  it('makes a record of more than MAX_CSV_COLUMNS fields a bad row at its line, quoted or not', async () => {
    const wide = (cell: string) => `${MD5_B},md5${`,${cell}`.repeat(MAX_CSV_COLUMNS * 4)}`;
    // Plain lines, then a quoted wide record whose quoted line feeds come before and after the
    // field past the limit, then rows whose lines must still be counted right.
    const text = [
      'hash,algorithm,note',
      `${MD5_A},md5,a`,
      wide('x'),
      `${MD5_A},md5,"two`,
      `lines"`,
      `${MD5_B},md5,"q${'\n'.repeat(3)}"${',"a""b"'.repeat(MAX_CSV_COLUMNS)},"x`,
      `y"`,
      wide('"z"'),
      `${MD5_C},md5,"c"`,
    ].join('\n');
    const outcome = await read('parseList', text, 'csv', 'skip');
    // MD5_A twice without ids: merged by parseList (dedupe 'merge'), left to the store by the stream.
    expect(outcome).toMatchObject({ ok: true, bad: [3, 6, 11] });
    for (const reader of ['readListFile', 'streamListFile'] as const) {
      expect(await read(reader, text, 'csv', 'skip'), reader).toMatchObject({ ok: true, bad: [3, 6, 11] });
    }
    expect(await read('streamListFile', text, 'csv', 'skip')).toMatchObject({ entries: [MD5_A, MD5_A, MD5_C] });
    const failed = await read('streamListFile', text, 'csv', 'fail');
    expect(failed).toMatchObject({ ok: false, code: 'ERR_LIST_FORMAT' });
    expect((failed as { message: string }).message).toMatch(/^FILE:3: /);
  });

  it('makes a wide record of a file without quotes a bad row, split by no one', async () => {
    const wide = `${MD5_B},md5${',x'.repeat(MAX_CSV_COLUMNS * 4)}`;
    const text = ['hash,algorithm,note', `${MD5_A},md5,a`, '', wide, `${MD5_C},md5,c`].join('\n');
    await expectBadRows(text, 'csv', [MD5_A, MD5_C], [4]);
  });

  it('fails a stream at a wide record whose quoted line breaks carried it into a later chunk', async () => {
    // The reader hands csv-parse runs of lines of about 64 KiB; the record began in an earlier run
    // that csv-parse already holds, so it cannot be dropped as a row.
    const long = `"${'line\n'.repeat(20_000)}"`;
    const text = `hash,algorithm,note\n${MD5_A},md5,${long}${',x'.repeat(MAX_CSV_COLUMNS)}\n${MD5_B},md5,b\n`;
    for (const onError of ['skip', 'fail'] as const) {
      const outcome = await read('streamListFile', text, 'csv', onError);
      expect(outcome).toMatchObject({ ok: false, code: 'ERR_LIST_FORMAT' });
      expect((outcome as { message: string }).message).toMatch(/^FILE:2: /);
    }
    // Whole, the same file has one bad row.
    expect(await read('readListFile', text, 'csv', 'skip')).toEqual({ ok: true, entries: [MD5_B], bad: [2] });
  });

  it('makes a CSV row whose metadata is over MAX_METADATA_BYTES a bad row', async () => {
    const text = `hash,algorithm,note\n${MD5_A},md5,${'x'.repeat(MAX_METADATA_BYTES)}\n${MD5_B},md5,ok\n`;
    await expectBadRows(text, 'csv', [MD5_B], [2]);
  });

  it('reads a record of millions of fields without holding them: 48 MB of heap is enough', () => {
    // Unbounded, the reader built one string per field (tens of bytes each) before refusing the
    // row: 3 million of them need several times this heap. Plain and quoted records, both readers.
    const script = `
      import { writeFileSync } from 'node:fs';
      import { parseList } from './src/lists/parse.ts';
      import { streamListFile } from './src/lists/stream.ts';
      const path = ${JSON.stringify(join(tmpdir(), `hashwarden-bounds-${process.pid}.csv`))};
      const out = [];
      for (const cell of ['xy', '"x"']) {
        const text = 'hash,algorithm\\n${MD5_A},md5' + (',' + cell).repeat(3_000_000) + '\\n${MD5_B},md5\\n';
        writeFileSync(path, text);
        const rows = [];
        const bad = [];
        for await (const batch of streamListFile(path, { list: 'l', onError: 'skip' })) {
          rows.push(...batch.rows.map((r) => r.line));
          bad.push(...batch.problems.map((p) => p.line));
        }
        const parsed = parseList(text, { list: 'l', format: 'csv', onError: 'skip' });
        out.push(rows, bad, parsed.entries.length, parsed.skipped.map((p) => p.line));
      }
      console.log(JSON.stringify(out));
    `;
    try {
      expect(runScript(script, ['--max-old-space-size=48'])).toEqual([[3], [2], 1, [2], [3], [2], 1, [2]]);
    } finally {
      void rm(join(tmpdir(), `hashwarden-bounds-${process.pid}.csv`), { force: true });
    }
  }, 60_000);
});
