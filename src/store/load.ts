/**
 * Reading whole lists for a matcher or a snapshot: the entries go straight into the packed layout
 * a snapshot holds (hashes back to back, ids as UTF-8 bytes with offsets, a list number each), with
 * no object per entry. SQLite does the per-row work: the rows of one list and algorithm come in
 * batches, each batch as one row of aggregates (the ids joined by zero bytes, the hashes back to
 * back, the longest hash, the count of labels and metadata), so JavaScript touches a batch, not a
 * row. The batches run over a list's rows whatever their algorithm, so nothing counts the rows
 * first (a count is a pass over the whole table, as long as the read itself): a batch of one
 * algorithm goes to that algorithm's entries whole; a batch of several (a list holding exact and
 * perceptual hashes of the same items, their ids interleaved) is read again per algorithm over
 * the same id range. A batch that is not the plain case (labels or metadata, anything a crafted
 * store holds: a value over its bound, a hash of another size, an id that is not UTF-8 or holds
 * a zero byte, an algorithm no import writes) is read row by row as `entries()` reads it, with
 * the same checks and errors. Entries quarantined (quarantine.ts) are left out in SQL, for the
 * lists that have any.
 *
 * vPDQ entries (a video's frames, not one fixed-size hash) are not among the packed tables of
 * `readPacked`: `readVideos` reads them, one row at a time (video lists are short beside image
 * lists), into the `PackedVpdq` a matcher takes, numbering the lists as `readPacked` does.
 */
import { isUtf8 } from 'node:buffer';
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import type { HashAlgorithm } from '../algorithms/types.js';
import { MAX_FIELD_BYTES } from '../lists/entry.js';
import { MAX_PACKED_LISTS, PackedBuilder, type PackedEntries } from '../search/entry-table.js';
import type { PackedVpdq } from '../search/vpdq.js';
import { ENTRY_LIMITS, READ_COLUMNS, storeError, storeRows, type ReadRow, type StoreContext } from './context.js';
import type { Statement } from './driver.js';
import { IN_FORCE, quarantineCounts } from './quarantine.js';
import { toEntry } from './reads.js';
import { packVideos, type StoredVideo } from './vpdq.js';

/**
 * Rows per batch: large enough that the per-batch work (a statement step, a few allocations) is
 * noise beside the rows', small enough that a batch's joined ids and hashes stay well under a
 * megabyte.
 */
const BATCH_ROWS = 8192;

/** One batch as the aggregate query returns it (`raw()`: by position). */
type BatchRow = [n: number, last: unknown, ids: Buffer | null, hashes: Buffer | null];

/**
 * One batch of rows (the first ones, or those after an id), in id order, as aggregates, for the
 * algorithm the batch is expected to hold: the ids joined by zero bytes, and the hashes of that
 * algorithm and width back to back. Every check of the plain case is folded into what joins, so
 * that SQLite does no other work per row: a row with a label or metadata, or an id over its
 * bound, joins an empty id (which the builder refuses); a row of another algorithm, or whose hash
 * is not a blob of the width, joins no hash (so the hashes fall short of n hashes). Such a batch
 * is read again as it is: per algorithm, then row by row (`entries()`' checks, never
 * materialising a value over its bound).
 */
const batchSql = (where: string): string => `SELECT count(*), max(id),
  CAST(group_concat(CASE WHEN octet_length(id) <= ${ENTRY_LIMITS.id} AND label IS NULL AND metadata IS NULL THEN id ELSE '' END, char(0)) AS BLOB),
  CAST(group_concat(CASE WHEN algorithm = @algorithm AND typeof(hash) = 'blob' AND octet_length(hash) = @width THEN hash END, '') AS BLOB)
  FROM (SELECT id, hash, label, metadata, algorithm FROM entries WHERE ${where} ORDER BY id LIMIT ${BATCH_ROWS})`;

/** The rows of one batch's range, bounded and checked as `entries()` reads them. */
const rowsSql = (where: string): string => `SELECT ${READ_COLUMNS} FROM entries WHERE ${where} ORDER BY id`;

/** The algorithms of one batch's range with the first id holding each: the order `entries()` meets them in. */
const algorithmsSql = (where: string): string =>
  `SELECT substr(algorithm, 1, ${ENTRY_LIMITS.algorithm}) AS algorithm, min(id) AS first FROM entries WHERE ${where} GROUP BY algorithm ORDER BY first`;

/** A batch's parameters: the first batch of a list has no `after`; a batch's range ends at `upTo`. */
interface BatchParameters {
  list: string;
  /** The time quarantines are in force at (ISO 8601), for the statements that leave them out. */
  now?: string;
  algorithm: string;
  width: number;
  after?: unknown;
  upTo?: unknown;
}

/**
 * A statement for the first batch of a list and one for those after an id (an id sorts after ''
 * only if it is text: the first batch starts at the first id, whatever it is).
 */
interface Pair<Row> {
  readonly first: Statement<[BatchParameters], Row>;
  readonly next: Statement<[BatchParameters], Row>;
}

/** The statements of a packed read. */
interface Statements {
  /** A list's next batch. */
  readonly batch: Pair<BatchRow>;
  /** One algorithm's rows of a batch's range, as one batch. */
  readonly rangeBatch: Pair<BatchRow>;
  readonly algorithms: Pair<{ algorithm: unknown }>;
  readonly rows: Pair<ReadRow>;
  readonly rangeRows: Pair<ReadRow>;
}

const LIST = 'list = @list';
/**
 * A list some of whose entries are quarantined: those left out, as if the list did not hold them
 * (a primary-key probe per row, so only such lists pay it).
 */
const LIST_IN_USE = `${LIST} AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.list = @list AND q.id = entries.id AND ${IN_FORCE})`;
const RANGE = 'id <= @upTo';
const ONE = 'algorithm = @algorithm';

function prepare(ctx: StoreContext, list: string): Statements {
  const pair = <Row>(sql: (where: string) => string, where: string, raw: boolean): Pair<Row> => {
    const statement = (w: string): Statement<[BatchParameters], Row> => {
      const s = ctx.db.prepare<[BatchParameters], Row>(sql(w));
      return raw ? s.raw() : s;
    };
    return { first: statement(where), next: statement(`${where} AND id > @after`) };
  };
  try {
    return {
      batch: pair(batchSql, list, true),
      rangeBatch: pair(batchSql, `${list} AND ${ONE} AND ${RANGE}`, true),
      algorithms: pair(algorithmsSql, `${list} AND ${RANGE}`, false),
      rows: pair(rowsSql, `${list} AND ${RANGE}`, false),
      rangeRows: pair(rowsSql, `${list} AND ${ONE} AND ${RANGE}`, false),
    };
  } catch (error) {
    throw storeError(ctx.path, error);
  }
}

/** The statement of `pair` for `params`: the first batch's, or the one after `params.after`. */
function of<Row>(pair: Pair<Row>, params: BatchParameters): Statement<[BatchParameters], Row> {
  return 'after' in params ? pair.next : pair.first;
}

/**
 * The entries of the lists named (in that order; at most {@link MAX_PACKED_LISTS}), packed per
 * algorithm in order of first appearance, each algorithm's in list then id order: the order
 * `entries()` gives them in, grouped. To be called in a read transaction. Throws `ERR_STORE` for
 * a bad stored entry, as `entries()` does.
 */
export function readPacked(ctx: StoreContext, lists: readonly string[]): Map<AlgorithmName, PackedEntries> {
  if (lists.length > MAX_PACKED_LISTS)
    throw new RangeError(`Expected at most ${MAX_PACKED_LISTS} lists but received ${lists.length}`);
  const builders = new Map<AlgorithmName, PackedBuilder>();
  const builder = (algorithm: HashAlgorithm<AlgorithmName>): PackedBuilder => {
    let b = builders.get(algorithm.name);
    if (b === undefined) {
      b = new PackedBuilder(algorithm.bits / 8);
      builders.set(algorithm.name, b);
    }
    return b;
  };
  const whole = prepare(ctx, LIST);
  let filtered: Statements | undefined;
  // Read once: every list of the load leaves out what was quarantined at the same moment.
  const now = new Date();
  const held = quarantineCounts(ctx, now);
  // Joined text comes back as the database's bytes: only UTF-8 ones are the ids' UTF-8.
  const utf8 = (ctx.db.pragma('encoding', { simple: true }) as string) === 'UTF-8';
  const step = (statement: Statement<[BatchParameters], BatchRow>, params: BatchParameters): BatchRow => {
    try {
      return statement.get(params) as BatchRow;
    } catch (error) {
      throw storeError(ctx.path, error);
    }
  };
  lists.forEach((list, number) => {
    const statements = held.has(list) ? (filtered ??= prepare(ctx, LIST_IN_USE)) : whole;
    const add = (row: ReadRow): void => {
      if (row.algorithm === VPDQ_ALGORITHM) return; // readVideos' part
      const entry = toEntry(ctx, row);
      const algorithm = getAlgorithm(entry.algorithm);
      builder(algorithm).add(number, algorithm.parse(entry.hash), entry);
    };
    /** Adds a batch read for `algorithm` whole when it is the plain case; false when it is not. */
    const plain = (algorithm: HashAlgorithm<AlgorithmName>, [n, , ids, hashes]: BatchRow): boolean =>
      utf8 &&
      ids !== null &&
      hashes !== null &&
      hashes.length === (n * algorithm.bits) / 8 &&
      isUtf8(ids) &&
      builder(algorithm).addBatch(number, n, hashes, ids, MAX_FIELD_BYTES);
    // Each batch is read for the algorithm of the one before: a list usually holds one, and a
    // batch that holds another (or several) is read again per algorithm.
    let expected: HashAlgorithm<AlgorithmName> | undefined;
    const params: BatchParameters = { list, now: now.toISOString(), algorithm: '', width: 0 };
    for (;;) {
      const row = step(of(statements.batch, params), params);
      const [n, last] = row;
      if (n === 0) break;
      if (expected === undefined || !plain(expected, row)) {
        const range: BatchParameters = { ...params, upTo: last };
        // vPDQ rows are left to readVideos: the other algorithms of the range are read here.
        const names = [...iterateRows(ctx, of(statements.algorithms, range), range)]
          .map((r) => r.algorithm)
          .filter((name) => name !== VPDQ_ALGORITHM);
        if (!names.every((name): name is string => typeof name === 'string' && known(name))) {
          // A name no import writes: read as `entries()` reads, which refuses its first entry.
          for (const r of iterateRows(ctx, of(statements.rows, range), range)) add(r);
        } else {
          for (const name of names) {
            const algorithm = getAlgorithm(name);
            const part: BatchParameters = { ...range, algorithm: name, width: algorithm.bits / 8 };
            // Read for this algorithm already, the batch failed for another reason: straight to rows.
            const again = names.length > 1 || algorithm !== expected;
            if (!again || !plain(algorithm, step(of(statements.rangeBatch, part), part)))
              for (const r of iterateRows(ctx, of(statements.rangeRows, part), part)) add(r);
          }
          const latest = names.at(-1);
          if (latest !== undefined) {
            expected = getAlgorithm(latest);
            params.algorithm = expected.name;
            params.width = expected.bits / 8;
          }
        }
      }
      params.after = last;
    }
  });
  const out = new Map<AlgorithmName, PackedEntries>();
  for (const [name, b] of builders) out.set(name, b.done(lists));
  return out;
}

/**
 * The vPDQ entries of the lists named (in that order, at most {@link MAX_PACKED_LISTS}; entry `i`'s
 * list is its index in `lists`, as `readPacked` numbers them), each list's in id order, quarantined
 * ones left out; undefined when they hold none. To be called in a read transaction. A row over its
 * bounds, or whose hash is not whole packed frames of valid quality and time, is `ERR_STORE` naming
 * the list and id. Each list's rows are found by a scan of that list (no index on the algorithm):
 * one pass, like a count of it.
 */
export function readVideos(ctx: StoreContext, lists: readonly string[]): PackedVpdq | undefined {
  if (lists.length > MAX_PACKED_LISTS)
    throw new RangeError(`Expected at most ${MAX_PACKED_LISTS} lists but received ${lists.length}`);
  const now = new Date();
  const held = quarantineCounts(ctx, now);
  const where = `list = @list AND algorithm = '${VPDQ_ALGORITHM}'`;
  let whole: Statement<[{ list: string; now: string }], ReadRow>;
  let filtered: Statement<[{ list: string; now: string }], ReadRow>;
  try {
    whole = ctx.db.prepare(`SELECT ${READ_COLUMNS} FROM entries WHERE ${where} ORDER BY id`);
    // The same parameters for both: better-sqlite3 refuses a named parameter the statement lacks.
    filtered = ctx.db.prepare(
      `SELECT ${READ_COLUMNS} FROM entries WHERE ${where} AND @now IS NOT NULL AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.list = @list AND q.id = entries.id AND ${IN_FORCE}) ORDER BY id`,
    );
  } catch (error) {
    throw storeError(ctx.path, error);
  }
  const videos: StoredVideo[] = [];
  lists.forEach((list, number) => {
    const statement = held.has(list) ? filtered : whole;
    const params = { list, now: now.toISOString() };
    for (const row of storeRows(ctx.path, () => statement.iterate(params))) {
      // toEntry checks the row as every read does: bounds, metadata, and the frames (`unpackVpdq`).
      const entry = toEntry(ctx, row);
      videos.push({ list: number, id: entry.id, label: entry.label, metadata: entry.metadata, frames: row.hash });
    }
  });
  return packVideos(videos, lists);
}

/** True for a name `getAlgorithm` takes. */
function known(name: string): boolean {
  try {
    getAlgorithm(name);
    return true;
  } catch {
    return false;
  }
}

/** The rows `statement` gives for `params`, SQLite's failures as `ERR_STORE`. */
function iterateRows<Row>(
  ctx: StoreContext,
  statement: Statement<[BatchParameters], Row>,
  params: BatchParameters,
): Generator<Row, void, undefined> {
  return storeRows(ctx.path, () => statement.iterate(params));
}
