/**
 * Entry quarantine: one entry of a list disabled by hand, without editing the list's file, until
 * it is enabled again or its `until` passes. A quarantine is keyed by list and id, not by the
 * import that brought the entry, so re-imports and replaces of the list (which may drop the entry
 * and bring it back) leave it in force. Disabling or enabling bumps the list's version (what the
 * list matches changed: a matcher's reload and a snapshot's list version see it) and writes a
 * `disable`/`enable` record to the history. Expired rows stay (the history keeps the record too)
 * until the entry is enabled or disabled again: reads leave them out.
 */
import { HashwardenError } from '../errors.js';
import { MAX_FIELD_BYTES, MAX_FIELD_LENGTH } from '../lists/entry.js';
import { invalid, nonEmptyString, optionsObject } from '../validate.js';
import { boundedColumn, oversized, storeError, writable, type StoreContext } from './context.js';
import { bumpVersion } from './import.js';
import type { DisableEntryOptions, QuarantinedEntry } from './types.js';

/** The first schema version with the quarantine tables: an older store read as it is has none in force. */
const QUARANTINE_SINCE = 4;

/**
 * The latest `until` taken: quarantines are compared with the time as ISO 8601 text, which orders
 * as time only while the year has four digits (`+010000-…` would sort before `2026-…`).
 */
const LATEST_UNTIL = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The SQL test that a row of `quarantine` (aliased `q`) is in force at `@now`. */
export const IN_FORCE = '(q.until IS NULL OR q.until > @now)';

/** A row of `quarantine` as reads take it: NULL for a column over its bound (a crafted store). */
interface QuarantineRow {
  readonly list: string | null;
  readonly id: string | null;
  readonly reason: string | null;
  readonly since: string | null;
  readonly until: string | null;
  readonly oversized: string | null;
}

const TEXTS = ['list', 'id', 'reason', 'since', 'until'] as const;

/** The columns of `quarantine` bounded as every read of a store is (context.ts). */
const COLUMNS = [
  ...TEXTS.map((c) => boundedColumn(c, MAX_FIELD_BYTES)),
  oversized(TEXTS.map((c) => [c, MAX_FIELD_BYTES] as const)),
].join(', ');

/** The list name and id as stored (trimmed, as imports store them), checked: both stores' quarantines take them so. */
export function quarantineKey(list: unknown, id: unknown): [string, string] {
  return [nonEmptyString(list, 'list', MAX_FIELD_LENGTH).trim(), nonEmptyString(id, 'id', MAX_FIELD_LENGTH).trim()];
}

/** A quarantine to write, its arguments checked (TypeError / RangeError) as both stores' `disableEntry` check them. */
export interface CheckedDisable {
  readonly list: string;
  readonly id: string;
  readonly reason: string;
  /** `now`, ISO 8601. */
  readonly since: string;
  /** ISO 8601; undefined: until enabled. */
  readonly until: string | undefined;
}

/** {@link HashStore.disableEntry}'s arguments, checked against `now`. */
export function checkDisable(list: string, id: string, options: DisableEntryOptions, now: Date): CheckedDisable {
  const [name, entryId] = quarantineKey(list, id);
  if (options === null || typeof options !== 'object') invalid('object', 'options', options);
  const o = optionsObject(options, 'options');
  const reason = nonEmptyString(o.reason, 'reason', MAX_FIELD_LENGTH);
  let until: string | undefined;
  if (o.until !== undefined) {
    if (!(o.until instanceof Date)) invalid('Date', 'until', o.until);
    if (Number.isNaN(o.until.getTime())) invalid('valid Date', 'until', o.until, true);
    // A quarantine that has already ended disables nothing: almost surely a mistyped date.
    if (o.until.getTime() <= now.getTime()) invalid(`Date after ${now.toISOString()}`, 'until', o.until, true);
    if (o.until.getTime() > LATEST_UNTIL) invalid('Date before the year 10000', 'until', o.until, true);
    until = o.until.toISOString();
  }
  return { list: name, id: entryId, reason, since: now.toISOString(), until };
}

/** A quarantine as `disableEntry` and `quarantined` give it. */
export function quarantinedEntry(
  list: string,
  id: string,
  reason: string,
  since: string,
  until: string | null | undefined,
): QuarantinedEntry {
  return Object.freeze({ list, id, reason, since, ...(until === null || until === undefined ? {} : { until }) });
}

/** `ERR_STORE` unless the store holds `list`: a quarantine of a list never imported is a typo. */
function requireList(ctx: StoreContext, list: string): void {
  if (ctx.selectList.get(list) === undefined)
    throw new HashwardenError('ERR_STORE', `SQLite store ${ctx.path}: no list named ${JSON.stringify(list)}`);
}

/** Writes a `disable`/`enable` record of `id` to the history, bumping the list's version. */
function recordEvent(
  ctx: StoreContext,
  list: string,
  id: string,
  mode: 'disable' | 'enable',
  now: string,
  reason: string | null,
  until: string | null,
): void {
  const version = bumpVersion(ctx, list, now);
  const { lastInsertRowid } = ctx.db
    .prepare(
      'INSERT INTO imports (list, version, source, added, updated, unchanged, removed, mode, at) VALUES (?, ?, NULL, 0, 0, 0, 0, ?, ?)',
    )
    .run(list, version, mode, now);
  ctx.db
    .prepare('INSERT INTO entry_events (seq, id, reason, until) VALUES (?, ?, ?, ?)')
    .run(lastInsertRowid, id, reason, until);
}

/** Runs `fn` in one immediate write transaction of the store, SQLite's failures as `ERR_STORE`. */
function write<T>(ctx: StoreContext, what: string, fn: () => T): T {
  writable(ctx, what);
  if (ctx.version < QUARANTINE_SINCE)
    throw new HashwardenError('ERR_STORE', `SQLite store ${ctx.path}: schema version ${ctx.version} has no quarantine`);
  try {
    return ctx.db.transaction(fn).immediate();
  } catch (error) {
    throw storeError(ctx.path, error);
  }
}

/** {@link HashStore.disableEntry}. */
export function disableEntry(
  ctx: StoreContext,
  list: string,
  id: string,
  options: DisableEntryOptions,
  now = new Date(),
): QuarantinedEntry {
  const { list: name, id: entryId, reason, since, until } = checkDisable(list, id, options, now);
  return write(ctx, 'disable an entry', () => {
    requireList(ctx, name);
    ctx.db
      .prepare(
        `INSERT INTO quarantine (list, id, reason, since, until) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (list, id) DO UPDATE SET reason = excluded.reason, since = excluded.since, until = excluded.until`,
      )
      .run(name, entryId, reason, since, until ?? null);
    recordEvent(ctx, name, entryId, 'disable', since, reason, until ?? null);
    return quarantinedEntry(name, entryId, reason, since, until);
  });
}

/** {@link HashStore.enableEntry}. */
export function enableEntry(ctx: StoreContext, list: string, id: string, now = new Date()): boolean {
  const [name, entryId] = quarantineKey(list, id);
  const at = now.toISOString();
  return write(ctx, 'enable an entry', () => {
    requireList(ctx, name);
    const row = ctx.db
      .prepare<[{ list: string; id: string; now: string }], { live: number }>(
        `SELECT ${IN_FORCE} AS live FROM quarantine q WHERE q.list = @list AND q.id = @id`,
      )
      .get({ list: name, id: entryId, now: at });
    if (row === undefined) return false;
    ctx.db.prepare('DELETE FROM quarantine WHERE list = ? AND id = ?').run(name, entryId);
    // An expired row is tidied away, but the entry already matched again: nothing to record.
    if (row.live !== 1) return false;
    recordEvent(ctx, name, entryId, 'enable', at, null, null);
    return true;
  });
}

/** {@link HashStore.quarantined}: the quarantines in force at `now`, by list then id. */
export function quarantined(ctx: StoreContext, list?: string, now = new Date()): QuarantinedEntry[] {
  const name = list === undefined ? undefined : nonEmptyString(list, 'list', MAX_FIELD_LENGTH).trim();
  if (ctx.version < QUARANTINE_SINCE) return [];
  let rows: QuarantineRow[];
  try {
    rows = ctx.db
      .prepare<[{ list: string | null; now: string }], QuarantineRow>(
        `SELECT ${COLUMNS} FROM quarantine q WHERE ${IN_FORCE} AND (@list IS NULL OR q.list = @list) ORDER BY q.list, q.id`,
      )
      .all({ list: name ?? null, now: now.toISOString() });
  } catch (error) {
    throw storeError(ctx.path, error);
  }
  return rows.map((r) => {
    if (r.oversized !== null || r.list === null || r.id === null || r.reason === null || r.since === null)
      throw new HashwardenError(
        'ERR_STORE',
        `SQLite store ${ctx.path}: a quarantine row is not what disableEntry writes (longer, or missing a field): a crafted store`,
      );
    return quarantinedEntry(r.list, r.id, r.reason, r.since, r.until);
  });
}

/** Per list, how many of its entries are quarantined at `now` (lists with none are absent). */
export function quarantineCounts(ctx: StoreContext, now = new Date()): Map<string, number> {
  if (ctx.version < QUARANTINE_SINCE) return new Map();
  try {
    const rows = ctx.db
      .prepare<[{ now: string }], { list: string; n: number }>(
        // Bounded as every name read from a store is: a crafted one is never read whole.
        `SELECT substr(q.list, 1, ${MAX_FIELD_BYTES}) AS list, count(*) AS n FROM quarantine q WHERE ${IN_FORCE} GROUP BY q.list`,
      )
      .all({ now: now.toISOString() });
    return new Map(rows.map((r) => [r.list, r.n]));
  } catch (error) {
    throw storeError(ctx.path, error);
  }
}

/** The ids of `list` quarantined at `now`: what loads and rescans leave out. */
export function quarantinedIds(ctx: StoreContext, list: string, now = new Date()): Set<string> {
  return new Set(quarantined(ctx, list, now).map((q) => q.id));
}
