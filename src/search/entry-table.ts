/**
 * Entries by position, the way the indexes return them. Two forms with one interface: an array of
 * `ListEntry` objects (lists built in memory) and packed columns (a snapshot: a list number per
 * entry and UTF-8 strings addressed by offsets), whose strings are decoded only for entries that
 * match, so opening a snapshot never walks its entries.
 */
import { HashwardenError } from '../errors.js';
import type { EntryMetadata, ListEntry } from '../lists/entry.js';

/** Read access to the entries of one algorithm, by position. */
export interface EntryTable {
  readonly count: number;
  list(index: number): string;
  id(index: number): string;
  label(index: number): string | undefined;
  metadata(index: number): EntryMetadata | undefined;
  /** The packed columns behind the table, when it is packed (what a snapshot writes as it is). */
  readonly columns?: EntryColumns;
}

/** An `EntryTable` over entry objects, in the given order. */
export function entryTableOf(entries: readonly ListEntry[]): EntryTable {
  const at = (i: number) => entries[i] as ListEntry;
  return {
    count: entries.length,
    list: (i) => at(i).list,
    id: (i) => at(i).id,
    label: (i) => at(i).label,
    metadata: (i) => at(i).metadata,
  };
}

/** Most lists packed columns number: their list column holds 16-bit numbers, as a snapshot's does. */
export const MAX_PACKED_LISTS = 0x10000;

/** UTF-8 strings addressed by `offsets` (`count + 1` starts into `bytes`); empty means absent. */
export interface StringColumn {
  readonly offsets: Uint32Array;
  readonly bytes: Uint8Array;
}

/** The columns of a packed table: what a snapshot stores. */
export interface EntryColumns {
  /** List names, indexed by `listIndex`. */
  readonly lists: readonly string[];
  readonly listIndex: Uint16Array;
  readonly ids: StringColumn;
  readonly labels: StringColumn;
  /** Metadata as JSON text. */
  readonly metadata: StringColumn;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Byte strings back to back with their offsets: a packed column (ids, labels, a video's frames). */
export function byteColumn(values: readonly Uint8Array[]): StringColumn {
  const offsets = new Uint32Array(values.length + 1);
  let total = 0;
  values.forEach((v, i) => {
    total += v.length;
    offsets[i + 1] = total;
  });
  const bytes = new Uint8Array(total);
  values.forEach((v, i) => {
    bytes.set(v, offsets[i] as number);
  });
  return { offsets, bytes };
}

/** Texts as a packed column, UTF-8; an absent one is empty. */
export function stringColumn(values: readonly (string | undefined)[]): StringColumn {
  return byteColumn(values.map((v) => (v === undefined ? new Uint8Array(0) : encoder.encode(v))));
}

/** Packs entries into columns; `lists` orders the list names (the first 65,536 distinct names). */
export function packEntries(entries: readonly ListEntry[], lists: readonly string[]): EntryColumns {
  const number = new Map(lists.map((name, i) => [name, i]));
  const listIndex = new Uint16Array(entries.length);
  entries.forEach((e, i) => {
    const n = number.get(e.list);
    if (n === undefined) throw new RangeError(`List ${JSON.stringify(e.list)} is not among the lists given`);
    listIndex[i] = n;
  });
  return {
    lists,
    listIndex,
    ids: stringColumn(entries.map((e) => e.id)),
    labels: stringColumn(entries.map((e) => e.label)),
    metadata: stringColumn(entries.map((e) => (e.metadata === undefined ? undefined : JSON.stringify(e.metadata)))),
  };
}

/**
 * A packed table's contents are checked where they are used, not by a pass over every entry when a
 * snapshot opens: checksums already vouch for the bytes, and what a file with valid checksums but
 * inconsistent contents holds surfaces as this error on the entries a query touches.
 */
function inconsistent(what: string, i: number, cause?: unknown): never {
  throw new HashwardenError(
    'ERR_SNAPSHOT_FORMAT',
    `Snapshot entry ${i}: ${what}`,
    cause === undefined ? undefined : { cause },
  );
}

function read(columnValue: StringColumn, i: number, what: string): string | undefined {
  const start = columnValue.offsets[i];
  const end = columnValue.offsets[i + 1];
  if (start === undefined || end === undefined || end < start || end > columnValue.bytes.length)
    inconsistent(`${what} offsets out of range`, i);
  if (end === start) return undefined;
  try {
    return decoder.decode(columnValue.bytes.subarray(start, end));
  } catch (error) {
    return inconsistent(`${what} is not UTF-8`, i, error);
  }
}

/** An `EntryTable` over packed columns (e.g. sections of a snapshot). */
export function packedEntryTable(columns: EntryColumns): EntryTable {
  return {
    count: columns.listIndex.length,
    columns,
    list: (i) =>
      columns.lists[columns.listIndex[i] as number] ??
      inconsistent(`list number ${columns.listIndex[i]} beyond the ${columns.lists.length} lists`, i),
    id: (i) => read(columns.ids, i, 'id') ?? '',
    label: (i) => read(columns.labels, i, 'label'),
    metadata: (i) => {
      const json = read(columns.metadata, i, 'metadata');
      if (json === undefined) return undefined;
      try {
        return JSON.parse(json) as EntryMetadata;
      } catch (error) {
        return inconsistent('metadata is not JSON', i, error);
      }
    },
  };
}

/** A growable `StringColumn`: strings are appended as UTF-8 bytes, each one's end kept as an offset. */
class ColumnBuilder {
  offsets: Uint32Array;
  bytes = new Uint8Array(0);
  used = 0;

  constructor(capacity: number) {
    this.offsets = new Uint32Array(capacity + 1);
  }

  /** Room for `count` entries (offsets grow with the entries, bytes only with the strings). */
  reserve(count: number): void {
    if (count + 1 <= this.offsets.length) return;
    const offsets = new Uint32Array(Math.max(count + 1, this.offsets.length * 2));
    // While no string is held every offset is 0, as new memory is: a column of absent labels
    // then never touches its pages (the system maps them on the first write, at a real cost).
    if (this.used > 0) offsets.set(this.offsets);
    this.offsets = offsets;
  }

  /** Ends entries `first…` (`count` of them) with no string. */
  addAbsent(first: number, count: number): void {
    if (this.used > 0) this.offsets.fill(this.used, first + 1, first + count + 1);
  }

  #room(bytes: number): void {
    if (this.used + bytes <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.used + bytes, this.bytes.length * 2, 1024));
    grown.set(this.bytes.subarray(0, this.used));
    this.bytes = grown;
  }

  /** Ends entry `i` (0-based) with `value` (undefined: absent); entries must come in order. */
  add(i: number, value: string | undefined): void {
    if (value !== undefined) {
      this.#room(value.length * 3);
      this.used += encoder.encodeInto(value, this.bytes.subarray(this.used)).written;
    }
    if (this.used > 0) this.offsets[i + 1] = this.used;
  }

  /**
   * Ends entries `first…` with the strings of `joined`, UTF-8 strings separated by a zero byte.
   * False, with nothing kept, unless it holds exactly `count` of them, none empty and none longer
   * than `maxBytes`: a string holding a zero byte or too long is not something an import writes,
   * and its caller takes the slow path that says so.
   */
  addJoined(first: number, count: number, joined: Uint8Array, maxBytes: number): boolean {
    this.#room(joined.length);
    const out = this.bytes;
    const offsets = this.offsets;
    let used = this.used;
    let start = used;
    let entry = first;
    const last = first + count - 1;
    for (let k = 0; k < joined.length; k++) {
      const byte = joined[k] as number;
      if (byte !== 0) {
        out[used++] = byte;
        continue;
      }
      if (entry === last || used === start || used - start > maxBytes) return false;
      offsets[++entry] = used;
      start = used;
    }
    if (entry !== last || used === start || used - start > maxBytes) return false;
    offsets[++entry] = used;
    this.used = used;
    return true;
  }

  done(count: number): StringColumn {
    return { offsets: this.offsets.subarray(0, count + 1), bytes: this.bytes.subarray(0, this.used) };
  }
}

/** One algorithm's entries, packed: hashes back to back and the columns in the same order. */
export interface PackedEntries {
  /**
   * The hashes back to back, in chunks of whole hashes: a list read from a store is not counted
   * first, and chunks grow with it without a copy of everything held at each doubling (nor twice
   * its size held at the end); a batch read whole is its own chunk, the very bytes SQLite gave.
   */
  readonly hashes: readonly Uint8Array[];
  readonly columns: EntryColumns;
}

/**
 * Hashes a chunk of entries added one by one holds: 8,192, 256 KB of 256-bit hashes, as many as a
 * store's read batch brings (a batch added whole is kept as its own chunk, not copied).
 */
const HASH_CHUNK_ENTRIES = 8192;

/** Entries the columns first have room for, as many as a store's read batch brings. */
const INITIAL_CAPACITY = 8192;

/**
 * Builds the packed columns of one algorithm's entries, and their hashes back to back, as entries
 * arrive (from a store's rows): what a snapshot holds, with no object per entry.
 */
export class PackedBuilder {
  /** Bytes of one hash. */
  readonly width: number;
  count = 0;
  /** Full chunks of hashes, in entry order. */
  readonly #chunks: Uint8Array[] = [];
  /** The chunk entries added one by one go to, after every full one, and its bytes used. */
  #open: Uint8Array | undefined;
  #filled = 0;
  #listIndex: Uint16Array;
  readonly #ids: ColumnBuilder;
  readonly #labels: ColumnBuilder;
  readonly #metadata: ColumnBuilder;

  /** `capacity`: the entries expected, if known (more may come, at the cost of growing). */
  constructor(width: number, capacity = INITIAL_CAPACITY) {
    this.width = width;
    this.#listIndex = new Uint16Array(capacity);
    this.#ids = new ColumnBuilder(capacity);
    this.#labels = new ColumnBuilder(capacity);
    this.#metadata = new ColumnBuilder(capacity);
  }

  /** Room for `more` entries beyond those held, in the columns. */
  #reserve(more: number): void {
    const count = this.count + more;
    if (count > this.#listIndex.length) {
      const listIndex = new Uint16Array(Math.max(count, this.#listIndex.length * 2));
      listIndex.set(this.#listIndex);
      this.#listIndex = listIndex;
    }
    for (const column of [this.#ids, this.#labels, this.#metadata]) column.reserve(count);
  }

  /** Ends the open chunk: what it holds joins the full ones. */
  #close(): void {
    if (this.#open !== undefined && this.#filled > 0) this.#chunks.push(this.#open.subarray(0, this.#filled));
    this.#open = undefined;
    this.#filled = 0;
  }

  /** Appends one hash to the open chunk. */
  #putHash(hash: Uint8Array): void {
    if (this.#open === undefined || this.#filled === this.#open.length) {
      this.#close();
      this.#open = new Uint8Array(HASH_CHUNK_ENTRIES * this.width);
    }
    this.#open.set(hash, this.#filled);
    this.#filled += hash.length;
  }

  /** Adds one entry of list number `list`; its `hash` is `width` bytes. */
  add(list: number, hash: Uint8Array, entry: Pick<ListEntry, 'id' | 'label' | 'metadata'>): void {
    this.#reserve(1);
    const i = this.count;
    this.#putHash(hash);
    this.#listIndex[i] = list;
    this.#ids.add(i, entry.id);
    this.#labels.add(i, entry.label);
    this.#metadata.add(i, entry.metadata === undefined ? undefined : JSON.stringify(entry.metadata));
    this.count = i + 1;
  }

  /**
   * Adds `count` entries of list number `list` with no label or metadata: their hashes back to
   * back and their ids separated by zero bytes (`ColumnBuilder.addJoined`). False, with nothing added,
   * when `ids` is not that (see there). `hashes` is kept as it is, not copied: the caller must not
   * change it afterwards.
   */
  addBatch(list: number, count: number, hashes: Uint8Array, ids: Uint8Array, maxIdBytes: number): boolean {
    if (hashes.length !== count * this.width) return false;
    this.#reserve(count);
    const first = this.count;
    if (!this.#ids.addJoined(first, count, ids, maxIdBytes)) return false;
    this.#close();
    this.#chunks.push(hashes);
    this.#listIndex.fill(list, first, first + count);
    this.#labels.addAbsent(first, count);
    this.#metadata.addAbsent(first, count);
    this.count = first + count;
    return true;
  }

  /** The hashes back to back and the columns, over `lists`. */
  done(lists: readonly string[]): PackedEntries {
    const n = this.count;
    this.#close();
    return {
      hashes: [...this.#chunks],
      columns: {
        lists,
        listIndex: this.#listIndex.subarray(0, n),
        ids: this.#ids.done(n),
        labels: this.#labels.done(n),
        metadata: this.#metadata.done(n),
      },
    };
  }
}

function permuteColumn(column: StringColumn, order: Uint32Array): StringColumn {
  const offsets = new Uint32Array(order.length + 1);
  const bytes = new Uint8Array(column.bytes.length);
  let used = 0;
  order.forEach((from, to) => {
    const start = column.offsets[from] as number;
    const end = column.offsets[from + 1] as number;
    bytes.set(column.bytes.subarray(start, end), used);
    used += end - start;
    offsets[to + 1] = used;
  });
  return { offsets, bytes };
}

/** The columns with entry `order[i]` at position `i` (an exact table's sorted order). */
export function permuteColumns(columns: EntryColumns, order: Uint32Array): EntryColumns {
  return {
    lists: columns.lists,
    listIndex: Uint16Array.from(order, (from) => columns.listIndex[from] as number),
    ids: permuteColumn(columns.ids, order),
    labels: permuteColumn(columns.labels, order),
    metadata: permuteColumn(columns.metadata, order),
  };
}
