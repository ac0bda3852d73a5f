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
import { createHash } from 'node:crypto';
import type { DihedralName } from '../algorithms/dihedral.js';
import { getAlgorithm, type AlgorithmName, type Thresholds } from '../algorithms/registry.js';
import type { ListEntry } from '../lists/entry.js';
import { buildTable, type MatcherTable } from '../search/tables.js';
import type { Connection } from '../store/driver.js';
import { listHeaders, type HashStore } from '../store/store.js';
import type { ListHeader } from '../store/types.js';
import { findMatches } from './find.js';
import { decodeSearched, recordedVersions, SEEN_READ_COLUMNS, type SeenRow } from './record.js';

/** One recorded upload found by an entry a list gained after the upload was checked. */
export interface RescanEvent {
  /**
   * The same for the same upload, entry and list version whenever it is found again (a rescan
   * resumed after a crash replays the events of the batch it was in): 32 hex digits.
   */
  readonly id: string;
  readonly contentId: string;
  readonly list: string;
  readonly entryId: string;
  /** The list's version in which the rescan found the entry new. */
  readonly listVersion: number;
  readonly algorithm: AlgorithmName;
  /** Hamming distance of the nearest hash of the upload (0 for exact hashes). */
  readonly distance: number;
  /** The threshold applied: the list's under its current policy, else the rescan's default. */
  readonly threshold: number;
  /** With dihedral hashes: the turn or flip of the upload that matched. */
  readonly transform?: DihedralName;
  /** True when the hash of what lies inside the upload's uniform border matched. */
  readonly trimmed?: true;
  /** For an animated upload: the frame that matched. */
  readonly frame?: number;
  /** When the upload was recorded. */
  readonly recordedAt: Date;
}

/** {@link SeenStore.rescan}'s options, resolved. */
export interface ResolvedRescanOptions {
  readonly since: number;
  readonly thresholds: Thresholds;
  readonly batchSize: number;
}

/** One new entry, as `pending` holds it. */
interface PendingRow {
  readonly list: string;
  readonly id: string;
  readonly algorithm: string;
  readonly hash: Uint8Array;
}

/** A recorded upload as a rescan reads it. */
type SeqRow = SeenRow & { readonly seq: number };

/** One algorithm's new entries: their table, each entry's threshold, its list's round version. */
interface RoundTable {
  readonly table: MatcherTable;
  readonly ofEntry: Uint8Array;
  readonly widest: number;
}

/** The digest `known` keeps of an entry: 16 bytes of SHA-256 over its algorithm, id and hash. */
function entryKey(entry: ListEntry): Buffer {
  return createHash('sha256').update(`${entry.algorithm}\u0000${entry.id}\u0000${entry.hash}`).digest().subarray(0, 16);
}

/** The event id of (upload, entry, list version). */
function eventId(contentId: string, list: string, entryId: string, version: number): string {
  return createHash('sha256')
    .update(`${contentId}\u0000${list}\u0000${entryId}\u0000${version}`)
    .digest('hex')
    .slice(0, 32);
}

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

/** The pending entries of enabled lists as one table per algorithm, with each entry's current threshold. */
function roundTables(
  db: Connection,
  store: HashStore,
  thresholds: Thresholds,
): { tables: Map<AlgorithmName, RoundTable>; versions: Map<string, number> } {
  const policy = new Map(listHeaders(store).map((l) => [l.name, l]));
  const versions = new Map(
    db
      .prepare<[], { list: string; version: number }>('SELECT list, version FROM known_lists')
      .all()
      .map((r) => [r.list, r.version]),
  );
  const byAlgorithm = new Map<AlgorithmName, ListEntry[]>();
  for (const row of db.prepare<[], PendingRow>('SELECT list, id, algorithm, hash FROM pending').iterate()) {
    if (policy.get(row.list)?.enabled !== true) continue; // disabled (or gone) since the round began
    const algorithm = getAlgorithm(row.algorithm);
    const entries = byAlgorithm.get(algorithm.name) ?? [];
    entries.push({ list: row.list, id: row.id, algorithm: algorithm.name, hash: algorithm.format(row.hash) });
    byAlgorithm.set(algorithm.name, entries);
  }
  const tables = new Map<AlgorithmName, RoundTable>();
  for (const [name, entries] of byAlgorithm) {
    const algorithm = getAlgorithm(name);
    const table = buildTable(algorithm, entries);
    const ofEntry = new Uint8Array(table.entries.count);
    for (let i = 0; i < ofEntry.length; i++) {
      const own = policy.get(table.entries.list(i))?.thresholds[name];
      ofEntry[i] = algorithm.kind === 'exact' ? 0 : (own ?? thresholds[name] ?? algorithm.defaultThreshold);
    }
    tables.set(name, { table, ofEntry, widest: ofEntry.reduce((a, b) => Math.max(a, b), 0) });
  }
  return { tables, versions };
}

/**
 * The events of one batch of uploads: per (upload, entry) the nearest of the upload's hashes (the
 * earliest on a tie, as `matchImage` keeps it), leaving out the lists an upload was checked
 * against at the round's version or later (it saw those entries then). In upload order, then
 * nearest first.
 */
function batchEvents(
  rows: readonly SeqRow[],
  round: { tables: ReadonlyMap<AlgorithmName, RoundTable>; versions: ReadonlyMap<string, number> },
): RescanEvent[] {
  const decoded = rows.map((row) => ({ row, queries: decodeSearched(row.hashes), versions: recordedVersions(row) }));
  const best = new Map<string, RescanEvent & { order: number; upload: number }>();
  for (const [name, { table, ofEntry, widest }] of round.tables) {
    // This algorithm's hashes of every upload of the batch, packed, with where each came from.
    const owners: { upload: number; query: number }[] = [];
    const width = table.algorithm.bits / 8;
    decoded.forEach(({ queries }, upload) =>
      queries.forEach((q, query) => {
        if (q.algorithm === name) owners.push({ upload, query });
      }),
    );
    const packed = new Uint8Array(owners.length * width);
    owners.forEach(({ upload, query }, i) =>
      packed.set((decoded[upload] as (typeof decoded)[number]).queries[query]?.hash as Uint8Array, i * width),
    );
    const hits = findMatches(table, packed, owners.length, { ofEntry, widest });
    for (let h = 0; h < hits.query.length; h++) {
      const { upload, query } = owners[hits.query[h] as number] as { upload: number; query: number };
      const { row, queries, versions } = decoded[upload] as (typeof decoded)[number];
      const entry = hits.entry[h] as number;
      const list = table.entries.list(entry);
      const version = round.versions.get(list) as number;
      const checked = versions[list];
      if (typeof checked === 'number' && checked >= version) continue;
      const entryId = table.entries.id(entry);
      const key = `${upload}\u0000${list}\u0000${entryId}`;
      const distance = hits.distance[h] as number;
      const seen = best.get(key);
      if (seen !== undefined && (seen.distance < distance || (seen.distance === distance && seen.order < query)))
        continue;
      const q = queries[query] as (typeof queries)[number];
      best.set(key, {
        id: eventId(row.content_id, list, entryId, version),
        contentId: row.content_id,
        list,
        entryId,
        listVersion: version,
        algorithm: name,
        distance,
        threshold: ofEntry[entry] as number,
        ...(q.transform === undefined ? {} : { transform: q.transform }),
        ...(q.trimmed ? { trimmed: true as const } : {}),
        ...(q.frame === undefined ? {} : { frame: q.frame }),
        recordedAt: new Date(row.at),
        order: query,
        upload,
      });
    }
  }
  return [...best.values()]
    .sort((a, b) => a.upload - b.upload || a.distance - b.distance || a.order - b.order || (a.id < b.id ? -1 : 1))
    .map(({ order: _order, upload: _upload, ...event }) => event);
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
