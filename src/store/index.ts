/**
 * The SQLite hash store, published as `hashwarden/sqlite`: named lists of entries in one file,
 * each list versioned per import with an audit row, so a deployment can tell which version of a
 * list a match came from. better-sqlite3 (a native build) is loaded on the first
 * `HashStore.open`, by driver.ts alone, so the core never needs it and importing this entry works
 * without it.
 */
export { HashStore } from './store.js';
export { MAX_CHECKPOINT_BYTES, STORE_SCHEMA_VERSION } from './types.js';
export type {
  DisableEntryOptions,
  EntryFilter,
  ImportFileOptions,
  ImportFileResult,
  HistoryMode,
  ImportMode,
  ImportOptions,
  ImportProgress,
  ImportRecord,
  ImportResult,
  ImportRow,
  ImportRowsOptions,
  ImportSummary,
  ListInfo,
  ListPolicy,
  ListPolicyChange,
  ListAction,
  QuarantinedEntry,
  StoreOptions,
} from './types.js';
