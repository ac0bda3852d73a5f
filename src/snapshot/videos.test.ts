/**
 * vPDQ entries in a snapshot: written from entries and from packed tables (a store's export),
 * read back into the packed form, held by a matcher that answers as one over the same entries,
 * covered by the checksums and the signature like every section; a snapshot of images alone is
 * written as before.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatHex } from '../algorithms/hex.js';
import { formatVpdqJson, parseVpdqJson, VPDQ_PACKED_FRAME_BYTES, type VpdqFeature } from '../algorithms/vpdq.js';
import { normalizeEntry, type ListEntry } from '../lists/entry.js';
import { Matcher } from '../matcher/matcher.js';
import { packEntries } from '../search/entry-table.js';
import { buildPackedTables } from '../search/tables.js';
import { matchVpdqBrute, packVpdqEntries, VpdqIndex } from '../search/vpdq.js';
import { codeOf } from '../testing/forged-snapshot.js';
import { mulberry32 } from '../testing/prng.js';
import { viewOf } from '../testing/snapshot-layout.js';
import { KIND, VPDQ_TABLE, type SnapshotList } from './format.js';
import { parseSnapshot, readSnapshot } from './read.js';
import { writePackedSnapshot, writeSnapshot } from './write.js';
import { xxh3 } from './xxh3.js';

const random = mulberry32(77);
const hash = (): string => formatHex(Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)));
const clip = (count: number): VpdqFeature[] =>
  Array.from({ length: count }, (_, i) => ({ hash: hash(), quality: 40 + (i % 7) * 10, seconds: i * 0.5 }));

const LISTS: SnapshotList[] = [
  { name: 'ncmec', version: 4, label: 'block-and-report' },
  { name: 'known-good', version: 1, action: 'allow' },
];

const clips = Array.from({ length: 6 }, (_, i) => clip(i === 5 ? 0 : 3 + i * 4));
const videoEntries: ListEntry[] = clips.map((frames, i) =>
  normalizeEntry({
    id: `v${i}`,
    list: i === 4 ? 'known-good' : 'ncmec',
    algorithm: 'vpdq',
    hash: formatVpdqJson(frames),
    ...(i % 2 === 0 ? { label: 'csam', metadata: { case: i } } : {}),
  }),
);
const imageEntries: ListEntry[] = [
  normalizeEntry({ id: 'p1', list: 'ncmec', algorithm: 'pdq', hash: hash() }),
  normalizeEntry({ id: 'm1', list: 'ncmec', algorithm: 'md5', hash: 'ab'.repeat(16) }),
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-snapshot-videos-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The section rows of a snapshot: kind, algorithm, offset, length. */
function rowsOf(bytes: Uint8Array): { kind: number; algorithm: number; offset: number; length: number }[] {
  const view = viewOf(bytes);
  return Array.from({ length: view.getUint32(12, true) }, (_, i) => ({
    kind: view.getUint16(64 + i * 32, true),
    algorithm: view.getUint16(64 + i * 32 + 2, true),
    offset: Number(view.getBigUint64(64 + i * 32 + 16, true)),
    length: Number(view.getBigUint64(64 + i * 32 + 24, true)),
  }));
}

/** Queries: each listed clip re-timed, and one unrelated clip. */
const queries = [...clips.map((frames) => frames.map((f) => ({ ...f, seconds: f.seconds + 100 }))), clip(5)];

describe('vPDQ entries in a snapshot', () => {
  it('are written from entries, read back, and matched as by a matcher over the same entries', async () => {
    const path = join(dir, 'mixed.snap');
    const summary = await writeSnapshot(path, { lists: LISTS, entries: [...imageEntries, ...videoEntries] });
    const frames = clips.reduce((n, c) => n + c.length, 0);
    expect(summary.videos).toEqual({ count: 6, frames });
    expect(summary.entries).toBe(8);
    const read = await readSnapshot(path);
    expect(read.videos).toEqual({ count: 6, frames });
    expect(read.algorithms.map((a) => a.name).sort()).toEqual(['md5', 'pdq']);
    const fromSnapshot = await Matcher.openSnapshot(path);
    const fromEntries = Matcher.fromEntries([...imageEntries, ...videoEntries], { lists: LISTS });
    expect(fromSnapshot.size).toBe(8);
    expect(queries.filter((q) => fromEntries.matchVpdq(q).length > 0).length).toBe(4);
    for (const query of queries)
      for (const options of [{}, { queryMatchPercent: 0 }, { distance: 0, listedMatchPercent: 50 }])
        expect(fromSnapshot.matchVpdq(query, options)).toEqual(fromEntries.matchVpdq(query, options));
    // And as the index over the entries: the packed form holds every field and frame.
    const index = VpdqIndex.fromEntries(videoEntries);
    expect(VpdqIndex.fromPacked(read.packedVideos as NonNullable<typeof read.packedVideos>).entries).toEqual(
      index.entries,
    );
  });

  it('match through a snapshot exactly as from entries and as the brute force, on generated lists', async () => {
    const near = (base: string, bits: number): string => {
      const bytes = Buffer.from(base, 'hex');
      for (let k = 0; k < bits; k++) {
        const bit = Math.floor(random() * 256);
        bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
      }
      return bytes.toString('hex');
    };
    const video = (bases: string[]): VpdqFeature[] =>
      Array.from({ length: 1 + Math.floor(random() * 8) }, (_, i) => ({
        hash: near(bases[Math.floor(random() * bases.length)] as string, Math.floor(random() * 40)),
        quality: random() < 0.2 ? 30 : 80,
        seconds: i,
      }));
    let found = 0;
    for (let round = 0; round < 12; round++) {
      const bases = Array.from({ length: 4 }, hash);
      const listed = Array.from({ length: 2 + Math.floor(random() * 6) }, () => video(bases));
      const entries = listed.map((frames, i) =>
        normalizeEntry({
          id: `r${i}`,
          list: i % 2 ? 'ncmec' : 'other',
          algorithm: 'vpdq',
          hash: formatVpdqJson(frames),
        }),
      );
      const lists = [
        { name: 'ncmec', version: 1 },
        { name: 'other', version: 2 },
      ];
      const path = join(dir, `round-${round}.snap`);
      await writeSnapshot(path, { lists, entries });
      const fromSnapshot = await Matcher.openSnapshot(path, { search: { tier: 'mih', substringBits: 8 } });
      const fromEntries = Matcher.fromEntries(entries, { lists });
      const query = video(bases);
      const distance = 15 + Math.floor(random() * 25);
      const options = { distance, queryMatchPercent: 0 };
      const got = fromSnapshot.matchVpdq(query, options);
      expect(got).toEqual(fromEntries.matchVpdq(query, options));
      found += got.length;
      entries.forEach((entry, i) => {
        const brute = matchVpdqBrute(query, parseVpdqJson(entry.hash), distance);
        const match = got.find((m) => m.entryId === entry.id);
        if (brute.queryMatchPercent === 0) expect(match).toBeUndefined();
        else expect(match, `round ${round}, video ${i}`).toMatchObject(brute);
      });
    }
    expect(found).toBeGreaterThan(12);
  });

  it('are written from packed tables, as a store export writes them', async () => {
    const names = LISTS.map((l) => l.name);
    const packed = new Map([['pdq' as const, { hashes: [], columns: packEntries([], names) }]]);
    const tables = buildPackedTables(packed as never, undefined, { defer: true });
    const path = join(dir, 'packed.snap');
    const summary = await writePackedSnapshot(path, { lists: LISTS }, tables, packVpdqEntries(videoEntries, names));
    expect(summary.videos?.count).toBe(6);
    const fromEntries = Matcher.fromEntries(videoEntries, { lists: LISTS });
    const fromSnapshot = await Matcher.openSnapshot(path);
    for (const query of queries) expect(fromSnapshot.matchVpdq(query)).toEqual(fromEntries.matchVpdq(query));
    // Entries numbering other lists than those given are the caller's bug.
    await expect(
      writePackedSnapshot(path, { lists: LISTS.slice(0, 1) }, new Map(), packVpdqEntries(videoEntries, names)),
    ).rejects.toThrow(RangeError);
  });

  it('leave a snapshot of images alone as older releases write it: no vPDQ section, no META field', async () => {
    const path = join(dir, 'images.snap');
    await writeSnapshot(path, { lists: LISTS, entries: imageEntries });
    const bytes = new Uint8Array(await readFile(path));
    expect(rowsOf(bytes).some((r) => r.algorithm === VPDQ_TABLE)).toBe(false);
    const read = await parseSnapshot(bytes);
    expect(read.videos).toBeUndefined();
    expect(read.packedVideos).toBeUndefined();
    const matcher = await Matcher.openSnapshot(path);
    expect(matcher.matchVpdq(queries[0] as VpdqFeature[])).toEqual([]);
  });

  it('are swapped whole by a reload, with the lists they belong to', async () => {
    const path = join(dir, 'reloaded.snap');
    const first = videoEntries.slice(0, 2);
    await writeSnapshot(path, { lists: LISTS, entries: first, sequence: 1 });
    const matcher = await Matcher.openSnapshot(path);
    expect(matcher.size).toBe(2);
    expect(matcher.matchVpdq(queries[0] as VpdqFeature[])).toMatchObject([{ entryId: 'v0' }]);
    expect(matcher.matchVpdq(queries[2] as VpdqFeature[])).toEqual([]);
    const next = join(dir, 'reloaded.next');
    await writeSnapshot(next, { lists: LISTS, entries: videoEntries.slice(2, 4), sequence: 2 });
    await rename(next, path);
    expect(await matcher.reload()).toBe(true);
    expect(matcher.size).toBe(2);
    expect(matcher.matchVpdq(queries[0] as VpdqFeature[])).toEqual([]);
    expect(matcher.matchVpdq(queries[2] as VpdqFeature[])).toMatchObject([{ entryId: 'v2', listVersion: 4 }]);
  });

  it('are covered by the checksums and the signature', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const path = join(dir, 'signed.snap');
    await writeSnapshot(path, { lists: LISTS, entries: videoEntries, sign: { privateKey } });
    const signed = new Uint8Array(await readFile(path));
    const frames = rowsOf(signed).findIndex((r) => r.kind === KIND.VPDQ_FRAME_BYTES && r.algorithm === VPDQ_TABLE);
    const row = rowsOf(signed)[frames] as { offset: number; length: number };
    expect(row.length).toBe(clips.reduce((n, c) => n + c.length, 0) * VPDQ_PACKED_FRAME_BYTES);
    expect((await parseSnapshot(signed, 's', { trustedKeys: [publicKey] })).videos?.count).toBe(6);
    // A byte of a frame's hash changed: its checksum refuses it; resealed, its signature does.
    const changed = signed.slice();
    changed[row.offset + 5] = (changed[row.offset + 5] as number) ^ 0x10;
    expect(await codeOf(parseSnapshot(changed, 'c'))).toBe('ERR_SNAPSHOT_CORRUPT');
    const view = viewOf(changed);
    view.setBigUint64(64 + frames * 32 + 8, xxh3(changed.subarray(row.offset, row.offset + row.length)), true);
    view.setBigUint64(24, xxh3(changed.subarray(64, 64 + view.getUint32(12, true) * 32)), true);
    view.setBigUint64(56, xxh3(changed.subarray(0, 56)), true);
    expect(await codeOf(parseSnapshot(changed, 'r'))).toBe('resolved');
    expect(await codeOf(parseSnapshot(changed, 'r', { trustedKeys: [publicKey] }))).toBe('ERR_SNAPSHOT_SIGNATURE');
  });

  it('refuse at open, with ERR_SNAPSHOT_FORMAT, frames whose bytes do not unpack', async () => {
    const path = join(dir, 'bad-quality.snap');
    await writeSnapshot(path, { lists: LISTS, entries: videoEntries });
    const bytes = new Uint8Array(await readFile(path));
    const rows = rowsOf(bytes);
    const frames = rows.findIndex((r) => r.kind === KIND.VPDQ_FRAME_BYTES && r.algorithm === VPDQ_TABLE);
    const row = rows[frames] as { offset: number; length: number };
    bytes[row.offset + 32] = 200; // the first frame's quality, above 100
    const view = viewOf(bytes);
    view.setBigUint64(64 + frames * 32 + 8, xxh3(bytes.subarray(row.offset, row.offset + row.length)), true);
    view.setBigUint64(24, xxh3(bytes.subarray(64, 64 + view.getUint32(12, true) * 32)), true);
    view.setBigUint64(56, xxh3(bytes.subarray(0, 56)), true);
    await writeFile(path, bytes);
    const error = await Matcher.openSnapshot(path).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT', message: expect.stringMatching(/quality 200/) });
  });
});
