/**
 * Videos in `hashwarden hash` and `hashwarden match`: which files are videos (the video entry's
 * container sniff of their first bytes, never their names, as `hashVideo` decides), the video
 * options both commands take, and what a `hash` line says of a video's vPDQ hash. Everything
 * video comes through the public `hashwarden/video` entry, loaded only by these two commands.
 */
import { open, stat } from 'node:fs/promises';
import type { HashVideoOptions, VideoFrameHash } from '../video/index.js';
import { usage } from './command.js';

/** The `hashwarden/video` entry. */
export type VideoModule = typeof import('../video/index.js');

/** Loads `hashwarden/video`: no native module, nothing started (FFmpeg runs per video). */
export function loadVideo(): Promise<VideoModule> {
  return import('../video/index.js');
}

/** The hashes a video has in `hash` output: its exact digests (as `hashVideo` takes them) and vPDQ. */
export const VIDEO_HASHES = ['md5', 'sha256', 'vpdq'] as const;

/** Options of both commands for videos, in node:util parseArgs' shape. */
export const VIDEO_OPTIONS = {
  'seconds-per-hash': { type: 'string' },
  downsample: { type: 'string' },
  ffmpeg: { type: 'string' },
  ffprobe: { type: 'string' },
  'max-duration': { type: 'string' },
  'video-timeout': { type: 'string' },
} as const;

/** Help lines of {@link VIDEO_OPTIONS}, aligned at `column`. */
export function videoOptionsHelp(column: number): string {
  const row = (flag: string, text: string): string => `  ${flag.padEnd(column - 2)}${text}`;
  const more = ' '.repeat(column);
  return [
    row('--seconds-per-hash N', 'a video: hash one frame every N seconds (default 1, as'),
    `${more}python-threatexchange; 0: every frame, as Meta's sample hashes)`,
    row('--downsample N', "a video: scale frames to N × N before hashing (128: Meta's"),
    `${more}128 × 128 sample hashes; default: their own size)`,
    row('--ffmpeg PATH', 'the ffmpeg binary (default: $HASHWARDEN_FFMPEG, else on PATH)'),
    row('--ffprobe PATH', 'the ffprobe binary (default: $HASHWARDEN_FFPROBE, else beside'),
    `${more}--ffmpeg, else on PATH)`,
    row('--max-duration N', 'a video longer than N seconds is refused (ERR_IMAGE_TOO_LARGE)'),
    `${more}before it is decoded (default 1200: 20 minutes)`,
    row('--video-timeout N', 'a video not hashed within N seconds is stopped, FFmpeg killed'),
    `${more}(ERR_IMAGE_TIMEOUT; default 600)`,
  ].join('\n');
}

/** A decimal option value as a number; anything else goes on as text, so the usage error quotes it. */
function decimalArgument(value: string): number {
  return (/^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value) as number;
}

/**
 * The video options given, as `hashVideo` and `matchVideo` take them, checked once by
 * `resolveVideoOptions`: a bad one is a usage error, before any file.
 */
export function resolveVideoArguments(video: VideoModule, values: Readonly<Record<string, unknown>>): HashVideoOptions {
  const text = (name: keyof typeof VIDEO_OPTIONS): string | undefined => values[name] as string | undefined;
  const seconds = text('seconds-per-hash');
  const downsample = text('downsample');
  const ffmpeg = text('ffmpeg');
  const ffprobe = text('ffprobe');
  const duration = text('max-duration');
  const timeout = text('video-timeout');
  const options: HashVideoOptions = {
    ...(duration === undefined ? {} : { maxDurationSeconds: decimalArgument(duration) }),
    ...(timeout === undefined ? {} : { timeoutSeconds: decimalArgument(timeout) }),
    ...(seconds === undefined ? {} : { secondsPerHash: decimalArgument(seconds) }),
    ...(downsample === undefined ? {} : { downsampleFrameDimension: decimalArgument(downsample) }),
    ...(ffmpeg === undefined ? {} : { ffmpegPath: ffmpeg }),
    ...(ffprobe === undefined ? {} : { ffprobePath: ffprobe }),
  };
  usage(() => video.resolveVideoOptions(options));
  return options;
}

/**
 * True when the file's first bytes are a container `hashwarden/video` reads. False when they are
 * not, and when it is no regular file or cannot be read: the image path then reports it as it
 * always has (`ERR_INPUT_READ`), so a missing file reads the same whatever it was meant to be.
 */
export async function isVideoFile(video: VideoModule, file: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // Only a regular file is opened: opening a FIFO would wait for a writer.
    if (!(await stat(file)).isFile()) return false;
    handle = await open(file, 'r');
  } catch {
    return false;
  }
  try {
    const head = new Uint8Array(video.VIDEO_SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return video.sniffVideoContainer(head.subarray(0, bytesRead)) !== undefined;
  } catch {
    return false;
  } finally {
    await handle.close();
  }
}

/** How many frames a matcher would use: those of PDQ quality 50 or more (pytx's rule). */
export function usableFrames(video: VideoModule, frames: readonly VideoFrameHash[]): number {
  return frames.filter((f) => f.quality >= video.VPDQ_QUALITY_THRESHOLD).length;
}

/**
 * Why a video's frames cannot be matched, or undefined when they can: no frame of quality 50 or
 * more (a matcher drops the others, so nothing is left to match). Said the way a PDQ hash's low
 * quality is.
 */
export function noUsableFrame(video: VideoModule, frames: readonly VideoFrameHash[]): string | undefined {
  return usableFrames(video, frames) === 0
    ? `vPDQ: all ${frames.length} frames have PDQ quality below ${video.VPDQ_QUALITY_THRESHOLD}`
    : undefined;
}

/**
 * Why a video's vPDQ hash would not be matched with as a list entry, or undefined when it would:
 * no usable frame ({@link noUsableFrame}), or more frames than a list entry holds (`import`
 * refuses the entry; its signal text stays under the byte limit below that many frames).
 * `listed`: the frames its list entry holds, the whole frames and those inside the bars
 * (`listedVpdqFrames`).
 */
export function vpdqUnusable(
  video: VideoModule,
  frames: readonly VideoFrameHash[],
  listed: number = frames.length,
): string | undefined {
  const none = noUsableFrame(video, frames);
  if (none !== undefined) return none;
  if (listed > video.MAX_VPDQ_ENTRY_FRAMES)
    return `vPDQ: ${listed} frames with those inside the bars, above the ${video.MAX_VPDQ_ENTRY_FRAMES} a list entry holds`;
  return undefined;
}
