/**
 * A matcher opened from a store reads its entries straight into the packed layout (store/load.ts),
 * and `hashwarden export --snapshot` writes that layout: both must answer exactly as a matcher over
 * the same entries as objects (`fromEntries`), for every algorithm, list policy and threshold.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALGORITHM_NAMES, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { runCli } from '../cli/run.js';
import type { ListEntry } from '../lists/entry.js';
import { mulberry32 } from '../testing/prng.js';
import { substringWidths } from '../search/tier.js';
import { HashStore } from '../store/index.js';
import { Matcher } from './matcher.js';
import type { HashQuery, MatcherList } from './types.js';

const random = mulberry32(19);

function randomBytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}

/** `hash` with `flips` distinct bits flipped. */
function flipped(hash: Uint8Array, flips: number): Uint8Array {
  const out = Uint8Array.from(hash);
  const bits = new Set<number>();
  while (bits.size < flips) bits.add(Math.floor(random() * hash.length * 8));
  for (const bit of bits) out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}

/**
 * More entries than one batch of the packed read (8,192), in lists that hold one algorithm, several
 * at once, labels and metadata on some entries only (so some batches are read whole and some row
 * by row), ids of several lengths and non-ASCII ones.
 */
function makeEntries(): ListEntry[] {
  const entries: ListEntry[] = [];
  const add = (list: string, algorithm: AlgorithmName, id: string, extra: Partial<ListEntry> = {}): void => {
    const a = getAlgorithm(algorithm);
    entries.push({ list, id, algorithm, hash: a.format(randomBytes(a.bits / 8)), ...extra });
  };
  for (let i = 0; i < 9000; i++) add('alpha', 'pdq', `a-${i}`);
  for (let i = 0; i < 60; i++) {
    for (const algorithm of ALGORITHM_NAMES) {
      const extra = i % 7 === 0 ? { label: `label ${i} é`, metadata: { case: i, tags: ['x', 'ü'] } } : {};
      add('mixed', algorithm, `m-${algorithm}-${'z'.repeat(i % 5)}${i}-ß`, extra);
    }
  }
  for (let i = 0; i < 8300; i++)
    add('labelled', 'blockhash', `l-${String(i).padStart(6, '0')}`, i === 8250 ? { label: 'late' } : {});
  for (let i = 0; i < 50; i++) add('off', 'pdq', `o-${i}`);
  // Exact and perceptual hashes of the same items, ids interleaved across batches: each batch
  // holds several algorithms (read again per algorithm over its range), one with a label.
  for (let i = 0; i < 4500; i++)
    for (const algorithm of ['sha256', 'pdq', 'md5'] as const)
      add('items', algorithm, `i-${String(i).padStart(5, '0')}-${algorithm}`, i === 3000 ? { label: 'seen' } : {});
  // The same hash in two lists, for exact and perceptual ties.
  const shared = entries[3] as ListEntry;
  entries.push({ ...shared, list: 'mixed', id: 'm-shared' });
  const md5 = entries.find((e) => e.algorithm === 'md5') as ListEntry;
  entries.push({ ...md5, list: 'alpha', id: 'a-md5-twin' });
  return entries;
}

const LISTS: readonly MatcherList[] = [
  { name: 'alpha', version: 1, thresholds: { pdq: 40 } },
  { name: 'items', version: 1, thresholds: { pdq: 31 } },
  { name: 'labelled', version: 1, label: 'block-and-report', thresholds: { blockhash: 4 } },
  { name: 'mixed', version: 1, thresholds: { blockhash: 20, pdq: 12 } },
];

function queriesOf(entries: readonly ListEntry[]): HashQuery[] {
  const queries: HashQuery[] = [];
  entries.forEach((e, i) => {
    if (i % 97 !== 0 && e.list !== 'mixed') return;
    const algorithm = getAlgorithm(e.algorithm);
    const bytes = algorithm.parse(e.hash);
    queries.push({ algorithm: e.algorithm, hash: e.hash });
    if (algorithm.kind === 'perceptual')
      for (const flips of [3, 11, 12, 13, 20, 21, 31, 32, 40, 41, 60])
        queries.push({ algorithm: e.algorithm, hash: algorithm.format(flipped(bytes, flips)) });
    else queries.push({ algorithm: e.algorithm, hash: algorithm.format(flipped(bytes, 1)) });
  });
  return queries;
}

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
      for (const list of LISTS) {
        store.setListPolicy(list.name, {
          thresholds: list.thresholds ?? {},
          ...(list.label === undefined ? {} : { label: list.label }),
        });
      }
      store.setListPolicy('off', { enabled: false });
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
