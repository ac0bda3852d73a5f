/**
 * hashVideo on what an attacker or a broken client uploads, every file made in the test: each is
 * refused with its typed code (zero-length, random bytes, an image named .mp4, a playlist,
 * audio only, truncated, corrupt) and FFmpeg's complaint in the message; the limits (bytes,
 * pixels, duration, frames) hold; the deadline stops FFmpeg — SIGKILL when it ignores SIGTERM —
 * and no process is left behind; an absent FFmpeg is `ERR_MISSING_DEPENDENCY` saying how to
 * install it.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { mulberry32 } from '../testing/prng.js';
import { HAVE_FFMPEG, makeVideo, privateTmpdir, SKIP_NO_FFMPEG, testPattern } from '../testing/ffmpeg.js';
import { KILL_GRACE_MS } from './ffmpeg.js';
import { type HashVideoOptions, hashVideo, resolveVideoOptions, type VideoInput } from './index.js';

let dir: string;
let clip: string;
/** Where hashVideo stages bytes in this file's tests. */
let staging: ReturnType<typeof privateTmpdir> | undefined;

beforeAll(() => {
  if (!HAVE_FFMPEG) return;
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-video-test-'));
  staging = privateTmpdir(dir);
  clip = makeVideo(dir, 'clip.mp4', [
    ...testPattern('160x120', 25, 4),
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
  ]);
});

afterAll(() => {
  staging?.restore();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** The rejection's code and message, or a failure when the call resolves or throws something untyped. */
async function refusal(input: VideoInput, options?: HashVideoOptions): Promise<{ code: string; message: string }> {
  try {
    await hashVideo(input, options);
  } catch (error) {
    if (error instanceof HashwardenError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('hashVideo resolved');
}

/** Whether a process `pid` still exists (a zombie counts: it has not been reaped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A stand-in `ffmpeg` (Node script) that writes its pid to `pidFile` and never ends; with `stubborn`, ignores SIGTERM. */
function hangingFfmpeg(name: string, pidFile: string, stubborn: boolean): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `#!${process.execPath}\nrequire('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));\n` +
      `${stubborn ? "process.on('SIGTERM', () => {});\n" : ''}setInterval(() => {}, 1000);\n`,
  );
  chmodSync(path, 0o700);
  return path;
}

describe('options', () => {
  it('finds FFmpeg by option, then HASHWARDEN_FFMPEG, then PATH; ffprobe beside a given ffmpeg', () => {
    expect(resolveVideoOptions({}, {})).toMatchObject({ ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' });
    expect(resolveVideoOptions({}, { HASHWARDEN_FFMPEG: '/opt/ff/bin/ffmpeg' })).toMatchObject({
      ffmpeg: '/opt/ff/bin/ffmpeg',
      ffprobe: '/opt/ff/bin/ffprobe',
    });
    expect(
      resolveVideoOptions(
        { ffmpegPath: '/x/ffmpeg-7' },
        { HASHWARDEN_FFMPEG: '/y/ffmpeg', HASHWARDEN_FFPROBE: '/z/p' },
      ),
    ).toMatchObject({ ffmpeg: '/x/ffmpeg-7', ffprobe: '/z/p' });
  });

  it.each([
    [{ secondsPerHash: -1 }, RangeError],
    [{ secondsPerHash: Number.NaN }, TypeError],
    [{ secondsPerHash: '1' }, TypeError],
    [{ downsampleFrameDimension: 4 }, RangeError],
    [{ downsampleFrameDimension: 1.5 }, TypeError],
    [{ maxBytes: 0 }, RangeError],
    [{ timeoutSeconds: 0 }, RangeError],
    [{ ffmpegPath: '' }, RangeError],
    [{ trim: 'yes' }, TypeError],
  ])('refuses %o', (options, type) => {
    expect(() => resolveVideoOptions(options as HashVideoOptions)).toThrow(type);
  });
});

it.runIf(!HAVE_FFMPEG && process.env.CI !== undefined)('has FFmpeg on CI', () => {
  expect.fail(SKIP_NO_FFMPEG);
});

describe.skipIf(!HAVE_FFMPEG)(HAVE_FFMPEG ? 'hostile videos' : `hostile videos [${SKIP_NO_FFMPEG}]`, () => {
  it('refuses zero-length input, as a file and as bytes, as ERR_UNSUPPORTED_FORMAT', async () => {
    const empty = join(dir, 'empty.mp4');
    writeFileSync(empty, '');
    expect((await refusal(empty)).code).toBe('ERR_UNSUPPORTED_FORMAT');
    expect((await refusal(new Uint8Array(0))).code).toBe('ERR_UNSUPPORTED_FORMAT');
  });

  it('refuses random bytes, an HLS playlist, a PNG and a HEIF-branded still named .mp4 before FFmpeg opens them', async () => {
    const png = makeVideo(dir, 'image.png', [...testPattern('64x64', 1, 1), '-frames:v', '1']);
    const random = new Uint8Array(4096).map((_, i) => (i * 7919) % 251);
    const heif = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic'), Buffer.alloc(64)]);
    for (const input of [
      random,
      Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/a.ts\n'),
      readFileSync(png),
      heif,
    ])
      expect((await refusal(input)).code).toBe('ERR_UNSUPPORTED_FORMAT');
  });

  it('refuses audio only (an AAC .m4a) as ERR_UNSUPPORTED_FORMAT naming the streams it has', async () => {
    const audio = makeVideo(dir, 'sound.m4a', ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:a', 'aac']);
    const { code, message } = await refusal(audio);
    expect(code).toBe('ERR_UNSUPPORTED_FORMAT');
    expect(message).toMatch(/no video stream \(streams: audio\)/);
  });

  it('refuses a file whose only picture is cover art as ERR_UNSUPPORTED_FORMAT', async () => {
    const cover = makeVideo(dir, 'cover.jpg', [...testPattern('64x64', 1, 1), '-frames:v', '1']);
    const song = makeVideo(dir, 'song.m4a', [
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-i', cover],
      ...['-map', '0', '-map', '1', '-c:a', 'aac', '-c:v', 'mjpeg', '-disposition:v:0', 'attached_pic'],
    ]);
    const { code, message } = await refusal(song);
    expect(code).toBe('ERR_UNSUPPORTED_FORMAT');
    expect(message).toMatch(/no video stream \(streams: audio, video\)/);
  });

  it('refuses a video whose codec is not allowed (FFV1 in Matroska) as ERR_UNSUPPORTED_FORMAT', async () => {
    const ffv1 = makeVideo(dir, 'lossless.mkv', [...testPattern('64x64', 5, 1), '-c:v', 'ffv1']);
    expect((await refusal(ffv1)).code).toBe('ERR_UNSUPPORTED_FORMAT');
  });

  it('refuses a truncated MP4 as ERR_IMAGE_DECODE with what FFmpeg said, its index first or last', async () => {
    const bytes = readFileSync(clip);
    const half = bytes.subarray(0, Math.floor(bytes.length / 2));
    const first = await refusal(half);
    expect(first.code).toBe('ERR_IMAGE_DECODE');
    expect(first.message.length).toBeGreaterThan(40);
    const late = readFileSync(makeVideo(dir, 'late.mp4', ['-i', clip, '-c', 'copy']));
    expect((await refusal(late.subarray(0, Math.floor(late.length / 2)))).code).toBe('ERR_IMAGE_DECODE');
  });

  it('refuses a stream whose data is overwritten as ERR_IMAGE_DECODE', async () => {
    const bytes = Buffer.from(readFileSync(clip));
    // The index stays whole (faststart: it comes first); the coded frames after it are noise.
    for (let at = Math.floor(bytes.length / 3); at < bytes.length; at += 3) bytes[at] = (at * 31) & 0xff;
    expect((await refusal(bytes)).code).toBe('ERR_IMAGE_DECODE');
  });

  it('holds the byte, pixel, duration and frame limits as ERR_IMAGE_TOO_LARGE', async () => {
    const size = readFileSync(clip).length;
    expect((await refusal(clip, { maxBytes: size - 1 })).code).toBe('ERR_IMAGE_TOO_LARGE');
    expect((await refusal(readFileSync(clip), { maxBytes: size - 1 })).code).toBe('ERR_IMAGE_TOO_LARGE');
    expect((await refusal(clip, { maxPixels: 160 * 120 - 1 })).message).toMatch(/160 × 120/);
    expect((await refusal(clip, { maxDurationSeconds: 3 })).code).toBe('ERR_IMAGE_TOO_LARGE');
    expect((await refusal(clip, { maxFrames: 3 })).code).toBe('ERR_IMAGE_TOO_LARGE');
    expect((await hashVideo(clip, { maxFrames: 4, maxDurationSeconds: 4 })).frames).toHaveLength(4);
  });

  it('holds the duration and frame limits while decoding when the container declares no duration', async () => {
    // Matroska written to a pipe: FFmpeg cannot go back to write the duration.
    const bytes = execFileSync('ffmpeg', [
      ...['-nostdin', '-v', 'error', ...testPattern('160x120', 25, 4), '-pix_fmt', 'yuv420p'],
      ...['-f', 'matroska', 'pipe:1'],
    ]);
    expect((await hashVideo(bytes)).durationSeconds).toBeNaN();
    expect((await refusal(bytes, { maxDurationSeconds: 2 })).message).toMatch(/runs past 2 s \(frame 75 at 25 fps\)/);
    expect((await refusal(bytes, { maxFrames: 2 })).message).toMatch(/more than 2 hashed frames/);
  });

  it('gives a result or a typed error for random edits of a clip, never another error, and leaves no temporary file', async () => {
    const original = readFileSync(clip);
    const random = mulberry32(24);
    const codes = new Set<string>();
    for (let round = 0; round < 12; round++) {
      const bytes = Buffer.from(original);
      // A few bytes anywhere, or a run of them: headers, index and coded frames all get hit.
      for (let edits = 1 + Math.floor(random() * 8); edits > 0; edits--) {
        const at = Math.floor(random() * bytes.length);
        const run = random() < 0.3 ? 1 + Math.floor(random() * 64) : 1;
        for (let i = at; i < Math.min(bytes.length, at + run); i++) bytes[i] = Math.floor(random() * 256);
      }
      try {
        await hashVideo(bytes, { timeoutSeconds: 20 });
        codes.add('hashed');
      } catch (error) {
        expect(error).toBeInstanceOf(HashwardenError);
        codes.add((error as HashwardenError).code);
      }
    }
    expect(readdirSync(staging?.path as string)).toEqual([]);
    expect([...codes].every((c) => ['hashed', 'ERR_IMAGE_DECODE', 'ERR_UNSUPPORTED_FORMAT'].includes(c))).toBe(true);
  }, 120_000);

  it('stages bytes in os.tmpdir(): one it cannot write to is ERR_INPUT_READ, and nothing is left', async () => {
    process.env.TMPDIR = join(dir, 'no-such-folder');
    try {
      const { code, message } = await refusal(readFileSync(clip));
      expect(code).toBe('ERR_INPUT_READ');
      expect(message).toMatch(/Cannot stage the video/);
    } finally {
      process.env.TMPDIR = staging?.path;
    }
    expect(readdirSync(staging?.path as string)).toEqual([]);
  });

  it('refuses a missing file as ERR_INPUT_READ', async () => {
    expect((await refusal(join(dir, 'absent.mp4'))).code).toBe('ERR_INPUT_READ');
    expect((await refusal(dir)).code).toBe('ERR_INPUT_READ');
  });

  it('says how to install FFmpeg when it is absent: ERR_MISSING_DEPENDENCY', async () => {
    const { code, message } = await refusal(clip, { ffmpegPath: join(dir, 'no-such', 'ffmpeg') });
    expect(code).toBe('ERR_MISSING_DEPENDENCY');
    expect(message).toMatch(/apt-get install ffmpeg/);
    expect(message).toMatch(/HASHWARDEN_FFMPEG/);
  });

  it('says an FFmpeg before 5.1 (no -fps_mode) cannot be used: ERR_MISSING_DEPENDENCY with its words', async () => {
    const ffmpegPath = join(dir, 'old-ffmpeg');
    writeFileSync(
      ffmpegPath,
      `#!${process.execPath}\nprocess.stderr.write("\\u001b[31mUnrecognized option 'fps_mode'.\\nError splitting the argument list: Option not found\\n");\nprocess.exitCode = 1;\n`,
    );
    chmodSync(ffmpegPath, 0o700);
    const { code, message } = await refusal(clip, { ffmpegPath, ffprobePath: 'ffprobe' });
    expect(code).toBe('ERR_MISSING_DEPENDENCY');
    expect(message).toMatch(/fps_mode/);
    // FFmpeg's lines joined on one, no control character left.
    expect(message).toMatch(/'fps_mode'\. \| Error splitting/);
    expect(message).not.toMatch(/[\u0000-\u001f]/);
  });

  it.each([
    ['stops FFmpeg at the deadline (ERR_IMAGE_TIMEOUT) and reaps it', false],
    ['kills an FFmpeg that ignores SIGTERM with SIGKILL after the grace, and reaps it', true],
  ])('%s', async (name, stubborn) => {
    const pidFile = join(dir, `${name.length}.pid`);
    const ffmpegPath = hangingFfmpeg(`ffmpeg-${name.length}`, pidFile, stubborn);
    const started = Date.now();
    expect((await refusal(clip, { ffmpegPath, ffprobePath: 'ffprobe', timeoutSeconds: 2 })).code).toBe(
      'ERR_IMAGE_TIMEOUT',
    );
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(stubborn ? 2000 + KILL_GRACE_MS : 2000);
    expect(took).toBeLessThan(6000);
    expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });
});
