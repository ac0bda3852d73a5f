/**
 * The snapshot format (docs/snapshot-format.md): a 64-byte header (magic, version, section count,
 * file size, checksums), a table of 32-byte section rows (kind, algorithm, part, checksum, offset,
 * length), then each section at a multiple of 64 bytes. This file holds that layout and the types
 * both sides share, and imports no code (types only): the matcher reads the magic from here at
 * load without loading the reader (`read.ts`) or the writer (`write.ts`).
 */
import type { KeyObject } from 'node:crypto';
import type { AlgorithmName } from '../algorithms/registry.js';
import type { ListEntry } from '../lists/entry.js';
import type { SearchTierOptions } from '../search/tier.js';
import type { MatcherTable, TableSearch } from '../search/tables.js';
import type { PackedVpdq } from '../search/vpdq.js';

/**
 * The snapshot signature, `\x89HWSNAP\n`: the high byte and the newline catch transfers that
 * mangle binary files, as PNG's signature does.
 */
export const SNAPSHOT_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0x89, 0x48, 0x57, 0x53, 0x4e, 0x41, 0x50, 0x0a);

/**
 * The format version this release writes. Version 3 added the signature block (its length in
 * header bytes 32–35, reserved and zero in version 2) and META's `sequence`; a release that reads
 * only version 2 refuses it with ERR_SNAPSHOT_VERSION rather than ignore a signature.
 */
export const SNAPSHOT_VERSION = 3;
/** The older version this release still reads: unsigned, no sequence (read as 0). @internal */
export const SNAPSHOT_VERSION_UNSIGNED = 2;
/** Where the header holds the signature block's length (0: unsigned). @internal */
export const HEADER_SIGNATURE_AT = 32;

/** Size of the header. @internal */
export const HEADER_BYTES = 64;
/** Where the header's own checksum is: it covers the bytes before it, reserved ones included. @internal */
export const HEADER_CHECKSUM_AT = 56;
/** Size of a row of the section table. @internal */
export const ROW_BYTES = 32;
/** Every section starts at a multiple of this. @internal */
export const ALIGN = 64;
/** The algorithm number of a section of no algorithm (META). @internal */
export const NO_ALGORITHM = 0xffff;
/**
 * The algorithm number of the vPDQ table's sections: not a place in META's `algorithms` (vPDQ is
 * no registry algorithm: its entries are sets of frames), so a release that predates it refuses
 * the file (a section of an unknown table) rather than reading it without its videos. @internal
 */
export const VPDQ_TABLE = 0xfffe;
/** More sections than any real snapshot has (a few per algorithm): a larger count is corruption. @internal */
export const MAX_SECTIONS = 4096;
/** Largest META section: it holds list names and versions, never entries. @internal */
export const MAX_META_BYTES = 16 << 20;

/** The kinds of section, as numbered in the file. @internal */
export const KIND = {
  META: 1,
  PLANE_A: 2,
  PLANE_B: 3,
  EXACT: 4,
  MIH_OFFSETS: 5,
  MIH_IDS: 6,
  ENTRY_LIST: 7,
  ENTRY_ID_OFFSETS: 8,
  ENTRY_ID_BYTES: 9,
  ENTRY_LABEL_OFFSETS: 10,
  ENTRY_LABEL_BYTES: 11,
  ENTRY_METADATA_OFFSETS: 12,
  ENTRY_METADATA_BYTES: 13,
  /** The vPDQ table only: `count + 1` u32 starts of each entry's frames in VPDQ_FRAME_BYTES. */
  VPDQ_FRAME_OFFSETS: 14,
  /** The vPDQ table only: every entry's frames back to back, 41 bytes a frame (`packVpdq`). */
  VPDQ_FRAME_BYTES: 15,
} as const;

/** The vPDQ entries of a snapshot, as META counts them. */
export interface SnapshotVideos {
  /** Entries (listed videos). */
  readonly count: number;
  /** Frames of all entries together, as stored (every quality). */
  readonly frames: number;
}

/** The list-level metadata a snapshot carries: each list's version and policy. */
export interface SnapshotList {
  readonly name: string;
  readonly version: number;
  /** Per-algorithm thresholds of the list; an algorithm not named uses the matcher's. */
  readonly thresholds?: Readonly<Partial<Record<AlgorithmName, number>>>;
  /** What a match on the list means (`Match.listLabel`). */
  readonly label?: string;
  /**
   * The list's entries quarantined when the snapshot was exported (`HashStore.disableEntry`),
   * left out of its tables; absent when none were (and in snapshots written before quarantine).
   */
  readonly quarantined?: readonly SnapshotQuarantine[];
  /** `'allow'` for an allow list; absent (every snapshot before allow lists) for a block list. */
  readonly action?: 'block' | 'allow';
}

/** An entry quarantined in a list when its snapshot was exported: not in the snapshot's tables. */
export interface SnapshotQuarantine {
  readonly id: string;
  readonly reason: string;
  /** When the quarantine ends, ISO 8601 UTC; absent: until lifted. A snapshot does not change when it passes. */
  readonly until?: string;
}

/** One algorithm of a snapshot: its entry count and how its entries are searched. */
export interface SnapshotAlgorithm {
  readonly name: AlgorithmName;
  readonly bits: number;
  readonly count: number;
  readonly search: TableSearch;
}

/** The META section: JSON of the lists and of how each algorithm is searched. @internal */
export interface Meta {
  readonly created: string;
  /** Absent in version 2. */
  readonly sequence?: number;
  readonly source?: string;
  readonly lists: readonly SnapshotList[];
  readonly algorithms: readonly SnapshotAlgorithm[];
  /** Absent when the snapshot holds no vPDQ entry (and in every snapshot written before them). */
  readonly videos?: SnapshotVideos;
}

/** What `readSnapshot` tells of a snapshot: the lists it holds and how each algorithm is searched. */
export interface Snapshot {
  readonly lists: readonly SnapshotList[];
  readonly algorithms: readonly SnapshotAlgorithm[];
  /** The vPDQ entries held (one listed video each), when any: their count and frames. */
  readonly videos?: SnapshotVideos;
  readonly created: string;
  /**
   * The snapshot's place in the order of its publisher's snapshots (`SnapshotSource.sequence`): a
   * matcher refuses to reload to a lower one. 0 for a version-2 snapshot, which has none.
   */
  readonly sequence: number;
  readonly source?: string;
  readonly bytes: number;
  /**
   * The id of the key the snapshot is signed with (`snapshotKeyId`), when signed; `verified` is
   * true only when it was read with `trustedKeys` (then it always is: anything else is refused).
   */
  readonly signature?: { readonly keyId: string; readonly verified: boolean };
}

/** Options of `readSnapshot` and `parseSnapshot`. */
export interface ReadSnapshotOptions {
  /**
   * Public keys (Ed25519, KeyObject or PEM) whose signatures are trusted. When given, a snapshot
   * not signed by one of them, or changed in any byte since, is refused with
   * `ERR_SNAPSHOT_SIGNATURE`. Default: signatures are not checked.
   */
  readonly trustedKeys?: readonly (KeyObject | string)[];
}

/** A snapshot with its tables, ready for a `Matcher` (internal: `Matcher.open` takes it). */
export interface LoadedSnapshot extends Snapshot {
  readonly tables: ReadonlyMap<AlgorithmName, MatcherTable>;
  /** The vPDQ entries, packed (their frames' bytes checked only for their layout); absent when none. */
  readonly packedVideos?: PackedVpdq;
}

/** What `writeSnapshot` writes: the lists (name, version), their entries, and search options. */
export interface SnapshotSource {
  readonly lists: readonly SnapshotList[];
  /** Normalised entries (`normalizeEntry`; vPDQ ones too), each in one of `lists`. */
  readonly entries: readonly ListEntry[];
  /** Where the entries came from (e.g. the store's path), kept in META. */
  readonly source?: string;
  /**
   * The perceptual index to store: as `MatcherOptions.search` (tier `auto`, `linear` or `mih`,
   * `substringBits`). Default: automatic, by list size.
   */
  readonly search?: SearchTierOptions;
  /**
   * The file's permission bits, set whatever the umask. Default: those of the file replaced (which
   * also keeps its owner and group), or `0o600` (owner only, see docs/security.md) for a new file;
   * `0o640` lets a service running as another user of the file's group read it.
   */
  readonly mode?: number;
  /**
   * The snapshot's sequence, an integer from 0 to 2^53 − 1 that must grow from one snapshot of a
   * publisher to the next (a matcher refuses to reload to a lower one). Default: the time of
   * writing in milliseconds since 1970, which grows as long as the publisher's clock does.
   */
  readonly sequence?: number;
  /** Signs the snapshot with this Ed25519 private key (a KeyObject or PEM, `hashwarden keygen`). */
  readonly sign?: { readonly privateKey: KeyObject | string };
}

/** What `writeSnapshot` wrote. */
export interface SnapshotSummary {
  readonly bytes: number;
  /** Entries written: every algorithm's and the vPDQ entries. */
  readonly entries: number;
  readonly algorithms: readonly SnapshotAlgorithm[];
  /** The vPDQ entries written, when any. */
  readonly videos?: SnapshotVideos;
  /** The sequence written into META. */
  readonly sequence: number;
  /** The id of the signing key, when signed. */
  readonly keyId?: string;
}

/** The contents of a section that is stored empty. @internal */
export const NOTHING = new Uint8Array(0);

/** `n` rounded up to the next multiple of {@link ALIGN}. @internal */
export function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/** True when `head` starts with the snapshot magic (so `Matcher.open` can tell snapshot from SQLite). */
export function isSnapshot(head: Uint8Array): boolean {
  return head.length >= SNAPSHOT_MAGIC.length && SNAPSHOT_MAGIC.every((b, i) => head[i] === b);
}
