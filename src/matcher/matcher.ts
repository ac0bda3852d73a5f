import { callThresholds, getAlgorithm, type AlgorithmName, type Thresholds } from '../algorithms/registry.js';
import type { HashAlgorithm } from '../algorithms/types.js';
import { mapSettled, MAX_CONCURRENCY } from '../concurrency.js';
import { HashwardenError } from '../errors.js';
import type { FrameHashes, HashImageOptions, ImageHashResult, ImageInput } from '../image/index.js';
import { pinInput, checkInput, type PinnedInput } from '../image/input.js';
import { resolveImageOptions } from '../image/options.js';
import type { UploadPass, UploadPlan } from '../image/upload.js';
import { MAX_FIELD_LENGTH, normalizeEntry, type ListEntry, type ListEntryInput } from '../lists/entry.js';
import { boolean, integerInRange, invalid, nonEmptyString, optionsObject } from '../validate.js';
import {
  DEFAULT_MATCH_CONCURRENCY,
  type AllowedMatch,
  type HashBatchResult,
  type HashQuery,
  type ImageBatchResult,
  type ImageMatchResult,
  type Match,
  type MatchHashOptions,
  type MatchImageOptions,
  type MatchImagesOptions,
  type MatcherList,
  type MatcherOptions,
  type MatcherTableInfo,
  type MatchVpdqOptions,
  type StormEntry,
  type VideoMatch,
  type StormState,
} from './types.js';
import {
  toMatch,
  checkLists,
  State,
  makeState,
  Origin,
  byDistance,
  startsWithSnapshotMagic,
  fileSignature,
  ResolvedMatcherOptions,
  resolveMatcherOptions,
  nonEmpty,
  refuseUnsigned,
  thresholdOption,
} from './state.js';
import { Gate } from './gate.js';
import { AllowRule, applyVideoAllow, byShare, type AllowOutcome, type VideoOutcome } from './allow.js';
import { holdsExact } from './evidence.js';
import { rememberSearched, type SearchedQuery } from './searched.js';
import type { DecisionLog } from '../log/decision-log.js';
import { decisionContext, logged, loggedLookup, loggedVideo } from './logged.js';
import { Follower, resolveFollowOptions, type FollowOptions } from './follow.js';
import { type ConnectedStore, storeSourceOf } from './store-source.js';
import { checkStormEntry, StormCounter } from './storm.js';
import { heldOf, loadSnapshot, loadStore } from './load.js';
import { VPDQ_ALGORITHM, type VpdqFeature } from '../algorithms/vpdq.js';
import { VpdqIndex, type VpdqVideoMatch } from '../search/vpdq.js';

type ImageModule = typeof import('../image/upload.js');
let imageModule: Promise<ImageModule> | undefined;

/** A `matchImage` call's own options, checked at call time, before the image module is loaded. */
interface MatchRequest {
  readonly thresholds: Thresholds;
  readonly first: boolean;
  /** False for a call that decides nothing (`decision: false`): not counted by the alarm, not logged. */
  readonly decision: boolean;
  readonly upload: Parameters<ImageModule['planUpload']>[0];
}

/** A `matchImage` call's options, checked once. */
interface MatchPlan {
  readonly thresholds: Thresholds;
  readonly first: boolean;
  readonly decision: boolean;
  readonly upload: UploadPlan;
}

/**
 * Whether a `matchImage` call decides (its `decision` option, default true), read before the call
 * is logged; a bad value is left for the call's own check to reject.
 */
function decides(options: MatchImageOptions | undefined): boolean {
  return options === null || typeof options !== 'object' || options.decision !== false;
}

/** An animated upload's frames, as a field to spread into a result (nothing for a still image). */
function framesOf(hashed: ImageHashResult): { frames?: readonly FrameHashes[] } {
  return hashed.frames === undefined ? {} : { frames: hashed.frames };
}

/** The versions of the lists a matcher holds, by name, for a seen record. */
function listVersions(state: State): Record<string, number> {
  const out: Record<string, number> = {};
  for (const list of state.lists.values()) if (list.version !== undefined) out[list.name] = list.version;
  return out;
}

/** An upload of a batch pinned at call time, or why it could not be. */
type Pinned = { readonly ok: true; readonly input: PinnedInput } | { readonly ok: false; readonly error: unknown };

/**
 * True when every algorithm the call hashed and `state` holds entries for had at least one hash
 * searched: a hash refused (`unusable`) leaves its algorithm's lists unchecked, since an image
 * listed by PDQ alone is not found by its blockhash.
 */
function everyListSearched(state: State, upload: UploadPlan, searchedBy: ReadonlySet<AlgorithmName>): boolean {
  return upload.passes.every((pass) =>
    pass.algorithms.every((name) => searchedBy.has(name) || (state.tables.get(name)?.entries.count ?? 0) === 0),
  );
}

/** Loads the image module (and with it sharp) once, on first use. */
function loadImageModule(): Promise<ImageModule> {
  imageModule ??= import('../image/upload.js').catch((error: unknown) => {
    imageModule = undefined;
    throw new HashwardenError('ERR_MODULE_LOAD', `Cannot load the image module (sharp): ${(error as Error).message}`, {
      cause: error,
    });
  });
  return imageModule;
}

/** A matcher's video match: the index's, with its list's label and version. */
function withList(state: State, match: VpdqVideoMatch): VideoMatch {
  const list = state.lists.get(match.list);
  if (list?.label === undefined && list?.version === undefined) return match;
  return {
    ...match,
    ...(list.label === undefined ? {} : { listLabel: list.label }),
    ...(list.version === undefined ? {} : { listVersion: list.version }),
  };
}

let noVideos: VpdqIndex | undefined;

/** The index of no video: a matcher without vPDQ entries checks a call's frames and options all the same. */
function emptyVideos(): VpdqIndex {
  noVideos ??= VpdqIndex.fromEntries([]);
  return noVideos;
}

/**
 * Matches hashes and images against hash lists held in memory.
 *
 * @example
 * ```ts
 * const matcher = Matcher.fromEntries([{ list: 'demo', algorithm: 'blockhash', hash: known }]);
 * const result = await matcher.matchImage(uploadBuffer);
 * if (result.matched) block(result.matches[0]);
 * ```
 */
export class Matcher {
  #state: State;
  readonly #thresholds: Thresholds;
  readonly #imageOptions: Omit<HashImageOptions, 'algorithms'>;
  readonly #options: ResolvedMatcherOptions;
  readonly #origin: Origin | undefined;
  /** The reload in progress, so that concurrent calls share it. */
  #reloading: Promise<boolean> | undefined;
  /** The uploads in hand at once, matcher-wide, and the calls waiting for a turn. */
  readonly #gate: Gate;
  /** A followed matcher's source (`Matcher.follow`), which `reload` polls. */
  readonly #follower: Follower | undefined;
  /** The match-rate alarm's counts, kept across reloads; undefined when `storm: false`. */
  readonly #storm: StormCounter | undefined;

  private constructor(state: State, options: ResolvedMatcherOptions, origin?: Origin, follower?: Follower) {
    this.#thresholds = options.thresholds;
    this.#imageOptions = options.image;
    this.#options = options;
    this.#state = state;
    this.#origin = origin;
    this.#gate = new Gate(options.concurrency, options.maxQueued);
    this.#follower = follower;
    this.#storm =
      options.storm === undefined ? undefined : new StormCounter(options.storm, undefined, options.decisionLog);
  }

  /**
   * A matcher over `entries` (validated and normalised; a bad entry throws its `HashwardenError`),
   * with the lists' versions and policy from `lists` when given (names unique; thresholds checked
   * against each algorithm's range). No entry at all is `ERR_NO_ENTRIES` unless `allowEmpty`.
   *
   * @example
   * ```ts
   * const m = Matcher.fromEntries(entries, { thresholds: { blockhash: 8 }, lists: [{ name: 'ncmec', label: 'block-and-report', thresholds: { pdq: 31 } }] });
   * ```
   */
  static fromEntries(
    entries: Iterable<ListEntryInput>,
    options?: MatcherOptions & { readonly lists?: readonly MatcherList[] },
  ): Matcher {
    if (entries === null || typeof (entries as Iterable<ListEntryInput>)[Symbol.iterator] !== 'function') {
      invalid('iterable of entries', 'entries', entries);
    }
    const resolved = resolveMatcherOptions(options);
    const o = optionsObject(options, 'options');
    // Entries in the caller's hands carry no signature or sequence: options that ask for one are a mistake.
    if (o.trustedKeys !== undefined)
      invalid('no trustedKeys option (entries are not signed)', 'options.trustedKeys', o.trustedKeys);
    if (o.minSequence !== undefined)
      invalid('no minSequence option (entries have no sequence)', 'options.minSequence', o.minSequence);
    const lists = checkLists(o.lists, 'options.lists');
    const normalised: ListEntry[] = [];
    for (const entry of entries) normalised.push(normalizeEntry(entry));
    const { tables, videos } = heldOf(normalised, resolved);
    return new Matcher(nonEmpty(makeState(tables, lists, '', 0, videos), resolved, 'Matcher.fromEntries'), resolved);
  }

  /**
   * A matcher over a snapshot file (`hashwarden export --snapshot`) or a SQLite store (see
   * `hashwarden/sqlite`), told apart by their first bytes, or over a connected `PgHashStore`
   * (`hashwarden/postgres`; the caller keeps it open while the matcher may reload, and closes it).
   * A snapshot is read into typed arrays with no pass over its entries, with the lists and policy
   * it was exported with; a store is read in one read transaction (a SQLite one loading
   * better-sqlite3; a PostgreSQL one in a REPEATABLE READ READ ONLY transaction), straight into the
   * same packed layout (no object per entry): its enabled lists, or those named in `lists` (enabled
   * or not; a name the store does not hold is `ERR_STORE`), each with its version, thresholds and
   * label. `reload` reads the same source again. A source with no entry to match (an empty
   * snapshot, every list empty or disabled) is `ERR_NO_ENTRIES` unless `allowEmpty`; a path that
   * cannot be read (a directory) `ERR_INPUT_READ`.
   *
   * @example
   * ```ts
   * const matcher = await Matcher.open('lists.snap');
   * const fromStore = await Matcher.open('hashes.db', { lists: ['ncmec'] });
   * const fromPostgres = await Matcher.open(await PgHashStore.connect(url, { readonly: true }));
   * ```
   */
  static async open(
    source: string | ConnectedStore,
    options?: MatcherOptions & { readonly lists?: readonly string[] },
  ): Promise<Matcher> {
    const o = optionsObject(options, 'options');
    const resolved = resolveMatcherOptions(o);
    if (o.lists !== undefined && (!Array.isArray(o.lists) || o.lists.some((l) => typeof l !== 'string')))
      invalid('array of list names', 'options.lists', o.lists);
    const store = storeSourceOf(source);
    if (store === undefined && typeof source !== 'string') invalid('path or PgHashStore', 'source', source);
    const path = store?.label ?? (source as string);
    if (store === undefined && (await startsWithSnapshotMagic(path))) {
      if (o.lists !== undefined)
        invalid('no lists option (a snapshot holds the lists it was exported with)', 'options.lists', o.lists);
      return new Matcher(await loadSnapshot(path, resolved, resolved.minSequence), resolved, {
        path,
        kind: 'snapshot',
        lists: undefined,
      });
    }
    refuseUnsigned(resolved, store?.label ?? `SQLite store ${path}`);
    const origin: Origin = {
      path,
      kind: 'store',
      lists: o.lists === undefined ? undefined : Object.freeze([...o.lists]),
      ...(store === undefined ? {} : { store }),
    };
    return new Matcher((await loadStore(origin, resolved, undefined)) as State, resolved, origin);
  }

  /**
   * A matcher over a snapshot file, and only a snapshot: a missing file is `ERR_INPUT_READ`, any
   * other file `ERR_SNAPSHOT_FORMAT` (where `Matcher.open` would try it as a SQLite store). For
   * services that ship a snapshot and must not fall back to anything else.
   *
   * @example
   * ```ts
   * const matcher = await Matcher.openSnapshot('/opt/lists/current.snap');
   * ```
   */
  static async openSnapshot(path: string, options?: MatcherOptions): Promise<Matcher> {
    if (typeof path !== 'string' || path.length === 0) invalid('path of a snapshot', 'path', path);
    const resolved = resolveMatcherOptions(options);
    return new Matcher(await loadSnapshot(path, resolved, resolved.minSequence), resolved, {
      path,
      kind: 'snapshot',
      lists: undefined,
    });
  }

  /**
   * A matcher over a snapshot that it keeps following: a path, or an `http:`/`https:` URL (an
   * object store's, a presigned URL's). The first snapshot is loaded as `openSnapshot` loads one
   * (a failure rejects); then the source is checked every `intervalMs` (default 60 s, less up to
   * 20% at random) by `reload`: a path when its file's identity changed, a URL with a conditional
   * GET (`If-None-Match`, `If-Modified-Since`; a 304 changes nothing), the body downloaded to an
   * owner-only temporary file, within `timeoutMs` and `maxSnapshotBytes`, then read and checked
   * through the same path as `openSnapshot` and swapped in whole. A failed check (`ERR_SOURCE_FETCH`
   * for the network, a status, the time or size limit; `ERR_SNAPSHOT_*` for a broken snapshot)
   * keeps the previous lists serving and is reported to `onReload`, and the polling goes on; a
   * snapshot refused is not fetched or read again until the source changes, but each check reports
   * it again. The timer does not keep the process alive; `close()` stops it and removes the
   * downloads.
   *
   * @example
   * ```ts
   * const matcher = await Matcher.follow('https://lists.example.com/current.snap', {
   *   onReload: (e) => (e.ok ? e.changed && log.info('lists', e.lists) : log.warn('reload failed', e.code)),
   * });
   * ```
   */
  static async follow(source: string | URL, options?: MatcherOptions & FollowOptions): Promise<Matcher> {
    const { intervalMs, timeoutMs, maxSnapshotBytes, cacheDir, headers, onReload, ...matcherOptions } = optionsObject(
      options,
      'options',
    );
    const resolved = resolveMatcherOptions(matcherOptions);
    const follower = new Follower(
      source,
      resolveFollowOptions({ intervalMs, timeoutMs, maxSnapshotBytes, cacheDir, headers, onReload }),
    );
    let state: State | undefined;
    try {
      state = await follower.next((path) => loadSnapshot(path, resolved, resolved.minSequence));
    } catch (error) {
      await follower.close(undefined);
      throw error;
    }
    const matcher = new Matcher(
      state as State,
      resolved,
      { path: follower.source, kind: 'snapshot', lists: undefined },
      follower,
    );
    follower.start(() => matcher.reload());
    return matcher;
  }

  /**
   * Stops following the source (`Matcher.follow`): no more polls, a download in progress aborted,
   * the downloads removed; resolves when done. The matcher goes on matching against the lists it
   * holds; `reload` then rejects. Does nothing for a matcher that follows nothing.
   */
  async close(): Promise<void> {
    await this.#follower?.close(this.#reloading);
  }

  /**
   * Reads the source this matcher was opened from again, when it changed, and swaps the new lists
   * in whole: calls already running finish on the lists they started with, calls made after the
   * swap see the new ones, and none waits or fails meanwhile. A store has changed when a list's
   * version or policy has (a cheap read of the lists); a snapshot when its file was replaced.
   * Resolves to true when it swapped, false when nothing changed; concurrent calls share one
   * reload. If reading fails, or the source now holds no entry (`ERR_NO_ENTRIES`, unless the
   * matcher was opened with `allowEmpty`), it rejects and the matcher keeps serving the previous
   * lists; so it does for a snapshot refused by `trustedKeys` (`ERR_SNAPSHOT_SIGNATURE`) or whose
   * sequence is lower than the one served (`ERR_SNAPSHOT_ROLLBACK`, unless `allowRollback`) or
   * than `minSequence`.
   * Reading a SQLite store is synchronous work (about as long as `Matcher.open`; a PostgreSQL
   * store's rows arrive asynchronously, its tables are built synchronously), so services that must
   * never pause should reload from snapshots (docs/lists.md). A matcher made by `fromEntries` has
   * no source: TypeError. For a followed matcher (`Matcher.follow`) this is one check of its source,
   * reported to `onReload` as well.
   *
   * @example
   * ```ts
   * setInterval(() => matcher.reload().catch((e) => log.warn('list reload failed', e)), 60_000);
   * ```
   */
  reload(): Promise<boolean> {
    const origin = this.#origin;
    if (origin === undefined)
      return Promise.reject(
        new TypeError('Expected a matcher opened from a snapshot or a store for reload but it was made from entries'),
      );
    const follower = this.#follower;
    this.#reloading ??= (async () => {
      try {
        const current = this.#state;
        let next: State | undefined;
        if (follower !== undefined) {
          next = await follower.next((path) => loadSnapshot(path, this.#options, this.#reloadFloor(current)));
        } else if (origin.kind === 'snapshot') {
          next =
            (await fileSignature(origin.path)) === current.signature
              ? undefined
              : await loadSnapshot(origin.path, this.#options, this.#reloadFloor(current));
        } else {
          next = await loadStore(origin, this.#options, current.signature);
        }
        if (next !== undefined) this.#state = next;
        follower?.report({
          ok: true,
          source: follower.source,
          changed: next !== undefined,
          lists: this.lists,
          size: this.size,
          sequence: this.sequence,
        });
        return next !== undefined;
      } catch (error) {
        // Closing aborts a check in progress: that is no failure to report.
        if (follower !== undefined && !follower.closed)
          follower.report({
            ok: false,
            source: follower.source,
            code: error instanceof HashwardenError ? error.code : undefined,
            error: error as Error,
          });
        throw error;
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  /** The lowest sequence a reload accepts: never below `minSequence`, nor below the one served unless `allowRollback`. */
  #reloadFloor(current: State): number {
    const { minSequence, allowRollback } = this.#options;
    return allowRollback ? minSequence : Math.max(minSequence, current.sequence);
  }

  /** The lists held, with their versions and policy. */
  get lists(): MatcherList[] {
    return [...this.#state.lists.values()];
  }

  /**
   * The sequence of the snapshot served (0 for a store, entries, or a version-2 snapshot): what an
   * instance records to give as `minSequence` after a restart, so that it never goes back to an
   * older snapshot than it served.
   */
  get sequence(): number {
    return this.#state.sequence;
  }

  /**
   * The matcher's bounds on an upload and on calls at once, resolved: `maxBytes` and
   * `timeoutSeconds` (its `image` options, or their defaults), `concurrency` and `maxQueued`. For
   * an upload path that sets its own limits from them (the framework adapters: `hashwarden/express`…).
   */
  get limits(): {
    readonly maxBytes: number;
    readonly timeoutSeconds: number;
    readonly concurrency: number;
    readonly maxQueued: number;
  } {
    const { maxBytes, concurrency, maxQueued, image } = this.#options;
    return { maxBytes, timeoutSeconds: resolveImageOptions(image).timeoutSeconds, concurrency, maxQueued };
  }

  /** Number of entries held. */
  get size(): number {
    return this.#state.size;
  }

  /** Algorithms that have at least one entry. */
  get algorithms(): AlgorithmName[] {
    return [...this.#state.tables.keys()];
  }

  /**
   * How each algorithm's entries are held and searched: entry count, tier and, for multi-index
   * hashing, the substring widths; last, when the lists hold videos, a `vpdq` row: the listed
   * videos, how their frames are searched and how many unique frames are indexed. For logs,
   * metrics and capacity checks.
   *
   * @example
   * ```ts
   * matcher.describe(); // [{ algorithm: 'blockhash', count: 1000000, tier: 'mih', substringBits: [19, …] }]
   * ```
   */
  describe(): MatcherTableInfo[] {
    const { tables, videos } = this.#state;
    const info = [...tables.values()].map(
      (t): MatcherTableInfo => ({
        algorithm: t.algorithm.name,
        count: t.entries.count,
        tier: t.search.tier,
        ...(t.search.tier === 'mih' ? { substringBits: t.search.substringBits } : {}),
      }),
    );
    if (videos !== undefined)
      info.push({
        algorithm: VPDQ_ALGORITHM,
        count: videos.size,
        tier: videos.search.tier,
        ...(videos.search.tier === 'mih' ? { substringBits: videos.search.substringBits } : {}),
        frames: videos.frameCount,
      });
    return info;
  }

  /** The matcher's threshold for `algorithm`: used for a list that sets none, when the call sets none. */
  threshold(algorithm: AlgorithmName): number {
    return this.#thresholds[algorithm] ?? getAlgorithm(algorithm).defaultThreshold;
  }

  /**
   * The entries of `state` within reach of `hash`: within `call` when the call sets a threshold,
   * else within each list's own (its policy's, or the matcher's). The index is searched once, at
   * the widest threshold any list asks for, and each hit kept if its list's threshold allows it.
   */
  #match(state: State, algorithm: HashAlgorithm<AlgorithmName>, hash: Uint8Array, call: number | undefined): Match[] {
    const table = state.tables.get(algorithm.name);
    if (table === undefined) return [];
    if (table.kind === 'exact') {
      const [start, end] = table.index.find(hash);
      const hex = algorithm.format(hash);
      const out: Match[] = [];
      for (let i = start; i < end; i++) out.push(toMatch(table, state.lists, i, hex, 0));
      return out;
    }
    const base = this.threshold(algorithm.name);
    let widest = call ?? base;
    if (call === undefined)
      for (const list of state.lists.values()) widest = Math.max(widest, list.thresholds?.[algorithm.name] ?? 0);
    const out: Match[] = [];
    for (const hit of table.index.search(hash, widest)) {
      const limit = call ?? state.lists.get(table.entries.list(hit.index))?.thresholds?.[algorithm.name] ?? base;
      if (hit.distance <= limit)
        out.push(toMatch(table, state.lists, hit.index, algorithm.format(table.index.hashAt(hit.index)), hit.distance));
    }
    return out;
  }

  /**
   * Entries within the threshold of one hash, nearest first. Synchronous: pure CPU work.
   * Throws `ERR_UNKNOWN_ALGORITHM` / `ERR_HASH_FORMAT` for a bad query, RangeError for a bad threshold.
   *
   * @example
   * ```ts
   * matcher.matchHash({ algorithm: 'blockhash', hash: 'f81bf99f…' }, { threshold: 8 });
   * ```
   */
  matchHash(query: HashQuery, options?: MatchHashOptions): Match[] {
    const o = optionsObject(options, 'options');
    const thresholds = callThresholds(o.threshold, 'threshold');
    const log = this.#lookupLog(o);
    if (log === undefined) return this.#lookup(query, thresholds, o.decision !== false);
    const context = decisionContext(this.#state, options, this);
    return loggedLookup(log, query, context, () => this.#lookup(query, thresholds, true));
  }

  /** One query's matches, counted by the alarm when the call decides. */
  #lookup(query: HashQuery, thresholds: Thresholds, decision: boolean): Match[] {
    const matches = this.#matchQuery(query, thresholds);
    return decision ? this.#counted(matches) : matches;
  }

  /** The decision log a lookup by hash goes to: none without one, or when the call decides nothing. */
  #lookupLog(o: { contentId?: unknown; decision?: unknown }): DecisionLog | undefined {
    if (o.contentId !== undefined) nonEmptyString(o.contentId, 'options.contentId', MAX_FIELD_LENGTH);
    const decision = o.decision === undefined ? true : boolean(o.decision, 'options.decision');
    return decision ? this.#options.decisionLog : undefined;
  }

  /**
   * The entries in storm now (`storm`), newest storm first, with their counts in the window; empty
   * with `storm: false`. Counts are this matcher's: each instance (process) counts its own.
   */
  storms(): StormState[] {
    return this.#storm?.storms() ?? [];
  }

  /**
   * Releases an entry's storm: the operator decided the entry is right, and its matches block again
   * (no `review`) until the storm ends and a new one begins. True when the entry was in storm here.
   * Recorded in the decision log when there is one. TypeError for a bad `target`.
   *
   * @example
   * ```ts
   * matcher.releaseStorm({ list: 'ncmec', algorithm: 'pdq', entryId: '8812' });
   * ```
   */
  releaseStorm(target: StormEntry): boolean {
    if (this.#storm !== undefined) return this.#storm.releaseStorm(target);
    checkStormEntry(target);
    return false;
  }

  /** `matches` counted by the match-rate alarm, those of entries in a held storm marked `review`. */
  #counted<M extends Match | VideoMatch>(matches: M[]): M[] {
    return this.#storm === undefined ? matches : this.#storm.observe(matches);
  }

  #matchQuery(query: HashQuery, thresholds: Thresholds): Match[] {
    if (query === null || typeof query !== 'object') invalid('object with algorithm and hash', 'query', query);
    const algorithm = getAlgorithm(query.algorithm);
    const hash = query.hash instanceof Uint8Array ? query.hash : algorithm.parse(query.hash);
    if (hash.length * 8 !== algorithm.bits) {
      throw new HashwardenError(
        'ERR_HASH_FORMAT',
        `Expected ${algorithm.bits / 8} bytes for a ${algorithm.name} hash but received ${hash.length}`,
      );
    }
    const { lists } = this.#state;
    const matches = this.#match(this.#state, algorithm, hash, thresholds[algorithm.name]);
    // One hash, one part: allow matches and what they override are left out (docs/api.md).
    return (AllowRule.of(lists, (name) => this.threshold(name))?.apply(matches).matches ?? matches).sort(byDistance);
  }

  /**
   * Matches many hashes, synchronously. One bad query does not fail the batch: each result is
   * `{ ok: true, matches }` or `{ ok: false, error }` (its `HashwardenError`), in input order.
   * A `threshold` option applies to every query; by default each uses its algorithm's threshold.
   *
   * @example
   * ```ts
   * for (const r of matcher.matchHashes(queries)) if (r.ok && r.matches.length > 0) flag(r.matches);
   * ```
   */
  matchHashes(queries: Iterable<HashQuery>, options?: MatchHashOptions): HashBatchResult[] {
    if (queries === null || typeof (queries as Iterable<HashQuery>)[Symbol.iterator] !== 'function')
      invalid('iterable of queries', 'queries', queries);
    // Checked once, so a bad threshold is the caller's error, not every item's.
    const o = optionsObject(options, 'options');
    const thresholds = callThresholds(o.threshold, 'threshold');
    const log = this.#lookupLog(o);
    const decision = o.decision !== false;
    // Read once for the batch: each item's record differs only by its index.
    const context = log === undefined ? undefined : decisionContext(this.#state, options, this);
    const results: HashBatchResult[] = [];
    let item = 0;
    for (const query of queries) {
      const lookup = () => this.#lookup(query, thresholds, decision);
      try {
        const matches =
          log === undefined || context === undefined
            ? lookup()
            : loggedLookup(log, query, { ...context, item }, lookup);
        results.push({ ok: true, matches });
      } catch (error) {
        results.push({ ok: false, error });
      }
      item++;
    }
    return results;
  }

  /**
   * The listed videos (the vPDQ entries of the lists held, one video each) that a video's frames
   * match, as python-threatexchange matches them: frames of quality below 50 dropped and each
   * hash kept once on both sides; a query frame matches a listed video when one of its frames is
   * within `distance` bits (default 31); the video matches when at least `queryMatchPercent` of
   * the query's frames (default 80) and `listedMatchPercent` of its own (default 0) matched. Per
   * list: the call's `lists` entry where the call's own field is not given. In the lists' order,
   * each with its shares and its matched frame pairs (timestamps and positions). An allow-listed
   * video that matches overrides the block matches whose every matched frame it matched too
   * (docs/video.md); allow matches and what they overrode are left out, as `matchHash` leaves
   * them out, and written to the decision log. `first`: only the best match. Counted by the
   * match-rate alarm (`storm`) as image matches are, a held storm's matches marked `review: true`,
   * unless `decision: false`. Synchronous: pure
   * CPU work. The frames are `hashVideo(…).frames` (`hashwarden/video`) or any parsed vPDQ
   * (`parseVpdqJson`); a bad frame or threshold is a TypeError or RangeError. Written to the
   * decision log when the matcher has one (`decision: false` to leave it out): the query's frame
   * count and the matches, never the frames. A matcher that holds no vPDQ entry matches nothing.
   *
   * @example
   * ```ts
   * const video = await hashVideo('upload.mp4'); // hashwarden/video
   * const matches = matcher.matchVpdq(video.frames, { contentId: 'upload-8812' });
   * if (matches.length > 0) block(matches[0].list, matches[0].frames);
   * ```
   */
  matchVpdq(frames: readonly VpdqFeature[], options?: MatchVpdqOptions): VideoMatch[] {
    const state = this.#state;
    const o = optionsObject(options, 'options');
    const first = o.first === undefined ? false : boolean(o.first, 'options.first');
    const log = this.#lookupLog(o);
    const decision = o.decision !== false;
    const lookup = (): VideoOutcome<VideoMatch> => {
      const outcome = this.#matchVideo(state, frames, o, first);
      return decision ? { ...outcome, matches: this.#counted(outcome.matches) } : outcome;
    };
    if (log === undefined) return lookup().matches;
    return loggedVideo(log, frames, o, { contentId: o.contentId }, lookup);
  }

  #matchVideo(
    state: State,
    frames: readonly VpdqFeature[],
    o: Partial<MatchVpdqOptions>,
    first: boolean,
  ): VideoOutcome<VideoMatch> {
    const index = state.videos ?? emptyVideos();
    const { distance, queryMatchPercent, listedMatchPercent, lists } = o;
    const call = { distance, queryMatchPercent, listedMatchPercent, lists };
    const found = index.match(frames, call).map((m) => withList(state, m));
    const set = [distance, queryMatchPercent, listedMatchPercent, lists].some((v) => v !== undefined);
    // An allow match counts within its list's own thresholds too, whatever the call asks.
    const outcome = applyVideoAllow(state.lists, found, () => (set ? index.match(frames) : found));
    if (!first || outcome.matches.length <= 1) return outcome;
    return { ...outcome, matches: [[...outcome.matches].sort(byShare)[0] as VideoMatch] };
  }

  /**
   * Hashes an image (loading `hashwarden/image` on first use) and matches every hash; of an
   * animated GIF or WebP, the hashes of each of its first `maxFrames` frames (default 32), a match
   * naming its `frame`. Rejects with the `HashwardenError` of `hashImage` when the image cannot be
   * hashed: treat that as "cannot be checked", never as "clean". Bytes are copied at call time, so
   * the caller may reuse its buffer as soon as this returns its promise; a path is read in turn; a
   * stream (a Node `Readable`, a web `ReadableStream`, a `Blob` or `File`, an async iterable of
   * `Uint8Array`) is taken by the call at call time and read in its turn, as `hashImage` reads it
   * (within `maxBytes` and `timeoutSeconds`, stopped at the first chunk past the limit). At most
   * the matcher's `concurrency` uploads are read and hashed at once; a call beyond them waits its
   * turn (first come, first served), and one that would find `maxQueued` calls waiting already
   * rejects at once with `ERR_BUSY`: not checked, to retry or hold (a stream refused so is left as
   * it was, unread).
   *
   * @example
   * ```ts
   * const { matched, matches } = await matcher.matchImage(await readFile('upload.jpg'));
   * ```
   */
  async matchImage(input: ImageInput, options?: MatchImageOptions): Promise<ImageMatchResult> {
    const state = this.#state;
    const call = this.#matchImageCall(state, input, options);
    const log = this.#options.decisionLog;
    return log === undefined || !decides(options) ? call : logged(log, call, decisionContext(state, options, this));
  }

  async #matchImageCall(state: State, input: ImageInput, options?: MatchImageOptions): Promise<ImageMatchResult> {
    // Everything up to the first await runs at call time: the version of the lists the call sees
    // whatever a reload swaps in meanwhile, its options, its admission and its copy of the bytes.
    const request = this.#request(state, options);
    const maxBytes = this.#options.maxBytes;
    // Refused before the copy: neither a too large upload nor one the matcher has no room for is copied.
    checkInput(input, maxBytes);
    this.#gate.refuseWhenFull();
    const pinned = pinInput(input);
    return this.#gate.run(async () => this.#matchImageWith(state, await this.#plan(request), pinned));
  }

  /**
   * Hashes and matches many images, at most `concurrency` at once (default 4,
   * {@link DEFAULT_MATCH_CONCURRENCY}), each with the options of `matchImage`. One image that
   * cannot be checked does not fail the batch: each result is `{ ok: true, value }` (what
   * `matchImage` resolves to) or `{ ok: false, error }` (what it rejects with, a
   * `HashwardenError` for a bad upload), in input order. Options are checked once, for the whole
   * call (a bad one rejects it, as a TypeError or RangeError), and every image is matched against
   * the same version of the lists, whatever a reload swaps in meanwhile. Every Buffer is copied at
   * call time, so the batch holds a second copy of each until its item is done (paths cost
   * nothing: they are read in turn). Its items take their turns within the matcher's own
   * `concurrency`, beside other calls, and are never refused with `ERR_BUSY`: they wait. Memory
   * is bounded by the concurrency: each image in hand holds its bytes and one decoded raster,
   * within `maxBytes` and `maxPixels`.
   *
   * @example
   * ```ts
   * const results = await matcher.matchImages(paths, { concurrency: 8 });
   * results.forEach((r, i) => (r.ok ? r.value.matched && block(paths[i]) : queueForReview(paths[i], r.error)));
   * ```
   */
  async matchImages(inputs: Iterable<ImageInput>, options?: MatchImagesOptions): Promise<ImageBatchResult[]> {
    // A Buffer or a path is iterable too (of bytes, of characters): one image passed by mistake.
    if (
      inputs === null ||
      typeof inputs !== 'object' ||
      inputs instanceof Uint8Array ||
      typeof (inputs as Iterable<ImageInput>)[Symbol.iterator] !== 'function'
    ) {
      invalid('iterable of images (Buffers, Uint8Arrays, file paths, Blobs or streams)', 'inputs', inputs);
    }
    const { concurrency, ...rest } = optionsObject(options, 'options');
    const limit =
      concurrency === undefined
        ? DEFAULT_MATCH_CONCURRENCY
        : integerInRange(concurrency, 1, MAX_CONCURRENCY, 'concurrency');
    const state = this.#state;
    const request = this.#request(state, rest);
    const maxBytes = this.#options.maxBytes;
    // Pinned at call time like matchImage's; an upload refused here fails its own item only.
    const pinned: (Pinned | undefined)[] = [];
    for (const input of inputs) {
      try {
        checkInput(input, maxBytes);
        pinned.push({ ok: true, input: pinInput(input) });
      } catch (error) {
        pinned.push({ ok: false, error });
      }
    }
    const plan = await this.#plan(request);
    const log = request.decision ? this.#options.decisionLog : undefined;
    return mapSettled(pinned, limit, (item, i) => {
      // The task holds its copy until its item is done; the batch lets go of it now, so that the
      // copies of the items done are freed before the whole batch is.
      pinned[i] = undefined;
      const own = item as Pinned;
      const call = own.ok
        ? this.#gate.run(() => this.#matchImageWith(state, plan, own.input))
        : Promise.reject(own.error);
      return log === undefined ? call : logged(log, call, decisionContext(state, rest, this, i));
    });
  }

  /**
   * How many image calls the matcher holds now: `running`, reading or hashing an upload (at most
   * `concurrency`), and `queued`, waiting for a turn (`matchImages`' items included). For metrics
   * and load shedding.
   */
  get pending(): { readonly running: number; readonly queued: number } {
    return this.#gate.counts;
  }

  /** A call's own options, checked at call time: everything but the image options the module resolves. */
  #request(state: State, options: MatchImageOptions | undefined): MatchRequest {
    const o = optionsObject(options, 'options');
    const thresholds = thresholdOption(o);
    if (o.contentId !== undefined) nonEmptyString(o.contentId, 'options.contentId', MAX_FIELD_LENGTH);
    const algorithms = o.algorithms ?? (state.tables.size > 0 ? [...state.tables.keys()] : undefined);
    const first = o.first === undefined ? false : boolean(o.first, 'options.first');
    const decision = o.decision === undefined ? true : boolean(o.decision, 'options.decision');
    const dihedral =
      o.dihedral === undefined ? (this.#imageOptions.dihedral ?? true) : boolean(o.dihedral, 'options.dihedral');
    const trim = o.trim === undefined ? (this.#imageOptions.trim ?? true) : boolean(o.trim, 'options.trim');
    const image = { ...this.#imageOptions, dihedral, trim };
    const exact = (o.exact !== undefined && boolean(o.exact, 'options.exact')) || holdsExact(state);
    return {
      thresholds,
      first,
      decision,
      upload: { image, algorithms, first, threads: this.#options.hashThreads, exact },
    };
  }

  /** A call's options resolved once (for a batch, once for every image), with the image module. */
  async #plan(request: MatchRequest): Promise<{ image: ImageModule; plan: MatchPlan }> {
    const image = await loadImageModule();
    const upload = image.planUpload(request.upload);
    return {
      image,
      plan: { thresholds: request.thresholds, first: request.first, decision: request.decision, upload },
    };
  }

  async #matchImageWith(
    state: State,
    { image, plan }: { image: ImageModule; plan: MatchPlan },
    input: PinnedInput,
  ): Promise<ImageMatchResult> {
    let searched = 0;
    const searchedBy = new Set<AlgorithmName>();
    // Every hash computed, for a seen record: with an algorithm the lists lack, a later list of it can still be rescanned.
    const looked: SearchedQuery[] = [];
    // Of every pass: with `first`, an exact pass wholly allowed goes on to the perceptual one.
    const allowed: AllowedMatch[] = [];
    for await (const pass of image.hashUpload(input, plan.upload)) {
      for (const [name, queries] of pass.queries) {
        for (const query of queries) looked.push({ ...query, algorithm: name });
        if (!state.tables.has(name)) continue;
        searched += queries.length;
        if (queries.length > 0) searchedBy.add(name);
      }
      const { matches: found, allowed: passAllowed } = this.#matchPass(state, pass, plan.thresholds, plan.first);
      allowed.push(...passAllowed);
      if (found.length > 0 || pass.last) {
        const { result } = pass;
        const matches = plan.decision ? this.#counted(found) : found;
        const out: ImageMatchResult = {
          matched: matches.length > 0,
          matches,
          ...(matches === found ? {} : { review: true as const }),
          ...(allowed.length === 0 ? {} : { allowed: Object.freeze(allowed) }),
          ...(pass.exactHashes === undefined ? {} : { exactHashes: pass.exactHashes() }),
          hashes: result.hashes,
          quality: result.quality,
          unusable: result.unusable,
          ...framesOf(result),
          searched,
          checked: matches.length > 0 || everyListSearched(state, plan.upload, searchedBy),
          image: result.image,
        };
        rememberSearched(out, { queries: looked, versions: listVersions(state) });
        return out;
      }
    }
    throw new Error('unreachable: an upload plan has at least one pass');
  }

  /**
   * The matches of one hashing pass: each exact hash looked up, each perceptual algorithm's
   * searched hashes looked up, every entry once at its nearest, then allow lists applied (allow.ts).
   * With `first`, the first algorithm that still matches gives its nearest entry alone.
   */
  #matchPass(state: State, pass: UploadPass, thresholds: Thresholds, first: boolean): AllowOutcome {
    const matches: Match[] = [];
    const allowed: AllowedMatch[] = [];
    const rule = AllowRule.of(state.lists, (name) => this.threshold(name));
    for (const [name, queries] of pass.queries) {
      const algorithm = getAlgorithm(name);
      const found: Match[] = [];
      if (algorithm.kind === 'exact') {
        for (const query of queries) found.push(...this.#match(state, algorithm, query.hash, thresholds[name]));
      } else {
        // Each entry once, at its nearest query (the upload as it is first, so it wins ties).
        const nearest = new Map<string, Match>();
        for (const query of queries) {
          for (const match of this.#match(state, algorithm, query.hash, thresholds[name])) {
            rule?.see(match, query);
            const key = `${match.list}\u0000${match.entryId}\u0000${match.hash}`;
            const seen = nearest.get(key);
            if (seen === undefined || match.distance < seen.distance) {
              nearest.set(key, {
                ...match,
                ...(query.transform === undefined ? {} : { transform: query.transform }),
                ...(query.trimmed ? { trimmed: true as const } : {}),
                ...(query.frame === undefined ? {} : { frame: query.frame }),
              });
            }
          }
        }
        found.push(...nearest.values());
      }
      const outcome = rule === undefined ? { matches: found, allowed: [] } : rule.apply(found);
      matches.push(...outcome.matches);
      allowed.push(...outcome.allowed);
      if (first && matches.length > 0) return { matches: [matches.sort(byDistance)[0] as Match], allowed };
    }
    return { matches: matches.sort(byDistance), allowed };
  }
}
