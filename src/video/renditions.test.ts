/**
 * A video's two frame sets (whole frames, and inside their bars): a list entry holds both, an
 * upload matches a listed video by either, reported once with the set that matched more of it,
 * and a video without bars matches exactly as `VpdqIndex.match` does.
 */
import { describe, expect, it } from 'vitest';
import { VpdqIndex } from '../search/vpdq.js';
import { mulberry32 } from '../testing/prng.js';
import type { VideoFrameHash } from './hash.js';
import { listedVpdqFrames, matchVideoFrameSets } from './renditions.js';

const random = mulberry32(24);

/** A random PDQ hash, 64 hex digits. */
function hash(): string {
  return Array.from({ length: 64 }, () => Math.floor(random() * 16).toString(16)).join('');
}

/** `count` frames one second apart of random hashes, quality 100. */
function frames(count: number): VideoFrameHash[] {
  return Array.from({ length: count }, (_, i) => ({ frame: i * 30, quality: 100, hash: hash(), seconds: i }));
}

/** The same frames with other hashes at the positions `changed`. */
function changing(of: readonly VideoFrameHash[], changed: readonly number[]): VideoFrameHash[] {
  return of.map((f, i) => (changed.includes(i) ? { ...f, hash: hash() } : f));
}

describe('listedVpdqFrames', () => {
  it('holds each whole frame followed by the same frame inside its bars when that hashes differently', () => {
    const whole = frames(3);
    const trimmed = changing(whole, [0, 2]);
    expect(listedVpdqFrames({ frames: whole, trimmed })).toEqual([
      whole[0],
      trimmed[0],
      whole[1],
      whole[2],
      trimmed[2],
    ]);
  });

  it('holds the whole frames alone for a video without bars', () => {
    const whole = frames(4);
    expect(listedVpdqFrames({ frames: whole })).toEqual(whole);
  });
});

describe('matchVideoFrameSets', () => {
  // Listed: an HD video (no bars) and an unrelated one; the upload is an SD rendition whose whole
  // frames are all other hashes (its bars) but whose frames inside the bars are the HD video's.
  const hd = frames(10);
  const other = frames(10);
  const index = VpdqIndex.fromEntries([
    { list: 'known', id: 'other', hash: other },
    { list: 'known', id: 'hd', hash: hd },
  ]);

  it('matches a listed video by the frames inside the bars when the whole frames miss it', () => {
    const upload = { frames: frames(10), trimmed: hd };
    expect(index.match(upload.frames)).toEqual([]);
    const [match, ...rest] = matchVideoFrameSets(index, upload);
    expect(rest).toEqual([]);
    expect(match).toMatchObject({ entryId: 'hd', queryMatchPercent: 100, listedMatchPercent: 100 });
  });

  it('reports a video both sets match once, with the set that matched more of the upload', () => {
    // Whole frames: 9 of 10 are the HD video's; inside the bars, all 10.
    const upload = { frames: changing(hd, [3]), trimmed: hd };
    const matches = matchVideoFrameSets(index, upload);
    expect(matches.map((m) => [m.entryId, m.queryMatchPercent])).toEqual([['hd', 100]]);
    // And the whole frames' match when it is the better one.
    const reversed = { frames: hd, trimmed: changing(hd, [3]) };
    expect(matchVideoFrameSets(index, reversed)).toEqual(index.match(hd));
  });

  it('reports the videos each set matches in entry order', () => {
    const upload = { frames: hd, trimmed: other };
    expect(matchVideoFrameSets(index, upload).map((m) => m.entryId)).toEqual(['other', 'hd']);
  });

  it('matches a video without bars exactly as the index matches its frames, thresholds included', () => {
    const upload = { frames: changing(hd, [0, 1, 2]) };
    expect(matchVideoFrameSets(index, upload)).toEqual([]);
    expect(matchVideoFrameSets(index, upload, { queryMatchPercent: 70 })).toEqual(
      index.match(upload.frames, { queryMatchPercent: 70 }),
    );
    expect(matchVideoFrameSets(index, upload, { queryMatchPercent: 70 })).toHaveLength(1);
  });
});
