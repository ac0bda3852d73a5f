/**
 * {@link PgHashStore}: the SQLite store's operations (src/store/store.ts) on PostgreSQL, for
 * platforms whose importers and readers run on several machines. Same options and results (the
 * types of src/store/types.ts); every method returns a Promise, since each is a round trip.
 */
import type { ListEntry } from '../lists/entry.js';
import { boolean, invalid, optionsObject } from '../validate.js';
import type {
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
} from '../store/types.js';
import { pgError, scrub, type PgContext } from './context.js';
import { loadPg, type Pool } from './driver.js';
import { importEntries, importFile, importRows } from './import.js';
import { checkpoint, count, entries, entry, history, lists, setListPolicy } from './reads.js';
import { prepareSchema } from './schema.js';
import type { PgConnectTarget, PgStoreOptions } from './types.js';

/** Most connections the store's own pool opens: an import holds one, a reader of entries another. */
const POOL_SIZE = 4;

/** Host, port and database of a connection string (or of the PG* variables), and its password, to keep out of messages. */
function describe(connectionString: string | undefined): { label: string; secret: string | undefined } {
  const env = process.env;
  let host = env.PGHOST ?? 'localhost';
  let port = env.PGPORT ?? '5432';
  let database = env.PGDATABASE ?? env.PGUSER ?? '';
  let secret = env.PGPASSWORD;
  if (connectionString !== undefined) {
    try {
      const url = new URL(connectionString);
      host = url.hostname || (url.searchParams.get('host') ?? host);
      port = url.port || port;
      database = decodeURIComponent(url.pathname.replace(/^\//, '')) || database;
      secret = url.password === '' ? undefined : decodeURIComponent(url.password);
    } catch {
      // Not a URL (a `host=… dbname=…` string): named as given, less any password in it.
      const password = /password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/.exec(connectionString)?.[1];
      secret = password?.replace(/^'|'$/g, '');
      return {
        label: scrub(secret, connectionString.replace(/password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/, 'password=***')),
        secret,
      };
    }
  }
  return { label: `postgresql://${host}:${port}/${database}`, secret };
}

/**
 * A hash store in a PostgreSQL database: the tables of the SQLite store (`lists`, `entries` with
 * hashes as `bytea`, `imports`, `checkpoints`), created on first connect. Each import is one
 * transaction that streams its rows through COPY, bumps the version of every list it touches and
 * records what it did; imports into the same list from several processes run one after the other
 * (an advisory lock per list), and readers see the previous version until the commit.
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
  }

  /**
   * Connects, and checks (by default creating) the schema. Throws `ERR_MISSING_DEPENDENCY` when
   * `pg` or `pg-copy-streams` is not installed (loaded here, not when `hashwarden/postgres` is
   * imported), `ERR_STORE` naming host, port and database (never the password) when the server
   * cannot be reached or refuses, or when the database holds tables that are not a hashwarden
   * store's (altered columns, a trigger, another schema version).
   *
   * @example
   * ```ts
   * const store = await PgHashStore.connect('postgresql://hashwarden@db.internal/hashes');
   * ```
   */
  static async connect(target: PgConnectTarget, options?: PgStoreOptions): Promise<PgHashStore> {
    const o = optionsObject(options, 'options');
    const create = o.create === undefined ? true : boolean(o.create, 'create');
    let connectionString: string | undefined;
    let given: unknown;
    if (typeof target === 'string') connectionString = target;
    else if (target !== null && typeof target === 'object') {
      const t = target as { connectionString?: unknown; pool?: unknown };
      if (t.connectionString !== undefined && typeof t.connectionString !== 'string')
        invalid('string', 'connectionString', t.connectionString);
      connectionString = t.connectionString as string | undefined;
      given = t.pool;
    } else invalid('connection string or object', 'target', target);
    const { pg, copyFrom } = loadPg();
    if (given !== undefined && !(given instanceof pg.Pool)) invalid('pg Pool', 'pool', given);
    const { label, secret } = describe(connectionString);
    const pool =
      (given as Pool | undefined) ??
      new pg.Pool({ ...(connectionString === undefined ? {} : { connectionString }), max: POOL_SIZE });
    const ctx: PgContext = { pool, ownsPool: given === undefined, copyFrom, label, secret, closed: false };
    // An idle client's failure (the server restarting) must not crash the process: the next query reports it.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await prepareSchema(ctx, client, create);
      } finally {
        client.release();
      }
    } catch (error) {
      if (ctx.ownsPool) await pool.end().catch(() => undefined);
      throw pgError(ctx, error);
    }
    return new PgHashStore(ctx);
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
  importEntries(entries: Iterable<ListEntry>, options?: ImportOptions): Promise<ImportSummary[]> {
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
  importRows(
    batches: AsyncIterable<{ readonly rows: readonly ImportRow[] }> | Iterable<{ readonly rows: readonly ImportRow[] }>,
    options?: ImportRowsOptions,
  ): Promise<ImportResult> {
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
  importFile(path: string, options: ImportFileOptions): Promise<ImportFileResult> {
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
  setListPolicy(name: string, change: ListPolicyChange): Promise<ListInfo> {
    return setListPolicy(this.#ctx, name, change);
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
  async close(): Promise<void> {
    if (this.#ctx.closed) return;
    this.#ctx.closed = true;
    if (!this.#ctx.ownsPool) return;
    try {
      await this.#ctx.pool.end();
    } catch (error) {
      throw pgError(this.#ctx, error);
    }
  }
}
