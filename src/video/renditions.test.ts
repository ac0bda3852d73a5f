/**
 * A video's two frame sets (whole frames, and inside their bars): a list entry holds both, an
 * upload matches a listed video by either, reported once with the set that matched more of it,
 * and a video without bars matches exactly as `VpdqIndex.match` does.
 */
import { describe, expect, it } from 'vitest';
import { matchVpdqBrute, VpdqIndex } from '../search/vpdq.js';
import { flippedHex } from '../testing/hash-lists.js';
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

/**
 * A video's two sets: whole frames near some of `bases`, and each frame inside its bars either
 * the same (no bars) or near another base, 0–45 bits off (around the threshold), some of low quality.
 */
function renditions(bases: readonly string[]): { frames: VideoFrameHash[]; trimmed?: VideoFrameHash[] } {
  const near = (): string =>
    flippedHex(bases[Math.floor(random() * bases.length)] as string, Math.floor(random() * 46), random);
  const quality = (): number => (random() < 0.2 ? Math.floor(random() * 50) : 50 + Math.floor(random() * 51));
  const whole = Array.from({ length: 1 + Math.floor(random() * 10) }, (_, i) => ({
    frame: i,
    quality: quality(),
    hash: near(),
    seconds: i,
  }));
  if (random() < 0.25) return { frames: whole };
  return {
    frames: whole,
    trimmed: whole.map((f) => (random() < 0.3 ? f : { ...f, quality: quality(), hash: near() })),
  };
}

describe('matchVideoFrameSets against the brute force', () => {
  it("reports each listed video whose best set's brute-force query share reaches the threshold, with that set's shares", () => {
    for (let round = 0; round < 80; round++) {
      const bases = Array.from({ length: 1 + Math.floor(random() * 4) }, () => hash());
      const listed = Array.from({ length: 1 + Math.floor(random() * 5) }, () => listedVpdqFrames(renditions(bases)));
      const index = VpdqIndex.fromEntries(listed.map((frames, i) => ({ list: 'l', id: String(i), hash: frames })));
      const upload = renditions(bases);
      const distance = 20 + Math.floor(random() * 20);
      const queryMatchPercent = [0, 50, 80][Math.floor(random() * 3)] as number;
      const got = matchVideoFrameSets(index, upload, { distance, queryMatchPercent });
      const expected = listed.flatMap((frames, i) => {
        const sets = upload.trimmed === undefined ? [upload.frames] : [upload.frames, upload.trimmed];
        // The whole frames first: they win a tie.
        const best = sets
          .map((set) => matchVpdqBrute(set, frames, distance))
          .reduce((a, b) => (b.queryMatchPercent > a.queryMatchPercent ? b : a));
        return best.queryMatchPercent > 0 && best.queryMatchPercent >= queryMatchPercent
          ? [{ id: String(i), ...best }]
          : [];
      });
      expect(
        got.map((m) => ({
          id: m.entryId,
          queryMatchPercent: m.queryMatchPercent,
          listedMatchPercent: m.listedMatchPercent,
        })),
      ).toEqual(expected);
    }
  });
});
