/**
 * Retroactive matching, published as `hashwarden/seen`: the record of what each checked upload
 * searched (`SeenStore`, a SQLite file of its own) and the rescan that searches entries lists gain
 * later against those records (docs/retroactive.md). better-sqlite3 is loaded on the first
 * `SeenStore.open`, by the list store's one loader, so importing this entry works without it.
 */
export { DEFAULT_RESCAN_BATCH, MAX_CONTENT_ID_LENGTH, SeenStore } from './store.js';
export type { RescanOptions, SeenRecord, SeenRecordOptions } from './store.js';
export type { RescanEvent } from './events.js';
export type { SearchedQuery } from '../matcher/searched.js';
