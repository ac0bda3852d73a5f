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

/** Each algorithm's name and hash bytes by its code in the blob (undefined, 0: no such code). */
const NAME_OF: readonly (AlgorithmName | undefined)[] = Array.from({ length: 256 }, (_, code) => BY_CODE.get(code));
const WIDTH_OF = Uint8Array.from(NAME_OF, (name) => (name === undefined ? 0 : WIDTHS[name]));

/**
 * What {@link step} read of one hash, read before the next step: one object reused for every hash
 * walked rather than one a hash (a rescan walks millions of records).
 */
const hashRead = { code: 0, tag: 0, frame: -1, width: 0 };

/** The record at `start`..`end` of `bytes`, checked for its format; `ERR_STORE` when missing (`start` -1) or of another version. */
function checkFormat(bytes: Uint8Array, start: number, end: number): void {
  if (start < 0) throw damaged('its hashes (missing or over 16 MiB)');
  if (start >= end || bytes[start] !== SEEN_FORMAT)
    throw damaged(`its hashes (format ${start < end ? bytes[start] : 'missing'})`);
}

/**
 * Reads the hash of a record at `at` (below `end`, the record's end) into {@link hashRead}, checking it;
 * returns where its bytes start. `ERR_STORE` when it does not decode.
 */
function step(bytes: Uint8Array, at: number, end: number): number {
  const code = bytes[at] as number;
  const width = WIDTH_OF[code] as number;
  if (width === 0) throw damaged(`its hashes (algorithm code ${code})`);
  const tag = at + 1 < end ? (bytes[at + 1] as number) : undefined;
  if (
    tag === undefined ||
    (tag & ~(TRANSFORM_MASK | TRIMMED | HAS_FRAME)) !== 0 ||
    (tag & TRANSFORM_MASK) > DIHEDRAL_NAMES.length
  )
    throw damaged(`its hashes (tag ${tag ?? 'missing'})`);
  let from = at + 2;
  let frame = -1;
  if ((tag & HAS_FRAME) !== 0) {
    if (from + 2 > end) throw damaged('its hashes (a short frame)');
    frame = (bytes[from] as number) | ((bytes[from + 1] as number) << 8);
    from += 2;
  }
  if (from + width > end) throw damaged('its hashes (a short hash)');
  hashRead.code = code;
  hashRead.tag = tag;
  hashRead.frame = frame;
  hashRead.width = width;
  return from;
}

/**
 * Unpacks a blob {@link encodeSearched} made; each hash a view into `blob`. `ERR_STORE` for a blob
 * that is not one (an unknown version or algorithm code, a tag out of range, a short hash).
 */
export function decodeSearched(stored: Uint8Array | null): SearchedQuery[] {
  const blob = checkedBlob(stored);
  const out: SearchedQuery[] = [];
  for (let at = 1; at < blob.length; ) {
    const from = step(blob, at, blob.length);
    out.push(queryAt(blob, from));
    at = from + hashRead.width;
  }
  return out;
}

/**
 * The `position`-th hash of a blob {@link encodeSearched} made, as {@link decodeSearched} gives it,
 * unpacking none of the others (a record of a long animation holds thousands); undefined past its
 * last. `ERR_STORE` as {@link decodeSearched} for the hashes up to it.
 */
export function searchedAt(stored: Uint8Array | null, position: number): SearchedQuery | undefined {
  const blob = checkedBlob(stored);
  for (let at = 1, k = 0; at < blob.length; k++) {
    const from = step(blob, at, blob.length);
    if (k === position) return queryAt(blob, from);
    at = from + hashRead.width;
  }
  return undefined;
}

/** The blob a read returned, checked for its format; `ERR_STORE` when missing or of another version. */
function checkedBlob(stored: Uint8Array | null): Uint8Array {
  // A Buffer from SQLite read as a plain Uint8Array, so the hashes are what `matchImage` made.
  const blob = stored === null ? new Uint8Array(0) : new Uint8Array(stored.buffer, stored.byteOffset, stored.length);
  checkFormat(blob, stored === null ? -1 : 0, blob.length);
  return blob;
}

/** The hash {@link step} has just read, whose bytes start at `from`, as a query (its hash a view into `blob`). */
function queryAt(blob: Uint8Array, from: number): SearchedQuery {
  const { code, tag, frame, width } = hashRead;
  const transform = tag & TRANSFORM_MASK;
  return {
    algorithm: NAME_OF[code] as AlgorithmName,
    hash: blob.subarray(from, from + width),
    ...(transform === 0 ? {} : { transform: DIHEDRAL_NAMES[transform - 1] as DihedralName }),
    ...((tag & TRIMMED) !== 0 ? { trimmed: true as const } : {}),
    ...(frame === -1 ? {} : { frame }),
  };
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
 * Records' blobs back to back in one buffer, as a rescan reads a group of them: record i's is bytes
 * `start[i]` to `end[i]` of `bytes`, `start[i]` -1 when the store gave none (missing, or over its bound).
 */
export interface RecordBlobs {
  readonly bytes: Uint8Array;
  readonly start: Float64Array;
  readonly end: Float64Array;
}

/** `blobs` (records' blobs, as {@link decodeSearched} takes them) as {@link RecordBlobs}. */
export function recordBlobs(blobs: readonly (Uint8Array | null)[]): RecordBlobs {
  const start = new Float64Array(blobs.length);
  const end = new Float64Array(blobs.length);
  let size = 0;
  blobs.forEach((blob, i) => {
    start[i] = blob === null ? -1 : size;
    size += blob?.length ?? 0;
    end[i] = blob === null ? -1 : size;
  });
  const bytes = new Uint8Array(size);
  blobs.forEach((blob, i) => {
    if (blob !== null) bytes.set(blob, start[i] as number);
  });
  return { bytes, start, end };
}

/** Record `record`'s blob of `blobs`, a view (null when the store gave none). */
export function recordBlob(blobs: RecordBlobs, record: number): Uint8Array | null {
  const start = blobs.start[record] as number;
  return start < 0 ? null : blobs.bytes.subarray(start, blobs.end[record] as number);
}

/** One algorithm's hashes as {@link packSearched} fills them: room for the most, `filled` so far. */
interface PackSlot {
  readonly hashes: Uint8Array;
  readonly view: DataView;
  readonly record: Uint32Array;
  readonly position: Uint32Array;
  filled: number;
}

/**
 * Every hash of `blobs` of the algorithms `wanted` (default: all), packed per algorithm in record
 * order, in one walk of the blobs without an object per record or hash: a rescan reads millions of
 * records and finds a few, and unpacks into an object only a hash a search found ({@link searchedAt}).
 * `ERR_STORE` for a blob that does not decode, as {@link decodeSearched}.
 */
export function packSearched(
  blobs: RecordBlobs,
  wanted?: ReadonlySet<AlgorithmName>,
): Map<AlgorithmName, PackedHashes> {
  const { bytes, start, end } = blobs;
  const source = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  // Sized for the most hashes of each width the bytes could hold (a hash takes at least its width
  // and 2 bytes), then cut to what was found: one walk instead of one to count and one to copy.
  const slots: PackSlot[] = [];
  for (const [name, code] of Object.entries(CODES) as [AlgorithmName, number][]) {
    if (wanted !== undefined && !wanted.has(name)) continue;
    const most = Math.floor(bytes.length / (WIDTHS[name] + 2));
    const hashes = new Uint8Array(most * WIDTHS[name]);
    slots[code] = {
      hashes,
      view: new DataView(hashes.buffer),
      record: new Uint32Array(most),
      position: new Uint32Array(most),
      filled: 0,
    };
  }
  for (let record = 0; record < start.length; record++) {
    const from = start[record] as number;
    const to = end[record] as number;
    checkFormat(bytes, from, to);
    let position = 0;
    for (let at = from + 1; at < to; position++) {
      const hash = step(bytes, at, to);
      const { code, width } = hashRead;
      at = hash + width;
      // An algorithm the search has no table for: left unpacked, its place in the record still counted.
      const slot = slots[code];
      if (slot === undefined) continue;
      const k = slot.filled++;
      // Four bytes at a time (a view to copy from would be an object a hash), then any bytes left.
      const into = k * width;
      let b = 0;
      for (; b + 4 <= width; b += 4) slot.view.setUint32(into + b, source.getUint32(hash + b));
      for (; b < width; b++) slot.hashes[into + b] = bytes[hash + b] as number;
      slot.record[k] = record;
      slot.position[k] = position;
    }
  }
  const out = new Map<AlgorithmName, PackedHashes>();
  slots.forEach((slot, code) => {
    if (slot.filled === 0) return;
    const width = WIDTH_OF[code] as number;
    out.set(NAME_OF[code] as AlgorithmName, {
      count: slot.filled,
      hashes: slot.hashes.subarray(0, slot.filled * width),
      record: slot.record.subarray(0, slot.filled),
      position: slot.position.subarray(0, slot.filled),
    });
  });
  return out;
}
