/**
 * The seen store: what `matchImage` searched for each upload a platform checked, by the
 * platform's content id, so that entries lists gain later can be searched against them (a
 * rescan). One SQLite file of its own (src/seen/schema.ts says why).
 */
import { availableParallelism } from 'node:os';
import { checkThresholds, type Thresholds } from '../algorithms/registry.js';
import { MAX_FIELD_LENGTH } from '../lists/entry.js';
import type { ImageMatchResult } from '../matcher/types.js';
import { searchedBy, type SearchedQuery } from '../matcher/searched.js';
import { storeError } from '../store/context.js';
import type { Connection, Statement } from '../store/driver.js';
import { resolveStoreOptions } from '../store/schema.js';
import type { HashStore } from '../store/store.js';
import type { StoreOptions } from '../store/types.js';
import { integerInRange, invalid, nonEmptyString, optionsObject } from '../validate.js';
import { decodeSearched, encodeSearched, recordedVersions, SEEN_READ_COLUMNS, type SeenRow } from './record.js';
import type { RescanEvent, ResolvedRescanOptions } from './events.js';
import { rescanRounds } from './rescan.js';
import { openSeen } from './schema.js';

/** Longest content id accepted: the platform's own key (a UUID, a path), as long as a list entry's id may be. */
export const MAX_CONTENT_ID_LENGTH = MAX_FIELD_LENGTH;

/** Uploads a rescan reads, searches and checkpoints at a time, by default: large enough that a checkpoint's write is rare, small enough that a replay after a crash is short. */
export const DEFAULT_RESCAN_BATCH = 1000;

/** Most uploads per rescan batch: a batch's hashes are held in memory at once (a few KB an upload). */
const MAX_RESCAN_BATCH = 100_000;

/** Most search threads a rescan takes: each holds its own index of the round's new entries (about 350 bytes an entry). */
const MAX_RESCAN_WORKERS = 16;

/**
 * The default of `RescanOptions.workers`: one search thread per core
 * (`os.availableParallelism()`), at most {@link MAX_RESCAN_WORKERS}: the calling thread reads and
 * unpacks the records while the threads search, and the search is most of a rescan's work.
 */
function defaultRescanWorkers(): number {
  return Math.min(availableParallelism(), MAX_RESCAN_WORKERS);
}

/** Most days of retention {@link SeenStore.expire} takes: about 100 years, past which a date overflows nothing but means nothing. */
const MAX_RETENTION_DAYS = 36_500;

const DAY_MS = 86_400_000;

/** One recorded upload, as {@link SeenStore.get} returns it. */
export interface SeenRecord {
  readonly contentId: string;
  /** When it was recorded. */
  readonly at: Date;
  /** The version of each list it was checked against, by name. */
  readonly versions: Readonly<Record<string, number>>;
  /** Every hash its `matchImage` call looked up (repeats left out), as bytes. */
  readonly hashes: readonly SearchedQuery[];
}

/** Options of {@link SeenStore.record}. */
export interface SeenRecordOptions {
  /** When the upload was checked. Default: now. */
  readonly at?: Date;
}

/** Options of {@link SeenStore.rescan}. */
export interface RescanOptions {
  /** Only uploads recorded at or after this time are searched. Default: all. */
  readonly since?: Date;
  /**
   * Thresholds for lists whose policy sets none, per perceptual algorithm. Default: each
   * algorithm's `defaultThreshold`, as a matcher without thresholds uses.
   */
  readonly thresholds?: Thresholds;
  /** Uploads read and checkpointed at a time, 1–100,000. Default {@link DEFAULT_RESCAN_BATCH}. */
  readonly batchSize?: number;
  /**
   * Search threads a rescan may start, 0–16 (0: search on the calling thread only). They start
   * only once a rescan has read 20,000 uploads, and the events are the same with or without
   * them. Default: one per core (`os.availableParallelism()`), at most 16. `SeenStore` only: the
   * PostgreSQL seen store searches on the calling thread.
   */
  readonly workers?: number;
}

function dateOption(value: unknown, name: string): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) invalid('valid Date', name, value);
  return value.getTime();
}

/** A record's row as both seen stores write it, its arguments checked: what {@link SeenStore.record} takes. */
export function recordRow(
  contentId: string,
  result: ImageMatchResult,
  options: SeenRecordOptions | undefined,
): { readonly contentId: string; readonly at: number; readonly versions: string; readonly hashes: Uint8Array } {
  nonEmptyString(contentId, 'contentId', MAX_CONTENT_ID_LENGTH);
  const searched = result !== null && typeof result === 'object' ? searchedBy(result) : undefined;
  if (searched === undefined) invalid('result of matchImage or matchImages', 'result', result);
  const o = optionsObject(options, 'options');
  const at = o.at === undefined ? Date.now() : dateOption(o.at, 'options.at');
  return { contentId, at, versions: JSON.stringify(searched.versions), hashes: encodeSearched(searched.queries) };
}

/** The time before which {@link SeenStore.expire} deletes, in ms since the epoch, its argument checked. */
export function expiryCutoff(olderThan: Date | { readonly days: number }): number {
  return olderThan instanceof Date
    ? dateOption(olderThan, 'olderThan')
    : Date.now() -
        integerInRange(optionsObject(olderThan, 'olderThan').days, 1, MAX_RETENTION_DAYS, 'olderThan.days') * DAY_MS;
}

/** A row of either seen store as {@link SeenStore.get} returns it. */
export function seenRecord(row: SeenRow): SeenRecord {
  return {
    contentId: row.content_id,
    at: new Date(row.at),
    versions: recordedVersions(row),
    hashes: decodeSearched(row.hashes),
  };
}

/** {@link SeenStore.rescan}'s options, checked and resolved (both seen stores take the same). */
export function resolveRescanOptions(options: RescanOptions | undefined): ResolvedRescanOptions {
  const o = optionsObject(options, 'options');
  return Object.freeze({
    since: o.since === undefined ? Number.MIN_SAFE_INTEGER : dateOption(o.since, 'options.since'),
    thresholds: o.thresholds === undefined ? {} : Object.freeze(checkThresholds(o.thresholds, 'options.thresholds')),
    batchSize:
      o.batchSize === undefined
        ? DEFAULT_RESCAN_BATCH
        : integerInRange(o.batchSize, 1, MAX_RESCAN_BATCH, 'options.batchSize'),
  });
}

/**
 * Uploads checked, by content id, with what their check searched: the store a rescan reads.
 *
 * @example
 * ```ts
 * const seen = SeenStore.open('seen.db');
 * const result = await matcher.matchImage(upload);
 * seen.record(uploadId, result);
 * ```
 */
export class SeenStore {
  readonly #db: Connection;
  /** The record's insert, prepared once: preparing it per call was most of a record's cost. */
  #insert: Statement<[string, number, string, Buffer | Uint8Array]> | undefined;
  readonly #path: string;

  private constructor(db: Connection, path: string) {
    this.#db = db;
    this.#path = path;
  }

  /**
   * Opens (by default creating, owner-only: `mode` 0o600) the seen store at `path`, with the list
   * store's options (`readonly`, `create`, `mode`). `ERR_STORE` for a file that is not a seen
   * store (a list store included) or holds an object its schema does not define;
   * `ERR_MISSING_DEPENDENCY` without better-sqlite3.
   *
   * @example
   * ```ts
   * const seen = SeenStore.open('seen.db');
   * ```
   */
  static open(path: string, options?: StoreOptions): SeenStore {
    return new SeenStore(openSeen(path, resolveStoreOptions(path, options)), path);
  }

  #write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw storeError(this.#path, error);
    }
  }

  /**
   * Records the upload `contentId` as `result` says it was checked: every hash its `matchImage`
   * (or `matchImages`) call looked up, the versions of the lists searched, the time. Never the
   * image. Recording a content id again replaces its record (it is then searched as checked
   * now). `result` must be the object a matcher returned (a copy or a spread of it is a
   * TypeError: its hashes are not on it).
   *
   * @example
   * ```ts
   * seen.record('upload-81734', await matcher.matchImage(bytes));
   * ```
   */
  record(contentId: string, result: ImageMatchResult, options?: SeenRecordOptions): void {
    const row = recordRow(contentId, result, options);
    this.#write(() =>
      (this.#insert ??= this.#db.prepare(
        'INSERT OR REPLACE INTO seen (content_id, at, versions, hashes) VALUES (?, ?, ?, ?)',
      )).run(row.contentId, row.at, row.versions, row.hashes),
    );
  }

  /**
   * Deletes the record of `contentId` (its user deleted the upload); true when there was one.
   *
   * @example
   * ```ts
   * seen.delete('upload-81734');
   * ```
   */
  delete(contentId: string): boolean {
    nonEmptyString(contentId, 'contentId', MAX_CONTENT_ID_LENGTH);
    return this.#write(() => this.#db.prepare('DELETE FROM seen WHERE content_id = ?').run(contentId).changes > 0);
  }

  /**
   * Deletes every record older than `olderThan` (a Date), or than `{ days }` days before now
   * (1–36,500); returns how many. Run it on a timer for a retention period.
   *
   * @example
   * ```ts
   * seen.expire({ days: 90 });
   * ```
   */
  expire(olderThan: Date | { readonly days: number }): number {
    const before = expiryCutoff(olderThan);
    return this.#write(() => this.#db.prepare('DELETE FROM seen WHERE at < ?').run(before).changes);
  }

  /**
   * The record of `contentId`, or undefined.
   *
   * @example
   * ```ts
   * const record = seen.get('upload-81734');
   * ```
   */
  get(contentId: string): SeenRecord | undefined {
    nonEmptyString(contentId, 'contentId', MAX_CONTENT_ID_LENGTH);
    const row = this.#write(() =>
      this.#db.prepare<[string], SeenRow>(`SELECT ${SEEN_READ_COLUMNS} FROM seen WHERE content_id = ?`).get(contentId),
    );
    return row === undefined ? undefined : seenRecord(row);
  }

  /**
   * How many uploads are recorded.
   *
   * @example
   * ```ts
   * seen.count();
   * ```
   */
  count(): number {
    return this.#write(() => (this.#db.prepare('SELECT count(*) AS n FROM seen').get() as { n: number }).n);
  }

  /**
   * Searches the entries `lists` gained since the last rescan (every entry of a list the first
   * time) against every recorded upload, under each list's current policy (disabled lists left
   * out, each list's thresholds), and yields one {@link RescanEvent} per (upload, entry) found:
   * the upload's nearest hash. An upload already checked against a list at the version the entry
   * was found new in is left out for that list. Checkpointed: an event is acknowledged when the
   * consumer asks for the next one (the loop goes round); a rescan stopped any other way (a crash,
   * a `break`, a throw) resumes on the next call from its last acknowledged batch, repeating
   * events with the same `id` (at-least-once). Argument errors are TypeError / RangeError, checked
   * at call time; store failures `ERR_STORE`.
   *
   * @example
   * ```ts
   * for await (const event of seen.rescan(store)) await review.enqueue(event.id, event);
   * ```
   */
  rescan(lists: HashStore, options?: RescanOptions): AsyncGenerator<RescanEvent, void, undefined> {
    if (lists === null || typeof lists !== 'object' || typeof (lists as HashStore).entries !== 'function')
      invalid('HashStore', 'lists', lists);
    const common = resolveRescanOptions(options);
    // `options` is an object or undefined once resolveRescanOptions has accepted it.
    const workers = options?.workers;
    const resolved = Object.freeze({
      ...common,
      workers:
        workers === undefined
          ? defaultRescanWorkers()
          : integerInRange(workers, 0, MAX_RESCAN_WORKERS, 'options.workers'),
    });
    return this.#rescan(lists, resolved);
  }

  async *#rescan(
    lists: HashStore,
    options: Parameters<typeof rescanRounds>[2],
  ): AsyncGenerator<RescanEvent, void, undefined> {
    try {
      yield* rescanRounds(this.#db, lists, options);
    } catch (error) {
      throw storeError(this.#path, error);
    }
  }

  /** Closes the file; further calls throw `ERR_STORE`. */
  close(): void {
    this.#db.close();
  }
}
