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

function column(values: readonly (string | undefined)[]): StringColumn {
  const encoded = values.map((v) => (v === undefined ? new Uint8Array(0) : encoder.encode(v)));
  const offsets = new Uint32Array(values.length + 1);
  let total = 0;
  encoded.forEach((e, i) => {
    total += e.length;
    offsets[i + 1] = total;
  });
  const bytes = new Uint8Array(total);
  encoded.forEach((e, i) => {
    bytes.set(e, offsets[i] as number);
  });
  return { offsets, bytes };
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
    ids: column(entries.map((e) => e.id)),
    labels: column(entries.map((e) => e.label)),
    metadata: column(entries.map((e) => (e.metadata === undefined ? undefined : JSON.stringify(e.metadata)))),
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
