/**
 * Binary snapshots (docs/snapshot-format.md): everything a matcher needs in one file, loaded by
 * reading sections into typed arrays — no pass that parses entries — and refused whole, with an
 * `ERR_SNAPSHOT_*` error, when truncated, corrupted or of another version. Written to a temporary
 * file in the target's folder and renamed over it, so readers never see half a snapshot.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as zlib from 'node:zlib';
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError } from '../errors.js';
import { ExactIndex } from '../search/exact.js';
import { LinearIndex } from '../search/linear.js';
import type { MatcherTable } from '../tables.js';
import { packedEntryTable, packEntries, type EntryColumns, type StringColumn } from './entry-table.js';
import type { ListEntry } from './model.js';

import { SNAPSHOT_MAGIC } from './snapshot-magic.js';

export { SNAPSHOT_MAGIC };
/** The format version this release writes and reads. */
export const SNAPSHOT_VERSION = 1;

const HEADER_BYTES = 64;
const ROW_BYTES = 32;
const ALIGN = 64;
const NO_ALGORITHM = 0xffffffff;
/** More sections than any real snapshot has (a few per algorithm): a larger count is corruption. */
const MAX_SECTIONS = 4096;

const KIND = {
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
} as const;

/** The list-level metadata a snapshot carries. */
export interface SnapshotList {
  readonly name: string;
  readonly version: number;
}

interface MetaAlgorithm {
  readonly name: AlgorithmName;
  readonly bits: number;
  readonly count: number;
  readonly search: { readonly tier: 'linear' | 'exact' };
}

interface Meta {
  readonly created: string;
  readonly source?: string;
  readonly lists: readonly SnapshotList[];
  readonly algorithms: readonly MetaAlgorithm[];
}

/** What `readSnapshot` returns: the tables, ready for a `Matcher`, and the lists they hold. */
export interface Snapshot {
  readonly tables: ReadonlyMap<AlgorithmName, MatcherTable>;
  readonly lists: readonly SnapshotList[];
  readonly created: string;
  readonly bytes: number;
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (ISO-HDLC, the zlib/PNG one): zlib's when Node has it (20.15+), else a table.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (native !== undefined) return native(bytes) >>> 0;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Writing

interface Section {
  readonly kind: number;
  readonly algorithm: number;
  readonly part: number;
  readonly data: Uint8Array;
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

function entrySections(algorithm: number, columns: EntryColumns): Section[] {
  const strings = (offsetsKind: number, bytesKind: number, column: StringColumn): Section[] => [
    { kind: offsetsKind, algorithm, part: 0, data: bytesOf(column.offsets) },
    { kind: bytesKind, algorithm, part: 0, data: column.bytes },
  ];
  return [
    { kind: KIND.ENTRY_LIST, algorithm, part: 0, data: bytesOf(columns.listIndex) },
    ...strings(KIND.ENTRY_ID_OFFSETS, KIND.ENTRY_ID_BYTES, columns.ids),
    ...strings(KIND.ENTRY_LABEL_OFFSETS, KIND.ENTRY_LABEL_BYTES, columns.labels),
    ...strings(KIND.ENTRY_METADATA_OFFSETS, KIND.ENTRY_METADATA_BYTES, columns.metadata),
  ];
}

/**
 * Writes a snapshot of `entries` (normalised) to `path`, atomically: a temporary file beside it,
 * flushed, then renamed over it.
 *
 * @example
 * ```ts
 * await writeSnapshot('lists.snap', { lists: [{ name: 'ncmec', version: 3 }], entries });
 * ```
 */
export async function writeSnapshot(
  path: string,
  source: { readonly lists: readonly SnapshotList[]; readonly entries: readonly ListEntry[]; readonly source?: string },
): Promise<{ readonly bytes: number; readonly entries: number }> {
  const listNames = source.lists.map((l) => l.name);
  if (listNames.length > 0x10000) throw new RangeError(`Expected at most 65536 lists but received ${listNames.length}`);
  const grouped = new Map<AlgorithmName, ListEntry[]>();
  for (const entry of source.entries) {
    let group = grouped.get(entry.algorithm);
    if (group === undefined) grouped.set(entry.algorithm, (group = []));
    group.push(entry);
  }
  const sections: Section[] = [];
  const algorithms: MetaAlgorithm[] = [];
  for (const [name, group] of grouped) {
    const algorithm = getAlgorithm(name);
    const number = algorithms.length;
    const hashes = group.map((e) => algorithm.parse(e.hash));
    if (algorithm.kind === 'perceptual') {
      const planes = LinearIndex.fromHashes(hashes, algorithm.bits).planes();
      sections.push({ kind: KIND.PLANE_A, algorithm: number, part: 0, data: planes.a }, { kind: KIND.PLANE_B, algorithm: number, part: 0, data: planes.b });
      sections.push(...entrySections(number, packEntries(group, listNames)));
    } else {
      // Entries follow the sorted hashes, so positions found by binary search are entry numbers.
      const { index, order } = ExactIndex.build(hashes, algorithm.bits / 8);
      sections.push({ kind: KIND.EXACT, algorithm: number, part: 0, data: index.sorted });
      sections.push(...entrySections(number, packEntries(Array.from(order, (i) => group[i] as ListEntry), listNames)));
    }
    algorithms.push({ name, bits: algorithm.bits, count: group.length, search: { tier: algorithm.kind === 'exact' ? 'exact' : 'linear' } });
  }
  const meta: Meta = { created: new Date().toISOString(), ...(source.source === undefined ? {} : { source: source.source }), lists: source.lists, algorithms };
  sections.unshift({ kind: KIND.META, algorithm: NO_ALGORITHM, part: 0, data: new TextEncoder().encode(JSON.stringify(meta)) });

  // Lay out: header, table, then each section at the next multiple of 64.
  const table = new DataView(new ArrayBuffer(sections.length * ROW_BYTES));
  let offset = align(HEADER_BYTES + sections.length * ROW_BYTES);
  const offsets: number[] = [];
  sections.forEach((s, i) => {
    offsets.push(offset);
    const row = i * ROW_BYTES;
    table.setUint32(row, s.kind, true);
    table.setUint32(row + 4, s.algorithm, true);
    table.setUint32(row + 8, s.part, true);
    table.setUint32(row + 12, crc32(s.data), true);
    table.setBigUint64(row + 16, BigInt(offset), true);
    table.setBigUint64(row + 24, BigInt(s.data.length), true);
    offset = align(offset + s.data.length);
  });
  const size = offset;
  const header = new DataView(new ArrayBuffer(HEADER_BYTES));
  new Uint8Array(header.buffer).set(SNAPSHOT_MAGIC, 0);
  header.setUint32(8, SNAPSHOT_VERSION, true);
  header.setUint32(12, sections.length, true);
  header.setBigUint64(16, BigInt(size), true);
  header.setUint32(24, crc32(new Uint8Array(table.buffer)), true);
  header.setUint32(28, crc32(new Uint8Array(header.buffer, 0, 28)), true);

  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let file;
  try {
    file = await open(temporary, 'wx');
  } catch (error) {
    throw new HashwardenError('ERR_STORE', `Cannot write the snapshot ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await file.write(new Uint8Array(header.buffer), 0, HEADER_BYTES, 0);
    await file.write(new Uint8Array(table.buffer), 0, table.byteLength, HEADER_BYTES);
    for (const [i, s] of sections.entries()) if (s.data.length > 0) await file.write(s.data, 0, s.data.length, offsets[i]);
    await file.truncate(size);
    await file.sync();
    await file.close();
    await rename(temporary, path);
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw new HashwardenError('ERR_STORE', `Cannot write the snapshot ${path}: ${(error as Error).message}`, { cause: error });
  }
  return { bytes: size, entries: source.entries.length };
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

// ---------------------------------------------------------------------------------------------
// Reading

function fail(code: 'ERR_SNAPSHOT_FORMAT' | 'ERR_SNAPSHOT_VERSION' | 'ERR_SNAPSHOT_TRUNCATED' | 'ERR_SNAPSHOT_CORRUPT', path: string, why: string): never {
  throw new HashwardenError(code, `${path}: ${why}`);
}

/** True when `head` starts with the snapshot magic (so `Matcher.open` can tell snapshot from SQLite). */
export function isSnapshot(head: Uint8Array): boolean {
  return head.length >= SNAPSHOT_MAGIC.length && SNAPSHOT_MAGIC.every((b, i) => head[i] === b);
}

/**
 * Reads and checks a snapshot. Refuses the file whole on any inconsistency: `ERR_SNAPSHOT_FORMAT`
 * (not a snapshot, bad layout), `ERR_SNAPSHOT_VERSION`, `ERR_SNAPSHOT_TRUNCATED`,
 * `ERR_SNAPSHOT_CORRUPT` (a checksum); `ERR_INPUT_READ` when it cannot be read at all.
 *
 * @example
 * ```ts
 * const { tables, lists } = await readSnapshot('lists.snap');
 * ```
 */
export async function readSnapshot(path: string): Promise<Snapshot> {
  let bytes: Uint8Array;
  try {
    const size = (await stat(path)).size;
    // Its own ArrayBuffer at offset 0: every 64-aligned section can be viewed as Uint32/Uint16.
    bytes = new Uint8Array(size);
    const file = await open(path, 'r');
    try {
      let done = 0;
      while (done < size) {
        const { bytesRead } = await file.read(bytes, done, Math.min(size - done, 1 << 30), done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < size) bytes = bytes.subarray(0, done);
    } finally {
      await file.close();
    }
  } catch (error) {
    throw new HashwardenError('ERR_INPUT_READ', `Cannot read the snapshot ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseSnapshot(bytes, path);
}

/** Checks and decodes snapshot bytes already in memory (see `readSnapshot`). */
export function parseSnapshot(bytes: Uint8Array, path = '<snapshot>'): Snapshot {
  if (bytes.length < HEADER_BYTES) {
    if (bytes.length >= SNAPSHOT_MAGIC.length && !isSnapshot(bytes)) fail('ERR_SNAPSHOT_FORMAT', path, 'not a hashwarden snapshot (wrong magic)');
    fail('ERR_SNAPSHOT_TRUNCATED', path, `${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  if (!isSnapshot(bytes)) fail('ERR_SNAPSHOT_FORMAT', path, 'not a hashwarden snapshot (wrong magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (crc32(bytes.subarray(0, 28)) !== view.getUint32(28, true)) fail('ERR_SNAPSHOT_CORRUPT', path, 'header checksum mismatch');
  for (let i = 32; i < HEADER_BYTES; i++) if (bytes[i] !== 0) fail('ERR_SNAPSHOT_FORMAT', path, 'reserved header bytes are not zero');
  const version = view.getUint32(8, true);
  if (version !== SNAPSHOT_VERSION) fail('ERR_SNAPSHOT_VERSION', path, `format version ${version}; this release reads version ${SNAPSHOT_VERSION}`);
  const count = view.getUint32(12, true);
  const size = Number(view.getBigUint64(16, true));
  if (count === 0 || count > MAX_SECTIONS) fail('ERR_SNAPSHOT_FORMAT', path, `${count} sections`);
  if (bytes.length < size) fail('ERR_SNAPSHOT_TRUNCATED', path, `${bytes.length} bytes of ${size}`);
  if (bytes.length > size) fail('ERR_SNAPSHOT_FORMAT', path, `${bytes.length - size} bytes after the end`);
  const tableEnd = HEADER_BYTES + count * ROW_BYTES;
  if (tableEnd > size) fail('ERR_SNAPSHOT_FORMAT', path, 'section table beyond the end of the file');
  if (crc32(bytes.subarray(HEADER_BYTES, tableEnd)) !== view.getUint32(24, true)) fail('ERR_SNAPSHOT_CORRUPT', path, 'section table checksum mismatch');

  const sections: Section[] = [];
  let previousEnd = tableEnd;
  for (let i = 0; i < count; i++) {
    const row = HEADER_BYTES + i * ROW_BYTES;
    const offset = Number(view.getBigUint64(row + 16, true));
    const length = Number(view.getBigUint64(row + 24, true));
    if (offset % ALIGN !== 0 || offset < previousEnd || offset + length > size) fail('ERR_SNAPSHOT_FORMAT', path, `section ${i} is misplaced`);
    // Padding is zero, so that no byte of the file escapes every check.
    for (let p = previousEnd; p < offset; p++) if (bytes[p] !== 0) fail('ERR_SNAPSHOT_CORRUPT', path, `non-zero padding before section ${i}`);
    previousEnd = offset + length;
    const data = bytes.subarray(offset, offset + length);
    if (crc32(data) !== view.getUint32(row + 12, true)) fail('ERR_SNAPSHOT_CORRUPT', path, `section ${i} checksum mismatch`);
    sections.push({ kind: view.getUint32(row, true), algorithm: view.getUint32(row + 4, true), part: view.getUint32(row + 8, true), data });
  }

  for (let p = previousEnd; p < size; p++) if (bytes[p] !== 0) fail('ERR_SNAPSHOT_CORRUPT', path, 'non-zero padding after the last section');
  const metaSection = sections.find((s) => s.kind === KIND.META);
  if (metaSection === undefined) fail('ERR_SNAPSHOT_FORMAT', path, 'no META section');
  let meta: Meta;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(metaSection.data)) as Meta;
  } catch (error) {
    fail('ERR_SNAPSHOT_FORMAT', path, `META is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(meta.lists) || !Array.isArray(meta.algorithms)) fail('ERR_SNAPSHOT_FORMAT', path, 'META lacks lists or algorithms');
  const listNames = meta.lists.map((l) => String(l.name));

  const tables = new Map<AlgorithmName, MatcherTable>();
  meta.algorithms.forEach((entry, number) => {
    let algorithm;
    try {
      algorithm = getAlgorithm(entry.name);
    } catch {
      fail('ERR_SNAPSHOT_FORMAT', path, `unknown algorithm ${JSON.stringify(entry.name)}`);
    }
    const n = entry.count;
    if (!Number.isInteger(n) || n < 0) fail('ERR_SNAPSHOT_FORMAT', path, `bad entry count for ${algorithm.name}`);
    const section = (kind: number, expectedBytes?: number): Uint8Array => {
      const s = sections.find((x) => x.kind === kind && x.algorithm === number);
      if (s === undefined) fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: missing section kind ${kind}`);
      if (expectedBytes !== undefined && s.data.length !== expectedBytes) fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: section kind ${kind} has ${s.data.length} bytes, expected ${expectedBytes}`);
      return s.data;
    };
    const u32 = (data: Uint8Array) => new Uint32Array(data.buffer, data.byteOffset, data.length / 4);
    const strings = (offsetsKind: number, bytesKind: number): StringColumn => {
      const offsets = u32(section(offsetsKind, (n + 1) * 4));
      const data = section(bytesKind);
      for (let i = 0; i < n; i++) if ((offsets[i] as number) > (offsets[i + 1] as number)) fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: string offsets out of order`);
      if (offsets[0] !== 0 || offsets[n] !== data.length) fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: string offsets do not span their bytes`);
      return { offsets, bytes: data };
    };
    const listData = section(KIND.ENTRY_LIST, n * 2);
    const listIndex = new Uint16Array(listData.buffer, listData.byteOffset, n);
    for (let i = 0; i < n; i++) if ((listIndex[i] as number) >= listNames.length) fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: entry ${i} names list ${listIndex[i]} of ${listNames.length}`);
    const entries = packedEntryTable({
      lists: listNames,
      listIndex,
      ids: strings(KIND.ENTRY_ID_OFFSETS, KIND.ENTRY_ID_BYTES),
      labels: strings(KIND.ENTRY_LABEL_OFFSETS, KIND.ENTRY_LABEL_BYTES),
      metadata: strings(KIND.ENTRY_METADATA_OFFSETS, KIND.ENTRY_METADATA_BYTES),
    });
    if (algorithm.kind === 'perceptual') {
      const half = algorithm.bits / 16;
      const index = LinearIndex.fromPlanes(section(KIND.PLANE_A, n * half), section(KIND.PLANE_B, n * half), n);
      tables.set(algorithm.name, { kind: 'perceptual', algorithm, index, entries });
    } else {
      let index: ExactIndex;
      try {
        index = ExactIndex.fromSorted(section(KIND.EXACT, (n * algorithm.bits) / 8), algorithm.bits / 8);
      } catch (error) {
        fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: ${(error as Error).message}`);
      }
      tables.set(algorithm.name, { kind: 'exact', algorithm, index, entries });
    }
  });
  return { tables, lists: meta.lists, created: meta.created, bytes: bytes.length };
}
