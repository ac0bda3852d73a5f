/**
 * The PostgreSQL stores, published as `hashwarden/postgres`: the SQLite list store's lists,
 * versions, history, policy and checkpoints (`PgHashStore`), and the seen store with its rescan
 * (`PgSeenStore`, as `hashwarden/seen`'s `SeenStore`), in a PostgreSQL database, for several
 * machines importing, recording and reading at once. `pg` and `pg-copy-streams` (optional peers)
 * are loaded on the first `connect`, by driver.ts alone, so importing this entry works without
 * them. Options and results are the SQLite stores' types. `Matcher.open(store)` (the core's) reads
 * a matcher's lists from a connected `PgHashStore`; `exportSnapshot` writes them to a snapshot.
 */
export { PgHashStore } from './store.js';
export { PgSeenStore } from './seen.js';
export { PG_SEEN_SCHEMA_VERSION } from './seen-schema.js';
export { PG_SCHEMA_VERSION } from './types.js';
export type { PgConnectTarget, PgSnapshotOptions, PgStoreOptions } from './types.js';
