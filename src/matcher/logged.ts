/**
 * The matcher's hook to its decision log (`MatcherOptions.decisionLog`): each settled image call,
 * each lookup by hash and each video's lookup by its frames appended, its result or the error that
 * left the upload or the query unchecked, with the threshold each match was found within. The record's format is the log's
 * (src/log/).
 */
import { getAlgorithm, type AlgorithmName, type Thresholds } from '../algorithms/registry.js';
import type { DecisionLog } from '../log/decision-log.js';
import type { DecisionContext, LoggedMatch, LoggedResult } from '../log/record.js';
import { VPDQ_ALGORITHM, type VpdqFeature } from '../algorithms/vpdq.js';
import { resolveVpdqThresholds } from '../search/vpdq.js';
import { optionsObject } from '../validate.js';
import type { VideoOutcome } from './allow.js';
import type { State } from './state.js';
import { thresholdOption } from './state.js';
import type {
  HashQuery,
  ImageMatchResult,
  Match,
  MatchHashOptions,
  MatchImageOptions,
  MatchVpdqOptions,
  VideoMatch,
} from './types.js';

/**
 * What a call's records say besides its result: its content id, and the threshold of a perceptual
 * match as `#match` chose it (the call's, else the list's, else the matcher's). Never throws: an
 * option the call refuses leaves the threshold out, and the call's rejection is logged.
 */
export function decisionContext(
  state: State,
  options: MatchImageOptions | MatchHashOptions | undefined,
  matcher: { threshold(algorithm: AlgorithmName): number },
  item?: number,
): DecisionContext {
  let call: Thresholds | undefined;
  let contentId: string | undefined;
  try {
    const o = optionsObject(options, 'options');
    call = thresholdOption(o);
    if (typeof o.contentId === 'string') contentId = o.contentId;
  } catch {
    call = undefined;
  }
  // The log hands back the matches of this call's result: each a `Match`.
  const threshold = (logged: LoggedMatch): number | undefined => {
    const match = logged as Match;
    if (call === undefined || getAlgorithm(match.algorithm).kind === 'exact') return undefined;
    return (
      call[match.algorithm] ??
      state.lists.get(match.list)?.thresholds?.[match.algorithm] ??
      matcher.threshold(match.algorithm)
    );
  };
  return { contentId, item, threshold };
}

/** `call`, its outcome appended to `log` as it settles; the outcome itself unchanged. */
export async function logged(
  log: DecisionLog,
  call: Promise<ImageMatchResult>,
  context: DecisionContext,
): Promise<ImageMatchResult> {
  let result: ImageMatchResult;
  try {
    result = await call;
  } catch (error) {
    log.logNotChecked(error, context);
    throw error;
  }
  log.logResult(result, context);
  return result;
}

/**
 * A lookup by hash (`matchHash`, an item of `matchHashes`), its outcome appended to `log`: the
 * query (algorithm and hash as text, as a list holds it) and its matches, or the error that
 * refused the query; the outcome itself unchanged. A lookup by hash is a decision as an upload's
 * is: a client that hashed the upload elsewhere (the sidecar's `/h/hash`) decides here.
 */
export function loggedLookup(
  log: DecisionLog,
  query: HashQuery,
  context: DecisionContext,
  lookup: () => Match[],
): Match[] {
  let matches: Match[];
  try {
    matches = lookup();
  } catch (error) {
    log.logNotChecked(error, context);
    throw error;
  }
  // Parsed already by the lookup: a query that reaches here names a known algorithm and a valid hash.
  const algorithm = getAlgorithm(query.algorithm);
  const hash = typeof query.hash === 'string' ? query.hash : algorithm.format(query.hash);
  const held = matches.some((m) => m.review === true);
  log.logResult(
    {
      matched: matches.length > 0,
      matches,
      ...(held ? { review: true } : {}),
      query: { algorithm: algorithm.name, hash },
    } as { matches: Match[] },
    context,
  );
  return matches;
}

/** A video match as a record holds it: what matched and at which thresholds, not its frame pairs. */
function videoRecord(match: VideoMatch, options: MatchVpdqOptions): LoggedMatch & Record<string, unknown> {
  const { frames, ...rest } = match;
  const own = options.lists !== undefined && Object.hasOwn(options.lists, match.list) ? options.lists[match.list] : {};
  return {
    ...rest,
    matchedFrames: frames.length,
    thresholds: resolveVpdqThresholds({
      distance: options.distance ?? own?.distance,
      queryMatchPercent: options.queryMatchPercent ?? own?.queryMatchPercent,
      listedMatchPercent: options.listedMatchPercent ?? own?.listedMatchPercent,
    }),
  };
}

/**
 * A video's lookup (`matchVpdq`), its outcome appended to `log`: the query's frame count, each
 * match with its shares, the count of its matched frames and its thresholds, and the allow
 * matches with what they overrode; or the error that refused the query. Small whatever the
 * video's length: no frame or frame pair is written (the upload's frames are its own evidence,
 * kept by the caller if at all). The outcome itself unchanged.
 */
export function loggedVideo(
  log: DecisionLog,
  frames: readonly VpdqFeature[],
  options: MatchVpdqOptions,
  context: DecisionContext,
  lookup: () => VideoOutcome<VideoMatch>,
): VideoMatch[] {
  let outcome: VideoOutcome<VideoMatch>;
  try {
    outcome = lookup();
  } catch (error) {
    log.logNotChecked(error, context);
    throw error;
  }
  const record = (m: VideoMatch) => videoRecord(m, options);
  const result: LoggedResult & Record<string, unknown> = {
    matched: outcome.matches.length > 0,
    ...(outcome.matches.some((m) => m.review === true) ? { review: true } : {}),
    matches: outcome.matches.map(record),
    ...(outcome.allowed.length === 0
      ? {}
      : { allowed: outcome.allowed.map((a) => ({ by: record(a.by), overrode: a.overrode.map(record) })) }),
    query: { algorithm: VPDQ_ALGORITHM, frames: frames.length },
  };
  log.logResult(result, context);
  return outcome.matches;
}
