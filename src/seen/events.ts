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
import type { SearchedQuery } from '../matcher/searched.js';
import { buildTable, type MatcherTable } from '../search/tables.js';
import type { ListHeader } from '../store/types.js';
import { findMatches } from './find.js';
import { decodeSearched, packSearched, recordedVersions, type SeenRow } from './record.js';

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
export interface PendingRow {
  readonly list: string;
  readonly id: string;
  readonly algorithm: string;
  readonly hash: Uint8Array;
}

/** A recorded upload as a rescan reads it. */
export type SeqRow = SeenRow & { readonly seq: number };

/** One algorithm's new entries: their table, each entry's threshold, its list's round version. */
export interface RoundTable {
  readonly table: MatcherTable;
  readonly ofEntry: Uint8Array;
  readonly widest: number;
}

/** A round's search: one table per algorithm of its new entries, and the version each list was found new in. */
export interface Round {
  readonly tables: ReadonlyMap<AlgorithmName, RoundTable>;
  readonly versions: ReadonlyMap<string, number>;
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
 * The round's tables from its pending entries: those of lists still enabled under `policy` (the
 * lists' current headers), one table per algorithm, each entry with its list's current threshold
 * (else the rescan's, else the algorithm's default).
 */
export function buildRound(
  pending: Iterable<PendingRow>,
  policy: ReadonlyMap<string, ListHeader>,
  versions: ReadonlyMap<string, number>,
  thresholds: Thresholds,
): Round {
  const byAlgorithm = new Map<AlgorithmName, ListEntry[]>();
  for (const row of pending) {
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
export function batchEvents(rows: readonly SeenRow[], round: Round): RescanEvent[] {
  const versionsOf = rows.map(recordedVersions);
  const packed = packSearched(rows.map((row) => row.hashes));
  // Records are unpacked into objects only when a search found them: a few of a batch.
  const unpacked = new Map<number, SearchedQuery[]>();
  const best = new Map<string, RescanEvent & { order: number; upload: number }>();
  for (const [name, { table, ofEntry, widest }] of round.tables) {
    const hashes = packed.get(name);
    if (hashes === undefined) continue;
    const hits = findMatches(table, hashes.hashes, hashes.count, { ofEntry, widest });
    for (let h = 0; h < hits.query.length; h++) {
      const upload = hashes.record[hits.query[h] as number] as number;
      const query = hashes.position[hits.query[h] as number] as number;
      const row = rows[upload] as SeenRow;
      const versions = versionsOf[upload] as Record<string, number>;
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
      let queries = unpacked.get(upload);
      if (queries === undefined) unpacked.set(upload, (queries = decodeSearched(row.hashes)));
      const q = queries[query] as SearchedQuery;
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
