/**
 * A matcher opened from a store reads its entries straight into the packed layout (store/load.ts),
 * and `hashwarden export --snapshot` writes that layout: both must answer exactly as a matcher over
 * the same entries as objects (`fromEntries`), for every algorithm, list policy and threshold.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run.js';
import type { ListEntry } from '../lists/entry.js';
import { LISTS, makeEntries, queriesOf, setPolicies } from '../testing/store-entries.js';
import { substringWidths } from '../search/tier.js';
import { HashStore } from '../store/index.js';
import { Matcher } from './matcher.js';
import type { HashQuery } from './types.js';

describe('a matcher loaded from a store, or from a snapshot exported from it', () => {
  let dir: string;
  let entries: ListEntry[];
  let fromStore: Matcher;
  let fromSnapshot: Matcher;
  /** Exported with multi-index tables (made one at a time as the file takes them) and signed. */
  let fromMihSnapshot: Matcher;
  let fromObjects: Matcher;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hashwarden-store-load-'));
    const db = join(dir, 'hashes.db');
    entries = makeEntries();
    const store = HashStore.open(db);
    try {
      store.importEntries(entries);
      await setPolicies(store);
    } finally {
      store.close();
    }
    const snapshot = join(dir, 'lists.snap');
    const err: string[] = [];
    const status = await runCli(['export', '--db', db, '--snapshot', snapshot], {
      out: () => {},
      err: (s) => err.push(s),
      isTTY: false,
    });
    expect(err.join('')).toBe('');
    expect(status).toBe(0);
    fromStore = await Matcher.open(db);
    fromSnapshot = await Matcher.open(snapshot);
    const key = join(dir, 'publisher.key');
    const mih = join(dir, 'mih.snap');
    for (const args of [
      ['keygen', '--out', key],
      ['export', '--db', db, '--snapshot', mih, '--tier', 'mih', '--substring-bits', '12', '--sign', key],
    ]) {
      const status = await runCli(args, { out: () => {}, err: (e) => err.push(e), isTTY: false });
      expect(err.join('')).toBe('');
      expect(status).toBe(0);
    }
    fromMihSnapshot = await Matcher.open(mih, { trustedKeys: [await readFile(`${key}.pub`, 'utf8')] });
    // The order the store gives: list by name, then id (as `entries()` reads them).
    const ordered = entries
      .filter((e) => e.list !== 'off')
      .sort((a, b) => (a.list < b.list ? -1 : a.list > b.list ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    fromObjects = Matcher.fromEntries(ordered, { lists: LISTS });
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds the same lists, entries and tables', () => {
    const lists = fromObjects.lists;
    expect(fromStore.lists).toEqual(lists);
    expect(fromSnapshot.lists).toEqual(lists);
    expect(fromStore.size).toBe(entries.length - 50);
    expect(fromStore.describe()).toEqual(fromObjects.describe());
    expect(fromSnapshot.describe()).toEqual(fromObjects.describe());
    expect(fromMihSnapshot.lists).toEqual(lists);
    const perceptual = fromMihSnapshot.describe().filter((d) => d.tier !== 'exact');
    expect(perceptual.length).toBeGreaterThan(0);
    for (const d of perceptual) expect(d).toMatchObject({ tier: 'mih', substringBits: substringWidths(12) });
    expect(fromStore.algorithms).toEqual(fromObjects.algorithms);
  });

  it('gives the same matches for hashes, near misses and misses, at every threshold', () => {
    const queries = queriesOf(entries);
    expect(queries.length).toBeGreaterThan(1000);
    for (const threshold of [undefined, 0, 12, 31, 64]) {
      const options = threshold === undefined ? undefined : { threshold };
      const expected = fromObjects.matchHashes(queries, options);
      expect(expected.some((r) => r.ok && r.matches.length > 1)).toBe(true);
      expect(fromStore.matchHashes(queries, options)).toEqual(expected);
      expect(fromSnapshot.matchHashes(queries, options)).toEqual(expected);
      expect(fromMihSnapshot.matchHashes(queries, options)).toEqual(expected);
    }
    const one = queries[1] as HashQuery;
    expect(fromStore.matchHash(one)).toEqual(fromObjects.matchHash(one));
  });

  it('finds every enabled entry by its own hash, with its label and metadata, and no disabled one', () => {
    for (const entry of entries) {
      const found = fromStore.matchHash({ algorithm: entry.algorithm, hash: entry.hash }, { threshold: 0 });
      const mine = found.filter((m) => m.list === entry.list && m.entryId === entry.id);
      expect(mine).toHaveLength(entry.list === 'off' ? 0 : 1);
      if (entry.list === 'off') continue;
      expect(mine[0]?.label).toBe(entry.label);
      expect(mine[0]?.metadata).toEqual(entry.metadata);
    }
  });
});
