/**
 * The {@link HashStore} class: its state is one {@link StoreContext} (the connection and its
 * statements), and each method checks nothing itself but hands the context to the file of its
 * concern: `schema.ts` (opening), `staged-import.ts`, `ordered-import.ts` and `import-file.ts`
 * (imports), `reads.ts` and `policy.ts`.
 */
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError } from '../errors.js';
import type { EntryAlgorithm, ListEntry } from '../lists/entry.js';
import { vpdqDefaultId } from '../lists/vpdq-entry.js';
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import type { PackedEntries } from '../search/entry-table.js';
import type { PackedVpdq } from '../search/vpdq.js';
import { storeError, storeRows, type StoreContext } from './context.js';
import { importFile } from './import-file.js';
import { readPacked, readVideos } from './load.js';
import { MAX_VPDQ_HASH_BYTES, storedVpdqHash } from './vpdq.js';
import { setListPolicy } from './policy.js';
import {
  checkpoint,
  count,
  entries,
  entry,
  history,
  listHeaders as readListHeaders,
  lists,
  read,
  readAsync,
} from './reads.js';
import { disableEntry, enableEntry, quarantined, quarantinedIds } from './quarantine.js';
import { openStore, resolveStoreOptions } from './schema.js';
import { importEntries, importRows } from './staged-import.js';
import type {
  DisableEntryOptions,
  EntryFilter,
  ImportFileOptions,
  ImportFileResult,
  ImportOptions,
  ImportRecord,
  ImportResult,
  ImportRow,
  ImportRowsOptions,
  ImportSummary,
  ListHeader,
  ListInfo,
  ListPolicyChange,
  QuarantinedEntry,
  StoreOptions,
} from './types.js';

export type { ListHeader };

/** Each store's context, for the package's own readers outside the class (`packedEntries`). */
const contexts = new WeakMap<HashStore, StoreContext>();

/**
 * The entries of the lists named packed per algorithm (`load.ts`), read as `store.entries()`
 * would read them, list by list; call it in `store.read`. Internal: `Matcher.open` and
 * `hashwarden export` use it; not part of the package's API.
 */
export function packedEntries(store: HashStore, lists: readonly string[]): Map<AlgorithmName, PackedEntries> {
  return readPacked(contexts.get(store) as StoreContext, lists);
}

/**
 * The vPDQ entries of the lists named (`load.ts`), packed, each list numbered by its place in
 * `lists` as {@link packedEntries} numbers it, quarantined ones left out; undefined when there are
 * none. Call it in the same `store.read` as `packedEntries`, so both are one version of the store.
 * Internal, as `packedEntries`: `Matcher.open` and snapshots use it.
 */
export function packedVideos(store: HashStore, lists: readonly string[]): PackedVpdq | undefined {
  return readVideos(contexts.get(store) as StoreContext, lists);
}

/**
 * The entries of `list` a matcher may match, as `store.entries({ list })` gives them without
 * those quarantined now. Call it in `store.read`, so the quarantines and entries are one version.
 * Internal, as `packedEntries`: the object load of `Matcher.open` and the rescan use it.
 */
export function* matchableEntries(store: HashStore, list: string): Generator<ListEntry> {
  const ctx = contexts.get(store) as StoreContext;
  const off = quarantinedIds(ctx, list);
  for (const entry of entries(ctx, { list })) if (!off.has(entry.id)) yield entry;
}

/**
 * The lists with their versions and policy but not their counts (`reads.ts`), for loads that
 * count the entries they read instead of counting them first. Internal, as `packedEntries`.
 */
export function listHeaders(store: HashStore): ListHeader[] {
  return readListHeaders(contexts.get(store) as StoreContext);
}

/** Longest hash any algorithm has, in bytes (SHA-256): a longer stored one is never loaded. */
const MAX_HASH_BYTES = 32;

/**
 * Each (algorithm, hash) the lists named hold once, as an entry of the first of those lists (by
 * name) holding it, id `<algorithm>:<hash>` (a vPDQ entry's `vpdq:<SHA-256 of its signal text>`):
 * what `export --format text|hex|pytx` writes. Sorted by that id (byte order), so importing the
 * file takes the ordered way. SQLite sorts (on disk for a large store), so memory does not grow with
 * the lists; vPDQ entries, whose ids SQLite cannot make, come last, sorted here (they are few).
 * Call it in `store.read`. Internal, as `packedEntries`.
 */
export function* distinctHashes(
  store: HashStore,
  lists: readonly string[],
  algorithms: readonly EntryAlgorithm[],
): Generator<ListEntry> {
  const ctx = contexts.get(store) as StoreContext;
  type Row = { algorithm: string; bytes: Uint8Array | null; list: string };
  const statement = ctx.db.prepare<[string, string], Row>(
    `SELECT algorithm, CASE WHEN length(hash) <= iif(algorithm = '${VPDQ_ALGORITHM}', ${MAX_VPDQ_HASH_BYTES}, ${MAX_HASH_BYTES}) THEN hash END AS bytes, min(list) AS list
     FROM entries
     WHERE list IN (SELECT value FROM json_each(?)) AND algorithm IN (SELECT value FROM json_each(?))
     GROUP BY algorithm, hash ORDER BY algorithm || ':', bytes`,
  );
  const params: [string, string] = [JSON.stringify(lists), JSON.stringify(algorithms)];
  const videos: ListEntry[] = [];
  for (const row of storeRows(ctx.path, () => statement.iterate(...params))) {
    const video = row.algorithm === VPDQ_ALGORITHM;
    if (row.bytes === null) {
      throw new HashwardenError(
        'ERR_STORE',
        `SQLite store ${ctx.path}: a ${row.algorithm} hash longer than ${video ? MAX_VPDQ_HASH_BYTES : MAX_HASH_BYTES} bytes in list ${JSON.stringify(row.list)}`,
      );
    }
    let hash: string;
    try {
      hash = video ? storedVpdqHash(row.bytes) : getAlgorithm(row.algorithm).format(row.bytes);
    } catch (error) {
      const message = `bad ${row.algorithm} hash in list ${JSON.stringify(row.list)}: ${(error as Error).message}`;
      throw new HashwardenError('ERR_STORE', `SQLite store ${ctx.path}: ${message}`, { cause: error });
    }
    if (video) videos.push({ id: vpdqDefaultId(hash), list: row.list, algorithm: VPDQ_ALGORITHM, hash });
    else yield { id: `${row.algorithm}:${hash}`, list: row.list, algorithm: row.algorithm as AlgorithmName, hash };
  }
  // An import stores the packing of the signal text's own frames: one video, one packed form, one row here.
  yield* videos.sort((a, b) => Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
}

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
  readonly #ctx: StoreContext;

  private constructor(ctx: StoreContext) {
    this.path = ctx.path;
    this.#ctx = ctx;
    contexts.set(this, ctx);
  }

  /**
   * Opens (by default creating) the store at `path`. Throws `ERR_STORE` when the file cannot be
   * opened, is not SQLite, is a SQLite database without the hashwarden tables, holds a trigger,
   * view, table or index the schema does not define (a store may come from elsewhere: it is
   * refused before anything runs, and SQLite's `trusted_schema` is off), has another schema
   * version, or is missing with `create: false`; `ERR_MISSING_DEPENDENCY` when better-sqlite3 is
   * not installed (it is loaded here, on the first open, not when `hashwarden/sqlite` is
   * imported); argument errors are TypeError / RangeError. A new file gets `options.mode` (default
   * 0600), also when `path` is a symbolic link to a missing file. An older store (schema version
   * 1 to 3) is upgraded when opened for writing.
   *
   * @example
   * ```ts
   * const store = HashStore.open('hashes.db', { readonly: true });
   * ```
   */
  static open(path: string, options?: StoreOptions): HashStore {
    return new HashStore(openStore(path, resolveStoreOptions(path, options)));
  }

  /**
   * Adds or replaces entries by (list, id), all in one transaction: if any entry is invalid
   * (checked with `normalizeEntry`, so plain objects are accepted) or the write fails, nothing is
   * stored. Every list that appears (and every list in `replace`) gets its version bumped, even
   * when nothing in it changed (the import is recorded), and one summary, in order of first
   * appearance. A (list, id) repeated within one call keeps the last one. Returns `[]` for no
   * entries and nothing to replace.
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
    return importEntries(this.#ctx, entries, options);
  }

  /**
   * Imports rows as a reader yields them (`streamListFile` in `hashwarden`, or any iterable of
   * batches), adding, updating and removing entries by (list, id), all in one transaction held
   * open until the last batch: readers (other connections, other processes) see the previous
   * version until the commit, then the new one whole, and a failure, an exception from the rows,
   * or the process being killed leaves the previous version intact. Memory does not grow with the
   * rows: they are staged in a temporary table, whose key also catches a (list, id) given twice.
   *
   * A removal of an id the list does not hold does nothing (a delta can be applied twice); removals
   * that would leave a list that held entries empty are refused unless `allowEmpty`. With
   * `replace`, each replaced list ends up holding exactly the import's entries for it.
   * Throws (and rolls back) as {@link HashStore.importEntries}; a repeated (list, id) is
   * `ERR_LIST_FORMAT` naming `source:line` and the first line, unless `onError` is `skip`.
   *
   * @example
   * ```ts
   * const { summaries } = await store.importRows(streamListFile('delta.csv', { list: 'ncmec' }), { source: 'delta.csv' });
   * ```
   */
  async importRows(
    batches: AsyncIterable<{ readonly rows: readonly ImportRow[] }> | Iterable<{ readonly rows: readonly ImportRow[] }>,
    options?: ImportRowsOptions,
  ): Promise<ImportResult> {
    return importRows(this.#ctx, batches, options);
  }

  /**
   * Imports a list file: reads it with `streamListFile` (formats, header rules, normalisation,
   * `op` removal rows, bad-row errors naming file and line) and writes it in one transaction, as
   * `importRows(streamListFile(path, …))` would, with the same results, faster:
   * - the file is read and checked on a worker thread (`thread`) while this one writes;
   * - while every list's ids come in ascending order (as exports, sorted dumps and most
   *   clearinghouse files have them), no id can repeat, so rows go straight into the store
   *   instead of through the staging table that catches repeats; at the first id out of order the
   *   transaction is rolled back and the file read again through the staging table (`ordered` in
   *   the result says which way it went).
   *
   * The import touches `options.list` alone unless `multiList: true`: a row naming another list
   * is a bad row, so that one provider's file cannot change another's list; removals that would
   * leave a list empty need `allowEmpty`, as a replace does.
   *
   * Memory stays bounded whatever the file's size. Readers see the previous version until the
   * commit; a failure or a kill leaves it intact. Throws as {@link HashStore.importRows}, and the
   * reader's errors (`ERR_LIST_FORMAT`, `ERR_INPUT_READ`, …) with their code and message.
   *
   * @example
   * ```ts
   * const { summaries, read } = await store.importFile('ncmec.csv', { list: 'ncmec', replace: ['ncmec'] });
   * ```
   */
  async importFile(path: string, options: ImportFileOptions): Promise<ImportFileResult> {
    return importFile(this.#ctx, path, options);
  }

  /**
   * Changes how a list is matched: its per-algorithm thresholds (each checked against the
   * algorithm's range), its label, whether it is enabled. Fields not given keep their value; a
   * threshold or the label set to `null` goes back to the default. Does not change the list's
   * version (its entries are the same). Returns the list as {@link HashStore.lists} would.
   * Throws `ERR_STORE` for a list the store does not hold or a read-only store,
   * `ERR_UNKNOWN_ALGORITHM` for an unknown algorithm, RangeError for a threshold out of range.
   *
   * @example
   * ```ts
   * store.setListPolicy('ncmec', { thresholds: { pdq: 31 }, label: 'block-and-report' });
   * store.setListPolicy('vendor-x', { enabled: false });
   * ```
   */
  setListPolicy(name: string, change: ListPolicyChange): ListInfo {
    return setListPolicy(this.#ctx, name, change);
  }

  /**
   * Quarantines one entry: it is never matched (`Matcher.open(store)`, snapshots exported from
   * the store, rescans leave it out) until {@link HashStore.enableEntry} or `options.until`
   * passes, whatever imports do to the list meanwhile (the quarantine is kept by list and id, so
   * a re-import or a replace that drops and brings back the entry leaves it disabled). Disabling
   * again replaces the reason and end. Bumps the list's version and writes a `disable` record to
   * {@link HashStore.history}. `entries()`, `count()` and `lists()`' counts still include it:
   * the list's contents are unchanged, only its matching.
   *
   * An id the list does not hold yet is allowed: it pre-empts an entry a shared list is about to
   * bring (the next import cannot match it even once). The list itself must exist (`ERR_STORE`
   * otherwise: a misspelt list name would quarantine nothing). Throws `ERR_STORE` on a read-only
   * store or a SQLite failure; TypeError for a missing reason or an `until` that is not a Date,
   * RangeError for an invalid date or one not in the future.
   *
   * @example
   * ```ts
   * store.disableEntry('vendor-x', '4242', { reason: 'matches a common meme (ticket 881)', until: new Date('2027-01-01') });
   * ```
   */
  disableEntry(list: string, id: string, options: DisableEntryOptions): QuarantinedEntry {
    return disableEntry(this.#ctx, list, id, options);
  }

  /**
   * Lifts an entry's quarantine: it matches again (in a matcher from its next open or reload).
   * Returns true when a quarantine in force was lifted (an `enable` record is written to the
   * history and the list's version bumped), false when none was (never disabled, or already
   * expired). Throws `ERR_STORE` for a list the store does not hold or a read-only store.
   *
   * @example
   * ```ts
   * store.enableEntry('vendor-x', '4242'); // true
   * ```
   */
  enableEntry(list: string, id: string): boolean {
    return enableEntry(this.#ctx, list, id);
  }

  /**
   * The entries quarantined now (those whose `until` has passed are left out), of one list or of
   * all, by list then id. A store of schema version 3 or older opened read-only has none.
   *
   * @example
   * ```ts
   * for (const q of store.quarantined()) console.log(q.list, q.id, q.reason, q.until ?? 'until lifted');
   * ```
   */
  quarantined(list?: string): QuarantinedEntry[] {
    return quarantined(this.#ctx, list);
  }

  /**
   * Streams entries, ordered by list then id, optionally filtered. Rows are read as the iterator
   * advances, so a large store is never held in memory. An entry larger than an import writes
   * (metadata over `MAX_METADATA_BYTES`; a crafted store, or one written before the limit) throws
   * `ERR_STORE` naming it, without being loaded. While an iteration is open the store
   * cannot be written (SQLite keeps the query running): finish or `break` out of the loop first.
   *
   * @example
   * ```ts
   * for (const e of store.entries({ list: 'ncmec', algorithm: 'blockhash' })) index.add(e);
   * ```
   */
  entries(filter?: EntryFilter): IterableIterator<ListEntry> {
    return entries(this.#ctx, filter);
  }

  /**
   * One entry by list and id, or `undefined` when the list holds no such id. Throws `ERR_STORE` for
   * an entry larger than an import writes, as {@link HashStore.entries} does.
   *
   * @example
   * ```ts
   * const entry = store.entry('ncmec', '4242:pdq'); // what `hashwarden feedback` reports on
   * ```
   */
  entry(list: string, id: string): ListEntry | undefined {
    return entry(this.#ctx, list, id);
  }

  /**
   * Runs `fn` in one read transaction, so that what it reads (`lists()`, `entries()`, `count()`)
   * is one version of the store even while another connection imports. `fn` must be synchronous
   * and finish (or leave) its loops over `entries()`. Returns what `fn` returns.
   *
   * @example
   * ```ts
   * const { lists, entries } = store.read(() => ({ lists: store.lists(), entries: [...store.entries()] }));
   * ```
   */
  read<T>(fn: () => T): T {
    return read(this.#ctx, fn);
  }

  /**
   * {@link HashStore.read} for asynchronous work (writing what it reads to a file): one read
   * transaction held across `fn`'s awaits, so everything `fn` reads is one version of the store.
   * The connection cannot write meanwhile (`ERR_STORE`).
   *
   * @example
   * ```ts
   * await store.readAsync(() => writeListFile('ncmec.csv', () => store.entries({ list: 'ncmec' }), 'csv'));
   * ```
   */
  async readAsync<T>(fn: () => Promise<T>): Promise<T> {
    return readAsync(this.#ctx, fn);
  }

  /**
   * The lists in the store, by name, with their versions, entry counts per algorithm and policy.
   *
   * @example
   * ```ts
   * for (const l of store.lists()) console.log(l.name, l.version, l.total, l.counts.md5 ?? 0);
   * ```
   */
  lists(): ListInfo[] {
    return lists(this.#ctx);
  }

  /**
   * What the imports did, oldest first: per list and import, the version it made, the source, the
   * counts and the mode (a version 1 store's imports have `removed` 0 and mode `merge`); and each
   * entry disabled or enabled by hand (mode `disable`/`enable`, counts 0, `entry` naming it).
   *
   * @example
   * ```ts
   * for (const r of store.history('ncmec')) console.log(r.at, `v${r.version}`, r.source, `+${r.added} -${r.removed}`);
   * ```
   */
  history(list?: string): ImportRecord[] {
    return history(this.#ctx, list);
  }

  /**
   * The checkpoint stored under `key` by an import's `checkpoint` option (a sync's place in a
   * programme's feed), or `undefined` when none was: a store of schema version 1 or 2 opened
   * read-only has none. Throws `ERR_STORE` for a value no sync writes (a crafted store).
   *
   * @example
   * ```ts
   * store.checkpoint('ncmec:Industry|ncmec'); // '{"start":1717000000,"next":"…"}'
   * ```
   */
  checkpoint(key: string): string | undefined {
    return checkpoint(this.#ctx, key);
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
    return count(this.#ctx, filter);
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
    const { db } = this.#ctx;
    try {
      if (db.open) db.close();
    } catch (error) {
      throw storeError(this.path, error);
    }
  }
}
