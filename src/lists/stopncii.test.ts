/**
 * StopNCII.org's hash records as a list file (issue 21): a JSON array of records or a whole
 * `FetchHashes` answer, pretty-printed or on one line, read by both readers; withdrawn and deleted
 * records as removals, other hash types ignored, each record's number where a line would be, and
 * hostile JSON refused without being held.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isHashwardenError } from '../errors.js';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';
import { SAMPLES, readBoth } from '../testing/list-samples.js';
import { detectListFormat } from './detect.js';
import { MAX_LIST_LINE_BYTES } from './formats.js';
import { parseList, readListFile } from './parse.js';
import { streamListFile, type ListRow, type ListStreamSummary } from './stream.js';
import { rejection } from '../testing/row-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'hashwarden-stopncii-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function file(text: string | Buffer, name = `f${++n}.json`): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function stream(
  path: string,
  options: { onError?: 'fail' | 'skip'; format?: 'stopncii' } = {},
): Promise<{ rows: ListRow[]; lines: number[]; summary: ListStreamSummary }> {
  const rows: ListRow[] = [];
  const lines: number[] = [];
  const reader = streamListFile(path, { list: 'ncii', batchSize: 2, ...options });
  for (let step = await reader.next(); ; step = await reader.next()) {
    if (step.done) return { rows, lines, summary: step.value };
    rows.push(...step.value.rows);
    lines.push(...step.value.problems.map((p) => p.line));
  }
}

const failure = async (promise: Promise<unknown>): Promise<Error> => (await rejection(promise)) as Error;

const hex = (seed: number, digits = 64): string =>
  createHash('sha256').update(String(seed)).digest('hex').slice(0, digits);

function record(i: number, status = 'Active', signalType = 'ImagePDQ'): Record<string, unknown> {
  return {
    lastModtimestamp: 1_700_000_000 + i,
    hashValue: hex(i),
    hashStatus: status,
    caseNumbers: { [`case-${i}`]: status },
    signalType,
  };
}

describe('the stopncii format', () => {
  it('reads a FetchHashes answer: adds, withdrawn and deleted records as removals, TMK ignored', async () => {
    const path = join(SAMPLES, 'stopncii-fetch-hashes.json');
    const { rows, summary } = await stream(path);
    expect(summary).toMatchObject({ format: 'stopncii', rows: 8, adds: 5, removes: 2, ignored: 1, skippedCount: 0 });
    const adds = rows.flatMap((r) => (r.op === 'add' ? [[r.line, r.entry.algorithm, r.entry.id]] : []));
    expect(adds.map(([line, algorithm]) => [line, algorithm])).toEqual([
      [1, 'pdq'],
      [2, 'pdq'],
      [3, 'pdq'],
      [4, 'pdq'],
      [5, 'md5'],
    ]);
    expect(adds[4]?.[2]).toBe('md5:0cc175b9c0f1b6a831c399e269772661');
    const removes = rows.filter((r) => r.op === 'remove');
    expect(removes.map((r) => [r.line, r.op === 'remove' && r.id.startsWith('pdq:')])).toEqual([
      [6, true],
      [7, true],
    ]);
    const third = rows[2];
    expect(third?.op === 'add' && third.entry.metadata).toEqual({
      hashStatus: 'Active',
      lastModtimestamp: 1625175071,
      cases: 1,
      feedback: [{ source: 'ExamplePlatform', value: 'Blocked', tags: ['Nude', 'Objectionable'] }],
    });
    const fourth = rows[3];
    expect(fourth?.op === 'add' && fourth.entry.metadata).toMatchObject({ cases: 2, hashRegions: ['UK'] });
  });

  it('reads a JSON array of records alike in both readers, detected by content', async () => {
    const entries = await readBoth('stopncii-records.json');
    expect(entries.map((e) => [e.algorithm, e.metadata?.hashStatus])).toEqual([
      ['pdq', 'Received'],
      ['pdq', 'Received'],
      ['pdq', 'Active'],
    ]);
    // A whole-file read only adds: the removals are its bad rows, by record number.
    const parsed = await readListFile(join(SAMPLES, 'stopncii-fetch-hashes.json'), { list: 'ncii', onError: 'skip' });
    expect(parsed.format).toBe('stopncii');
    expect(parsed.entries).toHaveLength(5);
    expect(parsed.skipped.map((p) => p.line)).toEqual([6, 7]);
    expect(parsed.ignored).toBe(1);
  });

  it('applies withdrawals to a store: a later file withdrawing a hash removes its entry', async () => {
    const store = HashStore.open(join(dir, 'store.db'));
    try {
      await store.importFile(await file(JSON.stringify([record(1), record(2), record(3)])), { list: 'ncii' });
      expect(store.count({ list: 'ncii' })).toBe(3);
      const later = { hashRecords: [record(2, 'Withdrawn'), record(3, 'Deleted'), record(4, 'Received')] };
      await store.importFile(await file(JSON.stringify(later)), { list: 'ncii', format: 'stopncii' });
      expect([...store.entries({ list: 'ncii' })].map((e) => e.hash)).toEqual([hex(1), hex(4)].sort());
    } finally {
      store.close();
    }
  });

  it('imports with hashwarden import, saying how many records were left out', async () => {
    const db = join(dir, 'cli.db');
    const run = await cli('import', join(SAMPLES, 'stopncii-fetch-hashes.json'), '--db', db, '--list', 'ncii');
    expect(run.status).toBe(0);
    expect(run.out).toMatch(/5 added/);
    expect(run.out).toMatch(/1 rows left out, never imported/);
    const withdraw = await file(JSON.stringify({ hashRecords: [{ ...record(1), hashStatus: 'Deleted' }] }));
    await cli('import', await file(JSON.stringify([record(1)])), '--db', db, '--list', 'ncii', '--format', 'stopncii');
    const removed = await cli('import', withdraw, '--db', db, '--list', 'ncii');
    expect(removed.out).toMatch(/1 removed/);
  });

  it('reads a one-line file longer than the longest line other formats take, record by record', async () => {
    // Records padded with a field the format does not keep, so the file is long but its records few.
    const pad = 'p'.repeat(100_000);
    const records = Array.from({ length: Math.ceil(MAX_LIST_LINE_BYTES / pad.length) + 1 }, (_, i) => ({
      ...record(i),
      pad,
    }));
    const text = JSON.stringify({ count: records.length, hashRecords: records, hasMoreRecords: false });
    expect(text.length).toBeGreaterThan(MAX_LIST_LINE_BYTES);
    const path = await file(text);
    const { summary } = await stream(path);
    expect(summary).toMatchObject({ format: 'stopncii', adds: records.length });
    expect((await readListFile(path, { list: 'ncii' })).entries).toHaveLength(records.length);
  });

  it('names a bad record by its number, and skips it with the skip policy', async () => {
    const bad = [record(1), { ...record(2), hashValue: 'xyz' }, 7, { ...record(4), signalType: 3 }, record(5)];
    const path = await file(JSON.stringify(bad, null, 2));
    const error = await failure(stream(path));
    expect(isHashwardenError(error) && error.code).toBe('ERR_LIST_FORMAT');
    expect(error.message.startsWith(`${path}:2: `)).toBe(true);
    const skipped = await stream(path, { onError: 'skip' });
    expect(skipped.lines).toEqual([2, 3, 4]);
    expect(skipped.summary).toMatchObject({ adds: 2, skippedCount: 3 });
    expect(parseList(JSON.stringify(bad), { list: 'ncii', onError: 'skip' }).skipped.map((p) => p.line)).toEqual([
      2, 3, 4,
    ]);
  });

  it('keeps a __proto__ key of a record as data, never as a prototype', () => {
    const text = `[{"__proto__": {"polluted": true}, "signalType": "ImagePDQ", "hashValue": "${hex(1)}", "hashStatus": "Active"}]`;
    const parsed = parseList(text, { list: 'ncii' });
    expect(parsed.entries).toHaveLength(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('stopncii detection', () => {
  it('tells StopNCII JSON from NDJSON, which also starts with {', () => {
    expect(detectListFormat('x.json', '\ufeff\n  [\n  {"signalType": "ImagePDQ"')).toBe('stopncii');
    expect(detectListFormat('x', '{\n    "count": 2,\n    "nextPageToken": "a\\"b",\n    "hashRecords": [')).toBe(
      'stopncii',
    );
    expect(detectListFormat('x.ndjson', '{"hashRecords": []}')).toBe('stopncii');
    expect(detectListFormat('x', `{"algorithm": "md5", "hash": "${hex(1, 32)}"}\n`)).toBe('ndjson');
    expect(detectListFormat('x.json', `{"hash": "${hex(1, 32)}", "metadata": {"hashRecords": 1}}\n`)).toBe('ndjson');
    expect(detectListFormat('x', `{"hash": "${hex(1, 32)}", "note": "\\"hashRecords\\": ["}\n`)).toBe('ndjson');
    expect(detectListFormat('x', 'md5 0cc175b9c0f1b6a831c399e269772661')).toBe('text');
  });

  it('still streams an NDJSON file as NDJSON', async () => {
    const path = await file(`{"algorithm": "md5", "hash": "${hex(1, 32)}"}\n{"op": "remove", "id": "x"}\n`, 'l.json');
    const { summary } = await stream(path);
    expect(summary).toMatchObject({ format: 'ndjson', adds: 1, removes: 1 });
  });
});

describe('hostile stopncii files', () => {
  async function refused(text: string | Buffer): Promise<{ error: Error; rows: number }> {
    const path = await file(text);
    let rows = 0;
    const error = await failure(
      (async () => {
        for await (const batch of streamListFile(path, { list: 'ncii', format: 'stopncii', batchSize: 1 }))
          rows += batch.rows.length;
      })(),
    );
    expect(isHashwardenError(error) && error.code).toBe('ERR_LIST_FORMAT');
    // The whole-file reader refuses it too, and yields nothing.
    const whole = await failure(readListFile(path, { list: 'ncii', format: 'stopncii', onError: 'skip' }));
    expect(isHashwardenError(whole) && whole.code).toBe('ERR_LIST_FORMAT');
    return { error, rows };
  }

  it('refuses a truncated file at the record it ends in, after yielding records before it', async () => {
    const text = JSON.stringify([record(1), record(2), record(3)]);
    const { error, rows } = await refused(text.slice(0, text.length - 40));
    expect(error.message).toMatch(/:3: .*ends before its last record/);
    expect(rows).toBe(1);
  });

  it('refuses a nesting bomb at the depth limit, without building it', async () => {
    const { error } = await refused(`[{"signalType": ${'['.repeat(5_000_000)}`);
    expect(error.message).toMatch(/:1: .*nested at most/);
  });

  it('refuses a string longer than a record may be, before the string ends', async () => {
    const huge = Buffer.alloc(MAX_LIST_LINE_BYTES + 200_000, 'a');
    const { error } = await refused(Buffer.concat([Buffer.from('[{"hashValue": "'), huge, Buffer.from('"}]')]));
    expect(error.message).toMatch(/longer than/);
  });

  it('refuses other top-level values, trailing garbage, broken syntax and invalid UTF-8', async () => {
    for (const text of [
      '42',
      '"hashRecords"',
      'null',
      '{"count": 1}',
      '{"hashRecords": {}}',
      '[1, 2,]',
      '[{"a" 1}]',
      `[${JSON.stringify(record(1))}] []`,
      '',
    ]) {
      await refused(text);
    }
    await refused(Buffer.concat([Buffer.from('[{"hashValue": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]')]));
  });
});
