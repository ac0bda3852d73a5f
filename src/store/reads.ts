/**
 * Reading a store: its entries (streamed), its lists with their counts and policy, the import
 * history, counts, and read transactions that give one version of the store.
 */
import { checkThresholds, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import { HashwardenError } from '../errors.js';
import {
  type EntryAlgorithm,
  MAX_FIELD_BYTES,
  MAX_FIELD_LENGTH,
  type EntryMetadata,
  type ListEntry,
} from '../lists/entry.js';
import { MAX_PATH_LENGTH } from '../lists/formats.js';
import { invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import {
  boundedColumn,
  ENTRY_LIMITS,
  integerColumn,
  oversized,
  READ_COLUMNS,
  storeError,
  storeRows,
  type ReadRow,
  type StoreContext,
} from './context.js';
import { isSqliteError, type Statement } from './driver.js';
import { quarantineCounts } from './quarantine.js';
import { ENTRY_ALGORITHMS, storedVpdqHash } from './vpdq.js';
import {
  MAX_CHECKPOINT_BYTES,
  type EntryFilter,
  type HistoryMode,
  type ImportRecord,
  type ListAction,
  type ListHeader,
  type ListInfo,
} from './types.js';

/** A row of `imports` (the version 2 columns defaulted in a version 1 store). */
interface ImportRecordRow {
  /** NULL when over its bound (or, in a crafted store, stored so). */
  readonly list: string | null;
  readonly version: number;
  readonly source: string | null;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly removed: number;
  readonly mode: HistoryMode | null;
  readonly at: string;
  /** The entry of a `disable`/`enable` record (version 4 on), NULL for an import. */
  readonly entry_id: string | null;
  readonly reason: string | null;
  readonly until: string | null;
  /** The first column over its bound, or holding no integer where one belongs: a crafted store. */
  readonly oversized: string | null;
}

/** Thresholds as a store keeps them (JSON, or NULL for none), checked; throws on anything else. */
export function parseThresholds(json: string | null): Partial<Record<AlgorithmName, number>> {
  if (json === null) return {};
  const parsed = JSON.parse(json) as unknown;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
  return checkThresholds(parsed, 'thresholds');
}

/** A list's stored thresholds, checked (only a damaged or hand-edited file holds bad ones). */
export function storedThresholds(
  ctx: StoreContext,
  list: string,
  json: string | null,
): Partial<Record<AlgorithmName, number>> {
  try {
    return parseThresholds(json);
  } catch (error) {
    throw new HashwardenError(
      'ERR_STORE',
      `SQLite store ${ctx.path}: bad thresholds for list ${JSON.stringify(list)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The statement index (`FILTERS` in context.ts) and parameters of a filter, checked. */
function entryFilter(filter: EntryFilter | undefined): { index: number; params: string[] } {
  const f = optionsObject(filter, 'filter');
  const params: string[] = [];
  let index = 0;
  if (f.list !== undefined) {
    // Stored names are trimmed (normalizeEntry), so the filter is too.
    params.push(nonEmptyString(f.list, 'list', MAX_FIELD_LENGTH).trim());
    index |= 1;
  }
  if (f.algorithm !== undefined) {
    params.push(oneOf(f.algorithm, ENTRY_ALGORITHMS, 'algorithm'));
    index |= 2;
  }
  return { index, params };
}

/** Longest id or list name a message about a stored entry shows. */
const SHOWN_CHARACTERS = 100;

/** A stored name or id as a message shows it: JSON, cut short. */
function shownName(value: string): string {
  return JSON.stringify(value.length > SHOWN_CHARACTERS ? `${value.slice(0, SHOWN_CHARACTERS)}…` : value);
}

/** A stored row as an entry. */
export function toEntry(ctx: StoreContext, row: ReadRow): ListEntry {
  if (row.oversized !== null) {
    throw new HashwardenError(
      'ERR_STORE',
      `SQLite store ${ctx.path}: bad entry ${shownName(row.id)} in list ${shownName(row.list)}: its ${row.oversized} is longer than ${ENTRY_LIMITS[row.oversized]} bytes, more than an import writes (a crafted store, or one written before the limit)`,
    );
  }
  try {
    let entry: ListEntry;
    if (row.algorithm === VPDQ_ALGORITHM) {
      // The packed frames checked and written as the signal text an import was given.
      entry = { id: row.id, list: row.list, algorithm: VPDQ_ALGORITHM, hash: storedVpdqHash(row.hash) };
    } else {
      const algorithm = getAlgorithm(row.algorithm);
      entry = { id: row.id, list: row.list, algorithm: algorithm.name, hash: algorithm.format(row.hash) };
    }
    if (row.label !== null) Object.assign(entry, { label: row.label });
    if (row.metadata !== null) Object.assign(entry, { metadata: JSON.parse(row.metadata) as EntryMetadata });
    return entry;
  } catch (error) {
    // Only a damaged or hand-edited file gets here.
    const message = `bad entry ${JSON.stringify(row.id)} in list ${JSON.stringify(row.list)}: ${(error as Error).message}`;
    throw new HashwardenError('ERR_STORE', `SQLite store ${ctx.path}: ${message}`, { cause: error });
  }
}

/** {@link HashStore.entries}. */
export function entries(ctx: StoreContext, filter?: EntryFilter): IterableIterator<ListEntry> {
  const { index, params } = entryFilter(filter);
  const cached = ctx.iterate[index] as Statement<string[], ReadRow>;
  const path = ctx.path;
  const db = ctx.db;
  return (function* () {
    // A second loop over the same filter while the first is open needs its own statement.
    const start = () => (cached.busy ? db.prepare<string[], ReadRow>(cached.source) : cached).iterate(...params);
    for (const row of storeRows(path, start)) yield toEntry(ctx, row);
  })();
}

/** {@link HashStore.read}. */
export function read<T>(ctx: StoreContext, fn: () => T): T {
  if (typeof fn !== 'function') invalid('function', 'fn', fn);
  try {
    return ctx.db.transaction(fn).deferred();
  } catch (error) {
    // Only SQLite's own failures are the store's; the callback's errors are the caller's.
    if (isSqliteError(error) || !ctx.db.open) throw storeError(ctx.path, error);
    throw error;
  }
}

/** {@link HashStore.readAsync}. */
export async function readAsync<T>(ctx: StoreContext, fn: () => Promise<T>): Promise<T> {
  if (typeof fn !== 'function') invalid('function', 'fn', fn);
  if (ctx.importing)
    throw new HashwardenError('ERR_STORE', `SQLite store ${ctx.path}: a transaction is running on this connection`);
  try {
    ctx.db.exec('BEGIN');
  } catch (error) {
    throw storeError(ctx.path, error);
  }
  ctx.importing = true;
  try {
    const result = await fn();
    ctx.db.exec('COMMIT');
    return result;
  } catch (error) {
    if (ctx.db.open && ctx.db.inTransaction) ctx.db.exec('ROLLBACK');
    if (isSqliteError(error)) throw storeError(ctx.path, error);
    throw error;
  } finally {
    ctx.importing = false;
  }
}

/** The algorithms in the order SQLite groups them by name: a list's counts keep that order. */
const BY_NAME = [...ENTRY_ALGORITHMS].sort();

/**
 * The lists with their versions and policy, not their counts: what loading a matcher needs,
 * without the pass over every entry that counting is.
 */
export function listHeaders(ctx: StoreContext): ListHeader[] {
  try {
    const held = quarantineCounts(ctx);
    return ctx.listRows.all().map((row) => {
      if (row.oversized !== null) {
        throw new HashwardenError(
          'ERR_STORE',
          `SQLite store ${ctx.path}: bad list ${shownName(row.name)}: its ${row.oversized} is not what an import or a policy change writes (longer, or not an integer): a crafted store`,
        );
      }
      return {
        name: row.name,
        version: row.version,
        updatedAt: row.updated_at ?? '',
        thresholds: Object.freeze(storedThresholds(ctx, row.name, row.thresholds)),
        enabled: row.enabled !== 0,
        ...(row.label === null ? {} : { label: row.label }),
        // In the headers, so that a reload's signature changes when a quarantine ends by itself.
        quarantined: held.get(row.name) ?? 0,
        ...(storedAction(ctx, row.name, row.action) === 'allow' ? { action: 'allow' as const } : {}),
      };
    });
  } catch (error) {
    throw storeError(ctx.path, error);
  }
}

/**
 * A list's stored action: NULL is block; only `'allow'` is written otherwise. Anything else came from
 * a hand-edited or crafted store, and is refused rather than read as either: an allow list read as
 * block blocks its known-good images, a block list read as allow lets uploads through.
 */
function storedAction(ctx: StoreContext, list: string, action: string | null): ListAction {
  if (action === null || action === 'block') return 'block';
  if (action === 'allow') return 'allow';
  throw new HashwardenError(
    'ERR_STORE',
    `SQLite store ${ctx.path}: bad list ${shownName(list)}: its action ${JSON.stringify(action)} is neither block nor allow: a crafted store`,
  );
}

/** {@link HashStore.lists}. */
export function lists(ctx: StoreContext): ListInfo[] {
  const counts = new Map<string, Partial<Record<EntryAlgorithm, number>>>();
  try {
    let unknown = false;
    for (const row of ctx.listTotals.all()) {
      const byAlgorithm = counts.get(row.list) ?? {};
      let known = 0;
      for (const name of BY_NAME) {
        const n = row[name] ?? 0;
        known += n;
        if (n > 0) byAlgorithm[name] = (byAlgorithm[name] ?? 0) + n;
      }
      counts.set(row.list, byAlgorithm);
      unknown ||= known !== row.n;
    }
    // Only a crafted store holds other names: counted by name, as they are stored.
    if (unknown) counts.clear();
    for (const { list, algorithm, n } of unknown ? ctx.listCounts.all() : []) {
      const byAlgorithm = counts.get(list) ?? {};
      byAlgorithm[algorithm as EntryAlgorithm] = n;
      counts.set(list, byAlgorithm);
    }
  } catch (error) {
    throw storeError(ctx.path, error);
  }
  return listHeaders(ctx).map(({ name, version, ...policy }) => {
    const c = Object.freeze(counts.get(name) ?? {});
    const total = Object.values(c).reduce((sum, n) => sum + n, 0);
    // The fields in the order they always had (`hashwarden lists --json` prints them so).
    return Object.freeze({ name, version, counts: c, total, ...policy });
  });
}

/** {@link HashStore.history}. */
export function history(ctx: StoreContext, list?: string): ImportRecord[] {
  const name = list === undefined ? undefined : nonEmptyString(list, 'list', MAX_FIELD_LENGTH).trim();
  try {
    // Bounded as every read of a store is (context.ts): a value a crafted store made huge, or a
    // count that holds no integer, refuses the record rather than being read whole.
    const texts: [string, number][] = [
      ['list', MAX_FIELD_BYTES],
      ['source', MAX_PATH_LENGTH * 3],
      ['at', MAX_FIELD_BYTES],
      ...(ctx.version >= 2 ? [['mode', MAX_FIELD_BYTES] as [string, number]] : []),
      ...(ctx.version >= 4 ? (['e.id', 'reason', 'until'].map((c) => [c, MAX_FIELD_BYTES]) as [string, number][]) : []),
    ];
    const integers = ['version', 'added', 'updated', 'unchanged', ...(ctx.version >= 2 ? ['removed'] : [])];
    const columns = [
      ...texts.map(([c, bytes]) => boundedColumn(c, bytes).replace(/ AS e\.id$/, ' AS entry_id')),
      ...integers.map(integerColumn),
      ...(ctx.version >= 2 ? [] : ['0 AS removed', "'merge' AS mode"]),
      ...(ctx.version >= 4 ? [] : ['NULL AS entry_id', 'NULL AS reason', 'NULL AS until']),
      oversized(texts, integers),
    ].join(', ');
    const from = ctx.version >= 4 ? 'imports LEFT JOIN entry_events e USING (seq)' : 'imports';
    const rows =
      name === undefined
        ? ctx.db.prepare<[], ImportRecordRow>(`SELECT ${columns} FROM ${from} ORDER BY seq`).all()
        : ctx.db
            .prepare<[string], ImportRecordRow>(`SELECT ${columns} FROM ${from} WHERE list = ? ORDER BY seq`)
            .all(name);
    return rows.map((r) => {
      if (r.oversized !== null || r.list === null) {
        throw new HashwardenError(
          'ERR_STORE',
          `SQLite store ${ctx.path}: bad import record of list ${r.list === null ? '(none, or too long to show)' : shownName(r.list)}: its ${r.oversized ?? 'list'} is not what an import writes (longer, missing, or not an integer): a crafted store`,
        );
      }
      return Object.freeze({
        list: r.list,
        version: r.version,
        ...(r.source === null ? {} : { source: r.source }),
        added: r.added,
        updated: r.updated,
        unchanged: r.unchanged,
        removed: r.removed,
        mode: r.mode ?? 'merge',
        at: r.at,
        ...(r.entry_id === null
          ? {}
          : {
              entry: Object.freeze({
                id: r.entry_id,
                ...(r.reason === null ? {} : { reason: r.reason }),
                ...(r.until === null ? {} : { until: r.until }),
              }),
            }),
      });
    });
  } catch (error) {
    throw storeError(ctx.path, error);
  }
}

/** {@link HashStore.count}. */
export function count(ctx: StoreContext, filter?: EntryFilter): number {
  const { index, params } = entryFilter(filter);
  try {
    return (ctx.count[index] as Statement<string[], number>).get(...params) ?? 0;
  } catch (error) {
    throw storeError(ctx.path, error);
  }
}

/** {@link HashStore.checkpoint}. */
export function checkpoint(ctx: StoreContext, key: string): string | undefined {
  const name = nonEmptyString(key, 'key', MAX_FIELD_LENGTH);
  // A version 1 or 2 store read as it is (read-only) has no checkpoints.
  if (ctx.version < 3) return undefined;
  try {
    const row = ctx.db
      .prepare<[string], { value: string | null; text: number }>(
        `SELECT ${boundedColumn('value', MAX_CHECKPOINT_BYTES)}, typeof(value) = 'text' AS text FROM checkpoints WHERE key = ?`,
      )
      .get(name);
    if (row === undefined) return undefined;
    if (row.value === null || row.text !== 1) {
      throw new HashwardenError(
        'ERR_STORE',
        `SQLite store ${ctx.path}: the checkpoint ${shownName(name)} is not what a sync writes (longer than ${MAX_CHECKPOINT_BYTES} bytes, or not text): a crafted store`,
      );
    }
    return row.value;
  } catch (error) {
    throw storeError(ctx.path, error);
  }
}

/** {@link HashStore.entry}. */
export function entry(ctx: StoreContext, list: string, id: string): ListEntry | undefined {
  const name = nonEmptyString(list, 'list', MAX_FIELD_LENGTH).trim();
  const key = nonEmptyString(id, 'id', MAX_FIELD_LENGTH).trim();
  let row: ReadRow | undefined;
  try {
    row = ctx.db
      .prepare<[string, string], ReadRow>(`SELECT ${READ_COLUMNS} FROM entries WHERE list = ? AND id = ?`)
      .get(name, key);
  } catch (error) {
    throw storeError(ctx.path, error);
  }
  return row === undefined ? undefined : toEntry(ctx, row);
}
