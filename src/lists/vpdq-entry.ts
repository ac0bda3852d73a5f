/**
 * One vPDQ list entry: one video's frames (python-threatexchange's VPDQ signal type), checked and
 * normalised as every list entry is (src/lists/entry.ts), its hash python-threatexchange's signal
 * text written again, so the same video has the same text and the same default id everywhere.
 */
import { createHash } from 'node:crypto';
import {
  formatVpdqJson,
  MAX_VPDQ_ENTRY_BYTES,
  MAX_VPDQ_ENTRY_FRAMES,
  packVpdq,
  parseVpdqJson,
  unpackVpdq,
  VPDQ_ALGORITHM,
  type VpdqFeature,
} from '../algorithms/vpdq.js';
import { HashwardenError } from '../errors.js';
import { type EntryMetadata, entryFields, listName } from './entry-fields.js';

/** A vPDQ entry as a caller or a list gives it: one video's frames, as pytx's signal text or features. */
export interface VpdqEntryInput {
  /** Unique within its list. Default: see {@link VpdqListEntry.id}. */
  readonly id?: string | number | undefined;
  readonly list: string;
  /** `'vpdq'` when given (any case). */
  readonly algorithm?: string;
  /**
   * python-threatexchange's signal string (`formatVpdqJson`), the frames themselves, or their packed
   * bytes (`packVpdq`, as a store holds them).
   */
  readonly hash: string | Uint8Array | readonly VpdqFeature[];
  readonly label?: string | undefined;
  readonly metadata?: EntryMetadata | undefined;
}

/** A normalised vPDQ list entry. */
export interface VpdqListEntry {
  /**
   * Unique within its list. Default `vpdq:` + the SHA-256 of `hash` (the signal text): like
   * `<algorithm>:<hash>` for other entries, the same video gets the same id wherever it is listed.
   */
  readonly id: string;
  readonly list: string;
  readonly algorithm: typeof VPDQ_ALGORITHM;
  /** The frames as pytx's signal string, written again by `formatVpdqJson` (so spaced as pytx spaces it). */
  readonly hash: string;
  /** Every frame of the entry as given, quality-filtered or not. */
  readonly frames: readonly VpdqFeature[];
  readonly label?: string;
  readonly metadata?: EntryMetadata;
}

/**
 * The id a vPDQ entry without one gets: `vpdq:` and the SHA-256 (hex) of its signal text `hash`
 * as `normalizeVpdqEntry` writes it.
 *
 * @internal Shared with `entry.ts` (`hasDefaultId`) and the stores.
 * @example
 * ```ts
 * vpdqDefaultId(entry.hash) === entry.id; // true for an entry listed without an id
 * ```
 */
export function vpdqDefaultId(hash: string): string {
  return `${VPDQ_ALGORITHM}:${createHash('sha256').update(hash).digest('hex')}`;
}

/**
 * A vPDQ entry's signal text (`hash` of a normalised entry) as the hex of its packed frames
 * (`packVpdq`): what a store's hash column holds for it, in the hex form the stores' imports turn
 * into bytes for every other entry. `ERR_HASH_FORMAT` for text that is not a signal.
 *
 * @internal Shared by the packed batches of `importFile` and the stores' imports.
 * @example
 * ```ts
 * vpdqPackedHex(entry.hash).length; // 82 a frame
 * ```
 */
export function vpdqPackedHex(hash: string): string {
  return Buffer.from(packVpdq(parseVpdqJson(hash, { maxFrames: MAX_VPDQ_ENTRY_FRAMES }))).toString('hex');
}

function entryError(where: string, message: string, cause?: unknown): HashwardenError {
  return new HashwardenError('ERR_LIST_FORMAT', `vPDQ entry${where === '' ? '' : ` ${where}`}: ${message}`, { cause });
}

function entryFrames(hash: unknown, where: string): VpdqFeature[] {
  if (hash instanceof Uint8Array) return unpackVpdq(hash, MAX_VPDQ_ENTRY_FRAMES);
  if (typeof hash === 'string') {
    if (hash.length > MAX_VPDQ_ENTRY_BYTES || Buffer.byteLength(hash, 'utf8') > MAX_VPDQ_ENTRY_BYTES)
      throw entryError(where, `the signal text is longer than ${MAX_VPDQ_ENTRY_BYTES} bytes`);
    return parseVpdqJson(hash, { maxFrames: MAX_VPDQ_ENTRY_FRAMES });
  }
  if (!Array.isArray(hash)) throw entryError(where, 'the hash is neither pytx signal text nor an array of frames');
  if (hash.length > MAX_VPDQ_ENTRY_FRAMES) throw entryError(where, `more than ${MAX_VPDQ_ENTRY_FRAMES} frames`);
  // formatVpdqJson checks every frame; reading its text back gives plain, lower-case frames.
  return parseVpdqJson(formatVpdqJson(hash as VpdqFeature[]), { maxFrames: MAX_VPDQ_ENTRY_FRAMES });
}

/**
 * Checks and normalises one vPDQ entry (`position`, when given, names it in errors).
 * `ERR_LIST_FORMAT` for a bad field, text over {@link MAX_VPDQ_ENTRY_BYTES} or frames over
 * {@link MAX_VPDQ_ENTRY_FRAMES}; `ERR_HASH_FORMAT` for signal text that does not parse;
 * `ERR_UNKNOWN_ALGORITHM` for an algorithm other than `vpdq`.
 *
 * @example
 * ```ts
 * normalizeVpdqEntry({ list: 'known', id: 'v1', hash: formatVpdqJson(video.frames) }, 0);
 * ```
 */
export function normalizeVpdqEntry(input: VpdqEntryInput, position?: number): VpdqListEntry {
  const where = position === undefined ? '' : `#${position}`;
  if (input === null || typeof input !== 'object') throw entryError(where, 'not an object');
  const list = listName(input.list);
  if (input.algorithm !== undefined && String(input.algorithm).trim().toLowerCase() !== VPDQ_ALGORITHM)
    throw new HashwardenError(
      'ERR_UNKNOWN_ALGORITHM',
      `vPDQ entry${where === '' ? '' : ` ${where}`}: the algorithm is not "vpdq"`,
    );
  const frames = Object.freeze(entryFrames(input.hash, where));
  const { id, label, metadata } = entryFields(input);
  const hash = formatVpdqJson(frames);
  const entry: VpdqListEntry = {
    id: id ?? vpdqDefaultId(hash),
    list,
    algorithm: VPDQ_ALGORITHM,
    hash,
    frames,
  };
  if (label !== undefined) Object.assign(entry, { label });
  if (metadata !== undefined) Object.assign(entry, { metadata });
  return Object.freeze(entry);
}
