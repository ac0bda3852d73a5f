/**
 * The rescan: the entries lists gained since the last one, searched for every recorded upload.
 *
 * A round has three steps, each safe to interrupt. (1) The new entries are found by comparing each
 * changed list with the digests of the entries the last round took into account (`known`), and
 * written to `pending` in the same transaction that moves `known` on: a crash before it commits
 * leaves the last round's state, after it the round itself. (2) Recorded uploads are read in
 * sequence and searched several batches at a time (SEARCH_GROUP), and their events yielded batch
 * by batch; the cursor moves past a batch only when the consumer asks for the event after its
 * last, so a crash replays at most the batch in hand (at-least-once; each event's id is the same
 * on a replay). (3) Past the last upload, `pending` and the cursor are cleared in one transaction.
 */
import { getAlgorithm } from '../algorithms/registry.js';
import type { Connection } from '../store/driver.js';
import { listHeaders, matchableEntries, type HashStore } from '../store/store.js';
import type { ListHeader } from '../store/types.js';
import {
  buildRound,
  type KnownRow,
  type LateRound,
  lateNeeds,
  type RescanEvent,
  type ResolvedRescanOptions,
  type Round,
  type UploadBatch,
  type UploadDetails,
} from './events.js';
import { PassSearch } from './find-pool.js';
import { recordBlobs, recordedVersions, SEEN_HASHES_COLUMN, SEEN_VERSIONS_COLUMN, type SeenRow } from './record.js';

export type { RescanEvent, ResolvedRescanOptions } from './events.js';

/**
 * Step 1: compares each enabled list whose version moved with `known`, adding its new entries to
 * `known` under the new round's number, in one transaction of the seen store, inside one read
 * transaction of the list store (so each list's version and its entries agree while another
 * process imports). A round begins even when no list moved: uploads recorded late may need the
 * entries of earlier rounds.
 */
function startRound(db: Connection, store: HashStore): void {
  store.read(() =>
    writeRound(
      db,
      store,
      // The headers alone: a rescan needs versions and policy, not lists()' count of every entry.
      listHeaders(store),
    ),
  );
}

/**
 * Rows of `known` a round reads at a time while it compares a list with them: the comparison holds
 * one page, never a whole list (a list can hold millions of entries).
 */
const KNOWN_PAGE = 16_384;

/** A row of `known` as the comparison reads it: id, algorithm, hash. */
type KnownPageRow = [string, string, Buffer];

/**
 * Orders two ids as SQLite's BINARY collation does (the order of their UTF-8 bytes), which both
 * sides of the comparison come in. JavaScript's own order is that of UTF-16 code units: the same,
 * except where a character above U+FFFF meets one from U+E000 to U+FFFF.
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  if (x < 0xd800 && y < 0xd800) return x - y;
  // Whole strings: from `i` alone a surrogate pair could be cut in two.
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function writeRound(db: Connection, store: HashStore, lists: readonly ListHeader[]): void {
  const knownVersion = db.prepare<[string], { version: number }>('SELECT version FROM known_lists WHERE list = ?');
  const knownPage = db
    .prepare<[string, string, number], KnownPageRow>(
      'SELECT id, algorithm, hash FROM known WHERE list = ? AND id > ? ORDER BY id LIMIT ?',
    )
    .raw();
  const addKnown = db.prepare(
    'INSERT OR REPLACE INTO known (list, id, algorithm, hash, since, round) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const forget = db.prepare('DELETE FROM known WHERE list = ? AND id = ?');
  const setKnownVersion = db.prepare(
    'INSERT INTO known_lists (list, version, previous) VALUES (?, ?, ?) ON CONFLICT (list) DO UPDATE SET version = excluded.version, previous = excluded.previous',
  );
  db.transaction(() => {
    // Another process's rescan began a round since this one looked: that round is the one to finish.
    if (db.prepare('SELECT 1 FROM cursor').get() !== undefined) return;
    const last = db.prepare<[], { round: number; scanned: number }>('SELECT round, scanned FROM state').get() ?? {
      round: 0,
      scanned: 0,
    };
    const round = last.round + 1;
    // A list the store no longer has is forgotten whole: one made again under its name is new.
    const names = JSON.stringify(lists.map((l) => l.name));
    db.prepare('DELETE FROM known WHERE list NOT IN (SELECT value FROM json_each(?))').run(names);
    db.prepare('DELETE FROM known_lists WHERE list NOT IN (SELECT value FROM json_each(?))').run(names);
    for (const list of lists) {
      if (!list.enabled) continue;
      const before = knownVersion.get(list.name)?.version;
      if (before === list.version) continue;
      // The list's entries and what `known` holds of it, both in id order, compared in one pass:
      // an id `known` lacks, or holds with another hash or algorithm, is new (added, or changed);
      // an id the list no longer holds is forgotten, so that one removed and added again is new again.
      let page: KnownPageRow[] = [];
      let at = 0;
      let more = true;
      const nextKnown = (): KnownPageRow | undefined => {
        if (at === page.length && more) {
          // Read before this pass writes any row past the page's last id (writes go only before it).
          page = knownPage.all(
            list.name,
            page.length === 0 ? '' : (page[page.length - 1] as KnownPageRow)[0],
            KNOWN_PAGE,
          );
          more = page.length === KNOWN_PAGE;
          at = 0;
        }
        return page[at];
      };
      // Quarantined entries are left out as if the list did not hold them: a disable (which bumps
      // the version) forgets them here, an enable brings them back as new, to be rescanned.
      for (const entry of matchableEntries(store, list.name)) {
        let known = nextKnown();
        while (known !== undefined && compareIds(known[0], entry.id) < 0) {
          forget.run(list.name, known[0]);
          at++;
          known = nextKnown();
        }
        const hash = getAlgorithm(entry.algorithm).parse(entry.hash);
        if (known !== undefined && known[0] === entry.id) {
          at++;
          if (known[1] === entry.algorithm && known[2].equals(hash)) continue;
        }
        addKnown.run(list.name, entry.id, entry.algorithm, hash, list.version, round);
      }
      for (let known = nextKnown(); known !== undefined; at++, known = nextKnown()) forget.run(list.name, known[0]);
      setKnownVersion.run(list.name, list.version, before ?? null);
    }
    db.prepare('INSERT INTO cursor (one, seq, round, scanned) VALUES (1, 0, ?, ?)').run(round, last.scanned);
  }).immediate();
}

/** The round under way, as `cursor` holds it. */
interface Cursor {
  readonly seq: number;
  readonly round: number;
  readonly scanned: number;
}

/**
 * The round's tables (its new entries, from `known` and the list store's current policy) and,
 * when uploads recorded since the last pass were checked against older list versions, the late
 * tables: the entries of earlier rounds those uploads never saw.
 */
function roundTables(
  db: Connection,
  store: HashStore,
  cursor: Cursor,
  options: ResolvedRescanOptions,
): { main: Round; late: LateRound | undefined } {
  const policy = new Map(listHeaders(store).map((l) => [l.name, l]));
  const columns = 'list, id, algorithm, hash, since';
  const main = buildRound(
    db.prepare<[number], KnownRow>(`SELECT ${columns} FROM known WHERE round = ?`).iterate(cursor.round),
    policy,
    options.thresholds,
  );
  if (db.prepare('SELECT 1 FROM known WHERE round < ? LIMIT 1').get(cursor.round) === undefined)
    return { main, late: undefined };
  const known = new Map(
    db
      .prepare<[], { list: string; version: number }>('SELECT list, version FROM known_lists')
      .all()
      .map((r) => [r.list, r.version]),
  );
  const versions = db
    .prepare<[number, number], Pick<SeenRow, 'content_id' | 'versions'>>(
      `SELECT content_id, ${SEEN_VERSIONS_COLUMN} FROM seen WHERE seq > ? AND at >= ?`,
    )
    .iterate(cursor.scanned, options.since);
  const needs = lateNeeds(
    (function* () {
      for (const row of versions) yield recordedVersions(row);
    })(),
    known,
  );
  if (needs.size === 0) return { main, late: undefined };
  const older = db.prepare<[string, number, number], KnownRow>(
    `SELECT ${columns} FROM known WHERE list = ? AND round < ? AND since > ?`,
  );
  const round = buildRound(
    (function* () {
      for (const [list, need] of needs) yield* older.iterate(list, cursor.round, need);
    })(),
    policy,
    options.thresholds,
  );
  return { main, late: round.tables.size === 0 ? undefined : { round, after: cursor.scanned } };
}

/**
 * Uploads a pass searches together (several batches when `batchSize` is smaller): the batch kernel
 * sorts a call's hashes by table key so that a large table's buckets are read in order, which
 * pays only over tens of thousands of hashes a call (bench/rescan-kernel.bench.ts), 8 to 16 an
 * upload; and the search threads split each call. A group's records are a few MB.
 */
const SEARCH_GROUP = 16_384;

/**
 * Bytes of hashes a group reads past its first upload: SQLite builds a group's blob whole (and
 * refuses one past its length limit, a billion bytes by default), and SEARCH_GROUP uploads of long
 * animations would hold gigabytes. Many times a group of still images' blobs (a few MB).
 */
const GROUP_BYTES = 64 * 1024 * 1024;

/** Bytes before each upload's blob in a group's: its seq (8, big-endian) and its blob's length (4; all ones: none). */
const UPLOAD_HEAD = 12;

/** The length a group's blob gives an upload whose hashes the read left NULL (over their bound). */
const NO_BLOB = 0xffffffff;

/**
 * Each group of uploads, as one blob SQLite concatenates (each upload's seq, its blob's length, its
 * blob): one value a group rather than an array, a number and a Buffer an upload, which cost more
 * to make and collect than the search of their hashes. The window sums the blobs' lengths, so a
 * group stops once GROUP_BYTES are read. The blob is made as text (SQLite concatenates no blobs),
 * which keeps the bytes as they are in a UTF-8 database only. The window hands the rows on in seq
 * order, which an ORDER BY in the aggregate would sort again at a cost: {@link groupBlobs} checks it.
 */
const GROUP_SQL = `SELECT count(*), CAST(group_concat(unhex(printf('%016x%08x', seq, coalesce(octet_length(hashes), ${NO_BLOB}))) || coalesce(hashes, x''), x'') AS BLOB)
  FROM (SELECT seq, hashes, sum(coalesce(octet_length(hashes), 0)) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS upto
    FROM (SELECT seq, ${SEEN_HASHES_COLUMN} FROM seen WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?))
  WHERE upto - coalesce(octet_length(hashes), 0) < ${GROUP_BYTES}`;

/** A group's uploads: their seq and hashes blobs, as {@link UploadBatch} holds them. */
type GroupRead = Pick<UploadBatch, 'seq' | 'hashes'>;

/** The uploads of a blob {@link GROUP_SQL} made (`count` of them); undefined when not in seq order. */
export function groupBlobs(blob: Uint8Array, count: number): GroupRead | undefined {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.length);
  const seq = new Float64Array(count);
  const start = new Float64Array(count);
  const end = new Float64Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    seq[i] = view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4);
    if (i > 0 && (seq[i] as number) <= (seq[i - 1] as number)) return undefined;
    const length = view.getUint32(at + 8);
    at += UPLOAD_HEAD;
    start[i] = length === NO_BLOB ? -1 : at;
    if (length !== NO_BLOB) at += length;
    end[i] = at;
  }
  return { seq, hashes: { bytes: blob, start, end } };
}

/**
 * Reads a group of uploads from above `after`: as one blob a group ({@link GROUP_SQL}), or a row
 * an upload from a database of another text encoding (and, should SQLite ever concatenate out of
 * order, for that group).
 */
function groupReader(db: Connection, since: number, size: number): (after: number) => GroupRead {
  const rows = db
    .prepare<[number, number, number], [number, Uint8Array | null]>(
      `SELECT seq, ${SEEN_HASHES_COLUMN} FROM seen WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?`,
    )
    .raw();
  const byRow = (after: number): GroupRead => {
    const read = rows.all(after, since, size);
    return { seq: read.map((row) => row[0]), hashes: recordBlobs(read.map((row) => row[1])) };
  };
  if (db.pragma('encoding', { simple: true }) !== 'UTF-8') return byRow;
  const group = db.prepare<[number, number, number], [number, Uint8Array | null]>(GROUP_SQL).raw();
  return (after) => {
    const [count, blob] = group.get(after, since, size) as [number, Uint8Array | null];
    return blob === null ? { seq: [], hashes: recordBlobs([]) } : (groupBlobs(blob, count) ?? byRow(after));
  };
}

/** A group of uploads read and handed to the search, with its events to come. */
interface Group {
  readonly uploads: UploadBatch;
  /** The group's place of each upload a search found, by content id (filled as their records are read). */
  readonly place: ReadonlyMap<string, number>;
  readonly events: Promise<RescanEvent[]>;
}

/** The SQLite store's rescan options, resolved: the common ones and its search threads. */
export interface SqliteRescanOptions extends ResolvedRescanOptions {
  /** Search threads a pass may start (0: none); see {@link PassSearch}. */
  readonly workers: number;
}

/** Runs (or resumes) a round and yields its events; see the file's comment for the checkpoint. */
export async function* rescanRounds(
  db: Connection,
  store: HashStore,
  options: SqliteRescanOptions,
): AsyncGenerator<RescanEvent, void, undefined> {
  const cursorOf = db.prepare<[], Cursor>('SELECT seq, round, scanned FROM cursor WHERE one = 1');
  // A round left by a crash is finished first, with the entries it had found.
  if (cursorOf.get() === undefined) startRound(db, store);
  const start = cursorOf.get() as Cursor;
  const { main, late } = roundTables(db, store, start, options);
  // Every upload is read for its hashes alone, a group at a time; the rest of a record only for
  // the few uploads a search found.
  const next = groupReader(db, options.since, Math.max(options.batchSize, SEARCH_GROUP));
  const detailsOf = db.prepare<[number], UploadDetails>(
    `SELECT content_id, at, ${SEEN_VERSIONS_COLUMN} FROM seen WHERE seq = ?`,
  );
  const move = db.prepare('UPDATE cursor SET seq = ? WHERE one = 1');
  let cursor = start.seq;
  if (main.tables.size > 0 || late !== undefined) {
    const search = new PassSearch(main, late, options.workers);
    const readAhead = ({ seq, hashes }: GroupRead): Group => {
      // Content ids are unique in `seen`: each event's upload is found by its id.
      const place = new Map<string, number>();
      const details = (upload: number): UploadDetails | undefined => {
        const row = detailsOf.get(seq[upload] as number);
        if (row !== undefined) place.set(row.content_id, upload);
        return row;
      };
      const uploads = { seq, hashes, details };
      return { uploads, place, events: search.events(uploads) };
    };
    try {
      // Uploads are searched a group at a time (several batches), one group read ahead: while the
      // consumer takes a group's events, the next is searched (on the search threads, once they
      // run). The cursor still moves batch by batch, only past a delivered batch.
      let read = cursor;
      let inHand: Group | undefined;
      for (;;) {
        const group = next(read);
        const ahead = group.seq.length === 0 ? undefined : readAhead(group);
        // Awaited below, after the group in hand: never an unhandled rejection meanwhile.
        ahead?.events.catch(() => undefined);
        if (inHand !== undefined) {
          const events = await inHand.events;
          const { place, uploads } = inHand;
          let e = 0;
          for (let from = 0; from < uploads.seq.length; from += options.batchSize) {
            const to = Math.min(from + options.batchSize, uploads.seq.length);
            for (; e < events.length && (place.get((events[e] as RescanEvent).contentId) as number) < to; e++)
              yield events[e] as RescanEvent;
            // Reached only when the consumer asked for the event after the batch's last: it has them all.
            cursor = uploads.seq[to - 1] as number;
            move.run(cursor);
          }
        }
        if (ahead === undefined) break;
        read = ahead.uploads.seq[ahead.uploads.seq.length - 1] as number;
        inHand = ahead;
      }
    } finally {
      await search.close();
    }
  } else {
    // Nothing to search: every upload recorded so far has been searched against all it needs.
    cursor = (db.prepare('SELECT max(seq) AS seq FROM seen').get() as { seq: number | null }).seq ?? 0;
  }
  db.transaction(() => {
    db.prepare('INSERT OR REPLACE INTO state (one, round, scanned) VALUES (1, ?, ?)').run(
      start.round,
      Math.max(start.scanned, cursor),
    );
    db.exec('DELETE FROM cursor');
  }).immediate();
}
