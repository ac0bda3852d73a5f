/**
 * Reading whole lists for a matcher or a snapshot: the entries go straight into the packed layout
 * a snapshot holds (hashes back to back, ids as UTF-8 bytes with offsets, a list number each), with
 * no object per entry. SQLite does the per-row work: the rows of one list and algorithm come in
 * batches, each batch as one row of aggregates (the ids joined by zero bytes, the hashes back to
 * back, the longest hash, the count of labels and metadata), so JavaScript touches a batch, not a
 * row. A batch that is not the plain case (labels or metadata, anything a crafted store holds: a
 * value over its bound, a hash of another size, an id that is not UTF-8 or holds a zero byte) is
 * read row by row as `entries()` reads it, with the same checks and errors; a list holding an
 * algorithm no import writes is read whole that way.
 */
import { isUtf8 } from 'node:buffer';
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { HashAlgorithm } from '../algorithms/types.js';
import { MAX_FIELD_BYTES, type ListEntry } from '../lists/entry.js';
import { MAX_PACKED_LISTS, PackedBuilder, type PackedEntries } from '../search/entry-table.js';
import { ENTRY_LIMITS, READ_COLUMNS, storeError, type ReadRow, type StoreContext } from './context.js';
import type { Statement } from './driver.js';
import { entries, toEntry } from './reads.js';
import type { ListInfo } from './types.js';

/**
 * Rows per batch: large enough that the per-batch work (a statement step, a few allocations) is
 * noise beside the rows', small enough that a batch's joined ids and hashes stay well under a
 * megabyte.
 */
const BATCH_ROWS = 8192;

/** One batch as the aggregate query returns it (`raw()`: by position). */
type BatchRow = [
  n: number,
  last: unknown,
  ids: Buffer | null,
  hashes: Buffer | null,
  maxHash: number | null,
  extras: number,
];

/**
 * One batch of a list's rows of one algorithm (the first ones, or those after an id), in id order,
 * as aggregates. An id or hash over its bound joins as nothing (the batch then fails its checks
 * and is read row by row, which refuses it, never materialising the value); `extras` counts the
 * labels and metadata, which the plain case does not hold.
 */
const batchSql = (where: string): string => `SELECT count(*), max(id),
  CAST(group_concat(CASE WHEN octet_length(id) <= ${ENTRY_LIMITS.id} THEN id ELSE '' END, char(0)) AS BLOB),
  CAST(group_concat(CASE WHEN octet_length(hash) <= @width THEN hash END, '') AS BLOB),
  max(octet_length(hash)), count(label) + count(metadata)
  FROM (SELECT id, hash, label, metadata FROM entries WHERE ${where} ORDER BY id LIMIT ${BATCH_ROWS})`;

/** The rows of one batch's range, bounded and checked as `entries()` reads them. */
const rowsSql = (where: string): string => `SELECT ${READ_COLUMNS} FROM entries WHERE ${where} ORDER BY id`;

/** A batch's parameters: the first batch has no `after`. */
interface BatchParameters {
  list: string;
  algorithm: string;
  width: number;
  after?: unknown;
  upTo?: unknown;
}

/**
 * The statements of a packed read: for the first batch of a list, then for those after an id (an
 * id sorts after '' only if it is text: the first batch starts at the first id, whatever it is).
 */
interface Statements {
  readonly first: Statement<[BatchParameters], BatchRow>;
  readonly next: Statement<[BatchParameters], BatchRow>;
  readonly firstRows: Statement<[BatchParameters], ReadRow>;
  readonly nextRows: Statement<[BatchParameters], ReadRow>;
  /** Each algorithm of a list with the first id holding it: the order `entries()` meets them in. */
  readonly firstIds: Statement<[string], { algorithm: string }>;
}

const ONE = 'list = @list AND algorithm = @algorithm';

function prepare(ctx: StoreContext): Statements {
  try {
    return {
      first: ctx.db.prepare<[BatchParameters], BatchRow>(batchSql(ONE)).raw(),
      next: ctx.db.prepare<[BatchParameters], BatchRow>(batchSql(`${ONE} AND id > @after`)).raw(),
      firstRows: ctx.db.prepare<[BatchParameters], ReadRow>(rowsSql(`${ONE} AND id <= @upTo`)),
      nextRows: ctx.db.prepare<[BatchParameters], ReadRow>(rowsSql(`${ONE} AND id > @after AND id <= @upTo`)),
      firstIds: ctx.db.prepare<[string], { algorithm: string }>(
        `SELECT substr(algorithm, 1, ${ENTRY_LIMITS.algorithm}) AS algorithm, min(id) AS first FROM entries WHERE list = ? GROUP BY algorithm ORDER BY first`,
      ),
    };
  } catch (error) {
    throw storeError(ctx.path, error);
  }
}

/**
 * The entries of `lists` (in that order; at most {@link MAX_PACKED_LISTS}), packed per algorithm
 * in order of first appearance, each algorithm's in list then id order: the order `entries()`
 * gives them in, grouped. To be called in a read transaction, with the lists it read (their
 * counts say which algorithms each holds). Throws `ERR_STORE` for a bad stored entry, as
 * `entries()` does.
 */
export function readPacked(ctx: StoreContext, lists: readonly ListInfo[]): Map<AlgorithmName, PackedEntries> {
  if (lists.length > MAX_PACKED_LISTS)
    throw new RangeError(`Expected at most ${MAX_PACKED_LISTS} lists but received ${lists.length}`);
  const builders = new Map<AlgorithmName, PackedBuilder>();
  const builder = (algorithm: HashAlgorithm<AlgorithmName>): PackedBuilder => {
    let b = builders.get(algorithm.name);
    if (b === undefined) {
      const expected = lists.reduce((n, l) => n + (l.counts[algorithm.name] ?? 0), 0);
      b = new PackedBuilder(algorithm.bits / 8, expected);
      builders.set(algorithm.name, b);
    }
    return b;
  };
  const statements = prepare(ctx);
  // Joined text comes back as the database's bytes: only UTF-8 ones are the ids' UTF-8.
  const utf8 = (ctx.db.pragma('encoding', { simple: true }) as string) === 'UTF-8';
  lists.forEach((list, number) => {
    const held = Object.keys(list.counts);
    const add = (entry: ListEntry): void => {
      const algorithm = getAlgorithm(entry.algorithm);
      builder(algorithm).add(number, algorithm.parse(entry.hash), entry);
    };
    if (!held.every(known)) {
      // An algorithm no import writes (or a name cut to its bound by the count): read as
      // `entries()` reads, which refuses the first such entry.
      for (const entry of entries(ctx, { list: list.name })) add(entry);
      return;
    }
    let algorithms = held;
    if (held.length > 1) {
      try {
        algorithms = statements.firstIds.all(list.name).map((r) => r.algorithm);
      } catch (error) {
        throw storeError(ctx.path, error);
      }
    }
    for (const stored of algorithms) {
      const algorithm = getAlgorithm(stored);
      const params: BatchParameters = { list: list.name, algorithm: stored, width: algorithm.bits / 8 };
      for (;;) {
        let row: BatchRow;
        try {
          row = ('after' in params ? statements.next : statements.first).get(params) as BatchRow;
        } catch (error) {
          throw storeError(ctx.path, error);
        }
        const [n, last, ids, hashes, maxHash, extras] = row;
        if (n === 0) break;
        const plain =
          utf8 &&
          extras === 0 &&
          ids !== null &&
          hashes !== null &&
          maxHash === params.width &&
          isUtf8(ids) &&
          builder(algorithm).addBatch(number, n, hashes, ids, MAX_FIELD_BYTES);
        if (!plain) {
          const range = 'after' in params ? statements.nextRows : statements.firstRows;
          for (const r of iterateRows(ctx, range, { ...params, upTo: last })) add(toEntry(ctx, r));
        }
        params.after = last;
      }
    }
  });
  const names = lists.map((l) => l.name);
  const out = new Map<AlgorithmName, PackedEntries>();
  for (const [name, b] of builders) out.set(name, b.done(names));
  return out;
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
function* iterateRows(
  ctx: StoreContext,
  statement: Statement<[BatchParameters], ReadRow>,
  params: BatchParameters,
): Generator<ReadRow> {
  let it: IterableIterator<ReadRow>;
  try {
    it = statement.iterate(params);
  } catch (error) {
    throw storeError(ctx.path, error);
  }
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<ReadRow>;
      try {
        step = it.next();
      } catch (error) {
        throw storeError(ctx.path, error);
      }
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    if (!finished) it.return?.();
  }
}
