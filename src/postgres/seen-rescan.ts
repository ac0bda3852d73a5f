/**
 * The PostgreSQL seen store's rescan rounds: the SQLite rounds' steps (src/seen/rescan.ts,
 * docs/retroactive.md), the same events (src/seen/events.ts), with what PostgreSQL adds.
 *
 * - One rescan at a time: a session advisory lock held on the rescan's own connection for as long
 *   as its loop runs. A second rescan waits for it (rather than failing: a rescan wired after each
 *   import would otherwise be lost whenever two imports end close together); a crashed process's
 *   connection closes and frees it.
 * - Sequences are not commit-ordered: a record holding seq 99 may commit after seq 100 is visible,
 *   and a pass that moved past 100 would never read 99. Each record holds the `record` lock shared
 *   while it inserts; a round fixes its last sequence number `upto` under the same lock taken
 *   exclusively (a short transaction), when every number drawn is committed or never will be. The
 *   pass reads seq <= upto only; later records are the next round's late records.
 * - A round's list entries and policy are read in one REPEATABLE READ transaction of the list
 *   store, so an import committing meanwhile gives the round all of its version or none.
 */
import { getAlgorithm } from '../algorithms/registry.js';
import {
  batchEvents,
  buildRound,
  entryKey,
  lateNeeds,
  type KnownRow,
  type LateRound,
  type RescanEvent,
  type ResolvedRescanOptions,
  type Round,
  type SeqRow,
} from '../seen/events.js';
import { recordedVersions, type SeenRow } from '../seen/record.js';
import type { ListHeader } from '../store/types.js';
import { checkout, pgError, type PgContext } from './context.js';
import type { PoolClient } from './driver.js';
import { notQuarantined } from './quarantine.js';
import { lists, READ_COLUMNS, toEntry, type Row } from './reads.js';
import {
  PG_SEEN_READ_COLUMNS,
  PG_SEEN_VERSIONS_COLUMN,
  pgBound,
  pgTime,
  SEEN_LOCK_SPACE,
  SEEN_LOCKS,
} from './seen-schema.js';

/** Entries one FETCH reads while a round compares a list with `seen_known`, and rows one INSERT writes. */
const ENTRY_FETCH = 1000;

/** Records' versions one FETCH of the late pre-pass reads: memory stays bounded by that many. */
const LATE_FETCH = 1000;

/** The round under way, as `seen_cursor` holds it (bigints read as float8: sequences stay below 2^53). */
interface Cursor {
  readonly seq: number;
  readonly round: number;
  readonly scanned: number;
  readonly upto: number;
}

async function readCursor(client: PoolClient): Promise<Cursor | undefined> {
  return (
    await client.query<Cursor>(
      'SELECT seq::float8 AS seq, round::float8 AS round, scanned::float8 AS scanned, upto::float8 AS upto FROM seen_cursor WHERE one = 1',
    )
  ).rows[0];
}

/** The last sequence number every record at or below has committed (see the file's comment). */
async function committedUpto(client: PoolClient): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [SEEN_LOCK_SPACE, SEEN_LOCKS.record]);
    const upto = (
      await client.query<{ upto: number }>('SELECT coalesce(max(seq), 0)::float8 AS upto FROM seen_uploads')
    ).rows[0]?.upto as number;
    await client.query('COMMIT');
    return upto;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Step 1 of a round: each enabled list whose version moved is compared with `seen_known` (new
 * entries kept with since = its version and this round's number, removed ones forgotten), and
 * the cursor written, in one transaction of the seen store inside one snapshot of the list store.
 */
async function startRound(seen: PoolClient, listCtx: PgContext, upto: number): Promise<void> {
  const listClient = await checkout(listCtx, 'read');
  let failed = true;
  try {
    await listClient.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // One moment for the round: the quarantines counted are those left out.
    const now = new Date();
    const headers = (await lists(listCtx, undefined, listClient, now)).filter((l) => l.enabled);
    await seen.query('BEGIN');
    try {
      await seen.query(
        'CREATE TEMP TABLE IF NOT EXISTS seen_fresh (key bytea PRIMARY KEY, id text, algorithm text, hash bytea) ON COMMIT DELETE ROWS',
      );
      const state = (
        await seen.query<{ round: number; scanned: number }>(
          'SELECT round::float8 AS round, scanned::float8 AS scanned FROM seen_state WHERE one = 1',
        )
      ).rows[0] ?? { round: 0, scanned: 0 };
      const round = state.round + 1;
      const known = new Map(
        (await seen.query<{ list: string; version: number }>('SELECT list, version FROM seen_known_lists')).rows.map(
          (r) => [r.list, r.version],
        ),
      );
      for (const list of headers) {
        if (known.get(list.name) === list.version) continue;
        await compareList(seen, listCtx, listClient, list, round, now);
      }
      await seen.query('INSERT INTO seen_cursor (one, seq, round, scanned, upto) VALUES (1, 0, $1, $2, $3)', [
        round,
        state.scanned,
        upto,
      ]);
      await seen.query('COMMIT');
    } catch (error) {
      await seen.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    await listClient.query('COMMIT');
    failed = false;
  } finally {
    if (failed)
      failed = !(await listClient.query('ROLLBACK').then(
        () => true,
        () => false,
      ));
    listClient.release(failed);
  }
}

/**
 * One list against `seen_known`, its entries streamed from the list store's snapshot into
 * `seen_fresh`, less those quarantined at `now`, as the SQLite rescan reads them
 * (`matchableEntries`): a quarantined entry is forgotten, and found new again (at the list's
 * version then) once enabled, so uploads recorded meanwhile are searched for it.
 */
async function compareList(
  seen: PoolClient,
  listCtx: PgContext,
  listClient: PoolClient,
  list: ListHeader,
  round: number,
  now: Date,
): Promise<void> {
  await seen.query('DELETE FROM seen_fresh');
  const filtered = (list.quarantined ?? 0) > 0;
  await listClient.query(
    `DECLARE hw_round NO SCROLL CURSOR FOR SELECT ${READ_COLUMNS} FROM entries WHERE list = $1${filtered ? ` AND ${notQuarantined(1, 2)}` : ''}`,
    filtered ? [list.name, now.toISOString()] : [list.name],
  );
  for (;;) {
    const rows = (await listClient.query<Row>(`FETCH ${ENTRY_FETCH} FROM hw_round`)).rows;
    if (rows.length === 0) break;
    const entries = rows.map((row) => toEntry(listCtx, row));
    await seen.query(
      'INSERT INTO seen_fresh (key, id, algorithm, hash) SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::bytea[])',
      [
        entries.map((e) => entryKey(e)),
        entries.map((e) => e.id),
        entries.map((e) => e.algorithm),
        entries.map((e) => Buffer.from(getAlgorithm(e.algorithm).parse(e.hash))),
      ],
    );
  }
  await listClient.query('CLOSE hw_round');
  await seen.query(
    `INSERT INTO seen_known (list, key, id, algorithm, hash, since, round)
     SELECT $1, key, id, algorithm, hash, $2, $3 FROM seen_fresh ON CONFLICT (list, key) DO NOTHING`,
    [list.name, list.version, round],
  );
  // What the list no longer holds is forgotten: an entry removed and added again is new again.
  await seen.query(
    'DELETE FROM seen_known k WHERE list = $1 AND NOT EXISTS (SELECT 1 FROM seen_fresh f WHERE f.key = k.key)',
    [list.name],
  );
  await seen.query(
    'INSERT INTO seen_known_lists (list, version) VALUES ($1, $2) ON CONFLICT (list) DO UPDATE SET version = excluded.version',
    [list.name, list.version],
  );
}

/** `seen_known` rows as a round's tables take them. */
async function knownRows(client: PoolClient, where: string, params: unknown[]): Promise<KnownRow[]> {
  return (
    await client.query<KnownRow>(`SELECT list, id, algorithm, hash, since FROM seen_known WHERE ${where}`, params)
  ).rows;
}

/**
 * The late tables: entries of earlier rounds that the round's late records (seq in (scanned,
 * upto]) may not have seen, per list only those found new after the lowest version any of them
 * was checked against. The records' versions are read a batch at a time (a cursor).
 */
async function lateRound(
  client: PoolClient,
  cursor: Cursor,
  policy: ReadonlyMap<string, ListHeader>,
  options: ResolvedRescanOptions,
): Promise<LateRound | undefined> {
  // No entry of an earlier round (the first round): nothing a late record could need, no pass over them.
  if ((await client.query('SELECT 1 FROM seen_known WHERE round < $1 LIMIT 1', [cursor.round])).rowCount === 0)
    return undefined;
  const known = new Map(
    (await client.query<{ list: string; version: number }>('SELECT list, version FROM seen_known_lists')).rows.map(
      (r) => [r.list, r.version],
    ),
  );
  const needs = new Map<string, number>();
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(
      `DECLARE hw_late NO SCROLL CURSOR FOR SELECT content_id, ${PG_SEEN_VERSIONS_COLUMN} FROM seen_uploads WHERE seq > $1 AND seq <= $2 AND at >= ${pgTime(3)}`,
      [cursor.scanned, cursor.upto, pgBound(options.since)],
    );
    for (;;) {
      const rows = (await client.query<Pick<SeenRow, 'content_id' | 'versions'>>(`FETCH ${LATE_FETCH} FROM hw_late`))
        .rows;
      if (rows.length === 0) break;
      for (const [list, need] of lateNeeds(rows.map(recordedVersions), known))
        needs.set(list, Math.min(need, needs.get(list) ?? need));
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  const rows: KnownRow[] = [];
  for (const [list, need] of needs)
    rows.push(...(await knownRows(client, 'list = $1 AND round < $2 AND since > $3', [list, cursor.round, need])));
  const round = buildRound(rows, policy, options.thresholds);
  return round.tables.size === 0 ? undefined : { round, after: cursor.scanned };
}

/**
 * Runs (or resumes) a round and yields its events, on a connection of the seen store's pool that
 * holds the rescan lock until the loop ends; see the file's comment.
 */
export async function* pgRescanRounds(
  ctx: PgContext,
  listCtx: PgContext,
  options: ResolvedRescanOptions,
): AsyncGenerator<RescanEvent, void, undefined> {
  const client = await checkout(ctx, 'rescan');
  try {
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', [SEEN_LOCK_SPACE, SEEN_LOCKS.rescan]);
      // A round left by a crash (or a `break`) is finished first, with the entries it had found.
      if ((await readCursor(client)) === undefined) await startRound(client, listCtx, await committedUpto(client));
    } catch (error) {
      throw pgError(ctx, error);
    }
    const cursor = (await readCursor(client)) as Cursor;
    // The lists' current policy: disabled since the round began, a list's entries are left out.
    const policy = new Map((await lists(listCtx)).map((l) => [l.name, l]));
    let main: Round;
    let late: LateRound | undefined;
    try {
      main = buildRound(await knownRows(client, 'round = $1', [cursor.round]), policy, options.thresholds);
      late = await lateRound(client, cursor, policy, options);
    } catch (error) {
      throw pgError(ctx, error);
    }
    const next = `SELECT seq::float8 AS seq, ${PG_SEEN_READ_COLUMNS} FROM seen_uploads WHERE seq > $1 AND seq <= $2 AND at >= ${pgTime(4)} ORDER BY seq LIMIT $3`;
    let seq = cursor.seq;
    while (main.tables.size > 0 || late !== undefined) {
      let rows: SeqRow[];
      try {
        rows = (await client.query<SeqRow>(next, [seq, cursor.upto, options.batchSize, pgBound(options.since)])).rows;
      } catch (error) {
        throw pgError(ctx, error);
      }
      if (rows.length === 0) break;
      for (const event of batchEvents(rows, main, late)) yield event;
      // Reached only when the consumer asked for the event after the batch's last: it has them all.
      seq = (rows[rows.length - 1] as SeqRow).seq;
      try {
        await client.query('UPDATE seen_cursor SET seq = $1 WHERE one = 1', [seq]);
      } catch (error) {
        throw pgError(ctx, error);
      }
    }
    try {
      await client.query('BEGIN');
      await client.query('DELETE FROM seen_cursor');
      await client.query(
        `INSERT INTO seen_state (one, round, scanned) VALUES (1, $1, $2)
         ON CONFLICT (one) DO UPDATE SET round = excluded.round, scanned = excluded.scanned`,
        [cursor.round, cursor.upto],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw pgError(ctx, error);
    }
  } finally {
    // However the loop ended (finished, a `break`, a throw): out of any transaction, the lock
    // released; a client that cannot be is destroyed, which frees the lock with its session.
    const clean = await client
      .query('ROLLBACK')
      .then(() => client.query('SELECT pg_advisory_unlock($1, $2)', [SEEN_LOCK_SPACE, SEEN_LOCKS.rescan]))
      .then(
        () => true,
        () => false,
      );
    client.release(!clean);
  }
}
