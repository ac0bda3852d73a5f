import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Matcher } from '../matcher/matcher.js';
import { HAVE_FFMPEG, makeVideo, privateTmpdir, SKIP_NO_FFMPEG } from '../testing/ffmpeg.js';
import { hashVideo } from './hash.js';
import { VpdqIndex } from '../search/vpdq.js';
import { matchVideo } from './match-video.js';
import { formatVpdqJson } from '../algorithms/vpdq.js';

let dir: string;
let clip: string;
let other: string;
let staging: ReturnType<typeof privateTmpdir> | undefined;

beforeAll(() => {
  if (!HAVE_FFMPEG) return;
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-match-video-test-'));
  staging = privateTmpdir(dir);
  // Two unrelated 6 s clips: a moving test card, and the Mandelbrot zoom.
  clip = makeVideo(dir, 'clip.mp4', [
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=10:duration=6',
    '-pix_fmt',
    'yuv420p',
  ]);
  other = makeVideo(dir, 'other.mp4', [
    '-f',
    'lavfi',
    '-i',
    'mandelbrot=size=320x240:rate=10',
    '-t',
    '6',
    '-pix_fmt',
    'yuv420p',
  ]);
});

afterAll(() => {
  staging?.restore();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

it.runIf(!HAVE_FFMPEG && process.env.CI !== undefined)('has FFmpeg on CI', () => {
  expect.fail(SKIP_NO_FFMPEG);
});

describe.skipIf(!HAVE_FFMPEG)(HAVE_FFMPEG ? 'matchVideo' : `matchVideo [${SKIP_NO_FFMPEG}]`, () => {
  it('names the listed video, its shares and the matched timestamps, and the exact hashes', async () => {
    const listed = await hashVideo(clip);
    const index = VpdqIndex.fromEntries([{ list: 'known', id: 'clip', label: 'csam', hash: listed.frames }]);
    const matcher = Matcher.fromEntries([{ list: 'files', id: 'f1', algorithm: 'sha256', hash: listed.sha256 }]);
    const result = await matchVideo(clip, { index, matcher });
    expect(result.matched).toBe(true);
    expect(result.videos).toHaveLength(1);
    const [video] = result.videos;
    expect(video).toMatchObject({
      list: 'known',
      entryId: 'clip',
      label: 'csam',
      queryMatchPercent: 100,
      listedMatchPercent: 100,
    });
    // Every frame of quality ≥ 50 matched itself, at its own time.
    const good = listed.frames.filter((f) => f.quality >= 50);
    expect(video?.frames.map((f) => [f.querySeconds, f.listedSeconds, f.distance])).toEqual(
      good.map((f) => [f.seconds, f.seconds, 0]),
    );
    expect(result.exact).toMatchObject([{ list: 'files', entryId: 'f1', algorithm: 'sha256' }]);
    expect(result.frames).toEqual(listed.frames);
  });

  it("matches against the matcher's own vPDQ entries when no index is given", async () => {
    const listed = await hashVideo(clip);
    const matcher = Matcher.fromEntries(
      [
        { list: 'known', id: 'clip', algorithm: 'vpdq', hash: formatVpdqJson(listed.frames) },
        { list: 'files', id: 'f1', algorithm: 'md5', hash: listed.md5 },
      ],
      { lists: [{ name: 'known', version: 4, label: 'block-and-report' }] },
    );
    const result = await matchVideo(clip, { matcher, contentId: 'upload-1' });
    expect(result.videos).toMatchObject([
      { list: 'known', entryId: 'clip', listVersion: 4, listLabel: 'block-and-report', queryMatchPercent: 100 },
    ]);
    expect(result.exact).toMatchObject([{ list: 'files', entryId: 'f1', algorithm: 'md5' }]);
    const unrelated = await matchVideo(other, { matcher });
    expect(unrelated).toMatchObject({ matched: false, videos: [], exact: [] });
  });

  it('does not match a different video', async () => {
    const index = VpdqIndex.fromEntries([{ list: 'known', id: 'clip', hash: (await hashVideo(clip)).frames }]);
    const result = await matchVideo(other, { index });
    expect(result).toMatchObject({ matched: false, videos: [], exact: [] });
    expect(result.frames.length).toBeGreaterThan(0);
  });

  it('refuses bad thresholds and a missing index before FFmpeg runs', async () => {
    const index = VpdqIndex.fromEntries([]);
    await expect(matchVideo('no-such-file.mp4', { index, queryMatchPercent: 120 })).rejects.toThrow(RangeError);
    await expect(matchVideo('no-such-file.mp4', {} as never)).rejects.toThrow(TypeError);
    // A matcher by shape that can look up exact hashes only: no listed videos to match against.
    const exactOnly = { matchHash: () => [] };
    await expect(matchVideo('no-such-file.mp4', { matcher: exactOnly })).rejects.toThrow(TypeError);
    await expect(matchVideo('no-such-file.mp4', { index, lists: { l: { distance: -1 } } })).rejects.toThrow(RangeError);
  });
});
