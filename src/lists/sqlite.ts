/**
 * The SQLite hash store, published as `hashwarden/sqlite`: named lists of entries in one file,
 * each list versioned per import with an audit row, so a deployment can tell which version of a
 * list a match came from. This is the only module that loads better-sqlite3 (a native build), so
 * the core never needs it.
 */
import Database from 'better-sqlite3';
import { ALGORITHM_NAMES, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError, isHashwardenError } from '../errors.js';
import { boolean, invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { MAX_FIELD_LENGTH, normalizeEntry, type EntryMetadata, type ListEntry } from './model.js';

/**
 * The schema version this module writes and reads (1), kept in `PRAGMA user_version`. A store
 * with another version is refused rather than guessed at.
 *
 * @example
 * ```ts
 * console.log(`hashwarden store schema v${STORE_SCHEMA_VERSION}`);
 * ```
 */
export const STORE_SCHEMA_VERSION = 1;

const REQUIRED_TABLES = ['lists', 'entries', 'imports'] as const;

const SCHEMA = `
CREATE TABLE lists (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  created_at TEXT,
  updated_at TEXT
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
CREATE INDEX entries_algorithm ON entries (algorithm);
CREATE TABLE imports (
  seq INTEGER PRIMARY KEY,
  list TEXT,
  version INTEGER,
  source TEXT,
  added INTEGER,
  updated INTEGER,
  unchanged INTEGER,
  at TEXT
);
PRAGMA user_version = ${STORE_SCHEMA_VERSION};
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
 * Options of {@link HashStore.importEntries}.
 *
 * @example
 * ```ts
 * store.importEntries(parsed.entries, { source: 'https://example.org/lists/2024-06.csv' });
 * ```
 */
export interface ImportOptions {
  /** Where the entries came from (a file path, a URL), recorded in the import history. Default: none. */
  readonly source?: string;
}

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
  /** The list's version after the import (1 for a new list; every import adds 1). */
  readonly version: number;
}

/**
 * A list held in the store.
 *
 * @example
 * ```ts
 * const info = store.lists().find((l) => l.name === 'ncmec'); // { version: 3, counts: { md5: 120000 }, … }
 * ```
 */
export interface ListInfo {
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

interface StoredRow {
  readonly algorithm: string;
  readonly hash: Buffer;
  readonly label: string | null;
  readonly metadata: string | null;
}

interface Tally {
  list: string;
  version: number;
  added: number;
  updated: number;
  unchanged: number;
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

/** Sorted keys, so the same metadata from two files in different column orders compares equal. */
function metadataJson(metadata: EntryMetadata | undefined): string | null {
  if (metadata === undefined) return null;
  const json = JSON.stringify(metadata, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
  return json === '{}' ? null : json;
}

function inspect(db: Database.Database): { version: number; tables: string[] } {
  return {
    version: db.pragma('user_version', { simple: true }) as number,
    tables: db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[],
  };
}

/** Checks the schema, creating it in an empty database when allowed. */
function prepareSchema(db: Database.Database, path: string, options: ResolvedStoreOptions): void {
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
  if (version !== STORE_SCHEMA_VERSION) {
    const why = version > STORE_SCHEMA_VERSION ? 'newer than this hashwarden supports; upgrade hashwarden' : 'unknown';
    throw new HashwardenError('ERR_STORE', `SQLite store ${path}: schema version ${version} is ${why} (this hashwarden reads version ${STORE_SCHEMA_VERSION})`);
  }
  const missing = REQUIRED_TABLES.filter((table) => !tables.includes(table));
  if (missing.length > 0) throw notAStore(path, `tables missing: ${missing.join(', ')}`);
}

const ENTRY_COLUMNS = 'list, id, algorithm, hash, label, metadata';
// Index: bit 0 = list filter, bit 1 = algorithm filter. ORDER BY list, id costs no sort: it is the
// primary key order, and the algorithm index carries the primary key after the algorithm.
const FILTERS = ['', ' WHERE list = ?', ' WHERE algorithm = ?', ' WHERE list = ? AND algorithm = ?'] as const;

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
  readonly #selectEntry: Database.Statement<[string, string], StoredRow>;
  readonly #insertEntry: Database.Statement<[string, string, string, Buffer, string | null, string | null]>;
  readonly #updateEntry: Database.Statement<[string, Buffer, string | null, string | null, string, string]>;
  readonly #selectList: Database.Statement<[string], { version: number }>;
  readonly #insertList: Database.Statement<[string, string, string]>;
  readonly #bumpList: Database.Statement<[number, string, string]>;
  readonly #insertImport: Database.Statement<[string, number, string | null, number, number, number, string]>;
  readonly #listRows: Database.Statement<[], { name: string; version: number; updated_at: string | null }>;
  readonly #listCounts: Database.Statement<[], { list: string; algorithm: string; n: number }>;
  readonly #iterate: readonly Database.Statement<string[], EntryRow>[];
  readonly #count: readonly Database.Statement<string[], number>[];

  private constructor(db: Database.Database, path: string, readonly: boolean) {
    this.path = path;
    this.#db = db;
    this.#readonly = readonly;
    this.#selectEntry = db.prepare('SELECT algorithm, hash, label, metadata FROM entries WHERE list = ? AND id = ?');
    this.#insertEntry = db.prepare(`INSERT INTO entries (${ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
    this.#updateEntry = db.prepare('UPDATE entries SET algorithm = ?, hash = ?, label = ?, metadata = ? WHERE list = ? AND id = ?');
    this.#selectList = db.prepare('SELECT version FROM lists WHERE name = ?');
    this.#insertList = db.prepare('INSERT INTO lists (name, version, created_at, updated_at) VALUES (?, 1, ?, ?)');
    this.#bumpList = db.prepare('UPDATE lists SET version = ?, updated_at = ? WHERE name = ?');
    this.#insertImport = db.prepare('INSERT INTO imports (list, version, source, added, updated, unchanged, at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#listRows = db.prepare('SELECT name, version, updated_at FROM lists ORDER BY name');
    this.#listCounts = db.prepare('SELECT list, algorithm, count(*) AS n FROM entries GROUP BY list, algorithm');
    this.#iterate = FILTERS.map((where) => db.prepare<string[], EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM entries${where} ORDER BY list, id`));
    this.#count = FILTERS.map((where) => db.prepare<string[], number>(`SELECT count(*) FROM entries${where}`).pluck());
  }

  /**
   * Opens (by default creating) the store at `path`. Throws `ERR_STORE` when the file cannot be
   * opened, is not SQLite, is a SQLite database without the hashwarden tables, has another schema
   * version, or is missing with `create: false`; argument errors are TypeError / RangeError.
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
      db = new Database(path, { readonly, fileMustExist: !create });
      db.pragma('foreign_keys = ON');
      // Schema first: a foreign database must be refused before anything (even WAL) changes it.
      prepareSchema(db, path, resolved);
      if (!readonly) db.pragma('journal_mode = WAL');
      return new HashStore(db, path, readonly);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // The open already failed; that error is the one to report.
      }
      throw storeError(path, error);
    }
  }

  /**
   * Adds or replaces entries by (list, id), all in one transaction: if any entry is invalid
   * (checked with `normalizeEntry`, so plain objects are accepted) or the write fails, nothing is
   * stored. Every list that appears gets its version bumped, even when nothing in it changed (the
   * import is recorded), and one summary, in order of first appearance. A (list, id) repeated
   * within one call keeps the last one. Returns `[]` for no entries.
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
    const o = optionsObject(options, 'options');
    const source = o.source === undefined ? null : nonEmptyString(o.source, 'source', MAX_PATH_LENGTH);
    if (this.#readonly) throw new HashwardenError('ERR_STORE', `SQLite store ${this.path}: opened read-only, cannot import`);
    const now = new Date().toISOString();
    // Set when the caller's iterable throws, so that error is not dressed up as a store failure.
    let sourceFailure: { error: unknown } | undefined;
    const run = (): ImportSummary[] => {
      const tallies = new Map<string, Tally>();
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
          this.#upsert(step.value, index, now, tallies);
        }
      } finally {
        if (!done) iterator.return?.();
      }
      const summaries: ImportSummary[] = [];
      for (const t of tallies.values()) {
        this.#insertImport.run(t.list, t.version, source, t.added, t.updated, t.unchanged, now);
        summaries.push(Object.freeze({ list: t.list, added: t.added, updated: t.updated, unchanged: t.unchanged, version: t.version }));
      }
      return summaries;
    };
    try {
      return this.#db.transaction(run).immediate();
    } catch (error) {
      if (sourceFailure !== undefined && error === sourceFailure.error) throw error;
      throw storeError(this.path, error);
    }
  }

  #upsert(input: ListEntry, index: number, now: string, tallies: Map<string, Tally>): void {
    let entry: ListEntry;
    let json: string | null;
    try {
      entry = normalizeEntry(input);
      json = metadataJson(entry.metadata);
    } catch (error) {
      const code = isHashwardenError(error) ? error.code : 'ERR_LIST_FORMAT';
      throw new HashwardenError(code, `Entry ${index}: ${(error as Error).message}`, { cause: error });
    }
    const hash = Buffer.from(getAlgorithm(entry.algorithm).parse(entry.hash));
    const label = entry.label ?? null;
    let tally = tallies.get(entry.list);
    if (tally === undefined) {
      const stored = this.#selectList.get(entry.list);
      let version = 1;
      if (stored === undefined) {
        this.#insertList.run(entry.list, now, now);
      } else {
        version = stored.version + 1;
        this.#bumpList.run(version, now, entry.list);
      }
      tally = { list: entry.list, version, added: 0, updated: 0, unchanged: 0 };
      tallies.set(entry.list, tally);
    }
    const old = this.#selectEntry.get(entry.list, entry.id);
    if (old === undefined) {
      this.#insertEntry.run(entry.list, entry.id, entry.algorithm, hash, label, json);
      tally.added++;
    } else if (old.algorithm === entry.algorithm && hash.equals(old.hash) && old.label === label && old.metadata === json) {
      tally.unchanged++;
    } else {
      this.#updateEntry.run(entry.algorithm, hash, label, json, entry.list, entry.id);
      tally.updated++;
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
   * The lists in the store, by name, with their versions and entry counts per algorithm.
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
        return Object.freeze({ name: row.name, version: row.version, counts: c, total, updatedAt: row.updated_at ?? '' });
      });
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
