/**
 * The match-rate alarm: how many times each entry matched within a sliding window, in bounded
 * memory, and the storm an entry is in when that count reaches a threshold (a common image, a
 * meme, a blank screenshot, wrongly listed, blocking innocent uploads by the thousand).
 *
 * Counts are kept for at most `maxTracked` entries, in the order of their last match: an entry
 * that matches moves to the end, and a new entry arriving when the bound is reached takes the
 * place of the one whose last match is oldest (least recently matched). Each tracked entry holds its count in
 * {@link STORM_BUCKETS} time buckets spanning the window, so memory is `maxTracked` × (the entry's
 * key + a small fixed record) whatever the traffic, and each match costs a map lookup and a few
 * additions: nothing is done for an upload that matches nothing, which is nearly every upload.
 *
 * What someone flooding the matcher with matches of distinct entries can and cannot do:
 * - grow memory: no, the map never holds more than `maxTracked` entries;
 * - raise a storm or a hold on an entry it did not make match `threshold` times: no, a tracked
 *   count is exact (never inherited from an evicted entry, as a space-saving sketch would), and an
 *   evicted entry starts again from nothing;
 * - hide a real storm: only by making `maxTracked` other entries match between two consecutive
 *   matches of the storming entry, which is then evicted and forgotten. A storm at the default
 *   threshold and window (100 in 10 minutes) matches every 6 s or more often, so that takes more
 *   than 10,000 distinct listed images matched in 6 s on one instance, some 20 times what a
 *   2-core instance hashes (60–100 uploads/s on the load bench): each of them a near copy of a
 *   listed image, which such an attacker would have to hold.
 */
import type { AlgorithmName } from '../algorithms/registry.js';
import type { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import { emitHashwardenWarning } from '../errors.js';
import type { DecisionLog } from '../log/decision-log.js';
import { boolean, integerInRange, invalid, nonEmptyString, optionsObject } from '../validate.js';
import type { StormEntry, StormEvent, StormOptions, StormState } from './types.js';

/**
 * Default window of the alarm: 10 minutes. Long enough that a storm is told from a chance run of a
 * few matches at the measured 60–70 uploads/s of a 2-core instance (about 40,000 uploads a window),
 * short enough that an operator hears of a wrongly listed common image within minutes, before the
 * complaints do.
 */
export const DEFAULT_STORM_WINDOW_MS = 600_000;

/**
 * Default matches of one entry within the window that make a storm: 100. At about 40,000 uploads a
 * window on one instance, that is one upload in 400 a near copy of one listed image (0.25% of all
 * traffic). Known abuse imagery is reported at rates orders of magnitude below that across every
 * entry of a list together, while a meme, a flag or a blank screenshot can be a percent of a
 * platform's uploads: such an entry reaches 100 in under three minutes. A real image of a list
 * spread in a raid can reach it too: the alarm says "look at this entry now", not "this is wrong".
 */
export const DEFAULT_STORM_THRESHOLD = 100;

/**
 * Default bound on the entries counted at once: 10,000. An entry's record and key (list, algorithm,
 * id) measured 640 bytes with ids of 36 characters (bench/storm-counter.bench.ts), so 10,000 are
 * about 6 MB (some 50 MB at most with ids of the 1,024-character limit). At 100 matches an entry, a window would need a
 * million matches on one instance for 10,000 entries to each be in storm at once.
 */
export const DEFAULT_STORM_MAX_TRACKED = 10_000;

/** The largest `maxTracked`: a million records are some 640 MB with short ids, past which a matcher should not go. */
const MAX_STORM_TRACKED = 1_000_000;

/** Longest list name, algorithm name or entry id `releaseStorm` takes: an entry id's own limit. */
const MAX_STORM_KEY_PART = 1_024;

/** The longest window taken: a week, well past any rate an operator acts on. */
const MAX_STORM_WINDOW_MS = 7 * 24 * 3_600_000;

/**
 * Buckets a window is counted in: 10, so the window slides in tenths. A count includes the matches
 * of the last 9 tenths of the window and of the tenth in progress (90–100% of the window), so a
 * storm is seen within a tenth of the window of when an exact window would see it.
 */
export const STORM_BUCKETS = 10;

/**
 * A storm ends when the entry's count in the window falls below this share of the threshold (seen
 * at its next match, or by `storms()`): a storm ending as soon as the count dips below the
 * threshold would start again a match later and raise an event for each small swing of a steady
 * rate at the threshold. A held storm does not end so (see {@link StormCounter}).
 */
const STORM_END_SHARE = 0.5;

/** The alarm's options, validated once; undefined when it is off. */
export interface ResolvedStormOptions {
  readonly window: number;
  readonly threshold: number;
  readonly hold: boolean;
  readonly maxTracked: number;
  readonly onStorm: ((event: StormEvent) => void) | undefined;
}

export function resolveStormOptions(value: unknown, onStorm: unknown): ResolvedStormOptions | undefined {
  if (onStorm !== undefined && typeof onStorm !== 'function') invalid('function', 'onStorm', onStorm);
  if (value === false) return undefined;
  if (value === true) invalid('object or false', 'storm', value);
  const o = optionsObject(value as StormOptions | undefined, 'storm');
  return Object.freeze({
    window:
      o.window === undefined
        ? DEFAULT_STORM_WINDOW_MS
        : integerInRange(o.window, 1_000, MAX_STORM_WINDOW_MS, 'storm.window'),
    threshold:
      o.threshold === undefined
        ? DEFAULT_STORM_THRESHOLD
        : integerInRange(o.threshold, 1, Number.MAX_SAFE_INTEGER, 'storm.threshold'),
    hold: o.hold === undefined ? false : boolean(o.hold, 'storm.hold'),
    maxTracked:
      o.maxTracked === undefined
        ? DEFAULT_STORM_MAX_TRACKED
        : integerInRange(o.maxTracked, 1, MAX_STORM_TRACKED, 'storm.maxTracked'),
    onStorm: onStorm as ((event: StormEvent) => void) | undefined,
  });
}

/** `target` checked (TypeError, RangeError): an unknown algorithm is no error, it names no storm. */
export function checkStormEntry(target: StormEntry): StormEntry {
  const o = optionsObject(target, 'target');
  const list = nonEmptyString(o.list, 'target.list', MAX_STORM_KEY_PART);
  const algorithm = nonEmptyString(o.algorithm, 'target.algorithm', MAX_STORM_KEY_PART);
  const entryId = nonEmptyString(o.entryId, 'target.entryId', MAX_STORM_KEY_PART);
  return { list, algorithm, entryId };
}

/** One entry counted: its matches per bucket, the newest bucket written, and its storm if in one. */
interface Tracked {
  /** The entry's key in the map (the same string the map holds). */
  readonly key: string;
  readonly list: string;
  readonly entryId: string;
  readonly algorithm: AlgorithmName | typeof VPDQ_ALGORITHM;
  readonly buckets: Uint32Array;
  /** The bucket number (time ÷ bucket width) `buckets` was last advanced to. */
  bucket: number;
  /** Sum of `buckets`. */
  count: number;
  /** True while the entry is in storm. */
  storming: boolean;
  /** When the storm began (its event's `at`); meaningless while not storming. */
  raisedAt: number;
  /** True once an operator released the storm (`releaseStorm`): its matches block again. */
  released: boolean;
  /** The entry matched last before this one and the one after, in the order of last match. */
  older: Tracked | undefined;
  newer: Tracked | undefined;
}

/** A match the alarm counts: an image match (`Match`) or a video match (`VideoMatch`), by its entry. */
interface Counted {
  readonly list: string;
  readonly algorithm: AlgorithmName | typeof VPDQ_ALGORITHM;
  readonly entryId: string;
  readonly review?: true;
}

/** The map key of an entry. */
const keyOf = (list: string, algorithm: string, entryId: string): string => `${list}\u0000${algorithm}\u0000${entryId}`;

/**
 * Per-entry match counts over a sliding window, bounded to `maxTracked` entries (see the module's
 * comment), and the storms they are in.
 *
 * A storm's life: it is raised when the entry's count reaches the threshold. Without `hold` it
 * ends when the count falls below half the threshold. With `hold` its matches are held for review
 * and it does not end on its own, however quiet the entry becomes: someone must decide. Deciding
 * "the entry is right" is {@link releaseStorm}: its matches block again, and it ends as an unheld
 * storm does (its count below half the threshold), after which a new crossing is a new storm and
 * holds again. Deciding "the entry is wrong" is quarantining it in the list store and reloading.
 * Any storm also ends when its entry is no longer tracked (evicted by `maxTracked` others).
 */
export class StormCounter {
  readonly #options: ResolvedStormOptions;
  readonly #width: number;
  readonly #end: number;
  readonly #now: () => number;
  readonly #log: DecisionLog | undefined;
  readonly #tracked = new Map<string, Tracked>();
  /** The entries in storm now: at most those tracked, so bounded by `maxTracked` too. */
  readonly #storming = new Set<Tracked>();
  /**
   * The entries in the order of their last match, a doubly linked list: the oldest is evicted in
   * constant time. (Re-inserting into the Map to keep that order instead made each eviction skip
   * the deleted slots at the front of V8's table: 11 µs a match in a flood of distinct entries.)
   */
  #oldest: Tracked | undefined;
  #newest: Tracked | undefined;

  /** `log`: the decision log each storm raised and released is recorded in, when given. */
  constructor(options: ResolvedStormOptions, now: () => number = () => Date.now(), log?: DecisionLog) {
    this.#options = options;
    this.#width = options.window / STORM_BUCKETS;
    this.#end = Math.ceil(options.threshold * STORM_END_SHARE);
    this.#now = now;
    this.#log = log;
  }

  /** Entries counted now, at most `maxTracked`. */
  get tracked(): number {
    return this.#tracked.size;
  }

  /**
   * Counts each match once, raises a storm for an entry that reaches the threshold, and returns
   * the matches with `review: true` on those of entries in storm when the alarm holds them: a new
   * array when any is held, else `matches` itself.
   */
  observe<M extends Counted>(matches: M[]): M[] {
    if (matches.length === 0) return matches;
    const now = this.#now();
    let out: M[] | undefined;
    for (let i = 0; i < matches.length; i++) {
      const match = matches[i] as M;
      if (this.#count(match, now)) {
        out ??= matches.slice();
        out[i] = { ...match, review: true };
      }
    }
    return out ?? matches;
  }

  /**
   * The entries in storm now, newest storm first, each with its count in the window as of now.
   * A storm that ended since its entry's last match (its count fell below half the threshold, not
   * held) is ended here and not listed.
   */
  storms(): StormState[] {
    const now = this.#now();
    const bucket = Math.floor(now / this.#width);
    const out: StormState[] = [];
    for (const entry of [...this.#storming]) {
      advance(entry, bucket);
      if (this.#ended(entry)) continue;
      out.push(
        Object.freeze({
          list: entry.list,
          algorithm: entry.algorithm,
          entryId: entry.entryId,
          count: entry.count,
          since: entry.raisedAt,
          held: this.#held(entry),
          released: entry.released,
        }),
      );
    }
    return out.sort((a, b) => b.since - a.since);
  }

  /**
   * Releases the storm of one entry: the operator decided the entry is right, and its matches are
   * no longer held (see the class's comment). True when the entry was in storm (released before
   * or not); false when it is not in storm.
   */
  releaseStorm(target: StormEntry): boolean {
    const { list, algorithm, entryId } = checkStormEntry(target);
    const entry = this.#tracked.get(keyOf(list, algorithm, entryId));
    if (entry === undefined || !entry.storming) return false;
    advance(entry, Math.floor(this.#now() / this.#width));
    if (this.#ended(entry)) return false;
    if (!entry.released) {
      entry.released = true;
      this.#log?.logStorm('released', this.#record(entry));
    }
    return true;
  }

  /** True when `entry`'s matches are held for review now. */
  #held(entry: Tracked): boolean {
    return entry.storming && this.#options.hold && !entry.released;
  }

  /** Ends `entry`'s storm when its count says so (never a held one's); true when it is not in storm after. */
  #ended(entry: Tracked): boolean {
    if (entry.storming && !this.#held(entry) && entry.count < this.#end) {
      entry.storming = false;
      entry.released = false;
      this.#storming.delete(entry);
    }
    return !entry.storming;
  }

  /** What the decision log records of `entry`'s storm. */
  #record(entry: Tracked) {
    return {
      list: entry.list,
      algorithm: entry.algorithm,
      entryId: entry.entryId,
      count: entry.count,
      threshold: this.#options.threshold,
      window: this.#options.window,
      since: entry.raisedAt,
      held: this.#held(entry),
    };
  }

  /** Counts one match; true when its entry's matches are held after it. */
  #count(match: Counted, now: number): boolean {
    const key = keyOf(match.list, match.algorithm, match.entryId);
    const bucket = Math.floor(now / this.#width);
    let entry = this.#tracked.get(key);
    if (entry === undefined) {
      const oldest = this.#oldest;
      if (oldest !== undefined && this.#tracked.size >= this.#options.maxTracked) {
        this.#unlink(oldest);
        this.#tracked.delete(oldest.key);
        this.#storming.delete(oldest);
      }
      entry = {
        key,
        list: match.list,
        entryId: match.entryId,
        algorithm: match.algorithm,
        buckets: new Uint32Array(STORM_BUCKETS),
        bucket,
        count: 0,
        storming: false,
        raisedAt: 0,
        released: false,
        older: undefined,
        newer: undefined,
      };
      this.#tracked.set(key, entry);
    } else {
      this.#unlink(entry);
      advance(entry, bucket);
    }
    // Now the newest.
    entry.older = this.#newest;
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.newer = entry;
    this.#newest = entry;
    const slot = slotOf(entry.bucket);
    entry.buckets[slot] = (entry.buckets[slot] as number) + 1;
    entry.count++;
    if (this.#ended(entry) && entry.count >= this.#options.threshold) {
      entry.storming = true;
      entry.raisedAt = now;
      this.#storming.add(entry);
      this.#raise(entry, now);
    }
    return this.#held(entry);
  }

  #unlink(entry: Tracked): void {
    if (entry.older === undefined) this.#oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.#newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }

  #raise(entry: Tracked, now: number): void {
    const { window, threshold, hold, onStorm } = this.#options;
    const event: StormEvent = Object.freeze({
      list: entry.list,
      entryId: entry.entryId,
      algorithm: entry.algorithm,
      count: entry.count,
      threshold,
      window,
      since: (entry.bucket - STORM_BUCKETS + 1) * this.#width,
      at: now,
      held: hold,
    });
    this.#log?.logStorm('raised', this.#record(entry));
    const what = `entry ${JSON.stringify(entry.entryId)} of list ${JSON.stringify(entry.list)} (${entry.algorithm}) matched ${entry.count} times in ${window} ms`;
    if (onStorm === undefined) {
      emitHashwardenWarning(`Match storm: ${what}${hold ? '; its matches are held for review' : ''}`);
      return;
    }
    // The callback runs inside a match: whatever it throws must not fail the upload being checked.
    try {
      onStorm(event);
    } catch (error) {
      emitHashwardenWarning(`onStorm threw: ${(error as Error)?.message ?? String(error)} (storm: ${what})`);
    }
  }
}

/**
 * Moves `entry`'s buckets on to `bucket`, emptying those the window has passed. A clock that went
 * back (a wall-clock step) counts into the newest bucket rather than rewriting the past.
 */
function advance(entry: Tracked, bucket: number): void {
  const steps = bucket - entry.bucket;
  if (steps <= 0) return;
  if (steps >= STORM_BUCKETS) {
    entry.buckets.fill(0);
    entry.count = 0;
  } else {
    for (let b = entry.bucket + 1; b <= bucket; b++) {
      const slot = slotOf(b);
      entry.count -= entry.buckets[slot] as number;
      entry.buckets[slot] = 0;
    }
  }
  entry.bucket = bucket;
}

/** The slot of bucket number `b` in an entry's ring (bucket numbers of times before 1970 are negative). */
function slotOf(b: number): number {
  return ((b % STORM_BUCKETS) + STORM_BUCKETS) % STORM_BUCKETS;
}
