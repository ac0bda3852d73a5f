/**
 * The ordered import, `importFile`'s first way: while every list's ids ascend no id can repeat, so
 * rows are written straight into `entries`, without the staging table that catches repeats
 * (`staged-import.ts`, where the file goes when an id comes out of order).
 */
import { PACKED_FIELDS, packedFields, type PackedBatch } from '../lists/packed.js';
import type { ListStreamSummary } from '../lists/stream.js';
import { ENTRY_COLUMNS, listSize, type StoreContext } from './context.js';
import type { Statement } from './driver.js';
import {
  BadRows,
  bumpVersion,
  drain,
  emptiedList,
  ListOrder,
  record,
  removalInReplace,
  STAGE_CHUNK,
  transaction,
  UPSERT_SET,
  type ResolvedImport,
  type Tally,
} from './import.js';
import type { OrderedStatements, StagedValue } from './statements.js';
import type { ImportFileResult } from './types.js';

/** One packed row as the values of an entry: hex hash to bytes, an absent ('') label or metadata to NULL. */
const PACKED_VALUES = "(?, ?, ?, unhex(?), nullif(?, ''), nullif(?, ''))";
/**
 * A row of a chunk without labels or metadata (`PackedBatch.bare`): id, algorithm and hex hash,
 * the list bound once for the chunk. Binding a value costs better-sqlite3 more than SQLite's insert
 * of it, and this binds half as many values (docs/benchmark.md).
 */
const BARE_VALUES = '(@list, ?, ?, unhex(?), NULL, NULL)';
/** Values per row of a bare chunk. */
const BARE_FIELDS = 3;

/** One list's part in an ordered import, with its rows waiting for a full chunk. */
interface ListWrite {
  readonly name: string;
  /** Entries before the import (0 for a new or empty list: then nothing is counted again). */
  readonly before: number;
  /** In a replace of this list (each chunk then deletes the stored ids between its own). */
  readonly replaced: boolean;
  /** Rows adding or updating an entry, and how many of them changed one. */
  adds: number;
  changes: number;
  removed: number;
  /** The last id written (in a replace, everything between it and the next is removed). */
  last: string | undefined;
  /**
   * The waiting rows' values and their count: `PACKED_FIELDS` a row (label and metadata '' when
   * absent), or `BARE_FIELDS` when `bare` (rows of bare batches, which start with the id).
   */
  params: StagedValue[];
  rows: number;
  bare: boolean;
}

/**
 * Writes rows whose ids ascend per list (`PackedBatch.unordered` unset) straight into `entries`,
 * 128 rows of one list to an upsert, counting what each list gained and lost. Each list has its
 * own chunk waiting, so a file whose lists' rows alternate still writes full chunks (one chunk for
 * all, flushed at each change of list, made such a file much slower: docs/benchmark.md).
 * In a replace, each chunk then deletes the list's entries between the previous chunk's last id
 * and its own last that it does not hold, and `finish` deletes those after the last id: the list
 * ends up holding exactly the file's entries, as with staging, without a table of every id.
 */
class OrderedWriter {
  readonly versions = new Map<string, number>();
  readonly #lists = new Map<string, ListWrite>();
  readonly #order: ListOrder;
  /** The list of the previous row: most files hold one list, or long runs of each. */
  #current: ListWrite | undefined;

  constructor(
    readonly statements: OrderedStatements,
    readonly resolved: ResolvedImport,
    readonly bump: (list: string) => number,
    readonly source: string,
    bad: BadRows,
  ) {
    this.#order = new ListOrder(resolved, bad);
  }

  write(batch: PackedBatch): void {
    const fields = packedFields(batch);
    const { count, ops } = batch;
    const replacing = this.resolved.replace.size > 0;
    for (let r = 0; r < count; ) {
      const name = fields[r * PACKED_FIELDS] as string;
      const list = this.#current?.name === name ? this.#current : this.#list(name, batch.lines[r] as number);
      if (list === undefined) {
        r++; // a row of a list the import may not touch, skipped (`onError: 'skip'`)
        continue;
      }
      this.#current = list;
      if (ops[r] === 1) {
        if (replacing) throw removalInReplace(`${this.source}:${batch.lines[r] as number}`);
        this.#flush(list);
        list.removed += this.statements.removeOne.run(name, fields[r * PACKED_FIELDS + 1] as string).changes;
        r++;
        continue;
      }
      if (list.rows > 0 && list.bare !== batch.bare) this.#flush(list);
      // The run of adds to this list that fits in its chunk: their fields are the upsert's values
      // as they are, or, bare, their id, algorithm and hash.
      let end = r + 1;
      const room = STAGE_CHUNK - list.rows;
      while (end < count && end - r < room && ops[end] === 0 && fields[end * PACKED_FIELDS] === name) end++;
      list.bare = batch.bare;
      if (batch.bare) {
        const params = list.params;
        for (let f = r * PACKED_FIELDS + 1; f < end * PACKED_FIELDS; f += PACKED_FIELDS)
          params.push(fields[f] as string, fields[f + 1] as string, fields[f + 2] as string);
      } else {
        const values = fields.slice(r * PACKED_FIELDS, end * PACKED_FIELDS);
        if (list.rows === 0) list.params = values;
        else for (const value of values) list.params.push(value);
      }
      list.adds += end - r;
      list.rows += end - r;
      if (list.rows === STAGE_CHUNK) this.#flush(list);
      r = end;
    }
  }

  /** Writes a list's rows waiting for a full chunk. */
  #flush(list: ListWrite): void {
    const n = list.rows;
    if (n === 0) return;
    // Into a list empty before the import every row is new (its ids ascend, so none repeats): a
    // plain insert, without the upsert's conflict handling, which costs SQLite time for nothing.
    const empty = list.before === 0;
    const { statements } = this;
    const params = list.params;
    const [width, idAt] = list.bare ? [BARE_FIELDS, 0] : [PACKED_FIELDS, 1];
    if (n === STAGE_CHUNK) {
      if (list.bare)
        list.changes += (empty ? statements.bareInsertChunk : statements.bareUpsertChunk).run(params, {
          list: list.name,
        }).changes;
      else list.changes += (empty ? statements.insertChunk : statements.upsertChunk).run(params).changes;
    } else {
      const one = empty ? statements.insertOne : statements.upsertOne;
      for (let r = 0; r < n; r++) {
        const row = params.slice(r * width, (r + 1) * width);
        list.changes += one.run(list.bare ? [list.name, ...row, '', ''] : row).changes;
      }
    }
    const last = params[(n - 1) * width + idAt] as string;
    // In a replace, the stored ids between the previous chunk's last and this one's that the file
    // does not hold go. The chunk's own are all stored now, so a count of the range says whether
    // there are any others, cheaper than the delete (which builds a table of the chunk's ids) when
    // there are none, as in the daily full list that changed little.
    if (list.replaced && (statements.range.get(list.name, list.last ?? '', last) ?? 0) > n) {
      const ids = Array.from({ length: n }, (_, r) => params[r * width + idAt] as string);
      list.removed += statements.gap(n).run([list.name, list.last ?? '', last, ...ids]).changes;
    }
    list.last = last;
    list.params = [];
    list.rows = 0;
  }

  /**
   * Ends the import: every list's waiting rows, a replace's last deletions, then each list's
   * counts, in order of first appearance. Throws (the caller's transaction then rolls back) when
   * removals emptied a list, unless allowed.
   */
  finish(): Tally[] {
    for (const list of this.#lists.values()) this.#flush(list);
    for (const name of this.resolved.replace) {
      const known = this.#lists.get(name);
      if ((known?.adds ?? 0) === 0 && !this.resolved.allowEmpty)
        throw emptiedList(this.resolved, name, this.statements.size(name));
      const list = known ?? (this.#list(name, undefined) as ListWrite); // a replaced list is one the import may touch
      list.removed +=
        list.last === undefined
          ? this.statements.all.run(name).changes
          : this.statements.after.run(name, list.last).changes;
    }
    return [...this.#lists.values()].map((list) => {
      // In an empty list every row is new; else the list's size before and after tells new from updated.
      const after = list.before === 0 ? list.changes : this.statements.size(list.name);
      if (after === 0 && list.before > 0 && !this.resolved.allowEmpty)
        throw emptiedList(this.resolved, list.name, list.before);
      const added = after - list.before + list.removed;
      return {
        list: list.name,
        added,
        updated: list.changes - added,
        unchanged: list.adds - list.changes,
        removed: list.removed,
      };
    });
  }

  /**
   * A list met for the first time: created or its version bumped; `undefined` (the row skipped)
   * for a list the import may not touch (`ListOrder`), unless that refuses the import.
   */
  #list(name: string, line: number | undefined): ListWrite | undefined {
    let list = this.#lists.get(name);
    if (list === undefined) {
      if (!this.#order.see(name, line, () => (line === undefined ? this.source : `${this.source}:${line}`)))
        return undefined;
      this.versions.set(name, this.bump(name));
      const before = this.statements.size(name);
      list = {
        name,
        before,
        replaced: this.resolved.replace.has(name),
        adds: 0,
        changes: 0,
        removed: 0,
        last: undefined,
        params: [],
        rows: 0,
        bare: false,
      };
      this.#lists.set(name, list);
    }
    return list;
  }
}

/** The ordered import's statements (made once per connection). */
function orderedStatements(ctx: StoreContext): OrderedStatements {
  if (ctx.ordered !== undefined) return ctx.ordered;
  const db = ctx.db;
  const gaps = new Map<number, Statement<[StagedValue[]]>>();
  const sql = (rows: number, upsert: boolean, values: string): string =>
    `INSERT INTO entries (${ENTRY_COLUMNS}) VALUES ${Array.from({ length: rows }, () => values).join(', ')}${upsert ? ` ON CONFLICT (list, id) DO UPDATE SET ${UPSERT_SET}` : ''}`;
  const insert = (rows: number, upsert: boolean): Statement<[StagedValue[]]> =>
    db.prepare<[StagedValue[]]>(sql(rows, upsert, PACKED_VALUES));
  const bare = (upsert: boolean): Statement<[StagedValue[], { list: string }]> =>
    db.prepare<[StagedValue[], { list: string }]>(sql(STAGE_CHUNK, upsert, BARE_VALUES));
  ctx.ordered = {
    upsertChunk: insert(STAGE_CHUNK, true),
    upsertOne: insert(1, true),
    insertChunk: insert(STAGE_CHUNK, false),
    insertOne: insert(1, false),
    bareUpsertChunk: bare(true),
    bareInsertChunk: bare(false),
    removeOne: db.prepare<[string, string]>('DELETE FROM entries WHERE list = ? AND id = ?'),
    size: (list) => listSize(ctx, list),
    gap: (n) => {
      let statement = gaps.get(n);
      if (statement === undefined) {
        const ids = Array.from({ length: n }, () => '?').join(', ');
        statement = db.prepare<[StagedValue[]]>(
          `DELETE FROM entries WHERE list = ? AND id > ? AND id <= ? AND id NOT IN (${ids})`,
        );
        gaps.set(n, statement);
      }
      return statement;
    },
    after: db.prepare<[string, string]>('DELETE FROM entries WHERE list = ? AND id > ?'),
    range: db
      .prepare<[string, string, string], number>('SELECT count(*) FROM entries WHERE list = ? AND id > ? AND id <= ?')
      .pluck(),
    all: db.prepare<[string]>('DELETE FROM entries WHERE list = ?'),
  };
  return ctx.ordered;
}

/**
 * `importFile`'s first way: rows written straight into the store while every list's ids ascend.
 * `undefined` (the transaction rolled back) at the first id out of order.
 */
export async function orderedImport(
  ctx: StoreContext,
  reader: AsyncGenerator<PackedBatch, ListStreamSummary, void>,
  resolved: ResolvedImport,
  onError: 'fail' | 'skip',
  report: (batch: PackedBatch) => void,
): Promise<ImportFileResult | undefined> {
  const source = resolved.source ?? '<rows>';
  const now = new Date().toISOString();
  const unordered = new Error('ids out of order');
  try {
    return await transaction(ctx, async (rowsFailed) => {
      const bad = new BadRows(onError);
      const writer = new OrderedWriter(
        orderedStatements(ctx),
        resolved,
        (list) => bumpVersion(ctx, list, now),
        source,
        bad,
      );
      const read = await drain(reader, rowsFailed, (batch) => {
        if (batch.unordered !== undefined) {
          rowsFailed(unordered); // passes through the rollback as it is
          throw unordered;
        }
        report(batch);
        writer.write(batch);
      });
      const tallies = writer.finish();
      const versions = writer.versions;
      const summaries = record(ctx, tallies, versions, resolved, now);
      return Object.freeze({
        summaries: Object.freeze(summaries),
        skipped: Object.freeze(bad.shown),
        skippedCount: bad.count,
        read,
        ordered: true,
      });
    });
  } catch (error) {
    if (error === unordered) return undefined;
    throw error;
  }
}
