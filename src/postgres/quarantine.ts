/**
 * Entry quarantine in the PostgreSQL store: the SQLite store's rules (src/store/quarantine.ts),
 * the same arguments, results, messages and codes. A quarantine is keyed by list and id, not by
 * the import that brought the entry, so re-imports and replaces leave it in force; disabling or
 * enabling bumps the list's version and writes a `disable`/`enable` record to the history, under
 * the list's advisory lock (imports into the list wait, as for another import). Whether a
 * quarantine is in force is decided against this process's clock (as SQLite's), passed to the
 * server as a parameter, never the server's `now()`: the reads of one load agree on one moment.
 * A read-only connection to a version 1 store (schema.ts) has no quarantine table: nothing is
 * quarantined there, until a writer upgrades it ({@link hasQuarantine}).
 */
import { HashwardenError } from '../errors.js';
import { MAX_FIELD_BYTES, MAX_FIELD_LENGTH } from '../lists/entry.js';
import { checkDisable, quarantinedEntry, quarantineKey } from '../store/quarantine.js';
import type { DisableEntryOptions, QuarantinedEntry } from '../store/types.js';
import { nonEmptyString } from '../validate.js';
import { inSnapshot, inTransaction, writable, type PgContext } from './context.js';
import type { PoolClient } from './driver.js';
import { LOCK_SPACE } from './schema.js';
import { PG_SCHEMA_VERSION } from './types.js';

/** The first schema version with the quarantine tables. */
const PG_QUARANTINE_SINCE = 2;

/**
 * Whether the store holds actions and quarantines, read on `client`: a read-only connection made
 * to a version 1 store reads the schema's mark again (a small catalog query, only while it reads
 * an older version), so that it notices a writer's upgrade at its next read, in the read's own
 * snapshot: a long-running reader (`Matcher.open(store)` reloading) applies quarantines and allow
 * lists from then on without reconnecting, rather than matching quarantined entries until restarted.
 */
export async function hasQuarantine(ctx: PgContext, client: PoolClient): Promise<boolean> {
  if (ctx.schemaVersion > 0 && ctx.schemaVersion < PG_QUARANTINE_SINCE) {
    const mark = await client.query<{ mark: string | null }>(
      "SELECT obj_description(to_regclass('lists'), 'pg_class') AS mark",
    );
    if (mark.rows[0]?.mark === `hashwarden store schema ${PG_SCHEMA_VERSION}`) ctx.schemaVersion = PG_SCHEMA_VERSION;
  }
  return ctx.schemaVersion >= PG_QUARANTINE_SINCE;
}

/** The SQL test that a row of `quarantine` (aliased `q`) is in force at the time parameter `$n`. */
export function inForce(param: number): string {
  return `(q.until IS NULL OR q.until > $${param}::timestamptz)`;
}

/** A row of `quarantine` as reads take it: NULL for a value over its bound (a store written by hand). */
interface QuarantineRow {
  readonly list: string | null;
  readonly id: string | null;
  readonly reason: string | null;
  readonly since: Date;
  readonly until: Date | null;
}

/** The columns of `quarantine`, its texts bounded as every read of the store is. */
const COLUMNS = ['list', 'id', 'reason']
  .map((c) => `CASE WHEN octet_length(q.${c}) > ${MAX_FIELD_BYTES} THEN NULL ELSE q.${c} END AS ${c}`)
  .concat(['q.since', 'q.until'])
  .join(', ');

/** `ERR_STORE` unless the store holds `list` (locked for the change): a quarantine of a list never imported is a typo. */
async function requireList(ctx: PgContext, client: PoolClient, list: string): Promise<void> {
  const found = await client.query('SELECT 1 FROM lists WHERE name = $1 FOR UPDATE', [list]);
  if (found.rowCount === 0)
    throw new HashwardenError('ERR_STORE', `PostgreSQL store ${ctx.label}: no list named ${JSON.stringify(list)}`);
}

/** Runs `fn` in one transaction holding `list`'s advisory lock (the one imports of the list take). */
function write<T>(ctx: PgContext, what: string, list: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  writable(ctx, what);
  return inTransaction(ctx, what, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_SPACE, list]);
    await requireList(ctx, client, list);
    return fn(client);
  });
}

/** Writes a `disable`/`enable` record of `id` to the history, bumping the list's version. */
async function recordEvent(
  client: PoolClient,
  list: string,
  id: string,
  mode: 'disable' | 'enable',
  at: string,
  reason: string | null,
  until: string | null,
): Promise<void> {
  const version = (
    await client.query<{ version: number }>(
      'UPDATE lists SET version = version + 1, updated_at = $2 WHERE name = $1 RETURNING version',
      [list, at],
    )
  ).rows[0]?.version as number;
  const seq = (
    await client.query<{ seq: string }>(
      `INSERT INTO imports (list, version, source, added, updated, unchanged, removed, mode, at)
       VALUES ($1, $2, NULL, 0, 0, 0, 0, $3, $4) RETURNING seq`,
      [list, version, mode, at],
    )
  ).rows[0]?.seq as string;
  await client.query('INSERT INTO entry_events (seq, id, reason, until) VALUES ($1, $2, $3, $4)', [
    seq,
    id,
    reason,
    until,
  ]);
}

/** {@link PgHashStore.disableEntry}. */
export async function disableEntry(
  ctx: PgContext,
  list: string,
  id: string,
  options: DisableEntryOptions,
  now = new Date(),
): Promise<QuarantinedEntry> {
  const { list: name, id: entryId, reason, since, until } = checkDisable(list, id, options, now);
  return write(ctx, 'disable an entry', name, async (client) => {
    await client.query(
      `INSERT INTO quarantine (list, id, reason, since, until) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (list, id) DO UPDATE SET reason = excluded.reason, since = excluded.since, until = excluded.until`,
      [name, entryId, reason, since, until ?? null],
    );
    await recordEvent(client, name, entryId, 'disable', since, reason, until ?? null);
    return quarantinedEntry(name, entryId, reason, since, until);
  });
}

/** {@link PgHashStore.enableEntry}. */
export async function enableEntry(ctx: PgContext, list: string, id: string, now = new Date()): Promise<boolean> {
  const [name, entryId] = quarantineKey(list, id);
  const at = now.toISOString();
  return write(ctx, 'enable an entry', name, async (client) => {
    const row = (
      await client.query<{ live: boolean }>(
        `DELETE FROM quarantine q WHERE q.list = $1 AND q.id = $2 RETURNING ${inForce(3)} AS live`,
        [name, entryId, at],
      )
    ).rows[0];
    // None, or an expired row tidied away: the entry already matched again, nothing to record.
    if (row === undefined || !row.live) return false;
    await recordEvent(client, name, entryId, 'enable', at, null, null);
    return true;
  });
}

/** The quarantines in force at `now`, of `list` or of every list, by list then id, on `client`. */
export async function quarantinedOn(
  ctx: PgContext,
  client: PoolClient,
  list: string | undefined,
  now: Date,
): Promise<QuarantinedEntry[]> {
  if (!(await hasQuarantine(ctx, client))) return [];
  const rows = await client.query<QuarantineRow>(
    `SELECT ${COLUMNS} FROM quarantine q WHERE ${inForce(1)} AND ($2::text IS NULL OR q.list = $2) ORDER BY q.list, q.id`,
    [now.toISOString(), list ?? null],
  );
  return rows.rows.map((r) => {
    if (r.list === null || r.id === null || r.reason === null)
      throw new HashwardenError(
        'ERR_STORE',
        `PostgreSQL store ${ctx.label}: a quarantine row is not what disableEntry writes (longer, or missing a field): altered by hand`,
      );
    return quarantinedEntry(r.list, r.id, r.reason, r.since.toISOString(), r.until?.toISOString());
  });
}

/** {@link PgHashStore.quarantined}. */
export async function quarantined(ctx: PgContext, list?: string, now = new Date()): Promise<QuarantinedEntry[]> {
  const name = list === undefined ? undefined : nonEmptyString(list, 'list', MAX_FIELD_LENGTH).trim();
  return inSnapshot(ctx, (client) => quarantinedOn(ctx, client, name, now));
}

/** Per list, how many of its entries are quarantined at `now` (lists with none are absent), on `client`. */
export async function quarantineCounts(ctx: PgContext, client: PoolClient, now: Date): Promise<Map<string, number>> {
  if (!(await hasQuarantine(ctx, client))) return new Map();
  const rows = await client.query<{ list: string; n: number }>(
    `SELECT left(q.list, ${MAX_FIELD_LENGTH}) AS list, count(*)::int AS n FROM quarantine q WHERE ${inForce(1)} GROUP BY q.list`,
    [now.toISOString()],
  );
  return new Map(rows.rows.map((r) => [r.list, r.n]));
}

/**
 * The condition, on a query of `entries` whose list is the parameter `$list`, that leaves out the
 * entries quarantined at the parameter `$now`: a primary-key probe per row, so that only lists
 * holding quarantines pay it.
 */
export function notQuarantined(list: number, now: number): string {
  return `NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.list = $${list} AND q.id = entries.id AND ${inForce(now)})`;
}
