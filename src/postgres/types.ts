/**
 * What `hashwarden/postgres` declares besides the class: the schema version, where to connect and
 * the options. Nothing here (nor in store.ts's public part) names a `pg` type, so the entry's
 * declarations need no `@types/pg`.
 */
import type { KeyObject } from 'node:crypto';
import type { SearchTierOptions } from '../search/tier.js';

/**
 * The schema version this release writes (2: version 1 and each list's action and entry
 * quarantine), kept as the comment of the `lists` table. A version 1 store is upgraded when a
 * writer connects, and read as it is read-only; a store with another version is refused rather
 * than guessed at.
 *
 * @example
 * ```ts
 * console.log(`hashwarden PostgreSQL schema v${PG_SCHEMA_VERSION}`);
 * ```
 */
export const PG_SCHEMA_VERSION = 2;

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
  /** Create the tables when the database holds none of them. Default `true` (`false` when `readonly`). */
  readonly create?: boolean;
  /**
   * Read only: every transaction of the store's own pool is read only (the server refuses a
   * write), and an import or a policy change is refused with `ERR_STORE` before it reaches the
   * server. For matchers and exporters, which have no business writing. Default `false`.
   */
  readonly readonly?: boolean;
}

/**
 * Options of {@link PgHashStore.exportSnapshot}: what `writeSnapshot` takes besides the lists and
 * entries, which come from the store.
 *
 * @example
 * ```ts
 * await store.exportSnapshot('lists.snap', { lists: ['ncmec'], sign: { privateKey: pem }, mode: 0o640 });
 * ```
 */
export interface PgSnapshotOptions {
  /** The lists to export (enabled or not; a name the store does not hold is `ERR_STORE`). Default: every enabled list. */
  readonly lists?: readonly string[];
  /** The perceptual index to store, as `writeSnapshot`'s. Default: automatic, by list size. */
  readonly search?: SearchTierOptions;
  /** The file's permission bits, as `writeSnapshot`'s: default those of the file replaced, or `0o600`. */
  readonly mode?: number;
  /** The snapshot's sequence, as `writeSnapshot`'s. Default: the time of writing in milliseconds. */
  readonly sequence?: number;
  /** Signs the snapshot with this Ed25519 private key (KeyObject or PEM). */
  readonly sign?: { readonly privateKey: KeyObject | string };
  /**
   * Write the snapshot even when the lists chosen hold no entry. Default `false`: refused with
   * `ERR_NO_ENTRIES`, since a matcher loading an empty snapshot passes every upload.
   */
  readonly allowEmpty?: boolean;
}
