/**
 * The two text forms of a vPDQ hash, each written and read back:
 * - the reference CLI's lines (facebook/ThreatExchange vpdq/cpp `vpdq-hash-video`, vpdqio.cpp):
 *   one frame a line, `frameNumber,quality,pdqHex,seconds` with the seconds to 3 decimals;
 * - python-threatexchange's signal string (extensions/vpdq/vpdq_util.py, `vpdq_to_json`): a JSON
 *   array of `"pdqHex,quality,timestamp"` strings, the timestamp as Python's `format(t, '.3')`
 *   prints it (3 significant digits: `18.8`, `1.23e+02`), no frame numbers. Its older form, an
 *   object keyed by frame number (`{"0": {"quality": 100, "hash": …, "timestamp": 0.0}}`), is read too.
 * Parsing is for text from anywhere (a list, a partner, an attacker): every field is checked and a
 * bad one is `ERR_HASH_FORMAT` naming the line or item, within a bound on the count.
 */
import { HashwardenError } from '../errors.js';
import { integerInRange, invalid } from '../validate.js';

/** One frame of a vPDQ hash as text carries it: the line form has frame numbers, pytx's JSON does not. */
export interface VpdqFeature {
  /** The frame's number (absent in python-threatexchange's JSON form). */
  readonly frame?: number;
  /** PDQ quality, 0–100. */
  readonly quality: number;
  /** PDQ hash, 64 lower-case hex digits. */
  readonly hash: string;
  /** When the frame shows, in seconds. */
  readonly seconds: number;
}

/** Options of the parsers. */
export interface ParseVpdqOptions {
  /** Most frames accepted (`ERR_HASH_FORMAT` above it). Default 108,000, `hashVideo`'s own limit. */
  readonly maxFrames?: number;
}

/**
 * Most frames the parsers accept unless told otherwise: 108,000, every frame of an hour at 30 fps,
 * `hashVideo`'s own default `maxFrames` (src/video/options.ts takes it from here).
 */
export const VPDQ_MAX_PARSED_FRAMES = 108_000;

/** The algorithm name of a vPDQ list entry. */
export const VPDQ_ALGORITHM = 'vpdq';

/**
 * Most frames one vPDQ list entry may hold: 72,000, every frame of a 20-minute clip at 30 fps
 * (`hashVideo`'s default duration with `secondsPerHash` 0, as Meta's sample hashes were made),
 * twice: a list entry holds the whole frames and the same frames inside their black bars
 * (`listedVpdqFrames`). pytx's one frame a second gives 1,200 for the same clip. Past it the
 * text is not one video's.
 */
export const MAX_VPDQ_ENTRY_FRAMES = 72_000;

/**
 * Most bytes of one vPDQ entry's signal text: 8 MiB. pytx writes about 80 bytes a frame
 * (`"<64 hex>,100,1.23e+02", `), so {@link MAX_VPDQ_ENTRY_FRAMES} frames fit with room for white
 * space; the bound is checked before the text is parsed, so hostile text costs no more than this.
 */
export const MAX_VPDQ_ENTRY_BYTES = 8 * 1024 * 1024;

/** Largest frame number accepted: the reference stores it in an `int`. */
const MAX_FRAME_NUMBER = 2 ** 31 - 1;

/** Longest a timestamp's text may be: `1e+02`-style or 3 decimals need far fewer characters. */
const MAX_TIMESTAMP_CHARS = 32;

const HEX64 = /^[0-9a-fA-F]{64}$/;
const FRAME = /^\d{1,10}$/;
const QUALITY = /^\d{1,3}$/;
/** A non-negative decimal, optionally in exponent form, as C's `%.3f` and Python's `float` write it. */
const SECONDS = /^\d+(\.\d*)?([eE][+-]?\d{1,3})?$/;

function bad(where: string, message: string): never {
  throw new HashwardenError('ERR_HASH_FORMAT', `vPDQ ${where}: ${message}`);
}

function checkFeature(feature: VpdqFeature, where: string): void {
  integerInRange(feature.quality, 0, 100, `${where}.quality`);
  if (typeof feature.hash !== 'string' || !HEX64.test(feature.hash))
    invalid('64 hex digits', `${where}.hash`, feature.hash);
  if (typeof feature.seconds !== 'number' || Number.isNaN(feature.seconds))
    invalid('non-negative finite number', `${where}.seconds`, feature.seconds);
  if (!Number.isFinite(feature.seconds) || feature.seconds < 0)
    invalid('non-negative finite number', `${where}.seconds`, feature.seconds, true);
}

/**
 * The reference CLI's lines: `frame,quality,hex,seconds` (seconds to 3 decimals), one a line,
 * each ending in a newline. Every feature needs its frame number.
 *
 * @example
 * ```ts
 * await writeFile('clip.txt', formatVpdqLines((await hashVideo('clip.mp4')).frames));
 * ```
 */
export function formatVpdqLines(features: readonly VpdqFeature[]): string {
  if (!Array.isArray(features)) invalid('array of vPDQ features', 'features', features);
  return features
    .map((feature, i) => {
      integerInRange(feature?.frame, 0, MAX_FRAME_NUMBER, `features[${i}].frame`);
      checkFeature(feature, `features[${i}]`);
      return `${feature.frame},${feature.quality},${feature.hash.toLowerCase()},${feature.seconds.toFixed(3)}\n`;
    })
    .join('');
}

function maxFramesOf(options: ParseVpdqOptions | undefined): number {
  const max = options?.maxFrames;
  return max === undefined ? VPDQ_MAX_PARSED_FRAMES : integerInRange(max, 1, 10_000_000, 'maxFrames');
}

function parseSeconds(text: string, where: string): number {
  if (text.length > MAX_TIMESTAMP_CHARS || !SECONDS.test(text))
    bad(where, 'the timestamp is not a non-negative number');
  const seconds = Number(text);
  if (!Number.isFinite(seconds)) bad(where, 'the timestamp is not finite');
  return seconds;
}

function parseQuality(text: string, where: string): number {
  const quality = QUALITY.test(text) ? Number(text) : Number.NaN;
  if (!(quality <= 100)) bad(where, 'the quality is not an integer between 0 and 100');
  return quality;
}

function parseHash(text: string, where: string): string {
  if (!HEX64.test(text)) bad(where, 'the hash is not 64 hex digits');
  return text.toLowerCase();
}

/**
 * Reads the reference CLI's lines back (blank lines, and a final newline or none, allowed; CRLF
 * too). Frame numbers must rise strictly, as the reference writes them. `ERR_HASH_FORMAT` for a
 * line that is not four fields of the right kinds, or for more lines than `maxFrames`.
 */
export function parseVpdqLines(text: string, options?: ParseVpdqOptions): VideoFrameFeature[] {
  if (typeof text !== 'string') invalid('string', 'text', text);
  const maxFrames = maxFramesOf(options);
  const out: VideoFrameFeature[] = [];
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    const row = text.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    if (row.trim() === '') continue;
    const where = `line ${line}`;
    if (out.length >= maxFrames) bad(where, `more than ${maxFrames} frames`);
    const fields = row.split(',');
    if (fields.length !== 4) bad(where, `expected frame,quality,hash,seconds but found ${fields.length} fields`);
    const [frameText, qualityText, hashText, secondsText] = fields as [string, string, string, string];
    const frame = FRAME.test(frameText) ? Number(frameText) : Number.NaN;
    if (!(frame <= MAX_FRAME_NUMBER)) bad(where, 'the frame number is not a non-negative integer');
    const previous = out[out.length - 1];
    if (previous !== undefined && frame <= previous.frame)
      bad(where, `frame ${frame} does not follow ${previous.frame}`);
    out.push({
      frame,
      quality: parseQuality(qualityText, where),
      hash: parseHash(hashText, where),
      seconds: parseSeconds(secondsText, where),
    });
  }
  return out;
}

/** A feature read from the line form: it has its frame number. */
export interface VideoFrameFeature extends VpdqFeature {
  readonly frame: number;
}

/**
 * `seconds` as Python's `format(seconds, '.3')` prints it, which python-threatexchange's
 * signal string uses: 3 significant digits, fixed notation with at least one decimal from 1e-4
 * to below 100 (`0.033`, `18.8`, `5.0`), exponent notation outside (`1.23e+02`, `1e-05`).
 */
export function pythonTimestamp(seconds: number): string {
  if (seconds === 0) return '0.0';
  const [mantissa, exponentText] = seconds.toExponential(2).split('e') as [string, string];
  const exponent = Number(exponentText);
  // CPython's rule for the omitted type with a precision: exponent form when the decimal point
  // would sit more than precision − 1 places in, or 4 or more zeros after it.
  if (exponent < -4 || exponent >= 2) {
    const digits = mantissa.replace(/\.?0+$/, '');
    return `${digits}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const fixed = seconds.toFixed(2 - exponent).replace(/0+$/, '');
  return fixed.endsWith('.') ? `${fixed}0` : fixed;
}

/**
 * python-threatexchange's vPDQ signal string: a JSON array of `"hex,quality,timestamp"`, spaced
 * as Python's `json.dumps` spaces it, so the text equals what pytx writes for the same frames.
 *
 * @example
 * ```ts
 * const signal = formatVpdqJson((await hashVideo('clip.mp4')).frames); // ["e271…,100,0.0", …]
 * ```
 */
export function formatVpdqJson(features: readonly VpdqFeature[]): string {
  if (!Array.isArray(features)) invalid('array of vPDQ features', 'features', features);
  const items = features.map((feature, i) => {
    checkFeature(feature, `features[${i}]`);
    return JSON.stringify(`${feature.hash.toLowerCase()},${feature.quality},${pythonTimestamp(feature.seconds)}`);
  });
  return `[${items.join(', ')}]`;
}

/** One item of the older JSON form: `{"quality": 100, "hash": {"w": [16 words]} or hex, "timestamp": 0.0}`. */
function legacyItem(key: string, value: unknown, where: string): VideoFrameFeature {
  if (!FRAME.test(key) || Number(key) > MAX_FRAME_NUMBER) bad(where, 'the key is not a frame number');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad(where, 'not an object');
  const { quality, hash, timestamp } = value as { quality?: unknown; hash?: unknown; timestamp?: unknown };
  if (!Number.isInteger(quality) || (quality as number) < 0 || (quality as number) > 100)
    bad(where, 'the quality is not an integer between 0 and 100');
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0)
    bad(where, 'the timestamp is not a non-negative number');
  let hex: string;
  if (typeof hash === 'string') hex = parseHash(hash, where);
  else {
    const words = (hash as { w?: unknown } | null)?.w;
    if (!Array.isArray(words) || words.length !== 16 || !words.every((w) => Number.isInteger(w) && w >= 0 && w < 65536))
      bad(where, 'the hash is neither 64 hex digits nor 16 16-bit words');
    // PDQ's Hash256 prints its words from the last to the first, four hex digits each.
    hex = (words as number[])
      .map((w) => w.toString(16).padStart(4, '0'))
      .reverse()
      .join('');
  }
  return { frame: Number(key), quality: quality as number, hash: hex, seconds: timestamp };
}

/**
 * Reads python-threatexchange's vPDQ signal string: the JSON array of `"hex,quality,timestamp"`
 * (frames without numbers), or the older object keyed by frame number (frames with them, in
 * rising order). An empty string is no frames, as pytx reads it. `ERR_HASH_FORMAT` for text that
 * is not JSON, not one of the two shapes, an item with a bad field, or more than `maxFrames` items.
 */
export function parseVpdqJson(text: string, options?: ParseVpdqOptions): VpdqFeature[] {
  if (typeof text !== 'string') invalid('string', 'text', text);
  const maxFrames = maxFramesOf(options);
  if (text.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new HashwardenError('ERR_HASH_FORMAT', `vPDQ JSON does not parse: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (Array.isArray(parsed)) {
    if (parsed.length > maxFrames) bad('JSON', `more than ${maxFrames} frames`);
    return parsed.map((item, i) => {
      const where = `item ${i}`;
      if (typeof item !== 'string') bad(where, 'not a "hash,quality,timestamp" string');
      const fields = item.split(',');
      if (fields.length !== 3) bad(where, `expected hash,quality,timestamp but found ${fields.length} fields`);
      const [hashText, qualityText, secondsText] = fields as [string, string, string];
      return {
        hash: parseHash(hashText, where),
        quality: parseQuality(qualityText, where),
        seconds: parseSeconds(secondsText, where),
      };
    });
  }
  if (parsed === null || typeof parsed !== 'object')
    bad('JSON', 'neither an array nor an object keyed by frame number');
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > maxFrames) bad('JSON', `more than ${maxFrames} frames`);
  const out = entries.map(([key, value]) => legacyItem(key, value, `frame ${key.slice(0, 20)}`));
  // An object's integer keys come out in rising order; the check is for the reader of the code.
  for (let i = 1; i < out.length; i++)
    if ((out[i] as VideoFrameFeature).frame <= (out[i - 1] as VideoFrameFeature).frame)
      bad('JSON', 'frames out of order');
  return out;
}

/**
 * Bytes of one frame in the packed form a store's hash column and a snapshot hold: the PDQ hash
 * (32 bytes, as hex reads), its quality (1 byte) and its timestamp in seconds (a float64,
 * little-endian, 8 bytes). No frame number: python-threatexchange's form, the one lists are
 * exchanged in, has none. About half the bytes of the signal text, and read without parsing.
 */
export const VPDQ_PACKED_FRAME_BYTES = 41;

/**
 * One video's frames packed back to back, {@link VPDQ_PACKED_FRAME_BYTES} each: what a store
 * keeps as a vPDQ entry's hash. Every frame is checked (TypeError/RangeError naming it).
 *
 * @example
 * ```ts
 * packVpdq([{ hash: 'e271…', quality: 100, seconds: 0 }]).length; // 41
 * ```
 */
export function packVpdq(frames: readonly VpdqFeature[]): Uint8Array {
  if (!Array.isArray(frames)) invalid('array of vPDQ frames', 'frames', frames);
  const out = new Uint8Array(frames.length * VPDQ_PACKED_FRAME_BYTES);
  const view = new DataView(out.buffer);
  frames.forEach((frame, i) => {
    checkFeature(frame, `frames[${i}]`);
    const at = i * VPDQ_PACKED_FRAME_BYTES;
    out.set(Buffer.from(frame.hash, 'hex'), at);
    out[at + 32] = frame.quality;
    view.setFloat64(at + 33, frame.seconds, true);
  });
  return out;
}

/**
 * The frames of {@link packVpdq}'s bytes, hashes in lower-case hex. Bytes from a store or a
 * snapshot are data from elsewhere: a length that is not a whole number of frames, more than
 * `maxFrames` frames (default {@link MAX_VPDQ_ENTRY_FRAMES}), a quality above 100 or a timestamp
 * that is negative or not finite is `ERR_HASH_FORMAT`.
 */
export function unpackVpdq(bytes: Uint8Array, maxFrames: number = MAX_VPDQ_ENTRY_FRAMES): VpdqFeature[] {
  if (!(bytes instanceof Uint8Array)) invalid('Uint8Array', 'bytes', bytes);
  if (bytes.length % VPDQ_PACKED_FRAME_BYTES !== 0)
    bad('packed frames', `${bytes.length} bytes is not a whole number of ${VPDQ_PACKED_FRAME_BYTES}-byte frames`);
  const count = bytes.length / VPDQ_PACKED_FRAME_BYTES;
  if (count > maxFrames) bad('packed frames', `more than ${maxFrames} frames`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: VpdqFeature[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * VPDQ_PACKED_FRAME_BYTES;
    const quality = bytes[at + 32] as number;
    const seconds = view.getFloat64(at + 33, true);
    if (quality > 100) bad(`packed frame ${i}`, `quality ${quality} is above 100`);
    if (!Number.isFinite(seconds) || seconds < 0) bad(`packed frame ${i}`, 'the timestamp is negative or not finite');
    out[i] = { hash: Buffer.from(bytes.subarray(at, at + 32)).toString('hex'), quality, seconds };
  }
  return out;
}

/**
 * The frames a list entry of this video holds: each whole frame, followed by the same frame
 * inside its bars when that hashes differently. One set for a video without bars. Both sets at
 * once only matter with a listed share threshold above 0%, which counts the listed video's
 * frames: a video with bars then holds about twice as many, and its share of them halves.
 *
 * @example
 * ```ts
 * const video = await hashVideo('known.mp4', { secondsPerHash: 0 });
 * const entry = { list: 'known', id: 'v1', algorithm: 'vpdq', hash: formatVpdqJson(listedVpdqFrames(video)) };
 * ```
 */
export function listedVpdqFrames<F extends VpdqFeature>(video: {
  readonly frames: readonly F[];
  readonly trimmed?: readonly F[] | undefined;
}): F[] {
  const { frames, trimmed } = video;
  if (trimmed === undefined) return [...frames];
  const out: F[] = [];
  frames.forEach((frame, i) => {
    out.push(frame);
    const inside = trimmed[i];
    if (inside !== undefined && inside.hash !== frame.hash) out.push(inside);
  });
  return out;
}
