/**
 * Meta's ThreatExchange, as python-threatexchange's `FBThreatExchangeSignalExchangeAPI` fetches
 * it: the Graph API's `/<privacy group>/threat_updates` edge, paged by `paging.next` links, from
 * the time of the last update seen (`start_time`); tombstones (`should_delete`) as removals; the
 * app's access token (`<app id>|<secret>`) as the `access_token` query parameter, the Graph API's
 * way; reactions as feedback. Records are mapped in threatexchange-records.ts.
 *
 * The access token travels in URLs, so a URL is never kept or shown with it: ExchangeHttp's
 * messages drop the query, and the `next` link stored in a checkpoint has the token taken out
 * (put back when it is followed). A `next` link leading off the API's origin is refused, so the
 * token is never sent anywhere else.
 */
import { HashwardenError } from '../errors.js';
import { integerInRange, invalid, oneOf, optionsObject } from '../validate.js';
import { type CredentialValue, type Secret, toSecret } from './credentials.js';
import { parseJsonBody } from './http.js';
import { threatUpdatesPage } from './threatexchange-records.js';
import type { ExchangeClient, ExchangeContext, ExchangeFeedback, ExchangePage } from './types.js';

/** The Graph API's host; a version is appended (`/v21.0`). */
export const THREATEXCHANGE_GRAPH_URL = 'https://graph.facebook.com';
/** The Graph API version python-threatexchange's client calls (its `_TE_BASE_URL`). */
export const DEFAULT_THREATEXCHANGE_VERSION = 'v21.0';
/**
 * Records asked for per page (`limit`): python-threatexchange's fetcher asks for 100. Each record
 * carries its descriptors, so a page stays small.
 */
export const DEFAULT_THREATEXCHANGE_PAGE_SIZE = 100;
/** Largest `pageSize` accepted: the Graph API caps `limit` and larger pages only cost memory. */
const MAX_PAGE_SIZE = 1000;

/**
 * The fields asked of each update: pytx's (`te_threat_updates_fields`), with the record's `id`
 * (the entry's id) and the descriptors' `added_on`.
 */
const UPDATE_FIELDS =
  'id,indicator,type,last_updated,should_delete,descriptors{id,reactions,owner{id},tags,status,added_on}';

/**
 * A Graph API app token as python-threatexchange checks it (`is_valid_app_token`): the app id,
 * `|` (or its URL form `%7C`), the app secret.
 */
const APP_TOKEN = /^(\d{8,})(?:\||%7C)([A-Za-z0-9_-]{20,})$/i;

/** Reactions a vote may send (`reason` picks one; the first is the default), after Meta's reaction types. */
const REACTIONS = {
  // pytx's react_upvote_threat_descriptor sends HELPFUL, react_matched_threat_descriptor SAW_THIS_TOO.
  up: ['HELPFUL', 'SAW_THIS_TOO'],
  // pytx's react_downvote_threat_descriptor sends NOT_HELPFUL; NON_MALICIOUS and DISAGREE_WITH_TAGS
  // are the review results Meta's docs describe, OUTDATED a signal no longer worth keeping.
  down: ['NOT_HELPFUL', 'NON_MALICIOUS', 'DISAGREE_WITH_TAGS', 'OUTDATED'],
} as const;

/** The credential of ThreatExchange: an app access token, `<app id>|<app secret>`. */
export interface ThreatExchangeCredentials {
  readonly accessToken: CredentialValue;
}

/**
 * Options of {@link threatExchange}.
 *
 * @example
 * ```ts
 * const client = threatExchange({ credentials: { accessToken }, privacyGroup: '1234567890', types: ['HASH_PDQ'] });
 * ```
 */
export interface ThreatExchangeOptions {
  readonly credentials: ThreatExchangeCredentials;
  /** The privacy group (ThreatExchange's collaboration) whose updates are fetched: its Graph API id. */
  readonly privacyGroup: string | number;
  /**
   * The Graph API version, ThreatExchange's only environment switch (it has no test service;
   * tests run in a test privacy group). Default {@link DEFAULT_THREATEXCHANGE_VERSION}.
   */
  readonly environment?: string;
  /** Replaces `https://graph.facebook.com/<version>` (a stand-in, a proxy). http(s), no query. */
  readonly baseUrl?: string;
  /**
   * Indicator types asked for (`types=HASH_PDQ,HASH_MD5`, filtered by the server). Default: all
   * types; those hashwarden has no algorithm for are counted as ignored.
   */
  readonly types?: readonly string[];
  /** Records per page (`limit`), 1 to 1,000. Default {@link DEFAULT_THREATEXCHANGE_PAGE_SIZE}. */
  readonly pageSize?: number;
}

/** Where a sync resumes: the greatest `last_updated` seen, and the page to ask next if the fetch broke off. */
interface Checkpoint {
  readonly updateTime: number;
  /** `paging.next` without the access token. */
  readonly next?: string;
}

function responseError(what: string, detail: string): HashwardenError {
  return new HashwardenError('ERR_EXCHANGE_RESPONSE', `${what}: ${detail}; the page was not imported`);
}

/** The access token, checked without ever showing it. */
function accessToken(credentials: unknown): Secret {
  if (credentials === null || typeof credentials !== 'object') invalid('object', 'credentials', credentials);
  const secret = toSecret((credentials as { accessToken?: unknown }).accessToken, 'credentials.accessToken');
  const match = APP_TOKEN.exec(secret.reveal());
  if (match === null) {
    throw new HashwardenError(
      'ERR_EXCHANGE_CREDENTIALS',
      'The threatexchange accessToken is not an app access token (<app id>|<app secret>, as the app dashboard gives it)',
    );
  }
  return toSecret(`${match[1]}|${match[2]}`, 'credentials.accessToken');
}

function baseUrlOf(baseUrl: unknown, environment: string): string {
  if (baseUrl === undefined) return `${THREATEXCHANGE_GRAPH_URL}/${environment}`;
  const expected = 'http(s) URL without query, fragment or user';
  if (typeof baseUrl !== 'string') invalid(expected, 'baseUrl', baseUrl);
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    invalid(expected, 'baseUrl', baseUrl, true);
  }
  if (
    !/^https?:$/.test(url.protocol) ||
    url.search !== '' ||
    url.hash !== '' ||
    url.username !== '' ||
    url.password !== ''
  ) {
    invalid(expected, 'baseUrl', baseUrl, true);
  }
  return url.href.replace(/\/+$/, '');
}

function parseCheckpoint(from: string | undefined): Checkpoint {
  if (from === undefined) return { updateTime: 0 };
  const expected = 'ThreatExchange checkpoint ({"updateTime": <Unix time>, "next"?: <URL>})';
  let parsed: unknown;
  try {
    parsed = JSON.parse(from);
  } catch {
    invalid(expected, 'from', from, true);
  }
  const o = parsed as { updateTime?: unknown; next?: unknown } | null;
  if (o === null || typeof o !== 'object' || !Number.isSafeInteger(o.updateTime) || (o.updateTime as number) < 0) {
    invalid(expected, 'from', from, true);
  }
  if (o.next !== undefined && typeof o.next !== 'string') invalid(expected, 'from', from, true);
  return o.next === undefined
    ? { updateTime: o.updateTime as number }
    : { updateTime: o.updateTime as number, next: o.next };
}

/**
 * Makes a ThreatExchange client for {@link syncExchange}: the privacy group's `/threat_updates`,
 * one page per request, each record's indicator one entry (id: the indicator's Graph API id).
 * Throws TypeError / RangeError for bad options, `ERR_EXCHANGE_CREDENTIALS` for a token that is
 * not an app token (never showing it).
 *
 * @example
 * ```ts
 * const client = threatExchange({ credentials: { accessToken: process.env.TX_ACCESS_TOKEN ?? '' }, privacyGroup: '1234567890' });
 * await syncExchange(store, client, { list: 'te-csam' });
 * ```
 */
export function threatExchange(options: ThreatExchangeOptions): ExchangeClient {
  const o = optionsObject(options, 'options');
  const token = accessToken(o.credentials);
  // A number past 2^53 has lost digits already: only safe integers are taken as numbers.
  const group =
    typeof o.privacyGroup === 'number' && Number.isSafeInteger(o.privacyGroup)
      ? String(o.privacyGroup)
      : o.privacyGroup;
  if (typeof group !== 'string' || !/^\d{1,30}$/.test(group)) {
    invalid(
      'Graph API id (decimal digits)',
      'privacyGroup',
      o.privacyGroup,
      ['string', 'number'].includes(typeof group),
    );
  }
  const environment = o.environment ?? DEFAULT_THREATEXCHANGE_VERSION;
  if (typeof environment !== 'string' || !/^v\d{1,3}\.\d{1,2}$/.test(environment)) {
    invalid('Graph API version (v21.0)', 'environment', environment, typeof environment === 'string');
  }
  const base = baseUrlOf(o.baseUrl, environment);
  let types: readonly string[] = [];
  if (o.types !== undefined) {
    if (!Array.isArray(o.types) || o.types.length === 0)
      invalid('non-empty array of indicator types', 'types', o.types);
    types = [
      ...new Set(
        o.types.map((t: unknown, i) => {
          if (typeof t !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(t))
            invalid('indicator type (HASH_PDQ)', `types[${i}]`, t, typeof t === 'string');
          return t;
        }),
      ),
    ].sort();
  }
  const pageSize =
    o.pageSize === undefined
      ? DEFAULT_THREATEXCHANGE_PAGE_SIZE
      : integerInRange(o.pageSize, 1, MAX_PAGE_SIZE, 'pageSize');
  const origin = new URL(base).origin;
  const basePath = `${new URL(base).pathname.replace(/\/+$/, '')}/`;

  /** A paging link as a checkpoint keeps it: on the API's origin, the token taken out. */
  const storable = (link: string, what: string): string => {
    let url: URL;
    try {
      url = new URL(link, base);
    } catch {
      throw responseError(what, 'paging.next is not a URL');
    }
    if (url.origin !== origin || !url.pathname.startsWith(basePath)) {
      throw responseError(what, `paging.next leads off ${origin}${basePath}; the access token is not sent there`);
    }
    const secret = token.reveal();
    url.searchParams.delete('access_token');
    for (const [key, value] of [...url.searchParams]) if (value.includes(secret)) url.searchParams.delete(key);
    url.username = '';
    url.password = '';
    url.hash = '';
    const href = url.href;
    if (href.includes(secret) || href.includes(encodeURIComponent(secret))) {
      throw responseError(what, 'paging.next holds the access token where it cannot be taken out');
    }
    return href;
  };

  const authorized = (link: string): URL => {
    const url = new URL(link);
    url.searchParams.set('access_token', token.reveal());
    return url;
  };

  const firstLink = (updateTime: number): string => {
    const url = new URL(`${base}/${group}/threat_updates/`);
    url.searchParams.set('fields', UPDATE_FIELDS);
    url.searchParams.set('limit', String(pageSize));
    // pytx sends no start_time on a first fetch: everything the group holds.
    if (updateTime > 0) url.searchParams.set('start_time', String(updateTime));
    if (types.length > 0) url.searchParams.set('types', types.join(','));
    return url.href;
  };

  async function* pages(from: string | undefined, context: ExchangeContext): AsyncGenerator<ExchangePage> {
    const checkpoint = parseCheckpoint(from);
    let link =
      checkpoint.next === undefined
        ? firstLink(checkpoint.updateTime)
        : storable(checkpoint.next, `ThreatExchange checkpoint of privacy group ${group}`);
    let highest = checkpoint.updateTime;
    for (let n = 1; ; n++) {
      context.signal?.throwIfAborted();
      const what = `ThreatExchange threat_updates page ${n} of privacy group ${group}`;
      const response = await context.http.request(authorized(link), { what });
      const page = threatUpdatesPage(parseJsonBody(response, what), context.list, what);
      const next = page.next === undefined ? undefined : storable(page.next, what);
      if (next === link) throw responseError(what, 'paging.next is the page itself');
      // pytx keeps the greatest last_updated seen: the next fetch starts there (start_time is
      // inclusive, so the records of that second come again, the same ids, harmlessly).
      highest = Math.max(highest, page.highest);
      const state: Checkpoint = next === undefined ? { updateTime: highest } : { updateTime: highest, next };
      yield { rows: page.rows, ignored: page.ignored, checkpoint: JSON.stringify(state) };
      if (next === undefined) return;
      link = next;
    }
  }

  async function feedback(opinion: ExchangeFeedback, context: ExchangeContext): Promise<void> {
    const f = optionsObject(opinion, 'feedback');
    const vote = oneOf(f.vote, ['up', 'down'] as const, 'vote');
    const reaction = f.reason === undefined ? REACTIONS[vote][0] : oneOf(f.reason, REACTIONS[vote], 'reason');
    const descriptors = (f.entry?.metadata as { descriptors?: unknown } | undefined)?.descriptors;
    if (
      !Array.isArray(descriptors) ||
      descriptors.length === 0 ||
      !descriptors.every((d) => typeof d === 'string' && /^\d{1,30}$/.test(d))
    ) {
      invalid('entry fetched from ThreatExchange (its metadata.descriptors)', 'entry', f.entry);
    }
    // An opinion of the indicator is one of each descriptor the group shows of it. Each POST is
    // sent once (ExchangeHttp does not retry a POST): a reaction must not count twice.
    for (const id of descriptors as string[]) {
      const what = `ThreatExchange reaction ${reaction} to descriptor ${id}`;
      const response = await context.http.request(authorized(`${base}/${id}/`), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ reactions: reaction }).toString(),
        retry: false,
        what,
      });
      const answer = parseJsonBody(response, what) as { success?: unknown } | null;
      if (answer === null || typeof answer !== 'object' || answer.success !== true) {
        throw new HashwardenError('ERR_EXCHANGE_RESPONSE', `${what}: the answer is not { "success": true }`);
      }
    }
  }

  const where = o.baseUrl === undefined ? environment : base;
  return Object.freeze({
    name: 'threatexchange' as const,
    checkpointKey: `threatexchange:${where}:${group}${types.length > 0 ? `:types=${types.join(',')}` : ''}`,
    pages,
    feedback,
  });
}
