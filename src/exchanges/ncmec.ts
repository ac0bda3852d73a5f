/**
 * NCMEC's hash-sharing API v2: `GET /v2/entries?from=…&to=…` walked one time range at a time and
 * each range page by page through the answers' `<paging><next>` links, with HTTP basic
 * authentication, as python-threatexchange's NCMEC client and its SignalExchangeAPI do. The
 * records map to rows through `src/lists/ncmec-xml.ts`, shared with the `ncmec` list format.
 *
 * NCMEC does not return a range's records in time order, so the only safe checkpoints are the end
 * of a range walked whole, or, inside a range, the range with the `next` link of the page after
 * the last one yielded (which NCMEC advises against keeping long: it is dropped after 12 hours and
 * the range fetched again from its start, repeating rows rather than losing any).
 */
import { HashwardenError } from '../errors.js';
import { normalizeEntry } from '../lists/entry.js';
import {
  MAX_NCMEC_XML_BYTES,
  NCMEC_ALGORITHMS,
  ncmecRecordRows,
  readNcmecDocument,
  readNcmecFeedbackReasons,
  type NcmecDocument,
} from '../lists/ncmec-xml.js';
import type { ImportRow } from '../store/types.js';
import { integerInRange, invalid, oneOf, optionsObject } from '../validate.js';
import { toSecret, type CredentialValue, type Secret } from './credentials.js';
import { redactUrl, type ExchangeResponse } from './http.js';
import type { ExchangeClient, ExchangeContext, ExchangeFeedback, ExchangePage } from './types.js';

/**
 * NCMEC's environments and their base URLs, named as python-threatexchange's `NCMECEnvironment`
 * names them; each `test_` one is the test system of the one without it.
 *
 * @example
 * ```ts
 * ncmecExchange({ credentials, environment: 'test_Industry' });
 * ```
 */
export const NCMEC_ENVIRONMENTS = Object.freeze({
  Industry: 'https://report.cybertip.org/hashsharing',
  Industry_Exploitative: 'https://report.cybertip.org/exploitative-hashsharing',
  LawEnforcement: 'https://lesp.ncmec.org/csam-hashsharing',
  NGO: 'https://hashsharing.ncmec.org/npo',
  Exploitative: 'https://hashsharing.ncmec.org/exploitative',
  NGO_Generative_AI: 'https://hashsharing.ncmec.org/generative-ai-csam',
  NGO_Generative_AI_Exploitative: 'https://hashsharing.ncmec.org/generative-ai-exploitative',
  test_Industry: 'https://exttest.cybertip.org/hashsharing',
  test_Industry_Exploitative: 'https://exttest.cybertip.org/exploitative-hashsharing',
  test_LawEnforcement: 'https://betalesp.ncmec.org/csam-hashsharing',
  test_NGO: 'https://hashsharing-test.ncmec.org/npo',
  test_Exploitative: 'https://hashsharing-test.ncmec.org/exploitative',
  test_NGO_Generative_AI: 'https://hashsharing-test.ncmec.org/generative-ai-csam',
  test_NGO_Generative_AI_Exploitative: 'https://hashsharing-test.ncmec.org/generative-ai-exploitative',
} as const);

/** One of {@link NCMEC_ENVIRONMENTS}' names. */
export type NcmecEnvironment = keyof typeof NCMEC_ENVIRONMENTS;

/**
 * Default of `maxRangeEntries`: 100,000 records (100 pages of NCMEC's 1,000). A range estimated
 * (from its first `next` link) to hold more is split before it is paged through: NCMEC builds a
 * cursor per range, slowly for a large one, and a paging link is kept at most 12 hours; pytx's
 * client aims at the same size (its `MAX_FETCH_SIZE` over its shrink factor).
 */
export const DEFAULT_NCMEC_RANGE_ENTRIES = 100_000;

/** A range too large is cut to a quarter of its span, pytx's `FETCH_SHRINK_FACTOR`. */
const SHRINK_FACTOR = 4;
/**
 * Seconds before now where the walk stops: records written this instant may still be coming, and
 * NCMEC's ranges are not in time order (pytx stops 5 s short, too).
 */
const END_LAG_SECONDS = 5;
/** NCMEC's advice: a paging link is not to be kept long; pytx drops it after 12 hours. */
const PAGING_LINK_SECONDS = 12 * 60 * 60;
/** The XML namespace of NCMEC's v2 documents, as the feedback bodies declare it. */
const NAMESPACE = 'https://hashsharing.ncmec.org/hashsharing/v2';
/** NCMEC's fingerprint type names (its `FingerprintType`) of hashwarden's algorithms, for feedback. */
const FINGERPRINT_TYPES: Readonly<Record<string, string>> = { md5: 'MD5', sha1: 'SHA1', pdq: 'PDQ' };
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Most member ids or classifications one filter may list: a filter longer than this is a mistake. */
const MAX_FILTER_VALUES = 10_000;

/**
 * Options of {@link ncmecExchange}.
 *
 * @example
 * ```ts
 * const options: NcmecExchangeOptions = { credentials: { username, password }, members: [42], classifications: ['A1'] };
 * ```
 */
export interface NcmecExchangeOptions {
  /** The hash-sharing API's user name and password (HTTP basic authentication). */
  readonly credentials: { readonly username: CredentialValue; readonly password: CredentialValue };
  /** The environment. Default `Industry`. */
  readonly environment?: NcmecEnvironment;
  /** A base URL in place of the environment's (a proxy, a stand-in): http(s), no query. */
  readonly baseUrl?: string;
  /**
   * Only records shared by these members (ESP ids), as pytx's `only_esp_ids`: filtered here, since
   * the API takes no such filter. Default: every member.
   */
  readonly members?: readonly number[];
  /**
   * Only records of these classifications (`A1`, `B2`, …, any case), filtered here: a record that
   * leaves them (reclassified) is removed. Default: every record, classified or not.
   */
  readonly classifications?: readonly string[];
  /** Records a time range may hold before the walk splits it. Default {@link DEFAULT_NCMEC_RANGE_ENTRIES}. */
  readonly maxRangeEntries?: number;
}

/** The checkpoint, as JSON: pytx's `NCMECCheckpoint` (the walk's time, a paging link and its range). */
interface NcmecCheckpoint {
  /** Unix seconds: every range before it was walked whole. */
  readonly maxTimestamp: number;
  /** The paging link of the next page of the range [maxTimestamp, nextEnd], if one was under way. */
  readonly next?: string;
  readonly nextEnd?: number;
  /** Unix seconds when the link was received. */
  readonly nextAt?: number;
}

function readCheckpoint(from: string | undefined): NcmecCheckpoint {
  if (from === undefined) return { maxTimestamp: 0 };
  let value: unknown;
  try {
    value = JSON.parse(from);
  } catch {
    invalid('an NCMEC checkpoint (JSON)', 'from', from);
  }
  const o = value as Partial<NcmecCheckpoint> | null;
  const seconds = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (o === null || typeof o !== 'object' || !seconds(o.maxTimestamp))
    invalid('an NCMEC checkpoint', 'from', from, true);
  if (o.next === undefined) return { maxTimestamp: o.maxTimestamp as number };
  if (typeof o.next !== 'string' || !seconds(o.nextEnd) || !seconds(o.nextAt)) {
    invalid('an NCMEC checkpoint', 'from', from, true);
  }
  return o as NcmecCheckpoint;
}

/** `2017-10-24T15:10:00Z`: the API's time format, as pytx writes it (UTC). */
function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function positiveIntegerParameter(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/**
 * A client of NCMEC's hash-sharing API v2, for {@link syncExchange}: pages of the records shared
 * since the checkpoint (adds, deletions as removals), and feedback (an up or down vote) on an
 * entry. Argument errors throw TypeError / RangeError; nothing is sent before `pages()` is read.
 *
 * @example
 * ```ts
 * const client = ncmecExchange({ credentials: await readCredentials('ncmec', ['username', 'password']), environment: 'test_Industry' });
 * await syncExchange(store, client, { list: 'ncmec' });
 * ```
 */
export function ncmecExchange(options: NcmecExchangeOptions): ExchangeClient {
  const o = optionsObject(options, 'options');
  const credentials = optionsObject(o.credentials, 'credentials');
  const username = toSecret(credentials.username, 'credentials.username');
  const password = toSecret(credentials.password, 'credentials.password');
  const environment =
    o.environment === undefined
      ? 'Industry'
      : oneOf(o.environment, Object.keys(NCMEC_ENVIRONMENTS) as NcmecEnvironment[], 'environment');
  let base: string = NCMEC_ENVIRONMENTS[environment];
  if (o.baseUrl !== undefined) {
    const expected = 'http(s) URL without query or fragment';
    if (typeof o.baseUrl !== 'string') invalid(expected, 'baseUrl', o.baseUrl);
    let url: URL | undefined;
    try {
      url = new URL(o.baseUrl);
    } catch {
      url = undefined;
    }
    if (
      url === undefined ||
      !/^https?:$/.test(url.protocol) ||
      url.search !== '' ||
      url.hash !== '' ||
      url.username !== '' ||
      url.password !== ''
    ) {
      invalid(expected, 'baseUrl', o.baseUrl, true);
    }
    base = `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  }
  const members = idSet(o.members);
  const classifications = classificationSet(o.classifications);
  const maxRangeEntries =
    o.maxRangeEntries === undefined
      ? DEFAULT_NCMEC_RANGE_ENTRIES
      : integerInRange(o.maxRangeEntries, 1, Number.MAX_SAFE_INTEGER, 'maxRangeEntries');
  const filters = [
    members === undefined ? '' : `:members=${[...members].sort((a, b) => a - b).join(',')}`,
    classifications === undefined ? '' : `:classifications=${[...classifications].sort().join(',')}`,
  ].join('');
  const where = o.baseUrl === undefined ? environment : base;
  return new NcmecClient(
    { username, password },
    base,
    `ncmec:${where}${filters}`,
    members,
    classifications,
    maxRangeEntries,
  );
}

function idSet(value: unknown): ReadonlySet<number> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > MAX_FILTER_VALUES) invalid(`array of member ids`, 'members', value);
  return new Set(value.map((id, i) => integerInRange(id, 0, Number.MAX_SAFE_INTEGER, `members[${i}]`)));
}

function classificationSet(value: unknown): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > MAX_FILTER_VALUES)
    invalid('array of classifications', 'classifications', value);
  return new Set(
    value.map((c, i) => {
      if (typeof c !== 'string' || c.trim() === '' || c.length > 64) {
        invalid('non-empty string of at most 64 characters', `classifications[${i}]`, c);
      }
      return c.trim().toUpperCase();
    }),
  );
}

/** The client itself: its credentials are private fields, never shown by `util.inspect`. */
class NcmecClient implements ExchangeClient {
  readonly name = 'ncmec';
  readonly #credentials: { readonly username: Secret; readonly password: Secret };

  constructor(
    credentials: { readonly username: Secret; readonly password: Secret },
    readonly baseUrl: string,
    readonly checkpointKey: string,
    readonly members: ReadonlySet<number> | undefined,
    readonly classifications: ReadonlySet<string> | undefined,
    readonly maxRangeEntries: number,
  ) {
    this.#credentials = credentials;
  }

  #headers(extra?: Record<string, string>): Record<string, string> {
    const { username, password } = this.#credentials;
    const token = Buffer.from(`${username.reveal()}:${password.reveal()}`, 'utf8').toString('base64');
    return { authorization: `Basic ${token}`, accept: 'application/xml', ...extra };
  }

  /** The URL of a paging link: a path under the base URL, never another host (the credentials go with it). */
  #pagingUrl(next: string, what: string): string {
    const url = `${this.baseUrl}${next}`;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    const basePath = new URL(this.baseUrl).pathname.replace(/\/+$/, '');
    if (!next.startsWith('/') || next.startsWith('//') || parsed === undefined) {
      throw responseError(what, this.baseUrl, 'a <next> link that is not a path');
    }
    if (parsed.origin !== new URL(this.baseUrl).origin || !parsed.pathname.startsWith(`${basePath}/`)) {
      throw responseError(what, this.baseUrl, 'a <next> link outside the base URL');
    }
    return url;
  }

  async #page(url: string, context: ExchangeContext, what: string): Promise<NcmecDocument> {
    const response: ExchangeResponse = await context.http.request(url, { headers: this.#headers(), what });
    // A page is parsed whole, its tree several times its size: bounded as a saved page is.
    if (response.body.length > MAX_NCMEC_XML_BYTES) {
      throw responseError(what, response.url, `more than ${MAX_NCMEC_XML_BYTES} bytes`);
    }
    try {
      return readNcmecDocument(response.body);
    } catch (error) {
      throw responseError(what, response.url, (error as Error).message, error);
    }
  }

  /** The page's rows, filtered; a record that cannot be read refuses the page. */
  #rows(document: NcmecDocument, list: string, what: string): { rows: ImportRow[]; ignored: number } {
    const rows: ImportRow[] = [];
    let ignored = document.unknown;
    for (const record of document.records) {
      if ('problem' in record)
        throw responseError(what, this.baseUrl, `a record that cannot be read: ${record.problem}`);
      // A record's member never changes: another member's records are never imported, so never removed.
      if (this.members !== undefined && !this.members.has(record.memberId)) {
        ignored++;
        continue;
      }
      const exclude =
        !record.deleted &&
        this.classifications !== undefined &&
        !this.classifications.has((record.classification ?? '').toUpperCase());
      if (exclude) ignored++;
      for (const raw of ncmecRecordRows(record, list, 'delta', exclude)) {
        if (raw.ignore !== undefined) ignored++;
        else if (raw.op === 'remove') rows.push({ op: 'remove', list, id: String(raw.id) });
        else {
          try {
            rows.push({ op: 'add', entry: normalizeEntry(raw) });
          } catch (error) {
            if (!(error instanceof HashwardenError)) throw error;
            // A fingerprint that is no hash of its type (pytx skips it too): counted, and any
            // earlier version of it removed, rather than stopping every later sync at this page.
            ignored++;
            rows.push({ op: 'remove', list, id: String(raw.id) });
          }
        }
      }
    }
    return { rows, ignored };
  }

  async *pages(from: string | undefined, context: ExchangeContext): AsyncIterable<ExchangePage> {
    const checkpoint = readCheckpoint(from);
    const now = () => Math.floor(Date.now() / 1000);
    const end = now() - END_LAG_SECONDS;
    let start = checkpoint.maxTimestamp;
    let resume: { readonly url: string; readonly end: number } | undefined;
    if (checkpoint.next !== undefined && now() - (checkpoint.nextAt ?? 0) <= PAGING_LINK_SECONDS) {
      resume = { url: this.#pagingUrl(checkpoint.next, 'NCMEC checkpoint'), end: checkpoint.nextEnd ?? end };
    }
    let span = Math.max(1, end - start);
    while (start < end || resume !== undefined) {
      context.signal?.throwIfAborted();
      const rangeEnd = resume?.end ?? Math.min(end, start + span);
      let url =
        resume?.url ??
        `${this.baseUrl}/v2/entries?from=${encodeURIComponent(formatTime(start))}&to=${encodeURIComponent(formatTime(rangeEnd))}`;
      let probe = resume === undefined;
      resume = undefined;
      let fetched = 0;
      let split = false;
      for (let page = 1; ; page++) {
        const what = `NCMEC entries ${formatTime(start)}..${formatTime(rangeEnd)} page ${page}`;
        const document = await this.#page(url, context, what);
        const nextUrl = document.next === undefined ? undefined : this.#pagingUrl(document.next, what);
        if (probe && nextUrl !== undefined && rangeEnd - start > 1) {
          const estimate = estimateRange(document);
          if (estimate !== undefined && estimate > this.maxRangeEntries) {
            // Too large to page through: a smaller range, its first page fetched anew.
            span = Math.max(1, Math.floor((rangeEnd - start) / SHRINK_FACTOR));
            split = true;
            break;
          }
        }
        probe = false;
        const { rows, ignored } = this.#rows(document, context.list, what);
        fetched += document.records.length;
        const state: NcmecCheckpoint =
          document.next === undefined
            ? { maxTimestamp: rangeEnd }
            : { maxTimestamp: start, next: document.next, nextEnd: rangeEnd, nextAt: now() };
        yield { rows, ignored, checkpoint: JSON.stringify(state) };
        if (nextUrl === undefined) break;
        url = nextUrl;
        context.signal?.throwIfAborted();
      }
      if (split) continue;
      start = rangeEnd;
      // Ranges far below the bound grow, so that a quiet stretch of years is not walked a day at a time.
      if (fetched < this.maxRangeEntries / SHRINK_FACTOR) span *= 2;
    }
  }

  async feedback(feedback: ExchangeFeedback, context: ExchangeContext): Promise<void> {
    const f = optionsObject(feedback, 'feedback');
    const vote = oneOf(f.vote, ['up', 'down'] as const, 'vote');
    const entry = optionsObject(f.entry, 'entry');
    const metadata = (entry.metadata ?? {}) as Record<string, unknown>;
    const memberId = metadata.memberId;
    const ncmecId = metadata.ncmecId;
    const type = typeof entry.algorithm === 'string' ? FINGERPRINT_TYPES[entry.algorithm] : undefined;
    if (typeof memberId !== 'number' || typeof ncmecId !== 'string' || type === undefined) {
      invalid(
        `an entry of an NCMEC sync (${NCMEC_ALGORITHMS.join(', ')}, metadata memberId and ncmecId)`,
        'entry',
        entry.id,
      );
    }
    let body: string;
    if (vote === 'up') body = '<affirmative/>';
    else {
      const guid = await this.#reasonGuid(type, f.reason, context);
      body = `<negative><reasonIds><guid>${escapeXml(guid)}</guid></reasonIds></negative>`;
    }
    const url = `${this.baseUrl}/v2/entries/${memberId}/${encodeURIComponent(ncmecId)}/${type}/feedback`;
    await context.http.request(url, {
      method: 'PUT',
      headers: this.#headers({ 'content-type': 'application/xml; charset=utf-8' }),
      body: `<?xml version="1.0" encoding="UTF-8"?><feedbackSubmission xmlns="${NAMESPACE}">${body}</feedbackSubmission>`,
      retry: false,
      what: `NCMEC ${vote} vote on ${type} of entry ${memberId}-${ncmecId}`,
    });
  }

  /** The guid of a down vote's reason: given, or named, or the only one NCMEC offers for the type. */
  async #reasonGuid(type: string, reason: unknown, context: ExchangeContext): Promise<string> {
    if (reason !== undefined && typeof reason !== 'string') invalid('string', 'reason', reason);
    if (reason !== undefined && GUID.test(reason.trim())) return reason.trim();
    const what = `NCMEC ${type} feedback reasons`;
    const response = await context.http.request(`${this.baseUrl}/v2/feedback/${type}/reasons`, {
      headers: this.#headers(),
      what,
    });
    let reasons: { guid: string; name: string }[];
    try {
      reasons = readNcmecFeedbackReasons(response.body);
    } catch (error) {
      throw responseError(what, response.url, (error as Error).message, error);
    }
    const wanted = reason?.trim().toLowerCase();
    const match =
      wanted === undefined
        ? reasons.length === 1
          ? reasons[0]
          : undefined
        : reasons.find((r) => r.name.toLowerCase() === wanted);
    if (match === undefined) {
      const names = reasons.map((r) => r.name).join(', ');
      invalid(`one of NCMEC's ${type} reasons (${names || 'none offered'}), or its guid`, 'reason', reason, true);
    }
    return match.guid;
  }
}

/** Records in a range, from its first page's `next` link (`start`, `max`), as pytx estimates them. */
function estimateRange(document: NcmecDocument): number | undefined {
  if (document.next === undefined) return document.records.length;
  const query = document.next.indexOf('?');
  const params = new URLSearchParams(query < 0 ? '' : document.next.slice(query + 1));
  const start = positiveIntegerParameter(params, 'start');
  const max = positiveIntegerParameter(params, 'max');
  if (start === undefined || max === undefined || max < start) return undefined;
  return max - start + 1 + document.records.length;
}

function responseError(what: string, url: string, problem: string, cause?: unknown): HashwardenError {
  return new HashwardenError(
    'ERR_EXCHANGE_RESPONSE',
    `${what}: ${redactUrl(url)} answered ${problem}; the page was not imported`,
    cause === undefined ? undefined : { cause },
  );
}
