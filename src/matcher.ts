/**
 * The matcher: hash lists indexed per algorithm, queried by hash (sync, CPU only) or by image
 * (async: decoding is I/O-like work done by sharp's thread pool). Perceptual hashes match within a
 * Hamming-distance threshold; exact hashes by equality through a hash table.
 */
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { DihedralName } from './algorithms/dihedral.js';
import {
  callThresholds,
  checkThresholds,
  getAlgorithm,
  type AlgorithmName,
  type Thresholds,
} from './algorithms/registry.js';
import type { HashAlgorithm } from './algorithms/types.js';
import { mapSettled, MAX_CONCURRENCY, type Settled } from './concurrency.js';
import { HashwardenError } from './errors.js';
import type {
  FrameHashes,
  HashImageOptions,
  ImageHashes,
  ImageHashResult,
  ImageInfo,
  ImageInput,
  ImageQualities,
  UnusableHashes,
} from './image/index.js';
import type { UploadPass, UploadPlan } from './image/upload.js';
import { normalizeEntry, type EntryMetadata, type ListEntry, type ListEntryInput } from './lists/entry.js';
import { SNAPSHOT_MAGIC } from './snapshot/format.js';
import {
  buildTable,
  reindexTable,
  resolveSearch,
  type MatcherTable,
  type ResolvedSearch,
  type TableSearch,
} from './search/tables.js';
import { boolean, integerInRange, invalid, nonEmptyString, optionsObject } from './validate.js';

/** One entry that matched a query. */
export interface Match {
  readonly list: string;
  readonly entryId: string;
  readonly algorithm: AlgorithmName;
  /** Hamming distance between the query and the entry (0 for exact hashes). */
  readonly distance: number;
  /** The entry's hash, lower-case hex. */
  readonly hash: string;
  /**
   * Perceptual matches in `matchImage` with `dihedral` on: which rotation or flip of the upload
   * matched (`'original'` when the upload as it is), one of `DIHEDRAL_NAMES`.
   */
  readonly transform?: DihedralName;
  /**
   * Perceptual matches in `matchImage` with `trim` on: true when the match was found on what lies
   * inside the upload's uniform border (letterbox, pillarbox, frame, padding), absent otherwise.
   */
  readonly trimmed?: true;
  /**
   * Perceptual matches of an animated upload (GIF, WebP): the frame, 0-based, whose hash matched
   * (the first such frame when several did equally near). Absent for a still image and for exact
   * hashes, which are of the whole file.
   */
  readonly frame?: number;
  /** The entry's label (`csam`, …), when it has one. */
  readonly label?: string;
  readonly metadata?: EntryMetadata;
  /** The list's label: what a match on it means to the caller (`block-and-report`, `review`…), when set. */
  readonly listLabel?: string;
  /** The version of the list the entry came from, when the source has versions (stores, snapshots). */
  readonly listVersion?: number;
}

/**
 * A list as a matcher holds it: its name, version and policy. From a store or a snapshot, or
 * given to `fromEntries`; a list with entries but no policy uses the matcher's thresholds.
 */
export interface MatcherList {
  readonly name: string;
  readonly version?: number;
  /** Per-algorithm thresholds for this list; an algorithm not named uses the matcher's. */
  readonly thresholds?: Thresholds;
  /** What a match on this list means (`block-and-report`, `review`…): `Match.listLabel`. */
  readonly label?: string;
}

/** Options of a matcher. */
export interface MatcherOptions {
  /** Thresholds used when a call sets none. Default: each algorithm's `defaultThreshold`. */
  readonly thresholds?: Thresholds;
  /** Options for hashing in `matchImage` (resolution, limits). Default: `hashImage`'s defaults. */
  readonly image?: Omit<HashImageOptions, 'algorithms'>;
  /**
   * How perceptual hashes are searched. `tier`: `'auto'` (multi-index hashing from about 180k
   * entries, where its tables fit 80 bytes an entry; the linear scan below), `'linear'` or
   * `'mih'`; `substringBits`: the MIH substring width, 8–24 (default: from the list size). Every
   * tier returns exactly the same matches; only speed and memory differ. A snapshot keeps the
   * index it was written with unless this option is given. Default: `{ tier: 'auto' }`.
   */
  readonly search?: { readonly tier?: 'auto' | 'linear' | 'mih'; readonly substringBits?: number };
  /**
   * Accept a source with no entry to match (an empty list, every list disabled). A matcher over
   * nothing answers "no match" to every upload, which for this domain is failing open, so by
   * default `fromEntries`, `open`, `openSnapshot` and `reload` refuse it with `ERR_NO_ENTRIES`.
   * Default `false`.
   */
  readonly allowEmpty?: boolean;
}

/** How one algorithm's entries are held and searched, as `Matcher.describe()` reports it. */
export interface MatcherTableInfo {
  readonly algorithm: AlgorithmName;
  /** Entries of this algorithm. */
  readonly count: number;
  /** `'linear'` scan, `'mih'` (multi-index hashing), or `'exact'` (hash table). */
  readonly tier: TableSearch['tier'];
  /** MIH only: the width of each substring (table), summing to the hash's bits. */
  readonly substringBits?: readonly number[];
}

/** Options of `matchHash` and `matchHashes`; `matchImage` and `matchImages` take them too. */
export interface MatchHashOptions {
  /**
   * Largest distance that matches, for this call and every list: one number for every perceptual
   * algorithm (exact hashes match by equality), or per algorithm (`{ pdq: 31, blockhash: 8 }`).
   * An algorithm not named uses each list's threshold, else the matcher's. Default: none.
   */
  readonly threshold?: number | Thresholds;
}

/** Options of `matchImage`. */
export interface MatchImageOptions extends MatchHashOptions {
  /**
   * Thresholds for this call, per algorithm.
   *
   * @deprecated Use `threshold`, which takes the same object (or one number); giving both is a
   * TypeError.
   */
  readonly thresholds?: Thresholds;
  /** Which hashes to compute and match. Default: every algorithm the lists contain. */
  readonly algorithms?: readonly AlgorithmName[];
  /**
   * Also match the upload turned and mirrored: the 8 rotations and flips of each perceptual hash,
   * derived from the one decode, are each searched and every entry is reported once, at its
   * nearest, with the `transform` that matched. Mirroring or rotating is the cheapest evasion of a
   * perceptual hash; it costs 8 searches instead of one (docs/benchmark.md) and, on
   * unrelated images about 128 bits apart, adds no measurable chance match. Default: `true`
   * (or the matcher's `image.dihedral`).
   */
  readonly dihedral?: boolean;
  /**
   * Also match what lies inside the upload's uniform border, when it has one (black bars added to
   * fit a frame, padding, a plain frame): such a border moves every block and frequency of a
   * perceptual hash, and a 10% border defeated PDQ and blockhash on every photo measured
   * (docs/thresholds.md). Costs a second hashing only for images with a border. Default: `true`
   * (or the matcher's `image.trim`).
   */
  readonly trim?: boolean;
  /**
   * Stop at the first list entry found instead of finding them all: exact hashes are computed and
   * looked up first, from the bytes alone, and the image is decoded only when none matched; then
   * each perceptual algorithm in turn, its nearest match. For upload paths that only need to
   * know whether to block. Default `false` (every match, nearest first).
   */
  readonly first?: boolean;
}

/** The result of `matchImage`. */
export interface ImageMatchResult {
  /** True when any entry matched. */
  readonly matched: boolean;
  /** Matches, nearest first. */
  readonly matches: readonly Match[];
  /** The image's hashes, as `hashImage` returns them. */
  readonly hashes: ImageHashes;
  /** Quality of the hashes that have one (PDQ). */
  readonly quality: ImageQualities;
  /**
   * Hashes that were computed but not matched, and why: a PDQ hash of quality below 50. A result
   * with `matched: false` and an entry here means "could not be checked by that hash", not clean.
   * For an animated upload, frame 0's (each frame's are in `frames`).
   */
  readonly unusable: UnusableHashes;
  /**
   * Animated uploads only: the perceptual hashes of each frame hashed, from frame 0, as `hashImage`
   * returns them. Fewer than `image.frameCount` when the frame limit (`maxFrames`, default 32) or
   * the pixel limit cut the hashing short: the later frames were not checked.
   */
  readonly frames?: readonly FrameHashes[];
  readonly image: ImageInfo;
}

/**
 * Default number of images `matchImages` hashes at once: 4. sharp decodes on libuv's thread pool,
 * 4 threads unless `UV_THREADPOOL_SIZE` says otherwise, and hashing runs on the JavaScript thread,
 * so more images in flight only wait, each holding its bytes and raster: memory grows with the
 * concurrency (at most about `maxBytes` + 4 bytes × `maxPixels` an image), speed does not.
 */
export const DEFAULT_MATCH_CONCURRENCY = 4;

/** Options of `matchImages`: those of `matchImage`, for every item, and how many at once. */
export interface MatchImagesOptions extends MatchImageOptions {
  /** Images hashed and matched at once, 1–1024. Default {@link DEFAULT_MATCH_CONCURRENCY} (4). */
  readonly concurrency?: number;
}

/** One item of `matchImages`: its result, or the error that kept it from being checked. */
export type ImageBatchResult = Settled<ImageMatchResult>;

/** One item of `matchHashes`: its matches, or why it could not be matched. */
export type HashBatchResult =
  | { readonly ok: true; readonly matches: readonly Match[] }
  | { readonly ok: false; readonly error: unknown };

/** A query for `matchHash`: an algorithm and its hash (hex or bytes). */
export interface HashQuery {
  readonly algorithm: AlgorithmName | string;
  readonly hash: string | Uint8Array;
}

function toMatch(
  table: MatcherTable,
  lists: ReadonlyMap<string, MatcherList>,
  index: number,
  hash: string,
  distance: number,
): Match {
  const { entries } = table;
  const match: Match = {
    list: entries.list(index),
    entryId: entries.id(index),
    algorithm: table.algorithm.name,
    distance,
    hash,
  };
  const label = entries.label(index);
  if (label !== undefined) Object.assign(match, { label });
  const metadata = entries.metadata(index);
  if (metadata !== undefined) Object.assign(match, { metadata });
  const list = lists.get(match.list);
  if (list?.label !== undefined) Object.assign(match, { listLabel: list.label });
  if (list?.version !== undefined) Object.assign(match, { listVersion: list.version });
  return match;
}

/** The lists a matcher is given, checked: names unique, thresholds in range, labels strings. */
function checkLists(value: unknown, name: string): ReadonlyMap<string, MatcherList> {
  const out = new Map<string, MatcherList>();
  if (value === undefined) return out;
  if (!Array.isArray(value)) invalid('array of lists', name, value);
  (value as unknown[]).forEach((item, i) => {
    const l = optionsObject(item as MatcherList, `${name}[${i}]`);
    if (typeof l.name !== 'string' || l.name.trim() === '') invalid('non-empty string', `${name}[${i}].name`, l.name);
    const list: MatcherList = {
      name: l.name.trim(),
      ...(l.version === undefined
        ? {}
        : { version: integerInRange(l.version, 0, Number.MAX_SAFE_INTEGER, `${name}[${i}].version`) }),
      ...(l.thresholds === undefined
        ? {}
        : { thresholds: Object.freeze(checkThresholds(l.thresholds, `${name}[${i}].thresholds`)) }),
      ...(l.label === undefined ? {} : { label: nonEmptyString(l.label, `${name}[${i}].label`) }),
    };
    if (out.has(list.name)) invalid('lists with unique names', `${name}[${i}].name`, l.name, true);
    out.set(list.name, Object.freeze(list));
  });
  return out;
}

/**
 * What a matcher searches, swapped whole by `reload`: a call takes it once at its start, so it
 * sees one version from beginning to end.
 */
interface State {
  readonly tables: ReadonlyMap<AlgorithmName, MatcherTable>;
  readonly lists: ReadonlyMap<string, MatcherList>;
  readonly size: number;
  /** What `reload` compares to tell whether the source changed. */
  readonly signature: string;
}

function makeState(
  tables: ReadonlyMap<AlgorithmName, MatcherTable>,
  lists: ReadonlyMap<string, MatcherList>,
  signature = '',
): State {
  return Object.freeze({
    tables,
    lists,
    size: [...tables.values()].reduce((n, t) => n + t.entries.count, 0),
    signature,
  });
}

/** Where a matcher was opened from, for `reload`. */
interface Origin {
  readonly path: string;
  readonly kind: 'snapshot' | 'store';
  readonly lists: readonly string[] | undefined;
}

function byDistance(a: Match, b: Match): number {
  return (
    a.distance - b.distance ||
    (a.list < b.list ? -1 : a.list > b.list ? 1 : 0) ||
    (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0)
  );
}

/** `ERR_INPUT_READ` for `path`, with the system's reason. */
function readError(path: string, error: unknown): HashwardenError {
  return new HashwardenError('ERR_INPUT_READ', `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
}

/** True when the file at `path` begins with the snapshot magic; false when it cannot be read. */
async function startsWithSnapshotMagic(path: string): Promise<boolean> {
  if (typeof path !== 'string' || path.length === 0) invalid('path of a snapshot or SQLite store', 'path', path);
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch {
    return false; // the store opener reports the problem in its own terms
  }
  try {
    const head = new Uint8Array(SNAPSHOT_MAGIC.length);
    let bytesRead: number;
    try {
      ({ bytesRead } = await file.read(head, 0, head.length, 0));
    } catch (error) {
      // A directory opens, then refuses to be read (EISDIR): the path's problem, not a bug.
      throw readError(path, error);
    }
    return bytesRead === head.length && SNAPSHOT_MAGIC.every((b, i) => head[i] === b);
  } finally {
    await file.close();
  }
}

/** A file's identity and size: a snapshot rewritten (written aside, then renamed) changes it. */
async function fileSignature(path: string): Promise<string> {
  try {
    const info = await stat(path);
    return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  } catch (error) {
    throw readError(path, error);
  }
}

/** Matcher options, validated once. */
interface ResolvedMatcherOptions {
  readonly thresholds: Thresholds;
  readonly image: Omit<HashImageOptions, 'algorithms'>;
  readonly search: ResolvedSearch | undefined;
  readonly allowEmpty: boolean;
}

function resolveMatcherOptions(options: MatcherOptions | undefined): ResolvedMatcherOptions {
  const o = optionsObject(options, 'options');
  return Object.freeze({
    thresholds: Object.freeze(checkThresholds(o.thresholds, 'thresholds')),
    image: Object.freeze({ ...optionsObject(o.image, 'image') }),
    search: resolveSearch(o.search, 'search'),
    allowEmpty: o.allowEmpty === undefined ? false : boolean(o.allowEmpty, 'allowEmpty'),
  });
}

/**
 * `state`, unless it holds no entry and the caller did not allow that: a matcher over nothing
 * would call every upload clean.
 */
function nonEmpty(state: State, options: ResolvedMatcherOptions, source: string): State {
  if (state.size === 0 && !options.allowEmpty) {
    throw new HashwardenError(
      'ERR_NO_ENTRIES',
      `${source}: no entry to match (no list, or every list empty or disabled), so every upload would pass as clean; pass allowEmpty: true to accept that`,
    );
  }
  return state;
}

/** A call's `threshold` (or the deprecated `thresholds` of `matchImage`), checked once. */
function thresholdOption(o: Partial<MatchImageOptions>): Thresholds {
  if (o.threshold !== undefined && o.thresholds !== undefined)
    invalid('threshold or thresholds, not both', 'options.thresholds', o.thresholds);
  return o.thresholds === undefined
    ? callThresholds(o.threshold, 'threshold')
    : callThresholds(o.thresholds, 'thresholds');
}

type ImageModule = typeof import('./image/upload.js');
let imageModule: Promise<ImageModule> | undefined;

/** A `matchImage` call's options, checked once. */
interface MatchPlan {
  readonly thresholds: Thresholds;
  readonly first: boolean;
  readonly upload: UploadPlan;
}

/** An animated upload's frames, as a field to spread into a result (nothing for a still image). */
function framesOf(hashed: ImageHashResult): { frames?: readonly FrameHashes[] } {
  return hashed.frames === undefined ? {} : { frames: hashed.frames };
}

/** Loads the image module (and with it sharp) once, on first use. */
function loadImageModule(): Promise<ImageModule> {
  imageModule ??= import('./image/upload.js').catch((error: unknown) => {
    imageModule = undefined;
    throw new HashwardenError('ERR_MODULE_LOAD', `Cannot load the image module (sharp): ${(error as Error).message}`, {
      cause: error,
    });
  });
  return imageModule;
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

  private constructor(state: State, options: ResolvedMatcherOptions, origin?: Origin) {
    this.#thresholds = options.thresholds;
    this.#imageOptions = options.image;
    this.#options = options;
    this.#state = state;
    this.#origin = origin;
  }

  static #tablesOf(entries: readonly ListEntry[], options: ResolvedMatcherOptions): Map<AlgorithmName, MatcherTable> {
    const grouped = new Map<AlgorithmName, ListEntry[]>();
    for (const entry of entries) {
      let group = grouped.get(entry.algorithm);
      if (group === undefined) {
        group = [];
        grouped.set(entry.algorithm, group);
      }
      group.push(entry);
    }
    const tables = new Map<AlgorithmName, MatcherTable>();
    for (const [name, group] of grouped) tables.set(name, buildTable(getAlgorithm(name), group, options.search));
    return tables;
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
    const lists = checkLists(optionsObject(options, 'options').lists, 'options.lists');
    const normalised: ListEntry[] = [];
    for (const entry of entries) normalised.push(normalizeEntry(entry));
    return new Matcher(
      nonEmpty(makeState(Matcher.#tablesOf(normalised, resolved), lists), resolved, 'Matcher.fromEntries'),
      resolved,
    );
  }

  /**
   * A matcher over a snapshot file (`hashwarden export --snapshot`) or a SQLite store (see
   * `hashwarden/sqlite`), told apart by their first bytes. A snapshot is read into typed arrays
   * with no pass over its entries, with the lists and policy it was exported with; a store is read
   * in one read transaction (loading better-sqlite3), entry by entry: its enabled lists, or those
   * named in `lists` (enabled or not; a name the store does not hold is `ERR_STORE`), each with its
   * version, thresholds and label. `reload` reads the same source again. A source with no entry to
   * match (an empty snapshot, every list empty or disabled) is `ERR_NO_ENTRIES` unless
   * `allowEmpty`; a path that cannot be read (a directory) `ERR_INPUT_READ`.
   *
   * @example
   * ```ts
   * const matcher = await Matcher.open('lists.snap');
   * const fromStore = await Matcher.open('hashes.db', { lists: ['ncmec'] });
   * ```
   */
  static async open(path: string, options?: MatcherOptions & { readonly lists?: readonly string[] }): Promise<Matcher> {
    const o = optionsObject(options, 'options');
    const resolved = resolveMatcherOptions(o);
    if (o.lists !== undefined && (!Array.isArray(o.lists) || o.lists.some((l) => typeof l !== 'string')))
      invalid('array of list names', 'options.lists', o.lists);
    if (await startsWithSnapshotMagic(path)) {
      if (o.lists !== undefined)
        invalid('no lists option (a snapshot holds the lists it was exported with)', 'options.lists', o.lists);
      return new Matcher(await Matcher.#loadSnapshot(path, resolved), resolved, {
        path,
        kind: 'snapshot',
        lists: undefined,
      });
    }
    const origin: Origin = {
      path,
      kind: 'store',
      lists: o.lists === undefined ? undefined : Object.freeze([...o.lists]),
    };
    return new Matcher((await Matcher.#loadStore(origin, resolved, undefined)) as State, resolved, origin);
  }

  /**
   * Reads a store's lists (all enabled ones, or those named) and their entries in one read
   * transaction. With `unless`, returns undefined when the lists' versions and policy still
   * give that signature (nothing to reload).
   */
  static async #loadStore(
    origin: Origin,
    options: ResolvedMatcherOptions,
    unless: string | undefined,
  ): Promise<State | undefined> {
    let sqlite: typeof import('./store/index.js');
    try {
      sqlite = await import('./store/index.js');
    } catch (error) {
      throw new HashwardenError(
        'ERR_MODULE_LOAD',
        `Cannot load the SQLite store (better-sqlite3): ${(error as Error).message}`,
        { cause: error },
      );
    }
    const store = sqlite.HashStore.open(origin.path, { readonly: true });
    try {
      return store.read(() => {
        const held = store.lists();
        const signature = JSON.stringify(
          held.map((l) => [l.name, l.version, l.thresholds, l.label ?? null, l.enabled]),
        );
        if (signature === unless) return undefined;
        const missing = origin.lists?.filter((name) => !held.some((l) => l.name === name.trim())) ?? [];
        if (missing.length > 0)
          throw new HashwardenError(
            'ERR_STORE',
            `SQLite store ${origin.path}: no list named ${missing.map((n) => JSON.stringify(n)).join(', ')}`,
          );
        const chosen = held.filter((l) =>
          origin.lists === undefined ? l.enabled : origin.lists.some((name) => name.trim() === l.name),
        );
        const entries: ListEntry[] = [];
        for (const list of chosen) for (const e of store.entries({ list: list.name })) entries.push(e);
        const lists = new Map(
          chosen.map((l) => [
            l.name,
            Object.freeze({
              name: l.name,
              version: l.version,
              thresholds: l.thresholds,
              ...(l.label === undefined ? {} : { label: l.label }),
            }),
          ]),
        );
        return nonEmpty(
          makeState(Matcher.#tablesOf(entries, options), lists, signature),
          options,
          `SQLite store ${origin.path}`,
        );
      });
    } finally {
      store.close();
    }
  }

  /** A snapshot's tables and lists; its signature is the file's identity (a rewrite is a rename). */
  static async #loadSnapshot(path: string, options: ResolvedMatcherOptions): Promise<State> {
    const { readSnapshot } = await import('./snapshot/read.js');
    // Taken before reading, so a file replaced meanwhile is read again by the next reload; when
    // it cannot be taken, readSnapshot says why in its own words.
    const before = await fileSignature(path).catch(() => '');
    const snapshot = await readSnapshot(path);
    const search = options.search;
    const tables =
      search === undefined
        ? snapshot.tables
        : new Map([...snapshot.tables].map(([name, table]) => [name, reindexTable(table, search)]));
    const lists = new Map(snapshot.lists.map((l) => [l.name, Object.freeze({ ...l })]));
    return nonEmpty(makeState(tables, lists, before), options, `Snapshot ${path}`);
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
    return new Matcher(await Matcher.#loadSnapshot(path, resolved), resolved, {
      path,
      kind: 'snapshot',
      lists: undefined,
    });
  }

  /**
   * Reads the source this matcher was opened from again, when it changed, and swaps the new lists
   * in whole: calls already running finish on the lists they started with, calls made after the
   * swap see the new ones, and none waits or fails meanwhile. A store has changed when a list's
   * version or policy has (a cheap read of the lists); a snapshot when its file was replaced.
   * Resolves to true when it swapped, false when nothing changed; concurrent calls share one
   * reload. If reading fails, or the source now holds no entry (`ERR_NO_ENTRIES`, unless the
   * matcher was opened with `allowEmpty`), it rejects and the matcher keeps serving the previous
   * lists.
   * Reading a store is synchronous work (about as long as `Matcher.open`), so services that must
   * never pause should reload from snapshots (docs/lists.md). A matcher made by `fromEntries` has
   * no source: TypeError.
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
    this.#reloading ??= (async () => {
      try {
        const current = this.#state;
        let next: State | undefined;
        if (origin.kind === 'snapshot') {
          next =
            (await fileSignature(origin.path)) === current.signature
              ? undefined
              : await Matcher.#loadSnapshot(origin.path, this.#options);
        } else {
          next = await Matcher.#loadStore(origin, this.#options, current.signature);
        }
        if (next === undefined) return false;
        this.#state = next;
        return true;
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  /** The lists held, with their versions and policy. */
  get lists(): MatcherList[] {
    return [...this.#state.lists.values()];
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
   * hashing, the substring widths. For logs and capacity checks.
   *
   * @example
   * ```ts
   * matcher.describe(); // [{ algorithm: 'blockhash', count: 1000000, tier: 'mih', substringBits: [19, …] }]
   * ```
   */
  describe(): MatcherTableInfo[] {
    return [...this.#state.tables.values()].map((t) => ({
      algorithm: t.algorithm.name,
      count: t.entries.count,
      tier: t.search.tier,
      ...(t.search.tier === 'mih' ? { substringBits: t.search.substringBits } : {}),
    }));
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
    return this.#matchQuery(query, callThresholds(optionsObject(options, 'options').threshold, 'threshold'));
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
    return this.#match(this.#state, algorithm, hash, thresholds[algorithm.name]).sort(byDistance);
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
    const thresholds = callThresholds(optionsObject(options, 'options').threshold, 'threshold');
    const results: HashBatchResult[] = [];
    for (const query of queries) {
      try {
        results.push({ ok: true, matches: this.#matchQuery(query, thresholds) });
      } catch (error) {
        results.push({ ok: false, error });
      }
    }
    return results;
  }

  /**
   * Hashes an image (loading `hashwarden/image` on first use) and matches every hash; of an
   * animated GIF or WebP, the hashes of each of its first `maxFrames` frames (default 32), a match
   * naming its `frame`. Rejects with the `HashwardenError` of `hashImage` when the image cannot be
   * hashed: treat that as "cannot be checked", never as "clean".
   *
   * @example
   * ```ts
   * const { matched, matches } = await matcher.matchImage(await readFile('upload.jpg'));
   * ```
   */
  async matchImage(input: ImageInput, options?: MatchImageOptions): Promise<ImageMatchResult> {
    // One version of the lists for the whole call, whatever a reload swaps in meanwhile.
    const state = this.#state;
    const { image, plan } = await this.#plan(state, options);
    return this.#matchImageWith(state, image, plan, input);
  }

  /**
   * Hashes and matches many images, at most `concurrency` at once (default 4,
   * {@link DEFAULT_MATCH_CONCURRENCY}), each with the options of `matchImage`. One image that
   * cannot be checked does not fail the batch: each result is `{ ok: true, value }` (what
   * `matchImage` resolves to) or `{ ok: false, error }` (what it rejects with, a
   * `HashwardenError` for a bad upload), in input order. Options are checked once, for the whole
   * call (a bad one rejects it, as a TypeError or RangeError), and every image is matched against
   * the same version of the lists, whatever a reload swaps in meanwhile. Memory is bounded by the
   * concurrency: each image in flight holds its bytes and one decoded raster, within `maxBytes`
   * and `maxPixels`.
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
      invalid('iterable of images (Buffers, Uint8Arrays or file paths)', 'inputs', inputs);
    }
    const { concurrency, ...rest } = optionsObject(options, 'options');
    const limit =
      concurrency === undefined
        ? DEFAULT_MATCH_CONCURRENCY
        : integerInRange(concurrency, 1, MAX_CONCURRENCY, 'concurrency');
    const items = [...inputs];
    const state = this.#state;
    const { image, plan } = await this.#plan(state, rest);
    return mapSettled(items, limit, (input) => this.#matchImageWith(state, image, plan, input));
  }

  /** A `matchImage` call's options, checked and resolved once (for a batch, once for every image). */
  async #plan(state: State, options: MatchImageOptions | undefined): Promise<{ image: ImageModule; plan: MatchPlan }> {
    const o = optionsObject(options, 'options');
    const thresholds = thresholdOption(o);
    const algorithms = o.algorithms ?? (state.tables.size > 0 ? [...state.tables.keys()] : undefined);
    const first = o.first === undefined ? false : boolean(o.first, 'options.first');
    const dihedral =
      o.dihedral === undefined ? (this.#imageOptions.dihedral ?? true) : boolean(o.dihedral, 'options.dihedral');
    const trim = o.trim === undefined ? (this.#imageOptions.trim ?? true) : boolean(o.trim, 'options.trim');
    const image = await loadImageModule();
    const upload = image.planUpload({ image: { ...this.#imageOptions, dihedral, trim }, algorithms, first });
    return { image, plan: { thresholds, first, upload } };
  }

  async #matchImageWith(
    state: State,
    image: ImageModule,
    plan: MatchPlan,
    input: ImageInput,
  ): Promise<ImageMatchResult> {
    for await (const pass of image.hashUpload(input, plan.upload)) {
      const matches = this.#matchPass(state, pass, plan.thresholds, plan.first);
      if (matches.length > 0 || pass.last) {
        const { result } = pass;
        return {
          matched: matches.length > 0,
          matches,
          hashes: result.hashes,
          quality: result.quality,
          unusable: result.unusable,
          ...framesOf(result),
          image: result.image,
        };
      }
    }
    throw new Error('unreachable: an upload plan has at least one pass');
  }

  /**
   * The matches of one hashing pass: each exact hash looked up, each perceptual algorithm's
   * searched hashes looked up, every entry once at its nearest. With `first`, the first algorithm
   * that matches gives its nearest entry alone.
   */
  #matchPass(state: State, pass: UploadPass, thresholds: Thresholds, first: boolean): Match[] {
    const matches: Match[] = [];
    for (const [name, queries] of pass.queries) {
      const algorithm = getAlgorithm(name);
      if (algorithm.kind === 'exact') {
        for (const query of queries) matches.push(...this.#match(state, algorithm, query.hash, thresholds[name]));
      } else {
        // Each entry once, at its nearest query (the upload as it is first, so it wins ties).
        const nearest = new Map<string, Match>();
        for (const query of queries) {
          for (const match of this.#match(state, algorithm, query.hash, thresholds[name])) {
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
        matches.push(...nearest.values());
      }
      if (first && matches.length > 0) return [matches.sort(byDistance)[0] as Match];
    }
    return matches.sort(byDistance);
  }
}
