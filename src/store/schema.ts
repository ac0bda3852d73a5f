/**
 * Opening a store: its file (created with the mode asked for, owner-only by default), its schema
 * (created in an empty database, upgraded from versions 1 to 3), and the refusal of files that are not
 * hashwarden stores, or that hold anything (a trigger, a view) the schema does not define.
 */
import { closeSync, fchmodSync, openSync, readlinkSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HashwardenError } from '../errors.js';
import { boolean, fileMode, invalid, nonEmptyString, optionsObject } from '../validate.js';
import { MAX_PATH_LENGTH } from '../lists/formats.js';
import { createContext, storeError, type StoreContext } from './context.js';
import { loadDriver, type Connection } from './driver.js';
import { STORE_SCHEMA_VERSION, type StoreOptions } from './types.js';

const REQUIRED_TABLES = ['lists', 'entries', 'imports', 'checkpoints', 'quarantine', 'entry_events'] as const;

/** The tables a store of each older version lacks (it is upgraded when opened for writing). */
const ADDED_SINCE: Readonly<Record<number, readonly string[]>> = {
  1: ['checkpoints', 'quarantine', 'entry_events'],
  2: ['checkpoints', 'quarantine', 'entry_events'],
  3: ['quarantine', 'entry_events'],
};

/**
 * Everything a store's `sqlite_master` may hold besides the tables, by name: the index SQLite makes
 * for `lists`' primary key, the algorithm index of version 1 (`sql` as it made it; dropped by the
 * upgrade, and read as it is read-only), and the statistics tables `ANALYZE` (or
 * `PRAGMA optimize`) writes, which only steer the query planner. Anything else (a trigger, a view,
 * another table or index) was put there by hand or by an attacker: a trigger runs inside every
 * import (it could drop each row or empty another list), so such a store is refused, not used.
 */
const KNOWN_OBJECTS: ReadonlyMap<string, { readonly type: string; readonly sql: string | null }> = new Map([
  ...REQUIRED_TABLES.map((name) => [name, { type: 'table', sql: null }] as const),
  ['sqlite_autoindex_lists_1', { type: 'index', sql: null }],
  ['entries_algorithm', { type: 'index', sql: 'CREATE INDEX entries_algorithm ON entries (algorithm)' }],
  ['sqlite_stat1', { type: 'table', sql: null }],
  ['sqlite_stat4', { type: 'table', sql: null }],
]);

/**
 * Symbolic links followed at most to find the file a new store is created as: Linux's own limit
 * (MAXSYMLINKS), past which opening the path fails anyway.
 */
const MAX_SYMLINKS = 40;

/**
 * Entries disabled by hand (src/store/quarantine.ts), keyed by list and id, not by the import that
 * brought the entry, so that a quarantine outlives re-imports and replaces of the list; and the
 * entry each `disable`/`enable` record of `imports` names (its `seq`), with the reason and end.
 */
const QUARANTINE_TABLES = `CREATE TABLE quarantine (
  list TEXT NOT NULL,
  id TEXT NOT NULL,
  reason TEXT NOT NULL,
  since TEXT NOT NULL,
  until TEXT,
  PRIMARY KEY (list, id)
) WITHOUT ROWID;
CREATE TABLE entry_events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  reason TEXT,
  until TEXT
);`;

const SCHEMA = `
CREATE TABLE lists (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  created_at TEXT,
  updated_at TEXT,
  label TEXT,
  thresholds TEXT,
  enabled INTEGER NOT NULL DEFAULT 1,
  action TEXT
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
CREATE TABLE checkpoints (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  at TEXT NOT NULL
) WITHOUT ROWID;
${QUARANTINE_TABLES}
PRAGMA user_version = ${STORE_SCHEMA_VERSION};
`;

/**
 * From version 1: the list policy and what each import did (removals, its mode); and no index on
 * the algorithm, which made every import markedly slower (docs/benchmark.md) to speed up only reads of
 * one algorithm across all lists, which nothing frequent does.
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
 * From version 2: where each hash-sharing programme's sync stopped (src/exchanges/sync.ts),
 * written in the transaction of the rows it covers.
 */
const UPGRADE_FROM_2 = `
CREATE TABLE checkpoints (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  at TEXT NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 3;
`;

/**
 * From version 3: entry quarantine (src/store/quarantine.ts), and each list's action: NULL for
 * block (what every list was before), `'allow'` for an allow list.
 */
const UPGRADE_FROM_3 = `
ALTER TABLE lists ADD COLUMN action TEXT;
${QUARANTINE_TABLES}
PRAGMA user_version = 4;
`;

/** {@link StoreOptions}, checked, with their defaults. */
export interface ResolvedStoreOptions {
  readonly readonly: boolean;
  readonly create: boolean;
  readonly mode: number;
}

/** Checks `path` and `options` (TypeError / RangeError) and fills in the defaults. */
export function resolveStoreOptions(path: string, options: StoreOptions | undefined): ResolvedStoreOptions {
  nonEmptyString(path, 'path', MAX_PATH_LENGTH);
  const o = optionsObject(options, 'options');
  const readonly = o.readonly === undefined ? false : boolean(o.readonly, 'readonly');
  const create = o.create === undefined ? !readonly : boolean(o.create, 'create');
  if (readonly && create) invalid('false when readonly is true', 'create', create, true);
  const mode = fileMode(o.mode, 'mode');
  return Object.freeze({ readonly, create, mode });
}

/**
 * Opens the store at `path`: loads better-sqlite3 (`ERR_MISSING_DEPENDENCY` when it is not
 * installed, before any file is made), creates the file when allowed, and checks, creates or
 * upgrades the schema. Any failure is `ERR_STORE` naming the file, the connection closed.
 */
export function openStore(path: string, options: ResolvedStoreOptions): StoreContext {
  const { db, prepared: version } = openDatabase(path, options, (db, Database) => {
    db.pragma('foreign_keys = ON');
    return prepareSchema(db, path, options, schemaColumns(Database));
  });
  return createContext(db, path, options.readonly, version);
}

/**
 * Opens the SQLite file at `path` (created with `options.mode` when allowed), with
 * `trusted_schema` off, and runs `prepare` (which checks or creates its schema) before WAL is
 * turned on for writing. Any failure is `ERR_STORE` naming the file, the connection closed. The
 * list store and the seen store (src/seen/) both open their files so.
 */
export function openDatabase<T>(
  path: string,
  options: ResolvedStoreOptions,
  prepare: (db: Connection, Database: ReturnType<typeof loadDriver>) => T,
): { readonly db: Connection; readonly prepared: T } {
  const Database = loadDriver();
  let db: Connection | undefined;
  try {
    if (options.create) createFile(path, options.mode);
    db = new Database(path, { readonly: options.readonly, fileMustExist: !options.create });
    // Functions with side effects may then not run from the schema (a view, a trigger, a default):
    // the store is a file that may come from elsewhere. better-sqlite3 builds SQLite with it on.
    db.pragma('trusted_schema = OFF');
    // Schema first: a foreign database must be refused before anything (even WAL) changes it.
    const prepared = prepare(db, Database);
    if (!options.readonly) db.pragma('journal_mode = WAL');
    return { db, prepared };
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
 * Creates a store's file, empty, with `mode` before SQLite opens it: SQLite gives its `-wal` and
 * `-shm` files the permissions of the database file, and the hashes of abuse material are
 * themselves sensitive (docs/security.md), hence owner-only by default. The umask would narrow
 * `mode`, so it is set again: a group asked to read must be able to. An existing file
 * is left as it is; any other failure to create is SQLite's to report.
 *
 * A symbolic link is followed to the file it names, which is created there: SQLite follows it
 * too, and would otherwise create a link's missing target itself, with the umask's mode.
 */
function createFile(path: string, mode: number): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  const file = linkTarget(path);
  let fd: number;
  try {
    fd = openSync(file, 'wx', mode);
  } catch {
    return; // Exists already, or cannot be created: SQLite opens it or says why.
  }
  try {
    fchmodSync(fd, mode);
  } catch (error) {
    // A store must not be left behind with a mode other than the one asked for.
    closeSync(fd);
    unlinkSync(file);
    throw error;
  }
  closeSync(fd);
}

/** The file `path` names once its symbolic links are followed (whether that file exists or not). */
function linkTarget(path: string): string {
  let file = path;
  for (let hops = 0; hops < MAX_SYMLINKS; hops++) {
    let target: string;
    try {
      target = readlinkSync(file);
    } catch {
      return file; // Not a link (or missing, or unreadable): the file itself.
    }
    file = resolve(dirname(file), target);
  }
  return file;
}

function notAStore(path: string, why: string): HashwardenError {
  return new HashwardenError('ERR_STORE', `SQLite store ${path}: not a hashwarden store (${why})`);
}

/** A row of `sqlite_master`. */
interface SchemaObject {
  readonly type: string;
  readonly name: string;
  readonly tbl_name: string;
  readonly sql: string | null;
}

function inspect(db: Connection): { version: number; tables: string[]; objects: SchemaObject[] } {
  const objects = db.prepare<[], SchemaObject>('SELECT type, name, tbl_name, sql FROM sqlite_master').all();
  return {
    version: db.pragma('user_version', { simple: true }) as number,
    tables: objects.filter((o) => o.type === 'table' && !o.name.startsWith('sqlite_')).map((o) => o.name),
    objects,
  };
}

/** A column as `PRAGMA table_xinfo` describes it: name, declared type, NOT NULL, default, primary key rank, hidden. */
type ColumnShape = string;

/** Columns the upgrades add, by the version they upgrade from, by table: a store of that version lacks them. */
const ADDED_BY_UPGRADE: Readonly<Record<number, Readonly<Record<string, readonly string[]>>>> = {
  1: { lists: ['label', 'thresholds', 'enabled'], imports: ['removed', 'mode'] },
  3: { lists: ['action'] },
};

/** The columns a store of `version` lacks in `table`: those of every upgrade from it on. */
function addedSince(version: number, table: string): string[] {
  return Object.entries(ADDED_BY_UPGRADE)
    .filter(([from]) => Number(from) >= version)
    .flatMap(([, tables]) => tables[table] ?? []);
}

let expectedColumns: ReadonlyMap<string, readonly ColumnShape[]> | undefined;

function columnsOf(db: Connection, table: string): ColumnShape[] {
  return db
    .prepare<[], Record<string, unknown>>(`SELECT * FROM pragma_table_xinfo('${table}')`)
    .all()
    .map((c) => JSON.stringify([c.name, c.type, c.notnull, c.dflt_value, c.pk, c.hidden]));
}

/** Each table's columns as this release creates them, read once from a schema built in memory. */
function schemaColumns(Database: ReturnType<typeof loadDriver>): ReadonlyMap<string, readonly ColumnShape[]> {
  if (expectedColumns === undefined) {
    const memory = new Database(':memory:');
    try {
      memory.exec(SCHEMA);
      expectedColumns = new Map(REQUIRED_TABLES.map((table) => [table, columnsOf(memory, table)]));
    } finally {
      memory.close();
    }
  }
  return expectedColumns;
}

/**
 * Refuses a store whose tables' columns differ from the schema's (a generated column standing in
 * for `hash`, a type or a default changed), or whose tables carry a CHECK constraint: names alone
 * would let a crafted table answer every read with values of its own making. A version 1 store
 * has the columns the upgrade has not yet added.
 */
function refuseAlteredTables(
  db: Connection,
  path: string,
  version: number,
  expected: ReadonlyMap<string, readonly ColumnShape[]>,
): void {
  for (const table of REQUIRED_TABLES) {
    if (ADDED_SINCE[version]?.includes(table) === true) continue;
    const shapes = expected.get(table) as readonly ColumnShape[];
    const added = addedSince(version, table);
    const want = shapes.filter((shape) => !added.includes(JSON.parse(shape)[0] as string));
    const have = columnsOf(db, table);
    const sql =
      db
        .prepare<[string], { sql: string | null }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?")
        .get(table)?.sql ?? '';
    if (have.length !== want.length || have.some((shape, i) => shape !== want[i]) || /\bCHECK\b/i.test(sql)) {
      throw notAStore(
        path,
        `its table ${JSON.stringify(table)} is not the one the hashwarden schema version ${version} defines: a store altered by hand or crafted; it is not used`,
      );
    }
  }
}

/** Refuses a store holding a trigger, view, table or index that the schema does not define ({@link KNOWN_OBJECTS}). */
function refuseUnknownObjects(path: string, objects: readonly SchemaObject[]): void {
  for (const object of objects) {
    const known = KNOWN_OBJECTS.get(object.name);
    if (known?.type === object.type && (known.sql === null || known.sql === object.sql)) continue;
    const on = object.type === 'trigger' || object.type === 'index' ? ` on ${JSON.stringify(object.tbl_name)}` : '';
    throw notAStore(
      path,
      `it holds ${object.type} ${JSON.stringify(object.name)}${on}, which the hashwarden schema does not define: a store altered by hand or crafted; it is not used`,
    );
  }
}

/**
 * Checks the schema, creating it in an empty database when allowed, refusing anything it does not
 * define, and upgrading an older store opened for writing; returns the version the store has now.
 */
function prepareSchema(
  db: Connection,
  path: string,
  options: ResolvedStoreOptions,
  columns: ReadonlyMap<string, readonly ColumnShape[]>,
): number {
  let { version, tables, objects } = inspect(db);
  if (version === 0 && objects.length === 0) {
    if (!options.create) throw notAStore(path, 'the database is empty');
    // IMMEDIATE, and look again inside: another process may be creating the same store.
    db.transaction(() => {
      if (inspect(db).objects.length === 0) db.exec(SCHEMA);
    }).immediate();
    ({ version, tables, objects } = inspect(db));
  }
  if (version === 0) throw notAStore(path, `it has tables ${tables.join(', ')} but no hashwarden schema version`);
  // Read-only, a version 1, 2 or 3 store is read as it is: its lists have the default policy
  // (block), no checkpoint (1 and 2), no quarantined entry (1 to 3).
  if (version !== STORE_SCHEMA_VERSION && version !== 1 && version !== 2 && version !== 3) {
    const why = version > STORE_SCHEMA_VERSION ? 'newer than this hashwarden supports; upgrade hashwarden' : 'unknown';
    throw new HashwardenError(
      'ERR_STORE',
      `SQLite store ${path}: schema version ${version} is ${why} (this hashwarden reads version ${STORE_SCHEMA_VERSION})`,
    );
  }
  const missing = REQUIRED_TABLES.filter(
    (table) => !tables.includes(table) && ADDED_SINCE[version]?.includes(table) !== true,
  );
  if (missing.length > 0) throw notAStore(path, `tables missing: ${missing.join(', ')}`);
  // Before anything is written (the upgrade, WAL) or read.
  refuseUnknownObjects(path, objects);
  refuseAlteredTables(db, path, version, columns);
  if (version < STORE_SCHEMA_VERSION && !options.readonly) {
    db.transaction(() => {
      if (inspect(db).version === 1) db.exec(UPGRADE_FROM_1);
      if (inspect(db).version === 2) db.exec(UPGRADE_FROM_2);
      if (inspect(db).version === 3) db.exec(UPGRADE_FROM_3);
    }).immediate();
    version = inspect(db).version;
  }
  return version;
}
