/**
 * Writing a snapshot (layout in `format.ts`, docs/snapshot-format.md): the entries grouped by
 * algorithm, each group's search tables built as the matcher will use them, then every section
 * checksummed and laid out. Written to a temporary file in the target's folder and renamed over
 * it, so readers never see half a snapshot.
 */
import { checkThresholds, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { HashAlgorithm } from '../algorithms/types.js';
import { HashwardenError } from '../errors.js';
import type { ListEntry } from '../lists/entry.js';
import { entryTableOf, packEntries, type EntryColumns, type StringColumn } from '../search/entry-table.js';
import { MihIndex, type MihTable } from '../search/mih.js';
import { buildTable, resolveSearch, sortExact, type MatcherTable, type ResolvedSearch } from '../search/tables.js';
import { writeAll, outputMode, writeOutputFile } from '../output-file.js';
import { LIST_ACTIONS } from '../store/types.js';
import { integerInRange, invalid, nonEmptyString, oneOf } from '../validate.js';
import { checksum } from './checksum.js';
import { describeBounds, fits, sectionBounds, videoSectionBounds, type Bounds } from './layout.js';
import { VPDQ_ALGORITHM, VPDQ_PACKED_FRAME_BYTES } from '../algorithms/vpdq.js';
import { packVpdqEntries, type PackedVpdq } from '../search/vpdq.js';
import {
  DIGEST_BYTES,
  DIGESTS_AT,
  privateKeyOf,
  sectionDigest,
  signatureBlockBytes,
  signBlock,
  snapshotKeyId,
} from './sign.js';
import {
  align,
  HEADER_BYTES,
  HEADER_CHECKSUM_AT,
  HEADER_SIGNATURE_AT,
  KIND,
  NO_ALGORITHM,
  NOTHING,
  ROW_BYTES,
  SNAPSHOT_MAGIC,
  SNAPSHOT_VERSION,
  VPDQ_TABLE,
  type Meta,
  type SnapshotAlgorithm,
  type SnapshotList,
  type SnapshotQuarantine,
  type SnapshotSource,
  type SnapshotSummary,
  type SnapshotVideos,
} from './format.js';

interface Section {
  readonly kind: number;
  readonly algorithm: number;
  readonly part: number;
  /** The bytes, or how to make them when their turn to be written comes (`length` of them). */
  readonly data: Uint8Array | (() => Uint8Array);
  readonly length?: number;
}

/** A section's length, known before its bytes are made. */
function lengthOf(s: Section): number {
  return typeof s.data === 'function' ? (s.length as number) : s.data.length;
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** True when every value is 0 (a column that can be stored as an empty section). */
function allZero(values: Uint16Array | Uint32Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) return false;
  return true;
}

function entrySections(algorithm: number, columns: EntryColumns): Section[] {
  // A column that is empty for every entry (labels and metadata often are) and a list column when
  // every entry is in list 0 (one list) are stored as empty sections: nothing to read or check
  // at load, 8–10 bytes an entry less (docs/snapshot-format.md).
  const strings = (offsetsKind: number, bytesKind: number, column: StringColumn): Section[] => [
    { kind: offsetsKind, algorithm, part: 0, data: column.bytes.length === 0 ? NOTHING : bytesOf(column.offsets) },
    { kind: bytesKind, algorithm, part: 0, data: column.bytes },
  ];
  return [
    {
      kind: KIND.ENTRY_LIST,
      algorithm,
      part: 0,
      data: allZero(columns.listIndex) ? NOTHING : bytesOf(columns.listIndex),
    },
    ...strings(KIND.ENTRY_ID_OFFSETS, KIND.ENTRY_ID_BYTES, columns.ids),
    ...strings(KIND.ENTRY_LABEL_OFFSETS, KIND.ENTRY_LABEL_BYTES, columns.labels),
    ...strings(KIND.ENTRY_METADATA_OFFSETS, KIND.ENTRY_METADATA_BYTES, columns.metadata),
  ];
}

/** A table to write, with its entries' columns in the table's order. */
interface WrittenTable {
  readonly table: MatcherTable;
  readonly columns: EntryColumns;
}

/** The table of one algorithm's entries and its columns, as `buildTable` and `sortExact` order them. */
function tableOfEntries(
  algorithm: HashAlgorithm<AlgorithmName>,
  group: readonly ListEntry[],
  listNames: readonly string[],
  search: ResolvedSearch | undefined,
): WrittenTable {
  if (algorithm.kind === 'exact') {
    const exact = sortExact(algorithm, group);
    return {
      table: {
        kind: 'exact',
        algorithm,
        index: exact.index,
        search: { tier: 'exact' },
        entries: entryTableOf(exact.entries),
      },
      columns: packEntries(exact.entries, listNames),
    };
  }
  return { table: buildTable(algorithm, group, search), columns: packEntries(group, listNames) };
}

/** The sections of one algorithm's table. */
function algorithmSections(number: number, { table, columns }: WrittenTable): Section[] {
  if (table.kind === 'exact')
    return [
      { kind: KIND.EXACT, algorithm: number, part: 0, data: table.index.sorted },
      ...entrySections(number, columns),
    ];
  const { a, b } = table.linear.planes();
  const sections: Section[] = [
    { kind: KIND.PLANE_A, algorithm: number, part: 0, data: a },
    { kind: KIND.PLANE_B, algorithm: number, part: 0, data: b },
  ];
  // A built multi-index's tables, or those a store export makes one at a time as they are
  // written (`write` asks for each part's offsets, then its ids): the file takes each table while
  // the next is built, and lets go of it once written.
  const built = table.index instanceof MihIndex ? table.index : undefined;
  const mih =
    built !== undefined
      ? {
          widths: built.substringBits,
          tables: (): Iterable<MihTable> => {
            const { offsets, ids } = built.tables();
            return offsets.map((o, j) => ({ offsets: o, ids: ids[j] as Uint32Array }));
          },
        }
      : table.pending !== undefined && table.search.tier === 'mih'
        ? { widths: table.search.substringBits, tables: table.pending }
        : undefined;
  if (mih !== undefined) {
    const count = table.linear.count;
    const made: (MihTable | undefined)[] = [];
    let tables: Iterator<MihTable> | undefined;
    const tableAt = (part: number): MihTable => {
      tables ??= mih.tables()[Symbol.iterator]();
      while (made.length <= part) {
        const next = tables.next();
        if (next.done === true)
          throw new Error(`Expected ${mih.widths.length} multi-index tables for ${table.algorithm.name}`);
        made.push(next.value);
      }
      return made[part] as MihTable;
    };
    mih.widths.forEach((width, part) => {
      sections.push({
        kind: KIND.MIH_OFFSETS,
        algorithm: number,
        part,
        length: (2 ** width + 1) * 4,
        data: () => bytesOf(tableAt(part).offsets),
      });
    });
    mih.widths.forEach((_, part) => {
      sections.push({
        kind: KIND.MIH_IDS,
        algorithm: number,
        part,
        length: count * 4,
        data: () => {
          const ids = bytesOf(tableAt(part).ids);
          made[part] = undefined;
          return ids;
        },
      });
    });
  }
  sections.push(...entrySections(number, columns));
  return sections;
}

/**
 * The sections of the vPDQ table: its entry columns as every table's, and its frames (offsets and
 * packed bytes), which a reader checks against META's counts before it allocates.
 */
function videoSections(videos: PackedVpdq): Section[] {
  return [
    ...entrySections(VPDQ_TABLE, videos.columns),
    { kind: KIND.VPDQ_FRAME_OFFSETS, algorithm: VPDQ_TABLE, part: 0, data: bytesOf(videos.frames.offsets) },
    { kind: KIND.VPDQ_FRAME_BYTES, algorithm: VPDQ_TABLE, part: 0, data: videos.frames.bytes },
  ];
}

/**
 * `videos` checked as a reader will check them (offsets from 0 up to the bytes' end, whole packed
 * frames, columns numbering `lists`), with META's counts; undefined when there is no entry. An
 * inconsistency is the caller's bug (a RangeError), never a file a reader refuses.
 */
function checkVideos(videos: PackedVpdq | undefined, lists: readonly SnapshotList[]): SnapshotVideos | undefined {
  if (videos === undefined || videos.columns.listIndex.length === 0) return undefined;
  const { columns, frames } = videos;
  const count = columns.listIndex.length;
  if (columns.lists.length !== lists.length || columns.lists.some((name, i) => name !== lists[i]?.name))
    throw new RangeError('Expected the vPDQ entries to number the lists given');
  const { offsets, bytes } = frames;
  if (offsets.length !== count + 1 || offsets[0] !== 0 || offsets[count] !== bytes.length)
    throw new RangeError(`Expected ${count + 1} vPDQ frame offsets from 0 to ${bytes.length}`);
  for (let i = 0; i < count; i++) {
    const length = (offsets[i + 1] as number) - (offsets[i] as number);
    if (length < 0 || length % VPDQ_PACKED_FRAME_BYTES !== 0)
      throw new RangeError(`Expected whole packed frames for vPDQ entry ${i}`);
  }
  return { count, frames: bytes.length / VPDQ_PACKED_FRAME_BYTES };
}

/** What {@link checkSource} returns: the options of a write, checked, with their defaults. */
export interface CheckedSource {
  readonly lists: SnapshotList[];
  readonly mode: number | undefined;
  readonly sequence: number;
  readonly privateKey: ReturnType<typeof privateKeyOf> | undefined;
}

/**
 * The path and what a snapshot carries besides its entries, checked as `readSnapshot` will check
 * them. Internal: writers that read a store first (`PgHashStore.exportSnapshot`) check before reading.
 */
export function checkSource(path: string, source: Omit<SnapshotSource, 'entries' | 'search'>): CheckedSource {
  // `invalid` describes any value (JSON.stringify throws for a BigInt, String for a null-prototype object).
  if (typeof path !== 'string' || path.length === 0) invalid('non-empty string', 'path', path);
  if (source === null || typeof source !== 'object') invalid('object', 'source', source);
  if (!Array.isArray(source.lists))
    throw new TypeError(`Expected array for source.lists but received ${typeof source.lists}`);
  const mode = outputMode(source.mode, 'source.mode');
  const sequence =
    source.sequence === undefined
      ? Date.now()
      : integerInRange(source.sequence, 0, Number.MAX_SAFE_INTEGER, 'source.sequence');
  if (source.sign !== undefined && (source.sign === null || typeof source.sign !== 'object'))
    invalid('object with privateKey', 'source.sign', source.sign);
  const privateKey =
    source.sign === undefined ? undefined : privateKeyOf(source.sign.privateKey, 'source.sign.privateKey');
  if (source.lists.length > 0x10000)
    throw new RangeError(`Expected at most 65536 lists but received ${source.lists.length}`);
  // Only what a snapshot carries, checked: a bad threshold is refused here, not by every reader.
  const lists: SnapshotList[] = source.lists.map((l: unknown, i) => {
    // Checked as readSnapshot will check them: a list it would refuse must not be written.
    if (l === null || typeof l !== 'object' || Array.isArray(l))
      invalid('object with name and version', `source.lists[${i}]`, l);
    const list = l as Partial<SnapshotList>;
    const thresholds = checkThresholds(list.thresholds, `source.lists[${i}].thresholds`);
    return {
      name: nonEmptyString(list.name, `source.lists[${i}].name`),
      version: integerInRange(list.version, 0, Number.MAX_SAFE_INTEGER, `source.lists[${i}].version`),
      ...(Object.keys(thresholds).length === 0 ? {} : { thresholds }),
      ...(list.label === undefined ? {} : { label: nonEmptyString(list.label, `source.lists[${i}].label`) }),
      ...(list.quarantined === undefined
        ? {}
        : { quarantined: checkQuarantined(list.quarantined, `source.lists[${i}].quarantined`) }),
      // Written only for an allow list: a block list's META stays as older releases wrote it.
      ...(list.action === undefined || oneOf(list.action, LIST_ACTIONS, `source.lists[${i}].action`) === 'block'
        ? {}
        : { action: 'allow' as const }),
    };
  });
  return { lists, mode, sequence, privateKey };
}

/** A list's quarantined entries as META keeps them (id, reason, until), checked as readSnapshot checks them. */
function checkQuarantined(value: unknown, name: string): SnapshotQuarantine[] {
  if (!Array.isArray(value)) invalid('array', name, value);
  return value.map((q: unknown, i) => {
    if (q === null || typeof q !== 'object') invalid('object with id and reason', `${name}[${i}]`, q);
    const { id, reason, until } = q as Partial<SnapshotQuarantine>;
    return {
      id: nonEmptyString(id, `${name}[${i}].id`),
      reason: nonEmptyString(reason, `${name}[${i}].reason`),
      ...(until === undefined ? {} : { until: nonEmptyString(until, `${name}[${i}].until`) }),
    };
  });
}

/**
 * Writes a snapshot of `entries` to `path`, atomically: a temporary file beside it, flushed, then
 * renamed over it. A file replaced keeps its owner and, unless `source.mode` is given, its mode;
 * a new file is `0o600`. Perceptual hashes are stored with the index `search` chooses (by default
 * the automatic tier: multi-index tables for large lists), so opening the file rebuilds nothing.
 * Throws `ERR_STORE` when the file cannot be written, or its owner cannot be kept (and leaves the
 * old file as it was, and no temporary file behind). META records `sequence` (default: the time of
 * writing in ms); with `sign`, an Ed25519 signature over the header, the section table and every
 * section's SHA-256 follows the last section (docs/snapshot-format.md).
 *
 * @example
 * ```ts
 * await writeSnapshot('lists.snap', { lists: [{ name: 'ncmec', version: 3 }], entries });
 * await writeSnapshot('big.snap', { lists, entries, search: { tier: 'mih', substringBits: 20 } });
 * await writeSnapshot('signed.snap', { lists, entries, sequence: 1042, sign: { privateKey: pem } });
 * ```
 */
export async function writeSnapshot(path: string, source: SnapshotSource): Promise<SnapshotSummary> {
  const checked = checkSource(path, source);
  const { lists } = checked;
  if (!Array.isArray(source.entries))
    throw new TypeError(`Expected array for source.entries but received ${typeof source.entries}`);
  const search = resolveSearch(source.search, 'search');
  const listNames = lists.map((l) => l.name);
  const grouped = new Map<AlgorithmName, ListEntry[]>();
  const videos: ListEntry[] = [];
  for (const entry of source.entries) {
    if (entry.algorithm === VPDQ_ALGORITHM) {
      videos.push(entry);
      continue;
    }
    let group = grouped.get(entry.algorithm);
    if (group === undefined) {
      group = [];
      grouped.set(entry.algorithm, group);
    }
    group.push(entry);
  }
  const tables: WrittenTable[] = [];
  for (const [name, group] of grouped) tables.push(tableOfEntries(getAlgorithm(name), group, listNames, search));
  return write(path, source, checked, tables, videos.length === 0 ? undefined : packVpdqEntries(videos, listNames));
}

/**
 * {@link writeSnapshot} of tables already built over packed entries (`buildPackedTable`: a
 * store read by `hashwarden export`), each written as it is, in the order given: no object per
 * entry. Their columns must number the lists in `source.lists`' order; `source.search` is not
 * used (the tables hold their index). `videos`, when given, are the lists' vPDQ entries, numbering
 * the lists the same way (`PackedLists.videos`). Internal; not part of the package's API.
 */
export async function writePackedSnapshot(
  path: string,
  source: Omit<SnapshotSource, 'entries' | 'search'>,
  tables: ReadonlyMap<AlgorithmName, MatcherTable>,
  videos?: PackedVpdq,
): Promise<SnapshotSummary> {
  const checked = checkSource(path, source);
  const { lists } = checked;
  const written = [...tables.values()].map((table) => {
    const columns = table.entries.columns;
    if (columns === undefined) throw new TypeError(`Expected packed entries for ${table.algorithm.name}`);
    if (columns.lists.length !== lists.length || columns.lists.some((name, i) => name !== lists[i]?.name))
      throw new RangeError(`Expected the entries of ${table.algorithm.name} to number the lists given`);
    return { table, columns };
  });
  return write(path, source, checked, written, videos);
}

/** Writes the sections of `tables`, their META and the header (see `writeSnapshot`). */
async function write(
  path: string,
  source: Pick<SnapshotSource, 'source'>,
  { lists, mode, sequence, privateKey }: CheckedSource,
  tables: readonly WrittenTable[],
  packedVideos?: PackedVpdq,
): Promise<SnapshotSummary> {
  const sections: Section[] = [];
  const algorithms: SnapshotAlgorithm[] = [];
  for (const written of tables) {
    const { algorithm, search } = written.table;
    sections.push(...algorithmSections(algorithms.length, written));
    algorithms.push({ name: algorithm.name, bits: algorithm.bits, count: written.table.entries.count, search });
  }
  const videos = checkVideos(packedVideos, lists);
  if (videos !== undefined) sections.push(...videoSections(packedVideos as PackedVpdq));
  // Never a file readSnapshot refuses: entries not normalised (an id past MAX_FIELD_LENGTH,
  // metadata past MAX_METADATA_BYTES) could make a string section longer than its count allows.
  for (const s of sections) {
    const video = s.algorithm === VPDQ_TABLE;
    const table = algorithms[s.algorithm] as SnapshotAlgorithm;
    const bounds = (
      video ? videoSectionBounds(s.kind, s.part, videos as SnapshotVideos) : sectionBounds(s.kind, s.part, table)
    ) as Bounds | undefined;
    if (bounds === undefined || !fits(lengthOf(s), bounds))
      throw new HashwardenError(
        'ERR_STORE',
        `Cannot write the snapshot ${path}: ${video ? VPDQ_ALGORITHM : table.name} section kind ${s.kind} would hold ${lengthOf(s)} bytes, where a reader takes ${bounds === undefined ? 'none' : describeBounds(bounds)}`,
      );
  }
  const meta: Meta = {
    created: new Date().toISOString(),
    sequence,
    ...(source.source === undefined ? {} : { source: source.source }),
    lists,
    algorithms,
    // Written only when there are videos: a snapshot of images alone stays as older releases read it.
    ...(videos === undefined ? {} : { videos }),
  };
  sections.unshift({
    kind: KIND.META,
    algorithm: NO_ALGORITHM,
    part: 0,
    data: new TextEncoder().encode(JSON.stringify(meta)),
  });

  // Lay out: header, table, then each section at the next multiple of 64.
  const table = new DataView(new ArrayBuffer(sections.length * ROW_BYTES));
  let offset = align(HEADER_BYTES + sections.length * ROW_BYTES);
  const offsets: number[] = [];
  sections.forEach((s, i) => {
    offsets.push(offset);
    const row = i * ROW_BYTES;
    table.setUint16(row, s.kind, true);
    table.setUint16(row + 2, s.algorithm, true);
    table.setUint32(row + 4, s.part, true);
    table.setBigUint64(row + 16, BigInt(offset), true);
    table.setBigUint64(row + 24, BigInt(lengthOf(s)), true);
    offset = align(offset + lengthOf(s));
  });
  // The signature block, when signing, follows the last section: its length is in the header, so
  // the signature, made over the header, covers where the block is too.
  const signatureAt = offset;
  const block = privateKey === undefined ? undefined : new Uint8Array(signatureBlockBytes(sections.length));
  const size = offset + (block?.length ?? 0);
  // Each part's ids are made with its offsets: written right after them, not once every table is built.
  const offsetsAt = new Map<string, number>();
  sections.forEach((s, i) => {
    if (s.kind === KIND.MIH_OFFSETS) offsetsAt.set(`${s.algorithm}:${s.part}`, i);
  });
  const turn = sections.map((s, i) =>
    s.kind === KIND.MIH_IDS ? (offsetsAt.get(`${s.algorithm}:${s.part}`) ?? i) + 0.5 : i,
  );
  const order = sections.map((_, i) => i).sort((x, y) => (turn[x] as number) - (turn[y] as number));

  await writeOutputFile({ path, mode, code: 'ERR_STORE', what: 'the snapshot ' }, async (file) => {
    // Each section is written as soon as it is made, while the next is made: the writes run on
    // libuv's threads beside the building of the multi-index tables, not after it.
    const writes: Promise<void>[] = [];
    try {
      for (const i of order) {
        const s = sections[i] as Section;
        const data = typeof s.data === 'function' ? s.data() : s.data;
        if (data.length !== lengthOf(s))
          throw new Error(`Section kind ${s.kind} part ${s.part} made ${data.length} bytes, not ${lengthOf(s)}`);
        table.setBigUint64(i * ROW_BYTES + 8, checksum(data), true);
        if (block !== undefined) block.set(sectionDigest(data), DIGESTS_AT + i * DIGEST_BYTES);
        writes.push(writeAll(file, data, offsets[i] as number));
      }
    } finally {
      // Never a write left running into a file that is then closed and removed.
      const settled = await Promise.allSettled(writes);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    }
    const header = new DataView(new ArrayBuffer(HEADER_BYTES));
    new Uint8Array(header.buffer).set(SNAPSHOT_MAGIC, 0);
    header.setUint32(8, SNAPSHOT_VERSION, true);
    header.setUint32(12, sections.length, true);
    header.setBigUint64(16, BigInt(size), true);
    header.setBigUint64(24, checksum(new Uint8Array(table.buffer)), true);
    header.setUint32(HEADER_SIGNATURE_AT, block?.length ?? 0, true);
    header.setBigUint64(HEADER_CHECKSUM_AT, checksum(new Uint8Array(header.buffer, 0, HEADER_CHECKSUM_AT)), true);
    if (block !== undefined && privateKey !== undefined)
      signBlock(privateKey, new Uint8Array(header.buffer), new Uint8Array(table.buffer), block);
    await writeAll(file, new Uint8Array(header.buffer), 0);
    await writeAll(file, new Uint8Array(table.buffer), HEADER_BYTES);
    if (block !== undefined) await writeAll(file, block, signatureAt);
    await file.truncate(size);
  });
  return {
    bytes: size,
    entries: algorithms.reduce((n, a) => n + a.count, videos?.count ?? 0),
    algorithms,
    ...(videos === undefined ? {} : { videos }),
    sequence,
    ...(privateKey === undefined ? {} : { keyId: snapshotKeyId(privateKey) }),
  };
}
