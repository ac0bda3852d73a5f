/**
 * The allow-list rule: an upload that matches an entry of an allow list (`action: 'allow'`) within
 * that list's own threshold is not blocked by block-list matches of the same algorithm found on
 * the same part of the upload. Those block matches move from `matches` to `allowed[].overrode`;
 * allow-list matches never appear in `matches`.
 *
 * Why the same algorithm only: each algorithm is its own claim about the upload. An allow-listed
 * PDQ says the picture looks like a known-good one within PDQ's threshold; it says nothing of a
 * blockhash match (another hash, colliding elsewhere), and nothing at all of an exact match, which
 * proves the very bytes of a listed file were uploaded. An exact allow entry overrides the block
 * matches of its own algorithm only: an allow-listed MD5 overrides block MD5 entries (which, matched,
 * are the same hash), never a block SHA-256 of the same file, which a list added on its own word.
 *
 * Why the same part: the matcher reports each entry once, at its nearest hash, but an animated
 * upload's frames and a bordered upload's inside are different pictures. A GIF whose first frame
 * is an allow-listed meme must not carry a listed image in frame 5 through, so a block entry is
 * overridden only when every frame (and whole-or-inside-the-border) it matched is one where an
 * allow entry of its algorithm matched too. The 8 turns and flips of one frame are the same pixels:
 * an allow match in any of them covers the frame.
 */
import type { AlgorithmName } from '../algorithms/registry.js';
import type { VpdqVideoMatch } from '../search/vpdq.js';
import type { AllowedMatch, Match, MatcherList } from './types.js';
import { byDistance } from './state.js';

/** Where in an upload a hash was taken: its frame and whether inside its border; never the turn. */
export interface UploadPart {
  readonly frame?: number;
  readonly trimmed?: boolean;
}

/** What a pass's matches become once the rule applied: the block matches that stand, and the allow matches. */
export interface AllowOutcome {
  readonly matches: Match[];
  readonly allowed: AllowedMatch[];
}

/** Lists maps known to hold an allow list: a matcher without one never pays for the rule. */
const holdsAllow = new WeakMap<ReadonlyMap<string, MatcherList>, boolean>();

function entryKey(match: Match): string {
  return `${match.list}\u0000${match.entryId}\u0000${match.hash}`;
}

function partKey(part: UploadPart): string {
  return `${part.frame ?? ''}/${part.trimmed === true ? 'inside' : 'whole'}`;
}

/**
 * The rule for one pass over an upload (or one `matchHash` query): the parts each entry matched
 * on are recorded as they are found (`see`), and `apply` moves what the allow matches override.
 */
export class AllowRule {
  readonly #lists: ReadonlyMap<string, MatcherList>;
  /** The matcher's threshold for an algorithm: a list's own when its policy sets none. */
  readonly #base: (algorithm: AlgorithmName) => number;
  /** The parts each entry matched on, by entry; an entry not seen matched on the part its match names. */
  readonly #parts = new Map<string, Set<string>>();

  private constructor(lists: ReadonlyMap<string, MatcherList>, base: (algorithm: AlgorithmName) => number) {
    this.#lists = lists;
    this.#base = base;
  }

  /**
   * The rule over `lists`, or undefined when none is an allow list (results then stay as they
   * were, at no cost). An allow match counts only within its list's own threshold (its policy's,
   * else `base`, the matcher's), however wide a call's `threshold`: a call widened to catch more
   * never widens what is allowed.
   */
  static of(
    lists: ReadonlyMap<string, MatcherList>,
    base: (algorithm: AlgorithmName) => number,
  ): AllowRule | undefined {
    let any = holdsAllow.get(lists);
    if (any === undefined) {
      any = [...lists.values()].some((l) => l.action === 'allow');
      holdsAllow.set(lists, any);
    }
    return any ? new AllowRule(lists, base) : undefined;
  }

  #allows(match: Match): boolean {
    return this.#lists.get(match.list)?.action === 'allow';
  }

  /** An allow match that counts: within its list's own threshold. */
  #counts(match: Match): boolean {
    const own = this.#lists.get(match.list)?.thresholds?.[match.algorithm];
    return match.distance <= (own ?? this.#base(match.algorithm));
  }

  /** Records that `match` (one hash's, before each entry is kept at its nearest) was found on `part`. */
  see(match: Match, part: UploadPart): void {
    if (this.#allows(match) && !this.#counts(match)) return;
    const key = entryKey(match);
    let parts = this.#parts.get(key);
    if (parts === undefined) {
      parts = new Set();
      this.#parts.set(key, parts);
    }
    parts.add(partKey(part));
  }

  #partsOf(match: Match): ReadonlySet<string> {
    return this.#parts.get(entryKey(match)) ?? new Set([partKey(match)]);
  }

  /**
   * Applies the rule to the matches of one algorithm (each entry once, at its nearest): allow
   * matches leave `matches` (those beyond their list's threshold are dropped: they were found only
   * because of a wider call threshold), and a block match every part of which an allow match
   * covers moves to the `overrode` of the nearest allow match. Every allow match that counts is
   * reported, overriding something or not, nearest first.
   */
  apply(matches: readonly Match[]): AllowOutcome {
    const allows: Match[] = [];
    const blocks: Match[] = [];
    for (const match of matches) {
      if (!this.#allows(match)) blocks.push(match);
      else if (this.#counts(match)) allows.push(match);
    }
    if (allows.length === 0) return { matches: blocks, allowed: [] };
    allows.sort(byDistance);
    const covered = new Set<string>();
    for (const allow of allows) for (const part of this.#partsOf(allow)) covered.add(part);
    const overrode: Match[] = [];
    const kept: Match[] = [];
    for (const block of blocks) {
      const parts = this.#partsOf(block);
      if ([...parts].every((part) => covered.has(part))) overrode.push(block);
      else kept.push(block);
    }
    overrode.sort(byDistance);
    const allowed = allows.map((by, i) => Object.freeze({ by, overrode: Object.freeze(i === 0 ? overrode : []) }));
    return { matches: kept, allowed };
  }
}

/** A listed video of an allow list that matched, and the block matches it overrode (`matchVpdq`). */
export interface AllowedVideo<M extends VpdqVideoMatch> {
  readonly by: M;
  readonly overrode: readonly M[];
}

/** What `matchVpdq`'s matches become once allow lists applied: the block matches that stand, and the allow matches. */
export interface VideoOutcome<M extends VpdqVideoMatch> {
  readonly matches: M[];
  readonly allowed: AllowedVideo<M>[];
}

/** The better of two video matches first: the larger share of the query, then of the listed video. */
export function byShare(a: VpdqVideoMatch, b: VpdqVideoMatch): number {
  return b.queryMatchPercent - a.queryMatchPercent || b.listedMatchPercent - a.listedMatchPercent;
}

/**
 * The allow rule for videos, as for images: an allow-listed video that matched (at the call's
 * thresholds, and at its list's own: `own` gives the matches found at the index's thresholds,
 * asked only when the call set its own) overrides a block match when every query frame that block
 * match rests on is one the allow matches matched too. The frames are a video's parts, as an
 * animated image's: an upload that is an allow-listed clip followed by a listed one keeps its
 * block match, since the listed clip's frames match no allow entry. Stable: matches keep the
 * index's order; allow matches are reported best first, the overridden block matches given to the
 * best.
 */
export function applyVideoAllow<M extends VpdqVideoMatch>(
  lists: ReadonlyMap<string, MatcherList>,
  found: readonly M[],
  own: () => readonly VpdqVideoMatch[],
): VideoOutcome<M> {
  const isAllow = (m: VpdqVideoMatch): boolean => lists.get(m.list)?.action === 'allow';
  if (!found.some(isAllow)) return { matches: [...found], allowed: [] };
  const key = (m: VpdqVideoMatch): string => `${m.list}\u0000${m.entryId}`;
  const counted = new Map(own().map((m) => [key(m), m]));
  const covered = new Set<number>();
  const allows: M[] = [];
  const blocks: M[] = [];
  for (const match of found) {
    if (!isAllow(match)) {
      blocks.push(match);
      continue;
    }
    const within = counted.get(key(match));
    if (within === undefined) continue;
    allows.push(match);
    // Frames within both the call's thresholds and the list's own.
    const ownFrames = new Set(within.frames.map((p) => p.queryFrame));
    for (const pair of match.frames) if (ownFrames.has(pair.queryFrame)) covered.add(pair.queryFrame);
  }
  if (allows.length === 0) return { matches: blocks, allowed: [] };
  const overrode: M[] = [];
  const kept: M[] = [];
  for (const block of blocks) (block.frames.every((p) => covered.has(p.queryFrame)) ? overrode : kept).push(block);
  allows.sort(byShare);
  const allowed = allows.map((by, i) => Object.freeze({ by, overrode: Object.freeze(i === 0 ? overrode : []) }));
  return { matches: kept, allowed };
}
