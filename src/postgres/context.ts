/**
 * What the PostgreSQL store's functions share: the pool, the name it shows in messages (host,
 * port and database, never the password), and how failures become `ERR_STORE`.
 */
import { HashwardenError, isHashwardenError } from '../errors.js';
import { boolean, invalid, optionsObject } from '../validate.js';
import { loadPg, type CopyFrom, type Pool, type PoolClient } from './driver.js';
import type { PgConnectTarget, PgStoreOptions } from './types.js';

/** One connected store. */
export interface PgContext {
  readonly pool: Pool;
  /** Whether `close()` ends the pool: not when the caller passed its own. */
  readonly ownsPool: boolean;
  readonly copyFrom: CopyFrom;
  /** `postgresql://host:port/database`, as messages name the store. */
  readonly label: string;
  /** The password, when known, so that no message can carry it (a driver echoing its input). */
  readonly secret: string | undefined;
  /** Connected with `readonly`: writes are refused before they reach the server. */
  readonly readonly: boolean;
  /**
   * The schema version the store has, set when it is checked on connect: older than this release's
   * only on a read-only connection (a writer upgrades it), which then reads it as it is.
   */
  schemaVersion: number;
  closed: boolean;
}

/** A message with the password, if it appears, masked. */
export function scrub(secret: string | undefined, message: string): string {
  if (secret === undefined || secret.length === 0) return message;
  return message.split(secret).join('***').split(encodeURIComponent(secret)).join('***');
}

/** Any failure from PostgreSQL or the driver becomes `ERR_STORE` naming the store; our own errors pass through. */
export function pgError(ctx: Pick<PgContext, 'label' | 'secret'>, error: unknown): HashwardenError {
  if (isHashwardenError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code =
    typeof (error as { code?: unknown } | null)?.code === 'string' ? ` (${(error as { code: string }).code})` : '';
  // The cause is kept off: pg's errors may hold the connection's parameters.
  return new HashwardenError('ERR_STORE', scrub(ctx.secret, `PostgreSQL store ${ctx.label}: ${message}${code}`));
}

/** Throws `ERR_STORE` when the store was closed. */
export function open(ctx: PgContext, what: string): void {
  if (ctx.closed) throw new HashwardenError('ERR_STORE', `PostgreSQL store ${ctx.label}: closed, cannot ${what}`);
}

/** Throws `ERR_STORE` when the store was closed, or connected read-only. */
export function writable(ctx: PgContext, what: string): void {
  open(ctx, what);
  if (ctx.readonly)
    throw new HashwardenError('ERR_STORE', `PostgreSQL store ${ctx.label}: connected read-only, cannot ${what}`);
}

/** A client of the store's pool, for the caller to release; `ERR_STORE` when closed or unreachable. */
export async function checkout(ctx: PgContext, what: string): Promise<PoolClient> {
  open(ctx, what);
  try {
    return await ctx.pool.connect();
  } catch (error) {
    throw pgError(ctx, error);
  }
}

/** Runs `fn` with a client of the pool, released after (destroyed when `fn` failed: its state is unknown). */
export async function withClient<T>(ctx: PgContext, what: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await checkout(ctx, what);
  let failed = false;
  try {
    return await fn(client);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    client.release(failed);
  }
}

/**
 * Runs `fn` in one transaction on one client: committed when it returns, rolled back when it
 * throws. `fn`'s errors that are not PostgreSQL's (the caller's rows) pass through unchanged when
 * `passThrough` says so; the others become `ERR_STORE`.
 */
export async function inTransaction<T>(
  ctx: PgContext,
  what: string,
  fn: (client: PoolClient, rowsFailed: (error: unknown) => void) => Promise<T>,
): Promise<T> {
  return withClient(ctx, what, async (client) => {
    let sourceFailure: { error: unknown } | undefined;
    try {
      await client.query('BEGIN');
      const value = await fn(client, (error) => (sourceFailure = { error }));
      await client.query('COMMIT');
      return value;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        // The transaction already failed; that error is the one to report (the client is destroyed).
      }
      if (sourceFailure !== undefined && error === sourceFailure.error) throw error;
      throw pgError(ctx, error);
    }
  });
}

/**
 * Most connections a store's own pool opens: an import holds one, a reader of entries another (a
 * rescan: one for its lock and writes, one of the list store's for its snapshot).
 */
const POOL_SIZE = 4;

/** What a read-only store's own connections start with: the server refuses any write, whatever the caller does. */
const READ_ONLY_SESSION = '-c default_transaction_read_only=on';

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
 * Each PostgreSQL list store's context, for the package's own readers outside the class (the seen
 * store's rescan reads a round's lists and entries in one snapshot of the list store's pool).
 */
export const storeContexts = new WeakMap<object, PgContext>();

/**
 * A connected store's context: `target` checked (a connection string, or `{ connectionString?,
 * pool? }`), `pg` loaded, a pool made (unless the caller's), and `prepare` run on one of its
 * clients to check (by default create) the store's tables. Any failure ends a pool of its own and
 * is `ERR_STORE` naming host, port and database, never the password.
 */
export async function connectContext(
  target: PgConnectTarget,
  options: PgStoreOptions | undefined,
  prepare: (ctx: PgContext, client: PoolClient, create: boolean) => Promise<void>,
): Promise<PgContext> {
  const o = optionsObject(options, 'options');
  const readonly = o.readonly === undefined ? false : boolean(o.readonly, 'readonly');
  const create = o.create === undefined ? !readonly : boolean(o.create, 'create');
  if (readonly && create) invalid('false when readonly is true', 'create', create, true);
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
    new pg.Pool({
      ...(connectionString === undefined ? {} : { connectionString }),
      ...(readonly ? { options: READ_ONLY_SESSION } : {}),
      max: POOL_SIZE,
    });
  const ctx: PgContext = {
    pool,
    ownsPool: given === undefined,
    copyFrom,
    label,
    secret,
    readonly,
    schemaVersion: 0,
    closed: false,
  };
  // An idle client's failure (the server restarting) must not crash the process: the next query reports it.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    try {
      await prepare(ctx, client, create);
    } finally {
      client.release();
    }
  } catch (error) {
    if (ctx.ownsPool) await pool.end().catch(() => undefined);
    throw pgError(ctx, error);
  }
  return ctx;
}

/** Ends a store's pool once (a pool the caller passed stays open); `close()` of either store. */
export async function closeContext(ctx: PgContext): Promise<void> {
  if (ctx.closed) return;
  ctx.closed = true;
  if (!ctx.ownsPool) return;
  try {
    await ctx.pool.end();
  } catch (error) {
    throw pgError(ctx, error);
  }
}

/**
 * Runs `fn` in one REPEATABLE READ READ ONLY transaction: every query it makes sees the same
 * committed version of the store, whatever another process commits meanwhile. Failures are
 * `ERR_STORE` (the client, in an unknown state, is destroyed rather than rolled back).
 */
export function inSnapshot<T>(ctx: PgContext, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(ctx, 'read', async (c) => {
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (error) {
      throw pgError(ctx, error);
    }
  });
}
