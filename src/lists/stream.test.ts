/**
 * Tests of the streaming list reader: every format read back from disk as formatList wrote it,
 * the op column of delta files, bad rows by file and line under both policies (also across chunk
 * and batch boundaries), batching, laziness, bounded memory and closing the file early.
 */
import { mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { LIST_FORMATS, MAX_LIST_LINE_BYTES, MAX_ROW_PROBLEMS, type ListFormat } from './formats.js';
import { formatList } from './write.js';
import { normalizeEntry, type ListEntry } from './entry.js';
import {
  streamListFile,
  type ListBatch,
  type ListRow,
  type ListStreamSummary,
  type StreamListOptions,
} from './stream.js';
import { expectRowError, rejection } from '../testing/row-errors.js';
import { listEntries } from '../testing/list-entries.js';

const MD5_A = '0cc175b9c0f1b6a831c399e269772661';
const MD5_B = '92eb5ffee6ae2fec3ad71c777531578f';
const MD5_C = '4a8a08f09d37b73795649038408b5f33';
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const PDQ = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';
// The reader's chunk size, for files that must span several chunks.
const CHUNK = 64 * 1024;

let dir: string;
beforeAll(async () => {
  // realpath: /proc/self/fd shows resolved paths.
  dir = await realpath(await mkdtemp(join(tmpdir(), 'hashwarden-stream-')));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCount = 0;
async function file(content: string | Uint8Array, name = 'list'): Promise<string> {
  const sub = join(dir, String(++fileCount));
  await mkdir(sub);
  const path = join(sub, name);
  await writeFile(path, content);
  return path;
}

async function collect(
  path: string,
  options: Partial<StreamListOptions> = {},
): Promise<{ batches: ListBatch[]; rows: ListRow[]; summary: ListStreamSummary }> {
  const reader = streamListFile(path, { list: 'demo', ...options });
  const batches: ListBatch[] = [];
  for (;;) {
    const step = await reader.next();
    if (step.done) return { batches, rows: batches.flatMap((b) => b.rows), summary: step.value };
    batches.push(step.value);
  }
}

function entriesOf(rows: readonly ListRow[]): ListEntry[] {
  return rows.map((row) => {
    if (row.op !== 'add') throw new Error(`expected an add on line ${row.line}`);
    return row.entry;
  });
}

/** How many descriptors of this process are open on `path` (Linux only). */
async function openDescriptors(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    try {
      if ((await readlink(`/proc/self/fd/${fd}`)) === path) found.push(fd);
    } catch {
      // The descriptor readdir itself used is gone by now.
    }
  }
  return found;
}

const onLinux = process.platform === 'linux';

/** `count` text lines `md5 <hex>` with distinct hashes, 37 bytes each. */
function md5Lines(count: number, bad: ReadonlySet<number> = new Set()): string {
  let out = '';
  for (let line = 1; line <= count; line++)
    out += bad.has(line) ? 'md5 nothex\n' : `md5 ${line.toString(16).padStart(32, '0')}\n`;
  return out;
}

describe('streamListFile: formats', () => {
  const entry = listEntries(['a,b', 'say "hi"', 'two\nlines', 'crlf\r\ninside', 'ünïcödé', '#hash', '-5', "''+x"]);

  it('reads back the entries formatList wrote to disk, in every format', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 15 }), async (entries) => {
        for (const format of LIST_FORMATS) {
          const path = await file(
            formatList(entries, format),
            `list.${format === 'ndjson' ? 'ndjson' : format === 'csv' ? 'csv' : 'txt'}`,
          );
          const { rows, summary } = await collect(path, { list: 'alpha', batchSize: 4 });
          // Text carries only the algorithm and the hash.
          const expected =
            format === 'text'
              ? entries.map((e) => normalizeEntry({ list: 'alpha', algorithm: e.algorithm, hash: e.hash }))
              : entries;
          expect(entriesOf(rows)).toEqual(expected);
          expect(summary).toEqual({
            format,
            rows: entries.length,
            adds: entries.length,
            removes: 0,
            ignored: 0,
            lowQuality: 0,
            skippedCount: 0,
          });
        }
      }),
      { numRuns: 25 },
    );
  });

  it('reads bare hex lines with the algorithm option', async () => {
    const { rows } = await collect(await file(`${MD5_A}\n${MD5_B}\n`, 'list.txt'), { algorithm: 'MD5' });
    expect(entriesOf(rows)).toEqual([
      normalizeEntry({ list: 'demo', algorithm: 'md5', hash: MD5_A }),
      normalizeEntry({ list: 'demo', algorithm: 'md5', hash: MD5_B }),
    ]);
  });

  it('reads python-threatexchange "<signal type> <hash>" lines, photo_md5 as md5', async () => {
    const path = await file(`pdq ${PDQ}\nphoto_md5 ${MD5_A}\nPHOTO_MD5 ${MD5_B}\n`, 'signals.txt');
    const { rows } = await collect(path);
    expect(entriesOf(rows).map((e) => [e.algorithm, e.hash, e.id])).toEqual([
      ['pdq', PDQ, `pdq:${PDQ}`],
      ['md5', MD5_A, `md5:${MD5_A}`],
      ['md5', MD5_B, `md5:${MD5_B}`],
    ]);
  });

  it('reads photo_md5 in the algorithm column of csv and ndjson', async () => {
    const csv = await collect(await file(`hash,signal_type\n${MD5_A},photo_md5\n`, 'list.csv'));
    const ndjson = await collect(await file(`{"hash":"${MD5_A}","type":" Photo_MD5 "}\n`, 'list.ndjson'));
    for (const { rows } of [csv, ndjson])
      expect(entriesOf(rows)).toEqual([normalizeEntry({ list: 'demo', algorithm: 'md5', hash: MD5_A })]);
  });

  it.each([
    ['csv', 'list.csv', `\uFEFF"hash","algorithm"\r\n${MD5_A},md5\r\n\r\n${MD5_B},md5\r\n`, [2, 4]],
    [
      'ndjson',
      'list.ndjson',
      `\uFEFF{"hash":"${MD5_A}","type":"md5"}\r\n\r\n{"hash":"${MD5_B}","type":"md5"}\r\n`,
      [1, 3],
    ],
    ['text', 'list.txt', `\uFEFF# list\r\nmd5 ${MD5_A}\r\nmd5 ${MD5_B}\r\n`, [2, 3]],
  ] as const)('strips a BOM and accepts CRLF line ends in %s', async (format, name, content, lines) => {
    const { rows, summary } = await collect(await file(content, name));
    expect(summary.format).toBe(format);
    expect(entriesOf(rows).map((e) => e.hash)).toEqual([MD5_A, MD5_B]);
    expect(rows.map((r) => r.line)).toEqual(lines);
  });

  it('gives no rows and a zero summary for an empty file, a BOM alone or a header alone', async () => {
    for (const [name, content] of [
      ['list.csv', ''],
      ['list.txt', ''],
      ['list.ndjson', '\uFEFF'],
      ['list.csv', 'hash,algorithm\r\n\r\n'],
      ['export', ''],
    ] as const) {
      const { batches, summary } = await collect(await file(content, name));
      expect(batches).toEqual([]);
      expect(summary).toMatchObject({ rows: 0, adds: 0, removes: 0, skippedCount: 0 });
    }
  });

  it('detects the format from the first non-blank line when the extension says nothing', async () => {
    expect((await collect(await file(`\uFEFF\n\n{"hash":"${MD5_A}","type":"md5"}\n`, 'export'))).summary.format).toBe(
      'ndjson',
    );
    expect((await collect(await file(`\r\nID,Hash,Type\r\n1,${MD5_A},md5\r\n`, 'export'))).summary.format).toBe('csv');
    expect(
      (await collect(await file(`${'\n'.repeat(CHUNK)}hash,algorithm\n${MD5_A},md5\n`, 'export'))).rows,
    ).toMatchObject([{ line: CHUNK + 2 }]);
    expect((await collect(await file(`md5 ${MD5_A}\n`, 'export'))).summary.format).toBe('text');
  });

  it('reads a CSV row spanning two lines at the line where it starts, across chunk boundaries too', async () => {
    // Every third row has a quoted note over two lines; rows are long enough to cross chunk ends.
    let content = 'id,hash,algorithm,note\r\n';
    let line = 2;
    const expected: [number, string][] = [];
    for (let i = 0; i < 3000; i++) {
      const id = `row-${i}`;
      const bad = i % 500 === 499;
      content += `${id},${bad ? 'nothex' : MD5_A},md5,${i % 3 === 0 ? `"first\r\nsecond ${'x'.repeat(40)}"` : 'plain'}\r\n`;
      if (!bad) expected.push([line, id]);
      line += i % 3 === 0 ? 2 : 1;
    }
    expect(content.length).toBeGreaterThan(3 * CHUNK);
    const { rows, batches, summary } = await collect(await file(content, 'notes.csv'), {
      onError: 'skip',
      batchSize: 700,
    });
    expect(rows.map((r) => [r.line, r.op === 'add' ? r.entry.id : ''])).toEqual(expected);
    expect(entriesOf(rows)[0]?.metadata).toEqual({ note: `first\r\nsecond ${'x'.repeat(40)}` });
    const problemLines = batches.flatMap((b) => b.problems.map((p) => p.line));
    expect(problemLines).toHaveLength(6);
    expect(summary.skippedCount).toBe(6);
    // Row 499 (0-based) starts after 167 two-line rows and 332 one-line rows, below the header.
    expect(problemLines[0]).toBe(2 + 167 * 2 + 332);
  });
});

describe('streamListFile: op', () => {
  it('reads op add, remove and delete in csv, any case, and keeps no op metadata', async () => {
    const content = [
      'id,hash,algorithm,OP,source',
      `a,${MD5_A},md5,,x`,
      `b,${MD5_B},md5, ADD ,y`,
      `c,${MD5_C},md5,Remove,`,
      `d,,,delete,`,
      `,${SHA1},sha1,DELETE,z`,
    ].join('\n');
    const { rows, summary } = await collect(await file(content, 'delta.csv'));
    expect(rows).toEqual([
      {
        op: 'add',
        line: 2,
        entry: { id: 'a', list: 'demo', algorithm: 'md5', hash: MD5_A, metadata: { source: 'x' } },
      },
      {
        op: 'add',
        line: 3,
        entry: { id: 'b', list: 'demo', algorithm: 'md5', hash: MD5_B, metadata: { source: 'y' } },
      },
      { op: 'remove', line: 4, list: 'demo', id: 'c' },
      { op: 'remove', line: 5, list: 'demo', id: 'd' },
      { op: 'remove', line: 6, list: 'demo', id: `sha1:${SHA1}` },
    ]);
    expect(summary).toEqual({
      format: 'csv',
      rows: 5,
      adds: 2,
      removes: 3,
      ignored: 0,
      lowQuality: 0,
      skippedCount: 0,
    });
  });

  it('reads op add, remove and delete in ndjson, and keeps no op metadata', async () => {
    const content = [
      { hash: MD5_A, type: 'md5', op: 'add', source: 'x' },
      { hash: MD5_B, type: 'md5', op: null },
      { id: 7, list: 'other', op: 'remove' },
      { hash: MD5_C.toUpperCase(), type: 'MD5', op: ' delete ' },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n');
    const { rows, summary } = await collect(await file(content, 'delta.ndjson'));
    expect(rows).toEqual([
      {
        op: 'add',
        line: 1,
        entry: { id: `md5:${MD5_A}`, list: 'demo', algorithm: 'md5', hash: MD5_A, metadata: { source: 'x' } },
      },
      { op: 'add', line: 2, entry: { id: `md5:${MD5_B}`, list: 'demo', algorithm: 'md5', hash: MD5_B } },
      { op: 'remove', line: 3, list: 'other', id: '7' },
      { op: 'remove', line: 4, list: 'demo', id: `md5:${MD5_C}` },
    ]);
    expect(summary).toMatchObject({ adds: 2, removes: 2 });
  });

  it('removes by id when the row has one, else by the id an add of the row would get', async () => {
    const content = [
      'id,list,hash,algorithm,op',
      `x,,${MD5_A},md5,remove`,
      `,,${MD5_A},md5,remove`,
      `,other,${PDQ.toUpperCase()},pdq,remove`,
      `y,,,,remove`,
    ].join('\n');
    const { rows } = await collect(await file(content, 'delta.csv'));
    const added = normalizeEntry({ list: 'other', algorithm: 'pdq', hash: PDQ });
    expect(rows.map((r) => (r.op === 'remove' ? `${r.list}/${r.id}` : ''))).toEqual([
      'demo/x',
      `demo/md5:${MD5_A}`,
      `other/${added.id}`,
      'demo/y',
    ]);
  });

  it('refuses an op other than add or remove, naming file and line', async () => {
    const path = await file(`hash,algorithm,op\n${MD5_A},md5,add\n${MD5_B},md5,replace\n`, 'delta.csv');
    const error = expectRowError(await rejection(collect(path)), path, 3);
    expect(error.message).toBe(`${path}:3: Expected add or remove for op but received "replace"`);
    const ndjson = await file(`{"hash":"${MD5_A}","type":"md5","op":true}\n`, 'delta.ndjson');
    expect(expectRowError(await rejection(collect(ndjson)), ndjson, 1).message).toMatch(
      /Expected add or remove for op but received true$/,
    );
  });

  it('refuses a remove row without id or hash', async () => {
    const path = await file(`id,hash,algorithm,op\n,,md5,remove\n`, 'delta.csv');
    expect(expectRowError(await rejection(collect(path)), path, 2).message).toMatch(
      /A remove row needs an id or a hash/,
    );
  });

  it('checks the hash of a remove row by hash as an add would', async () => {
    const path = await file(
      `{"hash":"${MD5_A}00","type":"md5","op":"remove"}\n{"hash":"${MD5_A}","op":"remove"}\n`,
      'delta.ndjson',
    );
    const { batches } = await collect(path, { onError: 'skip' });
    expect(batches.flatMap((b) => b.problems.map((p) => [p.line, p.error.cause]))).toEqual([
      [1, expect.objectContaining({ code: 'ERR_HASH_FORMAT' })],
      [2, expect.objectContaining({ message: 'Missing algorithm' })],
    ]);
  });
});

describe('streamListFile: bad rows', () => {
  const cases: [string, string, string, RegExp, string][] = [
    [
      'bad hex (csv)',
      'list.csv',
      `hash,algorithm\n${MD5_A},md5\n${'z'.repeat(32)},md5\n`,
      /found "z" at position 1/,
      'ERR_HASH_FORMAT',
    ],
    [
      'wrong length (csv)',
      'list.csv',
      `hash,algorithm\n${MD5_A},md5\n${MD5_B}00,md5\n`,
      /Expected 32 hex digits for a md5 hash but received 34/,
      'ERR_HASH_FORMAT',
    ],
    [
      'unknown algorithm (csv)',
      'list.csv',
      `hash,algorithm\n${MD5_A},md5\n${MD5_B},photodna\n`,
      /Unknown hash algorithm "photodna"/,
      'ERR_UNKNOWN_ALGORITHM',
    ],
    [
      'bad hex (ndjson)',
      'list.ndjson',
      `{"hash":"${MD5_A}","type":"md5"}\n\n{"hash":"${'g'.repeat(32)}","type":"md5"}\n`,
      /found "g"/,
      'ERR_HASH_FORMAT',
    ],
    [
      'wrong length (ndjson)',
      'list.ndjson',
      `{"hash":"${MD5_A}","type":"md5"}\n\n{"hash":"${MD5_A}","type":"sha1"}\n`,
      /Expected 40 hex digits/,
      'ERR_HASH_FORMAT',
    ],
    [
      'unknown algorithm (ndjson)',
      'list.ndjson',
      `{"hash":"${MD5_A}","type":"md5"}\n\n{"hash":"${MD5_A}","type":"md4"}\n`,
      /Unknown hash algorithm "md4"/,
      'ERR_UNKNOWN_ALGORITHM',
    ],
    ['bad hex (text)', 'list.txt', `md5 ${MD5_A}\n# c\nmd5 ${'x'.repeat(32)}\n`, /found "x"/, 'ERR_HASH_FORMAT'],
    [
      'wrong length (text)',
      'list.txt',
      `md5 ${MD5_A}\n\nsha1 ${MD5_B}\n`,
      /Expected 40 hex digits for a sha1 hash but received 32/,
      'ERR_HASH_FORMAT',
    ],
    [
      'unknown algorithm (text)',
      'list.txt',
      `md5 ${MD5_A}\n# c\nphotodna ${MD5_B}\n`,
      /Unknown hash algorithm "photodna"/,
      'ERR_UNKNOWN_ALGORITHM',
    ],
  ];

  it.each(cases)(
    'refuses %s with ERR_LIST_FORMAT naming file and line, keeping the cause',
    async (_name, name, content, message, cause) => {
      const path = await file(content, name);
      const error = expectRowError(await rejection(collect(path)), path, 3);
      expect(error.message).toMatch(message);
      expect(error.cause).toMatchObject({ code: cause });
    },
  );

  it('with fail, throws at the first bad row, after yielding the batches before it', async () => {
    const path = await file(md5Lines(5000, new Set([4000, 4500])), 'list.txt');
    const batches: ListBatch[] = [];
    const error = await rejection(
      (async () => {
        for await (const batch of streamListFile(path, { list: 'demo', batchSize: 500 })) batches.push(batch);
      })(),
    );
    expect(expectRowError(error, path, 4000).message).not.toMatch(/more bad row/);
    expect(batches.length).toBeGreaterThan(0);
    expect(Math.max(...batches.flatMap((b) => b.rows.map((r) => r.line)))).toBeLessThan(4000);
  });

  it('with skip, reports each bad row once, in the batch it falls in, with its line', async () => {
    const bad = new Set([1, 999, 1000, 1771, 3544, 4999, 5000]);
    const path = await file(md5Lines(5000, bad), 'list.txt');
    const { batches, rows, summary } = await collect(path, { onError: 'skip', batchSize: 1000 });
    expect(rows).toHaveLength(5000 - bad.size);
    expect(batches.flatMap((b) => b.problems.map((p) => p.line))).toEqual([...bad]);
    let previous = 0;
    for (const [i, batch] of batches.entries()) {
      const last = i === batches.length - 1 ? Infinity : (batch.rows.at(-1)?.line ?? 0);
      for (const problem of batch.problems) {
        expect(problem.line).toBeGreaterThan(previous);
        expect(problem.line).toBeLessThan(last);
        expectRowError(problem.error, path, problem.line);
        expect(problem.source).toBe(path);
      }
      previous = last;
    }
    expect(summary).toEqual({
      format: 'text',
      rows: 5000,
      adds: 5000 - bad.size,
      removes: 0,
      ignored: 0,
      lowQuality: 0,
      skippedCount: bad.size,
    });
  });

  it('keeps at most MAX_ROW_PROBLEMS problems across batches but counts them all', async () => {
    const path = await file(`md5 ${MD5_A}\n${'md5 bad\n'.repeat(MAX_ROW_PROBLEMS + 5)}md5 ${MD5_B}\n`, 'list.txt');
    const { batches, rows, summary } = await collect(path, { onError: 'skip', batchSize: 1 });
    const problems = batches.flatMap((b) => b.problems);
    expect(problems).toHaveLength(MAX_ROW_PROBLEMS);
    expect(problems.at(-1)?.line).toBe(MAX_ROW_PROBLEMS + 1);
    expect(rows.map((r) => r.line)).toEqual([1, MAX_ROW_PROBLEMS + 7]);
    expect(summary).toMatchObject({ rows: MAX_ROW_PROBLEMS + 7, skippedCount: MAX_ROW_PROBLEMS + 5 });
  });

  it('stops at an unclosed quote, naming the line where the record starts, even when skipping', async () => {
    const path = await file(
      ['hash,algorithm', `${MD5_A},md5`, 'nothex,md5', `"${MD5_B},md5`, `${MD5_C},md5`].join('\n'),
      'list.csv',
    );
    const error = expectRowError(await rejection(collect(path, { onError: 'skip' })), path, 4);
    expect(error.message).toMatch(/CSV syntax error \(CSV_QUOTE_NOT_CLOSED\)/);
    expect(error.message).toMatch(/the rest of the file was not read \(and 1 more bad row before it\)$/);
  });

  it('refuses a CSV header without a hash column even when skipping', async () => {
    const path = await file(`id,algorithm\n1,md5\n`, 'list.csv');
    expect(expectRowError(await rejection(collect(path, { onError: 'skip' })), path, 1).message).toMatch(
      /no "hash" column/,
    );
  });

  it('refuses invalid UTF-8, naming its line, also far into the file', async () => {
    const early = await file(
      Buffer.concat([Buffer.from(`md5 ${MD5_A}\n# caf`), Buffer.from([0xe9]), Buffer.from('\n')]),
      'list.txt',
    );
    expectRowError(await rejection(collect(early)), early, 2);
    const late = await file(
      Buffer.concat([Buffer.from(md5Lines(4000)), Buffer.from([0x23, 0xc3, 0x28, 0x0a])]),
      'list.txt',
    );
    expectRowError(await rejection(collect(late, { onError: 'skip' })), late, 4001);
  });

  it(`refuses a line longer than MAX_LIST_LINE_BYTES`, async () => {
    const path = await file(`md5 ${MD5_A}\n# ${'x'.repeat(MAX_LIST_LINE_BYTES)}\n`, 'list.txt');
    expect(expectRowError(await rejection(collect(path)), path, 2).message).toMatch(/line longer than/);
  });
});

describe('streamListFile: reading', () => {
  it('cuts batches of batchSize rows, bytesRead rising to bytesTotal', async () => {
    const content = md5Lines(10_000);
    const path = await file(content, 'list.txt');
    const { batches, summary } = await collect(path, { batchSize: 1024 });
    expect(batches.map((b) => b.rows.length)).toEqual([...Array(9).fill(1024), 10_000 - 9 * 1024]);
    expect(batches.flatMap((b) => b.rows.map((r) => r.line))).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
    const read = batches.map((b) => b.bytesRead);
    for (let i = 1; i < read.length; i++) expect(read[i]).toBeGreaterThanOrEqual(read[i - 1] ?? 0);
    expect(read[0]).toBeLessThan(content.length / 2);
    expect(batches.every((b) => b.bytesTotal === content.length)).toBe(true);
    expect(read.at(-1)).toBe(content.length);
    expect(summary.adds).toBe(10_000);
  });

  it('reads lazily, no more than a chunk ahead of the rows it has yielded', async () => {
    const path = await file(md5Lines(50_000), 'list.txt');
    const reader = streamListFile(path, { list: 'demo', batchSize: 100 });
    const first = await reader.next();
    expect(first.done).toBe(false);
    expect((first.value as ListBatch).bytesRead).toBeLessThanOrEqual(CHUNK);
    if (onLinux) {
      const [fd] = await openDescriptors(path);
      const position = /^pos:\s+(\d+)/m.exec(await readFile(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      expect(Number(position)).toBeLessThanOrEqual(CHUNK);
    }
    await reader.return({ format: 'text', rows: 0, adds: 0, removes: 0, ignored: 0, lowQuality: 0, skippedCount: 0 });
  });

  it.runIf(onLinux)('closes the file when the consumer stops early, fails or finishes', async () => {
    const path = await file(md5Lines(20_000, new Set([15_000])), 'list.txt');
    expect(await openDescriptors(path)).toHaveLength(0);
    for await (const batch of streamListFile(path, { list: 'demo', batchSize: 10 })) {
      expect(batch.rows).toHaveLength(10);
      expect(await openDescriptors(path)).toHaveLength(1);
      break;
    }
    expect(await openDescriptors(path)).toHaveLength(0);
    await rejection(collect(path));
    expect(await openDescriptors(path)).toHaveLength(0);
    await collect(path, { onError: 'skip' });
    expect(await openDescriptors(path)).toHaveLength(0);
    const csv = await file(`algorithm,hash\n${md5Lines(20_000).replaceAll(' ', ',')}`, 'list.csv');
    for await (const batch of streamListFile(csv, { list: 'demo', batchSize: 10 })) {
      expect(batch.rows).toHaveLength(10);
      expect(await openDescriptors(csv)).toHaveLength(1);
      break;
    }
    expect(await openDescriptors(csv)).toHaveLength(0);
  });

  it('streams a 300,000-line file in batches, its heap not growing with the file', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const lines: string[] = ['hash,algorithm'];
    for (let i = 0; i < 300_000; i++) lines.push(`${i.toString(16).padStart(32, '0')},md5`);
    const path = await file(`${lines.join('\n')}\n`, 'big.csv');
    lines.length = 0;
    const { size } = await stat(path);
    // Loaded before the baseline, so its code is not counted as growth.
    await import('csv-parse');
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let peak = 0;
    let count = 0;
    let batches = 0;
    for await (const batch of streamListFile(path, { list: 'demo', batchSize: 1000 })) {
      expect(batch.rows.length).toBeLessThanOrEqual(1000);
      count += batch.rows.length;
      if (++batches % 50 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
      }
    }
    expect(count).toBe(300_000);
    expect(batches).toBe(300);
    // About 1-2 MB are live (a batch, a chunk, compiled code); the file's entries would be over 40 MB.
    expect(peak).toBeLessThan(size / 4);
  });

  it('refuses a file above maxBytes with ERR_LIST_FORMAT', async () => {
    const path = await file(`md5 ${MD5_A}\n`, 'list.txt');
    expect(await rejection(collect(path, { maxBytes: 10 }))).toMatchObject({
      code: 'ERR_LIST_FORMAT',
      message: expect.stringMatching(/above the limit of 10/),
    });
  });

  it('rejects a missing file or a directory with ERR_INPUT_READ', async () => {
    for (const path of [join(dir, 'missing.csv'), dir]) {
      const error = await rejection(collect(path));
      expect(error).toBeInstanceOf(HashwardenError);
      expect(error).toMatchObject({ code: 'ERR_INPUT_READ', message: expect.stringContaining(path) });
    }
  });

  it('refuses bad arguments at the call with the standard argument errors', () => {
    const call =
      (options: Partial<StreamListOptions>, path: unknown = 'x.csv') =>
      () =>
        streamListFile(path as string, { list: 'demo', ...options });
    expect(call({ batchSize: 0 })).toThrow(
      new RangeError('Expected integer between 1 and 1000000 for batchSize but received 0 of type number'),
    );
    expect(call({ batchSize: 1.5 })).toThrow(TypeError);
    expect(call({ maxBytes: 0 })).toThrow(RangeError);
    expect(call({ format: 'xml' as ListFormat })).toThrow(
      new RangeError(
        'Expected one of csv, ndjson, text, checksum, pdq, te, stopncii, ncmec for format but received "xml" of type string',
      ),
    );
    expect(call({ onError: 'ignore' as 'skip' })).toThrow(RangeError);
    expect(call({ algorithm: 'photodna' })).toThrow(RangeError);
    expect(call({ list: ' ' })).toThrow(RangeError);
    expect(call({}, '')).toThrow(RangeError);
    expect(() => streamListFile('x.csv', undefined as unknown as StreamListOptions)).toThrow(TypeError);
  });
});

describe('streamListFile: CSV split without csv-parse until the first quote', () => {
  // Cells of every kind a list has, and some that make bad rows; `"` only in the quoted ones.
  const plainCell = fc.constantFrom(
    '',
    ' ',
    'x',
    'ab c',
    MD5_A,
    MD5_B.toUpperCase(),
    ` ${MD5_C} `,
    'md5',
    'sha1',
    'pdq',
    'zz',
    'r\r',
  );
  const quotedCell = fc.constantFrom('"a,b"', '"two\nlines"', '"say ""hi"""', `"${MD5_A}"`);
  const rowOf = (cell: fc.Arbitrary<string>) =>
    fc.array(cell, { minLength: 1, maxLength: 5 }).map((cells) => cells.join(','));

  it('reads what csv-parse reads: the same entries, the same bad rows on the same lines', async () => {
    const { parseList } = await import('./parse.js');
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 6, arbitrary: rowOf(plainCell) },
            { weight: 1, arbitrary: fc.constantFrom('<blank>', '<spaces>') },
          ),
          { maxLength: 40 },
        ),
        fc.array(fc.oneof(rowOf(plainCell), rowOf(quotedCell)), { maxLength: 10 }),
        fc.constantFrom('\n', '\r\n'),
        fc.integer({ min: 1, max: 7 }),
        fc.boolean(),
        async (plain, later, eol, batchSize, long) => {
          // A header with every column, ids made unique by their line (parseList also checks
          // repeats). Long files put 2,000 good rows (about 110 KiB) first, so that the quotes come
          // after the first chunks the reader splits itself.
          const padding = long ? Array.from({ length: 2000 }, () => `md5,${MD5_A},,`) : [];
          // Blank lines and lines of spaces too, which are no rows.
          const lines = [
            'id,algorithm,hash,label,extra',
            ...[...padding, ...plain, ...later].map((row, i) =>
              row === '<blank>' ? '' : row === '<spaces>' ? '   ' : `id${i},${row}`,
            ),
          ];
          const text = lines.join(eol) + eol;
          const path = await file(text, 'list.csv');
          const options = { list: 'demo', algorithm: 'md5', onError: 'skip' } as const;
          let expected: { entries: readonly ListEntry[]; lines: number[]; messages: string[] } | Error;
          try {
            const parsed = parseList(text, { ...options, format: 'csv', source: path });
            expected = {
              entries: parsed.entries,
              lines: parsed.skipped.map((p) => p.line),
              messages: parsed.skipped.map((p) => p.error.message),
            };
          } catch (error) {
            expected = error as Error;
          }
          try {
            const { batches, rows } = await collect(path, { ...options, batchSize });
            const problems = batches.flatMap((b) => b.problems);
            expect({
              entries: entriesOf(rows),
              lines: problems.map((p) => p.line),
              messages: problems.map((p) => p.error.message),
            }).toEqual(expected);
          } catch (error) {
            if (!(expected instanceof Error)) throw error;
            expect((error as Error).message).toBe(expected.message);
          }
        },
      ),
      { seed: 42, numRuns: 80 },
    );
  }, 60_000);
});
