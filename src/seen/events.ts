/**
 * The rescan's store-agnostic part: the events a round's new entries give for a batch of recorded
 * uploads, and what a round keeps (the digest of each entry taken into account, each event's id).
 * A seen store (SQLite: src/seen/rescan.ts) finds the new entries, reads its uploads in sequence
 * and checkpoints; this file decides what each batch yields, so every store yields the same.
 */
import { createHash } from 'node:crypto';
import type { DihedralName } from '../algorithms/dihedral.js';
import { getAlgorithm, type AlgorithmName, type Thresholds } from '../algorithms/registry.js';
import type { ListEntry } from '../lists/entry.js';
import { HashwardenError } from '../errors.js';
import { MAX_PACKED_LISTS, PackedBuilder } from '../search/entry-table.js';
import {
  buildPackedTable,
  buildTable,
  type MatcherTable,
  type ResolvedSearch,
  resolveSearch,
} from '../search/tables.js';
import type { ListHeader } from '../store/types.js';
import type { SearchedQuery } from '../matcher/searched.js';
import { type FoundHits, findMatches, kernelTakes } from './find.js';
import {
  type PackedHashes,
  packSearched,
  recordBlob,
  type RecordBlobs,
  recordBlobs,
  recordedVersions,
  searchedAt,
  type SeenRow,
} from './record.js';

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

/** One entry a rescan took into account, as `known` holds it. */
export interface KnownRow {
  readonly list: string;
  readonly id: string;
  readonly algorithm: string;
  readonly hash: Uint8Array;
  /** The list's version when a round first found the entry new: its events' `listVersion`. */
  readonly since: number;
}

/** A recorded upload as a rescan reads it. */
export type SeqRow = SeenRow & { readonly seq: number };

/** What an event needs of a record besides its hashes: read only for the uploads a search found. */
export type UploadDetails = Pick<SeenRow, 'content_id' | 'at' | 'versions'>;

/**
 * A batch of recorded uploads as the search takes them: each upload's `seq` and hashes blob, by
 * position (the blobs back to back in one buffer: no object an upload), and the rest of its record
 * on demand (a store reads it for the few uploads found).
 */
export interface UploadBatch {
  readonly seq: ArrayLike<number>;
  readonly hashes: RecordBlobs;
  /** The record of the batch's upload `upload`; undefined when it was deleted since (it gives no events). */
  readonly details: (upload: number) => UploadDetails | undefined;
}

/** A batch of whole rows as an {@link UploadBatch}. */
function rowsBatch(rows: readonly SeqRow[]): UploadBatch {
  return {
    seq: rows.map((row) => row.seq),
    hashes: recordBlobs(rows.map((row) => row.hashes)),
    details: (upload) => rows[upload],
  };
}

/** One algorithm's entries of a round: their table, each entry's threshold and `since`. */
export interface RoundTable {
  readonly table: MatcherTable;
  readonly ofEntry: Uint8Array;
  readonly widest: number;
  /** The list version each entry was found new in, by position in the table. */
  readonly since: Float64Array;
}

/** What a round searches: one table per algorithm. */
export interface Round {
  readonly tables: ReadonlyMap<AlgorithmName, RoundTable>;
}

/**
 * The entries of earlier rounds a round also searches for uploads recorded after those rounds'
 * passes (`seq` above `after`): an upload checked against a list before an earlier round's entries
 * but recorded once that round had passed (a matcher reloading late, a record written late).
 */
export interface LateRound {
  readonly round: Round;
  readonly after: number;
}

/** The digest `known` keeps of an entry: 16 bytes of SHA-256 over its algorithm, id and hash. */
export function entryKey(entry: ListEntry): Buffer {
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
 * A round's tables from its entries: those of lists still enabled under `policy` (the lists'
 * current headers), one table per algorithm, each entry with its list's current threshold (else
 * the rescan's, else the algorithm's default) and the version it was found new in. Entries are
 * packed as they come (hashes back to back, ids in one column), never an object each: a round can
 * hold millions. A table the batch kernel searches gets no index of its own (the kernel builds
 * its own); any other, the matcher's.
 */
export function buildRound(
  rows: Iterable<KnownRow>,
  policy: ReadonlyMap<string, ListHeader>,
  thresholds: Thresholds,
): Round {
  // The packed columns number lists in 16 bits, as a matcher does; past that (never seen in
  // practice), entry objects.
  if (policy.size > MAX_PACKED_LISTS) return objectRound(rows, policy, thresholds);
  const packing = new Map<AlgorithmName, { builder: PackedBuilder; since: number[]; lists: Map<string, number> }>();
  for (const row of rows) {
    if (!rescanned(policy.get(row.list))) continue; // disabled (or gone) since the round began, or an allow list
    const algorithm = getAlgorithm(row.algorithm);
    let pack = packing.get(algorithm.name);
    if (pack === undefined) {
      pack = { builder: new PackedBuilder(algorithm.bits / 8), since: [], lists: new Map() };
      packing.set(algorithm.name, pack);
    }
    let list = pack.lists.get(row.list);
    if (list === undefined) {
      list = pack.lists.size;
      pack.lists.set(row.list, list);
    }
    if (row.hash.length !== algorithm.bits / 8)
      throw new HashwardenError(
        'ERR_STORE',
        `Seen store: entry ${JSON.stringify(row.id)} of list ${JSON.stringify(row.list)} holds a ${algorithm.name} hash of ${row.hash.length} bytes, not ${algorithm.bits / 8}`,
      );
    pack.builder.add(list, row.hash, { id: row.id });
    pack.since.push(row.since);
  }
  const tables = new Map<AlgorithmName, RoundTable>();
  for (const [name, { builder, since: found, lists }] of packing) {
    const algorithm = getAlgorithm(name);
    const { hashes, columns } = builder.done([...lists.keys()]);
    let since = Float64Array.from(found);
    const search = kernelTakes(algorithm, builder.count) ? LINEAR : undefined;
    const table = buildPackedTable(algorithm, hashes, columns, search, false, (order) => {
      since = Float64Array.from(order, (i) => found[i] as number);
    });
    tables.set(name, roundTable(table, since, policy, thresholds));
  }
  return { tables };
}

/** The search a round's kernel table is built with: none beyond the hashes, which the kernel indexes. */
const LINEAR = resolveSearch({ tier: 'linear' }, 'search') as ResolvedSearch;

/** A round's table with each entry's threshold under the lists' current policy. */
function roundTable(
  table: MatcherTable,
  since: Float64Array,
  policy: ReadonlyMap<string, ListHeader>,
  thresholds: Thresholds,
): RoundTable {
  const algorithm = table.algorithm;
  const ofEntry = new Uint8Array(table.entries.count);
  const byList = new Map<string, number>();
  for (let i = 0; i < ofEntry.length; i++) {
    const list = table.entries.list(i);
    let threshold = byList.get(list);
    if (threshold === undefined) {
      const own = policy.get(list)?.thresholds[algorithm.name];
      threshold = algorithm.kind === 'exact' ? 0 : (own ?? thresholds[algorithm.name] ?? algorithm.defaultThreshold);
      byList.set(list, threshold);
    }
    ofEntry[i] = threshold;
  }
  return { table, ofEntry, widest: ofEntry.reduce((a, b) => Math.max(a, b), 0), since };
}

/**
 * True for a list whose new entries a rescan searches: enabled, and a block list. An allow list's
 * entries are known-good images: a recorded upload they match is no hit to report.
 */
function rescanned(list: ListHeader | undefined): boolean {
  return list?.enabled === true && list.action !== 'allow';
}

/** {@link buildRound} with an object an entry: for more lists than packed columns number. */
function objectRound(rows: Iterable<KnownRow>, policy: ReadonlyMap<string, ListHeader>, thresholds: Thresholds): Round {
  const byAlgorithm = new Map<AlgorithmName, { entries: ListEntry[]; since: number[] }>();
  for (const row of rows) {
    if (!rescanned(policy.get(row.list))) continue;
    const algorithm = getAlgorithm(row.algorithm);
    const found = byAlgorithm.get(algorithm.name) ?? { entries: [], since: [] };
    found.entries.push({ list: row.list, id: row.id, algorithm: algorithm.name, hash: algorithm.format(row.hash) });
    found.since.push(row.since);
    byAlgorithm.set(algorithm.name, found);
  }
  const tables = new Map<AlgorithmName, RoundTable>();
  for (const [name, { entries, since }] of byAlgorithm) {
    const table = buildTable(getAlgorithm(name), entries);
    // An exact table sorts its entries: each one's `since` follows it by (list, id), unique in a round.
    const sinceOf = new Map(entries.map((e, i) => [`${e.list}\u0000${e.id}`, since[i] as number]));
    const ordered = Float64Array.from(
      { length: table.entries.count },
      (_, i) => sinceOf.get(`${table.entries.list(i)}\u0000${table.entries.id(i)}`) as number,
    );
    tables.set(name, roundTable(table, ordered, policy, thresholds));
  }
  return { tables };
}

/**
 * Per list, what the late tables must hold for `versions` (the lists' versions each late upload was
 * checked against): entries found new after the lowest of them, -1 when some upload was not
 * checked against the list at all. Lists no late upload needs anything of are absent.
 */
export function lateNeeds(
  versions: Iterable<Readonly<Record<string, number>>>,
  known: ReadonlyMap<string, number>,
): Map<string, number> {
  const needs = new Map<string, number>();
  for (const checked of versions) {
    for (const [list, current] of known) {
      const v = checked[list];
      const at = typeof v === 'number' ? v : -1;
      // Checked at the list's latest known version or later: every entry known so far was there.
      if (at >= current) continue;
      const need = needs.get(list);
      if (need === undefined || at < need) needs.set(list, at);
    }
  }
  return needs;
}

/** One search a batch needs: a round's table and the batch's hashes of its algorithm it covers. */
export interface BatchSearch {
  readonly round: RoundTable;
  readonly algorithm: AlgorithmName;
  /** The hashes searched, packed; `count` of them. */
  readonly hashes: Uint8Array;
  readonly count: number;
  /** Each searched hash's place among the batch's packed hashes of the algorithm (absent: the same place). */
  readonly places?: Uint32Array;
}

/** A batch of uploads made ready to search: their hashes packed per algorithm, and the searches. */
export interface PlannedBatch {
  readonly uploads: UploadBatch;
  readonly packed: ReadonlyMap<AlgorithmName, PackedHashes>;
  readonly searches: readonly BatchSearch[];
}

/** Whether every one of `seq` is above `after`. */
function allAfter(seq: ArrayLike<number>, after: number): boolean {
  for (let i = 0; i < seq.length; i++) if ((seq[i] as number) <= after) return false;
  return true;
}

/**
 * What {@link batchEvents} searches for `rows`: every upload's hashes against `main`, and those of
 * uploads recorded after `late.after` against `late.round`. The hashes are packed from the
 * records' blobs without an object per hash; a record becomes objects only when a search found it.
 */
export function planBatch(rows: readonly SeqRow[] | UploadBatch, main: Round, late?: LateRound): PlannedBatch {
  const uploads = 'details' in rows ? rows : rowsBatch(rows);
  const wanted = new Set([...main.tables.keys(), ...(late?.round.tables.keys() ?? [])]);
  const packed = packSearched(uploads.hashes, wanted);
  const searches: BatchSearch[] = [];
  const passes = late === undefined ? [{ round: main, after: -1 }] : [{ round: main, after: -1 }, late];
  for (const { round, after } of passes) {
    for (const [algorithm, table] of round.tables) {
      const all = packed.get(algorithm);
      if (all === undefined) continue;
      if (allAfter(uploads.seq, after)) {
        searches.push({ round: table, algorithm, hashes: all.hashes, count: all.count });
        continue;
      }
      const width = all.hashes.length / all.count;
      const kept: number[] = [];
      for (let k = 0; k < all.count; k++) if ((uploads.seq[all.record[k] as number] as number) > after) kept.push(k);
      if (kept.length === 0) continue;
      const hashes = new Uint8Array(kept.length * width);
      kept.forEach((k, i) => hashes.set(all.hashes.subarray(k * width, (k + 1) * width), i * width));
      searches.push({ round: table, algorithm, hashes, count: kept.length, places: Uint32Array.from(kept) });
    }
  }
  return { uploads, packed, searches };
}

/**
 * The events of a planned batch given each of its searches' hits (`found[i]` those of
 * `batch.searches[i]`, as `findMatches` gives them): see {@link batchEvents}.
 */
export function plannedEvents(batch: PlannedBatch, found: readonly FoundHits[]): RescanEvent[] {
  const { uploads, packed } = batch;
  // An upload's record is read, and its list versions parsed (checked then: ERR_STORE when damaged),
  // only when a search found it.
  const records = new Map<number, { row: UploadDetails; versions: Record<string, number> } | null>();
  const recordAt = (upload: number) => {
    let record = records.get(upload);
    if (record === undefined) {
      const row = uploads.details(upload);
      records.set(upload, (record = row === undefined ? null : { row, versions: recordedVersions(row) }));
    }
    return record;
  };
  const best = new Map<string, RescanEvent & { order: number; upload: number }>();
  batch.searches.forEach(({ round, algorithm: name, places }, i) => {
    const { table, ofEntry, since } = round;
    const all = packed.get(name) as PackedHashes;
    const hits = found[i] as FoundHits;
    for (let h = 0; h < hits.query.length; h++) {
      const place = places === undefined ? (hits.query[h] as number) : (places[hits.query[h] as number] as number);
      const upload = all.record[place] as number;
      const query = all.position[place] as number;
      const record = recordAt(upload);
      if (record === null) continue;
      const { row } = record;
      const entry = hits.entry[h] as number;
      const list = table.entries.list(entry);
      const version = since[entry] as number;
      const checked = record.versions[list];
      if (typeof checked === 'number' && checked >= version) continue;
      const entryId = table.entries.id(entry);
      const key = `${upload}\u0000${list}\u0000${entryId}`;
      const distance = hits.distance[h] as number;
      const seen = best.get(key);
      if (seen !== undefined && (seen.distance < distance || (seen.distance === distance && seen.order < query)))
        continue;
      // Only the hash found is unpacked into an object, when it is the nearest so far.
      const q = searchedAt(recordBlob(uploads.hashes, upload), query) as SearchedQuery;
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
  });
  return [...best.values()]
    .sort((a, b) => a.upload - b.upload || a.distance - b.distance || a.order - b.order || (a.id < b.id ? -1 : 1))
    .map(({ order: _order, upload: _upload, ...event }) => event);
}

/**
 * The events of one batch of uploads: per (upload, entry) the nearest of the upload's hashes (the
 * earliest on a tie, as `matchImage` keeps it), leaving out an entry for an upload checked against
 * its list at the version the entry was found new in or later (it saw the entry then). `main` is
 * searched for every upload, `late` for those recorded after its bound. In upload order, then
 * nearest first.
 */
export function batchEvents(rows: readonly SeqRow[], main: Round, late?: LateRound): RescanEvent[] {
  const batch = planBatch(rows, main, late);
  return plannedEvents(
    batch,
    batch.searches.map((s) => findMatches(s.round.table, s.hashes, s.count, s.round)),
  );
}
