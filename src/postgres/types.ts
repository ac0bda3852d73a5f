/**
 * What `hashwarden/postgres` declares besides the class: the schema version, where to connect and
 * the options. Nothing here (nor in store.ts's public part) names a `pg` type, so the entry's
 * declarations need no `@types/pg`.
 */

/**
 * The schema version this release writes (1), kept as the comment of the `lists` table: a store
 * with another is refused rather than guessed at.
 *
 * @example
 * ```ts
 * console.log(`hashwarden PostgreSQL schema v${PG_SCHEMA_VERSION}`);
 * ```
 */
export const PG_SCHEMA_VERSION = 1;

/**
 * Where {@link PgHashStore.connect} connects: a connection string
 * (`postgresql://user:password@host:5432/db`), or an object with one, or with a `pg` pool of the
 * caller's (which `close()` leaves open). Without a connection string, `pg` reads the standard
 * `PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD` variables.
 *
 * @example
 * ```ts
 * const target: PgConnectTarget = { connectionString: process.env.DATABASE_URL };
 * ```
 */
export type PgConnectTarget = string | { readonly connectionString?: string; readonly pool?: unknown };

/**
 * Options of {@link PgHashStore.connect}.
 *
 * @example
 * ```ts
 * await PgHashStore.connect(url, { create: false }); // fail rather than create the tables
 * ```
 */
export interface PgStoreOptions {
  /** Create the tables when the database holds none of them. Default `true`. */
  readonly create?: boolean;
}
