/**
 * Black bars of video frames (bars.ts): found on RGB24 frames as images find their borders, the
 * picture inside hashed apart from the whole frame, which stays exactly Meta's PDQ; and on clips
 * FFmpeg makes, a rendition boxed in bars hashes inside them near the same clip without bars.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatHex, hammingDistance, parseHex } from '../algorithms/hex.js';
import { pdqRgbFrame } from '../algorithms/pdq.js';
import { HAVE_FFMPEG, makeVideo, SKIP_NO_FFMPEG } from '../testing/ffmpeg.js';
import { mulberry32 } from '../testing/prng.js';
import { cropRgb, findFrameBars, pdqFrameHashes } from './bars.js';
import { hashVideo } from './hash.js';

/** A `width × height` RGB24 frame of seeded noise (no uniform edge). */
function noise(width: number, height: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  return Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256));
}

/** `picture` (`w × h`) placed at (`left`, `top`) on a `width × height` frame of one colour. */
function boxed(picture: Uint8Array, w: number, h: number, width: number, height: number, left: number, top: number) {
  const frame = new Uint8Array(width * height * 3);
  for (let y = 0; y < h; y++) frame.set(picture.subarray(y * w * 3, (y + 1) * w * 3), ((top + y) * width + left) * 3);
  return frame;
}

describe('findFrameBars', () => {
  it('finds a pillarbox and a letterbox: the box of the picture inside', () => {
    const picture = noise(80, 120, 1);
    expect(findFrameBars(boxed(picture, 80, 120, 120, 120, 20, 0), 120, 120)).toEqual({
      left: 20,
      top: 0,
      width: 80,
      height: 120,
    });
    expect(findFrameBars(boxed(picture, 80, 120, 80, 160, 0, 24), 80, 160)).toEqual({
      left: 0,
      top: 24,
      width: 80,
      height: 120,
    });
  });

  it('finds none in a frame without a uniform edge, nor in a frame of one colour', () => {
    expect(findFrameBars(noise(64, 48, 2), 64, 48)).toBeNull();
    expect(findFrameBars(new Uint8Array(64 * 48 * 3), 64, 48)).toBeNull();
  });

  it('finds none when the bars leave less than a quarter of the frame', () => {
    expect(findFrameBars(boxed(noise(20, 100, 3), 20, 100, 100, 100, 40, 0), 100, 100)).toBeNull();
  });

  it('refuses pixels that are not width × height RGB', () => {
    expect(() => findFrameBars(new Uint8Array(10), 4, 4)).toThrow(RangeError);
  });

  it('crops the box out of the frame', () => {
    const picture = noise(30, 20, 4);
    expect(cropRgb(boxed(picture, 30, 20, 50, 40, 10, 7), 50, { left: 10, top: 7, width: 30, height: 20 })).toEqual(
      picture,
    );
  });
});

describe('pdqFrameHashes', () => {
  const picture = noise(90, 160, 5);
  const frame = boxed(picture, 90, 160, 120, 160, 15, 0);

  it("keeps the whole frame's PDQ as Meta's vPDQ computes it, and hashes the picture inside the bars beside it", () => {
    const whole = pdqRgbFrame(frame, 120, 160);
    const inside = pdqRgbFrame(picture, 90, 160);
    expect(pdqFrameHashes(frame, 120, 160, true)).toEqual({
      hash: formatHex(whole.hash),
      quality: whole.quality,
      trimmed: { hash: formatHex(inside.hash), quality: inside.quality },
    });
  });

  it('hashes only the whole frame without trim, or when the frame has no bars', () => {
    expect(pdqFrameHashes(frame, 120, 160, false).trimmed).toBeUndefined();
    expect(pdqFrameHashes(picture, 90, 160, true).trimmed).toBeUndefined();
  });
});

let dir: string;
beforeAll(() => {
  if (HAVE_FFMPEG) dir = mkdtempSync(join(tmpdir(), 'hashwarden-bars-test-'));
});
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!HAVE_FFMPEG)(HAVE_FFMPEG ? 'hashVideo with trim' : `hashVideo with trim [${SKIP_NO_FFMPEG}]`, () => {
  const distances = (a: readonly { hash: string }[], b: readonly { hash: string }[]): number[] =>
    a.map((f, i) => hammingDistance(parseHex(f.hash, 32, 'pdq'), parseHex((b[i] as { hash: string }).hash, 32, 'pdq')));

  it('hashes a rendition boxed in black bars inside them, near the clip without bars, its whole frames unchanged', async () => {
    // testsrc2: shapes large enough that a 3/4 scale keeps them (testsrc's fine text loses more).
    const source = ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10:duration=3', '-pix_fmt', 'yuv420p'];
    const plain = makeVideo(dir, 'plain.mp4', source);
    // The same clip smaller, boxed in black to the same frame size: an SD rendition's bars.
    const barred = makeVideo(dir, 'barred.mp4', [...source, '-vf', 'scale=240:180,pad=320:240:40:30:black']);
    const clean = await hashVideo(plain, { secondsPerHash: 0.5 });
    const boxedVideo = await hashVideo(barred, { secondsPerHash: 0.5 });
    const untrimmed = await hashVideo(barred, { secondsPerHash: 0.5, trim: false });
    expect(clean.trimmed).toBeUndefined();
    expect(untrimmed.trimmed).toBeUndefined();
    expect(boxedVideo.frames).toEqual(untrimmed.frames);
    const trimmed = boxedVideo.trimmed ?? [];
    expect(trimmed.map((f) => [f.frame, f.seconds])).toEqual(boxedVideo.frames.map((f) => [f.frame, f.seconds]));
    // Whole frames: the bars move PDQ far past vPDQ's 31 bits; inside them, the same pictures.
    expect(Math.min(...distances(boxedVideo.frames, clean.frames))).toBeGreaterThan(31);
    expect(Math.max(...distances(trimmed, clean.frames))).toBeLessThanOrEqual(31);

    // The frame-hashing thread and the calling thread (no thread module) give the same two sets.
    vi.resetModules();
    vi.doMock('./frame-pool.js', () => ({ framePool: () => undefined }));
    try {
      const { hashVideo: hashHere } = await import('./hash.js');
      expect(await hashHere(barred, { secondsPerHash: 0.5 })).toEqual(boxedVideo);
    } finally {
      vi.doUnmock('./frame-pool.js');
    }
  });
});
