/**
 * What the store's functions share for one open connection: the connection, its prepared
 * statements and its state. {@link HashStore} keeps one privately and hands it to the functions
 * of each concern (schema, imports, reads, policy), as better-sqlite3's methods get `this`.
 */
import { ALGORITHM_NAMES, getAlgorithm } from '../algorithms/registry.js';
import { HashwardenError, isHashwardenError } from '../errors.js';
import { MAX_FIELD_BYTES, MAX_METADATA_BYTES } from '../lists/entry.js';
import type { Connection, Statement } from './driver.js';
import type { OrderedStatements, Staging } from './statements.js';
import { ENTRY_ALGORITHMS, MAX_VPDQ_HASH_BYTES } from './vpdq.js';

/** The columns of `entries`, in the order inserts give them. */
export const ENTRY_COLUMNS = 'list, id, algorithm, hash, label, metadata';

/**
 * The longest hash an import writes, in bytes: a vPDQ entry's packed frames (the registry's
 * algorithms' hashes are 32 bytes at most; a longer one of theirs is refused by its format check).
 */
const MAX_HASH_BYTES = Math.max(MAX_VPDQ_HASH_BYTES, ...ALGORITHM_NAMES.map((name) => getAlgorithm(name).bits / 8));
/** The most bytes each column of `entries` may hold, as an import writes them. */
export const ENTRY_LIMITS = {
  list: MAX_FIELD_BYTES,
  id: MAX_FIELD_BYTES,
  algorithm: MAX_FIELD_BYTES,
  hash: MAX_HASH_BYTES,
  label: MAX_FIELD_BYTES,
  metadata: MAX_METADATA_BYTES,
} as const;

/** `column` as a read takes it: NULL when longer than `bytes`, measured without reading the value. */
export function boundedColumn(column: string, bytes: number): string {
  return `iif(octet_length(${column}) > ${bytes}, NULL, ${column}) AS ${column}`;
}

/**
 * `column` as a read takes it: NULL when it holds no integer (SQLite keeps any type in any column
 * of a table that is not STRICT: a crafted count or version could be a gigabyte of text).
 */
export function integerColumn(column: string): string {
  return `iif(typeof(${column}) = 'integer', ${column}, NULL) AS ${column}`;
}

/**
 * The columns of `entries` as reads take them: a store may come from elsewhere (crafted, or
 * written before the limits), and one entry must not cost unbounded memory. `octet_length` gives a
 * value's size without reading the value, so a column over its limit comes back NULL, never
 * materialised (list, id and algorithm, which SQLite reads anyway to filter and order, come back
 * cut to their limit), and `oversized` names the first such column, for the read to refuse the
 * entry.
 */
export const READ_COLUMNS = [
  ...(['list', 'id', 'algorithm'] as const).map((c) => `substr(${c}, 1, ${ENTRY_LIMITS[c]}) AS ${c}`),
  ...(['hash', 'label', 'metadata'] as const).map((c) => boundedColumn(c, ENTRY_LIMITS[c])),
  oversized(Object.entries(ENTRY_LIMITS)),
].join(', ');

/**
 * The first of `columns` whose value is over its limit in bytes, or of `integers` that holds no
 * integer (NULL when none), measured unread.
 */
export function oversized(columns: readonly (readonly [string, number])[], integers: readonly string[] = []): string {
  const whens = [
    ...columns.map(([c, limit]) => `WHEN octet_length(${c}) > ${limit} THEN '${c}'`),
    ...integers.map((c) => `WHEN typeof(${c}) <> 'integer' THEN '${c}'`),
  ];
  return `CASE ${whens.join(' ')} END AS oversized`;
}

/**
 * The columns of `lists` as reads take them, bounded as entries are (`READ_COLUMNS`): every load
 * of a matcher reads them. A version 1 store has no policy columns, one before version 4 no
 * action: theirs are the defaults.
 */
function listColumns(version: number): string {
  const bounded = [
    'updated_at',
    ...(version >= 2 ? ['label', 'thresholds'] : []),
    ...(version >= 4 ? ['action'] : []),
  ] as const;
  return [
    `substr(name, 1, ${MAX_FIELD_BYTES}) AS name`,
    integerColumn('version'),
    ...bounded.map((c) => boundedColumn(c, MAX_FIELD_BYTES)),
    ...(version >= 2 ? [integerColumn('enabled')] : ['NULL AS label', 'NULL AS thresholds', '1 AS enabled']),
    ...(version >= 4 ? [] : ['NULL AS action']),
    oversized(
      ['name', ...bounded].map((c) => [c, MAX_FIELD_BYTES] as const),
      ['version', ...(version >= 2 ? ['enabled'] : [])],
    ),
  ].join(', ');
}

// Index: bit 0 = list filter, bit 1 = algorithm filter. ORDER BY list, id costs no sort: it is the
// primary key order (a filter on the algorithm alone scans the table in that order).
const FILTERS = ['', ' WHERE list = ?', ' WHERE algorithm = ?', ' WHERE list = ? AND algorithm = ?'] as const;

/** A row of `entries`. */
export interface EntryRow {
  readonly list: string;
  readonly id: string;
  readonly algorithm: string;
  readonly hash: Buffer;
  readonly label: string | null;
  readonly metadata: string | null;
}

/** A row of `entries` as reads take it (`READ_COLUMNS`): `oversized` names a column over its limit, if any. */
export interface ReadRow extends EntryRow {
  readonly oversized: keyof typeof ENTRY_LIMITS | null;
}

/** A row of `lists` (the policy columns defaulted in a version 1 store); `oversized` names a column over its limit. */
interface ListRowData {
  readonly oversized: string | null;
  readonly name: string;
  readonly version: number;
  readonly updated_at: string | null;
  readonly label: string | null;
  readonly thresholds: string | null;
  readonly enabled: number;
  /** NULL for a block list (and every list of a store before version 4), `'allow'` for an allow list. */
  readonly action: string | null;
}

/** One open store: its connection, statements and state. */
export interface StoreContext {
  /** The path the store was opened with. */
  readonly path: string;
  readonly db: Connection;
  readonly readonly: boolean;
  /** The schema version opened (1 only read-only: a writable open upgrades). */
  readonly version: number;
  readonly selectList: Statement<[string], { version: number }>;
  readonly insertList: Statement<[string, string, string]>;
  readonly bumpList: Statement<[number, string, string]>;
  readonly listRows: Statement<[], ListRowData>;
  /**
   * Each list's entries, and how many of them each algorithm holds, in one pass in key order (no
   * sort): `n` beyond the algorithms' sum means a name no import writes, counted by `listCounts`.
   */
  readonly listTotals: Statement<[], Record<string, number> & { list: string; n: number }>;
  readonly listCounts: Statement<[], { list: string; algorithm: string; n: number }>;
  /** Entries, and their count, by filter: indexed as `FILTERS`. */
  readonly iterate: readonly Statement<string[], ReadRow>[];
  readonly count: readonly Statement<string[], number>[];
  /** Made on the first import: a version 1 store read as it is has no such columns. */
  insertImport: Statement<[string, number, string | null, number, number, number, number, string, string]> | undefined;
  /** The staging statements, made on the first import (they need the temporary table). */
  staging: Staging | undefined;
  /** The ordered import's statements, made on its first use. */
  ordered: OrderedStatements | undefined;
  /** True while an import or `readAsync` holds its transaction open across awaits. */
  importing: boolean;
}

/** The context of a connection just opened, with its statements prepared. */
export function createContext(db: Connection, path: string, readonly: boolean, version: number): StoreContext {
  return {
    path,
    db,
    readonly,
    version,
    selectList: db.prepare('SELECT version FROM lists WHERE name = ?'),
    insertList: db.prepare('INSERT INTO lists (name, version, created_at, updated_at) VALUES (?, 1, ?, ?)'),
    bumpList: db.prepare('UPDATE lists SET version = ?, updated_at = ? WHERE name = ?'),
    listRows: db.prepare(`SELECT ${listColumns(version)} FROM lists ORDER BY name`),
    listTotals: db.prepare(
      `SELECT substr(list, 1, ${MAX_FIELD_BYTES}) AS list, count(*) AS n, ${ENTRY_ALGORITHMS.map((a) => `sum(algorithm = '${a}') AS ${a}`).join(', ')} FROM entries GROUP BY entries.list`,
    ),
    listCounts: db.prepare(
      `SELECT substr(list, 1, ${MAX_FIELD_BYTES}) AS list, substr(algorithm, 1, ${MAX_FIELD_BYTES}) AS algorithm, count(*) AS n FROM entries GROUP BY list, algorithm`,
    ),
    iterate: FILTERS.map((where) =>
      db.prepare<string[], ReadRow>(`SELECT ${READ_COLUMNS} FROM entries${where} ORDER BY list, id`),
    ),
    count: FILTERS.map((where) => db.prepare<string[], number>(`SELECT count(*) FROM entries${where}`).pluck()),
    insertImport: undefined,
    staging: undefined,
    ordered: undefined,
    importing: false,
  };
}

/** Any failure from better-sqlite3 becomes `ERR_STORE` naming the file; our own errors pass through. */
export function storeError(path: string, error: unknown): HashwardenError {
  if (isHashwardenError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code =
    typeof (error as { code?: unknown } | null)?.code === 'string' ? ` (${(error as { code: string }).code})` : '';
  return new HashwardenError('ERR_STORE', `SQLite store ${path}: ${message}${code}`, { cause: error });
}

/**
 * The rows of the statement `start` runs, SQLite's failures as `ERR_STORE`. Leaving the loop early
 * (a `break`, an error in the caller's loop or in a row) releases the statement: left busy, it
 * would keep the store from being written.
 */
export function* storeRows<Row>(path: string, start: () => IterableIterator<Row>): Generator<Row, void, undefined> {
  let rows: IterableIterator<Row>;
  try {
    rows = start();
  } catch (error) {
    throw storeError(path, error);
  }
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<Row>;
      try {
        step = rows.next();
      } catch (error) {
        throw storeError(path, error);
      }
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    if (!finished) rows.return?.();
  }
}

/** Throws `ERR_STORE` unless the store may be written now: not read-only, no transaction running. */
export function writable(ctx: StoreContext, what: string): void {
  if (ctx.readonly)
    throw new HashwardenError('ERR_STORE', `SQLite store ${ctx.path}: opened read-only, cannot ${what}`);
  if (ctx.importing)
    throw new HashwardenError(
      'ERR_STORE',
      `SQLite store ${ctx.path}: a transaction (an import, a read) is running on this connection, cannot ${what}`,
    );
}

/** Entries of one list, inside an import (`count`'s statement, without its filter checks). */
export function listSize(ctx: StoreContext, list: string): number {
  return (ctx.count[1] as Statement<string[], number>).get(list) ?? 0;
}
