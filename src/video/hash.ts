/**
 * vPDQ (Meta, facebook/ThreatExchange `vpdq/`): PDQ on the frames of a video sampled every
 * `secondsPerHash`, each with its frame number, quality and timestamp, as the reference's
 * `vpdq-hash-video` computes them — frame `n` kept when `n` is a multiple of
 * ⌊secondsPerHash × average frame rate⌋, converted to RGB24 (optionally scaled square), hashed
 * whole by the project's PDQ (pdqRgbFrame: no 512-pixel reduction, on the frame-hashing thread of
 * frame-pool.ts so the event loop stays free), timestamp `n / frame rate`; with `trim`, each
 * frame also hashed inside its black bars (bars.ts), a second set beside Meta's.
 * The exact hashes (MD5, SHA-256) are of the file's bytes, as for images. FFmpeg decodes
 * (ffmpeg.ts); the pixel maths never sees a file.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { md5, sha256 } from '../algorithms/digests.js';
import { formatHex } from '../algorithms/hex.js';
import { HashwardenError, readError } from '../errors.js';
import { invalid } from '../validate.js';
import { type FramePdqs, pdqFrameHashes } from './bars.js';
import { readProbe, SNIFF_BYTES, sniffContainer, type VideoContainer, type VideoProbe } from './container.js';
import { decodeFrames, probeVideo } from './ffmpeg.js';
import { framePool } from './frame-pool.js';
import { type HashVideoOptions, type ResolvedVideoOptions, resolveVideoOptions } from './options.js';

/**
 * A video: its bytes (copied at call time, then written to an owner-only temporary file for FFmpeg,
 * removed before the call settles), or the path of its file (read by FFmpeg itself).
 */
export type VideoInput = Uint8Array | string;

/** One hashed frame. */
export interface VideoFrameHash {
  /** The frame's number among the decoded frames, from 0. */
  readonly frame: number;
  /** PDQ quality, 0–100; below 50 the frame says too little to be matched. */
  readonly quality: number;
  /** PDQ hash, 64 lower-case hex digits. */
  readonly hash: string;
  /** `frame / frameRate`: when the frame shows, in seconds, as the reference counts it. */
  readonly seconds: number;
}

/** What `hashVideo` returns. */
export interface VideoHashResult {
  /** The hashed frames, in order: whole frames, as Meta's vPDQ hashes them. */
  readonly frames: readonly VideoFrameHash[];
  /**
   * With `trim` (the default), when a frame had black bars (a uniform border): every frame again,
   * hashed inside its bars (a frame without bars as in `frames`), same numbers and timestamps.
   * Absent when no frame had bars. A list entry made here may hold both sets (`listedVpdqFrames`);
   * an upload matches a listed video when either set does (`matchVideoHash`): docs/video.md.
   */
  readonly trimmed?: readonly VideoFrameHash[];
  /** MD5 of the file's bytes, hex. */
  readonly md5: string;
  /** SHA-256 of the file's bytes, hex. */
  readonly sha256: string;
  /** The video stream's frame size. */
  readonly width: number;
  readonly height: number;
  /** The size the frames were hashed at (`downsampleFrameDimension` square, or the frame size). */
  readonly hashedWidth: number;
  readonly hashedHeight: number;
  /** Frames per second (the stream's average frame rate). */
  readonly frameRate: number;
  /** Every how many decoded frames one was hashed: ⌊secondsPerHash × frameRate⌋, at least 1. */
  readonly frameStep: number;
  /** The duration the container declares, in seconds (NaN when it declares none). */
  readonly durationSeconds: number;
  /** The container, as FFmpeg's demuxer is named (`mov` for MP4/MOV, `matroska` for MKV/WebM…). */
  readonly container: VideoContainer;
  /** The video codec, as ffprobe names it. */
  readonly codec: string;
  /** The file's size in bytes. */
  readonly bytes: number;
}

/** Longest frame side hashed: the most PDQ takes, and above what the allowed decoders write (MJPEG: 65,535). */
const MAX_FRAME_SIDE = 2 ** 16;

/**
 * Frames handed to the frame-hashing thread and not yet hashed before FFmpeg's pipe is paused: 2,
 * one hashed while the next is read, so neither side waits for the other when they keep pace;
 * more would only hold more frames (6 MB each at 1080p) when the hasher falls behind.
 */
const FRAMES_IN_FLIGHT = 2;

/** The first bytes of a file, for the container sniff. */
async function head(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = new Uint8Array(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The exact hashes of a video's bytes. */
interface Digests {
  readonly md5: string;
  readonly sha256: string;
}

/**
 * MD5 and SHA-256 of a file, streamed: a video is never held in memory to be hashed. `signal`
 * stops the read when the call fails before the digests are needed.
 */
async function digestFile(path: string, signal: AbortSignal): Promise<Digests> {
  const [m, s] = [md5.incremental(), sha256.incremental()];
  for await (const chunk of createReadStream(path, { signal })) {
    m.update(chunk as Buffer);
    s.update(chunk as Buffer);
  }
  return { md5: formatHex(m.digest()), sha256: formatHex(s.digest()) };
}

function tooLarge(message: string): HashwardenError {
  return new HashwardenError('ERR_IMAGE_TOO_LARGE', message);
}

/** The file FFmpeg reads, and how to let go of it. */
interface Staged {
  /** How messages name the video: its path, or "The input" for bytes. */
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  readonly container: VideoContainer;
  /**
   * Starts the exact hashes, called once the probe's process is started so the two overlap (the
   * process start alone is about 0.13 s, the digests of a 40 MB file about 0.1 s: docs/video.md).
   * A file's are streamed beside the probe and the decode, and stop when `signal` aborts.
   */
  digest(signal: AbortSignal): Promise<Digests>;
  release(): Promise<void>;
}

/**
 * Checks the input's size and container (its exact hashes are taken later: {@link Staged.digest}); bytes are written to a
 * temporary file (mode 0600, in a 0700 directory of `os.tmpdir()`) because an MP4 whose index
 * (`moov`) follows its data cannot be read from a pipe: FFmpeg must seek back (docs/video.md).
 */
async function stage(input: Uint8Array | string, options: ResolvedVideoOptions): Promise<Staged> {
  const name = typeof input === 'string' ? input : 'The input';
  let size: number;
  let first: Uint8Array;
  if (typeof input === 'string') {
    try {
      const info = await stat(input);
      if (!info.isFile()) throw new Error('not a regular file');
      size = info.size;
      if (size > options.maxBytes) throw tooLarge(`${input} has ${size} bytes, above the limit of ${options.maxBytes}`);
      first = await head(input);
    } catch (error) {
      throw error instanceof HashwardenError ? error : readError(input, error);
    }
  } else {
    size = input.length;
    first = input.subarray(0, SNIFF_BYTES);
  }
  if (size === 0) throw new HashwardenError('ERR_UNSUPPORTED_FORMAT', `${name} is empty`);
  const container = sniffContainer(first);
  if (container === undefined)
    throw new HashwardenError(
      'ERR_UNSUPPORTED_FORMAT',
      `${name} is not a video hashwarden reads (MP4/MOV, Matroska/WebM, AVI, MPEG-TS, FLV, ASF/WMV)`,
    );
  if (typeof input === 'string') {
    const path = input;
    const digest = (signal: AbortSignal): Promise<Digests> =>
      digestFile(path, signal).catch((error: unknown) => {
        throw readError(path, error);
      });
    return { name, path, bytes: size, container, digest, release: async () => {} };
  }
  const bytes = input;
  const digest = async (): Promise<Digests> => ({
    md5: formatHex(md5.digest(bytes)),
    sha256: formatHex(sha256.digest(bytes)),
  });
  const unstaged = (error: unknown): HashwardenError =>
    new HashwardenError('ERR_INPUT_READ', `Cannot stage the video for FFmpeg: ${(error as Error).message}`, {
      cause: error,
    });
  let dir: string;
  try {
    dir = await mkdtemp(join(tmpdir(), 'hashwarden-video-'));
  } catch (error) {
    throw unstaged(error);
  }
  const release = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const path = join(dir, 'input');
    await writeFile(path, input, { mode: 0o600, flag: 'wx' });
    return { name, path, bytes: size, container, digest, release };
  } catch (error) {
    await release();
    throw unstaged(error);
  }
}

/**
 * Hashes a video with vPDQ: the PDQ hash, quality, frame number and timestamp of every frame kept
 * at `secondsPerHash` (default 1; 0: every frame), optionally scaled to `downsampleFrameDimension`
 * square first; with `trim` (default) the same frames inside their black bars too, in `trimmed`
 * when a frame had bars; and the MD5 and SHA-256 of its bytes. Needs FFmpeg (`ffmpeg` and `ffprobe`).
 * Rejects with a `HashwardenError`: `ERR_MISSING_DEPENDENCY` (no FFmpeg), `ERR_INPUT_READ`,
 * `ERR_UNSUPPORTED_FORMAT` (empty, not a container of the list, no video stream, a codec not
 * allowed), `ERR_IMAGE_TOO_LARGE` (bytes, duration, frames, pixels), `ERR_IMAGE_DECODE` (truncated,
 * corrupt, FFmpeg reported an error), `ERR_IMAGE_TIMEOUT` or `ERR_HASH_THREAD` (the thread hashing
 * the frames died: retry). Treat any of them on an upload as
 * "cannot be checked", not as "clean".
 *
 * @param input the video's bytes (copied at call time; written to an owner-only temporary file,
 *   removed before the call settles) or its path (read by FFmpeg; its bytes are hashed meanwhile, so
 *   a file changed during the call can give exact and frame hashes of different contents)
 * @example
 * ```ts
 * import { hashVideo, formatVpdqLines } from 'hashwarden/video';
 * const video = await hashVideo('clip.mp4', { secondsPerHash: 1 });
 * process.stdout.write(formatVpdqLines(video.frames));
 * ```
 */
export async function hashVideo(
  input: VideoInput,
  options?: HashVideoOptions | ResolvedVideoOptions,
): Promise<VideoHashResult> {
  const resolved = resolveVideoOptions(options);
  if (typeof input === 'string') {
    if (input.length === 0) invalid('Uint8Array or file path', 'input', input);
  } else if (input instanceof Uint8Array) {
    if (input.length > resolved.maxBytes)
      throw tooLarge(`The input has ${input.length} bytes, above the limit of ${resolved.maxBytes}`);
    // Copied before the first await: bytes the caller changes after the call are not what it hashes.
    input = new Uint8Array(input);
  } else invalid('Uint8Array or file path', 'input', input);
  const deadline = Date.now() + resolved.timeoutSeconds * 1000;
  const staged = await stage(input, resolved);
  try {
    return await hashStaged(staged, resolved, deadline);
  } finally {
    await staged.release();
  }
}

/**
 * Probes, checks the limits, decodes and hashes a staged video, its exact hashes taken meanwhile:
 * they feed no check, so nothing waits for them but the result.
 */
async function hashStaged(staged: Staged, o: ResolvedVideoOptions, deadline: number): Promise<VideoHashResult> {
  // Spawned first (synchronously, inside probeVideo), so the digests run while ffprobe starts.
  const probing = probeVideo(o.ffprobe, staged.path, staged.container, {
    maxPixels: o.maxPixels,
    deadline,
    timeoutSeconds: o.timeoutSeconds,
  });
  const reading = new AbortController();
  const digests = staged.digest(reading.signal);
  // Handled now, awaited later: a read failure during the decode is not an unhandled rejection.
  digests.catch(() => {});
  try {
    const { frames, trimmed, codec, ...described } = await probeAndDecode(staged, o, deadline, probing);
    // The fields in the order they always came (and are documented in).
    return {
      frames,
      ...(trimmed === undefined ? {} : { trimmed }),
      ...(await digests),
      ...described,
      container: staged.container,
      codec,
      bytes: staged.bytes,
    };
  } finally {
    // A failed call stops the read and waits for it: nothing reads the file after the call settles.
    reading.abort();
    await digests.catch(() => {});
  }
}

/** The result but for what {@link hashStaged} adds: the exact hashes, the container, the size. */
type Decoded = Omit<VideoHashResult, 'md5' | 'sha256' | 'container' | 'bytes'>;

/** A probe that passed the checks, and how its frames are sampled and sized. */
interface Checked {
  readonly probe: VideoProbe;
  readonly frameStep: number;
  readonly hashedWidth: number;
  readonly hashedHeight: number;
}

/** The limits a probed video must stay within before a frame of it is decoded. */
function check(probe: VideoProbe, o: ResolvedVideoOptions): Checked {
  const { width, height, frameRate } = probe;
  if (width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE)
    throw tooLarge(`The video's frames are ${width} × ${height}, a side above ${MAX_FRAME_SIDE} pixels`);
  if (width * height > o.maxPixels)
    throw tooLarge(`The video's frames are ${width} × ${height}, above the limit of ${o.maxPixels} pixels`);
  if (probe.durationSeconds > o.maxDurationSeconds)
    throw tooLarge(`The video lasts ${probe.durationSeconds} s, above the limit of ${o.maxDurationSeconds} s`);
  // The reference's frameMod: the product truncated, and at least 1 (0 seconds: every frame).
  const frameStep = Math.max(1, Math.trunc(o.secondsPerHash * frameRate));
  const expected = Math.ceil((probe.durationSeconds * frameRate) / frameStep);
  if (expected > o.maxFrames)
    throw tooLarge(`The video would give about ${expected} hashed frames, above the limit of ${o.maxFrames}`);
  const side = o.downsampleFrameDimension;
  return { probe, frameStep, hashedWidth: side === 0 ? width : side, hashedHeight: side === 0 ? height : side };
}

/**
 * Checks the probe against the limits and decodes and hashes the frames. FFmpeg is started at
 * once, beside ffprobe (a process start alone is about 0.13 s: docs/video.md), and decodes
 * nothing until the checks have passed; when they fail it is stopped, and their error is the
 * call's even if FFmpeg failed first (an audio-only file: its `0:V:0` matches nothing).
 */
async function probeAndDecode(
  staged: Staged,
  o: ResolvedVideoOptions,
  deadline: number,
  probing: Promise<string>,
): Promise<Decoded> {
  const checked = probing.then((json) => check(readProbe(json, staged.name), o));
  checked.catch(() => {});
  let plan: Checked | undefined;
  const frames: VideoFrameHash[] = [];
  const trimmed: VideoFrameHash[] = [];
  let barred = false;
  const pool = framePool();
  const decoding = decodeFrames(
    o.ffmpeg,
    staged.path,
    staged.container,
    {
      maxOutputFrames: o.maxFrames + 1,
      maxPixels: o.maxPixels,
      deadline,
      timeoutSeconds: o.timeoutSeconds,
      framesInFlight: FRAMES_IN_FLIGHT,
    },
    checked.then((passed) => {
      plan = passed;
      return { frameStep: passed.frameStep, width: passed.hashedWidth, height: passed.hashedHeight };
    }),
    (rgb, index) => {
      // Set before FFmpeg is given its filters, so before any frame.
      const { frameStep, hashedWidth, hashedHeight, probe } = plan as Checked;
      if (index >= o.maxFrames) throw tooLarge(`The video gives more than ${o.maxFrames} hashed frames`);
      const frame = index * frameStep;
      const seconds = frame / probe.frameRate;
      if (seconds > o.maxDurationSeconds)
        throw tooLarge(`The video runs past ${o.maxDurationSeconds} s (frame ${frame} at ${probe.frameRate} fps)`);
      const record = ({ hash, quality, trimmed: inside }: FramePdqs): void => {
        frames[index] = { frame, quality, hash, seconds };
        trimmed[index] = inside === undefined ? (frames[index] as VideoFrameHash) : { frame, ...inside, seconds };
        if (inside !== undefined) barred = true;
      };
      if (pool === undefined) return record(pdqFrameHashes(rgb, hashedWidth, hashedHeight, o.trim));
      // Settled out of order or not, each frame lands at its index: the result is in frame order.
      return pool.hash(rgb, hashedWidth, hashedHeight, o.trim).then(record);
    },
  );
  try {
    await decoding;
  } catch (error) {
    // The checks' error first: FFmpeg may have refused the file before ffprobe described it.
    await checked;
    throw error;
  }
  const { probe, frameStep, hashedWidth, hashedHeight } = await checked;
  const { width, height, frameRate } = probe;
  if (frames.length === 0) throw new HashwardenError('ERR_IMAGE_DECODE', 'FFmpeg decoded no frame of the video');
  return {
    frames,
    ...(barred ? { trimmed } : {}),
    width,
    height,
    hashedWidth,
    hashedHeight,
    frameRate,
    frameStep,
    durationSeconds: probe.durationSeconds,
    codec: probe.codec,
  };
}
