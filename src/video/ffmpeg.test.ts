/**
 * The decode started before the probe has answered (ffmpeg.ts `decodeFrames`): FFmpeg waits for
 * its filters on descriptor 3, decodes nothing when the checks fail, and gives the same frames
 * however late the filters come.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { HAVE_FFMPEG, makeVideo, SKIP_NO_FFMPEG, testPattern } from '../testing/ffmpeg.js';
import { type DecodeSampling, decodeFrames } from './ffmpeg.js';
import { resolveVideoOptions } from './options.js';

/** Long enough that FFmpeg, started at once, has opened the clip and waits for its filters. */
const LATE_MS = 1000;

let dir: string;
let clip: string;

beforeAll(() => {
  if (!HAVE_FFMPEG) return;
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-ffmpeg-test-'));
  clip = makeVideo(dir, 'clip.mp4', [...testPattern('160x120', 25, 4), '-pix_fmt', 'yuv420p']);
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const limits = () => ({
  maxOutputFrames: 1000,
  maxPixels: resolveVideoOptions({}).maxPixels,
  deadline: Date.now() + 60_000,
  timeoutSeconds: 60,
  framesInFlight: 2,
});

const sampling: DecodeSampling = { frameStep: 25, width: 32, height: 24 };

const later = <T>(value: () => T): Promise<T> => new Promise((resolve) => setTimeout(resolve, LATE_MS)).then(value);

/** The frames `decodeFrames` gives, each as hex. */
async function decoded(given: DecodeSampling | Promise<DecodeSampling>): Promise<string[]> {
  const frames: string[] = [];
  await decodeFrames('ffmpeg', clip, 'mov', limits(), given, (rgb) => {
    frames.push(Buffer.from(rgb).toString('hex'));
  });
  return frames;
}

/** FFmpeg processes of this test's clip still running. */
function ffmpegLeft(): number {
  const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
  return ps.split('\n').filter((line) => line.startsWith('ffmpeg') && line.includes(clip)).length;
}

describe.skipIf(!HAVE_FFMPEG)(HAVE_FFMPEG ? 'decodeFrames' : `decodeFrames [${SKIP_NO_FFMPEG}]`, () => {
  it('gives the same frames when its filters come a second after FFmpeg started', async () => {
    const now = await decoded(sampling);
    expect(now).toHaveLength(4);
    expect(new Set(now).size).toBe(4);
    expect(await decoded(later(() => sampling))).toEqual(now);
  });

  it('decodes no frame and stops FFmpeg when the checks fail, rejecting with their error', async () => {
    const refused = new HashwardenError('ERR_IMAGE_TOO_LARGE', 'the checks failed');
    let frames = 0;
    const decoding = decodeFrames(
      'ffmpeg',
      clip,
      'mov',
      limits(),
      later(() => {
        throw refused;
      }),
      () => {
        frames++;
      },
    );
    await expect(decoding).rejects.toBe(refused);
    expect(frames).toBe(0);
    expect(ffmpegLeft()).toBe(0);
  });
});
