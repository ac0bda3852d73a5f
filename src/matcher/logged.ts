/**
 * The matcher's hook to its decision log (`MatcherOptions.decisionLog`): each settled image call
 * and each lookup by hash appended, its result or the error that left the upload or the query
 * unchecked, with the threshold each match was found within. The record's format is the log's
 * (src/log/).
 */
import { getAlgorithm, type AlgorithmName, type Thresholds } from '../algorithms/registry.js';
import type { DecisionLog } from '../log/decision-log.js';
import type { DecisionContext, LoggedMatch } from '../log/record.js';
import { optionsObject } from '../validate.js';
import type { State } from './state.js';
import { thresholdOption } from './state.js';
import type { HashQuery, ImageMatchResult, Match, MatchHashOptions, MatchImageOptions } from './types.js';

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
