import { describe, expect, it } from 'vitest';
import { entryTableOf, packedEntryTable, packEntries, type EntryTable } from './entry-table.js';
import type { ListEntry } from '../lists/entry.js';

const entries: ListEntry[] = [
  { id: 'a1', list: 'ncmec', algorithm: 'md5', hash: '00'.repeat(16), label: 'csam', metadata: { source: 'x', n: 3 } },
  { id: 'é-ünïcode', list: 'internal', algorithm: 'md5', hash: '11'.repeat(16) },
  { id: 'a3', list: 'ncmec', algorithm: 'md5', hash: '22'.repeat(16), label: 'review' },
];

function rows(table: EntryTable) {
  return Array.from({ length: table.count }, (_, i) => [table.list(i), table.id(i), table.label(i), table.metadata(i)]);
}

describe('entry tables', () => {
  it('reads the same entries from objects and from packed columns', () => {
    const packed = packedEntryTable(packEntries(entries, ['internal', 'ncmec']));
    expect(rows(packed)).toEqual(rows(entryTableOf(entries)));
    expect(rows(packed)[1]).toEqual(['internal', 'é-ünïcode', undefined, undefined]);
  });

  it('refuses an entry whose list is not among the names given', () => {
    expect(() => packEntries(entries, ['ncmec'])).toThrow(RangeError);
  });
});
