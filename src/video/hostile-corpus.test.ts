/**
 * The committed hostile video corpus (test-vectors/hostile-video/, made by
 * test-vectors/hostile-video.ts): every file through hashVideo gives its manifest outcome (the
 * frames it hashes, or the refusal's code), by path and as bytes, and leaves no FFmpeg process;
 * a video named .jpg and one with rotation metadata hash to the stored frames of the clip they
 * copy; the playlists are refused before any process starts and nothing they name is opened,
 * file or URL.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostileVideoEntry, PLAYLIST_URL_PORT } from '../../test-vectors/hostile-video.js';
import { HashwardenError } from '../errors.js';
import { HAVE_FFMPEG, SKIP_NO_FFMPEG } from '../testing/ffmpeg.js';
import { hashVideo, type VideoHashResult, type VideoInput } from './index.js';

const CORPUS = fileURLToPath(new URL('../../test-vectors/hostile-video/', import.meta.url));
const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as {
  readonly files: readonly HostileVideoEntry[];
};

/** The corpus stays small enough to sit in the repository: 2 MB, as the issue asks. */
const MAX_CORPUS_BYTES = 2 * 1024 * 1024;

/** What hashVideo came to: the frame numbers and size it hashed, or the error's code. */
async function outcome(input: VideoInput): Promise<{ result?: VideoHashResult; error?: string }> {
  try {
    return { result: await hashVideo(input) };
  } catch (error) {
    if (error instanceof HashwardenError) return { error: error.code };
    throw error;
  }
}

/** The ffmpeg and ffprobe processes that are children of this one. */
function ffmpegChildren(): string[] {
  const ps = spawnSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return ps.stdout.split('\n').filter((name) => name.startsWith('ffmpeg') || name.startsWith('ffprobe'));
}

describe('the hostile video corpus', () => {
  it('lists every file it holds with its digest, under 2 MB in all', () => {
    const names = readdirSync(CORPUS).filter((name) => name !== 'manifest.json');
    expect(manifest.files.map((f) => f.file).sort()).toEqual(names.sort());
    let total = 0;
    for (const entry of manifest.files) {
      const bytes = readFileSync(join(CORPUS, entry.file));
      expect(bytes.length, entry.file).toBe(entry.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), entry.file).toBe(entry.sha256);
      total += bytes.length;
    }
    expect(total).toBeLessThan(MAX_CORPUS_BYTES);
  });
});

it.runIf(!HAVE_FFMPEG && process.env.CI !== undefined)('has FFmpeg on CI', () => {
  expect.fail(SKIP_NO_FFMPEG);
});

describe.skipIf(!HAVE_FFMPEG)(HAVE_FFMPEG ? 'hashVideo on the corpus' : `hostile corpus [${SKIP_NO_FFMPEG}]`, () => {
  let server: Server;
  let requests = 0;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hashwarden-hostile-corpus-'));
    // Where the playlists' URL points: any connection at all is a failure.
    server = createServer((_request, response) => {
      requests++;
      response.end();
    });
    server.on('connection', () => requests++);
    await new Promise<void>((resolve) => server.listen(PLAYLIST_URL_PORT, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it.each(manifest.files.map((entry) => [entry.file, entry] as const))(
    '%s: its manifest outcome, by path and as bytes, and no FFmpeg left',
    async (file, entry) => {
      const path = join(CORPUS, file);
      for (const input of [path, readFileSync(path)]) {
        const got = await outcome(input);
        if ('error' in entry.expect) {
          expect(got.error, `${file}: ${entry.reason}`).toBe(entry.expect.error);
        } else {
          expect(got.error, file).toBeUndefined();
          const { frames, width, height } = got.result as VideoHashResult;
          expect({ frames: frames.map((f) => f.frame), width, height }).toEqual({
            frames: entry.expect.frames,
            width: entry.expect.width,
            height: entry.expect.height,
          });
        }
        expect(ffmpegChildren(), file).toEqual([]);
      }
      expect(requests).toBe(0);
    },
    60_000,
  );

  it('hashes a video named .jpg and one with rotation metadata as the stored frames of the clip they copy', async () => {
    const base = (await hashVideo(join(CORPUS, 'base.mp4'))).frames;
    expect((await hashVideo(join(CORPUS, 'video-named.jpg'))).frames).toEqual(base);
    expect((await hashVideo(join(CORPUS, 'rotated-90.mp4'))).frames).toEqual(base);
  });

  it('refuses the playlists before any process starts: nothing they name is opened, file or URL', async () => {
    const playlists = manifest.files.filter((entry) => entry.references !== undefined);
    expect(playlists.length).toBeGreaterThanOrEqual(3);
    // Stand-ins for ffmpeg and ffprobe that leave a mark when run: the real ones would open what is named.
    const mark = join(dir, 'ran');
    const standIn = join(dir, 'ffmpeg');
    writeFileSync(standIn, `#!/bin/sh\ntouch '${mark}'\nexit 1\n`);
    chmodSync(standIn, 0o700);
    for (const entry of playlists) {
      // Beside the file it names, so a follower would find it.
      const copy = join(dir, entry.file);
      writeFileSync(copy, readFileSync(join(CORPUS, entry.file)));
      writeFileSync(join(dir, 'base.mp4'), readFileSync(join(CORPUS, 'base.mp4')));
      const error = await hashVideo(copy, { ffmpegPath: standIn, ffprobePath: standIn }).catch((e: unknown) => e);
      expect((error as HashwardenError).code, entry.file).toBe('ERR_UNSUPPORTED_FORMAT');
    }
    expect(existsSync(mark)).toBe(false);
    expect(requests).toBe(0);
  });
});
