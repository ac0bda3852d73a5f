/**
 * Packed row batches: the rows of a `streamListFile` batch flattened into one string, the form in
 * which a reader thread hands them to the thread that writes the store. One string crosses a
 * thread boundary as one copy, where an array of row objects is cloned object by object (and
 * splitting the string on arrival is cheaper than deserializing flat arrays), and the writer binds
 * the fields to SQLite without building entries again.
 *
 * The packer also watches the order of the ids: while every list's ids arrive strictly ascending
 * (in SQLite's BINARY order), no id can repeat, so an import may write rows straight into the
 * store without staging them to catch a repeat (`HashStore.importFile`).
 */
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import type { ListBatch } from './stream.js';
import type { EntryMetadata, ListEntry } from './entry.js';
import { vpdqPackedHex } from './vpdq-entry.js';

/**
 * Fields per packed row: list, id, algorithm, hash, label, metadata: the order of the store's
 * upsert, so that 128 rows bind to it as one slice of the fields.
 */
export const PACKED_FIELDS = 6;

/** Separates the packed fields: a character no list field holds in practice (checked per field). */
const SEPARATOR = '\u0000';

/** A reader's problem with one row (`onError: 'skip'`), without the error object, which does not cross threads whole. */
export interface PackedProblem {
  readonly line: number;
  readonly code: string;
  readonly message: string;
}

/**
 * The rows of one batch: `PACKED_FIELDS` strings per row, each followed by a NUL (`text`), or as
 * an array when a field itself holds a NUL. Absent label, metadata, algorithm and hash are ''.
 * A hash is lower-case hex, what the store writes as bytes: a vPDQ entry's is the hex of its
 * packed frames (`packVpdq`), made here, on the reader's thread, from its signal text.
 */
export interface PackedBatch {
  readonly count: number;
  /** Each row's line in the file (numbers move between threads as one block of memory). */
  readonly lines: Float64Array;
  /** Each row's operation: 0 add, 1 remove. */
  readonly ops: Uint8Array;
  readonly text?: string;
  readonly fields?: readonly string[];
  readonly problems: readonly PackedProblem[];
  /** No row has a label or metadata: the writer binds list, id, algorithm and hash alone. */
  readonly bare: boolean;
  readonly bytesRead: number;
  readonly bytesTotal: number;
  /**
   * Set on the batch holding the first row whose id does not follow its list's previous id in
   * ascending order (or whose order SQLite and JavaScript could disagree on): that row's line.
   */
  readonly unordered?: number;
}

/**
 * An entry's metadata as the store keeps it: JSON with keys sorted at every level (so equal
 * metadata is equal text, and an unchanged row is seen as unchanged), `null` when empty.
 *
 * @example
 * ```ts
 * metadataJson({ b: 1, a: { d: 2, c: 3 } }); // '{"a":{"c":3,"d":2},"b":1}'
 * ```
 */
export function metadataJson(metadata: EntryMetadata | undefined): string | null {
  if (metadata === undefined) return null;
  const json = JSON.stringify(metadata, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
  return json === '{}' ? null : json;
}

/**
 * True when JavaScript's `<` on `id` is surely SQLite's BINARY (UTF-8 byte) order: JavaScript
 * compares UTF-16 code units, which sort surrogate pairs (code points above U+FFFF) below
 * U+E000–U+FFFF, where UTF-8 sorts them above. Ids without code units from U+D800 up agree.
 */
const ORDER_UNSAFE = /[\ud800-\uffff]/;

/**
 * Packs batches in file order and tracks whether each list's ids have so far been strictly
 * ascending.
 */
export class Packer {
  readonly #last = new Map<string, string>();
  /** The line of the first row out of order, once met. */
  unordered: number | undefined;

  constructor(readonly checkOrder: boolean) {}

  pack(batch: ListBatch): PackedBatch {
    const lines = new Float64Array(batch.rows.length);
    const ops = new Uint8Array(batch.rows.length);
    // Concatenated, not pushed and joined: cheaper, the copy to the other thread included.
    let text = '';
    let nul = false;
    let bare = true;
    let firstUnordered: number | undefined;
    for (let r = 0; r < batch.rows.length; r++) {
      const row = batch.rows[r] as ListBatch['rows'][number];
      let list: string;
      let id: string;
      if (row.op === 'add') {
        const { entry } = row;
        list = entry.list;
        id = entry.id;
        const label = entry.label ?? '';
        const metadata = entry.metadata === undefined ? '' : (metadataJson(entry.metadata) ?? '');
        const hash = packedHash(entry);
        text +=
          list +
          SEPARATOR +
          id +
          SEPARATOR +
          entry.algorithm +
          SEPARATOR +
          hash +
          SEPARATOR +
          label +
          SEPARATOR +
          metadata +
          SEPARATOR;
        if (label !== '' || metadata !== '') bare = false;
        if (
          !nul &&
          (id.includes(SEPARATOR) ||
            list.includes(SEPARATOR) ||
            label.includes(SEPARATOR) ||
            metadata.includes(SEPARATOR))
        )
          nul = true;
      } else {
        list = row.list;
        id = row.id;
        text += list + SEPARATOR + id + SEPARATOR + SEPARATOR + SEPARATOR + SEPARATOR + SEPARATOR;
        ops[r] = 1;
        if (!nul && (id.includes(SEPARATOR) || list.includes(SEPARATOR))) nul = true;
      }
      lines[r] = row.line;
      if (this.checkOrder && this.unordered === undefined) {
        const last = this.#last.get(list);
        if (
          (last !== undefined && !(id > last)) ||
          ORDER_UNSAFE.test(id) ||
          (last === undefined && ORDER_UNSAFE.test(list))
        ) {
          this.unordered = row.line;
          firstUnordered = row.line;
        } else {
          this.#last.set(list, id);
        }
      }
    }
    const problems = batch.problems.map((p) =>
      Object.freeze({ line: p.line, code: p.error.code, message: p.error.message }),
    );
    return Object.freeze({
      count: batch.rows.length,
      lines,
      ops,
      ...(nul ? { fields: Object.freeze(fieldsOf(batch)) } : { text }),
      problems: Object.freeze(problems),
      bare,
      bytesRead: batch.bytesRead,
      bytesTotal: batch.bytesTotal,
      ...(firstUnordered === undefined ? {} : { unordered: firstUnordered }),
    });
  }
}

/**
 * An entry's hash as a packed row holds it: its hex, or for a vPDQ entry the hex of its packed
 * frames (one parse of its signal text; video entries are few beside the rows of image lists).
 */
function packedHash(entry: ListEntry): string {
  return entry.algorithm === VPDQ_ALGORITHM ? vpdqPackedHex(entry.hash) : entry.hash;
}

/** The fields of a batch as an array: for a batch with a NUL inside a field, which `text` cannot carry. */
function fieldsOf(batch: ListBatch): string[] {
  const fields: string[] = [];
  for (const row of batch.rows) {
    if (row.op === 'add') {
      const { entry } = row;
      fields.push(
        entry.list,
        entry.id,
        entry.algorithm,
        packedHash(entry),
        entry.label ?? '',
        metadataJson(entry.metadata) ?? '',
      );
    } else {
      fields.push(row.list, row.id, '', '', '', '');
    }
  }
  return fields;
}

/** The fields of a packed batch, `PACKED_FIELDS` per row. */
export function packedFields(batch: PackedBatch): readonly string[] {
  if (batch.fields !== undefined) return batch.fields;
  // Each field ends with a separator: the split's last element is an empty string past the rows.
  return batch.count === 0 ? [] : (batch.text ?? '').split(SEPARATOR);
}
