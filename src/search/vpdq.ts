/**
 * vPDQ matching as python-threatexchange defines it (threatexchange/extensions/vpdq: vpdq_util.py's
 * `prepare_vpdq_feature` and thresholds, vpdq_index.py's `VPDQIndex.query`, vpdq_brute_matcher.py):
 * - each side's frames below quality 50 are dropped, then repeated frame hashes kept once (first);
 * - a query frame matches a listed video when one of that video's frames is within the distance
 *   (≤ 31 bits), and a listed frame matches when one of the query's frames is within it;
 * - a listed video matches when the share of the query's unique frames that matched it reaches
 *   80% and the share of its own unique frames that matched reaches 0%, both as percentages
 *   computed as pytx computes them (`count * 100 / total`), and at least one frame matched (pytx's
 *   index only reports a video some frame hit).
 * The listed videos' unique frame hashes sit in one exact PDQ index (src/search/: the linear scan,
 * or multi-index hashing for large lists, as the matcher picks), each with the videos holding it;
 * the votes are counted per listed video. `matchVpdqBrute` is pytx's brute-force matcher
 * transcribed, every frame pair compared: the index is tested against it.
 */
import { hammingDistance, parseHex } from '../algorithms/hex.js';
import { HashwardenError } from '../errors.js';
import { normalizeVpdqEntry, type VpdqEntryInput, type VpdqListEntry } from '../lists/vpdq-entry.js';
import { byteColumn, type EntryColumns, packEntries, packedEntryTable, type StringColumn } from './entry-table.js';
import { LinearIndex } from './linear.js';
import type { MihIndex } from './mih.js';
import { perceptualIndex, type ResolvedSearch, resolveSearch, type TableSearch } from './tables.js';
import type { SearchTierOptions } from './tier.js';
import { integerInRange, invalid, optionsObject } from '../validate.js';
import {
  formatVpdqJson,
  MAX_VPDQ_ENTRY_FRAMES,
  packVpdq,
  unpackVpdq,
  VPDQ_ALGORITHM,
  VPDQ_PACKED_FRAME_BYTES,
  type VpdqFeature,
} from '../algorithms/vpdq.js';
import type { EntryMetadata, ListEntry } from '../lists/entry.js';
import { entryFields, listName } from '../lists/entry-fields.js';

/** Frames below this PDQ quality are dropped on both sides: pytx's `VPDQ_QUALITY_THRESHOLD` (50). */
export const VPDQ_QUALITY_THRESHOLD = 50;

/**
 * Default largest Hamming distance at which two frames match: pytx's `VPDQ_DISTANCE_THRESHOLD`
 * (31), the same as PDQ's photo threshold and Meta's regression rule for vPDQ frames.
 */
export const VPDQ_DISTANCE_THRESHOLD = 31;

/**
 * Default least share of the query's unique frames, in percent, that must match a listed video:
 * pytx's `VPDQ_QUERY_MATCH_THRESHOLD_PERCENT` (80): most of the upload is the listed video.
 */
export const VPDQ_QUERY_MATCH_THRESHOLD_PERCENT = 80;

/**
 * Default least share of the listed video's unique frames, in percent, that must match: pytx's
 * `VPDQ_INDEX_MATCH_THRESHOLD_PERCENT` (0): an upload cut from a longer listed video still matches.
 */
export const VPDQ_INDEX_MATCH_THRESHOLD_PERCENT = 0;

/**
 * vPDQ entries as a store reads them and a snapshot holds them: the columns every packed table has
 * (lists, ids, labels, metadata), and entry `i`'s frames in `frames.bytes` from `frames.offsets[i]`
 * to `frames.offsets[i + 1]`, in `packVpdq`'s form (src/algorithms/vpdq.ts).
 */
export interface PackedVpdq {
  readonly columns: EntryColumns;
  readonly frames: StringColumn;
}

/** The thresholds of one match; every field optional (defaults: pytx's). */
export interface VpdqThresholds {
  /** Largest frame distance, 0–256 (frames match at or below it). Default 31. */
  readonly distance?: number;
  /** Least share of the query's unique frames matched, percent 0–100. Default 80. */
  readonly queryMatchPercent?: number;
  /** Least share of the listed video's unique frames matched, percent 0–100. Default 0. */
  readonly listedMatchPercent?: number;
}

/**
 * The thresholds of one {@link VpdqIndex.match} call: those given at the top apply to every list;
 * `lists` gives some lists their own for this call. A field left out falls back, in turn, to the
 * call's `lists` entry, the index's `lists` entry, and pytx's default.
 */
export interface VpdqMatchOptions extends VpdqThresholds {
  /** Per-list thresholds for this call, by list name. */
  readonly lists?: Readonly<Record<string, VpdqThresholds>>;
  /**
   * The same upload's frames inside their black bars (`hashVideo`'s `trimmed`), frame `i` for
   * frame `i` of the query: a listed video matches when either set does, each set matched on its
   * own so neither dilutes the other's share, and is reported once, with the set that matched
   * more of the upload (the whole frames on a tie).
   */
  readonly trimmed?: readonly VpdqFeature[];
}

/** Options of {@link VpdqIndex.fromEntries} and {@link VpdqIndex.fromPacked}. */
export interface VpdqIndexOptions {
  /** Per-list thresholds (a list's policy), used where a call gives none. */
  readonly lists?: Readonly<Record<string, VpdqThresholds>>;
  /** The frame index's search tier, as the matcher's `search` option (default: chosen by size). */
  readonly search?: SearchTierOptions;
}

/** One matched frame pair: a query frame and the nearest frame of the listed video. */
export interface VpdqFramePair {
  /**
   * The query frame's position in the frames given to the match (`hashVideo(…).frames[queryFrame]`):
   * tells frames apart even where two share a timestamp.
   */
  readonly queryFrame: number;
  /** The query frame's timestamp, seconds. */
  readonly querySeconds: number;
  /** The listed frame's timestamp, seconds (its first frame with that hash). */
  readonly listedSeconds: number;
  readonly distance: number;
}

/** A listed video that matched. */
export interface VpdqVideoMatch {
  readonly list: string;
  readonly entryId: string;
  readonly algorithm: typeof VPDQ_ALGORITHM;
  /** Share of the query's unique frames (quality ≥ 50) within the distance of one of this video's, percent. */
  readonly queryMatchPercent: number;
  /** Share of this video's unique frames within the distance of one of the query's, percent. */
  readonly listedMatchPercent: number;
  /** Each matched query frame, in query order, with the nearest listed frame (the earliest on a tie). */
  readonly frames: readonly VpdqFramePair[];
  readonly label?: string;
  readonly metadata?: EntryMetadata;
}

/** The two shares of one comparison, percent. */
export interface VpdqShares {
  readonly queryMatchPercent: number;
  readonly listedMatchPercent: number;
}

interface Resolved {
  readonly distance: number;
  readonly queryMatchPercent: number;
  readonly listedMatchPercent: number;
}

const DEFAULTS: Resolved = Object.freeze({
  distance: VPDQ_DISTANCE_THRESHOLD,
  queryMatchPercent: VPDQ_QUERY_MATCH_THRESHOLD_PERCENT,
  listedMatchPercent: VPDQ_INDEX_MATCH_THRESHOLD_PERCENT,
});

function percent(value: unknown, name: string): number {
  const expected = 'number between 0 and 100';
  if (typeof value !== 'number' || Number.isNaN(value)) invalid(expected, name, value);
  if (value < 0 || value > 100) invalid(expected, name, value, true);
  return value;
}

/** `given`'s thresholds over `base`, checked: a bad value is a TypeError/RangeError naming `name`. */
function resolveThresholds(given: VpdqThresholds | undefined, base: Resolved, name: string): Resolved {
  const o = optionsObject(given, name);
  return Object.freeze({
    distance: o.distance === undefined ? base.distance : integerInRange(o.distance, 0, 256, `${name}.distance`),
    queryMatchPercent:
      o.queryMatchPercent === undefined
        ? base.queryMatchPercent
        : percent(o.queryMatchPercent, `${name}.queryMatchPercent`),
    listedMatchPercent:
      o.listedMatchPercent === undefined
        ? base.listedMatchPercent
        : percent(o.listedMatchPercent, `${name}.listedMatchPercent`),
  });
}

/**
 * `given`'s thresholds checked, the defaults (pytx's) filled in: a bad value is a TypeError or
 * RangeError naming `name`.
 *
 * @example
 * ```ts
 * resolveVpdqThresholds({ distance: 20 }); // { distance: 20, queryMatchPercent: 80, listedMatchPercent: 0 }
 * ```
 */
export function resolveVpdqThresholds(given?: VpdqThresholds, name = 'thresholds'): Required<VpdqThresholds> {
  return resolveThresholds(given, DEFAULTS, name);
}

/**
 * pytx's `prepare_vpdq_feature`: frames of quality ≥ 50, each hash once (its first frame). pytx's
 * brute-force matcher dedupes before filtering; the two differ only for a hash given twice with
 * qualities either side of 50, which hashing never gives (quality is a function of the pixels),
 * and here the index's order is followed on both paths.
 */
export function prepareVpdqFrames(frames: readonly VpdqFeature[]): VpdqFeature[] {
  return preparedPositions(frames).map((i) => frames[i] as VpdqFeature);
}

/** The positions of the frames {@link prepareVpdqFrames} keeps, in order. */
function preparedPositions(frames: readonly VpdqFeature[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  frames.forEach((frame, i) => {
    if (frame.quality < VPDQ_QUALITY_THRESHOLD || seen.has(frame.hash)) return;
    seen.add(frame.hash);
    out.push(i);
  });
  return out;
}

/**
 * pytx's brute-force matcher (`match_VPDQ_hash_brute`) transcribed: both sides prepared, every
 * pair compared. The shares in percent; a side with no frame left gives 0 for both (pytx divides
 * by zero there). The reference the index is tested against; O(query × listed).
 *
 * @example
 * ```ts
 * matchVpdqBrute(upload.frames, listed.frames); // { queryMatchPercent: 100, listedMatchPercent: 62.5 }
 * ```
 */
export function matchVpdqBrute(
  query: readonly VpdqFeature[],
  listed: readonly VpdqFeature[],
  distance: number = VPDQ_DISTANCE_THRESHOLD,
): VpdqShares {
  integerInRange(distance, 0, 256, 'distance');
  const q = prepareVpdqFrames(query).map((f) => parseHex(f.hash, 32, 'vpdq'));
  const l = prepareVpdqFrames(listed).map((f) => parseHex(f.hash, 32, 'vpdq'));
  if (q.length === 0 || l.length === 0) return { queryMatchPercent: 0, listedMatchPercent: 0 };
  const inAnother = (a: Uint8Array[], b: Uint8Array[]): number =>
    a.filter((x) => b.some((y) => hammingDistance(x, y) <= distance)).length;
  return {
    queryMatchPercent: (inAnother(q, l) * 100) / q.length,
    listedMatchPercent: (inAnother(l, q) * 100) / l.length,
  };
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * A query frame checked (the caller's argument: TypeError/RangeError), its hash lower-cased so
 * repeats are found as the entries' are. `hashVideo`'s frames always pass.
 */
function queryFrame(frame: VpdqFeature, i: number): VpdqFeature {
  if (frame === null || typeof frame !== 'object') invalid('vPDQ frame', `query[${i}]`, frame);
  integerInRange(frame.quality, 0, 100, `query[${i}].quality`);
  if (typeof frame.hash !== 'string' || !HEX64.test(frame.hash))
    invalid('64 hex digits', `query[${i}].hash`, frame.hash);
  if (typeof frame.seconds !== 'number' || !Number.isFinite(frame.seconds) || frame.seconds < 0)
    invalid('non-negative finite number', `query[${i}].seconds`, frame.seconds);
  return { quality: frame.quality, hash: frame.hash.toLowerCase(), seconds: frame.seconds };
}

/** A listed video as the index holds it: its prepared frames. */
interface Video {
  readonly entry: VpdqListEntry;
  readonly frames: readonly VpdqFeature[];
  readonly thresholds: Resolved;
}

/** Votes for one listed video during one query. */
interface Votes {
  /** Query frame position → the nearest listed frame position and its distance. */
  readonly pairs: Map<number, { listed: number; distance: number }>;
  readonly listed: Set<number>;
}

/**
 * The listed videos, their unique frame hashes in one exact PDQ index with a frame → video map.
 *
 * @example
 * ```ts
 * const index = VpdqIndex.fromEntries([{ list: 'known', id: 'v1', hash: signalText }]);
 * index.match(upload.frames); // [{ list: 'known', entryId: 'v1', queryMatchPercent: 100, … }]
 * ```
 */
export class VpdqIndex {
  /** The entries, normalised, in the order given. */
  readonly entries: readonly VpdqListEntry[];
  /** Unique frame hashes indexed (of quality ≥ 50, across all videos). */
  readonly frameCount: number;
  readonly #videos: readonly Video[];
  /** The thresholds of each list holding a video here (the index's own, else pytx's). */
  readonly #lists: ReadonlyMap<string, Resolved>;
  /** How the frame hashes are searched: the matcher's choice of tier for a perceptual table of `frameCount` hashes. */
  readonly search: TableSearch;
  readonly #search: LinearIndex | MihIndex;
  /**
   * The videos holding each indexed frame: frame `f`'s [video, frame position within the video's
   * prepared frames] pairs are `#holders[2 × #starts[f] …]` up to `#starts[f + 1]` (one array for
   * every frame, not one per frame: an index of a million frames makes two arrays, not a million).
   */
  readonly #starts: Uint32Array;
  readonly #holders: Int32Array;

  private constructor(videos: Video[], frames: Frames, search: ResolvedSearch | undefined) {
    this.#videos = videos;
    this.entries = Object.freeze(videos.map((v) => v.entry));
    this.#lists = new Map(videos.map((v) => [v.entry.list, v.thresholds]));
    this.frameCount = frames.count;
    this.#starts = frames.starts;
    this.#holders = frames.holders;
    // The matcher's own choice of index for a perceptual table of this size.
    const chosen = perceptualIndex(LinearIndex.fromPlanes(frames.a, frames.b, frames.count), search);
    this.#search = chosen.index;
    this.search = chosen.search;
  }

  /** Number of listed videos (entries). */
  get size(): number {
    return this.#videos.length;
  }

  /**
   * An index over vPDQ entries (each one video). Ids must be unique per list (`ERR_LIST_FORMAT`,
   * as for every list); errors of {@link normalizeVpdqEntry}. `options.lists` gives lists their
   * thresholds.
   */
  static fromEntries(entries: Iterable<VpdqEntryInput>, options?: VpdqIndexOptions): VpdqIndex {
    if (entries === null || typeof (entries as Iterable<VpdqEntryInput>)?.[Symbol.iterator] !== 'function')
      invalid('iterable of vPDQ entries', 'entries', entries);
    const builder = new Builder(options);
    let position = 0;
    for (const input of entries) builder.add(normalizeVpdqEntry(input, position), position++);
    return new VpdqIndex(...builder.parts());
  }

  /**
   * An index over vPDQ entries packed as a store reads them and a snapshot holds them
   * ({@link PackedVpdq}): the same index {@link fromEntries} builds from those entries in that
   * order, with the same matches. Offsets out of range or frames whose bytes are not a whole
   * number of packed frames are `ERR_HASH_FORMAT`, as are bad frame bytes (`unpackVpdq`); a
   * column a packed table refuses `ERR_SNAPSHOT_FORMAT`; a duplicate id `ERR_LIST_FORMAT`.
   *
   * @example
   * ```ts
   * const index = VpdqIndex.fromPacked(read.videos, { search: { tier: 'linear' } });
   * ```
   */
  static fromPacked(packed: PackedVpdq, options?: VpdqIndexOptions): VpdqIndex {
    if (packed === null || typeof packed !== 'object' || packed.columns === undefined || packed.frames === undefined)
      invalid('packed vPDQ entries', 'packed', packed);
    const builder = new Builder(options);
    const table = packedEntryTable(packed.columns);
    const { offsets, bytes } = packed.frames;
    if (offsets.length !== table.count + 1)
      throw new HashwardenError(
        'ERR_HASH_FORMAT',
        `Packed vPDQ entries: ${offsets.length} frame offsets for ${table.count} entries`,
      );
    for (let i = 0; i < table.count; i++) {
      const start = offsets[i] as number;
      const end = offsets[i + 1] as number;
      const length = end - start;
      if (end < start || end > bytes.length || length % VPDQ_PACKED_FRAME_BYTES !== 0)
        throw new HashwardenError(
          'ERR_HASH_FORMAT',
          `vPDQ entry #${i}: frame bytes ${start} to ${end} are not whole packed frames within the ${bytes.length} bytes`,
        );
      if (length / VPDQ_PACKED_FRAME_BYTES > MAX_VPDQ_ENTRY_FRAMES)
        throw new HashwardenError('ERR_LIST_FORMAT', `vPDQ entry #${i}: more than ${MAX_VPDQ_ENTRY_FRAMES} frames`);
      const entry = packedEntry(
        table.list(i),
        {
          id: table.id(i),
          label: table.label(i),
          metadata: table.metadata(i),
        },
        unpackVpdq(bytes.subarray(start, end), MAX_VPDQ_ENTRY_FRAMES),
        i,
      );
      builder.add(entry, i);
    }
    return new VpdqIndex(...builder.parts());
  }

  /**
   * The listed videos `query` matches (a video's frames, e.g. `hashVideo(…).frames` or parsed
   * signal text), in entry order. Thresholds: the call's, else the call's `lists` entry for the
   * video's list, else the index's (`fromEntries`'s `lists`), else pytx's defaults.
   */
  match(query: readonly VpdqFeature[], options?: VpdqMatchOptions): VpdqVideoMatch[] {
    const trimmed = options?.trimmed;
    if (trimmed === undefined) return [...this.#matchSet(query, options).values()];
    if (!Array.isArray(trimmed)) invalid('array of vPDQ frames', 'options.trimmed', trimmed);
    const best = this.#matchSet(query, options);
    for (const [video, m] of this.#matchSet(trimmed, options)) {
      const held = best.get(video);
      if (held === undefined || m.queryMatchPercent > held.queryMatchPercent) best.set(video, m);
    }
    // Entry order, as one set's matches come.
    return [...best].sort((a, b) => a[0] - b[0]).map(([, m]) => m);
  }

  /** One frame set's matches, by the listed video's position, in entry order. */
  #matchSet(query: readonly VpdqFeature[], options: VpdqMatchOptions | undefined): Map<number, VpdqVideoMatch> {
    if (!Array.isArray(query)) invalid('array of vPDQ frames', 'query', query);
    const limits = this.#limits(options);
    let widest = 0;
    for (const resolved of limits.values()) widest = Math.max(widest, resolved.distance);
    const checked = query.map(queryFrame);
    const positions = preparedPositions(checked);
    const frames = positions.map((i) => checked[i] as VpdqFeature);
    const votes = new Map<number, Votes>();
    frames.forEach((frame, q) => {
      const bytes = parseHex(frame.hash, 32, VPDQ_ALGORITHM);
      for (const hit of this.#search.search(bytes, widest)) {
        const end = 2 * (this.#starts[hit.index + 1] as number);
        for (let k = 2 * (this.#starts[hit.index] as number); k < end; k += 2) {
          const video = this.#holders[k] as number;
          const listed = this.#holders[k + 1] as number;
          if (hit.distance > (limits.get((this.#videos[video] as Video).entry.list) as Resolved).distance) continue;
          let v = votes.get(video);
          if (v === undefined) votes.set(video, (v = { pairs: new Map(), listed: new Set() }));
          v.listed.add(listed);
          const best = v.pairs.get(q);
          if (
            best === undefined ||
            hit.distance < best.distance ||
            (hit.distance === best.distance && listed < best.listed)
          )
            v.pairs.set(q, { listed, distance: hit.distance });
        }
      }
    });
    const out = new Map<number, VpdqVideoMatch>();
    for (const [index, v] of [...votes].sort((a, b) => a[0] - b[0])) {
      const video = this.#videos[index] as Video;
      const limit = limits.get(video.entry.list) as Resolved;
      const queryMatchPercent = (v.pairs.size * 100) / frames.length;
      const listedMatchPercent = (v.listed.size * 100) / video.frames.length;
      if (queryMatchPercent < limit.queryMatchPercent || listedMatchPercent < limit.listedMatchPercent) continue;
      const pairs = [...v.pairs].sort((a, b) => a[0] - b[0]);
      const match: VpdqVideoMatch = {
        list: video.entry.list,
        entryId: video.entry.id,
        algorithm: VPDQ_ALGORITHM,
        queryMatchPercent,
        listedMatchPercent,
        frames: pairs.map(([q, p]) => ({
          queryFrame: positions[q] as number,
          querySeconds: (frames[q] as VpdqFeature).seconds,
          listedSeconds: (video.frames[p.listed] as VpdqFeature).seconds,
          distance: p.distance,
        })),
      };
      if (video.entry.label !== undefined) Object.assign(match, { label: video.entry.label });
      if (video.entry.metadata !== undefined) Object.assign(match, { metadata: video.entry.metadata });
      out.set(index, match);
    }
    return out;
  }

  /**
   * The thresholds of one call for each list holding a video, checked (TypeError/RangeError naming
   * the option) whether or not the index holds the lists named. Per list: the call's, else its
   * `lists` entry's, else the index's.
   */
  #limits(options: VpdqMatchOptions | undefined): Map<string, Resolved> {
    const call = optionsObject(options, 'thresholds');
    const top = {
      distance: call.distance,
      queryMatchPercent: call.queryMatchPercent,
      listedMatchPercent: call.listedMatchPercent,
    };
    resolveThresholds(top, DEFAULTS, 'thresholds');
    const given = optionsObject(call.lists, 'thresholds.lists');
    for (const [name, t] of Object.entries(given)) resolveThresholds(t, DEFAULTS, `thresholds.lists.${name}`);
    const out = new Map<string, Resolved>();
    for (const [name, own] of this.#lists) {
      const listed = Object.hasOwn(given, name) ? resolveThresholds(given[name], own, `thresholds.lists.${name}`) : own;
      out.set(name, resolveThresholds(top, listed, 'thresholds'));
    }
    return out;
  }
}

/**
 * A vPDQ entry of packed columns: its fields checked as `normalizeVpdqEntry` checks them (the same
 * `ERR_LIST_FORMAT`), its frames already unpacked (and so checked), and its signal text written
 * only when asked for. A snapshot or a store opens without writing the text of every video, which
 * would cost more than the index itself (about 3 µs a frame, measured), and the matches never
 * read it. The entry equals the one `normalizeVpdqEntry` gives for the same frames.
 */
function packedEntry(
  list: string,
  fields: { id: string; label: string | undefined; metadata: EntryMetadata | undefined },
  frames: VpdqFeature[],
  position: number,
): VpdqListEntry {
  let checked: ReturnType<typeof entryFields>;
  try {
    checked = entryFields(fields);
  } catch (error) {
    throw error instanceof HashwardenError
      ? new HashwardenError('ERR_LIST_FORMAT', `vPDQ entry #${position}: ${error.message}`, { cause: error })
      : error;
  }
  const held = Object.freeze(frames);
  let text: string | undefined;
  const entry = {
    id: checked.id ?? '',
    list: listName(list),
    algorithm: VPDQ_ALGORITHM,
    frames: held,
    ...(checked.label === undefined ? {} : { label: checked.label }),
    ...(checked.metadata === undefined ? {} : { metadata: checked.metadata }),
  };
  Object.defineProperty(entry, 'hash', { enumerable: true, get: () => (text ??= formatVpdqJson(held)) });
  return Object.freeze(entry) as VpdqListEntry;
}

/** The indexed frames as the index holds them: the two planes of their hashes, and who holds each. */
interface Frames {
  readonly count: number;
  readonly a: Uint8Array;
  readonly b: Uint8Array;
  readonly starts: Uint32Array;
  readonly holders: Int32Array;
}

/** Collects normalised entries into the frame index: each video's prepared frames, each unique frame hash once. */
class Builder {
  readonly #search: ResolvedSearch | undefined;
  readonly #perList = new Map<string, Resolved>();
  readonly #videos: Video[] = [];
  readonly #ids = new Set<string>();
  readonly #byHash = new Map<string, number>();
  /** Bytes 0–15 and 16–31 of each unique frame hash, in index order (grown by doubling). */
  #a: Buffer = Buffer.alloc(16 * 1024);
  #b: Buffer = Buffer.alloc(16 * 1024);
  readonly #scratch = Buffer.alloc(32);
  /** For each (video, frame) pair in order: its unique frame, its video, its position. */
  readonly #at: number[] = [];
  readonly #video: number[] = [];
  readonly #frame: number[] = [];

  constructor(options: VpdqIndexOptions | undefined) {
    const o = optionsObject(options, 'options');
    this.#search = resolveSearch(o.search, 'options.search');
    const lists = optionsObject(o.lists, 'options.lists');
    for (const [name, given] of Object.entries(lists))
      this.#perList.set(name, resolveThresholds(given, DEFAULTS, `options.lists.${name}`));
  }

  add(entry: VpdqListEntry, position: number): void {
    const key = `${entry.list}\u0000${entry.id}`;
    if (this.#ids.has(key))
      throw new HashwardenError(
        'ERR_LIST_FORMAT',
        `vPDQ entry #${position}: Duplicate id ${JSON.stringify(entry.id)} in list ${JSON.stringify(entry.list)}`,
      );
    this.#ids.add(key);
    const frames = prepareVpdqFrames(entry.frames);
    const video = this.#videos.length;
    frames.forEach((frame, i) => {
      let at = this.#byHash.get(frame.hash);
      if (at === undefined) {
        at = this.#byHash.size;
        this.#byHash.set(frame.hash, at);
        this.#addHash(frame.hash, at);
      }
      this.#at.push(at);
      this.#video.push(video);
      this.#frame.push(i);
    });
    this.#videos.push({ entry, frames, thresholds: this.#perList.get(entry.list) ?? DEFAULTS });
  }

  /** Writes hash `at`'s halves into the planes (entries' hashes are 64 hex digits, checked when normalised). */
  #addHash(hex: string, at: number): void {
    if ((at + 1) * 16 > this.#a.length) {
      const grow = (plane: Buffer): Buffer => {
        const bigger = Buffer.alloc(plane.length * 2);
        plane.copy(bigger);
        return bigger;
      };
      this.#a = grow(this.#a);
      this.#b = grow(this.#b);
    }
    this.#scratch.write(hex, 0, 32, 'hex');
    this.#scratch.copy(this.#a, at * 16, 0, 16);
    this.#scratch.copy(this.#b, at * 16, 16, 32);
  }

  /** What the index is made of, for its constructor: the holders grouped by frame (a counting sort). */
  parts(): [videos: Video[], frames: Frames, search: ResolvedSearch | undefined] {
    const count = this.#byHash.size;
    const starts = new Uint32Array(count + 1);
    for (const at of this.#at) starts[at + 1] = (starts[at + 1] as number) + 1;
    for (let f = 0; f < count; f++) starts[f + 1] = (starts[f + 1] as number) + (starts[f] as number);
    const next = starts.slice(0, count);
    const holders = new Int32Array(2 * this.#at.length);
    this.#at.forEach((at, k) => {
      const slot = 2 * (next[at] as number);
      next[at] = (next[at] as number) + 1;
      holders[slot] = this.#video[k] as number;
      holders[slot + 1] = this.#frame[k] as number;
    });
    const a = this.#a.subarray(0, count * 16);
    const b = this.#b.subarray(0, count * 16);
    return [this.#videos, { count, a, b, starts, holders }, this.#search];
  }
}

/**
 * Normalised vPDQ entries packed as a snapshot holds them ({@link PackedVpdq}), their columns
 * numbering `lists`' names; each entry read again from its signal text (`normalizeVpdqEntry`, and
 * its errors), its frames in `packVpdq`'s form.
 */
export function packVpdqEntries(entries: readonly ListEntry[], lists: readonly string[]): PackedVpdq {
  const frames = byteColumn(entries.map((e, i) => packVpdq(normalizeVpdqEntry(e, i).frames)));
  return { columns: packEntries(entries, lists), frames };
}
