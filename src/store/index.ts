/**
 * The SQLite hash store, published as `hashwarden/sqlite`: named lists of entries in one file,
 * each list versioned per import with an audit row, so a deployment can tell which version of a
 * list a match came from. This is the only module that loads better-sqlite3 (a native build), so
 * the core never needs it.
 */
import { closeSync, openSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { ALGORITHM_NAMES, checkThresholds, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError, isHashwardenError, type ErrorCode } from '../errors.js';
import { boolean, invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import type { RowProblem } from '../lists/formats.js';
import { MAX_FIELD_LENGTH, normalEntry, type EntryMetadata, type ListEntry } from '../lists/entry.js';
import { metadataJson, PACKED_FIELDS, packedFields, type PackedBatch } from '../lists/packed.js';
import { readPacked } from '../lists/packed-reader.js';
import type { ListStreamSummary, StreamListOptions } from '../lists/stream.js';

/**
 * The schema version this module writes (2), kept in `PRAGMA user_version`. A version 1 store is
 * upgraded when opened for writing (the list policy and the import modes are new columns) and
 * read as it is when opened read-only, so a matcher keeps working while its importer upgrades;
 * any other version is refused rather than guessed at. docs/lists.md has the schema.
 *
 * @example
 * ```ts
 * console.log(`hashwarden store schema v${STORE_SCHEMA_VERSION}`);
 * ```
 */
export const STORE_SCHEMA_VERSION = 2;

const REQUIRED_TABLES = ['lists', 'entries', 'imports'] as const;

const SCHEMA = `
CREATE TABLE lists (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  created_at TEXT,
  updated_at TEXT,
  label TEXT,
  thresholds TEXT,
  enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE entries (
  list TEXT NOT NULL REFERENCES lists(name),
  id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  hash BLOB NOT NULL,
  label TEXT,
  metadata TEXT,
  PRIMARY KEY (list, id)
) WITHOUT ROWID;
CREATE TABLE imports (
  seq INTEGER PRIMARY KEY,
  list TEXT,
  version INTEGER,
  source TEXT,
  added INTEGER,
  updated INTEGER,
  unchanged INTEGER,
  at TEXT,
  removed INTEGER NOT NULL DEFAULT 0,
  mode TEXT
);
PRAGMA user_version = ${STORE_SCHEMA_VERSION};
`;

/**
 * From version 1: the list policy and what each import did (removals, its mode); and no index on
 * the algorithm, which cost a third of an import's time (300,000 rows: 2.6 s with it, 1.7 s
 * without) to speed up only reads of one algorithm across all lists, which nothing frequent does.
 */
const UPGRADE_FROM_1 = `
DROP INDEX IF EXISTS entries_algorithm;
ALTER TABLE lists ADD COLUMN label TEXT;
ALTER TABLE lists ADD COLUMN thresholds TEXT;
ALTER TABLE lists ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE imports ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN mode TEXT;
PRAGMA user_version = 2;
`;

/**
 * Where an import stages its rows before applying them in one go: one temporary table per
 * connection, keyed like `entries`, so a row repeated in one file is caught by the key, with no
 * map of every id in memory. `op` is 0 to add, 1 to remove; `seq` is the row's place in
 * `arrivals`, when it came through there.
 *
 * `arrivals` takes the rows of `importFile` in file order (a rowid table: each insert an append),
 * and they are moved into `staged` in one statement sorted by key. Rows in random order inserted
 * into `staged` itself land all over its B-tree, which outgrows SQLite's page cache: 1M shuffled
 * rows took 9.9 s to stage, against 1.0 s to append them and 1.8 s to sort them into `staged`
 * (scratch runs of the two ways, the same rows).
 */
const STAGED_ROW = 'list TEXT NOT NULL, id TEXT NOT NULL, op INTEGER NOT NULL, algorithm TEXT, hash TEXT, label TEXT, metadata TEXT, line INTEGER';
const STAGING = `
CREATE TEMP TABLE IF NOT EXISTS staged (${STAGED_ROW}, seq INTEGER, PRIMARY KEY (list, id)) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS arrivals (${STAGED_ROW});
DELETE FROM temp.staged;
DELETE FROM temp.arrivals;
`;

/** Longest store path or import source accepted (Linux's PATH_MAX). */
const MAX_PATH_LENGTH = 4096;

/**
 * Options of {@link HashStore.open}.
 *
 * @example
 * ```ts
 * HashStore.open('hashes.db', { create: false }); // fail rather than start an empty store
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
   * for it, entries absent from the import removed, in the same transaction. Rows of other lists
   * and removal rows are refused. Default: none (entries are added or updated, removal rows
   * remove, nothing else changes).
   */
  readonly replace?: readonly string[];
  /**
   * Let a replace leave a list empty. Default `false`: a replace with no entries for a list is
   * refused (`ERR_LIST_FORMAT`), since an empty or truncated download would otherwise wipe it.
   */
  readonly allowEmpty?: boolean;
}

/** Options of {@link HashStore.importRows}: those of an import, plus the bad-row policy for repeated ids. */
export interface ImportRowsOptions extends ImportOptions {
  /**
   * A (list, id) given twice in the rows: `fail` (default) refuses the import, naming both lines;
   * `skip` keeps the first and counts the repeat in `skippedCount`.
   */
  readonly onError?: 'fail' | 'skip';
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
   * Bad rows (as `streamListFile`) and repeated ids (as `importRows`): `fail` (default) refuses
   * the import, `skip` imports the rest and reports them.
   */
  readonly onError?: 'fail' | 'skip';
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

/** One import of one list, as {@link HashStore.history} gives it. */
export interface ImportRecord extends ImportSummary {
  /** Where the entries came from, when the import said. */
  readonly source?: string;
  /** When, ISO 8601 UTC. */
  readonly at: string;
}

interface ImportRecordRow {
  readonly list: string;
  readonly version: number;
  readonly source: string | null;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly removed: number;
  readonly mode: ImportMode;
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
  /** Repeated (list, id) rows skipped under `onError: 'skip'`, at most 1,000 of them, with their lines. */
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
}

/**
 * Changes to a list's policy: each field given replaces the stored one; a threshold or the label
 * set to `null` goes back to the default.
 */
export interface ListPolicyChange {
  readonly thresholds?: Readonly<Partial<Record<AlgorithmName, number | null>>>;
  readonly label?: string | null;
  readonly enabled?: boolean;
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
  readonly counts: Readonly<Partial<Record<AlgorithmName, number>>>;
  readonly total: number;
  /** When the last import touched the list, ISO 8601 UTC. */
  readonly updatedAt: string;
}

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
  /** Only this algorithm. */
  readonly algorithm?: AlgorithmName;
}

interface ResolvedStoreOptions {
  readonly readonly: boolean;
  readonly create: boolean;
}

interface EntryRow {
  readonly list: string;
  readonly id: string;
  readonly algorithm: string;
  readonly hash: Buffer;
  readonly label: string | null;
  readonly metadata: string | null;
}

interface ListRowData {
  readonly name: string;
  readonly version: number;
  readonly updated_at: string | null;
  readonly label: string | null;
  readonly thresholds: string | null;
  readonly enabled: number;
}

/** Most repeated rows an import keeps the lines of under `onError: 'skip'` (the count is exact). */
const MAX_SKIPPED = 1000;

/**
 * Creates a store's file, empty, readable and writable by its owner only (0600, whatever the
 * umask allows of it), before SQLite opens it: the hashes of abuse material are themselves
 * sensitive (docs/security.md), and SQLite gives its `-wal` and `-shm` files the permissions of
 * the database file. An existing file is left as it is; any other failure is SQLite's to report.
 */
function createOwnerOnly(path: string): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch {
    // Exists already, or cannot be created: SQLite opens it or says why.
  }
}

/** Any failure from better-sqlite3 becomes `ERR_STORE` naming the file; our own errors pass through. */
function storeError(path: string, error: unknown): HashwardenError {
  if (isHashwardenError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof (error as { code?: unknown } | null)?.code === 'string' ? ` (${(error as { code: string }).code})` : '';
  return new HashwardenError('ERR_STORE', `SQLite store ${path}: ${message}${code}`, { cause: error });
}

function notAStore(path: string, why: string): HashwardenError {
  return new HashwardenError('ERR_STORE', `SQLite store ${path}: not a hashwarden store (${why})`);
}

function inspect(db: Database.Database): { version: number; tables: string[] } {
  return {
    version: db.pragma('user_version', { simple: true }) as number,
    tables: db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[],
  };
}

/**
 * Checks the schema, creating it in an empty database when allowed and upgrading a version 1
 * store opened for writing; returns the version the store has now.
 */
function prepareSchema(db: Database.Database, path: string, options: ResolvedStoreOptions): number {
  let { version, tables } = inspect(db);
  if (version === 0 && tables.length === 0) {
    if (!options.create) throw notAStore(path, 'the database is empty');
    // IMMEDIATE, and look again inside: another process may be creating the same store.
    db.transaction(() => {
      if (inspect(db).tables.length === 0) db.exec(SCHEMA);
    }).immediate();
    ({ version, tables } = inspect(db));
  }
  if (version === 0) throw notAStore(path, `it has tables ${tables.join(', ')} but no hashwarden schema version`);
  if (version === 1 && !options.readonly) {
    db.transaction(() => {
      if (inspect(db).version === 1) db.exec(UPGRADE_FROM_1);
    }).immediate();
    ({ version, tables } = inspect(db));
  }
  // Read-only, a version 1 store is read as it is: its lists have the default policy.
  if (version !== STORE_SCHEMA_VERSION && !(version === 1 && options.readonly)) {
    const why = version > STORE_SCHEMA_VERSION ? 'newer than this hashwarden supports; upgrade hashwarden' : 'unknown';
    throw new HashwardenError('ERR_STORE', `SQLite store ${path}: schema version ${version} is ${why} (this hashwarden reads version ${STORE_SCHEMA_VERSION})`);
  }
  const missing = REQUIRED_TABLES.filter((table) => !tables.includes(table));
  if (missing.length > 0) throw notAStore(path, `tables missing: ${missing.join(', ')}`);
  return version;
}

const ENTRY_COLUMNS = 'list, id, algorithm, hash, label, metadata';
/** The update of an upsert, skipped when nothing changed: the row and its pages stay as they are. */
const UPSERT_SET = `algorithm = excluded.algorithm, hash = excluded.hash, label = excluded.label, metadata = excluded.metadata
WHERE NOT (entries.algorithm IS excluded.algorithm AND entries.hash IS excluded.hash AND entries.label IS excluded.label AND entries.metadata IS excluded.metadata)`;
// Index: bit 0 = list filter, bit 1 = algorithm filter. ORDER BY list, id costs no sort: it is the
// primary key order (a filter on the algorithm alone scans the table in that order).
const FILTERS = ['', ' WHERE list = ?', ' WHERE algorithm = ?', ' WHERE list = ? AND algorithm = ?'] as const;

const STAGED_COLUMNS = 'list, id, op, algorithm, hash, label, metadata, line';
/**
 * Rows per batch read by `importFile`. Small batches keep little alive in the reader: its young
 * generation is collected at the cost of what survives, and a batch being built survives. 1M-row
 * fresh imports, 5 runs each alternating: 10,000 rows → 2.92 s median (4.89 s of CPU), 2,000 →
 * 2.78 s (4.53 s), 1,000 → 2.59 s (4.02 s); the reader thread's GC 610–823 ms → 132–164 ms.
 */
const IMPORT_BATCH_ROWS = 1000;

/**
 * Files smaller than this are read on the calling thread: starting the reader thread costs about
 * 40 ms, which a small file does not win back. `importFile` of the bench's rows into a new store,
 * built package, 3 runs each, on this thread against the reader thread: 10k rows (0.7 MB) 65–77
 * against 114–132 ms; 30k (2.2 MB) 127–171 against 151–169 ms; 50k (3.7 MB) 191–241 against
 * 162–203 ms; 100k 318–347 against 246–283 ms.
 */
const THREAD_MIN_BYTES = 2 * 1024 * 1024;

/** Rows per multi-row insert (staging, and the ordered import): one call into SQLite for 128 rows. */
const STAGE_CHUNK = 128;
const CHUNK_VALUES = Array.from({ length: STAGE_CHUNK }, () => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ');

/** Entries of a list the staged rows do not hold: what a replace removes. */
const COUNT_OUTSIDE = 'SELECT count(*) FROM entries AS e WHERE e.list = ? AND NOT EXISTS (SELECT 1 FROM temp.staged AS s WHERE s.list = e.list AND s.id = e.id)';
// Hashes are staged as the reader's lower-case hex and turned into bytes here, in SQLite: a
// Buffer per row made in JavaScript cost more. `WHERE` before `ON CONFLICT` is required: without
// it SQLite would read ON as a join constraint. An unchanged row is not written (no WAL page).
const UPSERT_STAGED = `
INSERT INTO entries (${ENTRY_COLUMNS}) SELECT list, id, algorithm, unhex(hash), label, metadata FROM temp.staged WHERE list = ? AND op = 0
ON CONFLICT (list, id) DO UPDATE SET ${UPSERT_SET}`;
const REMOVE_STAGED = 'DELETE FROM entries WHERE (list, id) IN (SELECT list, id FROM temp.staged WHERE list = ? AND op = 1)';
/** Rows a list's import adds or updates (a walk of the staging key's prefix). */
const STAGED_ADDS = 'SELECT count(*) FROM temp.staged WHERE list = ? AND op = 0';
const REMOVE_OUTSIDE = 'DELETE FROM entries WHERE list = ? AND NOT EXISTS (SELECT 1 FROM temp.staged AS s WHERE s.list = entries.list AND s.id = entries.id)';
/** The arrivals sorted into `staged`: of rows repeating a (list, id), the first stays. */
const SETTLE_ARRIVALS = `INSERT OR IGNORE INTO temp.staged (${STAGED_COLUMNS}, seq) SELECT ${STAGED_COLUMNS}, rowid FROM temp.arrivals ORDER BY list, id, rowid`;
/** The arrivals that repeat an earlier row's (list, id), in file order, with the first's line. */
const REPEATED_ARRIVALS = `SELECT a.list, a.id, a.line, s.line AS first FROM temp.arrivals AS a JOIN temp.staged AS s ON s.list = a.list AND s.id = a.id WHERE s.seq <> a.rowid ORDER BY a.rowid LIMIT ?`;

interface Staging {
  readonly add: Database.Statement<StagedParameters>;
  readonly addChunk: Database.Statement<[StagedValue[]]>;
  /** For `importEntries`, where a repeated (list, id) keeps the last one. */
  readonly replaceAdd: Database.Statement<StagedParameters>;
  readonly replaceAddChunk: Database.Statement<[StagedValue[]]>;
  readonly line: Database.Statement<[string, string], number | null>;
  readonly outside: Database.Statement<[string], number>;
  readonly upsert: Database.Statement<[string]>;
  readonly remove: Database.Statement<[string]>;
  readonly stagedAdds: Database.Statement<[string], number>;
  readonly removeOutside: Database.Statement<[string]>;
  readonly clear: Database.Statement<[]>;
  readonly arrive: Database.Statement<StagedParameters>;
  readonly arriveChunk: Database.Statement<[StagedValue[]]>;
  readonly settle: Database.Statement<[]>;
  readonly repeated: Database.Statement<[number], { list: string; id: string; line: number | null; first: number | null }>;
}

type StagedValue = string | number | null;
type StagedParameters = [list: string, id: string, op: number, algorithm: string | null, hash: string | null, label: string | null, metadata: string | null, line: number | null];

function addParameters(entry: ListEntry, line: number | null): StagedParameters {
  // The entry is normal (normalEntry): its hash is lower-case hex of the algorithm's length.
  return [entry.list, entry.id, 0, entry.algorithm, entry.hash, entry.label ?? null, entry.metadata === undefined ? null : metadataJson(entry.metadata), line];
}

/** `normalEntry`, its errors prefixed with where the row is (`source:line`). */
function normalizeEntryAt(input: ListEntry, at: () => string): ListEntry {
  try {
    return normalEntry(input);
  } catch (error) {
    const code = isHashwardenError(error) ? error.code : 'ERR_LIST_FORMAT';
    throw new HashwardenError(code, `${at()}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Stages rows 128 to an insert. A chunk whose insert hits a (list, id) already staged is staged
 * again row by row, so that `duplicate` hears of exactly the repeated rows (a failed statement
 * inserts none of its rows).
 */
class Stager {
  readonly #params: StagedValue[] = [];
  #rows = 0;
  /** Rows added in all. */
  rows = 0;

  constructor(
    readonly single: Database.Statement<StagedParameters>,
    readonly chunk: Database.Statement<[StagedValue[]]>,
    readonly duplicate: (row: StagedParameters) => void,
  ) {}

  add(row: StagedParameters): void {
    this.rows++;
    for (const value of row) this.#params.push(value);
    if (++this.#rows === STAGE_CHUNK) this.flush();
  }

  flush(): void {
    if (this.#rows === STAGE_CHUNK) {
      try {
        this.chunk.run(this.#params); // an array binds as the statement's parameters, without a spread
        this.#clear();
        return;
      } catch (error) {
        if (!isDuplicate(error)) throw error;
      }
    }
    for (let r = 0; r < this.#rows; r++) {
      const row = this.#params.slice(r * 8, r * 8 + 8) as StagedParameters;
      try {
        this.single.run(...row);
      } catch (error) {
        if (!isDuplicate(error)) throw error;
        this.duplicate(row);
      }
    }
    this.#clear();
  }

  #clear(): void {
    this.#params.length = 0;
    this.#rows = 0;
  }
}

/**
 * Hands each value of `iterator` to `each` until it ends; returns what it returned. An error from
 * the iterator itself is marked with `rowsFailed` (it passes through the rollback unchanged); the
 * iterator is closed if the loop is left early.
 */
async function drain<B, R>(iterator: AsyncIterator<B, R> | Iterator<B, R>, rowsFailed: (error: unknown) => void, each: (value: B) => void): Promise<R> {
  let done = false;
  try {
    for (;;) {
      let step: IteratorResult<B, R>;
      try {
        step = await iterator.next();
      } catch (error) {
        rowsFailed(error);
        throw error;
      }
      if (step.done === true) {
        done = true;
        return step.value;
      }
      each(step.value);
    }
  } finally {
    if (!done) await iterator.return?.();
  }
}

/** What a staged import's batches are added with. */
interface StageContext {
  readonly stager: Stager;
  readonly order: ListOrder;
  /** `source:line`, or the source alone without a line. */
  where(line: number | null | undefined): string;
  /** Stages a removal row (refused in a replace). */
  remove(list: string, id: string, line: number | null, at: () => string): void;
}

/** One packed row as the values of an entry: hex hash to bytes, an absent ('') label or metadata to NULL. */
const PACKED_VALUES = "(?, ?, ?, unhex(?), nullif(?, ''), nullif(?, ''))";
/**
 * A row of a chunk without labels or metadata (`PackedBatch.bare`): id, algorithm and hex hash,
 * the list bound once for the chunk. Binding a value costs better-sqlite3 more than SQLite's insert
 * of it (100k rows under callgrind: binding 56% of the insert's instructions); this binds half as
 * many (1.76 → 1.16 G instructions the 100k rows).
 */
const BARE_VALUES = '(@list, ?, ?, unhex(?), NULL, NULL)';
/** Values per row of a bare chunk. */
const BARE_FIELDS = 3;

interface OrderedStatements {
  /** `STAGE_CHUNK` packed rows (list, id, algorithm, hex hash, label, metadata) upserted. */
  readonly upsertChunk: Database.Statement<[StagedValue[]]>;
  readonly upsertOne: Database.Statement<[StagedValue[]]>;
  /** The same as plain inserts, for a list that was empty. */
  readonly insertChunk: Database.Statement<[StagedValue[]]>;
  readonly insertOne: Database.Statement<[StagedValue[]]>;
  /** `STAGE_CHUNK` bare rows (id, algorithm, hex hash) of the list `@list`, upserted or inserted. */
  readonly bareUpsertChunk: Database.Statement<[StagedValue[], { list: string }]>;
  readonly bareInsertChunk: Database.Statement<[StagedValue[], { list: string }]>;
  readonly removeOne: Database.Statement<[string, string]>;
  /** The entries of a list (the store's count statement). */
  readonly size: (list: string) => number;
  /** In a replace: deletes the entries of a list (1st value) with 2nd < id <= 3rd other than the n ids that follow. */
  readonly gap: (n: number) => Database.Statement<[StagedValue[]]>;
  /** In a replace: how many entries of a list lie in (2nd, 3rd]. */
  readonly range: Database.Statement<[string, string, string], number>;
  /** In a replace: the entries after the last id. */
  readonly after: Database.Statement<[string, string]>;
  readonly all: Database.Statement<[string]>;
}

/** One list's part in an ordered import, with its rows waiting for a full chunk. */
interface ListWrite {
  readonly name: string;
  /** Entries before the import (0 for a new or empty list: then nothing is counted again). */
  readonly before: number;
  /** In a replace of this list (each chunk then deletes the stored ids between its own). */
  readonly replaced: boolean;
  /** Rows adding or updating an entry, and how many of them changed one. */
  adds: number;
  changes: number;
  removed: number;
  /** The last id written (in a replace, everything between it and the next is removed). */
  last: string | undefined;
  /**
   * The waiting rows' values and their count: `PACKED_FIELDS` a row (label and metadata '' when
   * absent), or `BARE_FIELDS` when `bare` (rows of bare batches, which start with the id).
   */
  params: StagedValue[];
  rows: number;
  bare: boolean;
}

/**
 * Writes rows whose ids ascend per list (`PackedBatch.unordered` unset) straight into `entries`,
 * 128 rows of one list to an upsert, counting what each list gained and lost. Each list has its
 * own chunk waiting, so a file whose lists' rows alternate still writes full chunks (1M rows of two
 * lists alternating row by row: 3.56 s with one chunk for all, flushed at each change of list).
 * In a replace, each chunk then deletes the list's entries between the previous chunk's last id
 * and its own last that it does not hold, and `finish` deletes those after the last id: the list
 * ends up holding exactly the file's entries, as with staging, without a table of every id.
 */
class OrderedWriter {
  readonly versions = new Map<string, number>();
  readonly #lists = new Map<string, ListWrite>();
  readonly #order: ListOrder;
  /** The list of the previous row: most files hold one list, or long runs of each. */
  #current: ListWrite | undefined;

  constructor(
    readonly statements: OrderedStatements,
    readonly resolved: ResolvedImport,
    readonly bump: (list: string) => number,
    readonly source: string,
  ) {
    this.#order = new ListOrder(resolved);
  }

  write(batch: PackedBatch): void {
    const fields = packedFields(batch);
    const { count, ops } = batch;
    const replacing = this.resolved.replace.size > 0;
    for (let r = 0; r < count; ) {
      const name = fields[r * PACKED_FIELDS] as string;
      const list = this.#current?.name === name ? this.#current : this.#list(name, batch.lines[r] as number);
      this.#current = list;
      if (ops[r] === 1) {
        if (replacing) throw removalInReplace(`${this.source}:${batch.lines[r] as number}`);
        this.#flush(list);
        list.removed += this.statements.removeOne.run(name, fields[r * PACKED_FIELDS + 1] as string).changes;
        r++;
        continue;
      }
      if (list.rows > 0 && list.bare !== batch.bare) this.#flush(list);
      // The run of adds to this list that fits in its chunk: their fields are the upsert's values
      // as they are, or, bare, their id, algorithm and hash.
      let end = r + 1;
      const room = STAGE_CHUNK - list.rows;
      while (end < count && end - r < room && ops[end] === 0 && fields[end * PACKED_FIELDS] === name) end++;
      list.bare = batch.bare;
      if (batch.bare) {
        const params = list.params;
        for (let f = r * PACKED_FIELDS + 1; f < end * PACKED_FIELDS; f += PACKED_FIELDS) params.push(fields[f] as string, fields[f + 1] as string, fields[f + 2] as string);
      } else {
        const values = fields.slice(r * PACKED_FIELDS, end * PACKED_FIELDS);
        if (list.rows === 0) list.params = values;
        else for (const value of values) list.params.push(value);
      }
      list.adds += end - r;
      list.rows += end - r;
      if (list.rows === STAGE_CHUNK) this.#flush(list);
      r = end;
    }
  }

  /** Writes a list's rows waiting for a full chunk. */
  #flush(list: ListWrite): void {
    const n = list.rows;
    if (n === 0) return;
    // Into a list empty before the import every row is new (its ids ascend, so none repeats): a
    // plain insert, without the upsert's conflict handling (1M rows: 1.66-2.22 s against
    // 1.72-2.73 s of SQLite, scratch runs alternating).
    const empty = list.before === 0;
    const { statements } = this;
    const params = list.params;
    const [width, idAt] = list.bare ? [BARE_FIELDS, 0] : [PACKED_FIELDS, 1];
    if (n === STAGE_CHUNK) {
      if (list.bare) list.changes += (empty ? statements.bareInsertChunk : statements.bareUpsertChunk).run(params, { list: list.name }).changes;
      else list.changes += (empty ? statements.insertChunk : statements.upsertChunk).run(params).changes;
    } else {
      const one = empty ? statements.insertOne : statements.upsertOne;
      for (let r = 0; r < n; r++) {
        const row = params.slice(r * width, (r + 1) * width);
        list.changes += one.run(list.bare ? [list.name, ...row, '', ''] : row).changes;
      }
    }
    const last = params[(n - 1) * width + idAt] as string;
    // In a replace, the stored ids between the previous chunk's last and this one's that the file
    // does not hold go. The chunk's own are all stored now, so a count of the range says whether
    // there are any others, cheaper than the delete (which builds a table of the chunk's ids) when
    // there are none, as in the daily full list that changed little.
    if (list.replaced && (statements.range.get(list.name, list.last ?? '', last) ?? 0) > n) {
      const ids = Array.from({ length: n }, (_, r) => params[r * width + idAt] as string);
      list.removed += statements.gap(n).run([list.name, list.last ?? '', last, ...ids]).changes;
    }
    list.last = last;
    list.params = [];
    list.rows = 0;
  }

  /** Ends the import: every list's waiting rows, a replace's last deletions, then each list's counts, in order of first appearance. */
  finish(): Tally[] {
    for (const list of this.#lists.values()) this.#flush(list);
    for (const name of this.resolved.replace) {
      const known = this.#lists.get(name);
      if ((known?.adds ?? 0) === 0 && !this.resolved.allowEmpty) throw emptiedList(this.resolved, name, this.statements.size(name));
      const list = known ?? this.#list(name, undefined);
      list.removed += list.last === undefined ? this.statements.all.run(name).changes : this.statements.after.run(name, list.last).changes;
    }
    return [...this.#lists.values()].map((list) => {
      // In an empty list every row is new; else the list's size before and after tells new from updated.
      const added = list.before === 0 ? list.changes : this.statements.size(list.name) - list.before + list.removed;
      return { list: list.name, added, updated: list.changes - added, unchanged: list.adds - list.changes, removed: list.removed };
    });
  }

  /** A list met for the first time: refused if a replace does not cover it, else created or its version bumped. */
  #list(name: string, line: number | undefined): ListWrite {
    let list = this.#lists.get(name);
    if (list === undefined) {
      this.#order.see(name, () => (line === undefined ? this.source : `${this.source}:${line}`));
      this.versions.set(name, this.bump(name));
      const before = this.statements.size(name);
      list = { name, before, replaced: this.resolved.replace.has(name), adds: 0, changes: 0, removed: 0, last: undefined, params: [], rows: 0, bare: false };
      this.#lists.set(name, list);
    }
    return list;
  }
}

function isDuplicate(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

interface ResolvedImport {
  readonly source: string | null;
  readonly replace: ReadonlySet<string>;
  readonly allowEmpty: boolean;
}

function resolveImport(options: ImportOptions | undefined): ResolvedImport {
  const o = optionsObject(options, 'options');
  const replace = new Set<string>();
  if (o.replace !== undefined) {
    if (!Array.isArray(o.replace)) invalid('array of list names', 'replace', o.replace);
    for (const name of o.replace as unknown[]) replace.add(nonEmptyString(name, 'replace[]', MAX_FIELD_LENGTH).trim());
  }
  return Object.freeze({
    source: o.source === undefined ? null : nonEmptyString(o.source, 'source', MAX_PATH_LENGTH),
    replace,
    allowEmpty: o.allowEmpty === undefined ? false : boolean(o.allowEmpty, 'allowEmpty'),
  });
}

/** What one import did to one list, before its version is known. */
interface Tally {
  readonly list: string;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly removed: number;
}

/** A removal row in a replace, refused: a replace holds the whole list. */
function removalInReplace(at: string): HashwardenError {
  return new HashwardenError('ERR_LIST_FORMAT', `${at}: a removal row in a replace (a replace holds the whole list; import removals without --replace)`);
}

/** A replace holding no entries for `list`: refused unless allowed, since a truncated download must not wipe a list. */
function emptiedList(resolved: ResolvedImport, list: string, entries: number): HashwardenError {
  return new HashwardenError('ERR_LIST_FORMAT', `${resolved.source ?? 'the import'}: no entries for list ${JSON.stringify(list)}, which a replace would empty (${entries} entries); allow it explicitly (allowEmpty, --allow-empty)`);
}

/** The lists an import names, in order of first appearance; in a replace, only the replaced ones. */
class ListOrder {
  readonly lists: string[] = [];
  readonly #seen = new Set<string>();

  constructor(readonly options: ResolvedImport) {}

  see(list: string, where: () => string): void {
    if (this.#seen.has(list)) return;
    if (this.options.replace.size > 0 && !this.options.replace.has(list)) {
      throw new HashwardenError('ERR_LIST_FORMAT', `${where()}: an entry of list ${JSON.stringify(list)} in a replace of ${[...this.options.replace].map((n) => JSON.stringify(n)).join(', ')}`);
    }
    this.#seen.add(list);
    this.lists.push(list);
  }

  has(list: string): boolean {
    return this.#seen.has(list);
  }
}

/** As {@link checkThresholds}, where `null` (back to the default) is allowed too. */
function checkThresholdChange(thresholds: Readonly<Partial<Record<AlgorithmName, number | null>>>): Partial<Record<AlgorithmName, number | null>> {
  if (thresholds === null || typeof thresholds !== 'object' || Array.isArray(thresholds)) invalid('object of thresholds by algorithm', 'thresholds', thresholds);
  const out: Partial<Record<AlgorithmName, number | null>> = {};
  for (const [key, value] of Object.entries(thresholds)) {
    const name = getAlgorithm(key).name;
    out[name] = value === null ? null : (checkThresholds({ [name]: value }, 'thresholds')[name] as number);
  }
  return out;
}

/**
 * A hash store in one SQLite file. Entries are kept per (list, id); each import is one
 * transaction that bumps the version of every list it touches and records what it did.
 * Not safe to share one instance between threads; several processes may open the same file
 * (SQLite's WAL mode lets readers run during an import).
 *
 * @example
 * ```ts
 * import { HashStore } from 'hashwarden/sqlite';
 * const store = HashStore.open('hashes.db');
 * try {
 *   const [summary] = store.importEntries((await readListFile('ncmec.csv', { list: 'ncmec' })).entries, { source: 'ncmec.csv' });
 *   for (const entry of store.entries({ list: 'ncmec', algorithm: 'md5' })) index.add(entry);
 * } finally {
 *   store.close();
 * }
 * ```
 */
export class HashStore {
  /** The path the store was opened with. */
  readonly path: string;
  readonly #db: Database.Database;
  readonly #readonly: boolean;
  /** The schema version opened (1 only read-only: a writable open upgrades). */
  readonly #version: number;
  readonly #selectList: Database.Statement<[string], { version: number }>;
  readonly #insertList: Database.Statement<[string, string, string]>;
  readonly #bumpList: Database.Statement<[number, string, string]>;
  /** Made on the first import: a version 1 store read as it is has no such columns. */
  #insertImport: Database.Statement<[string, number, string | null, number, number, number, number, string, string]> | undefined;
  readonly #listRows: Database.Statement<[], ListRowData>;
  readonly #listCounts: Database.Statement<[], { list: string; algorithm: string; n: number }>;
  readonly #iterate: readonly Database.Statement<string[], EntryRow>[];
  readonly #count: readonly Database.Statement<string[], number>[];
  /** The staging statements, made on the first import (they need the temporary table). */
  #staging: Staging | undefined;
  /** The ordered import's statements, made on its first use. */
  #ordered: OrderedStatements | undefined;
  #gapStatements: Map<number, Database.Statement<[StagedValue[]]>> | undefined;
  /** True while `importRows` holds its transaction open across awaits. */
  #importing = false;

  private constructor(db: Database.Database, path: string, readonly: boolean, version: number) {
    this.path = path;
    this.#version = version;
    this.#db = db;
    this.#readonly = readonly;
    this.#selectList = db.prepare('SELECT version FROM lists WHERE name = ?');
    this.#insertList = db.prepare('INSERT INTO lists (name, version, created_at, updated_at) VALUES (?, 1, ?, ?)');
    this.#bumpList = db.prepare('UPDATE lists SET version = ?, updated_at = ? WHERE name = ?');
    const policy = version >= 2 ? 'label, thresholds, enabled' : 'NULL AS label, NULL AS thresholds, 1 AS enabled';
    this.#listRows = db.prepare(`SELECT name, version, updated_at, ${policy} FROM lists ORDER BY name`);
    this.#listCounts = db.prepare('SELECT list, algorithm, count(*) AS n FROM entries GROUP BY list, algorithm');
    this.#iterate = FILTERS.map((where) => db.prepare<string[], EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM entries${where} ORDER BY list, id`));
    this.#count = FILTERS.map((where) => db.prepare<string[], number>(`SELECT count(*) FROM entries${where}`).pluck());
  }

  /**
   * Opens (by default creating) the store at `path`. Throws `ERR_STORE` when the file cannot be
   * opened, is not SQLite, is a SQLite database without the hashwarden tables, has another schema
   * version, or is missing with `create: false`; argument errors are TypeError / RangeError.
   * A version 1 store is upgraded to version 2 when opened for writing.
   *
   * @example
   * ```ts
   * const store = HashStore.open('hashes.db', { readonly: true });
   * ```
   */
  static open(path: string, options?: StoreOptions): HashStore {
    nonEmptyString(path, 'path', MAX_PATH_LENGTH);
    const o = optionsObject(options, 'options');
    const readonly = o.readonly === undefined ? false : boolean(o.readonly, 'readonly');
    const create = o.create === undefined ? !readonly : boolean(o.create, 'create');
    if (readonly && create) invalid('false when readonly is true', 'create', create, true);
    const resolved: ResolvedStoreOptions = Object.freeze({ readonly, create });
    let db: Database.Database | undefined;
    try {
      if (create) createOwnerOnly(path);
      db = new Database(path, { readonly, fileMustExist: !create });
      db.pragma('foreign_keys = ON');
      // Schema first: a foreign database must be refused before anything (even WAL) changes it.
      const version = prepareSchema(db, path, resolved);
      if (!readonly) db.pragma('journal_mode = WAL');
      return new HashStore(db, path, readonly, version);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // The open already failed; that error is the one to report.
      }
      throw storeError(path, error);
    }
  }

  #writable(what: string): void {
    if (this.#readonly) throw new HashwardenError('ERR_STORE', `SQLite store ${this.path}: opened read-only, cannot ${what}`);
    if (this.#importing) throw new HashwardenError('ERR_STORE', `SQLite store ${this.path}: a transaction (an import, a read) is running on this connection, cannot ${what}`);
  }

  /**
   * Adds or replaces entries by (list, id), all in one transaction: if any entry is invalid
   * (checked with `normalizeEntry`, so plain objects are accepted) or the write fails, nothing is
   * stored. Every list that appears (and every list in `replace`) gets its version bumped, even
   * when nothing in it changed (the import is recorded), and one summary, in order of first
   * appearance. A (list, id) repeated within one call keeps the last one. Returns `[]` for no
   * entries and nothing to replace.
   *
   * Throws `ERR_STORE` on a read-only store or a SQLite failure; an invalid entry throws its own
   * code (`ERR_LIST_FORMAT`, `ERR_HASH_FORMAT`, `ERR_UNKNOWN_ALGORITHM`) with "Entry n:" in the
   * message; an error thrown by the iterable itself propagates unchanged.
   *
   * @example
   * ```ts
   * const [s] = store.importEntries(parsed.entries, { source: 'ncmec.csv' });
   * console.log(`${s.list} v${s.version}: +${s.added} ~${s.updated} =${s.unchanged}`);
   * ```
   */
  importEntries(entries: Iterable<ListEntry>, options?: ImportOptions): ImportSummary[] {
    if (entries === null || typeof entries !== 'object' || typeof (entries as Iterable<ListEntry>)[Symbol.iterator] !== 'function') {
      invalid('iterable of list entries', 'entries', entries);
    }
    const resolved = resolveImport(options);
    this.#writable('import');
    // Set when the caller's iterable throws, so that error is not dressed up as a store failure.
    let sourceFailure: { error: unknown } | undefined;
    const run = (): ImportSummary[] => {
      const staging = this.#startStaging();
      const order = new ListOrder(resolved);
      // A repeated (list, id) replaces the earlier one: OR REPLACE never reports a duplicate.
      const stager = new Stager(staging.replaceAdd, staging.replaceAddChunk, () => undefined);
      const iterator = entries[Symbol.iterator]();
      let done = false;
      try {
        for (let index = 1; ; index++) {
          let step: IteratorResult<ListEntry>;
          try {
            step = iterator.next();
          } catch (error) {
            sourceFailure = { error };
            throw error;
          }
          if (step.done) {
            done = true;
            break;
          }
          let entry: ListEntry;
          try {
            entry = normalEntry(step.value);
          } catch (error) {
            const code = isHashwardenError(error) ? error.code : 'ERR_LIST_FORMAT';
            throw new HashwardenError(code, `Entry ${index}: ${(error as Error).message}`, { cause: error });
          }
          order.see(entry.list, () => `Entry ${index}`);
          stager.add(addParameters(entry, null));
        }
      } finally {
        if (!done) iterator.return?.();
      }
      stager.flush();
      return this.#apply(staging, order, resolved);
    };
    try {
      return this.#db.transaction(run).immediate();
    } catch (error) {
      if (sourceFailure !== undefined && error === sourceFailure.error) throw error;
      throw storeError(this.path, error);
    }
  }

  /**
   * Imports rows as a reader yields them (`streamListFile` in `hashwarden`, or any iterable of
   * batches), adding, updating and removing entries by (list, id), all in one transaction held
   * open until the last batch: readers (other connections, other processes) see the previous
   * version until the commit, then the new one whole, and a failure, an exception from the rows,
   * or the process being killed leaves the previous version intact. Memory does not grow with the
   * rows: they are staged in a temporary table, whose key also catches a (list, id) given twice.
   *
   * A removal of an id the list does not hold does nothing (a delta can be applied twice). With
   * `replace`, each replaced list ends up holding exactly the import's entries for it.
   * Throws (and rolls back) as {@link HashStore.importEntries}; a repeated (list, id) is
   * `ERR_LIST_FORMAT` naming `source:line` and the first line, unless `onError` is `skip`.
   *
   * @example
   * ```ts
   * const { summaries } = await store.importRows(streamListFile('delta.csv', { list: 'ncmec' }), { source: 'delta.csv' });
   * ```
   */
  async importRows(
    batches: AsyncIterable<{ readonly rows: readonly ImportRow[] }> | Iterable<{ readonly rows: readonly ImportRow[] }>,
    options?: ImportRowsOptions,
  ): Promise<ImportResult> {
    const iterable = batches as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null;
    if (iterable === null || typeof iterable !== 'object' || (typeof iterable[Symbol.asyncIterator] !== 'function' && typeof iterable[Symbol.iterator] !== 'function')) {
      invalid('iterable of row batches', 'batches', batches);
    }
    const resolved = resolveImport(options);
    const o = optionsObject(options, 'options');
    const onError = o.onError === undefined ? 'fail' : oneOf(o.onError, ['fail', 'skip'] as const, 'onError');
    this.#writable('import');
    const iterator = (typeof (batches as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
      ? (batches as AsyncIterable<{ readonly rows: readonly ImportRow[] }>)[Symbol.asyncIterator]()
      : (batches as Iterable<{ readonly rows: readonly ImportRow[] }>)[Symbol.iterator]()) as AsyncIterator<{ readonly rows: readonly ImportRow[] }> | Iterator<{ readonly rows: readonly ImportRow[] }>;
    const { result } = await this.#stagedImport(iterator, resolved, onError, false, (batch, stage) => {
      for (const row of batch.rows) {
        const at = (): string => stage.where(row.line);
        if (row.op === 'add') {
          const entry = normalizeEntryAt(row.entry, at);
          stage.order.see(entry.list, at);
          stage.stager.add(addParameters(entry, row.line ?? null));
        } else if (row.op === 'remove') {
          const list = nonEmptyString(row.list, 'list', MAX_FIELD_LENGTH).trim();
          const id = nonEmptyString(row.id, 'id', MAX_FIELD_LENGTH).trim();
          stage.remove(list, id, row.line ?? null, at);
        } else {
          throw new HashwardenError('ERR_LIST_FORMAT', `${at()}: Expected add or remove for op but received ${JSON.stringify((row as { op?: unknown }).op)}`);
        }
      }
    });
    return result;
  }

  /**
   * Imports a list file: reads it with `streamListFile` (formats, header rules, normalisation,
   * `op` removal rows, bad-row errors naming file and line) and writes it in one transaction, as
   * `importRows(streamListFile(path, …))` would, with the same results, faster:
   * - the file is read and checked on a worker thread (`thread`) while this one writes;
   * - while every list's ids come in ascending order (as exports, sorted dumps and most
   *   clearinghouse files have them), no id can repeat, so rows go straight into the store
   *   instead of through the staging table that catches repeats; at the first id out of order the
   *   transaction is rolled back and the file read again through the staging table (`ordered` in
   *   the result says which way it went).
   *
   * Memory stays bounded whatever the file's size. Readers see the previous version until the
   * commit; a failure or a kill leaves it intact. Throws as {@link HashStore.importRows}, and the
   * reader's errors (`ERR_LIST_FORMAT`, `ERR_INPUT_READ`, …) with their code and message.
   *
   * @example
   * ```ts
   * const { summaries, read } = await store.importFile('ncmec.csv', { list: 'ncmec', replace: ['ncmec'] });
   * ```
   */
  async importFile(path: string, options: ImportFileOptions): Promise<ImportFileResult> {
    nonEmptyString(path, 'path', MAX_PATH_LENGTH);
    const o = optionsObject(options, 'options');
    const resolved = resolveImport({ ...(o.replace === undefined ? {} : { replace: o.replace as readonly string[] }), ...(o.allowEmpty === undefined ? {} : { allowEmpty: o.allowEmpty as boolean }), source: o.source === undefined ? path : o.source as string });
    const onError = o.onError === undefined ? 'fail' : oneOf(o.onError, ['fail', 'skip'] as const, 'onError');
    // A size that cannot be read goes to the reader, which reports why.
    const thread = (o.thread === undefined ? true : boolean(o.thread, 'thread')) && (await stat(path).then((info) => info.size, () => Infinity)) >= THREAD_MIN_BYTES;
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') invalid('function', 'onProgress', o.onProgress);
    const onProgress = o.onProgress as ((progress: ImportProgress) => void) | undefined;
    const read: StreamListOptions = Object.freeze({
      list: o.list as string,
      onError,
      ...(o.format === undefined ? {} : { format: o.format as StreamListOptions['format'] }),
      ...(o.algorithm === undefined ? {} : { algorithm: o.algorithm as string }),
      ...(o.maxBytes === undefined ? {} : { maxBytes: o.maxBytes as number }),
      batchSize: IMPORT_BATCH_ROWS,
    });
    this.#writable('import');
    // Problems are reported once: a second reading of the file reports only those past the first's.
    let reportedTo = 0;
    const progress = (): ((batch: PackedBatch) => void) => {
      let rows = 0;
      return (batch) => {
        rows += batch.count + batch.problems.length;
        const fresh = batch.problems.filter((p) => p.line > reportedTo);
        const last = batch.problems.at(-1);
        if (last !== undefined) reportedTo = Math.max(reportedTo, last.line);
        onProgress?.(Object.freeze({
          bytesRead: batch.bytesRead,
          bytesTotal: batch.bytesTotal,
          rows,
          problems: Object.freeze(fresh.map((p) => Object.freeze({ source: path, line: p.line, error: new HashwardenError(p.code as ErrorCode, p.message) }))),
        }));
      };
    };
    const ordered = await this.#orderedImport(readPacked({ path, options: read, checkOrder: true }, thread), resolved, progress());
    if (ordered !== undefined) return ordered;
    const report = progress();
    const { result, returned } = await this.#stagedImport(readPacked({ path, options: read, checkOrder: false }, thread), resolved, onError, true, (batch: PackedBatch, stage) => {
      report(batch);
      const fields = packedFields(batch);
      for (let r = 0, f = 0; r < batch.count; r++, f += PACKED_FIELDS) {
        const list = fields[f] as string;
        const id = fields[f + 1] as string;
        const line = batch.lines[r] as number;
        if (batch.ops[r] === 0) {
          const at = (): string => stage.where(line);
          stage.order.see(list, at);
          stage.stager.add([list, id, 0, fields[f + 2] as string, fields[f + 3] as string, fields[f + 4] || null, fields[f + 5] || null, line]);
        } else {
          stage.remove(list, id, line, () => stage.where(line));
        }
      }
    });
    return Object.freeze({ ...result, read: returned as ListStreamSummary, ordered: false });
  }

  /**
   * One transaction around an import that may await its rows: begun before the first, committed
   * after the last, rolled back on any failure (the error passing through `storeError`, except
   * the rows' own). `#importing` keeps other calls off the connection meanwhile.
   */
  async #transaction<T>(body: (rowsFailed: (error: unknown) => void) => Promise<T>): Promise<T> {
    const db = this.#db;
    this.#importing = true;
    let sourceFailure: { error: unknown } | undefined;
    // Every entry an import writes belongs to a list whose row it wrote first (its version bump),
    // so the foreign key's check of each row, a lookup in `lists`, is skipped (SQLite reads the
    // setting only outside a transaction): 5% of an insert's instructions (100k rows, callgrind).
    db.pragma('foreign_keys = OFF');
    try {
      db.exec('BEGIN IMMEDIATE');
      const value = await body((error) => (sourceFailure = { error }));
      db.exec('COMMIT');
      return value;
    } catch (error) {
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // The import already failed; that error is the one to report.
      }
      if (sourceFailure !== undefined && error === sourceFailure.error) throw error;
      throw storeError(this.path, error);
    } finally {
      db.pragma('foreign_keys = ON');
      this.#importing = false;
    }
  }

  /**
   * Stages every batch (`stageBatch` adds its rows), then applies them: the import of
   * `importRows`, and of `importFile` when ids are not in order. Returns the result and what the
   * iterator returned at its end.
   */
  async #stagedImport<B>(
    iterator: AsyncIterator<B, unknown> | Iterator<B, unknown>,
    resolved: ResolvedImport,
    onError: 'fail' | 'skip',
    arrive: boolean,
    stageBatch: (batch: B, stage: StageContext) => void,
  ): Promise<{ result: ImportResult; returned: unknown }> {
    const source = resolved.source ?? '<rows>';
    const skipped: { line: number; message: string }[] = [];
    let skippedCount = 0;
    return this.#transaction(async (rowsFailed) => {
      const staging = this.#startStaging();
      const order = new ListOrder(resolved);
      const where = (line: number | null | undefined): string => (line === undefined || line === null ? source : `${source}:${line}`);
      /** A row repeating the (list, id) of the one on line `first`: refused, or skipped with `onError: 'skip'`. */
      const repeated = (list: string, id: string, line: number | null, first: number | null | undefined): void => {
        const message = `${where(line)}: Duplicate id ${JSON.stringify(id)} in list ${JSON.stringify(list)}${first === undefined || first === null ? '' : `, first on line ${first}`}`;
        if (onError === 'fail') throw new HashwardenError('ERR_LIST_FORMAT', message);
        skippedCount++;
        if (skipped.length < MAX_SKIPPED) skipped.push(Object.freeze({ line: line ?? 0, message }));
      };
      // Rows arriving go to `arrivals` (no key: repeats are found when they are sorted into
      // `staged`), or straight into `staged`, whose key refuses a repeat at once.
      const stager = arrive
        ? new Stager(staging.arrive, staging.arriveChunk, () => undefined)
        : new Stager(staging.add, staging.addChunk, ([list, id, , , , , , line]) => repeated(list, id, line, staging.line.get(list, id)));
      const stage: StageContext = {
        stager,
        order,
        where,
        remove(list, id, line, at) {
          if (resolved.replace.size > 0) throw removalInReplace(at());
          order.see(list, at);
          stager.add([list, id, 1, null, null, null, null, line]);
        },
      };
      const returned = await drain(iterator, rowsFailed, (batch) => stageBatch(batch, stage));
      stager.flush();
      if (arrive) {
        // Sorted into `staged` by SQLite's sorter, with a helper thread: the reader thread is done
        // by now (1M rows: 1.85 s against 2.39 s without).
        let settled: number;
        this.#db.pragma('threads = 1');
        try {
          settled = staging.settle.run().changes;
        } finally {
          this.#db.pragma('threads = 0');
        }
        const repeats = stager.rows - settled;
        if (repeats > 0) {
          const shown = staging.repeated.all(onError === 'fail' ? 1 : MAX_SKIPPED);
          for (const row of shown) repeated(row.list, row.id, row.line, row.first);
          skippedCount += repeats - shown.length;
        }
        this.#db.exec('DELETE FROM temp.arrivals');
      }
      const summaries = this.#apply(staging, order, resolved);
      return { result: Object.freeze({ summaries: Object.freeze(summaries), skipped: Object.freeze(skipped), skippedCount }), returned };
    });
  }

  /**
   * `importFile`'s first way: rows written straight into the store while every list's ids ascend.
   * `undefined` (the transaction rolled back) at the first id out of order.
   */
  async #orderedImport(reader: AsyncGenerator<PackedBatch, ListStreamSummary, void>, resolved: ResolvedImport, report: (batch: PackedBatch) => void): Promise<ImportFileResult | undefined> {
    const source = resolved.source ?? '<rows>';
    const now = new Date().toISOString();
    const unordered = new Error('ids out of order');
    try {
      return await this.#transaction(async (rowsFailed) => {
        const writer = new OrderedWriter(this.#orderedStatements(), resolved, (list) => this.#bumpVersion(list, now), source);
        const read = await drain(reader, rowsFailed, (batch) => {
          if (batch.unordered !== undefined) {
            rowsFailed(unordered); // passes through the rollback as it is
            throw unordered;
          }
          report(batch);
          writer.write(batch);
        });
        const tallies = writer.finish();
        const versions = writer.versions;
        const summaries = this.#record(tallies, versions, resolved, now);
        return Object.freeze({ summaries: Object.freeze(summaries), skipped: Object.freeze([]), skippedCount: 0, read, ordered: true });
      });
    } catch (error) {
      if (error === unordered) return undefined;
      throw error;
    }
  }

  /** The ordered import's statements (made once per connection). */
  #orderedStatements(): OrderedStatements {
    if (this.#ordered !== undefined) return this.#ordered;
    const db = this.#db;
    const sql = (rows: number, upsert: boolean, values: string): string =>
      `INSERT INTO entries (${ENTRY_COLUMNS}) VALUES ${Array.from({ length: rows }, () => values).join(', ')}${upsert ? ` ON CONFLICT (list, id) DO UPDATE SET ${UPSERT_SET}` : ''}`;
    const insert = (rows: number, upsert: boolean): Database.Statement<[StagedValue[]]> => db.prepare<[StagedValue[]]>(sql(rows, upsert, PACKED_VALUES));
    const bare = (upsert: boolean): Database.Statement<[StagedValue[], { list: string }]> => db.prepare<[StagedValue[], { list: string }]>(sql(STAGE_CHUNK, upsert, BARE_VALUES));
    this.#ordered = {
      upsertChunk: insert(STAGE_CHUNK, true),
      upsertOne: insert(1, true),
      insertChunk: insert(STAGE_CHUNK, false),
      insertOne: insert(1, false),
      bareUpsertChunk: bare(true),
      bareInsertChunk: bare(false),
      removeOne: db.prepare<[string, string]>('DELETE FROM entries WHERE list = ? AND id = ?'),
      size: (list) => this.#listSize(list),
      gap: (n) => {
        const gaps = (this.#gapStatements ??= new Map());
        let statement = gaps.get(n);
        if (statement === undefined) {
          const ids = Array.from({ length: n }, () => '?').join(', ');
          statement = db.prepare<[StagedValue[]]>(`DELETE FROM entries WHERE list = ? AND id > ? AND id <= ? AND id NOT IN (${ids})`);
          gaps.set(n, statement);
        }
        return statement;
      },
      after: db.prepare<[string, string]>('DELETE FROM entries WHERE list = ? AND id > ?'),
      range: db.prepare<[string, string, string], number>('SELECT count(*) FROM entries WHERE list = ? AND id > ? AND id <= ?').pluck(),
      all: db.prepare<[string]>('DELETE FROM entries WHERE list = ?'),
    };
    return this.#ordered;
  }

  /** The staging table, emptied, and its statements (made once per connection). */
  #startStaging(): Staging {
    this.#db.exec(STAGING);
    this.#staging ??= {
      add: this.#db.prepare(`INSERT INTO temp.staged (${STAGED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      addChunk: this.#db.prepare<[StagedValue[]]>(`INSERT INTO temp.staged (${STAGED_COLUMNS}) VALUES ${CHUNK_VALUES}`),
      replaceAdd: this.#db.prepare(`INSERT OR REPLACE INTO temp.staged (${STAGED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      replaceAddChunk: this.#db.prepare<[StagedValue[]]>(`INSERT OR REPLACE INTO temp.staged (${STAGED_COLUMNS}) VALUES ${CHUNK_VALUES}`),
      line: this.#db.prepare<[string, string], number | null>('SELECT line FROM temp.staged WHERE list = ? AND id = ?').pluck(),
      outside: this.#db.prepare<[string], number>(COUNT_OUTSIDE).pluck(),
      upsert: this.#db.prepare(UPSERT_STAGED),
      remove: this.#db.prepare(REMOVE_STAGED),
      stagedAdds: this.#db.prepare<[string], number>(STAGED_ADDS).pluck(),
      removeOutside: this.#db.prepare(REMOVE_OUTSIDE),
      clear: this.#db.prepare('DELETE FROM temp.staged'),
      arrive: this.#db.prepare(`INSERT INTO temp.arrivals (${STAGED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      arriveChunk: this.#db.prepare<[StagedValue[]]>(`INSERT INTO temp.arrivals (${STAGED_COLUMNS}) VALUES ${CHUNK_VALUES}`),
      settle: this.#db.prepare(SETTLE_ARRIVALS),
      repeated: this.#db.prepare(REPEATED_ARRIVALS),
    };
    return this.#staging;
  }

  /**
   * Applies the staged rows inside the caller's transaction: refuses a replace that would empty a
   * list (before changing anything), bumps versions, removes, writes, records the import.
   */
  #apply(staging: Staging, order: ListOrder, resolved: ResolvedImport): ImportSummary[] {
    const now = new Date().toISOString();
    const lists = [...order.lists, ...[...resolved.replace].filter((name) => !order.has(name))];
    const adds = new Map(lists.map((list) => [list, staging.stagedAdds.get(list) ?? 0]));
    for (const list of lists) {
      if (resolved.replace.has(list) && !resolved.allowEmpty && adds.get(list) === 0) throw emptiedList(resolved, list, staging.outside.get(list) ?? 0);
    }
    const versions = this.#bumpVersions(lists, now);
    // Each list's counts come from the writes themselves: rows changed (changes()), and the list's
    // size before and after, instead of a join of the staged rows with the entries beforehand.
    const tallies = lists.map((list) => {
      const staged = adds.get(list) ?? 0;
      const before = this.#listSize(list);
      const removed = staging.remove.run(list).changes;
      const changed = staging.upsert.run(list).changes;
      let after = this.#listSize(list);
      // A replaced list now holds every staged row: only when it holds more are there entries to
      // remove, each looked up in the staging table (1M-row replace of an unchanged list, from a
      // shuffled file: 6.24 s against 4.49 s for the same import without --replace).
      const outside = resolved.replace.has(list) && after > staged ? staging.removeOutside.run(list).changes : 0;
      after -= outside;
      const added = after - before + removed + outside;
      return { list, added, updated: changed - added, unchanged: staged - changed, removed: removed + outside };
    });
    staging.clear.run();
    return this.#record(tallies, versions, resolved, now);
  }

  /** Creates each list not yet stored (version 1) and bumps the others; the new versions. */
  #bumpVersions(lists: readonly string[], now: string): Map<string, number> {
    const versions = new Map<string, number>();
    for (const list of lists) versions.set(list, this.#bumpVersion(list, now));
    return versions;
  }

  #bumpVersion(list: string, now: string): number {
    const stored = this.#selectList.get(list);
    if (stored === undefined) {
      this.#insertList.run(list, now, now);
      return 1;
    }
    this.#bumpList.run(stored.version + 1, now, list);
    return stored.version + 1;
  }

  /** Writes each list's import to the history; the summaries. */
  #record(tallies: readonly Tally[], versions: ReadonlyMap<string, number>, resolved: ResolvedImport, now: string): ImportSummary[] {
    const mode: ImportMode = resolved.replace.size > 0 ? 'replace' : 'merge';
    this.#insertImport ??= this.#db.prepare('INSERT INTO imports (list, version, source, added, updated, unchanged, removed, mode, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const record = this.#insertImport;
    return tallies.map((t) => {
      const version = versions.get(t.list) as number;
      record.run(t.list, version, resolved.source, t.added, t.updated, t.unchanged, t.removed, mode, now);
      return Object.freeze({ ...t, version, mode });
    });
  }

  /**
   * Changes how a list is matched: its per-algorithm thresholds (each checked against the
   * algorithm's range), its label, whether it is enabled. Fields not given keep their value; a
   * threshold or the label set to `null` goes back to the default. Does not change the list's
   * version (its entries are the same). Returns the list as {@link HashStore.lists} would.
   * Throws `ERR_STORE` for a list the store does not hold or a read-only store,
   * `ERR_UNKNOWN_ALGORITHM` for an unknown algorithm, RangeError for a threshold out of range.
   *
   * @example
   * ```ts
   * store.setListPolicy('ncmec', { thresholds: { pdq: 31 }, label: 'block-and-report' });
   * store.setListPolicy('vendor-x', { enabled: false });
   * ```
   */
  setListPolicy(name: string, change: ListPolicyChange): ListInfo {
    const list = nonEmptyString(name, 'name', MAX_FIELD_LENGTH).trim();
    const c = optionsObject(change, 'change');
    const thresholds = c.thresholds === undefined ? undefined : checkThresholdChange(c.thresholds);
    const label = c.label === undefined || c.label === null ? c.label : nonEmptyString(c.label, 'label', MAX_FIELD_LENGTH).trim();
    const enabled = c.enabled === undefined ? undefined : boolean(c.enabled, 'enabled');
    this.#writable('change a list');
    try {
      this.#db.transaction(() => {
        const row = this.#db.prepare<[string], { thresholds: string | null }>('SELECT thresholds FROM lists WHERE name = ?').get(list);
        if (row === undefined) throw new HashwardenError('ERR_STORE', `SQLite store ${this.path}: no list named ${JSON.stringify(list)}`);
        if (thresholds !== undefined) {
          const merged: Partial<Record<AlgorithmName, number>> = { ...this.#thresholds(list, row.thresholds) };
          for (const [algorithm, value] of Object.entries(thresholds) as [AlgorithmName, number | null][]) {
            if (value === null) delete merged[algorithm];
            else merged[algorithm] = value;
          }
          const sorted = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : 1)));
          this.#db.prepare('UPDATE lists SET thresholds = ? WHERE name = ?').run(Object.keys(sorted).length === 0 ? null : JSON.stringify(sorted), list);
        }
        if (label !== undefined) this.#db.prepare('UPDATE lists SET label = ? WHERE name = ?').run(label, list);
        if (enabled !== undefined) this.#db.prepare('UPDATE lists SET enabled = ? WHERE name = ?').run(enabled ? 1 : 0, list);
      }).immediate();
    } catch (error) {
      throw storeError(this.path, error);
    }
    return this.lists().find((l) => l.name === list) as ListInfo;
  }

  /** A list's stored thresholds, checked (only a damaged or hand-edited file holds bad ones). */
  #thresholds(list: string, json: string | null): Partial<Record<AlgorithmName, number>> {
    if (json === null) return {};
    try {
      const parsed = JSON.parse(json) as unknown;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      return checkThresholds(parsed, 'thresholds');
    } catch (error) {
      throw new HashwardenError('ERR_STORE', `SQLite store ${this.path}: bad thresholds for list ${JSON.stringify(list)}: ${(error as Error).message}`, { cause: error });
    }
  }

  #filter(filter: EntryFilter | undefined): { index: number; params: string[] } {
    const f = optionsObject(filter, 'filter');
    const params: string[] = [];
    let index = 0;
    if (f.list !== undefined) {
      // Stored names are trimmed (normalizeEntry), so the filter is too.
      params.push(nonEmptyString(f.list, 'list', MAX_FIELD_LENGTH).trim());
      index |= 1;
    }
    if (f.algorithm !== undefined) {
      params.push(oneOf(f.algorithm, ALGORITHM_NAMES, 'algorithm'));
      index |= 2;
    }
    return { index, params };
  }

  #toEntry(row: EntryRow): ListEntry {
    try {
      const algorithm = getAlgorithm(row.algorithm);
      const entry = { id: row.id, list: row.list, algorithm: algorithm.name, hash: algorithm.format(row.hash) };
      if (row.label !== null) Object.assign(entry, { label: row.label });
      if (row.metadata !== null) Object.assign(entry, { metadata: JSON.parse(row.metadata) as EntryMetadata });
      return entry;
    } catch (error) {
      // Only a damaged or hand-edited file gets here.
      const message = `bad entry ${JSON.stringify(row.id)} in list ${JSON.stringify(row.list)}: ${(error as Error).message}`;
      throw new HashwardenError('ERR_STORE', `SQLite store ${this.path}: ${message}`, { cause: error });
    }
  }

  /**
   * Streams entries, ordered by list then id, optionally filtered. Rows are read as the iterator
   * advances, so a large store is never held in memory. While an iteration is open the store
   * cannot be written (SQLite keeps the query running): finish or `break` out of the loop first.
   *
   * @example
   * ```ts
   * for (const e of store.entries({ list: 'ncmec', algorithm: 'blockhash' })) index.add(e);
   * ```
   */
  entries(filter?: EntryFilter): IterableIterator<ListEntry> {
    const { index, params } = this.#filter(filter);
    const cached = this.#iterate[index] as Database.Statement<string[], EntryRow>;
    const path = this.path;
    const db = this.#db;
    const toEntry = (row: EntryRow): ListEntry => this.#toEntry(row);
    return (function* () {
      let rows: IterableIterator<EntryRow>;
      try {
        // A second loop over the same filter while the first is open needs its own statement.
        const statement = cached.busy ? db.prepare<string[], EntryRow>(cached.source) : cached;
        rows = statement.iterate(...params);
      } catch (error) {
        throw storeError(path, error);
      }
      let finished = false;
      try {
        for (;;) {
          let step: IteratorResult<EntryRow>;
          try {
            step = rows.next();
          } catch (error) {
            throw storeError(path, error);
          }
          if (step.done) {
            finished = true;
            return;
          }
          yield toEntry(step.value);
        }
      } finally {
        // On `break`, or an error in the caller's loop or in a row: release the statement, or it
        // stays busy and the store cannot be written.
        if (!finished) rows.return?.();
      }
    })();
  }

  /**
   * Runs `fn` in one read transaction, so that what it reads (`lists()`, `entries()`, `count()`)
   * is one version of the store even while another connection imports. `fn` must be synchronous
   * and finish (or leave) its loops over `entries()`. Returns what `fn` returns.
   *
   * @example
   * ```ts
   * const { lists, entries } = store.read(() => ({ lists: store.lists(), entries: [...store.entries()] }));
   * ```
   */
  read<T>(fn: () => T): T {
    if (typeof fn !== 'function') invalid('function', 'fn', fn);
    try {
      return this.#db.transaction(fn).deferred();
    } catch (error) {
      // Only SQLite's own failures are the store's; the callback's errors are the caller's.
      if (error instanceof Database.SqliteError || !this.#db.open) throw storeError(this.path, error);
      throw error;
    }
  }

  /**
   * {@link HashStore.read} for asynchronous work (writing what it reads to a file): one read
   * transaction held across `fn`'s awaits, so everything `fn` reads is one version of the store.
   * The connection cannot write meanwhile (`ERR_STORE`).
   *
   * @example
   * ```ts
   * await store.readAsync(() => writeListFile('ncmec.csv', () => store.entries({ list: 'ncmec' }), 'csv'));
   * ```
   */
  async readAsync<T>(fn: () => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') invalid('function', 'fn', fn);
    if (this.#importing) throw new HashwardenError('ERR_STORE', `SQLite store ${this.path}: a transaction is running on this connection`);
    try {
      this.#db.exec('BEGIN');
    } catch (error) {
      throw storeError(this.path, error);
    }
    this.#importing = true;
    try {
      const result = await fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.open && this.#db.inTransaction) this.#db.exec('ROLLBACK');
      if (error instanceof Database.SqliteError) throw storeError(this.path, error);
      throw error;
    } finally {
      this.#importing = false;
    }
  }

  /**
   * The lists in the store, by name, with their versions, entry counts per algorithm and policy.
   *
   * @example
   * ```ts
   * for (const l of store.lists()) console.log(l.name, l.version, l.total, l.counts.md5 ?? 0);
   * ```
   */
  lists(): ListInfo[] {
    try {
      const counts = new Map<string, Partial<Record<AlgorithmName, number>>>();
      for (const { list, algorithm, n } of this.#listCounts.all()) {
        const byAlgorithm = counts.get(list) ?? {};
        byAlgorithm[algorithm as AlgorithmName] = n;
        counts.set(list, byAlgorithm);
      }
      return this.#listRows.all().map((row) => {
        const c = Object.freeze(counts.get(row.name) ?? {});
        const total = Object.values(c).reduce((sum, n) => sum + n, 0);
        const info: ListInfo = {
          name: row.name,
          version: row.version,
          counts: c,
          total,
          updatedAt: row.updated_at ?? '',
          thresholds: Object.freeze(this.#thresholds(row.name, row.thresholds)),
          enabled: row.enabled !== 0,
          ...(row.label === null ? {} : { label: row.label }),
        };
        return Object.freeze(info);
      });
    } catch (error) {
      throw storeError(this.path, error);
    }
  }

  /**
   * What the imports did, oldest first: per list and import, the version it made, the source, the
   * counts and the mode (a version 1 store's imports have `removed` 0 and mode `merge`).
   *
   * @example
   * ```ts
   * for (const r of store.history('ncmec')) console.log(r.at, `v${r.version}`, r.source, `+${r.added} -${r.removed}`);
   * ```
   */
  history(list?: string): ImportRecord[] {
    const name = list === undefined ? undefined : nonEmptyString(list, 'list', MAX_FIELD_LENGTH).trim();
    try {
      const columns = "list, version, source, added, updated, unchanged, at, " + (this.#version >= 2 ? "removed, coalesce(mode, 'merge') AS mode" : "0 AS removed, 'merge' AS mode");
      const rows = name === undefined
        ? this.#db.prepare<[], ImportRecordRow>(`SELECT ${columns} FROM imports ORDER BY seq`).all()
        : this.#db.prepare<[string], ImportRecordRow>(`SELECT ${columns} FROM imports WHERE list = ? ORDER BY seq`).all(name);
      return rows.map((r) => Object.freeze({ list: r.list, version: r.version, ...(r.source === null ? {} : { source: r.source }), added: r.added, updated: r.updated, unchanged: r.unchanged, removed: r.removed, mode: r.mode, at: r.at }));
    } catch (error) {
      throw storeError(this.path, error);
    }
  }

  /**
   * The number of entries, optionally filtered as in {@link HashStore.entries}.
   *
   * @example
   * ```ts
   * store.count({ list: 'ncmec' }); // 120000
   * ```
   */
  count(filter?: EntryFilter): number {
    const { index, params } = this.#filter(filter);
    try {
      return (this.#count[index] as Database.Statement<string[], number>).get(...params) ?? 0;
    } catch (error) {
      throw storeError(this.path, error);
    }
  }

  /** Entries of one list, inside an import (`count`'s statement, without its filter checks). */
  #listSize(list: string): number {
    return (this.#count[1] as Database.Statement<string[], number>).get(list) ?? 0;
  }

  /**
   * Closes the database. Further calls throw `ERR_STORE`; closing twice is harmless.
   *
   * @example
   * ```ts
   * try { use(store); } finally { store.close(); }
   * ```
   */
  close(): void {
    try {
      if (this.#db.open) this.#db.close();
    } catch (error) {
      throw storeError(this.path, error);
    }
  }
}
