/**
 * {@link PgSeenStore}: the SQLite seen store's operations (src/seen/store.ts) on PostgreSQL, for
 * fleets whose upload servers record at once from several machines. Same arguments, checks,
 * record blob and events; every method returns a Promise.
 */
import type { ImageMatchResult } from '../matcher/types.js';
import type { RescanEvent } from '../seen/events.js';
import type { SeenRow } from '../seen/record.js';
import {
  expiryCutoff,
  MAX_CONTENT_ID_LENGTH,
  recordRow,
  resolveRescanOptions,
  seenRecord,
  type RescanOptions,
  type SeenRecord,
  type SeenRecordOptions,
} from '../seen/store.js';
import { invalid, nonEmptyString } from '../validate.js';
import { closeContext, connectContext, inTransaction, storeContexts, writable, type PgContext } from './context.js';
import {
  PG_SEEN_READ_COLUMNS,
  pgBound,
  pgTime,
  prepareSeenSchema,
  SEEN_LOCK_SPACE,
  SEEN_LOCKS,
} from './seen-schema.js';
import { pgRescanRounds } from './seen-rescan.js';
import type { PgHashStore } from './store.js';
import type { PgConnectTarget, PgStoreOptions } from './types.js';

/**
 * The recorded uploads in a PostgreSQL database, beside (or apart from) a {@link PgHashStore}'s
 * lists: the tables `seen_uploads`, `seen_known`, `seen_known_lists`, `seen_state`, `seen_cursor`,
 * created on first connect. Any number of processes record at once; {@link PgSeenStore.rescan}
 * searches what the lists gained against every record, one rescan at a time per database.
 *
 * @example
 * ```ts
 * import { PgHashStore, PgSeenStore } from 'hashwarden/postgres';
 * const seen = await PgSeenStore.connect(process.env.DATABASE_URL as string);
 * await seen.record(uploadId, await matcher.matchImage(bytes));
 * ```
 */
export class PgSeenStore {
  /** The store as messages name it: `postgresql://host:port/database`, never the password. */
  readonly label: string;
  readonly #ctx: PgContext;

  private constructor(ctx: PgContext) {
    this.label = ctx.label;
    this.#ctx = ctx;
  }

  /**
   * Connects, and checks (by default creating) the seen store's tables, as
   * {@link PgHashStore.connect} does (same targets, options and errors; the list store's tables
   * are neither needed nor made).
   *
   * @example
   * ```ts
   * const seen = await PgSeenStore.connect('postgresql://hashwarden@db.internal/hashes');
   * ```
   */
  static async connect(target: PgConnectTarget, options?: PgStoreOptions): Promise<PgSeenStore> {
    return new PgSeenStore(await connectContext(target, options, prepareSeenSchema));
  }

  async #query<R extends object>(what: string, sql: string, params: unknown[]): Promise<{ rows: R[]; count: number }> {
    return inTransaction(this.#ctx, what, async (client) => {
      const result = await client.query<R>(sql, params);
      return { rows: result.rows, count: result.rowCount ?? 0 };
    });
  }

  /**
   * Records the upload `contentId` as `SeenStore.record` does (same checks, same blob); recording
   * it again replaces its record and gives it a new place in the sequence, so that the next rescan
   * searches it as checked now. Concurrent records from any number of processes are each kept once.
   *
   * @example
   * ```ts
   * await seen.record('upload-81734', await matcher.matchImage(bytes));
   * ```
   */
  async record(contentId: string, result: ImageMatchResult, options?: SeenRecordOptions): Promise<void> {
    const row = recordRow(contentId, result, options);
    writable(this.#ctx, 'record');
    // The shared lock before the sequence is drawn: a rescan fixing its last sequence number takes
    // it exclusively, so every number drawn before then is committed (seen-rescan.ts).
    await inTransaction(this.#ctx, 'record', async (client) => {
      await client.query('SELECT pg_advisory_xact_lock_shared($1, $2)', [SEEN_LOCK_SPACE, SEEN_LOCKS.record]);
      await client.query(
        `INSERT INTO seen_uploads (content_id, at, versions, hashes) VALUES ($2, ${pgTime(1)}, $3, $4)
         ON CONFLICT (content_id) DO UPDATE SET seq = excluded.seq, at = excluded.at, versions = excluded.versions, hashes = excluded.hashes`,
        [row.at, row.contentId, row.versions, row.hashes],
      );
    });
  }

  /**
   * Deletes the record of `contentId`; true when there was one.
   *
   * @example
   * ```ts
   * await seen.delete('upload-81734');
   * ```
   */
  async delete(contentId: string): Promise<boolean> {
    nonEmptyString(contentId, 'contentId', MAX_CONTENT_ID_LENGTH);
    writable(this.#ctx, 'delete');
    return (await this.#query('delete', 'DELETE FROM seen_uploads WHERE content_id = $1', [contentId])).count > 0;
  }

  /**
   * Deletes every record older than `olderThan` (a Date), or than `{ days }` days before now
   * (1–36,500); resolves to how many.
   *
   * @example
   * ```ts
   * await seen.expire({ days: 90 });
   * ```
   */
  async expire(olderThan: Date | { readonly days: number }): Promise<number> {
    const before = pgBound(expiryCutoff(olderThan));
    writable(this.#ctx, 'expire');
    return (await this.#query('expire', `DELETE FROM seen_uploads WHERE at < ${pgTime(1)}`, [before])).count;
  }

  /**
   * The record of `contentId`, or undefined.
   *
   * @example
   * ```ts
   * const record = await seen.get('upload-81734');
   * ```
   */
  async get(contentId: string): Promise<SeenRecord | undefined> {
    nonEmptyString(contentId, 'contentId', MAX_CONTENT_ID_LENGTH);
    const { rows } = await this.#query<SeenRow>(
      'read',
      `SELECT ${PG_SEEN_READ_COLUMNS} FROM seen_uploads WHERE content_id = $1`,
      [contentId],
    );
    return rows[0] === undefined ? undefined : seenRecord(rows[0]);
  }

  /**
   * How many uploads are recorded.
   *
   * @example
   * ```ts
   * await seen.count();
   * ```
   */
  async count(): Promise<number> {
    const { rows } = await this.#query<{ n: string }>('count', 'SELECT count(*) AS n FROM seen_uploads', []);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Searches the entries `lists` gained since the last rescan against every recorded upload, as
   * `SeenStore.rescan` does (same options, checks, events and ids; checkpointed per batch, resumed
   * after a crash), with uploads recorded after a round still searched against that round's
   * entries in the next. One rescan at a time per database: a second waits for the first to end
   * (its loop finished, left by `break`, or its process gone), then runs its own round. The lists'
   * entries and policy of a round are read in one snapshot of the list store.
   *
   * @example
   * ```ts
   * for await (const event of seen.rescan(store)) await review.enqueue(event.id, event);
   * ```
   */
  rescan(lists: PgHashStore, options?: RescanOptions): AsyncGenerator<RescanEvent, void, undefined> {
    const listCtx = lists !== null && typeof lists === 'object' ? storeContexts.get(lists) : undefined;
    if (listCtx === undefined) invalid('PgHashStore', 'lists', lists);
    const resolved = resolveRescanOptions(options);
    return pgRescanRounds(this.#ctx, listCtx, resolved);
  }

  /**
   * Ends the store's pool (a pool the caller passed stays open); further calls throw `ERR_STORE`.
   *
   * @example
   * ```ts
   * await seen.close();
   * ```
   */
  close(): Promise<void> {
    return closeContext(this.#ctx);
  }
}
