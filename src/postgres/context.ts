/**
 * What the PostgreSQL store's functions share: the pool, the name it shows in messages (host,
 * port and database, never the password), and how failures become `ERR_STORE`.
 */
import { HashwardenError, isHashwardenError } from '../errors.js';
import type { CopyFrom, Pool, PoolClient } from './driver.js';

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

/** Runs `fn` with a client of the pool, released after (destroyed when `fn` failed: its state is unknown). */
export async function withClient<T>(ctx: PgContext, what: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  open(ctx, what);
  let client: PoolClient;
  try {
    client = await ctx.pool.connect();
  } catch (error) {
    throw pgError(ctx, error);
  }
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
