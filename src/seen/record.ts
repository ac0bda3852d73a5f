/**
 * A seen record's hashes packed into one blob: what a `matchImage` call looked up, exactly, in
 * fewer bytes than a row per hash (docs/retroactive.md measures them). Layout, version 1:
 *
 * ```
 * u8 format (1)
 * then per hash:  u8 algorithm code · u8 tag · [u16 LE frame, when tag bit 5] · hash bytes (bits / 8)
 * tag: bits 0–3 the transform's index in DIHEDRAL_NAMES + 1 (0: none) · bit 4 trimmed · bit 5 has a frame
 * ```
 *
 * A hash equal to one earlier of the same algorithm is left out: the matcher keeps each entry at
 * its nearest query and the earlier one on a tie, so a repeat (a symmetric image's turns, a still
 * frame of an animation) never changes what is found.
 */
import { DIHEDRAL_NAMES, type DihedralName } from '../algorithms/dihedral.js';
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError } from '../errors.js';
import type { SearchedQuery } from '../matcher/searched.js';

/** The blob's layout version, its first byte. */
export const SEEN_FORMAT = 1;

/** Each algorithm's code in the blob: fixed, never reused (the registry's order may change). */
const CODES: Readonly<Record<AlgorithmName, number>> = { blockhash: 1, pdq: 2, md5: 3, sha1: 4, sha256: 5 };
const BY_CODE: ReadonlyMap<number, AlgorithmName> = new Map(
  Object.entries(CODES).map(([name, code]) => [code, name as AlgorithmName]),
);

const TRIMMED = 0x10;
const HAS_FRAME = 0x20;
const TRANSFORM_MASK = 0x0f;
/** Largest frame number the u16 holds; `maxFrames` is at most 10,000 (MAX_FRAMES_LIMIT). */
const MAX_FRAME = 0xffff;

/**
 * Most bytes of one record's hashes a read takes: an animation at the frame limit
 * (MAX_FRAMES_LIMIT, 10,000 frames), each frame with 8 turns of PDQ and of blockhash and the same
 * inside a border (36 bytes each) is 11.5 MB; past 16 MiB a blob was not written by `record`.
 */
export const MAX_HASHES_BYTES = 16 * 1024 * 1024;

/**
 * Most bytes of one record's list versions a read takes: a thousand lists of the longest names
 * (3,072 bytes each) and their versions. A read refuses a row past either bound unread.
 */
export const MAX_VERSIONS_BYTES = 4 * 1024 * 1024;

/** `seen.versions` as reads take it: NULL when over its bound, never materialised. */
export const SEEN_VERSIONS_COLUMN = `iif(octet_length(versions) > ${MAX_VERSIONS_BYTES}, NULL, versions) AS versions`;

/** `seen.hashes` as reads take it: NULL when over its bound, never materialised. */
export const SEEN_HASHES_COLUMN = `iif(octet_length(hashes) > ${MAX_HASHES_BYTES}, NULL, hashes) AS hashes`;

/** The columns of `seen` as reads take them: hashes and versions NULL when over their bounds, never materialised. */
export const SEEN_READ_COLUMNS = `content_id, at, ${SEEN_VERSIONS_COLUMN}, ${SEEN_HASHES_COLUMN}`;

/** A row of `seen` read with {@link SEEN_READ_COLUMNS}. */
export interface SeenRow {
  readonly content_id: string;
  readonly at: number;
  readonly versions: string | null;
  readonly hashes: Uint8Array | null;
}

/** The list versions a record holds; `ERR_STORE` when they are missing, oversized or do not parse. */
export function recordedVersions(row: Pick<SeenRow, 'content_id' | 'versions'>): Record<string, number> {
  try {
    const value = row.versions === null ? null : (JSON.parse(row.versions) as unknown);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, number>;
  } catch {
    // Reported below.
  }
  throw damaged(`the list versions of ${JSON.stringify(row.content_id)}`);
}

/** Bytes of each algorithm's hash. */
const WIDTHS: Readonly<Record<AlgorithmName, number>> = Object.fromEntries(
  Object.keys(CODES).map((name) => [name, getAlgorithm(name).bits / 8]),
) as Record<AlgorithmName, number>;

function widthOf(name: AlgorithmName): number {
  return WIDTHS[name];
}

/** The queries without repeats (see the file's comment), in their order. */
function distinct(queries: readonly SearchedQuery[]): SearchedQuery[] {
  const seen = new Set<string>();
  return queries.filter((q) => {
    const key = `${q.algorithm}:${Buffer.from(q.hash.buffer, q.hash.byteOffset, q.hash.length).toString('hex')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Packs `queries` (checked: each hash its algorithm's width, each frame within a u16). */
export function encodeSearched(queries: readonly SearchedQuery[]): Uint8Array {
  const kept = distinct(queries);
  let size = 1;
  for (const q of kept) {
    if (q.hash.length !== widthOf(q.algorithm))
      throw new RangeError(`Expected ${widthOf(q.algorithm)} bytes for a ${q.algorithm} hash`);
    if (q.frame !== undefined && !(Number.isInteger(q.frame) && q.frame >= 0 && q.frame <= MAX_FRAME))
      throw new RangeError(`Expected a frame between 0 and ${MAX_FRAME}`);
    size += 2 + (q.frame === undefined ? 0 : 2) + q.hash.length;
  }
  const out = new Uint8Array(size);
  out[0] = SEEN_FORMAT;
  let at = 1;
  for (const q of kept) {
    const transform = q.transform === undefined ? 0 : DIHEDRAL_NAMES.indexOf(q.transform) + 1;
    out[at++] = CODES[q.algorithm];
    out[at++] = transform | (q.trimmed ? TRIMMED : 0) | (q.frame === undefined ? 0 : HAS_FRAME);
    if (q.frame !== undefined) {
      out[at++] = q.frame & 0xff;
      out[at++] = q.frame >>> 8;
    }
    out.set(q.hash, at);
    at += q.hash.length;
  }
  return out;
}

function damaged(why: string): HashwardenError {
  return new HashwardenError('ERR_STORE', `Seen record: ${why} do not decode: a damaged or altered seen store`);
}

/** Called by {@link walk} for each hash of a blob: its algorithm, tag, frame (-1: none) and where its bytes start. */
type Visit = (algorithm: AlgorithmName, tag: number, frame: number, at: number, width: number) => void;

/** The blob a read returned, checked for its format; `ERR_STORE` when missing or of another version. */
function blobOf(stored: Uint8Array | null): Uint8Array {
  if (stored === null) throw damaged('its hashes (missing or over 16 MiB)');
  // A Buffer from SQLite read as a plain Uint8Array, so the hashes are what `matchImage` made.
  const blob = new Uint8Array(stored.buffer, stored.byteOffset, stored.length);
  if (blob[0] !== SEEN_FORMAT) throw damaged(`its hashes (format ${blob[0] ?? 'missing'})`);
  return blob;
}

/** Visits each hash of `blob` in order, checking each; `ERR_STORE` at the first that does not decode. */
function walk(blob: Uint8Array, visit: Visit): void {
  let at = 1;
  while (at < blob.length) {
    const algorithm = BY_CODE.get(blob[at] as number);
    if (algorithm === undefined) throw damaged(`its hashes (algorithm code ${blob[at]})`);
    const tag = blob[at + 1];
    if (
      tag === undefined ||
      (tag & ~(TRANSFORM_MASK | TRIMMED | HAS_FRAME)) !== 0 ||
      (tag & TRANSFORM_MASK) > DIHEDRAL_NAMES.length
    )
      throw damaged(`its hashes (tag ${tag ?? 'missing'})`);
    at += 2;
    let frame = -1;
    if ((tag & HAS_FRAME) !== 0) {
      if (at + 2 > blob.length) throw damaged('its hashes (a short frame)');
      frame = (blob[at] as number) | ((blob[at + 1] as number) << 8);
      at += 2;
    }
    const width = WIDTHS[algorithm];
    if (at + width > blob.length) throw damaged('its hashes (a short hash)');
    visit(algorithm, tag, frame, at, width);
    at += width;
  }
}

/**
 * Unpacks a blob {@link encodeSearched} made; each hash a view into `blob`. `ERR_STORE` for a blob
 * that is not one (an unknown version or algorithm code, a tag out of range, a short hash).
 */
export function decodeSearched(stored: Uint8Array | null): SearchedQuery[] {
  const blob = blobOf(stored);
  const out: SearchedQuery[] = [];
  walk(blob, (algorithm, tag, frame, at, width) => {
    const transform = tag & TRANSFORM_MASK;
    out.push({
      algorithm,
      hash: blob.subarray(at, at + width),
      ...(transform === 0 ? {} : { transform: DIHEDRAL_NAMES[transform - 1] as DihedralName }),
      ...((tag & TRIMMED) !== 0 ? { trimmed: true as const } : {}),
      ...(frame === -1 ? {} : { frame }),
    });
  });
  return out;
}

/**
 * One algorithm's hashes of a batch of records, packed back to back for the search: hash k is
 * bytes `k × width` to `(k + 1) × width` of `hashes`, the `position[k]`-th hash (counting every
 * algorithm's) of record `record[k]`.
 */
export interface PackedHashes {
  readonly count: number;
  readonly hashes: Uint8Array;
  readonly record: Uint32Array;
  readonly position: Uint32Array;
}

/**
 * Every hash of `blobs` (records' blobs, as {@link decodeSearched} takes them) of the algorithms
 * `wanted` (default: all), packed per algorithm in record order without an object per hash: a rescan reads millions of records and
 * finds a few, and unpacks into objects only the records a search found ({@link decodeSearched}).
 * `ERR_STORE` for a blob that does not decode, as {@link decodeSearched}.
 */
export function packSearched(
  blobs: readonly (Uint8Array | null)[],
  wanted?: ReadonlySet<AlgorithmName>,
): Map<AlgorithmName, PackedHashes> {
  const checked = blobs.map(blobOf);
  const counts = new Map<AlgorithmName, number>();
  for (const blob of checked)
    walk(blob, (algorithm) => {
      if (wanted === undefined || wanted.has(algorithm)) counts.set(algorithm, (counts.get(algorithm) ?? 0) + 1);
    });
  const out = new Map<AlgorithmName, PackedHashes & { filled: number }>();
  for (const [algorithm, count] of counts) {
    const hashes = new Uint8Array(count * WIDTHS[algorithm]);
    out.set(algorithm, { count, hashes, record: new Uint32Array(count), position: new Uint32Array(count), filled: 0 });
  }
  checked.forEach((blob, record) => {
    let position = 0;
    walk(blob, (algorithm, _tag, _frame, at, width) => {
      const packed = out.get(algorithm);
      // An algorithm the search has no table for: left unpacked, its place in the record still counted.
      if (packed === undefined) {
        position++;
        return;
      }
      const k = packed.filled++;
      packed.hashes.set(blob.subarray(at, at + width), k * width);
      packed.record[k] = record;
      packed.position[k] = position++;
    });
  });
  return out;
}
