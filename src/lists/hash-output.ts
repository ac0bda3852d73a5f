/**
 * NDJSON objects that hold hashes under algorithm names rather than in a `hash` field: the lines
 * `hashwarden hash` prints (`{"file", "pdq", "pdqQuality", "md5", …, "unusable"}`, and for a video
 * `{"file", "md5", "sha256", "vpdq", "vpdqFrames", "vpdqUsableFrames", "unusable"}`, its `vpdq`
 * python-threatexchange's signal text) and the bodies HMA 2 (OpenMediaMatch) takes and gives
 * (`{"pdq": "<hex>"}`, `{"vpdq": "<signal>"}`). Each hash is a row of its own.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { ALGORITHM_NAMES } from '../algorithms/registry.js';
import {
  formatVpdqJson,
  listedVpdqFrames,
  MAX_VPDQ_ENTRY_FRAMES,
  parseVpdqJson,
  VPDQ_ALGORITHM,
  type VpdqFeature,
} from '../algorithms/vpdq.js';
import { isHashwardenError } from '../errors.js';
import type { ResolvedParseOptions } from './formats.js';
import { ALGORITHM_KEYS, listError, type RawRow } from './rows.js';

/** The keys read as hashes: the registry's algorithms, and vPDQ (one entry per video). */
const HASH_KEYS = [...ALGORITHM_NAMES, VPDQ_ALGORITHM] as const;

/**
 * The rows of an object keyed by algorithm names (see the file comment), or undefined when it has
 * a `hash` field or an algorithm field (it is an ordinary row then) or no algorithm-named string.
 * `file` is kept as metadata, a PDQ hash's `pdqQuality` as `quality` (a number); a hash the
 * `unusable` object names (a PDQ hash of quality below 50, a featureless blockhash, a video with no
 * frame of quality 50 or more) is left out, as `hashwarden hash --as-list` leaves it out: the
 * matcher would not use it for an upload either. A vPDQ row's hash is checked as every vPDQ
 * entry's is (`normalizeEntry`); its frame counts are `hash`'s report, not the entry's.
 *
 * @internal Used by the NDJSON parser.
 * @example
 * ```ts
 * hashOutputRows({ file: 'a.jpg', md5: '0cc1…', pdq: 'f8f8…', pdqQuality: 100 }, options); // two rows
 * ```
 */
export function hashOutputRows(
  object: Record<string, unknown>,
  options: ResolvedParseOptions,
): (() => RawRow)[] | undefined {
  if (Object.hasOwn(object, 'hash') || ALGORITHM_KEYS.some((key) => Object.hasOwn(object, key))) return undefined;
  const names = HASH_KEYS.filter((name) => typeof object[name] === 'string');
  if (names.length === 0) {
    if (typeof object.file === 'string' && object.error !== undefined)
      return [
        () => {
          throw listError('A `hashwarden hash` line for a file it could not hash: no hash to import');
        },
      ];
    return undefined;
  }
  const list = typeof object.list === 'string' && object.list.trim() !== '' ? object.list : options.list;
  const unusable = object.unusable !== null && typeof object.unusable === 'object' ? object.unusable : {};
  return names.map((name) => () => {
    const metadata: Record<string, unknown> = {};
    if (typeof object.file === 'string') metadata.file = object.file;
    if (name === 'pdq' && typeof object.pdqQuality === 'number') metadata.quality = object.pdqQuality;
    const row: RawRow = { list, algorithm: name, hash: hashOf(object, name), metadata };
    return Object.hasOwn(unusable, name) ? { ...row, ignore: 'unusable' } : row;
  });
}

/**
 * The hash a row takes from a `hashwarden hash` line: the named field's, except a video's whose
 * line has `vpdqTrimmed` (its frames inside their black bars): then the list entry holds both
 * sets as `listedVpdqFrames` puts them, as `hash --as-list` writes it. Text that does not parse is
 * left as it is, for the entry's own check to refuse.
 */
function hashOf(object: Record<string, unknown>, name: string): string {
  const hash = object[name] as string;
  if (name !== VPDQ_ALGORITHM || typeof object.vpdqTrimmed !== 'string') return hash;
  let frames: VpdqFeature[];
  let trimmed: VpdqFeature[];
  try {
    frames = parseVpdqJson(hash, { maxFrames: MAX_VPDQ_ENTRY_FRAMES });
    trimmed = parseVpdqJson(object.vpdqTrimmed, { maxFrames: MAX_VPDQ_ENTRY_FRAMES });
  } catch (error) {
    if (isHashwardenError(error)) return hash;
    throw error;
  }
  if (trimmed.length !== frames.length) throw listError("vpdqTrimmed does not hold one frame for each of vpdq's");
  return formatVpdqJson(listedVpdqFrames({ frames, trimmed }));
}
