/**
 * Tech Against Terrorism's hash list API (TCAP), as python-threatexchange's client speaks it: a
 * token from `token-auth/tcap/` (username and password, as a form), then the list with that
 * token as a Bearer credential. Two versions of the list endpoint:
 *
 * - `v2` (the reference client's current one): `api/hash-list/v2/<ideology>?order=asc&after=…`,
 *   pages of records in update order, each page with the `checkpoint` (`<timestamp>,<id>` of its
 *   last record) to ask for the next; a withdrawn record comes again with `deleted: true`.
 * - `v1` (its earlier one): `api/hash-list/<ideology>` answers where to download the whole list,
 *   published daily: a presigned `file_url` (valid 5 minutes, itself a credential), the file's
 *   name and date. The file is one JSON array of records, imported as the list's whole content.
 *
 * The record → row mapping is the list reader's (src/lists/tat.ts). TAT takes no feedback.
 */
import { HashwardenError } from '../errors.js';
import { normalizeEntry } from '../lists/entry.js';
import { tatRecordRow } from '../lists/tat.js';
import type { ImportRow } from '../store/types.js';
import { invalid, oneOf, optionsObject } from '../validate.js';
import { type CredentialValue, type Secret, toSecret } from './credentials.js';
import { type ExchangeResponse, parseJsonBody, redactUrl } from './http.js';
import type { ExchangeClient, ExchangeContext, ExchangePage } from './types.js';

/** TAT's list as the reference client names it: `islamist`, `far-right` or `all`. */
export type TatIdeology = 'islamist' | 'far-right' | 'all';
/** The ideologies, in the reference client's order. */
export const TAT_IDEOLOGIES: readonly TatIdeology[] = Object.freeze(['islamist', 'far-right', 'all'] as const);
/** The list endpoint's version: `v2` pages with a checkpoint (default), `v1` the daily whole file. */
export type TatApi = 'v2' | 'v1';
/** The list endpoint's versions. */
export const TAT_APIS: readonly TatApi[] = Object.freeze(['v2', 'v1'] as const);
/**
 * TAT's API, as the reference client's `BASE_URL` has it. TAT has no test environment: a
 * stand-in or proxy is reached with `baseUrl`.
 */
export const TAT_BASE_URL = 'https://beta.terrorismanalytics.org/';

/** TAT's credentials: the TCAP account's. */
export interface TatCredentials {
  readonly username: CredentialValue;
  readonly password: CredentialValue;
}

/**
 * Options of {@link tatExchange}.
 *
 * @example
 * ```ts
 * const client = tatExchange({ credentials: await readCredentials('tat', ['username', 'password']), ideology: 'islamist' });
 * ```
 */
export interface TatExchangeOptions {
  readonly credentials: TatCredentials;
  /** Which list: `all` (default), `islamist` or `far-right`. */
  readonly ideology?: TatIdeology;
  /** The list endpoint's version. Default `v2`. */
  readonly api?: TatApi;
  /** TAT's URL ({@link TAT_BASE_URL} by default): http(s), no query, no user information. */
  readonly baseUrl?: string;
}

/**
 * Longest token accepted from the token endpoint: a JWT of TCAP's is a few hundred characters;
 * past this the answer is not a token, and it would travel in every request's header.
 */
const MAX_TOKEN_LENGTH = 8192;
/**
 * Longest v2 page checkpoint (`<timestamp>,<id>`, about 30 characters): it is stored and sent back
 * in a query, so a server's run-away value must not be.
 */
const MAX_CHECKPOINT_LENGTH = 256;
/** Longest file name and date of a v1 list file kept in the checkpoint, for the same reason. */
const MAX_FILE_FIELD_LENGTH = 256;

/** What a checkpoint of this connector holds (JSON): v2 the page's `after`, v1 the file imported. */
type TatState = { readonly after: string } | { readonly file: string; readonly created: string | number };

function responseError(what: string, message: string, cause?: unknown): HashwardenError {
  return new HashwardenError(
    'ERR_EXCHANGE_RESPONSE',
    `${what}: ${message}; the page was not imported`,
    cause === undefined ? undefined : { cause },
  );
}

/** Type of a JSON value, for messages (never the value: a page may hold a credential's echo). */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A bounded string without control characters (it is stored, or sent back in a query). */
function boundedText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value !== '' && value.length <= max && !/[\u0000-\u001f\u007f]/.test(value);
}

/** The base URL, checked: http(s), no credentials, no query; with a final `/` for relative paths. */
function resolveBaseUrl(value: unknown): URL {
  const expected = 'http(s) URL without user information, query or fragment';
  if (typeof value !== 'string') invalid(expected, 'baseUrl', value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    invalid(expected, 'baseUrl', value, true);
  }
  if (
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.username !== '' ||
    url.password !== '' ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    invalid(expected, 'baseUrl', value, true);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** A stored checkpoint read back; a checkpoint of another shape is a caller's mistake. */
function readCheckpoint(from: string | undefined, api: TatApi): TatState | undefined {
  if (from === undefined) return undefined;
  let state: unknown;
  try {
    state = JSON.parse(from);
  } catch {
    state = undefined;
  }
  if (api === 'v2' && isObject(state) && boundedText(state.after, MAX_CHECKPOINT_LENGTH)) return { after: state.after };
  if (
    api === 'v1' &&
    isObject(state) &&
    boundedText(state.file, MAX_FILE_FIELD_LENGTH) &&
    (boundedText(state.created, MAX_FILE_FIELD_LENGTH) || Number.isFinite(state.created))
  ) {
    return { file: state.file, created: state.created as string | number };
  }
  return invalid(`a TAT ${api} checkpoint`, 'from', from, true);
}

/** Rows of a page's records, and how many the list does not take (hash types hashwarden lacks). */
interface MappedRecords {
  readonly rows: ImportRow[];
  readonly ignored: number;
}

/**
 * A page's (or file's) records as rows. `whole`: the records are the list's whole content, so a
 * withdrawn one is left out (the replacement removes it) and counted as ignored instead of
 * becoming a removal. Any record of the wrong shape, or with a hash its algorithm refuses, fails
 * the whole page.
 */
function mapRecords(records: readonly unknown[], list: string, what: string, whole: boolean): MappedRecords {
  const rows: ImportRow[] = [];
  let ignored = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const bad = (message: string): HashwardenError => responseError(what, `record ${i} ${message}`);
    if (!isObject(record)) throw bad(`is ${jsonType(record)}, not an object`);
    if (!Number.isSafeInteger(record.id) || (record.id as number) < 0) throw bad('has no non-negative integer id');
    if (typeof record.hash_digest !== 'string') throw bad('has no hash_digest string');
    if (typeof record.algorithm !== 'string') throw bad('has no algorithm string');
    if (record.deleted !== undefined && typeof record.deleted !== 'boolean')
      throw bad('has a deleted that is not a boolean');
    const row = tatRecordRow(record, list);
    if (row.op === 'remove') {
      if (whole) ignored++;
      else rows.push({ op: 'remove', list, id: row.id as string });
      continue;
    }
    try {
      const ideology =
        typeof record.ideology === 'string' && record.ideology.trim() !== '' ? record.ideology : undefined;
      rows.push({ op: 'add', entry: normalizeEntry({ ...row, label: ideology }) });
    } catch (error) {
      if (error instanceof HashwardenError && error.code === 'ERR_UNKNOWN_ALGORITHM') {
        ignored++;
        continue;
      }
      if (error instanceof HashwardenError) throw bad(`(id ${row.id}): ${error.message}`);
      throw error;
    }
  }
  return { rows, ignored };
}

/** One sync's token: asked for once, renewed once per request when refused (it expired mid-sync). */
class TatSession {
  #token: string | undefined;

  readonly #ask: () => Promise<string>;
  readonly #context: ExchangeContext;

  constructor(ask: () => Promise<string>, context: ExchangeContext) {
    this.#ask = ask;
    this.#context = context;
  }

  /** A GET of TAT's API with the token, renewed once if refused. */
  async get(url: URL, what: string): Promise<ExchangeResponse> {
    for (let renewed = false; ; renewed = true) {
      this.#token ??= await this.#ask();
      try {
        return await this.#context.http.request(url, {
          headers: { authorization: `Bearer ${this.#token}`, accept: 'application/json' },
          what,
        });
      } catch (error) {
        if (renewed || !(error instanceof HashwardenError) || error.code !== 'ERR_EXCHANGE_AUTH') throw error;
        this.#token = undefined;
      }
    }
  }
}

/** The v2 page's fields the sync needs, checked. */
function readPage(body: unknown, what: string): { results: unknown[]; checkpoint: string | undefined; more: boolean } {
  if (!isObject(body)) throw responseError(what, `the answer is ${jsonType(body)}, not an object`);
  if (!Array.isArray(body.results)) throw responseError(what, 'results is not an array');
  if (body.count !== undefined && (!Number.isSafeInteger(body.count) || (body.count as number) < 0)) {
    throw responseError(what, 'count is not a non-negative integer');
  }
  if (body.next !== undefined && body.next !== null && typeof body.next !== 'string') {
    throw responseError(what, `next is ${jsonType(body.next)}`);
  }
  const { checkpoint } = body;
  if (body.results.length > 0 && !boundedText(checkpoint, MAX_CHECKPOINT_LENGTH)) {
    throw responseError(what, `checkpoint is not a string of 1 to ${MAX_CHECKPOINT_LENGTH} printable characters`);
  }
  return {
    results: body.results,
    checkpoint: body.results.length > 0 ? (checkpoint as string) : undefined,
    more: typeof body.next === 'string' && body.next !== '',
  };
}

/** The v1 list answer's fields the sync needs, checked. */
function readFileAnswer(body: unknown, what: string, base: URL): { url: URL; file: string; created: string | number } {
  if (!isObject(body)) throw responseError(what, `the answer is ${jsonType(body)}, not an object`);
  const { file_url: fileUrl, file_name: file, created_on: created, total_hashes: total } = body;
  if (!boundedText(file, MAX_FILE_FIELD_LENGTH)) throw responseError(what, 'file_name is not a short string');
  if (!boundedText(created, MAX_FILE_FIELD_LENGTH) && !Number.isFinite(created)) {
    throw responseError(what, 'created_on is neither a short string nor a number');
  }
  if (total !== undefined && (!Number.isSafeInteger(total) || (total as number) < 0)) {
    throw responseError(what, 'total_hashes is not a non-negative integer');
  }
  let url: URL | undefined;
  try {
    url = typeof fileUrl === 'string' ? new URL(fileUrl) : undefined;
  } catch {
    url = undefined;
  }
  // The list is downloaded over TLS when the API is: a plain-http file URL is only for a stand-in
  // reached over plain http.
  const allowed = base.protocol === 'http:' ? ['https:', 'http:'] : ['https:'];
  if (url === undefined || !allowed.includes(url.protocol) || url.username !== '' || url.password !== '') {
    throw responseError(what, `file_url is not an ${allowed.join(' or ').replaceAll(':', '')} URL`);
  }
  return { url, file: file as string, created: created as string | number };
}

/** The client {@link tatExchange} makes. Credentials in private fields, each a Secret. */
class TatClient implements ExchangeClient {
  readonly name = 'tat' as const;
  readonly checkpointKey: string;
  readonly ideology: TatIdeology;
  readonly api: TatApi;
  readonly baseUrl: string;
  readonly #base: URL;
  readonly #username: Secret;
  readonly #password: Secret;

  constructor(options: TatExchangeOptions) {
    const o = optionsObject(options, 'options');
    const credentials = optionsObject(o.credentials, 'credentials');
    this.#username = toSecret(credentials.username, 'credentials.username');
    this.#password = toSecret(credentials.password, 'credentials.password');
    this.ideology = o.ideology === undefined ? 'all' : oneOf(o.ideology, TAT_IDEOLOGIES, 'ideology');
    this.api = o.api === undefined ? 'v2' : oneOf(o.api, TAT_APIS, 'api');
    this.#base = resolveBaseUrl(o.baseUrl ?? TAT_BASE_URL);
    this.baseUrl = this.#base.href;
    // No environments: the base URL says where the checkpoint belongs.
    this.checkpointKey = `tat:${this.#base.href}:${this.api}:${this.ideology}`;
    Object.freeze(this);
  }

  /** A token from TCAP's token endpoint, for this sync only: never stored, never printed. */
  async #token(context: ExchangeContext): Promise<string> {
    const what = 'TAT token request';
    const form = new URLSearchParams({
      username: this.#username.reveal(),
      password: this.#password.reveal(),
      resend: 'False',
    });
    const response = await context.http.request(new URL('token-auth/tcap/', this.#base), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      // Asking for a token changes nothing on TAT's side: safe to ask again after a 5xx.
      retry: true,
      what,
    });
    const body = parseJsonBody(response, what);
    const token = isObject(body) ? body.token : undefined;
    if (!boundedText(token, MAX_TOKEN_LENGTH)) {
      throw new HashwardenError(
        'ERR_EXCHANGE_RESPONSE',
        `${what}: ${redactUrl(response.url)} answered without a token string of 1 to ${MAX_TOKEN_LENGTH} characters`,
      );
    }
    return token;
  }

  async *pages(from: string | undefined, context: ExchangeContext): AsyncGenerator<ExchangePage> {
    const state = readCheckpoint(from, this.api);
    const session = new TatSession(() => this.#token(context), context);
    if (this.api === 'v1') {
      yield* this.#wholeList(state, session, context);
      return;
    }
    let after = state !== undefined && 'after' in state ? state.after : '';
    for (;;) {
      context.signal?.throwIfAborted();
      const url = new URL(`api/hash-list/v2/${this.ideology}`, this.#base);
      url.searchParams.set('order', 'asc');
      url.searchParams.set('after', after);
      const what = `TAT hash list page after ${after === '' ? 'the start' : JSON.stringify(after)}`;
      const page = readPage(parseJsonBody(await session.get(url, what), what), what);
      if (page.checkpoint === undefined) return;
      if (page.checkpoint === after)
        throw responseError(what, 'its checkpoint is the one asked for: the list would not advance');
      const { rows, ignored } = mapRecords(page.results, context.list, what, false);
      after = page.checkpoint;
      yield { rows, checkpoint: JSON.stringify({ after }), ignored };
      if (!page.more) return;
    }
  }

  /** v1: the list file, whole, unless the checkpoint says this very file was imported. */
  async *#wholeList(
    state: TatState | undefined,
    session: TatSession,
    context: ExchangeContext,
  ): AsyncGenerator<ExchangePage> {
    const what = `TAT hash list (${this.ideology})`;
    const answer = readFileAnswer(
      parseJsonBody(await session.get(new URL(`api/hash-list/${this.ideology}`, this.#base), what), what),
      what,
      this.#base,
    );
    if (state !== undefined && 'file' in state && state.file === answer.file && state.created === answer.created)
      return;
    context.signal?.throwIfAborted();
    const fileWhat = `TAT hash list file ${JSON.stringify(answer.file)}`;
    // No Authorization header: the presigned URL is its own credential (and S3 refuses two).
    const download = await context.http.request(answer.url, {
      headers: { accept: 'application/json' },
      what: fileWhat,
    });
    const records = parseJsonBody(download, fileWhat);
    if (!Array.isArray(records)) throw responseError(fileWhat, `the file holds ${jsonType(records)}, not an array`);
    // The file replaces the list: an empty one (a fault upstream, TAT's list is never empty) would
    // remove every entry, and a false negative lets abuse through.
    if (records.length === 0)
      throw responseError(fileWhat, 'the file holds no records (as the whole list, it would empty it)');
    const { rows, ignored } = mapRecords(records, context.list, fileWhat, true);
    yield { rows, checkpoint: JSON.stringify({ file: answer.file, created: answer.created }), ignored, whole: true };
  }
}

/**
 * A client of Tech Against Terrorism's hash list API for {@link syncExchange}. Each record of the
 * list is one entry: id TAT's record id, algorithm its `algorithm` (MD5, SHA256, PDQ; others are
 * counted as ignored), label its ideology, the other fields metadata; a `deleted` record removes
 * its id. Throws TypeError / RangeError for bad options.
 *
 * @example
 * ```ts
 * const client = tatExchange({ credentials: { username, password }, ideology: 'far-right' });
 * await syncExchange(store, client, { list: 'tat' });
 * ```
 */
export function tatExchange(options: TatExchangeOptions): ExchangeClient {
  return new TatClient(options);
}
