/**
 * StopNCII.org's hash exchange (issue 21): its `FetchHashes` pages into a list, and feedback on a
 * hash through `SubmitFeedback`, following python-threatexchange's StopNCII client. Every request
 * carries the Azure API Management subscription key (`Ocp-Apim-Subscription-Key`) and the
 * endpoint's own function key (`x-functions-key`). A fetch asks for the records changed since a
 * timestamp, page by page (`nextPageToken`) until `hasMoreRecords` is false; the last page's
 * `nextSetTimestamp` is where the next sync starts. Records are read by `src/lists/stopncii.ts`,
 * the one mapping the `stopncii` list format shares: `ImagePDQ` and `VideoMD5` hashes are
 * entries, `Withdrawn` and `Deleted` records removals, other types ignored.
 */
import { HashwardenError } from '../errors.js';
import { MAX_FIELD_LENGTH, normalEntry } from '../lists/entry.js';
import { removalKey, type RawRow } from '../lists/rows.js';
import { stopnciiRow } from '../lists/stopncii.js';
import type { ImportRow } from '../store/types.js';
import { integerInRange, invalid, optionsObject } from '../validate.js';
import { type CredentialValue, type Secret, toSecret } from './credentials.js';
import { parseJsonBody, redactUrl } from './http.js';
import type { ExchangeClient, ExchangeContext, ExchangeFeedback, ExchangePage } from './types.js';

/** The service's URL, as python-threatexchange's client has it (`StopNCIIAPI.BASE_URL`). */
export const STOPNCII_BASE_URL = 'https://api.stopncii.org/v1';

/**
 * Where a first sync starts: the reference client's `DEFAULT_START_TIME` (10 s after 1970), so
 * that it asks for every record.
 */
export const STOPNCII_START_TIMESTAMP = 10;

/** Records per page asked for: the reference client's `page_size` default. */
export const DEFAULT_STOPNCII_PAGE_SIZE = 800;

/**
 * Most records per page that may be asked for: 10,000. A page is parsed whole before it is
 * yielded; a larger page only makes each retry and each answer heavier.
 */
const MAX_STOPNCII_PAGE_SIZE = 10_000;

/**
 * Credentials of StopNCII: the subscription key (every request) and a function key per endpoint,
 * named as python-threatexchange names them (`subscription_key`, `fetch_function_key`, and the
 * `SubmitFeedback` endpoint's key among its `additional_function_keys`). Environment variables:
 * `HASHWARDEN_STOPNCII_SUBSCRIPTION_KEY`, `…_FETCH_FUNCTION_KEY`, `…_FEEDBACK_FUNCTION_KEY`.
 */
export interface StopnciiCredentials {
  readonly subscriptionKey: CredentialValue;
  /** The `FetchHashes` endpoint's key: needed to sync. */
  readonly fetchFunctionKey?: CredentialValue;
  /** The `SubmitFeedback` endpoint's key: needed for feedback. */
  readonly feedbackFunctionKey?: CredentialValue;
}

/**
 * Options of {@link stopnciiExchange}.
 *
 * @example
 * ```ts
 * const options: StopnciiExchangeOptions = { credentials: await readCredentials('stopncii', ['subscriptionKey', 'fetchFunctionKey']) };
 * ```
 */
export interface StopnciiExchangeOptions {
  readonly credentials: StopnciiCredentials;
  /**
   * The service's URL (a proxy, a stand-in): http or https. Default {@link STOPNCII_BASE_URL}.
   * StopNCII has no test environment of its own (the reference client has only this override).
   */
  readonly baseUrl?: string;
  /** Records per page, 1 to 10,000. Default {@link DEFAULT_STOPNCII_PAGE_SIZE}. */
  readonly pageSize?: number;
}

/** Where a sync resumes (the checkpoint's JSON). */
interface StopnciiCheckpoint {
  /** The `startTimestamp` of the pass under way, or of the next one. */
  readonly start: number;
  /** The pass's next page, when a pass was cut short; absent between passes. */
  readonly next?: string;
  /** The page size the token was given for: a token of another page size is not resumed. */
  readonly pageSize?: number;
}

/** Longest page token accepted in a checkpoint or an answer: tokens seen are about 200 characters. */
const MAX_PAGE_TOKEN_LENGTH = 8192;

function responseError(what: string, problem: string): HashwardenError {
  return new HashwardenError('ERR_EXCHANGE_RESPONSE', `${what}: ${problem}; the page was not imported`);
}

function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function readCheckpoint(from: string): StopnciiCheckpoint {
  let parsed: unknown;
  try {
    parsed = JSON.parse(from);
  } catch {
    parsed = undefined;
  }
  const c = parsed as Partial<StopnciiCheckpoint> | undefined;
  if (
    c === null ||
    typeof c !== 'object' ||
    !isTimestamp(c.start) ||
    (c.next !== undefined && (typeof c.next !== 'string' || c.next.length > MAX_PAGE_TOKEN_LENGTH))
  ) {
    throw new HashwardenError(
      'ERR_EXCHANGE_RESPONSE',
      'The stored StopNCII checkpoint is not one this version writes: sync again with restart',
    );
  }
  return c as StopnciiCheckpoint;
}

/** One `FetchHashes` answer, checked. */
interface FetchAnswer {
  readonly records: readonly unknown[];
  readonly hasMore: boolean;
  readonly next: string | undefined;
  readonly nextSetTimestamp: number;
}

function checkAnswer(body: unknown, what: string): FetchAnswer {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw responseError(what, 'not a JSON object');
  const { hashRecords, hasMoreRecords, nextPageToken, nextSetTimestamp, count } = body as Record<string, unknown>;
  if (!Array.isArray(hashRecords)) throw responseError(what, 'no hashRecords array');
  if (typeof hasMoreRecords !== 'boolean') throw responseError(what, 'hasMoreRecords is not a boolean');
  if (!isTimestamp(nextSetTimestamp)) throw responseError(what, 'nextSetTimestamp is not a non-negative integer');
  if (count !== undefined && !(Number.isSafeInteger(count) && (count as number) >= 0))
    throw responseError(what, 'count is not a non-negative integer');
  if (nextPageToken !== undefined && nextPageToken !== null && typeof nextPageToken !== 'string')
    throw responseError(what, 'nextPageToken is not a string');
  const next = typeof nextPageToken === 'string' && nextPageToken !== '' ? nextPageToken : undefined;
  if (next !== undefined && next.length > MAX_PAGE_TOKEN_LENGTH)
    throw responseError(what, `nextPageToken is longer than ${MAX_PAGE_TOKEN_LENGTH} characters`);
  if (hasMoreRecords && next === undefined) throw responseError(what, 'hasMoreRecords without a nextPageToken');
  return { records: hashRecords, hasMore: hasMoreRecords, next, nextSetTimestamp };
}

/**
 * The rows of a page's records. A record the mapping refuses (a hash that is not hex, a field of
 * the wrong type) is counted as ignored, as the reference client skips it: one odd record must not
 * stop every sync after it.
 */
function pageRows(records: readonly unknown[], list: string): { rows: ImportRow[]; ignored: number } {
  const rows: ImportRow[] = [];
  let ignored = 0;
  for (const record of records) {
    let row: RawRow;
    try {
      row = stopnciiRow(record, list);
      if (row.ignore !== undefined) {
        ignored++;
        continue;
      }
      if (row.op === 'remove') rows.push({ op: 'remove', ...removalKey(row) });
      else rows.push({ op: 'add', entry: normalEntry(row) });
    } catch (error) {
      if (!(error instanceof HashwardenError)) throw error;
      ignored++;
    }
  }
  return { rows, ignored };
}

/** The options resolved once; the credentials as Secrets, never printed. */
interface Resolved {
  readonly subscriptionKey: Secret;
  readonly fetchFunctionKey: Secret | undefined;
  readonly feedbackFunctionKey: Secret | undefined;
  readonly baseUrl: string;
  readonly pageSize: number;
}

function resolve(options: StopnciiExchangeOptions): Resolved {
  const o = optionsObject(options, 'options');
  const c = optionsObject(o.credentials, 'credentials');
  if (o.credentials === undefined) invalid('object', 'credentials', o.credentials);
  const fetchFunctionKey =
    c.fetchFunctionKey === undefined ? undefined : toSecret(c.fetchFunctionKey, 'credentials.fetchFunctionKey');
  const feedbackFunctionKey =
    c.feedbackFunctionKey === undefined
      ? undefined
      : toSecret(c.feedbackFunctionKey, 'credentials.feedbackFunctionKey');
  if (fetchFunctionKey === undefined && feedbackFunctionKey === undefined)
    invalid('fetchFunctionKey or feedbackFunctionKey', 'credentials', '(neither)');
  let baseUrl = STOPNCII_BASE_URL;
  if (o.baseUrl !== undefined) {
    const expected = 'http or https URL';
    if (typeof o.baseUrl !== 'string') invalid(expected, 'baseUrl', o.baseUrl);
    let url: URL;
    try {
      url = new URL(o.baseUrl);
    } catch {
      invalid(expected, 'baseUrl', redactUrl(o.baseUrl), true);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') invalid(expected, 'baseUrl', redactUrl(url), true);
    baseUrl = o.baseUrl.replace(/\/+$/, '');
  }
  return Object.freeze({
    subscriptionKey: toSecret(c.subscriptionKey, 'credentials.subscriptionKey'),
    fetchFunctionKey,
    feedbackFunctionKey,
    baseUrl,
    pageSize:
      o.pageSize === undefined
        ? DEFAULT_STOPNCII_PAGE_SIZE
        : integerInRange(o.pageSize, 1, MAX_STOPNCII_PAGE_SIZE, 'pageSize'),
  });
}

function missingKey(field: string, what: string): HashwardenError {
  return new HashwardenError(
    'ERR_EXCHANGE_CREDENTIALS',
    `No StopNCII ${field}: ${what} needs it (set $HASHWARDEN_STOPNCII_${field.replace(/([A-Z])/g, '_$1').toUpperCase()}, or give it in the credentials file)`,
  );
}

/** The headers of a request to an endpoint: the subscription key and the endpoint's function key. */
function headers(r: Resolved, functionKey: Secret): Record<string, string> {
  return {
    'Ocp-Apim-Subscription-Key': r.subscriptionKey.reveal(),
    'x-functions-key': functionKey.reveal(),
    accept: 'application/json',
  };
}

/** The pages of a sync, from a checkpoint (see `stopnciiExchange` for the resume rules). */
async function* fetchPages(
  r: Resolved,
  from: string | undefined,
  context: ExchangeContext,
): AsyncIterable<ExchangePage> {
  const key = r.fetchFunctionKey;
  if (key === undefined) throw missingKey('fetchFunctionKey', 'a sync');
  const resumed = from === undefined ? { start: STOPNCII_START_TIMESTAMP } : readCheckpoint(from);
  const start = resumed.start;
  let next = resumed.pageSize === r.pageSize ? resumed.next : undefined;
  let retriedPass = false;
  for (let page = 1; ; page++) {
    context.signal?.throwIfAborted();
    const url = new URL(`${r.baseUrl}/FetchHashes`);
    url.searchParams.set('startTimestamp', String(start));
    url.searchParams.set('pageSize', String(r.pageSize));
    if (next !== undefined) url.searchParams.set('nextPageToken', next);
    const what = `StopNCII FetchHashes page ${page} (from ${start})`;
    let body: unknown;
    try {
      body = parseJsonBody(await context.http.request(url, { headers: headers(r, key), what }), what);
    } catch (error) {
      // A token kept from a pass cut short may have expired ("not valid over long periods of
      // time"): the pass starts again from its timestamp, once. Records are the hashes' whole
      // state, so the pages read again change nothing.
      const stale = page === 1 && next !== undefined && !retriedPass;
      if (!stale || !(error instanceof HashwardenError) || error.code !== 'ERR_EXCHANGE_HTTP') throw error;
      retriedPass = true;
      next = undefined;
      page--;
      continue;
    }
    const answer = checkAnswer(body, what);
    if (answer.hasMore && answer.next === next) throw responseError(what, 'the same nextPageToken again (a loop)');
    const { rows, ignored } = pageRows(answer.records, context.list);
    // Within a pass, resume where it is (its start and next page); after its last page, from the
    // timestamp the service gives for the next pass.
    const checkpoint: StopnciiCheckpoint = answer.hasMore
      ? { start, next: answer.next, pageSize: r.pageSize }
      : { start: answer.nextSetTimestamp };
    yield { rows, checkpoint: JSON.stringify(checkpoint), ignored };
    if (!answer.hasMore) return;
    next = answer.next;
  }
}

/** StopNCII's feedback value for a vote: `Blocked` (reviewed, NCII) or `NotBlocked`. */
const FEEDBACK_VALUES = { up: 'Blocked', down: 'NotBlocked' } as const;

async function sendFeedback(r: Resolved, feedback: ExchangeFeedback, context: ExchangeContext): Promise<void> {
  const key = r.feedbackFunctionKey;
  if (key === undefined) throw missingKey('feedbackFunctionKey', 'feedback');
  const f = optionsObject(feedback, 'feedback');
  const entry = f.entry;
  if (entry === undefined || entry === null || typeof entry !== 'object')
    invalid('list entry', 'feedback.entry', entry);
  if (entry.algorithm !== 'pdq' && entry.algorithm !== 'md5')
    invalid('a pdq or md5 entry', 'feedback.entry.algorithm', entry.algorithm, true);
  if (f.vote !== 'up' && f.vote !== 'down') invalid('one of up, down', 'feedback.vote', f.vote, true);
  if (f.reason !== undefined && (typeof f.reason !== 'string' || f.reason.length > MAX_FIELD_LENGTH))
    invalid(`string of at most ${MAX_FIELD_LENGTH} characters`, 'feedback.reason', f.reason);
  // As the reference client posts it: the hash, the value and tags (the reason, as one tag).
  const hashFeedback = {
    tags: f.reason === undefined || f.reason.trim() === '' ? [] : [f.reason.trim()],
    feedbackValue: FEEDBACK_VALUES[f.vote],
    hashValue: entry.hash,
  };
  await context.http.request(`${r.baseUrl}/SubmitFeedback`, {
    method: 'POST',
    headers: { ...headers(r, key), 'content-type': 'application/json' },
    body: JSON.stringify({ count: 1, hashFeedbacks: [hashFeedback] }),
    what: 'StopNCII SubmitFeedback',
  });
}

/**
 * A client of StopNCII.org's hash exchange for {@link syncExchange}. A first sync asks for every
 * record (`startTimestamp` 10, as the reference client does) and pages with `nextPageToken` until
 * `hasMoreRecords` is false; its checkpoint is then the last page's `nextSetTimestamp`, where the
 * next sync starts. A sync cut short (a failure, a crash) resumes within its pass from the
 * checkpoint of the last page committed (the pass's start and the next page's token); a token the
 * service no longer takes (any HTTP error on that first request) restarts the pass from its start
 * instead, which changes nothing already applied, since each record is the hash's whole state.
 *
 * `feedback` posts `Blocked` (vote `up`) or `NotBlocked` (`down`) for the entry's hash to
 * `SubmitFeedback`, the reason as a tag; it needs `feedbackFunctionKey`. Not retried.
 *
 * Throws TypeError / RangeError for bad options (never showing a credential).
 *
 * @example
 * ```ts
 * const credentials = await readCredentials('stopncii', ['subscriptionKey', 'fetchFunctionKey']);
 * await syncExchange(store, stopnciiExchange({ credentials }), { list: 'stopncii' });
 * ```
 */
export function stopnciiExchange(options: StopnciiExchangeOptions): ExchangeClient {
  const r = resolve(options);
  return Object.freeze({
    name: 'stopncii' as const,
    checkpointKey: `stopncii:${redactUrl(r.baseUrl)}`,
    pages: (from: string | undefined, context: ExchangeContext) => fetchPages(r, from, context),
    feedback: (feedback: ExchangeFeedback, context: ExchangeContext) => sendFeedback(r, feedback, context),
  });
}
