/**
 * hashVideo on clips FFmpeg makes in the test: which frames are hashed at which step and size, the
 * exact hashes of the bytes, a path and bytes alike (bytes through a temporary file that is gone
 * after), and the reference's rule for the step.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_FFMPEG, makeVideo, privateTmpdir, SKIP_NO_FFMPEG, testPattern } from '../testing/ffmpeg.js';
import { formatVpdqJson, formatVpdqLines, parseVpdqJson, parseVpdqLines } from '../algorithms/vpdq.js';
import { hashVideo } from './index.js';

let dir: string;
let clip: string;
/** Where hashVideo stages bytes in this file's tests. */
let staging: ReturnType<typeof privateTmpdir> | undefined;

beforeAll(() => {
  if (!HAVE_FFMPEG) return;
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-video-test-'));
  staging = privateTmpdir(dir);
  // 4 s at 25 fps, 160 × 120, H.264 with its index (moov) after the data: FFmpeg's default.
  clip = makeVideo(dir, 'clip.mp4', [...testPattern('160x120', 25, 4), '-pix_fmt', 'yuv420p']);
});

afterAll(() => {
  staging?.restore();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

it.runIf(!HAVE_FFMPEG && process.env.CI !== undefined)('has FFmpeg on CI', () => {
  expect.fail(SKIP_NO_FFMPEG);
});

describe.skipIf(!HAVE_FFMPEG)(HAVE_FFMPEG ? 'hashVideo' : `hashVideo [${SKIP_NO_FFMPEG}]`, () => {
  it('hashes one frame a second by default: frames 0, 25, 50, 75 of a 25 fps clip, with their seconds', async () => {
    const video = await hashVideo(clip);
    expect(video.frames.map((f) => [f.frame, f.seconds])).toEqual([
      [0, 0],
      [25, 1],
      [50, 2],
      [75, 3],
    ]);
    expect(video).toMatchObject({
      width: 160,
      height: 120,
      hashedWidth: 160,
      hashedHeight: 120,
      frameRate: 25,
      frameStep: 25,
      container: 'mov',
      codec: 'h264',
    });
    for (const frame of video.frames) {
      expect(frame.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(frame.quality).toBeGreaterThanOrEqual(50);
    }
    // The test pattern moves: consecutive seconds differ.
    expect(new Set(video.frames.map((f) => f.hash)).size).toBe(4);
  });

  it('takes the exact hashes of the file bytes, as for images', async () => {
    const bytes = readFileSync(clip);
    const video = await hashVideo(clip);
    expect(video.md5).toBe(createHash('md5').update(bytes).digest('hex'));
    expect(video.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(video.bytes).toBe(bytes.length);
  });

  it('gives the same result for the bytes as for the path, and leaves no temporary file', async () => {
    const fromBytes = await hashVideo(readFileSync(clip));
    expect(fromBytes).toEqual(await hashVideo(clip));
    expect(readdirSync(staging?.path as string)).toEqual([]);
  });

  it('hashes every frame with secondsPerHash 0, and steps ⌊seconds × fps⌋ frames otherwise', async () => {
    expect((await hashVideo(clip, { secondsPerHash: 0 })).frames.map((f) => f.frame)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    // 0.5 s at 25 fps: 12.5 frames, truncated to 12, as the reference's int cast does.
    const half = await hashVideo(clip, { secondsPerHash: 0.5 });
    expect(half.frameStep).toBe(12);
    expect(half.frames.map((f) => f.frame)).toEqual([0, 12, 24, 36, 48, 60, 72, 84, 96]);
    expect(half.frames[1]?.seconds).toBeCloseTo(0.48, 10);
  });

  it('scales frames to downsampleFrameDimension square before hashing', async () => {
    const native = await hashVideo(clip);
    const small = await hashVideo(clip, { downsampleFrameDimension: 128 });
    expect([small.hashedWidth, small.hashedHeight, small.width, small.height]).toEqual([128, 128, 160, 120]);
    expect(small.frames.map((f) => f.frame)).toEqual(native.frames.map((f) => f.frame));
    expect(small.frames.map((f) => f.hash)).not.toEqual(native.frames.map((f) => f.hash));
  });

  it('reads a Matroska file and an MP4 whose index comes first alike', async () => {
    const mkv = makeVideo(dir, 'clip.mkv', ['-i', clip, '-c', 'copy']);
    const fast = makeVideo(dir, 'fast.mp4', ['-i', clip, '-c', 'copy', '-movflags', '+faststart']);
    const reference = (await hashVideo(clip)).frames;
    expect((await hashVideo(mkv)).frames).toEqual(reference);
    expect((await hashVideo(readFileSync(fast))).frames).toEqual(reference);
    expect((await hashVideo(mkv)).container).toBe('matroska');
  });

  it('keeps whole frames when the stream changes size midway (two MPEG-TS files joined)', async () => {
    const small = makeVideo(dir, 'small.ts', [...testPattern('160x120', 25, 2), '-pix_fmt', 'yuv420p']);
    const large = makeVideo(dir, 'large.ts', [...testPattern('320x240', 25, 2), '-pix_fmt', 'yuv420p']);
    const joined = Buffer.concat([readFileSync(small), readFileSync(large)]);
    const video = await hashVideo(joined);
    expect(video.container).toBe('mpegts');
    expect([video.hashedWidth, video.hashedHeight]).toEqual([160, 120]);
    expect(video.frames.map((f) => f.frame)).toEqual([0, 25, 50, 75]);
  });

  it("writes the reference's lines and pytx's JSON, both read back to the same frames", async () => {
    const { frames } = await hashVideo(clip);
    expect(parseVpdqLines(formatVpdqLines(frames))).toEqual(frames);
    expect(parseVpdqJson(formatVpdqJson(frames))).toEqual(frames.map(({ frame: _f, ...rest }) => rest));
  });
});
