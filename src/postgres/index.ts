/**
 * The PostgreSQL hash store, published as `hashwarden/postgres`: the SQLite store's lists,
 * versions, history, policy and checkpoints in a PostgreSQL database, for several machines
 * importing and reading at once. `pg` and `pg-copy-streams` (optional peers) are loaded on the
 * first `PgHashStore.connect`, by driver.ts alone, so importing this entry works without them.
 * Options and results are the SQLite store's types. `Matcher.open(store)` (the core's) reads a
 * matcher's lists from a connected store; `exportSnapshot` writes them to a snapshot.
 */
export { PgHashStore } from './store.js';
export { PG_SCHEMA_VERSION } from './types.js';
export type { PgConnectTarget, PgSnapshotOptions, PgStoreOptions } from './types.js';
