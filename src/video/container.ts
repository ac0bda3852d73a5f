/**
 * Which containers and codecs a video may use, decided before FFmpeg sees the file: the first
 * bytes name the container (ISO/IEC 14496-12 `ftyp`, QuickTime atoms, EBML for Matroska/WebM,
 * RIFF AVI, MPEG-TS sync bytes, FLV, ASF's header GUID), and FFmpeg is then told that demuxer
 * (`-f`), so it never guesses one: an image, a playlist (HLS, concat) or any format outside the
 * list never reaches a demuxer. Then what `ffprobe` says of the streams is read here (no spawn):
 * the first video stream that is not cover art, its size and frame rate, and the codecs allowed.
 */
import { HashwardenError } from '../errors.js';
import { invalid } from '../validate.js';

/** The FFmpeg demuxers a video may be read with, by the container its bytes show. */
export const VIDEO_CONTAINERS = ['mov', 'matroska', 'avi', 'mpegts', 'flv', 'asf'] as const;
/** One of {@link VIDEO_CONTAINERS}: the FFmpeg demuxer a video is read with. */
export type VideoContainer = (typeof VIDEO_CONTAINERS)[number];

/**
 * The video codecs allowed, as ffprobe names them, each with the FFmpeg decoders that read it: the
 * codecs of camera, phone, screen-recorder and web video. Each decoder is attack surface; rarer
 * ones (Theora, Cinepak, the game and screen codecs) are left out, so a file using them is
 * `ERR_UNSUPPORTED_FORMAT`.
 */
const VIDEO_CODECS: Readonly<Record<string, readonly string[]>> = {
  h264: ['h264'],
  hevc: ['hevc'],
  vp8: ['vp8'],
  vp9: ['vp9'],
  av1: ['av1', 'libdav1d'],
  mpeg4: ['mpeg4'],
  mpeg2video: ['mpeg2video'],
  mpeg1video: ['mpeg1video'],
  h263: ['h263'],
  mjpeg: ['mjpeg'],
  prores: ['prores'],
  vc1: ['vc1'],
  wmv1: ['wmv1'],
  wmv2: ['wmv2'],
  wmv3: ['wmv3'],
  msmpeg4v3: ['msmpeg4'],
  flv1: ['flv'],
};

/** The decoders of {@link VIDEO_CODECS}: given to FFmpeg as `-codec_whitelist`, so no other is even opened. */
export const VIDEO_DECODERS: readonly string[] = Object.values(VIDEO_CODECS).flat();

/**
 * The audio and subtitle decoders allowed beside them: FFmpeg opens a decoder for every stream
 * while it reads a file's description (`avformat_find_stream_info`), so a video with AAC sound
 * would fail to open with video decoders alone. Only the common ones: a file whose sound uses
 * another codec is `ERR_UNSUPPORTED_FORMAT` like one whose picture does.
 */
export const COMPANION_DECODERS = [
  'aac',
  'aac_fixed',
  'mp3float',
  'mp3',
  'mp2float',
  'mp2',
  'opus',
  'libopus',
  'vorbis',
  'libvorbis',
  'ac3',
  'eac3',
  'flac',
  'alac',
  'amrnb',
  'amrwb',
  'wmav1',
  'wmav2',
  'adpcm_ima_qt',
  'pcm_s16le',
  'pcm_s16be',
  'pcm_s24le',
  'pcm_s24be',
  'pcm_s32le',
  'pcm_f32le',
  'pcm_f64le',
  'pcm_u8',
  'pcm_s8',
  'pcm_mulaw',
  'pcm_alaw',
  'mov_text',
  'subrip',
  'ass',
  'webvtt',
] as const;

/** Bytes {@link sniffContainer} looks at: enough for two MPEG-TS packets of 192 bytes and a sync byte. */
export const SNIFF_BYTES = 400;

/** QuickTime top-level atoms a `.mov` may start with instead of `ftyp`. */
const QUICKTIME_ATOMS = new Set(['moov', 'mdat', 'free', 'wide', 'skip', 'pnot']);

/** `ftyp` brands of still images (HEIF, AVIF): the same box structure as MP4, but not a video. */
const IMAGE_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'mif1', 'msf1', 'avif', 'avis']);

/** ASF's header object GUID (75B22630-668E-11CF-A6D9-00AA0062CE6C), as stored. */
const ASF_GUID = [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62, 0xce, 0x6c];

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

/** MPEG-TS: a 0x47 sync byte every `packet` bytes from `offset`, three packets running. */
function tsSync(bytes: Uint8Array, offset: number, packet: number): boolean {
  return [0, 1, 2].every((k) => bytes[offset + k * packet] === 0x47);
}

/**
 * The demuxer for these first bytes, or undefined when they are no container of
 * {@link VIDEO_CONTAINERS} (an image, a playlist, text, audio-only formats, anything else). A
 * HEIF/AVIF still (an `ftyp` with an image brand as its major brand) is not a video. The public
 * `sniffVideoContainer` of `hashwarden/video`: how the CLI tells a video from an image by its
 * bytes, as `hashVideo` itself decides, never by its name.
 *
 * @example
 * ```ts
 * sniffVideoContainer(firstBytes); // 'mov' for an MP4, undefined for a JPEG
 * ```
 */
export function sniffContainer(head: Uint8Array): VideoContainer | undefined {
  if (!(head instanceof Uint8Array)) invalid('Uint8Array', 'head', head);
  const box = ascii(head, 4, 4);
  if (box === 'ftyp') return IMAGE_BRANDS.has(ascii(head, 8, 4)) ? undefined : 'mov';
  if (QUICKTIME_ATOMS.has(box)) return 'mov';
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'matroska';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 4) === 'AVI ') return 'avi';
  if (ascii(head, 0, 3) === 'FLV' && head[3] === 1) return 'flv';
  if (ASF_GUID.every((b, i) => head[i] === b)) return 'asf';
  if (tsSync(head, 0, 188) || tsSync(head, 4, 192)) return 'mpegts';
  return undefined;
}

/** What the probe tells of a video, checked: the stream to decode and how to count its frames. */
export interface VideoProbe {
  /** Index of the stream decoded: the first video stream that is not an attached picture. */
  readonly stream: number;
  /** ffprobe's codec name of that stream. */
  readonly codec: string;
  readonly width: number;
  readonly height: number;
  /** Frames per second: the stream's average frame rate, else its base rate, as the reference reads it. */
  readonly frameRate: number;
  /** Seconds, as the container or stream declares it (NaN when neither does). */
  readonly durationSeconds: number;
}

/** Highest frame rate believed: a header claiming more is forged or broken. */
export const MAX_FRAME_RATE = 1000;

/** A rational `num/den` as ffprobe prints it (`30000/1001`), NaN when absent or malformed. */
function rational(text: unknown): number {
  if (typeof text !== 'string') return Number.NaN;
  const match = /^(\d{1,12})\/(\d{1,12})$/.exec(text);
  if (match === null) return Number.NaN;
  const den = Number(match[2]);
  return den === 0 ? Number.NaN : Number(match[1]) / den;
}

function decodeError(message: string): HashwardenError {
  return new HashwardenError('ERR_IMAGE_DECODE', message);
}

interface ProbeStream {
  readonly index?: unknown;
  readonly codec_type?: unknown;
  readonly codec_name?: unknown;
  readonly width?: unknown;
  readonly height?: unknown;
  readonly avg_frame_rate?: unknown;
  readonly r_frame_rate?: unknown;
  readonly duration?: unknown;
  readonly disposition?: { readonly attached_pic?: unknown };
}

/**
 * Reads ffprobe's JSON (`-show_streams -show_format`) into a {@link VideoProbe}: no video stream
 * (audio only, or cover art alone) or a codec outside {@link VIDEO_DECODERS} is
 * `ERR_UNSUPPORTED_FORMAT`; no size or no frame rate is `ERR_IMAGE_DECODE` (the reference refuses
 * them too).
 */
export function readProbe(json: string, name: string): VideoProbe {
  let parsed: { streams?: unknown; format?: { duration?: unknown } };
  try {
    parsed = JSON.parse(json) as typeof parsed;
  } catch (error) {
    throw new HashwardenError('ERR_IMAGE_DECODE', `ffprobe gave no readable description of ${name}`, { cause: error });
  }
  const streams = Array.isArray(parsed?.streams) ? (parsed.streams as ProbeStream[]) : [];
  const video = streams.find(
    (s) => s !== null && typeof s === 'object' && s.codec_type === 'video' && s.disposition?.attached_pic !== 1,
  );
  if (video === undefined) {
    const kinds = [...new Set(streams.map((s) => String(s?.codec_type)))].join(', ') || 'none';
    throw new HashwardenError('ERR_UNSUPPORTED_FORMAT', `${name} has no video stream (streams: ${kinds})`);
  }
  const codec = String(video.codec_name);
  if (!Object.hasOwn(VIDEO_CODECS, codec))
    throw new HashwardenError('ERR_UNSUPPORTED_FORMAT', `${name}: video codec ${codec.slice(0, 40)} is not allowed`);
  const { width, height } = video;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || (width as number) < 1 || (height as number) < 1)
    throw decodeError(`${name}: the video stream has no frame size`);
  let frameRate = rational(video.avg_frame_rate);
  if (!(frameRate > 0)) frameRate = rational(video.r_frame_rate);
  if (!(frameRate > 0)) throw decodeError(`${name}: the video stream has no frame rate`);
  if (frameRate > MAX_FRAME_RATE)
    throw decodeError(`${name}: the video stream declares ${frameRate.toFixed(0)} frames a second`);
  const duration = Number(parsed.format?.duration ?? video.duration);
  return {
    stream: Number(video.index),
    codec,
    width: width as number,
    height: height as number,
    frameRate,
    durationSeconds: Number.isFinite(duration) && duration >= 0 ? duration : Number.NaN,
  };
}
