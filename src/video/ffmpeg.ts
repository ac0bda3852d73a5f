/**
 * The one place hashwarden starts FFmpeg (`ffprobe` to describe a video, `ffmpeg` to decode it):
 * no other file of the package spawns a process. Both run without a shell, with no standard input,
 * an environment holding only `PATH` (so no `FFREPORT` log file, no proxy), reading the one file
 * they are given through the `file` protocol alone, with the container named (`-f`, chosen by
 * container.ts from the bytes) and the allowed demuxers and decoders listed; the decode's frames
 * come back as raw RGB24 on a pipe, never through a file. Each run has the call's deadline: past
 * it the process gets SIGTERM, then SIGKILL after {@link KILL_GRACE_MS}, and is waited for (never
 * left a zombie). What either prints on standard error is kept, bounded, for the error message.
 * The flags and why each is there: docs/video.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { type ErrorCode, HashwardenError } from '../errors.js';
import {
  COMPANION_DECODERS,
  VIDEO_CONTAINERS,
  VIDEO_DECODERS,
  type VideoContainer,
  type VideoProbe,
} from './container.js';

/** How long FFmpeg has to exit after SIGTERM before SIGKILL: it flushes nothing worth waiting for. */
export const KILL_GRACE_MS = 1000;

/** Most bytes of standard error kept for a message: FFmpeg's first complaints say what went wrong. */
export const MAX_STDERR_BYTES = 4096;

/** Most bytes of ffprobe's JSON read: a description of a few streams is a few kilobytes. */
export const MAX_PROBE_BYTES = 1024 * 1024;

/**
 * The libswscale flags of the conversion to RGB24 (and of the scaling, when asked): the ones
 * Meta's published vPDQ hashes were made with. `lanczos`: the sample hashes at 128 × 128 match
 * Lanczos exactly (area, which today's reference names, lands about 5 bits away on average, bicubic
 * 2.6); `accurate_rnd`: at the native size, without it x86's SIMD YUV → RGB path rounds
 * differently from the portable one the hashes came from (up to 22 bits on a faded frame).
 * The measurements: docs/video.md.
 */
export const SWS_FLAGS = 'lanczos+accurate_rnd';

/** The input options every run shares: what FFmpeg may open, read and decode. */
function inputArgs(container: VideoContainer, maxPixels: number, path: string): string[] {
  return [
    '-protocol_whitelist',
    'file',
    '-format_whitelist',
    VIDEO_CONTAINERS.join(','),
    '-codec_whitelist',
    [...VIDEO_DECODERS, ...COMPANION_DECODERS].join(','),
    // The decoder refuses a frame far above the limit, met mid-stream after the probe saw a small
    // one. Twice the limit: its buffers are aligned larger than the frame (160 × 120 H.264 asks
    // for 192 × 120), and the exact check is hash.ts's, on the probed size.
    '-max_pixels',
    String(Math.min(2 * maxPixels, 2 ** 31 - 1)),
    '-f',
    container,
    // `file:` keeps a path that starts with `-` or names a protocol (`http:…`) a plain file path.
    '-i',
    `file:${path}`,
  ];
}

/** What a finished run left: its exit, standard error (bounded) and whether the deadline stopped it. */
interface RunEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** What a reader of standard output may do with the pipe while the run goes on. */
interface RunControl {
  /** Stops reading standard output: FFmpeg blocks on the full pipe until {@link RunControl.resume}. */
  pause(): void;
  resume(): void;
  /** Stops the process; the run rejects with `error` (the first one given). */
  fail(error: unknown): void;
}

/** How one run is watched. */
interface RunOptions {
  /** Absolute time (ms since the epoch) past which the process is stopped. */
  readonly deadline: number;
  /** Each chunk of standard output; a throw stops the process and becomes the run's error. */
  readonly onStdout: (chunk: Buffer, control: RunControl) => void;
  /**
   * Text written to the process's descriptor 3 (a pipe) once it settles: FFmpeg reads its filter
   * script there (`-filter_script:v pipe:3`) while its start and the demuxer's probing go on. A
   * rejection stops the process and becomes the run's error.
   */
  readonly script?: Promise<string>;
}

function missing(binary: string, error: unknown): HashwardenError {
  return new HashwardenError(
    'ERR_MISSING_DEPENDENCY',
    `${binary} was not found: video hashing needs FFmpeg (Debian/Ubuntu: apt-get install ffmpeg; ` +
      'macOS: brew install ffmpeg), or give its binary with the ffmpegPath option or the HASHWARDEN_FFMPEG ' +
      'environment variable (ffprobe: ffprobePath, HASHWARDEN_FFPROBE)',
    { cause: error },
  );
}

/** Stops `child`: SIGTERM now, SIGKILL if it has not exited after the grace. */
function stop(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, KILL_GRACE_MS);
  killer.unref();
  child.once('exit', () => clearTimeout(killer));
}

/**
 * Runs `binary` with `args` and resolves when it has exited and its pipes have closed: the process
 * is reaped before the promise settles, whatever happens. Rejects with `ERR_MISSING_DEPENDENCY`
 * when the binary cannot be started, and with what `onStdout` threw (after stopping the process).
 */
function run(binary: string, args: readonly string[], options: RunOptions): Promise<RunEnd> {
  return new Promise<RunEnd>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(binary, args, {
        stdio: options.script === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '' },
        shell: false,
        windowsHide: true,
      });
    } catch (error) {
      reject(missing(binary, error));
      return;
    }
    let stderr = '';
    let failure: unknown;
    let timedOut = false;
    let started = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        // Drained, so a paused pipe cannot hold the run open past the process.
        child.stdout?.resume();
        stop(child);
      },
      Math.max(0, options.deadline - Date.now()),
    );
    child.once('spawn', () => {
      started = true;
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_STDERR_BYTES) stderr += chunk.toString('utf8', 0, MAX_STDERR_BYTES - stderr.length);
    });
    const control: RunControl = {
      pause: () => child.stdout?.pause(),
      resume: () => child.stdout?.resume(),
      fail: (error) => {
        failure ??= error;
        // A paused pipe would hold FFmpeg blocked until SIGKILL: drained, it exits on SIGTERM.
        child.stdout?.resume();
        stop(child);
      },
    };
    const script = child.stdio[3] as Writable | null | undefined;
    if (options.script !== undefined && script) {
      // EPIPE when FFmpeg has already exited (a file it refused): its exit and words say why.
      script.on('error', () => {});
      options.script.then(
        (text) => script.end(text),
        (error: unknown) => {
          script.destroy();
          control.fail(error);
        },
      );
    }
    child.stdout?.on('data', (chunk: Buffer) => {
      if (failure !== undefined) return;
      try {
        options.onStdout(chunk, control);
      } catch (error) {
        control.fail(error);
      }
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      // Not started (ENOENT, EACCES): no process to reap, and 'close' may not follow.
      if (!started) {
        clearTimeout(timer);
        reject(error.code === 'ENOENT' || error.code === 'EACCES' ? missing(binary, error) : error);
      } else failure ??= error;
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (!started) return;
      if (failure !== undefined) reject(failure);
      else resolve({ code, signal, stderr: stderr.trim(), timedOut });
    });
  });
}

/** What FFmpeg's decoder says when a frame is above `-max_pixels`. */
const PIXEL_LIMIT_MESSAGE = 'exceeds specified max pixel count';

/**
 * The code of a failed run: a frame above the pixel limit is `ERR_IMAGE_TOO_LARGE`, an FFmpeg
 * older than 5.1 `ERR_MISSING_DEPENDENCY` (FFmpeg's words say which option it lacks), a decoder
 * outside the lists (the file is well formed, hashwarden does not open it) `ERR_UNSUPPORTED_FORMAT`,
 * anything else `ERR_IMAGE_DECODE`.
 */
function failureCode(stderr: string): ErrorCode {
  if (stderr.includes(PIXEL_LIMIT_MESSAGE)) return 'ERR_IMAGE_TOO_LARGE';
  // FFmpeg before 5.1 has no -fps_mode: the program is there, but not one hashwarden can use.
  if (stderr.includes("Unrecognized option 'fps_mode'")) return 'ERR_MISSING_DEPENDENCY';
  return stderr.includes('not on whitelist') ? 'ERR_UNSUPPORTED_FORMAT' : 'ERR_IMAGE_DECODE';
}

/**
 * The message's tail: what FFmpeg said, on one line, or that it said nothing. Its words can quote
 * the file (a title, a codec tag), so control characters become `?`: a message is logged and
 * printed, and must not carry escapes or forged lines.
 */
function said(stderr: string): string {
  return stderr === ''
    ? 'no message'
    : stderr.replace(/\s*\n\s*/g, ' | ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function timeout(seconds: number): HashwardenError {
  return new HashwardenError('ERR_IMAGE_TIMEOUT', `The video was not decoded within ${seconds} s: FFmpeg was stopped`);
}

/**
 * ffprobe's description of the video at `path` (JSON text): the container's duration, each
 * stream's kind, codec, size, frame rates, duration and whether it is an attached picture.
 * `ERR_IMAGE_DECODE` when ffprobe fails (the bytes looked like `container` but it cannot read
 * them: truncated, corrupt), with what it said; `ERR_UNSUPPORTED_FORMAT` for a stream whose
 * decoder is not allowed; `ERR_IMAGE_TOO_LARGE` for a frame far above `maxPixels`.
 */
export async function probeVideo(
  ffprobe: string,
  path: string,
  container: VideoContainer,
  limits: { readonly maxPixels: number; readonly deadline: number; readonly timeoutSeconds: number },
): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    ...inputArgs(container, limits.maxPixels, path).slice(0, -2),
    '-show_entries',
    'format=duration:stream=index,codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,duration:' +
      'stream_disposition=attached_pic',
    '-of',
    'json',
    `file:${path}`,
  ];
  const end = await run(ffprobe, args, {
    deadline: limits.deadline,
    onStdout: (chunk) => {
      bytes += chunk.length;
      if (bytes > MAX_PROBE_BYTES)
        throw new HashwardenError(
          'ERR_IMAGE_DECODE',
          `ffprobe described the video in more than ${MAX_PROBE_BYTES} bytes`,
        );
      chunks.push(chunk);
    },
  });
  if (end.timedOut) throw timeout(limits.timeoutSeconds);
  // A frame above the limit is reported and described as 0 × 0 while ffprobe exits 0: too large,
  // not "no frame size".
  if (end.code !== 0 || end.stderr.includes(PIXEL_LIMIT_MESSAGE))
    throw new HashwardenError(
      failureCode(end.stderr),
      `ffprobe cannot read the ${container} video: ${said(end.stderr)}`,
    );
  return Buffer.concat(chunks).toString('utf8');
}

/** How the decode samples and sizes frames. */
export interface DecodePlan {
  /** Every `frameStep`-th decoded frame is kept, from frame 0. */
  readonly frameStep: number;
  /** The size frames are delivered at. */
  readonly width: number;
  readonly height: number;
  /** FFmpeg stops after this many kept frames (one more than the limit: so a video above it is seen). */
  readonly maxOutputFrames: number;
  /** The pixel limit a frame must stay within (the decoder stops one above twice it). */
  readonly maxPixels: number;
  /** Absolute time (ms since the epoch) past which FFmpeg is stopped. */
  readonly deadline: number;
  /** The call's timeout, for the message. */
  readonly timeoutSeconds: number;
  /**
   * Most frames whose `onFrame` promise is pending before the pipe is paused (FFmpeg then blocks
   * on it): with the frames from one chunk of the pipe, what bounds the frames held in memory.
   */
  readonly framesInFlight: number;
}

/** The decode's filters: every `frameStep`-th decoded frame kept, scaled, converted to RGB24. */
export function decodeFilters(plan: Pick<DecodePlan, 'frameStep' | 'width' | 'height'>): string {
  return [
    ...(plan.frameStep > 1 ? [`select='not(mod(n,${plan.frameStep}))'`] : []),
    `scale=${plan.width}:${plan.height}:flags=${SWS_FLAGS}`,
    'format=rgb24',
  ].join(',');
}

/** A decode's command line around how its stream and filters are given. */
function commandLine(
  path: string,
  container: VideoContainer,
  streamAndFilters: readonly string[],
  plan: Pick<DecodePlan, 'maxOutputFrames' | 'maxPixels'>,
): string[] {
  return [
    '-nostdin',
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'error',
    // Frames as stored, as the reference hashes them: a rotation in the metadata would otherwise
    // turn each frame and scale it back to the stored size, squashed (docs/video.md).
    '-noautorotate',
    ...inputArgs(container, plan.maxPixels, path),
    ...streamAndFilters,
    // Every selected frame once, none duplicated or dropped to fit a rate.
    '-fps_mode',
    'passthrough',
    '-frames:v',
    String(plan.maxOutputFrames),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
}

/** What the decode needs of the probe: known once hash.ts's checks have passed. */
export type DecodeSampling = Pick<DecodePlan, 'frameStep' | 'width' | 'height'>;

/** What the decode is given before the probe has answered. */
export type DecodeLimits = Omit<DecodePlan, keyof DecodeSampling>;

/**
 * The decode's command line (after the binary) with everything known: the stream at `path` to
 * RGB24 frames on standard output, every `plan.frameStep`-th kept, at `plan.width × plan.height`.
 * Exported for the speed bench, which times FFmpeg alone on it: the same decode as
 * {@link decodeFrames}'s, whose filters come later on descriptor 3.
 */
export function decodeArgs(
  path: string,
  container: VideoContainer,
  probe: Pick<VideoProbe, 'stream'>,
  plan: Pick<DecodePlan, 'frameStep' | 'width' | 'height' | 'maxOutputFrames' | 'maxPixels'>,
): string[] {
  return commandLine(path, container, ['-map', `0:${probe.stream}`, '-vf', decodeFilters(plan)], plan);
}

/**
 * The decode's command line started before the probe has answered: the stream is the first video
 * stream that is not an attached picture (`0:V:0`, the very rule of container.ts's `readProbe`),
 * and the filters, which need the probe's frame rate and size, are read from descriptor 3. FFmpeg
 * reads them when it sets up its output, after opening the input and before decoding a frame, so
 * it loads its libraries and probes the container while ffprobe runs, and decodes nothing until
 * hash.ts's checks have passed.
 */
function earlyDecodeArgs(
  path: string,
  container: VideoContainer,
  plan: Pick<DecodePlan, 'maxOutputFrames' | 'maxPixels'>,
): string[] {
  return commandLine(path, container, ['-map', '0:V:0', '-filter_script:v', 'pipe:3'], plan);
}

/**
 * Decodes the video at `path`, its first video stream that is not an attached picture, keeping
 * every `sampling.frameStep`-th frame (FFmpeg's `select` on the decoded frame count, the
 * reference's rule), converted to RGB24 at `sampling.width × sampling.height`. FFmpeg starts at
 * once and decodes nothing until `sampling` settles (the probe's checks, run meanwhile); a
 * rejection of `sampling` stops it and rejects with that error. Each frame is given to `onFrame` as it completes, with its index
 * among the kept frames (a buffer of its own, the callee's to keep or transfer). `onFrame` may
 * return a promise: while `plan.framesInFlight` are pending the pipe is paused, so FFmpeg waits
 * for a slow hasher instead of filling memory; the call settles after every one has. A throw from
 * `onFrame`, or a rejection, stops FFmpeg and rejects with it. `ERR_IMAGE_TIMEOUT` past the deadline; `ERR_IMAGE_TOO_LARGE` for a
 * frame the decoder finds above twice `maxPixels`; `ERR_IMAGE_DECODE` when
 * FFmpeg exits with an error or reports one (a truncated or corrupt stream decodes in part and
 * says so: refused, so a damaged copy cannot pass with a hash of half its frames), or leaves a
 * partial frame.
 */
export async function decodeFrames(
  ffmpeg: string,
  path: string,
  container: VideoContainer,
  plan: DecodeLimits,
  sampling: DecodeSampling | Promise<DecodeSampling>,
  onFrame: (rgb: Uint8Array, index: number) => void | Promise<void>,
): Promise<number> {
  const args = earlyDecodeArgs(path, container, plan);
  let frameBytes = 0;
  let frame = new Uint8Array(0);
  const script = Promise.resolve(sampling).then((size) => {
    frameBytes = size.width * size.height * 3;
    frame = new Uint8Array(frameBytes);
    return decodeFilters(size);
  });
  // Handled here too: a binary that cannot be started rejects the run before it reads the script.
  script.catch(() => {});
  let filled = 0;
  let index = 0;
  const pending: Promise<void>[] = [];
  let inFlight = 0;
  let failed: unknown;
  const end = await run(ffmpeg, args, {
    deadline: plan.deadline,
    script,
    onStdout: (chunk, control) => {
      if (frameBytes === 0) throw new HashwardenError('ERR_IMAGE_DECODE', 'FFmpeg wrote frames before its filters');
      let at = 0;
      while (at < chunk.length) {
        const take = Math.min(frameBytes - filled, chunk.length - at);
        frame.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled !== frameBytes) continue;
        const done = onFrame(frame, index++);
        filled = 0;
        frame = new Uint8Array(frameBytes);
        if (done === undefined) continue;
        inFlight++;
        if (inFlight >= plan.framesInFlight) control.pause();
        pending.push(
          done.then(
            () => {
              inFlight--;
              if (inFlight < plan.framesInFlight) control.resume();
            },
            (error: unknown) => {
              failed ??= error;
              control.fail(error);
            },
          ),
        );
      }
    },
  });
  // Every frame's hash, or the first failure (a rejection also stopped FFmpeg, ending the run).
  await Promise.all(pending);
  if (failed !== undefined) throw failed;
  if (end.timedOut) throw timeout(plan.timeoutSeconds);
  if (end.code !== 0 || end.stderr !== '')
    throw new HashwardenError(
      failureCode(end.stderr),
      `FFmpeg could not decode the video${end.code === 0 ? '' : ` (exit ${end.code ?? end.signal})`}: ${said(end.stderr)}`,
    );
  if (filled !== 0) throw new HashwardenError('ERR_IMAGE_DECODE', 'FFmpeg ended in the middle of a frame');
  return index;
}
