/**
 * `export --out` files read back by `hashwarden import` (issue 21): NDJSON and CSV give the same
 * entries (ids, lists, labels, metadata); text keeps each algorithm and hash once, so it imports
 * into one list even when two lists share a hash (it once wrote the hash twice, and the import
 * failed with `Duplicate id "pdq:…"`).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListEntry } from '../lists/entry.js';
import { cli } from '../testing/cli.js';
import { loadDriver } from '../store/driver.js';
import { seedStore, storeEntries } from '../testing/store-files.js';

const PDQ = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';
const PDQ_2 = '0'.repeat(63) + '1';
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

let dir: string;
let db: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-export-roundtrip-'));
  db = join(dir, 'store.db');
  seedStore(db, [
    { id: 'vendor-17', list: 'ncmec', algorithm: 'pdq', hash: PDQ, label: 'A1', metadata: { source: 'x', n: 2 } },
    { list: 'ncmec', algorithm: 'md5', hash: MD5 },
    { id: 'own, "quoted"', list: 'removed', algorithm: 'pdq', hash: PDQ, label: 'removed by moderators' },
    { list: 'removed', algorithm: 'pdq', hash: PDQ_2 },
    { list: 'removed', algorithm: 'sha256', hash: SHA256, metadata: { tags: ['a', 'b'] } },
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const read = storeEntries;

describe('export --out re-imported into a fresh store', () => {
  // CSV writes a metadata value that is not a string as JSON, and reads every cell back as text.
  const asCsvReadsIt = (entry: ListEntry): ListEntry =>
    entry.metadata === undefined
      ? entry
      : {
          ...entry,
          metadata: Object.fromEntries(
            Object.entries(entry.metadata).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
          ),
        };
  for (const [format, expected] of [
    ['ndjson', (e: ListEntry) => e],
    ['csv', asCsvReadsIt],
  ] as const) {
    it(`gives the same entries from ${format}: ids, lists, labels and metadata, two lists sharing a hash`, async () => {
      const out = join(dir, `all.${format}`);
      expect((await cli('export', '--db', db, '--out', out)).status).toBe(0);
      const again = join(dir, `again-${format}.db`);
      const imported = await cli('import', out, '--db', again, '--list', 'unused', '--multi-list');
      expect([imported.status, imported.err]).toEqual([0, '']);
      expect(read(again)).toEqual(read(db).map(expected));
    });
  }

  it('gives every algorithm and hash once from text, into one list, whatever lists shared them', async () => {
    const out = join(dir, 'all.txt');
    const exported = await cli('export', '--db', db, '--out', out);
    expect(exported.status).toBe(0);
    // Sorted as the ids `<algorithm>:<hash>` an import gives them, so the import takes the fast way.
    expect(readFileSync(out, 'utf8')).toBe(`md5 ${MD5}\npdq ${PDQ_2}\npdq ${PDQ}\nsha256 ${SHA256}\n`);
    const again = join(dir, 'again-text.db');
    const imported = await cli('import', out, '--db', again, '--list', 'all');
    expect([imported.status, imported.err]).toEqual([0, '']);
    const expected = [
      ['md5', MD5],
      ['pdq', PDQ_2],
      ['pdq', PDQ],
      ['sha256', SHA256],
    ].map(([algorithm, hash]) => ({ id: `${algorithm}:${hash}`, list: 'all', algorithm, hash }));
    expect(read(again)).toEqual(expected);
  });
});

describe('export --format text of a crafted store', () => {
  it('refuses a hash longer or shorter than its algorithm with ERR_STORE, never loading an oversized one', async () => {
    for (const [blob, what] of [
      [`zeroblob(${1024 * 1024})`, 'longer than 32 bytes'],
      ['zeroblob(15)', 'bad md5 hash'],
    ] as const) {
      const crafted = join(dir, `crafted-${what.length}.db`);
      seedStore(crafted, [{ list: 'l', algorithm: 'md5', hash: MD5 }]);
      const Database = loadDriver();
      const raw = new Database(crafted);
      raw.exec(`UPDATE entries SET hash = ${blob}`);
      raw.close();
      const { status, err } = await cli('export', '--db', crafted, '--out', join(dir, 'crafted.txt'));
      expect([status, err]).toEqual([2, expect.stringContaining(what)]);
      expect(err).toContain('ERR_STORE');
    }
  });
});
