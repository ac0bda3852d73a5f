/**
 * Reading and changing the PostgreSQL store outside imports: its entries (through a server-side
 * cursor), its lists with their counts and policy, the history, counts, checkpoints, and a list's
 * policy. Values are bounded as the SQLite store bounds them (src/store/context.ts): a column over
 * what an import writes comes back NULL, never read, and the entry is refused.
 */
import { ALGORITHM_NAMES, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError } from '../errors.js';
import {
  MAX_FIELD_BYTES,
  MAX_FIELD_LENGTH,
  MAX_METADATA_BYTES,
  type EntryAlgorithm,
  type EntryMetadata,
  type ListEntry,
} from '../lists/entry.js';
import { mergeThresholds, resolvePolicyChange } from '../store/policy.js';
import { parseThresholds } from '../store/reads.js';
import { nonEmptyString, oneOf, optionsObject } from '../validate.js';
import {
  MAX_CHECKPOINT_BYTES,
  type EntryFilter,
  type HistoryMode,
  type ImportRecord,
  type ListAction,
  type ListHeader,
  type ListInfo,
  type ListPolicyChange,
} from '../store/types.js';
import { inSnapshot, inTransaction, open, pgError, withClient, type PgContext } from './context.js';
import type { PoolClient } from './driver.js';
import { hasQuarantine, quarantineCounts } from './quarantine.js';
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import { ENTRY_ALGORITHMS, MAX_VPDQ_HASH_BYTES, storedVpdqHash } from '../store/vpdq.js';

/** Rows one FETCH of `entries()` reads: memory stays bounded by this many entries. */
const FETCH_ROWS = 1000;

/** Longest hash an import writes, in bytes: a vPDQ entry's packed frames. */
const MAX_HASH_BYTES = Math.max(MAX_VPDQ_HASH_BYTES, ...ALGORITHM_NAMES.map((name) => getAlgorithm(name).bits / 8));

const LIMITS = { hash: MAX_HASH_BYTES, label: MAX_FIELD_BYTES, metadata: MAX_METADATA_BYTES } as const;

/** The columns of `entries` as reads take them: over-long values NULL, and the first such column named. */
export const READ_COLUMNS = [
  ...(['list', 'id', 'algorithm'] as const).map((c) => `left(${c}, ${MAX_FIELD_LENGTH}) AS ${c}`),
  ...Object.entries(LIMITS).map(([c, n]) => `CASE WHEN octet_length(${c}) > ${n} THEN NULL ELSE ${c} END AS ${c}`),
  `CASE ${Object.entries(LIMITS)
    .map(([c, n]) => `WHEN octet_length(${c}) > ${n} THEN '${c}'`)
    .join(' ')} END AS oversized`,
].join(', ');

/** A row of `entries` as READ_COLUMNS reads it. */
export interface Row {
  readonly list: string;
  readonly id: string;
  readonly algorithm: string;
  readonly hash: Buffer | null;
  readonly label: string | null;
  readonly metadata: string | null;
  readonly oversized: keyof typeof LIMITS | null;
}

/** A filter's WHERE clause and parameters, checked. */
function entryFilter(filter: EntryFilter | undefined): { where: string; params: string[] } {
  const f = optionsObject(filter, 'filter');
  const params: string[] = [];
  const clauses: string[] = [];
  if (f.list !== undefined) {
    params.push(nonEmptyString(f.list, 'list', MAX_FIELD_LENGTH).trim());
    clauses.push(`list = $${params.length}`);
  }
  if (f.algorithm !== undefined) {
    params.push(oneOf(f.algorithm, ENTRY_ALGORITHMS, 'algorithm'));
    clauses.push(`algorithm = $${params.length}`);
  }
  return { where: clauses.length === 0 ? '' : ` WHERE ${clauses.join(' AND ')}`, params };
}

/** A row as an entry, checked: a value over its bound or a bad hash is `ERR_STORE` naming the entry. */
export function toEntry(ctx: PgContext, row: Row): ListEntry {
  if (row.oversized !== null) {
    throw new HashwardenError(
      'ERR_STORE',
      `PostgreSQL store ${ctx.label}: bad entry ${JSON.stringify(row.id)} in list ${JSON.stringify(row.list)}: its ${row.oversized} is longer than ${LIMITS[row.oversized]} bytes, more than an import writes`,
    );
  }
  try {
    let entry: ListEntry;
    if (row.algorithm === VPDQ_ALGORITHM) {
      // The packed frames checked and written as the signal text an import was given.
      entry = { id: row.id, list: row.list, algorithm: VPDQ_ALGORITHM, hash: storedVpdqHash(row.hash as Buffer) };
    } else {
      const algorithm = getAlgorithm(row.algorithm);
      entry = { id: row.id, list: row.list, algorithm: algorithm.name, hash: algorithm.format(row.hash as Buffer) };
    }
    if (row.label !== null) Object.assign(entry, { label: row.label });
    if (row.metadata !== null) Object.assign(entry, { metadata: JSON.parse(row.metadata) as EntryMetadata });
    return entry;
  } catch (error) {
    const message = `bad entry ${JSON.stringify(row.id)} in list ${JSON.stringify(row.list)}: ${(error as Error).message}`;
    throw new HashwardenError('ERR_STORE', `PostgreSQL store ${ctx.label}: ${message}`);
  }
}

/** {@link PgHashStore.entries}: the filter checked now, the rows read as the loop asks for them. */
export function entries(ctx: PgContext, filter?: EntryFilter): AsyncGenerator<ListEntry, void, undefined> {
  const checked = entryFilter(filter);
  open(ctx, 'read');
  return cursor(ctx, checked);
}

/** Entries through a cursor in a read-only transaction of its own, fetched `FETCH_ROWS` at a time. */
async function* cursor(
  ctx: PgContext,
  { where, params }: { where: string; params: string[] },
): AsyncGenerator<ListEntry, void, undefined> {
  const rows: Row[] = [];
  let client: PoolClient;
  try {
    client = await ctx.pool.connect();
  } catch (error) {
    throw pgError(ctx, error);
  }
  let failed = true;
  try {
    try {
      // REPEATABLE READ: one version of the store from the first row to the last.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(
        `DECLARE hw_entries NO SCROLL CURSOR FOR SELECT ${READ_COLUMNS} FROM entries${where} ORDER BY list, id`,
        params,
      );
    } catch (error) {
      throw pgError(ctx, error);
    }
    for (;;) {
      try {
        rows.push(...(await client.query<Row>(`FETCH ${FETCH_ROWS} FROM hw_entries`)).rows);
      } catch (error) {
        throw pgError(ctx, error);
      }
      if (rows.length === 0) break;
      for (const row of rows.splice(0)) yield toEntry(ctx, row);
    }
    await client.query('COMMIT');
    failed = false;
  } finally {
    // Left early (a `break`, an error): the transaction is rolled back and the client kept.
    if (failed)
      failed = !(await client.query('ROLLBACK').then(
        () => true,
        () => false,
      ));
    client.release(failed);
  }
}

/** {@link PgHashStore.entry}. */
export async function entry(ctx: PgContext, list: string, id: string): Promise<ListEntry | undefined> {
  const l = nonEmptyString(list, 'list', MAX_FIELD_LENGTH).trim();
  const i = nonEmptyString(id, 'id', MAX_FIELD_LENGTH).trim();
  const row = await query<Row>(ctx, 'read', `SELECT ${READ_COLUMNS} FROM entries WHERE list = $1 AND id = $2`, [l, i]);
  return row[0] === undefined ? undefined : toEntry(ctx, row[0]);
}

/** {@link PgHashStore.count}. */
export async function count(ctx: PgContext, filter?: EntryFilter): Promise<number> {
  const { where, params } = entryFilter(filter);
  const rows = await query<{ n: string }>(ctx, 'count', `SELECT count(*) AS n FROM entries${where}`, params);
  return Number(rows[0]?.n ?? 0);
}

async function query<R extends object>(ctx: PgContext, what: string, sql: string, params: unknown[]): Promise<R[]> {
  return withClient(ctx, what, async (client) => {
    try {
      return (await client.query<R>(sql, params)).rows;
    } catch (error) {
      throw pgError(ctx, error);
    }
  });
}

/** A list's stored thresholds, checked (only a hand-edited table holds bad ones). */
function storedThresholds(ctx: PgContext, list: string, json: string | null): Partial<Record<AlgorithmName, number>> {
  try {
    return parseThresholds(json);
  } catch (error) {
    throw new HashwardenError(
      'ERR_STORE',
      `PostgreSQL store ${ctx.label}: bad thresholds for list ${JSON.stringify(list)}: ${(error as Error).message}`,
    );
  }
}

interface ListRow {
  readonly name: string;
  readonly version: number;
  readonly updated_at: Date;
  readonly label: string | null;
  readonly thresholds: string | null;
  readonly enabled: boolean;
  /** NULL on a read-only connection to a version 1 store, which has no such column: every list a block list. */
  readonly action: string | null;
}

/**
 * Every list's version and policy (or `only`'s), not its counts: what a matcher's load and reload
 * need, without the pass over every entry that counting is. With how many of each list's entries
 * are quarantined at `now`, so that a reload's signature changes when a quarantine ends by itself.
 */
export async function listHeaders(
  ctx: PgContext,
  client: PoolClient,
  only?: string,
  now = new Date(),
): Promise<ListHeader[]> {
  const action = (await hasQuarantine(ctx, client)) ? 'action' : 'NULL AS action';
  const rows = await client.query<ListRow>(
    `SELECT name, version, updated_at, label, thresholds, enabled, ${action} FROM lists${only === undefined ? '' : ' WHERE name = $1'} ORDER BY name`,
    only === undefined ? [] : [only],
  );
  const held = await quarantineCounts(ctx, client, now);
  return rows.rows.map((row) =>
    Object.freeze({
      name: row.name,
      version: row.version,
      updatedAt: row.updated_at.toISOString(),
      thresholds: Object.freeze(storedThresholds(ctx, row.name, row.thresholds)),
      enabled: row.enabled,
      ...(row.label === null ? {} : { label: row.label }),
      quarantined: held.get(row.name) ?? 0,
      ...(storedAction(ctx, row.name, row.action) === 'allow' ? { action: 'allow' as const } : {}),
    }),
  );
}

/**
 * A list's stored action. The column's CHECK holds only block or allow; anything else (the check
 * dropped by hand) is refused rather than read as either, as the SQLite store refuses it: an allow
 * list read as block blocks its known-good images, a block list read as allow lets uploads through.
 */
function storedAction(ctx: PgContext, list: string, action: string | null): ListAction {
  if (action === null || action === 'block') return 'block';
  if (action === 'allow') return 'allow';
  throw new HashwardenError(
    'ERR_STORE',
    `PostgreSQL store ${ctx.label}: bad list ${JSON.stringify(list)}: its action ${JSON.stringify(action.slice(0, 100))} is neither block nor allow: altered by hand`,
  );
}

/** {@link PgHashStore.lists}: in one snapshot, so counts and versions agree; quarantines counted at `now`. */
export async function lists(ctx: PgContext, only?: string, client?: PoolClient, now = new Date()): Promise<ListInfo[]> {
  const run = async (c: PoolClient): Promise<ListInfo[]> => {
    const params = only === undefined ? [] : [only];
    const headers = await listHeaders(ctx, c, only, now);
    const counts = (
      await c.query<{ list: string; algorithm: string; n: string }>(
        `SELECT list, algorithm, count(*) AS n FROM entries${only === undefined ? '' : ' WHERE list = $1'} GROUP BY list, algorithm ORDER BY list, algorithm`,
        params,
      )
    ).rows;
    const byList = new Map<string, Partial<Record<EntryAlgorithm, number>>>();
    const totals = new Map<string, number>();
    for (const row of counts) {
      const n = Number(row.n);
      totals.set(row.list, (totals.get(row.list) ?? 0) + n);
      if (!(ENTRY_ALGORITHMS as readonly string[]).includes(row.algorithm)) {
        throw new HashwardenError(
          'ERR_STORE',
          `PostgreSQL store ${ctx.label}: list ${JSON.stringify(row.list)} holds entries of an unknown algorithm ${JSON.stringify(row.algorithm)}`,
        );
      }
      const c2 = byList.get(row.list) ?? {};
      c2[row.algorithm as EntryAlgorithm] = n;
      byList.set(row.list, c2);
    }
    return headers.map((header) =>
      Object.freeze({
        ...header,
        counts: Object.freeze(byList.get(header.name) ?? {}),
        total: totals.get(header.name) ?? 0,
      }),
    );
  };
  if (client !== undefined) return run(client);
  return inSnapshot(ctx, run);
}

/** {@link PgHashStore.history}. */
export async function history(ctx: PgContext, list?: string): Promise<ImportRecord[]> {
  const params = list === undefined ? [] : [nonEmptyString(list, 'list', MAX_FIELD_LENGTH).trim()];
  type Record = {
    list: string;
    version: number;
    source: string | null;
    added: number;
    updated: number;
    unchanged: number;
    removed: number;
    mode: HistoryMode;
    at: Date;
    entry_id: string | null;
    reason: string | null;
    until: Date | null;
  };
  const rows = await inSnapshot(ctx, async (client) => {
    // A version 1 store read as it is has no entry events: imports only.
    const [events, from] = (await hasQuarantine(ctx, client))
      ? ['e.id AS entry_id, e.reason, e.until', 'imports LEFT JOIN entry_events e USING (seq)']
      : ['NULL AS entry_id, NULL AS reason, NULL AS until', 'imports'];
    const sql = `SELECT list, version, source, added, updated, unchanged, removed, mode, at, ${events} FROM ${from}${list === undefined ? '' : ' WHERE list = $1'} ORDER BY seq`;
    return (await client.query<Record>(sql, params)).rows;
  });
  return rows.map((r) =>
    Object.freeze({
      list: r.list,
      added: r.added,
      updated: r.updated,
      unchanged: r.unchanged,
      removed: r.removed,
      version: r.version,
      mode: r.mode,
      ...(r.source === null ? {} : { source: r.source }),
      at: r.at.toISOString(),
      ...(r.entry_id === null
        ? {}
        : {
            entry: Object.freeze({
              id: r.entry_id,
              ...(r.reason === null ? {} : { reason: r.reason }),
              ...(r.until === null ? {} : { until: r.until.toISOString() }),
            }),
          }),
    }),
  );
}

/** {@link PgHashStore.checkpoint}. */
export async function checkpoint(ctx: PgContext, key: string): Promise<string | undefined> {
  const k = nonEmptyString(key, 'key', MAX_FIELD_LENGTH);
  const rows = await query<{ value: string | null; over: boolean }>(
    ctx,
    'read',
    `SELECT CASE WHEN octet_length(value) > ${MAX_CHECKPOINT_BYTES} THEN NULL ELSE value END AS value, octet_length(value) > ${MAX_CHECKPOINT_BYTES} AS over FROM checkpoints WHERE key = $1`,
    [k],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  if (row.over) {
    throw new HashwardenError(
      'ERR_STORE',
      `PostgreSQL store ${ctx.label}: checkpoint ${JSON.stringify(k)} is longer than ${MAX_CHECKPOINT_BYTES} bytes, more than a sync writes`,
    );
  }
  return row.value as string;
}

/** {@link PgHashStore.setListPolicy}: the list's row locked while its thresholds are merged. */
export async function setListPolicy(ctx: PgContext, name: string, change: ListPolicyChange): Promise<ListInfo> {
  const { list, thresholds, label, enabled, action } = resolvePolicyChange(name, change);
  return inTransaction(ctx, 'change a list', async (client) => {
    const row = (
      await client.query<{ thresholds: string | null }>('SELECT thresholds FROM lists WHERE name = $1 FOR UPDATE', [
        list,
      ])
    ).rows[0];
    if (row === undefined)
      throw new HashwardenError('ERR_STORE', `PostgreSQL store ${ctx.label}: no list named ${JSON.stringify(list)}`);
    if (thresholds !== undefined) {
      const merged = mergeThresholds(storedThresholds(ctx, list, row.thresholds), thresholds);
      await client.query('UPDATE lists SET thresholds = $1 WHERE name = $2', [merged, list]);
    }
    if (label !== undefined) await client.query('UPDATE lists SET label = $1 WHERE name = $2', [label, list]);
    if (enabled !== undefined) await client.query('UPDATE lists SET enabled = $1 WHERE name = $2', [enabled, list]);
    if (action !== undefined) await client.query('UPDATE lists SET action = $1 WHERE name = $2', [action, list]);
    return (await lists(ctx, list, client))[0] as ListInfo;
  });
}
