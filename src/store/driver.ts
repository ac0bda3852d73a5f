/**
 * The one file that loads better-sqlite3, a native build that snapshot-only users need not
 * install. It is required on the first {@link HashStore.open}, not when `hashwarden/sqlite` is
 * imported, so importing the package never fails for its absence; the other files of the store
 * import its types from here.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { HashwardenError } from '../errors.js';

/** An open better-sqlite3 connection. */
export type Connection = BetterSqlite3.Database;
/** A prepared better-sqlite3 statement. */
export type Statement<P extends unknown[] | object = unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;

/** The package, once loaded; a failed load is not kept, so installing it fixes the next open. */
let driver: typeof BetterSqlite3 | undefined;

/**
 * The better-sqlite3 constructor, required on first use. Throws `ERR_MISSING_DEPENDENCY` when the
 * package is not installed (the message says how to install it), `ERR_MODULE_LOAD` with the cause
 * when it is installed but does not load (a native binding built for another Node, say).
 */
export function loadDriver(): typeof BetterSqlite3 {
  if (driver !== undefined) return driver;
  const require = createRequire(import.meta.url);
  // Resolved first, so that only the package's own absence counts as missing: a module missing
  // inside it (its `bindings` helper, say) is a broken install, reported with its cause.
  try {
    require.resolve('better-sqlite3');
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== 'MODULE_NOT_FOUND') throw loadFailure(error);
    throw new HashwardenError(
      'ERR_MISSING_DEPENDENCY',
      "better-sqlite3 is not installed: run `npm install better-sqlite3`. It is needed by the SQLite store (hashwarden/sqlite), Matcher.open on a store, and the CLI's store commands (import, lists, list, export, match --db, demo); snapshots and the matcher built from a snapshot or from entries work without it.",
      { cause: error },
    );
  }
  try {
    driver = require('better-sqlite3') as typeof BetterSqlite3;
  } catch (error) {
    throw loadFailure(error);
  }
  return driver;
}

function loadFailure(error: unknown): HashwardenError {
  return new HashwardenError(
    'ERR_MODULE_LOAD',
    `Cannot load better-sqlite3: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

/** True for an error SQLite itself raised (not one of the caller's, passing through a transaction). */
export function isSqliteError(error: unknown): boolean {
  return driver !== undefined && error instanceof driver.SqliteError;
}
