/**
 * A seen store's file: its schema, created in an empty database, and the refusal of any other
 * database (a list store given by mistake, a file altered by hand). Its own file, apart from the
 * list store: what it holds is about a platform's users, not about lists, so it is kept, backed
 * up, expired and deleted on its own terms (docs/retroactive.md).
 */
import { HashwardenError } from '../errors.js';
import type { Connection } from '../store/driver.js';
import { openDatabase, type ResolvedStoreOptions } from '../store/schema.js';

/** `PRAGMA application_id` of a seen store ('hwsn'): tells it from a list store (whose id is 0) and from any other SQLite file. */
const SEEN_APPLICATION_ID = 0x6877736e;

/** The schema version this release writes and reads. */
export const SEEN_SCHEMA_VERSION = 3;

/**
 * `known`, version 3: each entry a rescan has taken into account, in full (an upload recorded late
 * is searched against it: src/seen/events.ts), with the list version it was found new in (`since`)
 * and the round that found it. Keyed by list and id, the order a list store gives a list's entries
 * in, so that a round compares a list with what it knew in one ordered pass over both
 * (src/seen/rescan.ts) rather than a lookup an entry.
 */
const KNOWN_TABLE = `
CREATE TABLE known (
  list TEXT NOT NULL,
  id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  hash BLOB NOT NULL,
  since INTEGER NOT NULL,
  round INTEGER NOT NULL,
  PRIMARY KEY (list, id)
) WITHOUT ROWID;
CREATE INDEX known_round ON known (round);
`;

/**
 * The rescan's own tables: `known`; `known_lists`: the list version each list was taken at. `cursor`: the round under way, its number, the last upload it has delivered every
 * event of, and `scanned` from `state`: the last upload the finished rounds' passes reached.
 */
const RESCAN_TABLES = `${KNOWN_TABLE}
CREATE TABLE known_lists (
  list TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  previous INTEGER
) WITHOUT ROWID;
CREATE TABLE cursor (
  one INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  round INTEGER NOT NULL,
  scanned INTEGER NOT NULL
);
CREATE TABLE state (
  one INTEGER PRIMARY KEY,
  round INTEGER NOT NULL,
  scanned INTEGER NOT NULL
);
`;

/**
 * `seen`: one row per upload (AUTOINCREMENT: a sequence never reused, so a rescan's cursor never
 * passes over an upload recorded after it moved), then the rescan's tables.
 */
const SCHEMA = `
CREATE TABLE seen (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  content_id TEXT NOT NULL UNIQUE,
  at INTEGER NOT NULL,
  versions TEXT NOT NULL,
  hashes BLOB NOT NULL
);
CREATE INDEX seen_at ON seen (at);
${RESCAN_TABLES}
PRAGMA application_id = ${SEEN_APPLICATION_ID};
PRAGMA user_version = ${SEEN_SCHEMA_VERSION};
`;

/**
 * From version 1, whose `known` held digests alone: the rescan's tables are made again and the
 * records kept. The next rescan then takes every entry as new, as a first one does: events an
 * upload already had may come again (same ids), none is missed.
 */
const UPGRADE_FROM_1 = `
DROP TABLE known;
DROP TABLE known_lists;
DROP TABLE pending;
DROP TABLE cursor;
${RESCAN_TABLES}
PRAGMA user_version = ${SEEN_SCHEMA_VERSION};
`;

/**
 * From version 2, whose `known` was keyed by a digest of each entry: the same rows, keyed by list
 * and id (a list holds an id once, and a round left `known` equal to the lists it read, so no two
 * rows of version 2 share a list and id). A round under way is kept.
 */
const UPGRADE_FROM_2 = `
ALTER TABLE known RENAME TO known_2;
DROP INDEX known_round;
${KNOWN_TABLE}
INSERT OR IGNORE INTO known (list, id, algorithm, hash, since, round)
  SELECT list, id, algorithm, hash, since, round FROM known_2;
DROP TABLE known_2;
PRAGMA user_version = ${SEEN_SCHEMA_VERSION};
`;

/** The objects the schema makes, by name and type (SQLite's own index for `seen`'s UNIQUE, its sequence table). */
const KNOWN_OBJECTS: ReadonlyMap<string, string> = new Map([
  ['seen', 'table'],
  ['seen_at', 'index'],
  ['known', 'table'],
  ['known_lists', 'table'],
  ['known_round', 'index'],
  ['cursor', 'table'],
  ['state', 'table'],
  ['sqlite_autoindex_seen_1', 'index'],
  ['sqlite_autoindex_known_lists_1', 'index'],
  ['sqlite_sequence', 'table'],
  ['sqlite_stat1', 'table'],
  ['sqlite_stat4', 'table'],
]);

/** The upgrade from each older version, straight to this one. */
const UPGRADES: ReadonlyMap<number, string> = new Map([
  [1, UPGRADE_FROM_1],
  [2, UPGRADE_FROM_2],
]);

function notSeen(path: string, why: string): HashwardenError {
  return new HashwardenError('ERR_STORE', `Seen store ${path}: not a hashwarden seen store (${why})`);
}

/** Checks the schema of an open database, creating it when empty and allowed. */
function prepare(db: Connection, path: string, options: ResolvedStoreOptions): void {
  const objects = () => db.prepare<[], { type: string; name: string }>('SELECT type, name FROM sqlite_master').all();
  if (objects().length === 0) {
    if (!options.create) throw notSeen(path, 'the database is empty');
    // IMMEDIATE, and look again inside: another process may be creating the same store.
    db.transaction(() => {
      if (objects().length === 0) db.exec(SCHEMA);
    }).immediate();
  }
  const id = db.pragma('application_id', { simple: true }) as number;
  if (id !== SEEN_APPLICATION_ID) throw notSeen(path, `application id ${id}; a list store is opened with HashStore`);
  let version = db.pragma('user_version', { simple: true }) as number;
  const upgrade = UPGRADES.get(version);
  if (upgrade !== undefined) {
    if (options.readonly)
      throw new HashwardenError(
        'ERR_STORE',
        `Seen store ${path}: schema version ${version} must be upgraded to ${SEEN_SCHEMA_VERSION}: open it once writable`,
      );
    db.transaction(() => {
      // Another process may have upgraded it meanwhile.
      const now = UPGRADES.get(db.pragma('user_version', { simple: true }) as number);
      if (now !== undefined) db.exec(now);
    }).immediate();
    version = db.pragma('user_version', { simple: true }) as number;
  }
  if (version !== SEEN_SCHEMA_VERSION)
    throw new HashwardenError(
      'ERR_STORE',
      `Seen store ${path}: schema version ${version} is not ${SEEN_SCHEMA_VERSION}`,
    );
  // A trigger would run inside every record and every rescan: a store holding one is refused.
  for (const o of objects()) {
    if (KNOWN_OBJECTS.get(o.name) !== o.type)
      throw notSeen(path, `it holds ${o.type} ${JSON.stringify(o.name)}, which the schema does not define`);
  }
}

/**
 * Opens the seen store at `path` (better-sqlite3 loaded by the list store's one loader), created
 * owner-only with `mode` when allowed. Any failure is `ERR_STORE` naming the file.
 */
export function openSeen(path: string, options: ResolvedStoreOptions): Connection {
  return openDatabase(path, options, (db) => prepare(db, path, options)).db;
}
