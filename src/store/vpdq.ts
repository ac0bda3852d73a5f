/**
 * vPDQ entries in a store, the rules both stores (SQLite here, PostgreSQL in src/postgres) share: a
 * vPDQ entry's hash column holds its frames packed (`packVpdq`, 41 bytes a frame) where every other
 * entry holds its hash's bytes; reads check the bytes as data from elsewhere (`unpackVpdq`) and give
 * the signal text back; the load for a matcher gathers the chosen lists' vPDQ entries into one
 * `PackedVpdq`, numbered as `packedEntries` numbers the same lists.
 */
import { ALGORITHM_NAMES } from '../algorithms/registry.js';
import {
  formatVpdqJson,
  MAX_VPDQ_ENTRY_FRAMES,
  unpackVpdq,
  VPDQ_ALGORITHM,
  VPDQ_PACKED_FRAME_BYTES,
} from '../algorithms/vpdq.js';
import type { EntryAlgorithm, EntryMetadata } from '../lists/entry.js';
import { byteColumn, type EntryColumns, stringColumn } from '../search/entry-table.js';
import type { PackedVpdq } from '../search/vpdq.js';

/** Every algorithm an import writes: the registry's and vPDQ. */
export const ENTRY_ALGORITHMS: readonly EntryAlgorithm[] = Object.freeze([...ALGORITHM_NAMES, VPDQ_ALGORITHM]);

/** Most bytes a vPDQ entry's hash column holds: {@link MAX_VPDQ_ENTRY_FRAMES} packed frames. */
export const MAX_VPDQ_HASH_BYTES = MAX_VPDQ_ENTRY_FRAMES * VPDQ_PACKED_FRAME_BYTES;

/**
 * A default vPDQ id's shape (`vpdq:` and 64 hex digits), for the SQL that finds two rows of the same
 * video without ids (the dedupe policy `merge`): SQL cannot take the SHA-256 of the signal text, so
 * two adds with this id and the same packed frames are taken as the same row. Only ids given in this
 * very shape, repeated with the same frames, differ from `hasDefaultId`'s exact answer.
 */
export const VPDQ_DEFAULT_ID_GLOB = `${VPDQ_ALGORITHM}:${'[0-9a-f]'.repeat(64)}`;

/** `VPDQ_DEFAULT_ID_GLOB` as a POSIX regular expression, for PostgreSQL's `~`. */
export const VPDQ_DEFAULT_ID_PATTERN = `^${VPDQ_ALGORITHM}:[0-9a-f]{64}$`;

const DEFAULT_SHAPED = new RegExp(VPDQ_DEFAULT_ID_PATTERN);

/** True for an id `VPDQ_DEFAULT_ID_GLOB` matches (the same test, in JavaScript). */
export function vpdqDefaultShaped(id: string): boolean {
  return DEFAULT_SHAPED.test(id);
}

/**
 * The signal text of a stored vPDQ hash: its bytes checked as `unpackVpdq` checks them (a length
 * not a whole number of frames, too many frames, a quality over 100, a bad timestamp:
 * `ERR_HASH_FORMAT`), then written as `normalizeEntry` writes a vPDQ entry's hash.
 */
export function storedVpdqHash(bytes: Uint8Array): string {
  return formatVpdqJson(unpackVpdq(bytes, MAX_VPDQ_ENTRY_FRAMES));
}

/** A stored vPDQ entry as a load gathers it: its list's number in the load, and its packed frames. */
export interface StoredVideo {
  readonly list: number;
  readonly id: string;
  readonly label?: string | undefined;
  readonly metadata?: EntryMetadata | undefined;
  readonly frames: Uint8Array;
}

/**
 * The packed vPDQ entries of a load over `lists` (the names in the load's order, each entry's
 * `list` an index into them), in the order given; undefined when there are none, so a load of image
 * lists carries nothing for videos. Metadata is written as `packedEntries` writes it (JSON text of
 * the stored object).
 */
export function packVideos(videos: readonly StoredVideo[], lists: readonly string[]): PackedVpdq | undefined {
  if (videos.length === 0) return undefined;
  const listIndex = new Uint16Array(videos.length);
  videos.forEach((v, i) => {
    listIndex[i] = v.list;
  });
  const columns: EntryColumns = {
    lists,
    listIndex,
    ids: stringColumn(videos.map((v) => v.id)),
    labels: stringColumn(videos.map((v) => v.label)),
    metadata: stringColumn(videos.map((v) => (v.metadata === undefined ? undefined : JSON.stringify(v.metadata)))),
  };
  return { columns, frames: byteColumn(videos.map((v) => v.frames)) };
}
