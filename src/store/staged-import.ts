/**
 * The staged import: rows go first into a temporary table keyed like `entries`, whose key catches
 * a (list, id) given twice, then are applied in one go. `importEntries` and `importRows` import
 * this way, and `importFile` when a file's ids are not in ascending order.
 */
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import type { ListEntry } from '../lists/entry.js';
import { metadataJson } from '../lists/packed.js';
import { vpdqPackedHex } from '../lists/vpdq-entry.js';
import { ENTRY_COLUMNS, listSize, storeError, writable, type StoreContext } from './context.js';
import type { Statement } from './driver.js';
import {
  BadRows,
  bumpVersions,
  drain,
  eachRow,
  emptiedList,
  ListOrder,
  MAX_SKIPPED,
  normalizeEntryAt,
  record,
  removalInReplace,
  resolveEntries,
  resolveRows,
  STAGE_CHUNK,
  transaction,
  UPSERT_SET,
  type ResolvedImport,
  type RowBatch,
} from './import.js';
import type { StagedParameters, StagedValue, Staging } from './statements.js';
import type { ImportOptions, ImportResult, ImportRowsOptions, ImportSummary } from './types.js';
import { VPDQ_DEFAULT_ID_GLOB, vpdqDefaultShaped } from './vpdq.js';

/**
 * Where an import stages its rows before applying them in one go: one temporary table per
 * connection, keyed like `entries`, so a row repeated in one file is caught by the key, with no
 * map of every id in memory. `op` is 0 to add, 1 to remove; `seq` is the row's place in
 * `arrivals`, when it came through there.
 *
 * `arrivals` takes the rows of `importFile` in file order (a rowid table: each insert an append),
 * and they are moved into `staged` in one statement sorted by key. Rows in random order inserted
 * into `staged` itself land all over its B-tree, which outgrows SQLite's page cache: appending,
 * then sorting once, is several times faster (docs/benchmark.md).
 */
const STAGED_ROW =
  'list TEXT NOT NULL, id TEXT NOT NULL, op INTEGER NOT NULL, algorithm TEXT, hash TEXT, label TEXT, metadata TEXT, line INTEGER';
const STAGING = `
CREATE TEMP TABLE IF NOT EXISTS staged (${STAGED_ROW}, seq INTEGER, PRIMARY KEY (list, id)) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS arrivals (${STAGED_ROW});
DELETE FROM temp.staged;
DELETE FROM temp.arrivals;
`;

const STAGED_COLUMNS = 'list, id, op, algorithm, hash, label, metadata, line';
const CHUNK_VALUES = Array.from({ length: STAGE_CHUNK }, () => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ');

/** Entries of a list the staged rows do not hold: what a replace removes. */
const COUNT_OUTSIDE =
  'SELECT count(*) FROM entries AS e WHERE e.list = ? AND NOT EXISTS (SELECT 1 FROM temp.staged AS s WHERE s.list = e.list AND s.id = e.id)';
// Hashes are staged as the reader's lower-case hex (a vPDQ entry's: of its packed frames) and turned
// into bytes here, in SQLite: a Buffer per row made in JavaScript cost more. `WHERE` before `ON CONFLICT` is required: without
// it SQLite would read ON as a join constraint. An unchanged row is not written (no WAL page).
const UPSERT_STAGED = `
INSERT INTO entries (${ENTRY_COLUMNS}) SELECT list, id, algorithm, unhex(hash), label, metadata FROM temp.staged WHERE list = ? AND op = 0
ON CONFLICT (list, id) DO UPDATE SET ${UPSERT_SET}`;
const REMOVE_STAGED =
  'DELETE FROM entries WHERE (list, id) IN (SELECT list, id FROM temp.staged WHERE list = ? AND op = 1)';
/** Rows a list's import adds or updates (a walk of the staging key's prefix). */
const STAGED_ADDS = 'SELECT count(*) FROM temp.staged WHERE list = ? AND op = 0';
const REMOVE_OUTSIDE =
  'DELETE FROM entries WHERE list = ? AND NOT EXISTS (SELECT 1 FROM temp.staged AS s WHERE s.list = entries.list AND s.id = entries.id)';
/** The arrivals sorted into `staged`: of rows repeating a (list, id), the first stays. */
const SETTLE_ARRIVALS = `INSERT OR IGNORE INTO temp.staged (${STAGED_COLUMNS}, seq) SELECT ${STAGED_COLUMNS}, rowid FROM temp.arrivals ORDER BY list, id, rowid`;
/**
 * True for a staged row (alias `r`) with the id `normalizeEntry` gives a row without one: for a
 * vPDQ entry, one of that shape (`VPDQ_DEFAULT_ID_GLOB`), the hash compared in `SAME_ROW`.
 */
const defaultId = (r: string): string =>
  `(${r}.id IS ${r}.algorithm || ':' || ${r}.hash OR (${r}.algorithm = '${VPDQ_ALGORITHM}' AND ${r}.id GLOB '${VPDQ_DEFAULT_ID_GLOB}'))`;
/**
 * An arrival `a` that repeats the staged row `s` (same list and id) and is the same row: both adds
 * whose id is `<algorithm>:<hash>` (`hasDefaultId`; for vPDQ, of the default's shape with the same
 * frames), which the dedupe policy `merge` drops. `IS`, not `=`: a removal's algorithm is NULL, and
 * NULL would make the `NOT` below NULL too.
 */
const SAME_ROW = `(a.op = 0 AND s.op = 0 AND ${defaultId('a')} AND ${defaultId('s')} AND a.algorithm IS s.algorithm AND a.hash IS s.hash)`;
const REPEATS =
  'FROM temp.arrivals AS a JOIN temp.staged AS s ON s.list = a.list AND s.id = a.id WHERE s.seq <> a.rowid';
/**
 * The arrivals that repeat an earlier row's (list, id), in file order, with the first's line; with
 * the first parameter 1, not those that are the same row (dedupe `merge`).
 */
const REPEATED_ARRIVALS = `SELECT a.list, a.id, a.line, s.line AS first ${REPEATS} AND NOT (? AND ${SAME_ROW}) ORDER BY a.rowid LIMIT ?`;
/** How many arrivals repeat an earlier row and are the same row. */
const SAME_ARRIVALS = `SELECT count(*) ${REPEATS} AND ${SAME_ROW}`;

function addParameters(entry: ListEntry, line: number | null): StagedParameters {
  // The entry is normal (normalEntry): its hash is lower-case hex of the algorithm's length, or a
  // vPDQ entry's signal text, staged as the hex of its packed frames.
  return [
    entry.list,
    entry.id,
    0,
    entry.algorithm,
    entry.algorithm === VPDQ_ALGORITHM ? vpdqPackedHex(entry.hash) : entry.hash,
    entry.label ?? null,
    entry.metadata === undefined ? null : metadataJson(entry.metadata),
    line,
  ];
}

/**
 * Stages rows 128 to an insert. A chunk whose insert hits a (list, id) already staged is staged
 * again row by row, so that `duplicate` hears of exactly the repeated rows (a failed statement
 * inserts none of its rows).
 */
class Stager {
  readonly #params: StagedValue[] = [];
  #rows = 0;
  /** Rows added in all. */
  rows = 0;

  constructor(
    readonly single: Statement<StagedParameters>,
    readonly chunk: Statement<[StagedValue[]]>,
    readonly duplicate: (row: StagedParameters) => void,
  ) {}

  add(row: StagedParameters): void {
    this.rows++;
    for (const value of row) this.#params.push(value);
    if (++this.#rows === STAGE_CHUNK) this.flush();
  }

  flush(): void {
    if (this.#rows === STAGE_CHUNK) {
      try {
        this.chunk.run(this.#params); // an array binds as the statement's parameters, without a spread
        this.#clear();
        return;
      } catch (error) {
        if (!isDuplicate(error)) throw error;
      }
    }
    for (let r = 0; r < this.#rows; r++) {
      const row = this.#params.slice(r * 8, r * 8 + 8) as StagedParameters;
      try {
        this.single.run(...row);
      } catch (error) {
        if (!isDuplicate(error)) throw error;
        this.duplicate(row);
      }
    }
    this.#clear();
  }

  #clear(): void {
    this.#params.length = 0;
    this.#rows = 0;
  }
}

/** True for SQLite's refusal of a second row with a key already staged. */
function isDuplicate(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** What a staged import's batches are added with. */
interface StageContext {
  readonly stager: Stager;
  readonly order: ListOrder;
  /** `source:line`, or the source alone without a line. */
  where(line: number | null | undefined): string;
  /** Stages a removal row (refused in a replace), unless its list is one the import may not touch. */
  remove(list: string, id: string, line: number | null, at: () => string): void;
}

/** The staging table, emptied, and its statements (made once per connection). */
function startStaging(ctx: StoreContext): Staging {
  ctx.db.exec(STAGING);
  ctx.staging ??= {
    add: ctx.db.prepare(`INSERT INTO temp.staged (${STAGED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    addChunk: ctx.db.prepare<[StagedValue[]]>(`INSERT INTO temp.staged (${STAGED_COLUMNS}) VALUES ${CHUNK_VALUES}`),
    replaceAdd: ctx.db.prepare(
      `INSERT OR REPLACE INTO temp.staged (${STAGED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    replaceAddChunk: ctx.db.prepare<[StagedValue[]]>(
      `INSERT OR REPLACE INTO temp.staged (${STAGED_COLUMNS}) VALUES ${CHUNK_VALUES}`,
    ),
    line: ctx.db
      .prepare<[string, string], number | null>('SELECT line FROM temp.staged WHERE list = ? AND id = ?')
      .pluck(),
    outside: ctx.db.prepare<[string], number>(COUNT_OUTSIDE).pluck(),
    upsert: ctx.db.prepare(UPSERT_STAGED),
    remove: ctx.db.prepare(REMOVE_STAGED),
    stagedAdds: ctx.db.prepare<[string], number>(STAGED_ADDS).pluck(),
    removeOutside: ctx.db.prepare(REMOVE_OUTSIDE),
    clear: ctx.db.prepare('DELETE FROM temp.staged'),
    arrive: ctx.db.prepare(`INSERT INTO temp.arrivals (${STAGED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    arriveChunk: ctx.db.prepare<[StagedValue[]]>(
      `INSERT INTO temp.arrivals (${STAGED_COLUMNS}) VALUES ${CHUNK_VALUES}`,
    ),
    settle: ctx.db.prepare(SETTLE_ARRIVALS),
    repeated: ctx.db.prepare(REPEATED_ARRIVALS),
    sameArrivals: ctx.db.prepare<[], number>(SAME_ARRIVALS).pluck(),
    sameStaged: ctx.db
      .prepare<[string, string, string | null, string | null], number>(
        `SELECT count(*) FROM temp.staged AS s WHERE list = ? AND id = ? AND op = 0 AND ${defaultId('s')} AND algorithm IS ? AND hash IS ?`,
      )
      .pluck(),
  };
  return ctx.staging;
}

/**
 * Applies the staged rows inside the caller's transaction: refuses a replace that would empty a
 * list (before changing anything), bumps versions, removes, writes, refuses removals that emptied
 * a list (the transaction rolls them back), records the import.
 */
function apply(ctx: StoreContext, staging: Staging, order: ListOrder, resolved: ResolvedImport): ImportSummary[] {
  const now = new Date().toISOString();
  const lists = [...order.lists, ...[...resolved.replace].filter((name) => !order.has(name))];
  const adds = new Map(lists.map((list) => [list, staging.stagedAdds.get(list) ?? 0]));
  for (const list of lists) {
    if (resolved.replace.has(list) && !resolved.allowEmpty && adds.get(list) === 0)
      throw emptiedList(resolved, list, staging.outside.get(list) ?? 0);
  }
  const versions = bumpVersions(ctx, lists, now);
  // Each list's counts come from the writes themselves: rows changed (changes()), and the list's
  // size before and after, instead of a join of the staged rows with the entries beforehand.
  const tallies = lists.map((list) => {
    const staged = adds.get(list) ?? 0;
    const before = listSize(ctx, list);
    const removed = staging.remove.run(list).changes;
    const changed = staging.upsert.run(list).changes;
    let after = listSize(ctx, list);
    // A replaced list now holds every staged row: only when it holds more are there entries to
    // remove, each looked up in the staging table, a search that costs a replace much of its time.
    const outside = resolved.replace.has(list) && after > staged ? staging.removeOutside.run(list).changes : 0;
    after -= outside;
    if (after === 0 && before > 0 && !resolved.allowEmpty) throw emptiedList(resolved, list, before);
    const added = after - before + removed + outside;
    return { list, added, updated: changed - added, unchanged: staged - changed, removed: removed + outside };
  });
  staging.clear.run();
  return record(ctx, tallies, versions, resolved, now);
}

/**
 * Stages every batch (`stageBatch` adds its rows), then applies them: the import of
 * `importRows`, and of `importFile` when ids are not in order. Returns the result and what the
 * iterator returned at its end.
 */
export async function stagedImport<B>(
  ctx: StoreContext,
  iterator: AsyncIterator<B, unknown> | Iterator<B, unknown>,
  resolved: ResolvedImport,
  onError: 'fail' | 'skip',
  arrive: boolean,
  stageBatch: (batch: B, stage: StageContext) => void,
): Promise<{ result: ImportResult; returned: unknown }> {
  const source = resolved.source ?? '<rows>';
  // Repeats that are the same row as the first (list, algorithm and hash, no ids) are dropped.
  const merge = resolved.dedupe === 'merge';
  return transaction(ctx, async (rowsFailed) => {
    const staging = startStaging(ctx);
    const bad = new BadRows(onError);
    const order = new ListOrder(resolved, bad);
    const where = (line: number | null | undefined): string =>
      line === undefined || line === null ? source : `${source}:${line}`;
    /** A row repeating the (list, id) of the one on line `first`: refused, or skipped with `onError: 'skip'`. */
    const repeated = (list: string, id: string, line: number | null, first: number | null | undefined): void =>
      bad.row(
        line,
        `${where(line)}: Duplicate id ${JSON.stringify(id)} in list ${JSON.stringify(list)}${first === undefined || first === null ? '' : `, first on line ${first}`}`,
      );
    // Rows arriving go to `arrivals` (no key: repeats are found when they are sorted into
    // `staged`), or straight into `staged`, whose key refuses a repeat at once.
    const stager = arrive
      ? new Stager(staging.arrive, staging.arriveChunk, () => undefined)
      : new Stager(staging.add, staging.addChunk, ([list, id, op, algorithm, hash, , , line]) => {
          if (
            merge &&
            op === 0 &&
            (id === `${algorithm}:${hash}` || (algorithm === VPDQ_ALGORITHM && vpdqDefaultShaped(id))) &&
            staging.sameStaged.get(list, id, algorithm, hash) === 1
          )
            return;
          repeated(list, id, line, staging.line.get(list, id));
        });
    const stage: StageContext = {
      stager,
      order,
      where,
      remove(list, id, line, at) {
        if (resolved.replace.size > 0) throw removalInReplace(at());
        if (order.see(list, line, at)) stager.add([list, id, 1, null, null, null, null, line]);
      },
    };
    const returned = await drain(iterator, rowsFailed, (batch) => stageBatch(batch, stage));
    stager.flush();
    if (arrive) {
      // Sorted into `staged` by SQLite's sorter, with a helper thread: the reader thread is done
      // by now, so the helper has a core to itself.
      let settled: number;
      ctx.db.pragma('threads = 1');
      try {
        settled = staging.settle.run().changes;
      } finally {
        ctx.db.pragma('threads = 0');
      }
      let repeats = stager.rows - settled;
      if (repeats > 0 && merge) repeats -= staging.sameArrivals.get() as number;
      if (repeats > 0) {
        const shown = staging.repeated.all(merge ? 1 : 0, onError === 'fail' ? 1 : MAX_SKIPPED);
        for (const row of shown) repeated(row.list, row.id, row.line, row.first);
        bad.count += repeats - shown.length;
      }
      ctx.db.exec('DELETE FROM temp.arrivals');
    }
    const summaries = apply(ctx, staging, order, resolved);
    return {
      result: Object.freeze({
        summaries: Object.freeze(summaries),
        skipped: Object.freeze(bad.shown),
        skippedCount: bad.count,
      }),
      returned,
    };
  });
}

/** {@link HashStore.importEntries}. */
export function importEntries(
  ctx: StoreContext,
  entries: Iterable<ListEntry>,
  options?: ImportOptions,
): ImportSummary[] {
  const resolved = resolveEntries(entries, options);
  writable(ctx, 'import');
  // Set when the caller's iterable throws, so that error is not dressed up as a store failure.
  let sourceFailure: { error: unknown } | undefined;
  const run = (): ImportSummary[] => {
    const staging = startStaging(ctx);
    const order = new ListOrder(resolved, new BadRows('fail'));
    // A repeated (list, id) replaces the earlier one: OR REPLACE never reports a duplicate.
    const stager = new Stager(staging.replaceAdd, staging.replaceAddChunk, () => undefined);
    const iterator = entries[Symbol.iterator]();
    let done = false;
    try {
      for (let index = 1; ; index++) {
        let step: IteratorResult<ListEntry>;
        try {
          step = iterator.next();
        } catch (error) {
          sourceFailure = { error };
          throw error;
        }
        if (step.done) {
          done = true;
          break;
        }
        const entry = normalizeEntryAt(step.value, () => `Entry ${index}`);
        order.see(entry.list, null, () => `Entry ${index}`);
        stager.add(addParameters(entry, null));
      }
    } finally {
      if (!done) iterator.return?.();
    }
    stager.flush();
    return apply(ctx, staging, order, resolved);
  };
  try {
    return ctx.db.transaction(run).immediate();
  } catch (error) {
    if (sourceFailure !== undefined && error === sourceFailure.error) throw error;
    throw storeError(ctx.path, error);
  }
}

/** {@link HashStore.importRows}. */
export async function importRows(
  ctx: StoreContext,
  batches: AsyncIterable<RowBatch> | Iterable<RowBatch>,
  options?: ImportRowsOptions,
): Promise<ImportResult> {
  const { iterator, resolved, onError } = resolveRows(batches, options);
  writable(ctx, 'import');
  const { result } = await stagedImport(ctx, iterator, resolved, onError, false, (batch, stage) => {
    for (const row of batch.rows) {
      const at = (): string => stage.where(row.line);
      eachRow(
        row,
        at,
        stage.order,
        (entry) => stage.stager.add(addParameters(entry, row.line ?? null)),
        (list, id) => stage.remove(list, id, row.line ?? null, at),
      );
    }
  });
  return result;
}
