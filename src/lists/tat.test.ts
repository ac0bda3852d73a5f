/**
 * Tech Against Terrorism's hash list entries (issue 21): `hash_digest` read as the hash, numeric
 * ids as text, `deleted: true` as a removal, through both readers.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ListEntry, normalizeEntry } from './entry.js';
import { readListFile } from './parse.js';
import { removalKey } from './rows.js';
import { streamListFile, type ListRow } from './stream.js';
import { tatRecordRow } from './tat.js';
import { SAMPLES } from '../testing/list-samples.js';

describe('TAT hash list entries (NDJSON)', () => {
  it('reads hash_digest as the hash and deleted entries as removals, alike in both readers', async () => {
    const path = join(SAMPLES, 'tat-hash-list.ndjson');
    const rows: ListRow[] = [];
    for await (const batch of streamListFile(path, { list: 'tat' })) rows.push(...batch.rows);
    const adds = rows.filter((r): r is Extract<ListRow, { op: 'add' }> => r.op === 'add').map((r) => r.entry);
    expect(adds.map((e: ListEntry) => [e.id, e.algorithm, e.metadata?.ideology])).toEqual([
      ['2819', 'md5', 'islamist'],
      ['2820', 'md5', 'far_right'],
      ['2821', 'pdq', 'islamist'],
    ]);
    expect(rows.filter((r) => r.op === 'remove')).toEqual([{ op: 'remove', list: 'tat', id: '2822', line: 4 }]);
    // A whole-file read only adds: the removal is its bad row, the adds the same.
    const parsed = await readListFile(path, { list: 'tat', onError: 'skip' });
    expect(parsed.entries).toEqual(adds);
    expect(parsed.skipped.map((p) => p.line)).toEqual([4]);
  });

  it("maps a record as the TAT connector does: tatRecordRow gives the reader's entries and removals", async () => {
    const path = join(SAMPLES, 'tat-hash-list.ndjson');
    const read: ListRow[] = [];
    for await (const batch of streamListFile(path, { list: 'tat' })) read.push(...batch.rows);
    const records = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const mapped = records.map((record, i) => {
      const row = tatRecordRow(record, 'tat');
      return row.op === 'remove'
        ? { op: 'remove', ...removalKey(row), line: i + 1 }
        : { op: 'add', entry: normalizeEntry(row), line: i + 1 };
    });
    expect(mapped).toEqual(read);
  });
});
