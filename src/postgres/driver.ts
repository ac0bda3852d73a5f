/**
 * The one file that loads `pg` and `pg-copy-streams`, optional peers that only users of the
 * PostgreSQL store install. They are required on the first {@link PgHashStore.connect}, not when
 * `hashwarden/postgres` is imported, so importing the entry never fails for their absence (as
 * src/store/driver.ts does for better-sqlite3).
 */
import { createRequire } from 'node:module';
import type Pg from 'pg';
import type CopyStreams from 'pg-copy-streams';
import { HashwardenError } from '../errors.js';

/** The `pg` module (its `Pool`, `Client`, `types`). */
export type PgModule = typeof Pg;
/** A `pg` pool. */
export type Pool = Pg.Pool;
/** A client checked out of a pool. */
export type PoolClient = Pg.PoolClient;
/** `pg-copy-streams`' `from`: a COPY … FROM STDIN as a writable stream. */
export type CopyFrom = typeof CopyStreams.from;

/** Both packages, once loaded; a failed load is not kept, so installing them fixes the next connect. */
let loaded: { readonly pg: PgModule; readonly copyFrom: CopyFrom } | undefined;

const INSTALL =
  'run `npm install pg pg-copy-streams`. They are needed by the PostgreSQL store (hashwarden/postgres) only; the SQLite store, snapshots and the matcher work without them.';

/**
 * `pg` and `pg-copy-streams`, required on first use. Throws `ERR_MISSING_DEPENDENCY` when either
 * is not installed (the message says how to install them), `ERR_MODULE_LOAD` with the cause when
 * one is installed but does not load.
 */
export function loadPg(): { readonly pg: PgModule; readonly copyFrom: CopyFrom } {
  if (loaded !== undefined) return loaded;
  const require = createRequire(import.meta.url);
  const load = (name: string): unknown => {
    // Resolved first, so that only the package's own absence counts as missing: a module missing
    // inside it is a broken install, reported with its cause.
    try {
      require.resolve(name);
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code !== 'MODULE_NOT_FOUND') throw loadFailure(name, error);
      throw new HashwardenError('ERR_MISSING_DEPENDENCY', `${name} is not installed: ${INSTALL}`, { cause: error });
    }
    try {
      return require(name);
    } catch (error) {
      throw loadFailure(name, error);
    }
  };
  const pg = load('pg') as PgModule;
  const copyFrom = (load('pg-copy-streams') as typeof CopyStreams).from;
  loaded = { pg, copyFrom };
  return loaded;
}

function loadFailure(name: string, error: unknown): HashwardenError {
  return new HashwardenError(
    'ERR_MODULE_LOAD',
    `Cannot load ${name}: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
