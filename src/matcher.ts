/**
 * The matcher: hash lists indexed per algorithm, queried by hash (sync, CPU only) or by image
 * (async: decoding is I/O-like work done by sharp's thread pool). Perceptual hashes match within a
 * Hamming-distance threshold; exact hashes by equality through a hash table.
 */
import { open } from 'node:fs/promises';
import type { DihedralName } from './algorithms/dihedral.js';
import { getAlgorithm, type AlgorithmName } from './algorithms/registry.js';
import type { HashAlgorithm } from './algorithms/types.js';
import { HashwardenError } from './errors.js';
import type { HashImageOptions, ImageHashes, ImageInfo, ImageInput, ImageQualities, UnusableHashes } from './image/index.js';
import { normalizeEntry, type EntryMetadata, type ListEntry, type ListEntryInput } from './lists/model.js';
import { SNAPSHOT_MAGIC } from './lists/snapshot-magic.js';
import { buildTable, reindexTable, resolveSearch, type MatcherTable, type ResolvedSearch, type TableSearch } from './tables.js';
import { searchedHashes } from './image/searched.js';
import { boolean, integerInRange, invalid, optionsObject } from './validate.js';

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
  readonly label?: string;
  readonly metadata?: EntryMetadata;
}

/** Per-algorithm thresholds, e.g. `{ blockhash: 8 }`. */
export type Thresholds = Readonly<Partial<Record<AlgorithmName, number>>>;

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

/** Options of `matchHash`. */
export interface MatchHashOptions {
  /** Largest distance that matches. Default: the matcher's threshold for the algorithm. */
  readonly threshold?: number;
}

/** Options of `matchImage`. */
export interface MatchImageOptions {
  /** Thresholds for this call, per algorithm. */
  readonly thresholds?: Thresholds;
  /** Which hashes to compute and match. Default: every algorithm the lists contain. */
  readonly algorithms?: readonly AlgorithmName[];
  /**
   * Also match the upload turned and mirrored: the 8 rotations and flips of each perceptual hash,
   * derived from the one decode, are each searched and every entry is reported once, at its
   * nearest, with the `transform` that matched. Mirroring or rotating is the cheapest evasion of a
   * perceptual hash; it costs 8 searches instead of one (each well under a millisecond) and, on
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
   */
  readonly unusable: UnusableHashes;
  readonly image: ImageInfo;
}

/** One item of `matchHashes`: its matches, or why it could not be matched. */
export type HashBatchResult = { readonly ok: true; readonly matches: readonly Match[] } | { readonly ok: false; readonly error: unknown };

/** A query for `matchHash`: an algorithm and its hash (hex or bytes). */
export interface HashQuery {
  readonly algorithm: AlgorithmName | string;
  readonly hash: string | Uint8Array;
}

function resolveThresholds(value: unknown, name: string): Partial<Record<AlgorithmName, number>> {
  const out: Partial<Record<AlgorithmName, number>> = {};
  if (value === undefined) return out;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid('object of per-algorithm thresholds', name, value);
  for (const [key, threshold] of Object.entries(value)) {
    const algorithm = getAlgorithm(key);
    out[algorithm.name] = integerInRange(threshold, 0, algorithm.maxThreshold, `${name}.${key}`);
  }
  return out;
}

function toMatch(table: MatcherTable, index: number, hash: string, distance: number): Match {
  const { entries } = table;
  const match: Match = { list: entries.list(index), entryId: entries.id(index), algorithm: table.algorithm.name, distance, hash };
  const label = entries.label(index);
  if (label !== undefined) Object.assign(match, { label });
  const metadata = entries.metadata(index);
  if (metadata !== undefined) Object.assign(match, { metadata });
  return match;
}

function byDistance(a: Match, b: Match): number {
  return a.distance - b.distance || (a.list < b.list ? -1 : a.list > b.list ? 1 : 0) || (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0);
}

/** True when the file at `path` begins with the snapshot magic; false when it cannot be read. */
async function startsWithSnapshotMagic(path: string): Promise<boolean> {
  if (typeof path !== 'string' || path.length === 0) invalid('path of a snapshot or SQLite store', 'path', path);
  let file;
  try {
    file = await open(path, 'r');
  } catch {
    return false; // the store opener reports the problem in its own terms
  }
  try {
    const head = new Uint8Array(SNAPSHOT_MAGIC.length);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return bytesRead === head.length && SNAPSHOT_MAGIC.every((b, i) => head[i] === b);
  } finally {
    await file.close();
  }
}

/** Matcher options, validated once. */
interface ResolvedMatcherOptions {
  readonly thresholds: Readonly<Partial<Record<AlgorithmName, number>>>;
  readonly image: Omit<HashImageOptions, 'algorithms'>;
  readonly search: ResolvedSearch | undefined;
}

function resolveMatcherOptions(options: MatcherOptions | undefined): ResolvedMatcherOptions {
  const o = optionsObject(options, 'options');
  return Object.freeze({
    thresholds: Object.freeze(resolveThresholds(o.thresholds, 'thresholds')),
    image: Object.freeze({ ...optionsObject(o.image, 'image') }),
    search: resolveSearch(o.search, 'search'),
  });
}

type ImageModule = typeof import('./image/index.js');
let imageModule: Promise<ImageModule> | undefined;

/** Loads `hashwarden/image` (and with it sharp) once, on first use. */
function loadImageModule(): Promise<ImageModule> {
  imageModule ??= import('./image/index.js').catch((error: unknown) => {
    imageModule = undefined;
    throw new HashwardenError('ERR_MODULE_LOAD', `Cannot load the image module (sharp): ${(error as Error).message}`, { cause: error });
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
  readonly #tables: ReadonlyMap<AlgorithmName, MatcherTable>;
  readonly #thresholds: Readonly<Partial<Record<AlgorithmName, number>>>;
  readonly #imageOptions: Omit<HashImageOptions, 'algorithms'>;
  readonly #size: number;

  private constructor(tables: ReadonlyMap<AlgorithmName, MatcherTable>, options: ResolvedMatcherOptions) {
    this.#thresholds = options.thresholds;
    this.#imageOptions = options.image;
    this.#tables = tables;
    this.#size = [...tables.values()].reduce((n, t) => n + t.entries.count, 0);
  }

  static #fromNormalised(entries: readonly ListEntry[], options: ResolvedMatcherOptions): Matcher {
    const grouped = new Map<AlgorithmName, ListEntry[]>();
    for (const entry of entries) {
      let group = grouped.get(entry.algorithm);
      if (group === undefined) grouped.set(entry.algorithm, (group = []));
      group.push(entry);
    }
    const tables = new Map<AlgorithmName, MatcherTable>();
    for (const [name, group] of grouped) tables.set(name, buildTable(getAlgorithm(name), group, options.search));
    return new Matcher(tables, options);
  }

  /**
   * A matcher over `entries` (validated and normalised; a bad entry throws its `HashwardenError`).
   *
   * @example
   * ```ts
   * const m = Matcher.fromEntries(entries, { thresholds: { blockhash: 8 } });
   * ```
   */
  static fromEntries(entries: Iterable<ListEntryInput>, options?: MatcherOptions): Matcher {
    if (entries === null || typeof (entries as Iterable<ListEntryInput>)[Symbol.iterator] !== 'function') {
      invalid('iterable of entries', 'entries', entries);
    }
    const resolved = resolveMatcherOptions(options);
    const normalised: ListEntry[] = [];
    for (const entry of entries) normalised.push(normalizeEntry(entry));
    return Matcher.#fromNormalised(normalised, resolved);
  }

  /**
   * A matcher over a snapshot file (`hashwarden export --snapshot`) or a SQLite store (see
   * `hashwarden/sqlite`), told apart by their first bytes. A snapshot is read into typed arrays
   * with no pass over its entries; a store is read entry by entry (loading better-sqlite3), all
   * lists or only those named in `lists`.
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
    if (o.lists !== undefined && (!Array.isArray(o.lists) || o.lists.some((l) => typeof l !== 'string'))) invalid('array of list names', 'options.lists', o.lists);
    if (await startsWithSnapshotMagic(path)) {
      if (o.lists !== undefined) invalid('no lists option (a snapshot holds the lists it was exported with)', 'options.lists', o.lists);
      return Matcher.#fromSnapshot(path, resolved);
    }
    let sqlite: typeof import('./lists/sqlite.js');
    try {
      sqlite = await import('./lists/sqlite.js');
    } catch (error) {
      throw new HashwardenError('ERR_MODULE_LOAD', `Cannot load the SQLite store (better-sqlite3): ${(error as Error).message}`, { cause: error });
    }
    const store = sqlite.HashStore.open(path, { readonly: true });
    try {
      const entries: ListEntry[] = [];
      if (o.lists === undefined) {
        for (const e of store.entries()) entries.push(e);
      } else {
        for (const list of o.lists) for (const e of store.entries({ list })) entries.push(e);
      }
      return Matcher.#fromNormalised(entries, resolved);
    } finally {
      store.close();
    }
  }

  static async #fromSnapshot(path: string, options: ResolvedMatcherOptions): Promise<Matcher> {
    const { readSnapshot } = await import('./lists/snapshot.js');
    const { tables } = await readSnapshot(path);
    const search = options.search;
    if (search === undefined) return new Matcher(tables, options);
    return new Matcher(new Map([...tables].map(([name, table]) => [name, reindexTable(table, search)])), options);
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
    return Matcher.#fromSnapshot(path, resolveMatcherOptions(options));
  }

  /** Number of entries held. */
  get size(): number {
    return this.#size;
  }

  /** Algorithms that have at least one entry. */
  get algorithms(): AlgorithmName[] {
    return [...this.#tables.keys()];
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
    return [...this.#tables.values()].map((t) => ({
      algorithm: t.algorithm.name,
      count: t.entries.count,
      tier: t.search.tier,
      ...(t.search.tier === 'mih' ? { substringBits: t.search.substringBits } : {}),
    }));
  }

  /** The threshold used for `algorithm` when a call sets none. */
  threshold(algorithm: AlgorithmName): number {
    return this.#thresholds[algorithm] ?? getAlgorithm(algorithm).defaultThreshold;
  }

  #match(algorithm: HashAlgorithm<AlgorithmName>, hash: Uint8Array, threshold: number): Match[] {
    const table = this.#tables.get(algorithm.name);
    if (table === undefined) return [];
    if (table.kind === 'exact') {
      const [start, end] = table.index.find(hash);
      const hex = algorithm.format(hash);
      const out: Match[] = [];
      for (let i = start; i < end; i++) out.push(toMatch(table, i, hex, 0));
      return out;
    }
    return table.index.search(hash, threshold).map((hit) => toMatch(table, hit.index, algorithm.format(table.index.hashAt(hit.index)), hit.distance));
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
    return this.#matchQuery(query, o.threshold);
  }

  #matchQuery(query: HashQuery, threshold: number | undefined): Match[] {
    if (query === null || typeof query !== 'object') invalid('object with algorithm and hash', 'query', query);
    const algorithm = getAlgorithm(query.algorithm);
    const hash = query.hash instanceof Uint8Array ? query.hash : algorithm.parse(query.hash);
    if (hash.length * 8 !== algorithm.bits) {
      throw new HashwardenError('ERR_HASH_FORMAT', `Expected ${algorithm.bits / 8} bytes for a ${algorithm.name} hash but received ${hash.length}`);
    }
    const t = threshold === undefined ? this.threshold(algorithm.name) : integerInRange(threshold, 0, algorithm.maxThreshold, 'threshold');
    return this.#match(algorithm, hash, t).sort(byDistance);
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
    if (queries === null || typeof (queries as Iterable<HashQuery>)[Symbol.iterator] !== 'function') invalid('iterable of queries', 'queries', queries);
    const o = optionsObject(options, 'options');
    // Validate the shared option once, so a bad threshold is the caller's error, not every item's.
    if (o.threshold !== undefined) integerInRange(o.threshold, 0, 256, 'threshold');
    const results: HashBatchResult[] = [];
    for (const query of queries) {
      try {
        results.push({ ok: true, matches: this.#matchQuery(query, o.threshold) });
      } catch (error) {
        results.push({ ok: false, error });
      }
    }
    return results;
  }

  /**
   * Hashes an image (loading `hashwarden/image` on first use) and matches every hash.
   * Rejects with the `HashwardenError` of `hashImage` when the image cannot be hashed: treat that
   * as "cannot be checked", never as "clean".
   *
   * @example
   * ```ts
   * const { matched, matches } = await matcher.matchImage(await readFile('upload.jpg'));
   * ```
   */
  async matchImage(input: ImageInput, options?: MatchImageOptions): Promise<ImageMatchResult> {
    const o = optionsObject(options, 'options');
    const thresholds = resolveThresholds(o.thresholds, 'thresholds');
    const algorithms = o.algorithms ?? (this.#tables.size > 0 ? this.algorithms : undefined);
    const { hashImage } = await loadImageModule();
    const dihedral = o.dihedral === undefined ? (this.#imageOptions.dihedral ?? true) : boolean(o.dihedral, 'options.dihedral');
    const trim = o.trim === undefined ? (this.#imageOptions.trim ?? true) : boolean(o.trim, 'options.trim');
    const hashed = await hashImage(input, { ...this.#imageOptions, dihedral, trim, ...(algorithms === undefined ? {} : { algorithms }) });
    const matches: Match[] = [];
    for (const [name, hex] of Object.entries(hashed.hashes) as [AlgorithmName, string][]) {
      const algorithm = getAlgorithm(name);
      if (algorithm.kind === 'exact') {
        matches.push(...this.#match(algorithm, algorithm.parse(hex), thresholds[name] ?? this.threshold(name)));
        continue;
      }
      // The queries: the upload's hash (or its 8 turned and mirrored), then the same for what lies
      // inside its border, without those a guard refuses (searched.ts).
      const queries = searchedHashes(hashed, name);
      // Each entry once, at its nearest query (the upload as it is first, so it wins ties).
      const nearest = new Map<string, Match>();
      const threshold = thresholds[name] ?? this.threshold(name);
      for (const query of queries) {
        for (const match of this.#match(algorithm, algorithm.parse(query.hash), threshold)) {
          const key = `${match.list}\u0000${match.entryId}\u0000${match.hash}`;
          const seen = nearest.get(key);
          if (seen === undefined || match.distance < seen.distance) {
            nearest.set(key, { ...match, ...(query.transform === undefined ? {} : { transform: query.transform }), ...(query.trimmed ? { trimmed: true as const } : {}) });
          }
        }
      }
      matches.push(...nearest.values());
    }
    matches.sort(byDistance);
    return { matched: matches.length > 0, matches, hashes: hashed.hashes, quality: hashed.quality, unusable: hashed.unusable, image: hashed.image };
  }
}
