/**
 * The one HTTP client of the hash-sharing connectors: a deadline on every attempt, retries with
 * exponential backoff and jitter for what may pass (429, 5xx, a dropped connection, a timeout),
 * `Retry-After` honoured, a minimum interval between requests (the programmes' rate limits), a
 * bound on what one answer may hold, and errors that never carry a credential (URLs are reported
 * without their query, headers never).
 *
 * Backoff follows python-threatexchange's clients (urllib3 `Retry(total=4, backoff_factor=0.2)`,
 * status 429/500/502/503/504), with the attempts' timeout of theirs (60 s).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HashwardenError } from '../errors.js';
import { integerInRange, invalid, optionsObject } from '../validate.js';

/** Default deadline of one attempt (headers and body): python-threatexchange's clients wait 60 s. */
export const DEFAULT_EXCHANGE_TIMEOUT_MS = 60_000;
/** Default retries after a first failed attempt: the reference clients' `Retry(total=4)`. */
export const DEFAULT_EXCHANGE_RETRIES = 4;
/**
 * Default base of the backoff: attempt n waits about `base × 2^(n-1)` (0.2, 0.4, 0.8, 1.6 s: the
 * reference clients' `backoff_factor=0.2`), with jitter so that a fleet does not retry in step.
 */
export const DEFAULT_EXCHANGE_BACKOFF_MS = 200;
/**
 * Longest wait between attempts, `Retry-After` included: a server asking for more is asked again
 * after this (the attempt still counts), so a sync never sleeps for an hour on one header.
 */
export const MAX_EXCHANGE_BACKOFF_MS = 120_000;
/**
 * Default bound on one answer's body: 256 MiB. An NCMEC page of 1,000 entries with all their
 * fingerprints is under 2 MiB and TAT's whole list about a hundred; a body past this is a fault
 * (or an attack) that would otherwise be held in memory whole.
 */
export const DEFAULT_EXCHANGE_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** Statuses retried with backoff, as the reference clients' `status_forcelist`. */
const RETRIED_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/**
 * Options of {@link ExchangeHttp}, each programme's defaults unless the caller says.
 *
 * @example
 * ```ts
 * const http = new ExchangeHttp({ timeoutMs: 30_000, retries: 6, minIntervalMs: 1_000 });
 * ```
 */
export interface ExchangeHttpOptions {
  /** Deadline of one attempt, headers and body, in ms. Default {@link DEFAULT_EXCHANGE_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Attempts after the first for a retried failure. Default {@link DEFAULT_EXCHANGE_RETRIES}. */
  readonly retries?: number;
  /** Base of the exponential backoff in ms. Default {@link DEFAULT_EXCHANGE_BACKOFF_MS}. */
  readonly backoffMs?: number;
  /** Least time between the starts of two requests, in ms: a rate limit. Default 0. */
  readonly minIntervalMs?: number;
  /** Most bytes of one answer's body. Default {@link DEFAULT_EXCHANGE_MAX_RESPONSE_BYTES}. */
  readonly maxResponseBytes?: number;
  /** Stops waiting, retrying and reading when aborted (the error is the signal's reason). */
  readonly signal?: AbortSignal;
}

/** {@link ExchangeHttpOptions} resolved once. */
export interface ResolvedExchangeHttpOptions {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly backoffMs: number;
  readonly minIntervalMs: number;
  readonly maxResponseBytes: number;
  readonly signal: AbortSignal | undefined;
}

/** One request: a method, headers (credentials among them), a body. */
export interface ExchangeRequest {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /**
   * Retry this request after a failure that may pass. Default: `true` for GET, `false` otherwise
   * (a POST may have been applied before the connection dropped; feedback must not count twice).
   */
  readonly retry?: boolean;
  /** What the request is, for error messages (`NCMEC entries page`). Default: the method and path. */
  readonly what?: string;
}

/** A successful (2xx) answer, its body read whole. */
export interface ExchangeResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  /** The URL answered, after redirects. */
  readonly url: string;
}

/** Checks {@link ExchangeHttpOptions} (TypeError / RangeError) and fills in the defaults. */
export function resolveExchangeHttpOptions(options: ExchangeHttpOptions | undefined): ResolvedExchangeHttpOptions {
  const o = optionsObject(options, 'options');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) invalid('AbortSignal', 'signal', o.signal);
  return Object.freeze({
    timeoutMs:
      (o.timeoutMs === undefined ? undefined : integerInRange(o.timeoutMs, 1, 3_600_000, 'timeoutMs')) ??
      DEFAULT_EXCHANGE_TIMEOUT_MS,
    retries:
      (o.retries === undefined ? undefined : integerInRange(o.retries, 0, 100, 'retries')) ?? DEFAULT_EXCHANGE_RETRIES,
    backoffMs:
      (o.backoffMs === undefined ? undefined : integerInRange(o.backoffMs, 0, MAX_EXCHANGE_BACKOFF_MS, 'backoffMs')) ??
      DEFAULT_EXCHANGE_BACKOFF_MS,
    minIntervalMs:
      (o.minIntervalMs === undefined ? undefined : integerInRange(o.minIntervalMs, 0, 3_600_000, 'minIntervalMs')) ?? 0,
    maxResponseBytes:
      (o.maxResponseBytes === undefined
        ? undefined
        : integerInRange(o.maxResponseBytes, 1, Number.MAX_SAFE_INTEGER, 'maxResponseBytes')) ??
      DEFAULT_EXCHANGE_MAX_RESPONSE_BYTES,
    signal: o.signal,
  });
}

/**
 * A URL as error messages show it: origin and path, never the query (ThreatExchange's access
 * token travels there) nor user information.
 *
 * @example
 * ```ts
 * redactUrl('https://graph.facebook.com/v21.0/123/threat_updates?access_token=…'); // 'https://graph.facebook.com/v21.0/123/threat_updates'
 * ```
 */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date), if it parses. */
function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A failure an attempt met: whether another attempt may do better, and the error if none does. */
interface AttemptFailure {
  readonly retry: boolean;
  readonly error: HashwardenError;
  readonly waitMs?: number;
}

/**
 * The connectors' HTTP client. One per sync: its rate limit spaces that sync's requests.
 *
 * @example
 * ```ts
 * const http = new ExchangeHttp({ timeoutMs: 10_000 });
 * const { body } = await http.request(`${base}/v2/entries?from=…`, { headers: { authorization }, what: 'NCMEC entries page' });
 * ```
 */
export class ExchangeHttp {
  /** The options, resolved once. */
  readonly options: ResolvedExchangeHttpOptions;
  #lastStart = Number.NEGATIVE_INFINITY;
  /** Requests started, retries included (tests and progress read it). */
  requests = 0;

  constructor(options?: ExchangeHttpOptions) {
    this.options = resolveExchangeHttpOptions(options);
  }

  /**
   * Sends `request` to `url` and reads a 2xx answer's body as text, retrying what may pass.
   * Throws `ERR_EXCHANGE_AUTH` (401, 403), `ERR_EXCHANGE_TIMEOUT` (every attempt timed out),
   * `ERR_EXCHANGE_HTTP` (another status, a dropped connection), `ERR_EXCHANGE_RESPONSE` (a body
   * over `maxResponseBytes`); the signal's reason when aborted.
   */
  async request(url: string | URL, request: ExchangeRequest = {}): Promise<ExchangeResponse> {
    const method = request.method ?? 'GET';
    const retry = request.retry ?? method === 'GET';
    const what = request.what ?? `${method} ${redactUrl(url)}`;
    const { retries, backoffMs, signal } = this.options;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      await this.#spaceOut();
      const outcome = await this.#attempt(url, method, request, what);
      if (!('retry' in outcome)) return outcome;
      if (!outcome.retry || !retry || attempt >= retries) throw outcome.error;
      const backoff = backoffMs * 2 ** attempt * (0.5 + Math.random() / 2);
      const wait = Math.min(MAX_EXCHANGE_BACKOFF_MS, Math.max(backoff, outcome.waitMs ?? 0));
      await sleep(wait, undefined, signal === undefined ? undefined : { signal });
    }
  }

  /** Waits until `minIntervalMs` has passed since the previous request started. */
  async #spaceOut(): Promise<void> {
    const wait = this.#lastStart + this.options.minIntervalMs - performance.now();
    if (wait > 0) {
      const { signal } = this.options;
      await sleep(wait, undefined, signal === undefined ? undefined : { signal });
    }
    this.#lastStart = performance.now();
    this.requests++;
  }

  async #attempt(
    url: string | URL,
    method: string,
    request: ExchangeRequest,
    what: string,
  ): Promise<ExchangeResponse | AttemptFailure> {
    const { timeoutMs, maxResponseBytes, signal } = this.options;
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
    const where = redactUrl(url);
    const timedOut = (): AttemptFailure => ({
      retry: true,
      error: new HashwardenError('ERR_EXCHANGE_TIMEOUT', `${what}: ${where} did not answer within ${timeoutMs} ms`),
    });
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: request.headers,
        body: request.body,
        signal: combined,
        redirect: 'follow',
      });
    } catch (error) {
      signal?.throwIfAborted();
      if (deadline.aborted) return timedOut();
      return {
        retry: true,
        error: new HashwardenError('ERR_EXCHANGE_HTTP', `${what}: cannot reach ${where}: ${causeText(error)}`, {
          cause: error,
        }),
      };
    }
    if (response.status < 200 || response.status > 299) {
      // The body may echo the request (and so a credential): not read, not reported.
      await response.body?.cancel().catch(() => undefined);
      // The Graph API (ThreatExchange) answers an expired or revoked token with 400 and an
      // RFC 6750 challenge (`WWW-Authenticate: OAuth "Facebook Platform" "invalid_token" …`).
      const challenge = response.headers.get('www-authenticate') ?? '';
      if (response.status === 401 || response.status === 403 || /\binvalid_token\b/.test(challenge)) {
        return {
          retry: false,
          error: new HashwardenError(
            'ERR_EXCHANGE_AUTH',
            `${what}: ${where} refused the credentials (HTTP ${response.status}): expired, revoked, or for another environment`,
          ),
        };
      }
      return {
        retry: RETRIED_STATUSES.has(response.status),
        waitMs: retryAfterMs(response.headers.get('retry-after'), Date.now()),
        error: new HashwardenError('ERR_EXCHANGE_HTTP', `${what}: ${where} answered HTTP ${response.status}`),
      };
    }
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > maxResponseBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge(what, where, maxResponseBytes);
    }
    try {
      const body = await readBounded(response, maxResponseBytes, what, where);
      return { status: response.status, headers: response.headers, body, url: response.url || String(url) };
    } catch (error) {
      if (error instanceof HashwardenError) throw error;
      signal?.throwIfAborted();
      if (deadline.aborted) return timedOut();
      return {
        retry: true,
        error: new HashwardenError('ERR_EXCHANGE_HTTP', `${what}: ${where} broke off its answer: ${causeText(error)}`, {
          cause: error,
        }),
      };
    }
  }
}

function tooLarge(what: string, where: string, limit: number): HashwardenError {
  return new HashwardenError(
    'ERR_EXCHANGE_RESPONSE',
    `${what}: ${where} sent more than ${limit} bytes (maxResponseBytes); the page was not imported`,
  );
}

/** A fetch failure's reason: undici hides the socket's error in `cause`. */
function causeText(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** The body as UTF-8 text, refused at the chunk that crosses `limit`. */
async function readBounded(response: Response, limit: number, what: string, where: string): Promise<string> {
  if (response.body === null) return '';
  const decoder = new TextDecoder('utf-8');
  const parts: string[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(what, where, limit);
    }
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join('');
}

/**
 * Parses an answer's body as JSON, or `ERR_EXCHANGE_RESPONSE` naming what it was.
 *
 * @example
 * ```ts
 * const page = parseJsonBody(await http.request(url), 'StopNCII fetchHashes page');
 * ```
 */
export function parseJsonBody(response: ExchangeResponse, what: string): unknown {
  try {
    return JSON.parse(response.body);
  } catch (error) {
    throw new HashwardenError(
      'ERR_EXCHANGE_RESPONSE',
      `${what}: ${redactUrl(response.url)} did not answer JSON (${(error as Error).message}); the page was not imported`,
      { cause: error },
    );
  }
}
