/**
 * The rescan: the entries lists gained since the last one, searched for every recorded upload.
 *
 * A round has three steps, each safe to interrupt. (1) The new entries are found by comparing each
 * changed list with the digests of the entries the last round took into account (`known`), and
 * written to `pending` in the same transaction that moves `known` on: a crash before it commits
 * leaves the last round's state, after it the round itself. (2) Recorded uploads are read in
 * sequence, a batch at a time, and their events yielded; the cursor moves past a batch only when
 * the consumer asks for the event after its last, so a crash replays at most the batch in hand
 * (at-least-once; each event's id is the same on a replay). (3) Past the last upload, `pending` and
 * the cursor are cleared in one transaction.
 */
import { getAlgorithm, type Thresholds } from '../algorithms/registry.js';
import type { Connection } from '../store/driver.js';
import { listHeaders, type HashStore } from '../store/store.js';
import type { ListHeader } from '../store/types.js';
import {
  batchEvents,
  buildRound,
  entryKey,
  type PendingRow,
  type RescanEvent,
  type ResolvedRescanOptions,
  type Round,
  type SeqRow,
} from './events.js';
import { SEEN_READ_COLUMNS } from './record.js';

export type { RescanEvent, ResolvedRescanOptions } from './events.js';

/**
 * Step 1: compares each enabled list whose version moved with `known`, writing its new entries to
 * `pending` and `known` on, in one transaction of the seen store, inside one read transaction of
 * the list store (so each list's version and its entries agree while another process imports).
 */
function startRound(db: Connection, store: HashStore): void {
  store.read(() =>
    writeRound(
      db,
      store,
      // The headers alone: a rescan needs versions and policy, not lists()' count of every entry.
      listHeaders(store).filter((l) => l.enabled),
    ),
  );
}

function writeRound(db: Connection, store: HashStore, lists: readonly ListHeader[]): void {
  const knownVersion = db.prepare<[string], { version: number }>('SELECT version FROM known_lists WHERE list = ?');
  const isKnown = db.prepare<[string, Buffer], { one: number }>(
    'SELECT 1 AS one FROM known WHERE list = ? AND key = ?',
  );
  const addPending = db.prepare('INSERT INTO pending (list, id, algorithm, hash) VALUES (?, ?, ?, ?)');
  db.exec('CREATE TEMP TABLE IF NOT EXISTS fresh (key BLOB PRIMARY KEY) WITHOUT ROWID');
  const addFresh = db.prepare('INSERT OR IGNORE INTO temp.fresh (key) VALUES (?)');
  const addKnown = db.prepare('INSERT OR IGNORE INTO known (list, key) VALUES (?, ?)');
  const forget = db.prepare('DELETE FROM known WHERE list = ? AND key NOT IN (SELECT key FROM temp.fresh)');
  db.transaction(() => {
    // Another process's rescan began a round since this one looked: that round is the one to finish.
    if (db.prepare('SELECT 1 FROM cursor').get() !== undefined) return;
    for (const list of lists) {
      const before = knownVersion.get(list.name)?.version;
      if (before === list.version) continue;
      db.exec('DELETE FROM temp.fresh');
      for (const entry of store.entries({ list: list.name })) {
        const key = entryKey(entry);
        addFresh.run(key);
        if (isKnown.get(list.name, key) === undefined) {
          addPending.run(list.name, entry.id, entry.algorithm, getAlgorithm(entry.algorithm).parse(entry.hash));
          addKnown.run(list.name, key);
        }
      }
      // What the list no longer holds is forgotten: an entry removed and added again is new again.
      forget.run(list.name);
      db.prepare(
        'INSERT INTO known_lists (list, version, previous) VALUES (?, ?, ?) ON CONFLICT (list) DO UPDATE SET version = excluded.version, previous = excluded.previous',
      ).run(list.name, list.version, before ?? null);
    }
    db.prepare('INSERT OR REPLACE INTO cursor (one, seq) VALUES (1, 0)').run();
  }).immediate();
}

/** The round's tables, from the seen store's `pending` and `known_lists` and the list store's current policy. */
function roundTables(db: Connection, store: HashStore, thresholds: Thresholds): Round {
  const policy = new Map(listHeaders(store).map((l) => [l.name, l]));
  const versions = new Map(
    db
      .prepare<[], { list: string; version: number }>('SELECT list, version FROM known_lists')
      .all()
      .map((r) => [r.list, r.version]),
  );
  return buildRound(
    db.prepare<[], PendingRow>('SELECT list, id, algorithm, hash FROM pending').iterate(),
    policy,
    versions,
    thresholds,
  );
}

/** Runs (or resumes) a round and yields its events; see the file's comment for the checkpoint. */
export async function* rescanRounds(
  db: Connection,
  store: HashStore,
  options: ResolvedRescanOptions,
): AsyncGenerator<RescanEvent, void, undefined> {
  const cursorOf = db.prepare<[], { seq: number }>('SELECT seq FROM cursor WHERE one = 1');
  // A round left by a crash is finished first, with the entries it had found.
  if (cursorOf.get() === undefined) startRound(db, store);
  const round = roundTables(db, store, options.thresholds);
  const next = db.prepare<[number, number, number], SeqRow>(
    `SELECT seq, ${SEEN_READ_COLUMNS} FROM seen WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?`,
  );
  const move = db.prepare('UPDATE cursor SET seq = ? WHERE one = 1');
  let cursor = (cursorOf.get() as { seq: number }).seq;
  while (round.tables.size > 0) {
    const rows = next.all(cursor, options.since, options.batchSize);
    if (rows.length === 0) break;
    for (const event of batchEvents(rows, round)) yield event;
    // Reached only when the consumer asked for the event after the batch's last: it has them all.
    cursor = (rows[rows.length - 1] as SeqRow).seq;
    move.run(cursor);
  }
  db.transaction(() => {
    db.exec('DELETE FROM pending');
    db.exec('DELETE FROM cursor');
  }).immediate();
}
