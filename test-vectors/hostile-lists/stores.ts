/**
 * The stores of the hostile-inputs corpus: triggers, views, tables and indexes the schema does not
 * define (finding 4), entries with metadata no import could have written (2), and files that are
 * not stores at all.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HashStore } from '../../src/store/index.js';
import {
  type Draft,
  type HostileCase,
  metadataLimits,
  type OpenSpec,
  random,
  SEED,
  SEEDED,
  seededEntries,
} from './common.js';

/** Writes a store holding {@link SEEDED} at `path`, then lets `edit` change it with raw SQL. */
export function seededStore(path: string, edit?: (db: Database.Database) => void): void {
  const store = HashStore.open(path);
  try {
    store.importEntries(seededEntries(), { source: 'hostile-lists' });
  } finally {
    store.close();
  }
  if (edit === undefined) return;
  const db = new Database(path);
  try {
    edit(db);
  } finally {
    db.close();
  }
}

export function storeFiles(drafts: Draft[], cases: HostileCase[], scratch: string): void {
  const limits = metadataLimits();
  const store = (name: string, edit?: (db: Database.Database) => void): void => {
    drafts.push({
      file: name,
      record: false,
      data: async (path) => {
        seededStore(path, edit);
        return 0;
      },
    });
  };
  const add = (c: Omit<HostileCase, 'kind'>): void => {
    cases.push({ kind: 'store', ...c });
  };
  const readAll: OpenSpec = { call: 'HashStore.open', options: { readonly: true } };
  const importDelta: OpenSpec = { call: 'importFile', options: { list: 'vendorA' }, import: 'vendorA-delta.csv' };

  store('store-clean.db');
  add({
    case: 'store-clean',
    file: 'store-clean.db',
    what: 'a store written by HashStore: lists L1 (2 entries) and vendorA (1)',
    open: readAll,
    expect: { ok: { lists: SEEDED } },
    reason: 'The baseline: every check on stores lets an ordinary store through, every entry readable.',
    finding: 4,
  });
  add({
    case: 'store-clean-import',
    file: 'store-clean.db',
    what: 'the clean store, imported into (vendorA-delta.csv as vendorA)',
    open: importDelta,
    expect: { ok: { lists: { L1: 2, vendorA: 2 } } },
    reason: 'An ordinary import into an ordinary store still works.',
    finding: 4,
  });
  add({
    case: 'store-clean-matcher',
    file: 'store-clean.db',
    what: 'the clean store, loaded by Matcher.open',
    open: { call: 'Matcher.open' },
    expect: { ok: { entries: 3 } },
    reason: 'A matcher loads every entry of an ordinary store.',
    finding: 4,
  });
  store('store-triggers.db', (db) => {
    db.exec(`
      CREATE TRIGGER keep_out BEFORE INSERT ON entries BEGIN SELECT RAISE(IGNORE); END;
      CREATE TRIGGER wipe_l1 AFTER INSERT ON imports BEGIN DELETE FROM entries WHERE list = 'L1'; END;
    `);
  });
  add({
    case: 'store-triggers-import',
    file: 'store-triggers.db',
    what: "the finding's store: BEFORE INSERT ON entries … RAISE(IGNORE) and AFTER INSERT ON imports deleting list L1; vendorA-delta.csv imported into it",
    open: importDelta,
    expect: { error: 'ERR_STORE', lists: SEEDED },
    reason:
      'Triggers the schema does not define run attacker code at every import (new entries dropped, L1 wiped, exit 0): the store is refused at open, nothing runs.',
    finding: 4,
  });
  add({
    case: 'store-triggers-matcher',
    file: 'store-triggers.db',
    what: 'the same store loaded by Matcher.open',
    open: { call: 'Matcher.open' },
    expect: { error: 'ERR_STORE' },
    reason: 'Refused on every open, read-only ones too: a store carrying triggers is not a store this release wrote.',
    finding: 4,
  });
  store('store-view.db', (db) => db.exec('CREATE VIEW every_entry AS SELECT * FROM entries'));
  add({
    case: 'store-view',
    file: 'store-view.db',
    what: 'a store with a view the schema does not define',
    open: readAll,
    expect: { error: 'ERR_STORE' },
    reason: 'Anything beyond the schema is refused: a view (with trusted_schema on, its functions run) included.',
    finding: 4,
  });
  store('store-extra-table.db', (db) => db.exec('CREATE TABLE notes (body TEXT)'));
  add({
    case: 'store-extra-table',
    file: 'store-extra-table.db',
    what: 'a store with an extra table',
    open: readAll,
    expect: { error: 'ERR_STORE' },
    reason: 'Not a table this schema defines: refused.',
    finding: 4,
  });
  store('store-extra-index.db', (db) => db.exec('CREATE INDEX entries_by_hash ON entries (hash)'));
  add({
    case: 'store-extra-index',
    file: 'store-extra-index.db',
    what: 'a store with an extra index on entries',
    open: readAll,
    expect: { error: 'ERR_STORE' },
    reason: 'An index can hold an expression (code) too: refused like any object the schema does not define.',
    finding: 4,
  });
  store('store-metadata-over-64k.db', (db) =>
    db
      .prepare("UPDATE entries SET metadata = json_object('note', ?) WHERE id = 'va-1'")
      .run('m'.repeat(limits.bytes + 4_096)),
  );
  add({
    case: 'store-metadata-over-64k',
    file: 'store-metadata-over-64k.db',
    what: 'a store whose entry va-1 holds metadata over MAX_METADATA_BYTES (written by raw SQL), every entry read',
    open: readAll,
    expect: { error: 'ERR_STORE' },
    reason:
      'Stores travel between machines: an entry no import could have written is refused when read, naming it, instead of being allocated.',
    finding: 2,
  });
  store('store-metadata-1m-keys.db', (db) =>
    db.exec(`
      WITH RECURSIVE n(i) AS (SELECT 4 UNION ALL SELECT i + 1 FROM n WHERE i < 1000003)
      UPDATE entries SET metadata = (SELECT '{' || group_concat('"column' || i || '":"0"', ',') || '}' FROM n)
      WHERE id = 'va-1';
    `),
  );
  add({
    case: 'store-metadata-1m-keys',
    file: 'store-metadata-1m-keys.db',
    what: 'a store whose entry va-1 holds 1,000,000 metadata keys (about 17 MB of JSON), as the wide CSV left it, loaded by Matcher.open',
    open: { call: 'Matcher.open' },
    expect: { error: 'ERR_STORE' },
    reason:
      'After the wide CSV every match on such a store took 1.9 GB: the entry is refused by its length in SQL, before the text reaches JavaScript.',
    finding: 2,
    heavy: true,
  });
  store('store-user-version-99.db', (db) => db.pragma('user_version = 99'));
  add({
    case: 'store-user-version-99',
    file: 'store-user-version-99.db',
    what: 'the clean store with user_version set to 99',
    open: readAll,
    expect: { error: 'ERR_STORE' },
    reason: 'A schema version this release does not know: refused rather than misread.',
    finding: 'held',
  });
  drafts.push({
    file: 'store-other-sqlite.db',
    record: false,
    data: async (path) => {
      const db = new Database(path);
      db.exec('CREATE TABLE photos (name TEXT, bytes BLOB)');
      db.close();
      return 0;
    },
  });
  add({
    case: 'store-other-sqlite',
    file: 'store-other-sqlite.db',
    what: "another application's SQLite database (one table, photos)",
    open: readAll,
    expect: { error: 'ERR_STORE' },
    reason: 'A SQLite file without the hashwarden tables is not a store: refused, not written into.',
    finding: 'held',
  });
  drafts.push({ file: 'store-not-sqlite.db', record: true, data: random(SEED + 1, 8192) });
  add({
    case: 'store-not-sqlite',
    file: 'store-not-sqlite.db',
    what: '8192 random bytes (mulberry32) named .db',
    open: readAll,
    expect: { error: 'ERR_STORE' },
    reason: 'Not SQLite at all: refused as a store error.',
    finding: 'held',
  });
  drafts.push({
    file: 'store-truncated.db',
    record: false,
    data: async (path) => {
      const whole = join(scratch, 'whole.db');
      seededStore(whole);
      const bytes = await readFile(whole);
      await writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
      return 0;
    },
  });
  add({
    case: 'store-truncated',
    file: 'store-truncated.db',
    what: 'the first half of the clean store',
    open: readAll,
    expect: { error: 'ERR_STORE' },
    reason: 'A store cut in transfer: refused as a store error, never a crash.',
    finding: 'held',
  });
}
