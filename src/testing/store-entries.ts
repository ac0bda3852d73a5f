/**
 * The lists of the store-loading tests (src/matcher/store-load.test.ts for SQLite,
 * src/postgres/matcher.test.ts for PostgreSQL): more entries than one batch of a packed read, in
 * lists that hold one algorithm, several at once, labels and metadata on some entries only (so
 * some batches are read whole and some row by row), ids of several lengths and non-ASCII ones;
 * the lists' policies; and queries at and around the entries. Seeded: the same on every run.
 */
import { ALGORITHM_NAMES, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { ListEntry } from '../lists/entry.js';
import type { HashQuery, MatcherList } from '../matcher/types.js';
import type { ListPolicyChange } from '../store/types.js';
import { mulberry32 } from './prng.js';

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
export function makeEntries(): ListEntry[] {
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

/** The policies `setPolicies` gives the lists (and `off` disabled). */
export const LISTS: readonly MatcherList[] = [
  { name: 'alpha', version: 1, thresholds: { pdq: 40 } },
  { name: 'items', version: 1, thresholds: { pdq: 31 } },
  { name: 'labelled', version: 1, label: 'block-and-report', thresholds: { blockhash: 4 } },
  { name: 'mixed', version: 1, thresholds: { blockhash: 20, pdq: 12 } },
];

/** Every 97th entry's hash, and those of the `mixed` list, as they are and with bits flipped. */
export function queriesOf(entries: readonly ListEntry[]): HashQuery[] {
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

/** Gives a store's lists the policies of {@link LISTS}, and disables `off`. */
export async function setPolicies(store: {
  setListPolicy(name: string, change: ListPolicyChange): unknown;
}): Promise<void> {
  for (const list of LISTS) {
    await store.setListPolicy(list.name, {
      thresholds: list.thresholds ?? {},
      ...(list.label === undefined ? {} : { label: list.label }),
    });
  }
  await store.setListPolicy('off', { enabled: false });
}
