/**
 * The frame-hashing thread: a 1080p clip hashed every frame leaves the event loop free (a timer's
 * lateness stays small, where hashing on the calling thread makes it late by a frame's PDQ), the
 * frames come back in order with the hashes the calling thread computes, FFmpeg waits on its pipe
 * while the hasher holds its frames in flight, and a thread that dies fails the call with
 * ERR_HASH_THREAD, leaves no FFmpeg behind, and the next call starts another.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatHex } from '../algorithms/hex.js';
import { pdqRgbFrame } from '../algorithms/pdq.js';
import { HashwardenError } from '../errors.js';
import { HAVE_FFMPEG, makeVideo, SKIP_NO_FFMPEG } from '../testing/ffmpeg.js';
import type { VideoContainer } from './container.js';
import { decodeFrames } from './ffmpeg.js';
import { framePool } from './frame-pool.js';
import { hashVideo } from './hash.js';
import { resolveVideoOptions } from './options.js';

/** Timer period of the lateness probe, ms. */
const TICK_MS = 5;

/**
 * Bound on the 90th percentile of the timer's lateness while the clip is hashed, ms: a 1080p frame's
 * PDQ is ~22 ms of a core (docs/video.md), so hashing on the calling thread makes most ticks late
 * by about that (p90 38 ms measured, load 9 on 2 cores); on the thread they are late by what a
 * loaded machine adds (p90 7–13 ms, same load). Generous: the load is not the test's.
 */
const LATENESS_P90_MS = 20;

let dir: string;
let hd: string;

beforeAll(() => {
  if (!HAVE_FFMPEG) return;
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-frame-pool-test-'));
  // 2 s of 1080p at 30 fps: 60 frames, every one hashed with secondsPerHash 0.
  hd = makeVideo(dir, 'hd.mp4', [
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=1920x1080:rate=30:duration=2',
    '-pix_fmt',
    'yuv420p',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
  ]);
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** The timer's lateness, ms, each tick while `work` runs, sorted. */
async function lateness(work: () => Promise<unknown>): Promise<number[]> {
  const late: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    late.push(now - last - TICK_MS);
    last = now;
  }, TICK_MS);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return late.sort((a, b) => a - b);
}

const p90 = (sorted: readonly number[]): number => sorted[Math.floor(sorted.length * 0.9)] ?? Number.NaN;

/** The ffmpeg processes that are children of this one. */
function ffmpegChildren(): string[] {
  const ps = spawnSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return ps.stdout.split('\n').filter((name) => name.startsWith('ffmpeg') || name.startsWith('ffprobe'));
}

it.runIf(!HAVE_FFMPEG && process.env.CI !== undefined)('has FFmpeg on CI', () => {
  expect.fail(SKIP_NO_FFMPEG);
});

describe.skipIf(!HAVE_FFMPEG)(HAVE_FFMPEG ? 'the frame-hashing thread' : `frame thread [${SKIP_NO_FFMPEG}]`, () => {
  it('keeps the event loop responsive while a 1080p clip is hashed every frame', { timeout: 120_000 }, async () => {
    expect(framePool()).toBeDefined();
    await hashVideo(hd, { secondsPerHash: 1 }); // the thread started and its module loaded
    let threaded: Awaited<ReturnType<typeof hashVideo>> | undefined;
    const onThread = await lateness(async () => {
      threaded = await hashVideo(hd, { secondsPerHash: 0 });
    });
    expect(threaded?.frames).toHaveLength(60);
    expect(p90(onThread)).toBeLessThan(LATENESS_P90_MS);

    // The same call with the frames hashed here: the bound fails, so it measures what it claims.
    vi.resetModules();
    vi.doMock('./frame-pool.js', () => ({ framePool: () => undefined }));
    const { hashVideo: hashHere } = await import('./hash.js');
    let here: Awaited<ReturnType<typeof hashVideo>> | undefined;
    const onCaller = await lateness(async () => {
      here = await hashHere(hd, { secondsPerHash: 0 });
    });
    vi.doUnmock('./frame-pool.js');
    // Hashed here, most ticks wait for a frame's PDQ: at least twice as late as on the thread.
    expect(p90(onCaller)).toBeGreaterThan(2 * p90(onThread));
    expect(here).toEqual(threaded);
  });

  it('gives each frame the hash the calling thread computes, in frame order', { timeout: 60_000 }, async () => {
    const options = resolveVideoOptions({ secondsPerHash: 0, downsampleFrameDimension: 160 });
    const video = await hashVideo(hd, options);
    const expected: { frame: number; hash: string; quality: number }[] = [];
    const everyFrame = { ...plan(160, 160), frameStep: 1 };
    await decodeFrames(options.ffmpeg, hd, 'mov' satisfies VideoContainer, everyFrame, everyFrame, (rgb, index) => {
      const { hash, quality } = pdqRgbFrame(rgb, 160, 160);
      expected.push({ frame: index, hash: formatHex(hash), quality });
    });
    expect(video.frames.map(({ frame, hash, quality }) => ({ frame, hash, quality }))).toEqual(expected);
    expect(new Set(expected.map((f) => f.hash)).size).toBeGreaterThan(30);
  });

  it('leaves FFmpeg waiting on its pipe while the hasher holds framesInFlight frames', async () => {
    const options = resolveVideoOptions({});
    const held: (() => void)[] = [];
    let given = 0;
    const decoding = decodeFrames(options.ffmpeg, hd, 'mov', plan(640, 480), plan(640, 480), () => {
      given++;
      return new Promise<void>((resolve) => held.push(resolve));
    });
    await vi.waitFor(() => expect(given).toBe(2), { timeout: 30_000, interval: 50 });
    // Long enough for FFmpeg to decode the other 58 frames were it not stopped by the full pipe.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(given).toBe(2);
    // Released one at a time: each frame freed lets exactly one more through.
    while (held.length > 0) {
      (held.shift() as () => void)();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const release = setInterval(() => {
      for (const resolve of held.splice(0)) resolve();
    }, 1);
    try {
      expect(await decoding).toBe(60);
    } finally {
      clearInterval(release);
    }
    expect(given).toBe(60);
  });

  it('fails the call with ERR_HASH_THREAD when the thread dies, stops FFmpeg, and starts another', async () => {
    const pool = framePool();
    expect(pool).toBeDefined();
    // Ended as soon as it holds the call's first frame.
    const hash = pool?.hash.bind(pool) as NonNullable<typeof pool>['hash'];
    const spy = vi.spyOn(pool as NonNullable<typeof pool>, 'hash').mockImplementationOnce((...args) => {
      const hashed = hash(...args);
      void pool?.close();
      return hashed;
    });
    const call = hashVideo(hd, { secondsPerHash: 0 });
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HashwardenError);
    expect((error as HashwardenError).code).toBe('ERR_HASH_THREAD');
    expect(ffmpegChildren()).toEqual([]);
    spy.mockRestore();
    expect((await hashVideo(hd)).frames.map((f) => f.frame)).toEqual([0, 30]);
  });
});

/** A decode of every frame at `width × height`, bounded as hashVideo's is. */
function plan(width: number, height: number) {
  return {
    frameStep: 1,
    width,
    height,
    maxOutputFrames: 1000,
    maxPixels: 1920 * 1088,
    deadline: Date.now() + 60_000,
    timeoutSeconds: 60,
    framesInFlight: 2,
  };
}
