/**
 * Listed videos (vPDQ entries) through a SQLite store, end to end: `Matcher.open(store)` holds
 * them beside the image entries and leaves a quarantined one out; `export --snapshot` writes
 * them and a matcher opened from the snapshot matches as the store's does; `export --out`
 * writes them in the formats that hold a video and counts them where a format cannot.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatVpdqJson, type VpdqFeature } from '../algorithms/vpdq.js';
import { Matcher } from '../matcher/matcher.js';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';
import { seedStore, storeEntries } from '../testing/store-files.js';
import { vpdqFrames } from '../testing/vpdq-entries.js';

const PDQ = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';

/** Frames of quality 90 (every one kept by matching), from `vpdqFrames`'s random hashes. */
function clip(count: number, seed: number): VpdqFeature[] {
  return vpdqFrames(count, seed).map((f) => ({ ...f, quality: 90 }));
}

/** `video` re-encoded: each frame's hash with its first byte's low bits changed (≤ 4 bits). */
function reencoded(video: readonly VpdqFeature[]): VpdqFeature[] {
  return video.map((f) => ({
    ...f,
    hash: `${(Number.parseInt(f.hash.slice(0, 2), 16) ^ 0x0f).toString(16).padStart(2, '0')}${f.hash.slice(2)}`,
  }));
}

const known = clip(12, 1);
const held = clip(12, 2);
const unrelated = clip(12, 3);

let dir: string;
let db: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-export-videos-'));
  db = join(dir, 'store.db');
  seedStore(db, [
    { id: 'v-known', list: 'videos', algorithm: 'vpdq', hash: formatVpdqJson(known), label: 'csam' },
    { id: 'v-held', list: 'videos', algorithm: 'vpdq', hash: formatVpdqJson(held) },
    { list: 'images', algorithm: 'pdq', hash: PDQ },
  ]);
  const store = HashStore.open(db);
  try {
    store.disableEntry('videos', 'v-held', { reason: 'under review' });
  } finally {
    store.close();
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What a matcher finds for each probe: the entry ids matched. */
function probe(matcher: Matcher): string[][] {
  return [known, held, unrelated].map((video) => matcher.matchVpdq(reencoded(video)).map((m) => m.entryId));
}

describe('listed videos in a SQLite store', () => {
  it('are held by Matcher.open(store) beside the images, a quarantined one left out', async () => {
    const matcher = await Matcher.open(db);
    expect(matcher.size).toBe(2);
    expect(probe(matcher)).toEqual([['v-known'], [], []]);
    expect(matcher.matchVpdq(reencoded(known))[0]).toMatchObject({ list: 'videos', label: 'csam' });
    expect(matcher.matchHash({ algorithm: 'pdq', hash: PDQ })).toHaveLength(1);
  });

  it('are written by export --snapshot, and the snapshot matches as the store does', async () => {
    const file = join(dir, 'lists.snapshot');
    const exported = await cli('export', '--db', db, '--snapshot', file);
    expect([exported.status, exported.err]).toEqual([0, '']);
    expect(exported.out).toContain('vpdq  1 videos, 12 frames');
    const matcher = await Matcher.open(file);
    expect(matcher.size).toBe(2);
    expect(probe(matcher)).toEqual([['v-known'], [], []]);
  });

  it('make a store of videos alone exportable (not refused as empty)', async () => {
    const only = join(dir, 'only-videos.db');
    seedStore(only, [{ id: 'v', list: 'videos', algorithm: 'vpdq', hash: formatVpdqJson(known) }]);
    const file = join(dir, 'only-videos.snapshot');
    expect((await cli('export', '--db', only, '--snapshot', file)).status).toBe(0);
    expect(probe(await Matcher.open(file))).toEqual([['v'], [], []]);
  });

  it('are written by export --out in ndjson, csv, text and pytx, and re-import to the same videos', async () => {
    const videos = storeEntries(db).filter((e) => e.algorithm === 'vpdq');
    for (const format of ['ndjson', 'csv', 'text', 'pytx'] as const) {
      const out = join(dir, `videos.${format}`);
      const exported = await cli('export', '--db', db, '--out', out, '--format', format, '--list', 'videos');
      expect([format, exported.status, exported.err]).toEqual([format, 0, '']);
      const again = join(dir, `again-${format}.db`);
      const imported = await cli(
        'import',
        out,
        '--db',
        again,
        '--list',
        'videos',
        ...(format === 'ndjson' || format === 'csv' ? ['--multi-list'] : []),
      );
      expect([format, imported.status, imported.err]).toEqual([format, 0, '']);
      const hashes = storeEntries(again).map((e) => [e.algorithm, e.hash]);
      expect(hashes).toEqual(videos.map((e) => ['vpdq', e.hash]));
    }
  });

  it('are never written to hex: a pdq export leaves them out, an export of videos alone is refused', async () => {
    const out = join(dir, 'all.hex');
    const exported = await cli('export', '--db', db, '--out', out, '--format', 'hex', '--algorithm', 'pdq');
    expect(exported.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(`${PDQ}\n`);
    const refused = await cli(
      'export',
      '--db',
      db,
      '--out',
      join(dir, 'videos.hex'),
      '--format',
      'hex',
      '--list',
      'videos',
    );
    expect(refused.status).toBe(2);
    expect(refused.err).toContain('nothing to export');
  });
});
