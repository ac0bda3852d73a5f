/**
 * Which sections an algorithm's table has in a snapshot, and the size each may have given META's
 * count: the one rule the writer keeps and the reader checks, every row against it, before it
 * allocates anything (so a forged table cannot make it allocate more than the file holds).
 */
import { MAX_VPDQ_ENTRY_FRAMES, VPDQ_PACKED_FRAME_BYTES } from '../algorithms/vpdq.js';
import { MAX_FIELD_BYTES, MAX_METADATA_BYTES } from '../lists/entry.js';
import { KIND, type SnapshotAlgorithm, type SnapshotVideos } from './format.js';

/**
 * Largest section: the most one WebAssembly memory (an arena, where a section is read and
 * checksummed) can hold. Far above what 2^26 entries of bounded fields need in practice.
 */
export const MAX_SECTION_BYTES = 2 ** 32;

/** Most entries of one algorithm: entry numbers are u32 in the MIH tables, and 2^26 keeps every plane under 1 GiB. */
export const MAX_SNAPSHOT_ENTRIES = 2 ** 26;

/** The sizes, in bytes, a section may have: `min` to `max`, or 0 when `orEmpty`. */
export interface Bounds {
  readonly min: number;
  readonly max: number;
  readonly orEmpty: boolean;
}

/** A column that may be stored empty (every entry in list 0, a column empty for every entry), else `bytes`. */
const emptyOr = (bytes: number): Bounds => ({ min: bytes, max: bytes, orEmpty: true });
const exactly = (bytes: number): Bounds => ({ min: bytes, max: bytes, orEmpty: false });
const between = (min: number, max: number): Bounds => ({ min, max, orEmpty: false });

/**
 * The sizes section `kind`, part `part`, of `table` may have, or undefined when such a table has
 * no such section. Sizes are exact except string bytes, bounded by the longest field each entry
 * may hold (ids are never empty). Bounds, not the sizes of a real file, may exceed
 * {@link MAX_SECTION_BYTES}; sizes beyond it are refused on their own.
 */
export function sectionBounds(kind: number, part: number, table: SnapshotAlgorithm): Bounds | undefined {
  const n = table.count;
  const exact = table.search.tier === 'exact';
  const widths = table.search.tier === 'mih' ? table.search.substringBits : [];
  if (part !== 0 && kind !== KIND.MIH_OFFSETS && kind !== KIND.MIH_IDS) return undefined;
  switch (kind) {
    case KIND.PLANE_A:
    case KIND.PLANE_B:
      return exact ? undefined : exactly((n * table.bits) / 16);
    case KIND.EXACT:
      return exact ? exactly((n * table.bits) / 8) : undefined;
    case KIND.MIH_OFFSETS: {
      const width = widths[part];
      return width === undefined ? undefined : exactly((2 ** width + 1) * 4);
    }
    case KIND.MIH_IDS:
      return part < widths.length ? exactly(n * 4) : undefined;
    default:
      return entryBounds(kind, n);
  }
}

/** The sizes of the entry columns every table has, for `n` entries; undefined for another kind. */
function entryBounds(kind: number, n: number): Bounds | undefined {
  switch (kind) {
    case KIND.ENTRY_LIST:
      return emptyOr(n * 2);
    case KIND.ENTRY_ID_OFFSETS:
    case KIND.ENTRY_LABEL_OFFSETS:
    case KIND.ENTRY_METADATA_OFFSETS:
      return emptyOr((n + 1) * 4);
    case KIND.ENTRY_ID_BYTES:
      return between(n, n * MAX_FIELD_BYTES);
    case KIND.ENTRY_LABEL_BYTES:
      return between(0, n * MAX_FIELD_BYTES);
    case KIND.ENTRY_METADATA_BYTES:
      return between(0, n * MAX_METADATA_BYTES);
    default:
      return undefined;
  }
}

/**
 * The sizes a section of the vPDQ table (`VPDQ_TABLE`) may have: the entry columns, and the
 * frames, exactly META's frame count of packed frames, each entry at most `MAX_VPDQ_ENTRY_FRAMES`.
 */
export function videoSectionBounds(kind: number, part: number, videos: SnapshotVideos): Bounds | undefined {
  if (part !== 0) return undefined;
  switch (kind) {
    case KIND.VPDQ_FRAME_OFFSETS:
      return exactly((videos.count + 1) * 4);
    case KIND.VPDQ_FRAME_BYTES:
      return videos.frames > videos.count * MAX_VPDQ_ENTRY_FRAMES
        ? undefined
        : exactly(videos.frames * VPDQ_PACKED_FRAME_BYTES);
    default:
      return entryBounds(kind, videos.count);
  }
}

/** The sections of the vPDQ table, as [kind, part]: every one, none optional. */
export function requiredVideoSections(): [kind: number, part: number][] {
  return [...ENTRY_KINDS, KIND.VPDQ_FRAME_OFFSETS, KIND.VPDQ_FRAME_BYTES].map((kind) => [kind, 0]);
}

const ENTRY_KINDS = [
  KIND.ENTRY_LIST,
  KIND.ENTRY_ID_OFFSETS,
  KIND.ENTRY_ID_BYTES,
  KIND.ENTRY_LABEL_OFFSETS,
  KIND.ENTRY_LABEL_BYTES,
  KIND.ENTRY_METADATA_OFFSETS,
  KIND.ENTRY_METADATA_BYTES,
];

/** True when a section of `length` bytes fits `bounds` (and {@link MAX_SECTION_BYTES}). */
export function fits(length: number, bounds: Bounds): boolean {
  if (length > MAX_SECTION_BYTES) return false;
  return (bounds.orEmpty && length === 0) || (length >= bounds.min && length <= bounds.max);
}

/** `bounds` in words, for a refusal: `64`, `0 or 64`, `3 to 9216`. */
export function describeBounds(bounds: Bounds): string {
  const size = bounds.min === bounds.max ? `${bounds.min}` : `${bounds.min} to ${bounds.max}`;
  return bounds.orEmpty ? `0 or ${size}` : size;
}

/** The sections a table must have, as [kind, part]: every one, none optional (empty ones are stored empty). */
export function requiredSections(table: SnapshotAlgorithm): [kind: number, part: number][] {
  const entries: [number, number][] = ENTRY_KINDS.map((kind) => [kind, 0]);
  if (table.search.tier === 'exact') return [[KIND.EXACT, 0], ...entries];
  const mih = table.search.tier === 'mih' ? table.search.substringBits : [];
  return [
    [KIND.PLANE_A, 0],
    [KIND.PLANE_B, 0],
    ...mih.flatMap((_, part): [number, number][] => [
      [KIND.MIH_OFFSETS, part],
      [KIND.MIH_IDS, part],
    ]),
    ...entries,
  ];
}
