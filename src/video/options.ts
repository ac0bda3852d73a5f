/**
 * Options of video hashing, validated once and resolved into a frozen object: the decode and the
 * hashing read plain fields and never re-check them. The defaults and why each is what it is:
 * docs/video.md.
 */
import { boolean, integerInRange, invalid, nonEmptyString, optionsObject } from '../validate.js';
import { VPDQ_MAX_PARSED_FRAMES } from '../algorithms/vpdq.js';

/**
 * Default seconds between hashed frames: 1, as python-threatexchange's vPDQ signal hashes, so a
 * list hashed by pytx and an upload hashed here sample alike. 0 hashes every frame, as Meta's
 * reference hashes were made.
 */
export const DEFAULT_SECONDS_PER_HASH = 1;

/**
 * Default of `trim`: true. A frame with bars costs a second PDQ of its inside (a frame without
 * any costs a look at its four edges), and the bars of one rendition would otherwise hide it
 * from a list made from another: docs/video.md measures both.
 */
export const DEFAULT_VIDEO_TRIM = true;

/** Largest `secondsPerHash` accepted: one frame an hour says nothing about a video. */
export const MAX_SECONDS_PER_HASH = 3600;

/**
 * Default byte limit: 1 GiB, above a few minutes of 4K phone video (about 350 MB a minute at
 * 45 Mbit/s) and every clip an upload form commonly takes; a path is only read to hash its bytes
 * (streamed, never held), bytes given in memory are already held by the caller.
 */
export const DEFAULT_VIDEO_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * Default longest video: 20 minutes, as the container or the frames count it (frame number over
 * frame rate): beyond nearly every clip a user uploads, and decoding 20 minutes of 1080p30 takes
 * about 3.5 minutes of a core (FFmpeg's H.264 decoder gives ~175 frames a second a core at 1080p:
 * docs/video.md), inside the default timeout with room for a busy machine. A service taking films
 * raises it, and `timeoutSeconds` with it.
 */
export const DEFAULT_VIDEO_MAX_DURATION_SECONDS = 1200;

/**
 * Default most frames hashed: 108,000, every frame of an hour at 30 fps (with `secondsPerHash` 0)
 * or 30 hours at the default one a second: above what the duration limit lets through at common
 * rates, a bound of its own for a stream whose timestamps lie. Each hashed frame costs a PDQ
 * (milliseconds) and about 150 bytes of result.
 */
export const DEFAULT_VIDEO_MAX_FRAMES = VPDQ_MAX_PARSED_FRAMES;

/**
 * Default most pixels a frame may have: 4096 × 2160 (DCI 4K), above UHD phone video. The frame is
 * held as RGB in memory (26 MB at this size) and an 8K frame costs four times the decode; the
 * decoder itself refuses a larger frame met mid-stream (FFmpeg's `-max_pixels`).
 */
export const DEFAULT_VIDEO_MAX_PIXELS = 4096 * 2160;

/**
 * Default wall-clock budget of one call, probe and decode together: 600 s, about three times what
 * a 20-minute 1080p30 clip (the duration limit) takes to decode on one core, so a loaded machine
 * still finishes it; a file that decodes slower than that (absurd frame counts, hostile streams)
 * is stopped: SIGTERM, then SIGKILL, and reaped.
 */
export const DEFAULT_VIDEO_TIMEOUT_SECONDS = 600;

/** Largest frame side `downsampleFrameDimension` accepts (and least: PDQ's 5-pixel minimum). */
export const MAX_DOWNSAMPLE_DIMENSION = 4096;

/** Environment variable naming the `ffmpeg` binary when no `ffmpegPath` is given. */
export const FFMPEG_ENV = 'HASHWARDEN_FFMPEG';
/** Environment variable naming the `ffprobe` binary when no `ffprobePath` is given. */
export const FFPROBE_ENV = 'HASHWARDEN_FFPROBE';

/** Options of `hashVideo`. */
export interface HashVideoOptions {
  /**
   * The `ffmpeg` binary. Default: the `HASHWARDEN_FFMPEG` environment variable, else `ffmpeg` on
   * `PATH`. Absent: `ERR_MISSING_DEPENDENCY`.
   */
  readonly ffmpegPath?: string;
  /**
   * The `ffprobe` binary. Default: `HASHWARDEN_FFPROBE`, else the `ffprobe` beside an `ffmpegPath`
   * (or `HASHWARDEN_FFMPEG`) given as a path, else `ffprobe` on `PATH`.
   */
  readonly ffprobePath?: string;
  /**
   * Seconds between hashed frames, 0–3600: frame `n` is hashed when `n` is a multiple of
   * ⌊secondsPerHash × frame rate⌋ (at least 1), as Meta's reference picks them. 0 hashes every
   * frame. Default 1.
   */
  readonly secondsPerHash?: number;
  /**
   * Scale every frame to this many pixels square before hashing (the reference's
   * `downsampleFrameDimension`, e.g. 128), 5–4096; 0 (default) hashes frames at their own size.
   */
  readonly downsampleFrameDimension?: number;
  /**
   * Also hash each frame inside its black bars (letterbox, pillarbox: a uniform border, found as
   * `hashImage`'s `trim` finds one), in the result's `trimmed`, so that an SD rendition with bars
   * and an HD one without match (docs/video.md, the matching matrix). `frames` stay Meta's
   * whole-frame hashes either way. Default {@link DEFAULT_VIDEO_TRIM}.
   */
  readonly trim?: boolean;
  /** Refuse inputs larger than this many bytes (`ERR_IMAGE_TOO_LARGE`). Default 1 GiB. */
  readonly maxBytes?: number;
  /** Refuse videos longer than this many seconds (`ERR_IMAGE_TOO_LARGE`). Default 1200. */
  readonly maxDurationSeconds?: number;
  /** Refuse videos that would give more hashed frames than this (`ERR_IMAGE_TOO_LARGE`). Default 108,000. */
  readonly maxFrames?: number;
  /** Refuse frames with more pixels than this (`ERR_IMAGE_TOO_LARGE`). Default 4096 × 2160. */
  readonly maxPixels?: number;
  /** Give up after this many seconds, probe and decode together (`ERR_IMAGE_TIMEOUT`). Default 600. */
  readonly timeoutSeconds?: number;
}

/** `HashVideoOptions` after validation, with every default filled in. */
export interface ResolvedVideoOptions {
  /** The `ffmpeg` binary as given (a path or a name looked up on `PATH`). */
  readonly ffmpeg: string;
  /** The `ffprobe` binary. */
  readonly ffprobe: string;
  readonly secondsPerHash: number;
  /** 0: native size. */
  readonly downsampleFrameDimension: number;
  readonly trim: boolean;
  readonly maxBytes: number;
  readonly maxDurationSeconds: number;
  readonly maxFrames: number;
  readonly maxPixels: number;
  readonly timeoutSeconds: number;
}

const resolvedOptions = new WeakSet<object>();

/** `ffprobe` beside `ffmpeg` when that is a path (`/opt/ffmpeg/bin/ffmpeg` → `/opt/ffmpeg/bin/ffprobe`). */
function siblingProbe(ffmpeg: string): string {
  const slash = Math.max(ffmpeg.lastIndexOf('/'), ffmpeg.lastIndexOf('\\'));
  if (slash < 0) return 'ffprobe';
  const name = ffmpeg.slice(slash + 1).replace(/ffmpeg/i, 'ffprobe');
  return `${ffmpeg.slice(0, slash + 1)}${name === ffmpeg.slice(slash + 1) ? 'ffprobe' : name}`;
}

/** A non-negative number (not NaN, not infinite) up to `max`. */
function secondsInRange(value: unknown, max: number, name: string): number {
  const expected = `number between 0 and ${max}`;
  if (typeof value !== 'number' || Number.isNaN(value)) invalid(expected, name, value);
  if (!(value >= 0 && value <= max)) invalid(expected, name, value, true);
  return value;
}

/**
 * Validates `options` once; throws TypeError/RangeError with the standard message. Passing the
 * result back in returns it unchanged, so a batch validates once and hashes many times.
 *
 * @example
 * ```ts
 * const options = resolveVideoOptions({ secondsPerHash: 0, downsampleFrameDimension: 128 });
 * for (const file of files) await hashVideo(file, options);
 * ```
 */
export function resolveVideoOptions(
  options?: HashVideoOptions | ResolvedVideoOptions,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedVideoOptions {
  if (options !== undefined && resolvedOptions.has(options)) return options as ResolvedVideoOptions;
  const o = optionsObject(options as HashVideoOptions | undefined, 'options');
  const fromEnv = (name: string): string | undefined =>
    env[name] === undefined || env[name] === '' ? undefined : env[name];
  const ffmpeg =
    o.ffmpegPath === undefined ? (fromEnv(FFMPEG_ENV) ?? 'ffmpeg') : nonEmptyString(o.ffmpegPath, 'ffmpegPath', 4096);
  const ffprobe =
    o.ffprobePath === undefined
      ? (fromEnv(FFPROBE_ENV) ?? siblingProbe(ffmpeg))
      : nonEmptyString(o.ffprobePath, 'ffprobePath', 4096);
  const downsample =
    o.downsampleFrameDimension === undefined
      ? 0
      : integerInRange(o.downsampleFrameDimension, 0, MAX_DOWNSAMPLE_DIMENSION, 'downsampleFrameDimension');
  if (downsample > 0 && downsample < 5)
    invalid(`0 or integer between 5 and ${MAX_DOWNSAMPLE_DIMENSION}`, 'downsampleFrameDimension', downsample, true);
  const resolved: ResolvedVideoOptions = Object.freeze({
    ffmpeg,
    ffprobe,
    secondsPerHash:
      o.secondsPerHash === undefined
        ? DEFAULT_SECONDS_PER_HASH
        : secondsInRange(o.secondsPerHash, MAX_SECONDS_PER_HASH, 'secondsPerHash'),
    downsampleFrameDimension: downsample,
    trim: o.trim === undefined ? DEFAULT_VIDEO_TRIM : boolean(o.trim, 'trim'),
    maxBytes:
      o.maxBytes === undefined
        ? DEFAULT_VIDEO_MAX_BYTES
        : integerInRange(o.maxBytes, 1, Number.MAX_SAFE_INTEGER, 'maxBytes'),
    maxDurationSeconds:
      o.maxDurationSeconds === undefined
        ? DEFAULT_VIDEO_MAX_DURATION_SECONDS
        : integerInRange(o.maxDurationSeconds, 1, 7 * 24 * 3600, 'maxDurationSeconds'),
    maxFrames:
      o.maxFrames === undefined ? DEFAULT_VIDEO_MAX_FRAMES : integerInRange(o.maxFrames, 1, 10_000_000, 'maxFrames'),
    maxPixels:
      o.maxPixels === undefined ? DEFAULT_VIDEO_MAX_PIXELS : integerInRange(o.maxPixels, 1, 2 ** 31 - 1, 'maxPixels'),
    timeoutSeconds:
      o.timeoutSeconds === undefined
        ? DEFAULT_VIDEO_TIMEOUT_SECONDS
        : integerInRange(o.timeoutSeconds, 1, 7 * 24 * 3600, 'timeoutSeconds'),
  });
  resolvedOptions.add(resolved);
  return resolved;
}
