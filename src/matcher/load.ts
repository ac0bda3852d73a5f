/**
 * How a matcher's state is read from its sources: entries in hand, a list store (SQLite, or a
 * connected store such as PostgreSQL's), a snapshot. Each returns the tables and lists a matcher
 * searches, so that `Matcher.open`, `openSnapshot`, `follow` and `reload` build them one way.
 */
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import { HashwardenError } from '../errors.js';
import type { ListEntry } from '../lists/entry.js';
import { MAX_PACKED_LISTS } from '../search/entry-table.js';
import { buildPackedTables, buildTable, reindexTable, type MatcherTable } from '../search/tables.js';
import { type PackedVpdq, VpdqIndex } from '../search/vpdq.js';
import type { ResolvedSearch } from '../search/tables.js';
import {
  fileSignature,
  makeState,
  nonEmpty,
  type Origin,
  type ResolvedMatcherOptions,
  type State,
  storeState,
} from './state.js';
import { chooseLists, listSignature } from './store-source.js';

/** What a matcher searches, built from one source: a table per algorithm, and the listed videos. */
export interface Held {
  readonly tables: Map<AlgorithmName, MatcherTable>;
  /** The vPDQ entries, one video each; undefined when the source holds none. */
  readonly videos: VpdqIndex | undefined;
}

/**
 * The entries' tables, one per algorithm, each searched as `options.search` says, and their vPDQ
 * entries in one `VpdqIndex` (whose frame index the same option picks).
 */
export function heldOf(entries: readonly ListEntry[], options: ResolvedMatcherOptions): Held {
  const grouped = new Map<AlgorithmName, ListEntry[]>();
  const videos: ListEntry[] = [];
  for (const entry of entries) {
    if (entry.algorithm === VPDQ_ALGORITHM) {
      videos.push(entry);
      continue;
    }
    let group = grouped.get(entry.algorithm);
    if (group === undefined) {
      group = [];
      grouped.set(entry.algorithm, group);
    }
    group.push(entry);
  }
  const tables = new Map<AlgorithmName, MatcherTable>();
  for (const [name, group] of grouped) tables.set(name, buildTable(getAlgorithm(name), group, options.search));
  return {
    tables,
    videos: videos.length === 0 ? undefined : VpdqIndex.fromEntries(videos, videoOptions(options)),
  };
}

/**
 * The options of a matcher's `VpdqIndex`: its frame index picked as the tables' are. No per-list
 * thresholds: a list's policy holds thresholds of the registry's algorithms only, so every list's
 * videos match at pytx's defaults unless a call says otherwise (docs/video.md).
 */
function videoOptions(options: ResolvedMatcherOptions): { search?: ResolvedSearch } {
  return options.search === undefined ? {} : { search: options.search };
}

/**
 * The listed videos of packed entries (a store's read, a snapshot's section), or undefined when
 * there are none. A video the index refuses (bytes no packed frame, an id twice) makes the whole
 * source refused with `code`, naming `source`: a matcher serves every entry of its lists or none.
 */
export function packedVideos(
  packed: PackedVpdq | undefined,
  options: ResolvedMatcherOptions,
  code: 'ERR_STORE' | 'ERR_SNAPSHOT_FORMAT',
  source: string,
): VpdqIndex | undefined {
  if (packed === undefined || packed.columns.listIndex.length === 0) return undefined;
  try {
    return VpdqIndex.fromPacked(packed, videoOptions(options));
  } catch (error) {
    if (!(error instanceof HashwardenError) || error.code === code) throw error;
    throw new HashwardenError(code, `${source}: vPDQ entries: ${error.message}`, { cause: error });
  }
}

/**
 * Reads a store's lists (all enabled ones, or those named) and their entries in one read
 * transaction. With `unless`, returns undefined when the lists' versions and policy still
 * give that signature (nothing to reload).
 */
export async function loadStore(
  origin: Origin,
  options: ResolvedMatcherOptions,
  unless: string | undefined,
): Promise<State | undefined> {
  if (origin.store !== undefined) {
    const read = await origin.store.readPacked(origin.lists, unless);
    if (read === undefined) return undefined;
    const tables = buildPackedTables(read.packed, options.search);
    const label = origin.store.label;
    const videos = packedVideos(read.videos, options, 'ERR_STORE', label);
    return storeState(read.lists, tables, read.signature, options, label, videos);
  }
  let sqlite: typeof import('../store/store.js');
  try {
    sqlite = await import('../store/store.js');
  } catch (error) {
    throw new HashwardenError('ERR_MODULE_LOAD', `Cannot load the SQLite store module: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const store = sqlite.HashStore.open(origin.path, { readonly: true });
  const label = `SQLite store ${origin.path}`;
  try {
    return store.read(() => {
      const held = sqlite.listHeaders(store);
      const signature = listSignature(held);
      if (signature === unless) return undefined;
      const chosen = chooseLists(held, origin.lists, label);
      // The store's vPDQ entries join here, read packed as the others are (`PackedVpdq`) and given
      // to `packedVideos`, once the SQLite store reads them; until then a SQLite store's lists are
      // matched by their image entries only.
      const { tables, videos }: Held =
        chosen.length <= MAX_PACKED_LISTS
          ? {
              tables: buildPackedTables(
                sqlite.packedEntries(
                  store,
                  chosen.map((l) => l.name),
                ),
                options.search,
              ),
              videos: undefined,
            }
          : heldOf(
              chosen.flatMap((l) => [...sqlite.matchableEntries(store, l.name)]),
              options,
            );
      return storeState(chosen, tables, signature, options, label, videos);
    });
  } finally {
    store.close();
  }
}

/**
 * A snapshot's tables and lists; its signature is the file's identity (a rewrite is a rename).
 * Every way a matcher loads a snapshot comes here, so each is checked against the trusted keys
 * and refused (ERR_SNAPSHOT_ROLLBACK) when its sequence is below `floor`.
 */
export async function loadSnapshot(path: string, options: ResolvedMatcherOptions, floor: number): Promise<State> {
  const { readTrusting } = await import('../snapshot/read.js');
  // Taken before reading, so a file replaced meanwhile is read again by the next reload; when
  // it cannot be taken, readSnapshot says why in its own words.
  const before = await fileSignature(path).catch(() => '');
  const snapshot = await readTrusting(path, options.trust);
  if (snapshot.sequence < floor)
    throw new HashwardenError(
      'ERR_SNAPSHOT_ROLLBACK',
      `Snapshot ${path}: sequence ${snapshot.sequence} is lower than ${floor}, the lowest accepted (allowRollback to go back)`,
    );
  const search = options.search;
  const tables =
    search === undefined
      ? snapshot.tables
      : new Map([...snapshot.tables].map(([name, table]) => [name, reindexTable(table, search)]));
  const lists = new Map(snapshot.lists.map((l) => [l.name, Object.freeze({ ...l })]));
  const videos = packedVideos(snapshot.packedVideos, options, 'ERR_SNAPSHOT_FORMAT', `Snapshot ${path}`);
  return nonEmpty(makeState(tables, lists, before, snapshot.sequence, videos), options, `Snapshot ${path}`);
}
