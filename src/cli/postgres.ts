/**
 * `--db` naming a PostgreSQL database rather than a SQLite file: a `postgresql://` (or
 * `postgres://`) URL, whatever it leaves out taken from libpq's variables (`PGHOST`, `PGPORT`,
 * `PGUSER`, `PGDATABASE`, `PGPASSWORD`) and `~/.pgpass`, so that `--db postgresql://` alone takes
 * everything from the environment. The store (`hashwarden/postgres`) is loaded only then: the other
 * commands never load it. Messages name the store by host, port and database, never the URL as
 * given (it may hold a password).
 */
import type { PgHashStore, PgStoreOptions } from '../postgres/index.js';
import type { CliIo } from './command.js';

/** The schemes libpq takes for a connection URI. */
const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;

/**
 * `--db`'s help for a PostgreSQL database, shared by the commands that take one: lines to follow
 * the option's first one, each indented by `indent` spaces (the column of the option's text).
 */
export function postgresDbHelp(indent: number): string {
  return [
    'or a PostgreSQL database: postgresql://USER@HOST:PORT/DATABASE, what the',
    'URL leaves out from PGHOST, PGPORT, PGUSER, PGDATABASE (postgresql://',
    'alone: all of it), the password from PGPASSWORD or ~/.pgpass (never',
    'printed; one in the URL is visible to `ps`)',
  ]
    .map((line) => `${' '.repeat(indent)}${line}`)
    .join('\n');
}

/** True when `db` is a PostgreSQL URL rather than a SQLite file's path. */
export function isPostgresUrl(db: string): boolean {
  return POSTGRES_URL.test(db);
}

/** True when the URL carries a password (`user:password@`), which any user of the machine can read in `ps`. */
function holdsPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

/**
 * Connects to the PostgreSQL store `db` names, warning on standard error (without repeating it)
 * when the URL holds a password.
 */
export async function connectPostgres(db: string, options: PgStoreOptions, io: CliIo): Promise<PgHashStore> {
  if (holdsPassword(db))
    io.err(
      'warning: the password in --db is visible to every user of this machine (ps, /proc); give it in PGPASSWORD or ~/.pgpass\n',
    );
  const { PgHashStore } = await import('../postgres/index.js');
  return PgHashStore.connect(db, options);
}
