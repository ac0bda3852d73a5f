import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIHEDRAL_NAMES } from '../algorithms/dihedral.js';
import { formatHex, hammingDistance } from '../algorithms/hex.js';
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { ListEntry } from '../lists/entry.js';
import type { SearchedQuery } from '../matcher/searched.js';
import { HashStore } from '../store/store.js';
import { fuzzParameters, fuzzTestTimeout } from '../testing/fuzz.js';
import { mulberry32 } from '../testing/prng.js';
import { resultOf } from '../testing/seen.js';
import type { RescanEvent } from './rescan.js';
import { SeenStore } from './store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-rescan-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function collect(events: AsyncIterable<RescanEvent>): Promise<RescanEvent[]> {
  const out: RescanEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** An event without its id and time, as a string: what the brute force says it must be. */
function shape(e: Omit<RescanEvent, 'id' | 'recordedAt'> & Partial<Pick<RescanEvent, 'id' | 'recordedAt'>>): string {
  const { id: _id, recordedAt: _at, ...rest } = e;
  return JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1))));
}

interface Upload {
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
function bruteForce(uploads: readonly Upload[], round: Round): string[] {
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

describe('rescan', () => {
  it(
    'finds exactly what a brute-force scan of every recorded hash against every new entry finds',
    async () => {
      // Across the runs, enough events of each kind that the comparison means something.
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
          }),
          async (c) => {
            const random = mulberry32(c.seed);
            const path = mkdtempSync(join(dir, 'run-'));
            const store = HashStore.open(join(path, 'hashes.db'));
            const seen = SeenStore.open(join(path, 'seen.db'));
            try {
              const uploads = Array.from({ length: c.uploads }, (_, i) => randomUpload(random, i));
              for (const u of uploads) seen.record(u.contentId, resultOf(u.queries, u.versions));
              const thresholds = { a: { pdq: c.pdqA }, b: { blockhash: c.blockhashB } };
              const disabled = new Set(['c']);
              // Round 1: every list made empty at version 1, then every entry new.
              const first = randomEntries(random, uploads, c.first, 'first');
              for (const name of ['a', 'b', 'c']) store.importEntries([], { replace: [name], allowEmpty: true });
              store.setListPolicy('a', { thresholds: { pdq: c.pdqA } });
              store.setListPolicy('b', { thresholds: { blockhash: c.blockhashB } });
              store.setListPolicy('c', { enabled: false });
              if (first.length > 0) store.importEntries(first);
              const at = new Map(store.lists().map((l) => [l.name, l.version]));
              const round1 = first.map((e) => ({ ...e, version: at.get(e.list) as number }));
              const events1 = await collect(seen.rescan(store, { batchSize: c.batchSize }));
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
              for (const u of late) seen.record(u.contentId, resultOf(u.queries, u.versions));
              // Round 2: entries added or changed since round 1, nothing else.
              const second = randomEntries(random, [...uploads, ...late], c.second, 'second');
              if (second.length > 0) store.importEntries(second);
              const now = new Map(store.lists().map((l) => [l.name, l.version]));
              const before = new Map(first.map((e) => [`${e.list}\u0000${e.id}`, e.hash]));
              const round2 = second
                .filter((e) => before.get(`${e.list}\u0000${e.id}`) !== e.hash)
                .map((e) => ({ ...e, version: now.get(e.list) as number }));
              const changed = new Set(round2.map((e) => `${e.list}\u0000${e.id}`));
              const kept = round1.filter((e) => !changed.has(`${e.list}\u0000${e.id}`));
              const events2 = await collect(seen.rescan(store, { batchSize: c.batchSize }));
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
              expect(await collect(seen.rescan(store))).toEqual([]);
            } finally {
              seen.close();
              store.close();
            }
          },
        ),
        fuzzParameters(25),
      );
      for (const [kind, n] of Object.entries(found)) expect(n, kind).toBeGreaterThan(5);
    },
    fuzzTestTimeout(),
  );
});

describe('rescan checkpoints', () => {
  const md5 = (i: number) => i.toString(16).padStart(32, '0');
  function seeded(count: number, at: (i: number) => Date = () => new Date()) {
    const store = HashStore.open(join(dir, 'hashes.db'));
    store.importEntries(
      Array.from({ length: count }, (_, i) => ({ list: 'l', id: `e${i}`, algorithm: 'md5' as const, hash: md5(i) })),
    );
    const seen = SeenStore.open(join(dir, 'seen.db'));
    for (let i = 0; i < count; i++)
      seen.record(`u${i}`, resultOf([{ algorithm: 'md5', hash: bytes(md5(i)) }], {}), { at: at(i) });
    return { store, seen };
  }
  const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));

  it('resumes a rescan left by a break from its last acknowledged batch, with the same event ids', async () => {
    const { store, seen } = seeded(5);
    const taken: string[] = [];
    for await (const event of seen.rescan(store, { batchSize: 2 })) {
      taken.push(event.contentId);
      if (taken.length === 3) break;
    }
    expect(taken).toEqual(['u0', 'u1', 'u2']);
    const rest = await collect(seen.rescan(store, { batchSize: 2 }));
    // Batch [u2, u3] was in hand: u2 comes again.
    expect(rest.map((e) => e.contentId)).toEqual(['u2', 'u3', 'u4']);
    expect(await collect(seen.rescan(store))).toEqual([]);
    seen.close();
    store.close();
  });

  it('searches only uploads recorded since the date given, and never a deleted one', async () => {
    const { store, seen } = seeded(4, (i) => new Date(Date.UTC(2026, 0, 1 + i)));
    seen.delete('u3');
    const events = await collect(seen.rescan(store, { since: new Date(Date.UTC(2026, 0, 2)) }));
    expect(events.map((e) => e.contentId)).toEqual(['u1', 'u2']);
    expect(events[0]?.recordedAt.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    seen.close();
    store.close();
  });

  it('finds an entry removed and added again anew, at its new version', async () => {
    const { store, seen } = seeded(2);
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`)).toEqual([
      'u0 e0 v1',
      'u1 e1 v1',
    ]);
    store.importEntries([{ list: 'l', id: 'e1', algorithm: 'md5', hash: md5(1) }], { replace: ['l'] });
    expect(await collect(seen.rescan(store))).toEqual([]);
    store.importEntries([{ list: 'l', id: 'e0', algorithm: 'md5', hash: md5(0) }]);
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`)).toEqual([
      'u0 e0 v3',
    ]);
    seen.close();
    store.close();
  });

  it('lets a second rescan begun meanwhile finish the same round: events repeated, none lost', async () => {
    const { store, seen } = seeded(5);
    const other = SeenStore.open(join(dir, 'seen.db'));
    const first = seen.rescan(store, { batchSize: 1 });
    const taken = [(await first.next()).value as RescanEvent];
    const all = await collect(other.rescan(store, { batchSize: 1 }));
    for await (const event of { [Symbol.asyncIterator]: () => first }) taken.push(event);
    expect(all.map((e) => e.contentId)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
    expect(new Set(taken.map((e) => e.id))).toEqual(new Set(all.map((e) => e.id)));
    expect(await collect(seen.rescan(store))).toEqual([]);
    other.close();
    seen.close();
    store.close();
  });

  it('searches an upload recorded after a round, but checked before its entries, against them in the next', async () => {
    const { store, seen } = seeded(1);
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`)).toEqual([
      'u0 e0 v1',
    ]);
    // Checked by a matcher still holding the list as it was before e0 (no version), recorded now.
    seen.record('late', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], {}));
    // And one checked at version 1: it saw e0 then.
    seen.record('current', resultOf([{ algorithm: 'md5', hash: bytes(md5(0)) }], { l: 1 }));
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId} v${e.listVersion}`)).toEqual([
      'late e0 v1',
    ]);
    expect(await collect(seen.rescan(store))).toEqual([]);
    seen.close();
    store.close();
  });

  it('upgrades a schema 1 seen store, keeping its records, and then takes every entry as new', async () => {
    const path = join(dir, 'seen-v1.db');
    copyFileSync(new URL('../../test-vectors/stores/seen-v1.db', import.meta.url), path);
    expect(() => SeenStore.open(path, { readonly: true })).toThrow(expect.objectContaining({ code: 'ERR_STORE' }));
    const seen = SeenStore.open(path);
    expect(seen.count()).toBe(2);
    const store = HashStore.open(join(dir, 'hashes.db'));
    store.importEntries([
      { list: 'demo', id: 'e1', algorithm: 'md5', hash: md5(1) },
      { list: 'demo', id: 'e2', algorithm: 'md5', hash: md5(2) },
    ]);
    // u1 saw no list: e1 comes again (a repeat the upgrade allows); u2 was checked against demo v1 = this one.
    expect((await collect(seen.rescan(store))).map((e) => `${e.contentId} ${e.entryId}`)).toEqual(['u1 e1']);
    seen.close();
    expect(SeenStore.open(path, { readonly: true }).count()).toBe(2);
    store.close();
  });

  it('checks its options at call time', () => {
    const { store, seen } = seeded(1);
    expect(() => seen.rescan(store, { batchSize: 0 })).toThrow(RangeError);
    expect(() => seen.rescan(store, { thresholds: { pdq: 99 } })).toThrow(RangeError);
    expect(() => seen.rescan(store, { workers: 17 })).toThrow(RangeError);
    expect(() => seen.rescan(store, { workers: 1.5 })).toThrow(TypeError);
    expect(() => seen.rescan({} as HashStore)).toThrow(TypeError);
    seen.close();
    store.close();
  });
});
