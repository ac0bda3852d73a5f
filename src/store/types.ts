/**
 * What `hashwarden/sqlite` declares besides the class: the schema version, and the options and
 * results of {@link HashStore}'s methods. Nothing here (nor in store.ts's public part) names a
 * better-sqlite3 type, so the entry's declarations need no `@types/better-sqlite3`.
 */
import type { AlgorithmName } from '../algorithms/registry.js';
import type { DedupePolicy, RowProblem } from '../lists/formats.js';
import type { EntryAlgorithm, ListEntry } from '../lists/entry.js';
import type { ListStreamSummary, StreamListOptions } from '../lists/stream.js';

/**
 * The schema version this release writes (4), kept in `PRAGMA user_version`. A version 1 to 3 store
 * is upgraded when opened for writing (version 2 added the list policy and the import modes,
 * version 3 the sync checkpoints, version 4 entry quarantine) and read as it is when opened read-only, so a matcher keeps
 * working while its importer upgrades;
 * any other version is refused rather than guessed at. docs/lists.md has the schema.
 *
 * @example
 * ```ts
 * console.log(`hashwarden store schema v${STORE_SCHEMA_VERSION}`);
 * ```
 */
export const STORE_SCHEMA_VERSION = 4;

/**
 * Options of {@link HashStore.open}.
 *
 * @example
 * ```ts
 * HashStore.open('hashes.db', { create: false }); // fail rather than start an empty store
 * HashStore.open('shared.db', { mode: 0o640 }); // a new store its group may read
 * ```
 */
export interface StoreOptions {
  /** Open for reading only; writes throw `ERR_STORE`. Default `false`. */
  readonly readonly?: boolean;
  /**
   * Create the file and the schema when missing. Default `true`, or `false` when `readonly`
   * (a read-only store cannot be created, so `readonly` with `create: true` is a RangeError).
   */
  readonly create?: boolean;
  /**
   * File mode of the store when this open creates its file: an integer from 0 to 0o777, applied
   * as given (the umask does not narrow it); SQLite gives its `-wal` and `-shm` files the same.
   * Default `0o600`, owner only: the hashes of abuse material are themselves sensitive
   * (docs/security.md). `0o640` lets a group read it (a matcher running as another user). The
   * mode of an existing file is left as it is; a symbolic link to a missing file is followed, and
   * the file it names created with this mode.
   */
  readonly mode?: number;
}

/**
 * Options of {@link HashStore.importEntries} and {@link HashStore.importRows}.
 *
 * @example
 * ```ts
 * store.importEntries(parsed.entries, { source: 'https://example.org/lists/2024-06.csv', replace: ['ncmec'] });
 * ```
 */
export interface ImportOptions {
  /** Where the entries came from (a file path, a URL), recorded in the import history. Default: none. */
  readonly source?: string;
  /**
   * Lists whose contents the import replaces: afterwards each holds exactly the import's entries
   * for it, entries absent from the import removed, in the same transaction. Removal rows are
   * refused; rows of other lists are bad rows (refused, or skipped with `onError: 'skip'`).
   * Default: none (entries are added or updated, removal rows remove, nothing else changes).
   */
  readonly replace?: readonly string[];
  /**
   * Let an import leave a list that held entries empty: a replace with no entries for it, or
   * removal rows taking its last ones. Default `false`: such an import is refused whole
   * (`ERR_LIST_FORMAT`, nothing written), since an empty or truncated download, or a delta gone
   * wrong, would otherwise wipe the list and let everything it listed through.
   */
  readonly allowEmpty?: boolean;
  /**
   * A checkpoint written in the import's transaction (`key` → `value`, replacing the key's
   * previous value): a sync's rows and the place it resumes from are committed together, so a
   * crash loses neither and repeats nothing (src/exchanges/sync.ts). Read with
   * {@link HashStore.checkpoint}. `value` holds at most {@link MAX_CHECKPOINT_BYTES}. Default: none.
   */
  readonly checkpoint?: { readonly key: string; readonly value: string };
}

/**
 * Most UTF-8 bytes of one checkpoint's value: 64 KiB. A programme's checkpoint is a timestamp and a
 * paging link, a few hundred bytes; the bound keeps a crafted store from handing a sync a gigabyte.
 */
export const MAX_CHECKPOINT_BYTES = 64 * 1024;

/** Options of {@link HashStore.importRows}: those of an import, plus the bad-row policy. */
export interface ImportRowsOptions extends ImportOptions {
  /**
   * A (list, id) given twice in the rows, or a row of a list outside a replace: `fail` (default)
   * refuses the import, naming the line (and a repeat's first line); `skip` keeps the first of a
   * repeat, drops the row, and counts it in `skippedCount`.
   */
  readonly onError?: 'fail' | 'skip';
  /**
   * A row repeating an earlier add of the same list, algorithm and hash, neither with an id of its
   * own: `merge` (default) keeps the first and drops the repeat; `fail` makes it a repeated id as
   * above. See `DedupePolicy`.
   */
  readonly dedupe?: DedupePolicy;
}

/**
 * Options of {@link HashStore.importFile}: those of an import (`source` defaults to the path), of
 * the reader (`streamListFile`), and of the file import itself.
 *
 * @example
 * ```ts
 * const options: ImportFileOptions = { list: 'ncmec', replace: ['ncmec'], onProgress: (p) => bar.update(p.bytesRead) };
 * ```
 */
export interface ImportFileOptions extends ImportOptions, Omit<StreamListOptions, 'source' | 'batchSize'> {
  /**
   * Bad rows (as `streamListFile`), repeated ids (as `importRows`) and rows of a list the import
   * may not touch (see `multiList`): `fail` (default) refuses the import, `skip` imports the rest
   * and reports them.
   */
  readonly onError?: 'fail' | 'skip';
  /**
   * Let the file's rows name lists other than `list` (a `list` column or field): then `list` is
   * only the list of rows naming none, and the import adds to, removes from and creates any list
   * its rows name (with `replace`, only the replaced ones). Default `false`: the import touches
   * `list` alone, and a row naming another list is a bad row (`ERR_LIST_FORMAT` naming
   * `file:line` and both lists, or skipped with `onError: 'skip'`), so that one provider's file
   * can never empty, change or add to another's list.
   */
  readonly multiList?: boolean;
  /**
   * Read and check the file on a worker thread while this one writes the store. Default `true`;
   * a file under 2 MiB (about 30,000 rows), or one imported without the worker module beside this
   * one (an application bundled into one file), is read on this thread, as with `false`.
   */
  readonly thread?: boolean;
  /** Called after each batch of rows is written (every 1,000 rows). Default: none. */
  readonly onProgress?: (progress: ImportProgress) => void;
}

/**
 * How far {@link HashStore.importFile} is. When ids turn out not to be in order the file is read
 * a second time (see `ordered`), and `bytesRead` starts again from 0; problems are reported once.
 *
 * @example
 * ```ts
 * onProgress: ({ bytesRead, bytesTotal }) => bar.update(bytesRead / bytesTotal)
 * ```
 */
export interface ImportProgress {
  readonly bytesRead: number;
  readonly bytesTotal: number;
  /** Rows read so far, good and bad, in this reading of the file. */
  readonly rows: number;
  /** Bad rows skipped since the previous call (`onError: 'skip'`). */
  readonly problems: readonly RowProblem[];
}

/** What {@link HashStore.importFile} did: the import, what the file held, and how it was written. */
export interface ImportFileResult extends ImportResult {
  /** The reader's summary: format, rows, adds, removes, bad rows skipped. */
  readonly read: ListStreamSummary;
  /**
   * `true` when every list's ids were in ascending order, so rows were written straight into the
   * store; `false` when they were staged first to catch repeated ids (slower: docs/benchmark.md).
   */
  readonly ordered: boolean;
}

/** How an import treated its lists, recorded in the import history. */
export type ImportMode = 'merge' | 'replace';

/**
 * What a record of {@link HashStore.history} did: an import's mode, or `disable`/`enable` for an
 * entry quarantined or lifted by hand ({@link HashStore.disableEntry}), which names the entry.
 */
export type HistoryMode = ImportMode | 'disable' | 'enable';

/**
 * What one import did to one list.
 *
 * @example
 * ```ts
 * for (const s of store.importEntries(entries)) console.log(`${s.list} v${s.version}: ${s.added} added`);
 * ```
 */
export interface ImportSummary {
  readonly list: string;
  /** Entries whose (list, id) was new. */
  readonly added: number;
  /** Entries whose (list, id) existed with another algorithm, hash, label or metadata. */
  readonly updated: number;
  /** Entries identical to the stored ones. */
  readonly unchanged: number;
  /** Entries removed: by removal rows, or, in a replace, because the import did not hold them. */
  readonly removed: number;
  /** The list's version after the import (1 for a new list; every import adds 1). */
  readonly version: number;
  readonly mode: ImportMode;
}

/**
 * One import of one list, or one entry disabled or enabled, as {@link HashStore.history} gives it.
 * A `disable`/`enable` record counts nothing (its counts are 0) and names the entry.
 */
export interface ImportRecord extends Omit<ImportSummary, 'mode'> {
  readonly mode: HistoryMode;
  /** Where the entries came from, when the import said. */
  readonly source?: string;
  /** The entry a `disable` or `enable` record is about, with the disable's reason and end. */
  readonly entry?: { readonly id: string; readonly reason?: string; readonly until?: string };
  /** When, ISO 8601 UTC. */
  readonly at: string;
}

/** One row of an import: an entry to add (or update), or the (list, id) of one to remove. */
export type ImportRow =
  | { readonly op: 'add'; readonly entry: ListEntry; readonly line?: number }
  | { readonly op: 'remove'; readonly list: string; readonly id: string; readonly line?: number };

/** What {@link HashStore.importRows} did. */
export interface ImportResult {
  /** One per list, in order of first appearance (then the replaced lists the rows did not name). */
  readonly summaries: readonly ImportSummary[];
  /**
   * Rows the import itself skipped under `onError: 'skip'` (a repeated (list, id), a row of a list
   * the import may not touch), at most 1,000 of them, with their lines.
   */
  readonly skipped: readonly { readonly line: number; readonly message: string }[];
  readonly skippedCount: number;
}

/**
 * How a list is matched: its thresholds, what a match means, whether it is used.
 *
 * @example
 * ```ts
 * store.setListPolicy('internal-removals', { thresholds: { pdq: 24 }, label: 'review' });
 * ```
 */
export interface ListPolicy {
  /** Per-algorithm thresholds in bits; an algorithm not named uses its default. */
  readonly thresholds: Readonly<Partial<Record<AlgorithmName, number>>>;
  /** What a match on this list means to the caller (`block-and-report`, `review`…), if set. */
  readonly label?: string;
  /** Disabled lists are kept and updated but not matched (nor exported to snapshots). */
  readonly enabled: boolean;
  /**
   * What a match on this list does: `'block'` (absent: every list before version 4 of the store), or
   * `'allow'`: its entries are known-good images, and a match on one keeps block-list matches of the
   * same algorithm from blocking the upload (`ImageMatchResult.allowed`, docs/lists.md).
   */
  readonly action?: ListAction;
}

/** What a match on a list does: block the upload, or allow it over block-list matches of the same algorithm. */
export type ListAction = 'block' | 'allow';

/** Every {@link ListAction}, for checking one. */
export const LIST_ACTIONS: readonly ListAction[] = Object.freeze(['block', 'allow']);

/**
 * Changes to a list's policy: each field given replaces the stored one; a threshold or the label
 * set to `null` goes back to the default.
 */
export interface ListPolicyChange {
  readonly thresholds?: Readonly<Partial<Record<AlgorithmName, number | null>>>;
  readonly label?: string | null;
  readonly enabled?: boolean;
  /** `'allow'` makes the list an allow list, `'block'` a block list again. */
  readonly action?: ListAction;
}

/**
 * A list held in the store.
 *
 * @example
 * ```ts
 * const info = store.lists().find((l) => l.name === 'ncmec'); // { version: 3, counts: { md5: 120000 }, … }
 * ```
 */
export interface ListInfo extends ListPolicy {
  readonly name: string;
  readonly version: number;
  /** Entries per algorithm (algorithms without entries are absent). */
  readonly counts: Readonly<Partial<Record<EntryAlgorithm, number>>>;
  readonly total: number;
  /** When the last import touched the list, ISO 8601 UTC. */
  readonly updatedAt: string;
  /**
   * Entries of the list quarantined now ({@link HashStore.quarantined}): never matched. 0 in a store
   * read as it is from before quarantine; absent only where a list comes from elsewhere.
   */
  readonly quarantined?: number;
}

/**
 * An entry disabled by {@link HashStore.disableEntry}, as {@link HashStore.quarantined} gives it.
 *
 * @example
 * ```ts
 * for (const q of store.quarantined('ncmec')) console.log(q.id, q.reason, q.until ?? 'until lifted');
 * ```
 */
export interface QuarantinedEntry {
  readonly list: string;
  readonly id: string;
  readonly reason: string;
  /** When it was disabled, ISO 8601 UTC. */
  readonly since: string;
  /** When the quarantine ends by itself, ISO 8601 UTC; absent: until {@link HashStore.enableEntry}. */
  readonly until?: string;
}

/**
 * How {@link HashStore.disableEntry} disables an entry.
 *
 * @example
 * ```ts
 * store.disableEntry('vendor-x', '4242', { reason: 'matches a flag (ticket 881)', until: new Date('2027-01-01') });
 * ```
 */
export interface DisableEntryOptions {
  /** Why, for the history and whoever reads `hashwarden entry list` (required, non-empty). */
  readonly reason: string;
  /** When the quarantine ends by itself (a future date); absent: until enabled again. */
  readonly until?: Date;
}

/**
 * A list as the package's own loads read it: {@link ListInfo} without its counts, which cost a
 * pass over every entry. Internal.
 */
export type ListHeader = Omit<ListInfo, 'counts' | 'total'>;

/**
 * Which entries to read or count; both fields optional (default: all), combined with AND.
 *
 * @example
 * ```ts
 * store.count({ list: 'ncmec', algorithm: 'blockhash' });
 * ```
 */
export interface EntryFilter {
  /** Only this list. */
  readonly list?: string;
  /** Only this algorithm (`vpdq` for video entries). */
  readonly algorithm?: EntryAlgorithm;
}
