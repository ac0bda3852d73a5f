/**
 * The dedupe policy (issue 21): a row repeating an earlier one's list, algorithm and hash, neither
 * with an id, is kept once (`merge`, the default) by every reader and import, and is a repeated id
 * with `dedupe: 'fail'` / `--dedupe fail`; a repeated explicit id is refused under both.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseList, readListFile } from '../lists/parse.js';
import { streamListFile } from '../lists/stream.js';
import { cli } from '../testing/cli.js';
import { HashStore } from './index.js';

const A = '0cc175b9c0f1b6a831c399e269772661';
const B = '92eb5ffee6ae2fec3ad71c777531578f';
// Out of id order (b before a), so importFile takes the staged (sorted) way, not the ordered one.
const REPEATS = `md5 ${B}\nmd5 ${A}\n\nmd5 ${B.toUpperCase()}\nmd5 ${A}\n`;

let dir: string;
let file: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-dedupe-'));
  file = join(dir, 'repeats.txt');
  await writeFile(file, REPEATS);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function open(): HashStore {
  return HashStore.open(join(dir, `${++n}.db`));
}

describe('dedupe merge (default)', () => {
  it('keeps identical rows without ids once in parseList and readListFile, counting the rest', async () => {
    for (const parsed of [parseList(REPEATS, { list: 'l' }), await readListFile(file, { list: 'l' })]) {
      expect(parsed.entries.map((e) => e.hash)).toEqual([B, A]);
      expect(parsed).toMatchObject({ merged: 2, rows: 4, skippedCount: 0 });
    }
  });

  it('keeps the first row, with its metadata, when the repeats differ only there', () => {
    const text = `hash,algorithm,file\n${A},md5,one.jpg\n${A},md5,two.jpg\n`;
    const parsed = parseList(text, { list: 'l', format: 'csv' });
    expect(parsed.entries).toEqual([
      { id: `md5:${A}`, list: 'l', algorithm: 'md5', hash: A, metadata: { file: 'one.jpg' } },
    ]);
  });

  it('imports identical rows once through importRows and importFile', async () => {
    const rows = open();
    const fromRows = await rows.importRows(streamListFile(file, { list: 'l' }), { source: file });
    expect(fromRows.summaries).toMatchObject([{ list: 'l', added: 2 }]);
    expect(fromRows.skippedCount).toBe(0);
    rows.close();
    const whole = open();
    const fromFile = await whole.importFile(file, { list: 'l', thread: false });
    expect(fromFile.ordered).toBe(false);
    expect(fromFile.summaries).toMatchObject([{ list: 'l', added: 2 }]);
    expect([...whole.entries()].map((e) => e.id).sort()).toEqual([`md5:${A}`, `md5:${B}`]);
    whole.close();
  });

  it('never merges a row whose default id an earlier row took as its explicit id', async () => {
    const text = `id,hash,algorithm\nmd5:${A},${B},md5\n,${A},md5\n`;
    const parsed = parseList(text, { list: 'l', format: 'csv', onError: 'skip' });
    expect(parsed.skipped.map((p) => p.line)).toEqual([3]);
    const path = join(dir, 'taken.csv');
    await writeFile(path, text);
    const store = open();
    const result = await store.importFile(path, { list: 'l', thread: false, onError: 'skip' });
    expect(result.skipped.map((p) => p.line)).toEqual([3]);
    store.close();
  });

  it('still refuses a repeated explicit id, and one repeating a default id with another hash', async () => {
    const text = `id,hash,algorithm\n,${A},md5\nmd5:${A},${B},md5\nx,${A},md5\nx,${A},md5\n`;
    const path = join(dir, 'ids.csv');
    await writeFile(path, text);
    const parsed = parseList(text, { list: 'l', format: 'csv', onError: 'skip' });
    expect(parsed.skipped.map((p) => p.line)).toEqual([3, 5]);
    const store = open();
    const result = await store.importFile(path, { list: 'l', thread: false, onError: 'skip' });
    expect(result.skipped.map((p) => p.line)).toEqual([3, 5]);
    const rows = await store.importRows(streamListFile(path, { list: 'm' }), { onError: 'skip' });
    expect(rows.skipped.map((p) => p.line)).toEqual([3, 5]);
    store.close();
  });

  it('does not merge an add with a removal of the same hash', async () => {
    const path = join(dir, 'delta.csv');
    await writeFile(path, `hash,algorithm,op\n${B},md5,add\n${A},md5,add\n${A},md5,remove\n`);
    const store = open();
    await expect(store.importFile(path, { list: 'l', thread: false })).rejects.toMatchObject({
      code: 'ERR_LIST_FORMAT',
    });
    store.close();
  });
});

describe('dedupe fail', () => {
  it('makes identical rows repeated ids in every reader and import', async () => {
    expect(() => parseList(REPEATS, { list: 'l', dedupe: 'fail' })).toThrow(/Duplicate id/);
    await expect(readListFile(file, { list: 'l', dedupe: 'fail' })).rejects.toMatchObject({ code: 'ERR_LIST_FORMAT' });
    const store = open();
    await expect(store.importRows(streamListFile(file, { list: 'l' }), { dedupe: 'fail' })).rejects.toMatchObject({
      code: 'ERR_LIST_FORMAT',
    });
    const skipped = await store.importFile(file, { list: 'l', thread: false, dedupe: 'fail', onError: 'skip' });
    expect(skipped.skipped.map((p) => p.line)).toEqual([4, 5]);
    store.close();
  });

  it('refuses an unknown policy as an argument error', () => {
    expect(() => parseList(REPEATS, { list: 'l', dedupe: 'first' as never })).toThrow(RangeError);
  });
});

describe('hashwarden import --dedupe', () => {
  it('merges by default and refuses the repeats with --dedupe fail', async () => {
    const merged = await cli('import', file, '--db', join(dir, 'cli.db'), '--list', 'l', '--algorithm', 'md5');
    expect(merged.status).toBe(0);
    expect(merged.out).toMatch(/2 added/);
    const failed = await cli('import', file, '--db', join(dir, 'cli2.db'), '--list', 'l', '--dedupe', 'fail');
    expect(failed.status).toBe(2);
    expect(failed.err).toMatch(/Duplicate id/);
  });
});
