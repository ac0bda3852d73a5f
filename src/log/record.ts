/**
 * What a decision record holds beyond its chain fields, built from a match result or the error of
 * an upload that was not checked. Written generically, so that fields later added to a result
 * (`allowed`, `review`, `exactHashes`, a match's own fields) are logged without a change here;
 * only the upload's bytes are never in a result, so never in the log.
 */
import { isHashwardenError } from '../errors.js';

/**
 * A match as the log takes it: a matcher's `Match`, or any object naming a list and an algorithm.
 * Declared here, not taken from the matcher, which uses this room: the log knows results only by
 * their shape.
 */
export interface LoggedMatch {
  readonly list: string;
  readonly algorithm: string;
}

/** A result as the log takes it: a matcher's `ImageMatchResult`, or any object with `matches`. */
export interface LoggedResult {
  readonly matches: readonly LoggedMatch[];
}

/** Who and what a record is about, besides the result. */
export interface DecisionContext {
  /** The caller's id for the upload (`MatchImageOptions.contentId`). */
  readonly contentId?: string | undefined;
  /** The item's index in a `matchImages` batch. */
  readonly item?: number | undefined;
  /** The threshold a match was found within, when the caller knows it (perceptual matches). */
  readonly threshold?: ((match: LoggedMatch) => number | undefined) | undefined;
}

function who(context: DecisionContext): Record<string, unknown> {
  return {
    ...(context.contentId === undefined ? {} : { contentId: context.contentId }),
    ...(context.item === undefined ? {} : { item: context.item }),
  };
}

function withThreshold(match: LoggedMatch, context: DecisionContext): Record<string, unknown> {
  const threshold = context.threshold?.(match);
  return threshold === undefined ? { ...match } : { ...match, threshold };
}

/** A match-like value (a `Match`, or an `allowed` item's `by`/`overrode`), with its threshold. */
function mapMatches(value: unknown, context: DecisionContext): unknown {
  return Array.isArray(value) ? value.map((m: LoggedMatch) => withThreshold(m, context)) : value;
}

/** The body of the record of a decision: everything the result says, matches with their thresholds. */
export function decisionBody(result: LoggedResult, context: DecisionContext): Record<string, unknown> {
  const { matches, ...rest } = result as LoggedResult & Record<string, unknown>;
  const allowed = (rest as { allowed?: unknown }).allowed;
  return {
    kind: 'decision',
    ...who(context),
    ...rest,
    matches: mapMatches(matches, context),
    ...(Array.isArray(allowed)
      ? {
          allowed: allowed.map((a: { by: LoggedMatch; overrode: readonly LoggedMatch[] }) => ({
            ...a,
            by: withThreshold(a.by, context),
            overrode: mapMatches(a.overrode, context),
          })),
        }
      : {}),
  };
}

/**
 * The code of an error that kept an upload from being checked: its `HashwardenError` code, else
 * `ERR_INVALID_ARGUMENT` for an argument error (TypeError, RangeError), else `ERR_INTERNAL`: the
 * codes the CLI's JSON output gives.
 */
export function errorCode(error: unknown): string {
  if (isHashwardenError(error)) return error.code;
  return error instanceof TypeError || error instanceof RangeError ? 'ERR_INVALID_ARGUMENT' : 'ERR_INTERNAL';
}

/** The body of the record of an upload that was not checked, with its error's code and message. */
export function notCheckedBody(error: unknown, context: DecisionContext): Record<string, unknown> {
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'not-checked', ...who(context), error: { code: errorCode(error), message } };
}

/**
 * A storm of the match-rate alarm as the log takes it: the entry, its count in the window, the
 * threshold and window, when it began, and whether its matches are held. Declared here by shape,
 * as results are.
 */
export interface LoggedStorm {
  readonly list: string;
  readonly algorithm: string;
  readonly entryId: string;
  readonly count: number;
  readonly threshold: number;
  readonly window: number;
  /** When the storm was raised (milliseconds since the epoch). */
  readonly since: number;
  readonly held: boolean;
}

/** What happened to a storm: raised by the alarm, or released by an operator's decision. */
export type StormAction = 'raised' | 'released';

/** The body of the record of a storm raised or released. */
export function stormBody(action: StormAction, storm: LoggedStorm): Record<string, unknown> {
  return { kind: 'storm', action, ...storm };
}
