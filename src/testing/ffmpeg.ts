/**
 * Videos for tests, made by FFmpeg from its own test sources (lavfi `testsrc`, `sine`): no clip
 * is checked in. Whether FFmpeg is here decides whether the video tests run; with CI set they
 * fail rather than skip without it (`.ci/run` installs Debian's ffmpeg).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Whether `ffmpeg` and `ffprobe` run from `PATH`. */
export const HAVE_FFMPEG =
  spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0 &&
  spawnSync('ffprobe', ['-version'], { stdio: 'ignore' }).status === 0;

/** Why the video tests were skipped, as their title says it. */
export const SKIP_NO_FFMPEG = 'needs ffmpeg and ffprobe on PATH (apt-get install ffmpeg; CI has them)';

/**
 * Runs `ffmpeg` quietly with `args` (inputs and output), writing `name` in `dir`; returns its path.
 *
 * @example
 * ```ts
 * const clip = makeVideo(dir, 'clip.mp4', ['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=3']);
 * ```
 */
export function makeVideo(dir: string, name: string, args: readonly string[]): string {
  const path = join(dir, name);
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args, path], { stdio: ['ignore', 'ignore', 'pipe'] });
  return path;
}

/** lavfi's test pattern: `seconds` long, `size` (`WxH`) at `rate` frames a second. */
export function testPattern(size: string, rate: number, seconds: number): string[] {
  return ['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=${rate}:duration=${seconds}`];
}

/**
 * Points `os.tmpdir()` of this test process (vitest runs each file in a fork of its own) at a new
 * folder in `dir`, so a test sees every temporary file `hashVideo` stages and none of another
 * file's; returns the folder and how to put `TMPDIR` back.
 */
export function privateTmpdir(dir: string): { readonly path: string; restore(): void } {
  const path = join(dir, 'tmp');
  mkdirSync(path);
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = path;
  return {
    path,
    restore: () => {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    },
  };
}
