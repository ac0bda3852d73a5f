/**
 * {@link PgHashStore}: the SQLite store's operations (src/store/store.ts) on PostgreSQL, for
 * platforms whose importers and readers run on several machines. Same options and results (the
 * types of src/store/types.ts); every method returns a Promise, since each is a round trip.
 */
import type { ListEntry } from '../lists/entry.js';
import type {
  DisableEntryOptions,
  EntryFilter,
  ImportFileOptions,
  ImportFileResult,
  ImportOptions,
  ImportRecord,
  ImportResult,
  ImportRow,
  ImportRowsOptions,
  ImportSummary,
  ListInfo,
  ListPolicyChange,
  QuarantinedEntry,
} from '../store/types.js';
import { registerStoreSource } from '../matcher/store-source.js';
import type { SnapshotSummary } from '../snapshot/format.js';
import { closeContext, connectContext, storeContexts, writable, type PgContext } from './context.js';
import { exportSnapshot } from './export.js';
import { importEntries, importFile, importRows } from './import.js';
import { readPacked } from './packed.js';
import { disableEntry, enableEntry, quarantined } from './quarantine.js';
import { checkpoint, count, entries, entry, history, lists, setListPolicy } from './reads.js';
import { prepareSchema } from './schema.js';
import type { PgConnectTarget, PgSnapshotOptions, PgStoreOptions } from './types.js';

/**
 * A hash store in a PostgreSQL database: the tables of the SQLite store (`lists`, `entries` with
 * hashes as `bytea`, `imports`, `checkpoints`), created on first connect. Each import is one
 * transaction that streams its rows through COPY, bumps the version of every list it touches and
 * records what it did; imports into the same list from several processes run one after the other
 * (an advisory lock per list), and readers see the previous version until the commit.
 *
 * `Matcher.open(store)` reads a matcher's lists from it (and `reload()` reads them again when a
 * list's version or policy changed, or a quarantine ended); `exportSnapshot` writes them to a
 * snapshot. Allow lists (`setListPolicy(name, { action: 'allow' })`) and entry quarantine
 * (`disableEntry`) work as in the SQLite store. A store of schema version 1 is upgraded when a
 * writer connects (docs/postgres.md).
 *
 * What differs from the SQLite `HashStore`: every method is asynchronous (returns a Promise),
 * `entries()` is an async iterator, there is no `read`/`readAsync` (each `lists()` and each
 * `entries()` reads one snapshot of its own), and a repeated (list, id) or a bad row is reported
 * after all rows are read rather than where it is met. docs/postgres.md has the rest.
 *
 * @example
 * ```ts
 * import { PgHashStore } from 'hashwarden/postgres';
 * const store = await PgHashStore.connect(process.env.DATABASE_URL as string);
 * try {
 *   await store.importFile('ncmec.csv', { list: 'ncmec' });
 *   for await (const entry of store.entries({ list: 'ncmec' })) index.add(entry);
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export class PgHashStore {
  /** The store as messages name it: `postgresql://host:port/database`, never the password. */
  readonly label: string;
  readonly #ctx: PgContext;

  private constructor(ctx: PgContext) {
    this.label = ctx.label;
    this.#ctx = ctx;
    storeContexts.set(this, ctx);
    registerStoreSource(this, {
      label: `PostgreSQL store ${ctx.label}`,
      readPacked: (names, unless) => readPacked(ctx, names, unless),
    });
  }

  /**
   * Connects, and checks (by default creating) the schema. Throws `ERR_MISSING_DEPENDENCY` when
   * `pg` or `pg-copy-streams` is not installed (loaded here, not when `hashwarden/postgres` is
   * imported), `ERR_STORE` naming host, port and database (never the password) when the server
   * cannot be reached or refuses, or when the database holds tables that are not a hashwarden
   * store's (altered columns, a trigger, another schema version: one newer than this release's
   * `PG_SCHEMA_VERSION` is refused, never guessed at). With `readonly`, the store's own
   * connections are read only and writes are `ERR_STORE` before they reach the server.
   *
   * @example
   * ```ts
   * const store = await PgHashStore.connect('postgresql://hashwarden@db.internal/hashes');
   * const reader = await PgHashStore.connect(process.env.DATABASE_URL as string, { readonly: true });
   * ```
   */
  static async connect(target: PgConnectTarget, options?: PgStoreOptions): Promise<PgHashStore> {
    return new PgHashStore(await connectContext(target, options, prepareSchema));
  }

  /**
   * Adds or replaces entries by (list, id) in one transaction, as `HashStore.importEntries`
   * (a repeated (list, id) keeps the last one); asynchronous.
   *
   * @example
   * ```ts
   * const [s] = await store.importEntries(parsed.entries, { source: 'ncmec.csv' });
   * ```
   */
  async importEntries(entries: Iterable<ListEntry>, options?: ImportOptions): Promise<ImportSummary[]> {
    writable(this.#ctx, 'import');
    return importEntries(this.#ctx, entries, options);
  }

  /**
   * Imports rows as a reader yields them, in one transaction, as `HashStore.importRows`: the rows
   * are streamed through COPY into a temporary table, then applied (adds, updates, removals,
   * `replace`, `allowEmpty`, `dedupe`, `onError`, `checkpoint`) under each list's lock. Memory does
   * not grow with the rows. An error thrown by the rows propagates unchanged; PostgreSQL's failures
   * are `ERR_STORE`; a refused import leaves the store as it was.
   *
   * @example
   * ```ts
   * const { summaries } = await store.importRows(streamListFile('delta.csv', { list: 'ncmec' }), { source: 'delta.csv' });
   * ```
   */
  async importRows(
    batches: AsyncIterable<{ readonly rows: readonly ImportRow[] }> | Iterable<{ readonly rows: readonly ImportRow[] }>,
    options?: ImportRowsOptions,
  ): Promise<ImportResult> {
    writable(this.#ctx, 'import');
    return importRows(this.#ctx, batches, options);
  }

  /**
   * Imports a list file as `HashStore.importFile` does (the same reader, on a worker thread;
   * `multiList`, `onError`, `onProgress`): a first import of one list whose ids ascend is copied
   * straight into the list (`ordered: true` in the result), any other file through the staging
   * table (`ordered: false`; read a second time when its ids turned out of order).
   *
   * @example
   * ```ts
   * await store.importFile('ncmec.csv', { list: 'ncmec', replace: ['ncmec'] });
   * ```
   */
  async importFile(path: string, options: ImportFileOptions): Promise<ImportFileResult> {
    writable(this.#ctx, 'import');
    return importFile(this.#ctx, path, options);
  }

  /**
   * Changes how a list is matched, as `HashStore.setListPolicy`; asynchronous.
   *
   * @example
   * ```ts
   * await store.setListPolicy('ncmec', { thresholds: { pdq: 31 }, label: 'block-and-report' });
   * ```
   */
  async setListPolicy(name: string, change: ListPolicyChange): Promise<ListInfo> {
    writable(this.#ctx, 'change a list');
    return setListPolicy(this.#ctx, name, change);
  }

  /**
   * Quarantines one entry, as `HashStore.disableEntry` (the same rules, arguments, results and
   * errors); asynchronous. It is never matched (`Matcher.open(store)`, `exportSnapshot`, the seen
   * store's rescan leave it out) until {@link PgHashStore.enableEntry} or `options.until` passes,
   * whatever imports do to the list meanwhile; an id the list does not hold yet is allowed; the
   * list must exist (`ERR_STORE`). Bumps the list's version and writes a `disable` record to the
   * history, under the list's lock (an import into it waits). `ERR_STORE` on a read-only store.
   *
   * @example
   * ```ts
   * await store.disableEntry('vendor-x', '4242', { reason: 'matches a common meme (ticket 881)', until: new Date('2027-01-01') });
   * ```
   */
  async disableEntry(list: string, id: string, options: DisableEntryOptions): Promise<QuarantinedEntry> {
    return disableEntry(this.#ctx, list, id, options);
  }

  /**
   * Lifts an entry's quarantine, as `HashStore.enableEntry`: true when a quarantine in force was
   * lifted (an `enable` record written, the list's version bumped), false when none was (never
   * disabled, or expired). `ERR_STORE` for a list the store does not hold or a read-only store.
   *
   * @example
   * ```ts
   * await store.enableEntry('vendor-x', '4242'); // true
   * ```
   */
  async enableEntry(list: string, id: string): Promise<boolean> {
    return enableEntry(this.#ctx, list, id);
  }

  /**
   * The entries quarantined now (those whose `until` has passed left out), of one list or of all,
   * by list then id, as `HashStore.quarantined`. A version 1 store connected read-only has none.
   *
   * @example
   * ```ts
   * for (const q of await store.quarantined()) console.log(q.list, q.id, q.reason, q.until ?? 'until lifted');
   * ```
   */
  quarantined(list?: string): Promise<QuarantinedEntry[]> {
    return quarantined(this.#ctx, list);
  }

  /**
   * Writes the lists (every enabled one, or `options.lists`) to a snapshot, as `hashwarden export
   * --snapshot` writes a SQLite store's: read in one REPEATABLE READ READ ONLY transaction, so that
   * a concurrent import cannot give a snapshot whose versions and entries disagree, straight into
   * the packed tables a snapshot holds (no object per entry), then written to a temporary file
   * renamed over `path`. Each list keeps its version, thresholds, label and action; entries
   * quarantined now are left out and recorded in META's `quarantined`; META's `source` is the
   * store's `label` (never the password). Options are checked before anything is read; lists that
   * hold no entry are `ERR_NO_ENTRIES` unless `allowEmpty`; a name the store does not hold is
   * `ERR_STORE`. Works on a read-only store.
   *
   * @example
   * ```ts
   * const { entries, sequence } = await store.exportSnapshot('current.snap', { sign: { privateKey: pem } });
   * ```
   */
  exportSnapshot(path: string, options?: PgSnapshotOptions): Promise<SnapshotSummary> {
    return exportSnapshot(this.#ctx, path, options);
  }

  /**
   * Streams entries ordered by list then id (byte order), optionally filtered: a server-side
   * cursor read a thousand rows at a time, in a read-only snapshot of its own, so memory stays
   * bounded and the entries are one version of the store. Holds a connection until the loop ends.
   *
   * @example
   * ```ts
   * for await (const e of store.entries({ list: 'ncmec', algorithm: 'pdq' })) index.add(e);
   * ```
   */
  entries(filter?: EntryFilter): AsyncIterableIterator<ListEntry> {
    return entries(this.#ctx, filter);
  }

  /**
   * One entry by list and id, or `undefined`.
   *
   * @example
   * ```ts
   * const e = await store.entry('ncmec', '4242:pdq');
   * ```
   */
  entry(list: string, id: string): Promise<ListEntry | undefined> {
    return entry(this.#ctx, list, id);
  }

  /**
   * The lists, by name, with versions, counts per algorithm and policy, read in one snapshot.
   *
   * @example
   * ```ts
   * for (const l of await store.lists()) console.log(l.name, l.version, l.total);
   * ```
   */
  lists(): Promise<ListInfo[]> {
    return lists(this.#ctx);
  }

  /**
   * What the imports did, oldest first, optionally of one list.
   *
   * @example
   * ```ts
   * for (const r of await store.history('ncmec')) console.log(r.at, r.version, r.added);
   * ```
   */
  history(list?: string): Promise<ImportRecord[]> {
    return history(this.#ctx, list);
  }

  /**
   * The checkpoint an import's `checkpoint` option stored under `key`, or `undefined`.
   *
   * @example
   * ```ts
   * await store.checkpoint('ncmec:Industry|ncmec');
   * ```
   */
  checkpoint(key: string): Promise<string | undefined> {
    return checkpoint(this.#ctx, key);
  }

  /**
   * The number of entries, optionally filtered.
   *
   * @example
   * ```ts
   * await store.count({ list: 'ncmec' });
   * ```
   */
  count(filter?: EntryFilter): Promise<number> {
    return count(this.#ctx, filter);
  }

  /**
   * Ends the store's pool (a pool the caller passed stays open). Further calls throw `ERR_STORE`;
   * closing twice is harmless.
   *
   * @example
   * ```ts
   * await store.close();
   * ```
   */
  close(): Promise<void> {
    return closeContext(this.#ctx);
  }
}
