/**
 * A matcher holding vPDQ entries: they count as entries, `matchVpdq` matches them as the index
 * does (list labels and versions added), allow lists override as they do for images (per frame),
 * a connected store's packed videos load, and decisions are logged small.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatHex } from '../algorithms/hex.js';
import { formatVpdqJson, packVpdq, type VpdqFeature } from '../algorithms/vpdq.js';
import type { ListEntry } from '../lists/entry.js';
import { DecisionLog } from '../log/decision-log.js';
import { byteColumn, packEntries } from '../search/entry-table.js';
import { type PackedVpdq, VpdqIndex } from '../search/vpdq.js';
import { flippedHex } from '../testing/hash-lists.js';
import { mulberry32 } from '../testing/prng.js';
import { Matcher } from './matcher.js';
import { registerStoreSource, type PackedLists } from './store-source.js';
import type { ListHeader } from '../store/types.js';

const random = mulberry32(2024);

function randomHash(): string {
  return formatHex(Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)));
}

/** A video of `count` unrelated frames, one a second from `from`. */
function clip(count: number, from = 0): VpdqFeature[] {
  return Array.from({ length: count }, (_, i) => ({ hash: randomHash(), quality: 90, seconds: from + i }));
}

/** The frames of `video` re-encoded: each a few bits off. */
function reencoded(video: readonly VpdqFeature[]): VpdqFeature[] {
  return video.map((f) => ({ ...f, hash: flippedHex(f.hash, 6, random) }));
}

const known = clip(10);
const other = clip(10);

describe('a matcher holding vPDQ entries', () => {
  it('counts them as entries, so a matcher of videos alone is not empty', () => {
    const matcher = Matcher.fromEntries([{ list: 'videos', id: 'v1', algorithm: 'vpdq', hash: formatVpdqJson(known) }]);
    expect(matcher.size).toBe(1);
    expect(matcher.algorithms).toEqual([]);
    // Counted where operators look: a metric per algorithm reads describe().
    expect(matcher.describe()).toEqual([{ algorithm: 'vpdq', count: 1, tier: 'linear', frames: 10 }]);
    expect(() => Matcher.fromEntries([])).toThrow(expect.objectContaining({ code: 'ERR_NO_ENTRIES' }));
  });

  it('matches a re-encoded video as the index over the same entries does, with the list label and version', () => {
    const entries = [
      { list: 'videos', id: 'v1', algorithm: 'vpdq', hash: formatVpdqJson(known), label: 'csam' },
      { list: 'videos', id: 'v2', algorithm: 'vpdq', hash: formatVpdqJson(other) },
      { list: 'photos', id: 'p1', algorithm: 'pdq', hash: known[0]?.hash as string },
    ];
    const matcher = Matcher.fromEntries(entries, {
      lists: [
        { name: 'videos', version: 7, label: 'block-and-report' },
        { name: 'photos', version: 1 },
      ],
    });
    expect(matcher.size).toBe(3);
    const index = VpdqIndex.fromEntries(entries.filter((e) => e.algorithm === 'vpdq'));
    const query = reencoded(known);
    const matches = matcher.matchVpdq(query);
    expect(matches).toEqual(index.match(query).map((m) => ({ ...m, listLabel: 'block-and-report', listVersion: 7 })));
    expect(matches).toMatchObject([{ list: 'videos', entryId: 'v1', label: 'csam', queryMatchPercent: 100 }]);
    expect(matcher.matchVpdq(clip(10))).toEqual([]);
    // The same thresholds a call gives the index.
    expect(matcher.matchVpdq(query, { distance: 3 })).toEqual([]);
    expect(matcher.matchVpdq(query, { lists: { videos: { distance: 3 } } })).toEqual([]);
  });

  it('matches through the frames inside the bars when the whole frames do not, reporting the better set once', () => {
    const matcher = Matcher.fromEntries([{ list: 'videos', id: 'v1', algorithm: 'vpdq', hash: formatVpdqJson(known) }]);
    // The upload's whole frames are another picture (bars around it); inside the bars, the listed one.
    const boxed = clip(10);
    expect(matcher.matchVpdq(boxed)).toEqual([]);
    const found = matcher.matchVpdq(boxed, { trimmed: reencoded(known) });
    expect(found).toMatchObject([{ entryId: 'v1', queryMatchPercent: 100 }]);
    // Both sets matching: one match, the whole frames' (a tie goes to them).
    const both = matcher.matchVpdq(reencoded(known), { trimmed: reencoded(known) });
    expect(both).toHaveLength(1);
    expect(() => matcher.matchVpdq(boxed, { trimmed: 'frames' as never })).toThrow(TypeError);
  });

  it('gives only the best match with first', () => {
    const half = [...known.slice(0, 5), ...other.slice(0, 5)];
    const matcher = Matcher.fromEntries([
      { list: 'videos', id: 'half', algorithm: 'vpdq', hash: formatVpdqJson(half) },
      { list: 'videos', id: 'whole', algorithm: 'vpdq', hash: formatVpdqJson(known) },
    ]);
    const both = matcher.matchVpdq(known, { queryMatchPercent: 40 });
    expect(both.map((m) => m.entryId)).toEqual(['half', 'whole']);
    expect(matcher.matchVpdq(known, { queryMatchPercent: 40, first: true }).map((m) => m.entryId)).toEqual(['whole']);
  });

  it('refuses bad frames and options as arguments, with or without videos', () => {
    for (const matcher of [
      Matcher.fromEntries([{ list: 'v', algorithm: 'vpdq', hash: formatVpdqJson(known) }]),
      Matcher.fromEntries([{ list: 'p', algorithm: 'pdq', hash: known[0]?.hash as string }]),
    ]) {
      expect(() => matcher.matchVpdq('frames' as never)).toThrow(TypeError);
      expect(() => matcher.matchVpdq([{ hash: 'zz', quality: 90, seconds: 0 }])).toThrow(TypeError);
      expect(() => matcher.matchVpdq(known, { distance: 300 })).toThrow(RangeError);
      expect(() => matcher.matchVpdq(known, { first: 'yes' as never })).toThrow(TypeError);
      expect(() => matcher.matchVpdq(known, { contentId: '' })).toThrow(RangeError);
    }
  });

  it('still refuses a vPDQ query by hash: a video is matched by its frames', () => {
    const matcher = Matcher.fromEntries([{ list: 'v', algorithm: 'vpdq', hash: formatVpdqJson(known) }]);
    expect(() => matcher.matchHash({ algorithm: 'vpdq', hash: known[0]?.hash as string })).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_ALGORITHM' }),
    );
  });
});

describe('the match-rate alarm and videos', () => {
  it('counts a listed video that matches upload after upload, and holds its matches for review', () => {
    const events: unknown[] = [];
    const matcher = Matcher.fromEntries(
      [{ list: 'videos', id: 'meme', algorithm: 'vpdq', hash: formatVpdqJson(known) }],
      { storm: { threshold: 3, hold: true }, onStorm: (e) => events.push(e) },
    );
    const query = reencoded(known);
    // A call that decides nothing is not counted.
    for (let i = 0; i < 5; i++) matcher.matchVpdq(query, { decision: false });
    expect(events).toEqual([]);
    expect(matcher.matchVpdq(query)[0]?.review).toBeUndefined();
    matcher.matchVpdq(query);
    const [held] = matcher.matchVpdq(query);
    expect(held).toMatchObject({ entryId: 'meme', review: true });
    expect(events).toMatchObject([{ list: 'videos', algorithm: 'vpdq', entryId: 'meme', count: 3, held: true }]);
    expect(matcher.storms()).toMatchObject([{ algorithm: 'vpdq', entryId: 'meme', held: true }]);
    expect(matcher.releaseStorm({ list: 'videos', algorithm: 'vpdq', entryId: 'meme' })).toBe(true);
    expect(matcher.matchVpdq(query)[0]?.review).toBeUndefined();
  });
});

describe('allow lists and videos', () => {
  const lists = [
    { name: 'block', version: 1 },
    { name: 'allow', version: 1, action: 'allow' as const },
  ];

  it('an allow-listed video overrides block matches on the same frames', () => {
    const matcher = Matcher.fromEntries(
      [
        { list: 'block', id: 'b', algorithm: 'vpdq', hash: formatVpdqJson(known) },
        { list: 'allow', id: 'a', algorithm: 'vpdq', hash: formatVpdqJson(known) },
      ],
      { lists },
    );
    expect(matcher.matchVpdq(reencoded(known))).toEqual([]);
    // A call's wider thresholds never widen what is allowed: frames 40 bits off match the block
    // entry at distance 45, not the allow entry at its own 31.
    const far = known.map((f) => ({ ...f, hash: flippedHex(f.hash, 40, random) }));
    expect(matcher.matchVpdq(far, { distance: 45 }).map((m) => m.list)).toEqual(['block']);
  });

  it('leaves a block match standing when a frame it matched matches no allow entry', () => {
    // The upload is the allow-listed clip with the listed clip spliced in: 10 frames each.
    const allowed = clip(10);
    const matcher = Matcher.fromEntries(
      [
        { list: 'block', id: 'b', algorithm: 'vpdq', hash: formatVpdqJson(known) },
        { list: 'allow', id: 'a', algorithm: 'vpdq', hash: formatVpdqJson([...allowed, ...known.slice(0, 2)]) },
      ],
      { lists },
    );
    const upload = [...allowed, ...known.map((f) => ({ ...f, seconds: f.seconds + 10 }))];
    const matches = matcher.matchVpdq(upload, { queryMatchPercent: 40 });
    expect(matches.map((m) => m.entryId)).toEqual(['b']);
  });
});

describe('decision records of matchVpdq', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hashwarden-video-log-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function records(log: DecisionLog): Promise<Record<string, unknown>[]> {
    await log.close();
    return readdirSync(dir)
      .sort()
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').slice(0, -1))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it('hold the frame count and each match with its shares and thresholds, never a frame', async () => {
    const log = await DecisionLog.open(dir);
    const matcher = Matcher.fromEntries(
      [
        { list: 'block', id: 'b', algorithm: 'vpdq', hash: formatVpdqJson(known) },
        { list: 'allow', id: 'a', algorithm: 'vpdq', hash: formatVpdqJson(other) },
        { list: 'allow', id: 'a2', algorithm: 'vpdq', hash: formatVpdqJson(known) },
      ],
      {
        decisionLog: log,
        lists: [
          { name: 'block', version: 3 },
          { name: 'allow', action: 'allow' },
        ],
      },
    );
    const query = reencoded(known);
    expect(matcher.matchVpdq(query, { contentId: 'upload-1', lists: { block: { distance: 20 } } })).toEqual([]);
    expect(matcher.matchVpdq(query, { decision: false })).toEqual([]);
    expect(() => matcher.matchVpdq([{ hash: 'zz', quality: 1, seconds: 0 }], { contentId: 'upload-2' })).toThrow();
    const [decided, refused, ...rest] = await records(log);
    expect(rest).toEqual([]);
    expect(decided).toMatchObject({
      kind: 'decision',
      contentId: 'upload-1',
      matched: false,
      matches: [],
      query: { algorithm: 'vpdq', frames: 10 },
      allowed: [
        {
          by: { list: 'allow', entryId: 'a2', matchedFrames: 10, queryMatchPercent: 100 },
          overrode: [
            {
              list: 'block',
              entryId: 'b',
              listVersion: 3,
              matchedFrames: 10,
              thresholds: { distance: 20, queryMatchPercent: 80, listedMatchPercent: 0 },
            },
          ],
        },
      ],
    });
    const json = JSON.stringify(decided);
    for (const f of [...query, ...known]) expect(json).not.toContain(f.hash);
    expect(json).not.toContain('querySeconds');
    expect(refused).toMatchObject({
      kind: 'not-checked',
      contentId: 'upload-2',
      error: { code: 'ERR_INVALID_ARGUMENT' },
    });
  });
});

describe('a connected store with vPDQ entries', () => {
  function header(name: string, version: number): ListHeader {
    return { name, version, enabled: true, thresholds: {}, updatedAt: '2026-12-07T00:00:00.000Z' };
  }

  function packedOf(entries: readonly ListEntry[], frames: readonly (readonly VpdqFeature[])[]): PackedVpdq {
    return { columns: packEntries(entries, ['videos']), frames: byteColumn(frames.map((f) => packVpdq(f))) };
  }

  it('loads its packed videos, and refuses damaged ones with ERR_STORE', async () => {
    const entries = [{ list: 'videos', id: 'v1', algorithm: 'vpdq', hash: formatVpdqJson(known) } as ListEntry];
    let videos = packedOf(entries, [known]);
    const store = { close: async () => undefined };
    registerStoreSource(store, {
      label: 'test store',
      readPacked: async (): Promise<PackedLists> => ({
        signature: 's',
        lists: [header('videos', 2)],
        packed: new Map(),
        videos,
      }),
    });
    const matcher = await Matcher.open(store);
    expect(matcher.size).toBe(1);
    expect(matcher.matchVpdq(reencoded(known))).toMatchObject([{ list: 'videos', entryId: 'v1', listVersion: 2 }]);
    videos = { ...videos, frames: { offsets: Uint32Array.of(0, 7), bytes: videos.frames.bytes } };
    await expect(Matcher.open(store)).rejects.toMatchObject({ code: 'ERR_STORE' });
  });
});
