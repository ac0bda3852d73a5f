/**
 * The rescan's exactness property, for every seen store: random uploads (perceptual hashes with
 * their turns, trims and frames, an exact hash, list versions they were checked against) and
 * random entries near them, two rounds with late records between, each round's events compared
 * with a brute-force scan of every recorded hash against every entry it must search.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { DIHEDRAL_NAMES } from '../algorithms/dihedral.js';
import { formatHex, hammingDistance } from '../algorithms/hex.js';
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { ListEntry } from '../lists/entry.js';
import type { SearchedQuery } from '../matcher/searched.js';
import type { ImageMatchResult } from '../matcher/types.js';
import type { RescanEvent } from '../seen/events.js';
import type { RescanOptions } from '../seen/store.js';
import type { ImportOptions, ListInfo, ListPolicyChange } from '../store/types.js';
import { fuzzParameters } from './fuzz.js';
import { mulberry32 } from './prng.js';
import { resultOf } from './seen.js';

/** A list store and a seen store, fresh and empty, as the property drives them (sync or async alike). */
export interface RescanStores {
  record(contentId: string, result: ImageMatchResult): unknown;
  importEntries(entries: readonly ListEntry[], options?: ImportOptions): unknown;
  setListPolicy(name: string, change: ListPolicyChange): unknown;
  lists(): readonly ListInfo[] | Promise<readonly ListInfo[]>;
  rescan(options?: RescanOptions): AsyncIterable<RescanEvent>;
  close(): unknown;
}

/** Every event of a rescan, in order. */
export async function collect(events: AsyncIterable<RescanEvent>): Promise<RescanEvent[]> {
  const out: RescanEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** An event without its id and time, as a string: what the brute force says it must be. */
export function shape(
  e: Omit<RescanEvent, 'id' | 'recordedAt'> & Partial<Pick<RescanEvent, 'id' | 'recordedAt'>>,
): string {
  const { id: _id, recordedAt: _at, ...rest } = e;
  return JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1))));
}

export interface Upload {
  readonly contentId: string;
  readonly queries: SearchedQuery[];
  readonly versions: Record<string, number>;
}

interface Round {
  /** The entries the round must take as new, with their list's version. */
  readonly entries: readonly (ListEntry & { readonly hash: string; readonly version: number })[];
  readonly thresholds: Readonly<Record<string, Partial<Record<AlgorithmName, number>>>>;
  readonly disabled: ReadonlySet<string>;
}

/**
 * Every recorded hash against every new entry: per (upload, entry) the nearest of the upload's
 * hashes of that algorithm (the earliest on a tie), within the list's threshold, for uploads
 * checked against an older version of the list.
 */
export function bruteForce(uploads: readonly Upload[], round: Round): string[] {
  const out: string[] = [];
  for (const u of uploads) {
    for (const e of round.entries) {
      if (round.disabled.has(e.list)) continue;
      const checked = u.versions[e.list];
      if (checked !== undefined && checked >= e.version) continue;
      const algorithm = getAlgorithm(e.algorithm);
      const target = algorithm.parse(e.hash);
      let best: { distance: number; q: SearchedQuery } | undefined;
      for (const q of u.queries) {
        if (q.algorithm !== algorithm.name) continue;
        const distance =
          algorithm.kind === 'exact' ? (formatHex(q.hash) === e.hash ? 0 : 999) : hammingDistance(q.hash, target);
        if (best === undefined || distance < best.distance) best = { distance, q };
      }
      const threshold =
        algorithm.kind === 'exact' ? 0 : (round.thresholds[e.list]?.[algorithm.name] ?? algorithm.defaultThreshold);
      if (best === undefined || best.distance > threshold) continue;
      out.push(
        shape({
          contentId: u.contentId,
          list: e.list,
          entryId: e.id as string,
          listVersion: e.version,
          algorithm: algorithm.name,
          distance: best.distance,
          threshold,
          ...(best.q.transform === undefined ? {} : { transform: best.q.transform }),
          ...(best.q.trimmed ? { trimmed: true as const } : {}),
          ...(best.q.frame === undefined ? {} : { frame: best.q.frame }),
        }),
      );
    }
  }
  return out.sort();
}

/** A hash near `from` (k random bits flipped) or, without one, random. */
function near(random: () => number, from: Uint8Array | undefined, width: number, bits: number): string {
  const out = from === undefined ? Uint8Array.from({ length: width }, () => Math.floor(random() * 256)) : from.slice();
  for (let i = 0; i < bits; i++) {
    const bit = Math.floor(random() * width * 8);
    out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  }
  return formatHex(out);
}

const PERCEPTUAL: AlgorithmName[] = ['pdq', 'blockhash'];

function randomUpload(random: () => number, i: number): Upload {
  const queries: SearchedQuery[] = [];
  const frames = random() < 0.2 ? [0, 1, 2] : [undefined];
  for (const frame of frames) {
    for (const trimmed of random() < 0.3 ? [false, true] : [false]) {
      for (const algorithm of PERCEPTUAL) {
        const base = Uint8Array.from(Buffer.from(near(random, undefined, 32, 0), 'hex'));
        const variants = random() < 0.8 ? DIHEDRAL_NAMES : [undefined];
        for (const transform of variants) {
          // A variant a few bits from the upload's own, or a repeat of it (a symmetric image).
          const hash =
            random() < 0.1
              ? base
              : Uint8Array.from(Buffer.from(near(random, base, 32, Math.floor(random() * 40)), 'hex'));
          queries.push({
            algorithm,
            hash,
            ...(transform === undefined ? {} : { transform }),
            ...(trimmed ? { trimmed: true as const } : {}),
            ...(frame === undefined ? {} : { frame }),
          });
        }
      }
    }
  }
  queries.push({ algorithm: 'md5', hash: Uint8Array.from(Buffer.from(near(random, undefined, 16, 0), 'hex')) });
  const versions = [{}, { a: 1 }, { a: 1, b: 1 }, { a: 2 }, { a: 2, b: 2, c: 2 }][Math.floor(random() * 5)] as Record<
    string,
    number
  >;
  return { contentId: `upload-${i}`, queries, versions };
}

/** Entries for lists a, b, c: near some recorded hash (within reach of the thresholds), or random. */
function randomEntries(
  random: () => number,
  uploads: readonly Upload[],
  count: number,
  tag: string,
): (ListEntry & { hash: string })[] {
  const out: (ListEntry & { hash: string })[] = [];
  for (let i = 0; i < count; i++) {
    const list = ['a', 'b', 'c'][Math.floor(random() * 3)] as string;
    const upload = uploads[Math.floor(random() * uploads.length)];
    const pick = upload?.queries[Math.floor(random() * upload.queries.length)];
    // Some ids reused across rounds: an entry whose hash changed is new again.
    const id = random() < 0.2 ? `e${i % 3}` : `${tag}-${i}`;
    if (pick?.algorithm === 'md5' || random() < 0.25) {
      const md5 = upload?.queries.find((q) => q.algorithm === 'md5');
      const hash = random() < 0.7 && md5 !== undefined ? formatHex(md5.hash) : near(random, undefined, 16, 0);
      out.push({ list, id, algorithm: 'md5', hash });
      continue;
    }
    const algorithm = pick?.algorithm ?? 'pdq';
    out.push({
      list,
      id,
      algorithm,
      hash: near(random, random() < 0.8 ? pick?.hash : undefined, 32, Math.floor(random() * 50)),
    });
  }
  // One entry per (list, id): the store keeps the last.
  return [...new Map(out.map((e) => [`${e.list}\u0000${e.id}`, e])).values()];
}

/**
 * Runs the exactness property `runs` times (fuzzParameters' budget), each run on stores `open`
 * makes fresh, and checks that across the runs each kind of event (turned, trimmed, framed, exact,
 * late) was found often enough for the comparison to mean something.
 */
export async function rescanExactness(open: () => Promise<RescanStores>, runs: number): Promise<void> {
  const found = { events: 0, transforms: 0, trimmed: 0, frames: 0, exact: 0, late: 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        seed: fc.integer(),
        uploads: fc.integer({ min: 1, max: 12 }),
        first: fc.integer({ min: 0, max: 15 }),
        second: fc.integer({ min: 0, max: 25 }),
        late: fc.integer({ min: 0, max: 4 }),
        pdqA: fc.integer({ min: 0, max: 64 }),
        blockhashB: fc.integer({ min: 0, max: 64 }),
        batchSize: fc.integer({ min: 1, max: 5 }),
        // Random PDQ entries far from every upload, enough for the batch kernel's tables
        // (BATCH_SCAN_BELOW), and for a threshold up to 31 to probe them (16 tables × 17 probes
        // within the guard, an eighth of the entries) rather than scan.
        padding: fc.constantFrom(0, 0, 2500),
      }),
      async (c) => {
        const random = mulberry32(c.seed);
        const stores = await open();
        try {
          const uploads = Array.from({ length: c.uploads }, (_, i) => randomUpload(random, i));
          for (const u of uploads) await stores.record(u.contentId, resultOf(u.queries, u.versions));
          const thresholds = { a: { pdq: c.pdqA }, b: { blockhash: c.blockhashB } };
          const disabled = new Set(['c']);
          // Round 1: every list made empty at version 1, then every entry new.
          const first = [
            ...randomEntries(random, uploads, c.first, 'first'),
            ...Array.from({ length: c.padding }, (_, i) => ({
              list: 'a',
              id: `pad-${i}`,
              algorithm: 'pdq' as const,
              hash: near(random, undefined, 32, 0),
            })),
          ];
          for (const name of ['a', 'b', 'c']) await stores.importEntries([], { replace: [name], allowEmpty: true });
          await stores.setListPolicy('a', { thresholds: { pdq: c.pdqA } });
          await stores.setListPolicy('b', { thresholds: { blockhash: c.blockhashB } });
          await stores.setListPolicy('c', { enabled: false });
          if (first.length > 0) await stores.importEntries(first);
          const at = new Map((await stores.lists()).map((l) => [l.name, l.version]));
          const round1 = first.map((e) => ({ ...e, version: at.get(e.list) as number }));
          const events1 = await collect(stores.rescan({ batchSize: c.batchSize }));
          for (const e of [...events1]) {
            found.events++;
            if (e.transform !== undefined && e.transform !== 'original') found.transforms++;
            if (e.trimmed) found.trimmed++;
            if (e.frame !== undefined) found.frames++;
            if (e.algorithm === 'md5') found.exact++;
          }
          expect(events1.map(shape).sort()).toEqual(bruteForce(uploads, { entries: round1, thresholds, disabled }));
          // Uploads recorded after round 1's pass but checked before its entries (a matcher
          // reloading late): round 2 must also search them against round 1's entries.
          // Half of them the same image as an earlier upload (uploaded again), so round 1's entries reach them.
          const late = Array.from({ length: c.late }, (_, i) => ({
            ...randomUpload(random, c.uploads + i),
            ...(i % 2 === 0 ? { queries: (uploads[i % uploads.length] as Upload).queries } : {}),
            versions: [{}, { a: 1 }, { a: at.get('a') as number, b: 1 }][i % 3] as Record<string, number>,
          }));
          for (const u of late) await stores.record(u.contentId, resultOf(u.queries, u.versions));
          // Round 2: entries added or changed since round 1, nothing else.
          const second = randomEntries(random, [...uploads, ...late], c.second, 'second');
          if (second.length > 0) await stores.importEntries(second);
          const now = new Map((await stores.lists()).map((l) => [l.name, l.version]));
          const before = new Map(first.map((e) => [`${e.list}\u0000${e.id}`, e.hash]));
          const round2 = second
            .filter((e) => before.get(`${e.list}\u0000${e.id}`) !== e.hash)
            .map((e) => ({ ...e, version: now.get(e.list) as number }));
          const changed = new Set(round2.map((e) => `${e.list}\u0000${e.id}`));
          const kept = round1.filter((e) => !changed.has(`${e.list}\u0000${e.id}`));
          const events2 = await collect(stores.rescan({ batchSize: c.batchSize }));
          found.late += events2.filter(
            (e) => late.some((u) => u.contentId === e.contentId) && e.listVersion < (now.get(e.list) as number),
          ).length;
          expect(events2.map(shape).sort()).toEqual(
            [
              ...bruteForce(uploads, { entries: round2, thresholds, disabled }),
              ...bruteForce(late, { entries: [...kept, ...round2], thresholds, disabled }),
            ].sort(),
          );
          // Nothing new: nothing found.
          expect(await collect(stores.rescan())).toEqual([]);
        } finally {
          await stores.close();
        }
      },
    ),
    fuzzParameters(runs),
  );
  for (const [kind, n] of Object.entries(found)) expect(n, kind).toBeGreaterThan(5);
}
