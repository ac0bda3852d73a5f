/**
 * The sidecar's options (`createServer`), checked and resolved once into a frozen object: where the
 * lists come from, how often they are checked and when they count as stale, the bearer token, the
 * request limits and the hosts URL fetching may reach.
 */
import { DecisionLog, Matcher, type MatcherOptions, type StormEntry } from '../index.js';
import { DEFAULT_MAX_BYTES } from '../image/options.js';
import { boolean, integerInRange, invalid, nonEmptyString, optionsObject } from '../validate.js';

/**
 * Default seconds between two checks of the source (a followed snapshot polled, a store re-read):
 * 60, `Matcher.follow`'s own default. A list feed changes a few times a day at most.
 */
export const DEFAULT_INTERVAL_SECONDS = 60;

/**
 * Default number of check intervals after the last successful check at which the lists count as
 * stale (readiness 503): 3. One or two failed checks (a bucket briefly down, a deploy of the feed)
 * keep the instance serving; a third means the source is gone, and an instance that can no longer
 * learn of new entries is taken out of rotation rather than left answering "no match" for ever.
 */
export const DEFAULT_STALE_INTERVALS = 3;

/**
 * Default bound on requests in hand at once: 256. Every upload in hand holds up to `maxBytes`
 * while it waits for the matcher (whose own `maxQueued` refuses beyond its line); lookups by hash
 * finish within the event-loop turn they arrive in and never pile up. Beyond the bound a request
 * is answered 503 with Retry-After at once, before its body is read.
 */
export const DEFAULT_MAX_IN_FLIGHT = 256;

/**
 * Default limit on one request, headers and body: 60 s, three times the matcher's default image
 * timeout (20 s): an upload that takes longer is a stalled or hostile client holding a slot.
 */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 60;

/**
 * Default limit on one URL fetch (`?url=`), headers and body: 30 s, the timeout HMA gives its own
 * fetch (hashing.py, `requests.get(..., timeout=30)`).
 */
export const DEFAULT_URL_TIMEOUT_SECONDS = 30;

/** Largest number of seconds accepted for an interval or a timeout: a day. */
const MAX_SECONDS = 86_400;

/** Longest token accepted: a bearer token is a random string of a few dozen characters, not a file. */
const MAX_TOKEN_LENGTH = 4096;

/** Options of `createServer`. Exactly one of `snapshot`, `db` and `matcher` gives the lists. */
export interface ServerOptions {
  /**
   * A snapshot to serve: a path or an http(s) URL, followed with `Matcher.follow` (polled every
   * `intervalSeconds`, swapped in whole when it changes, every check `trustedKeys` and
   * `minSequence` of `matcherOptions` asks for).
   */
  readonly snapshot?: string | URL;
  /** A SQLite store to serve (`Matcher.open`), re-read every `intervalSeconds` (`matcher.reload()`). */
  readonly db?: string;
  /** With `db`: only these lists of the store (enabled or not); default every enabled list. */
  readonly lists?: readonly string[];
  /**
   * A matcher the caller made and keeps: served as it is, ready at once. Its freshness is the
   * caller's (the sidecar neither reloads nor closes it, and never calls it stale).
   */
  readonly matcher?: Matcher;
  /**
   * Options of the matcher the sidecar opens from `snapshot` or `db` (`trustedKeys`, `minSequence`,
   * `hashThreads`, `concurrency`, `maxQueued`, thresholds…); `image.maxBytes` is `maxBytes`.
   */
  readonly matcherOptions?: MatcherOptions;
  /** Seconds between two checks of the source, 1 to 86,400. Default 60. */
  readonly intervalSeconds?: number;
  /**
   * Seconds after the last successful check of the source at which readiness turns 503
   * (`INDEX-STALE`), 0 for never, up to 86,400. Default 3 × `intervalSeconds`.
   */
  readonly maxStaleSeconds?: number;
  /**
   * The bearer token every request but the probes (`/healthz`, `/readyz`, `/status`) must carry
   * (`Authorization: Bearer <token>`). Default: none, and then `listen` refuses a host that is not
   * a loopback address unless `allowUnauthenticated`.
   */
  readonly token?: string;
  /** Let `listen` take a non-loopback host without a token. Default `false`. */
  readonly allowUnauthenticated?: boolean;
  /**
   * Largest upload, in bytes (a multipart file part, a fetched URL's body), 1 to 2^31 − 1: also the
   * `image.maxBytes` of the matcher the sidecar opens. Default 50 MiB, `hashImage`'s.
   */
  readonly maxBytes?: number;
  /** Requests in hand at once, 1 to 65,536; beyond them 503 with Retry-After. Default 256. */
  readonly maxInFlight?: number;
  /**
   * Seconds `close()` keeps serving with readiness 503 (`DRAINING`) before it stops taking
   * connections, 0 to 86,400: for load balancers that poll readiness to stop sending first. Default 0.
   */
  readonly drainSeconds?: number;
  /** Seconds one request may take, headers and body, 1 to 86,400. Default 60. */
  readonly requestTimeoutSeconds?: number;
  /**
   * Hosts `?url=` may fetch from (exact host names, as in the URL); every redirect must stay on
   * them. Default none: URL fetching is off (403).
   */
  readonly allowUrlHosts?: readonly string[];
  /** Seconds one URL fetch may take, headers and body, 1 to 86,400. Default 30. */
  readonly urlTimeoutSeconds?: number;
  /**
   * Fastify's logger: `false` for none, `true` for JSON lines on standard output at `info`, or
   * `{ level, stream }`. Default `true`. Upload bytes and the token are never logged.
   */
  readonly logger?: boolean | { readonly level?: string; readonly stream?: { write(line: string): void } };
  /**
   * The decision log of the matcher the sidecar opens: a directory, opened with `DecisionLog.open`
   * and closed (synced) by `close()`, its write errors logged (`event: "decision-log-error"`); or a
   * `DecisionLog` the caller opened and closes after `close()`. Every upload the matcher checks is
   * recorded (HMA's API carries no content id: records have none), and every storm raised and
   * released. One process per log: give each process its own. Not with `matcher` (it has its own).
   */
  readonly decisionLog?: string | DecisionLog;
  /**
   * How `POST /storms/release` applies an operator's release: default `Sidecar.releaseStorm`, this
   * process's matcher. `hashwarden serve --workers` gives one that sends it to every worker. Resolves
   * to the processes asked and those in which the entry was in storm and is now released.
   */
  readonly releaseStorm?: (target: StormEntry) => Promise<StormRelease>;
  /** The number of the worker this sidecar is (`hashwarden serve --workers`), named by `GET /storms`. */
  readonly worker?: number;
}

/** What a release of a storm came to: processes asked, and those in which the storm was there and is released. */
export interface StormRelease {
  readonly processes: number;
  readonly released: number;
}

/** Where the lists come from, resolved. */
export type ServerSource =
  | { readonly kind: 'snapshot'; readonly source: string | URL }
  | { readonly kind: 'db'; readonly path: string; readonly lists: readonly string[] | undefined }
  | { readonly kind: 'matcher'; readonly matcher: Matcher };

/** `ServerOptions`, checked once. */
export interface ResolvedServerOptions {
  readonly source: ServerSource;
  readonly matcherOptions: MatcherOptions;
  readonly intervalMs: number;
  /** 0: never stale. */
  readonly maxStaleMs: number;
  /** `Bearer <token>` as bytes, for one constant-time compare a request. */
  readonly authorization: Buffer | undefined;
  readonly allowUnauthenticated: boolean;
  readonly maxBytes: number;
  readonly maxInFlight: number;
  readonly requestTimeoutMs: number;
  readonly drainMs: number;
  readonly allowUrlHosts: ReadonlySet<string>;
  readonly urlTimeoutMs: number;
  readonly logger: NonNullable<ServerOptions['logger']>;
  readonly decisionLog: string | DecisionLog | undefined;
  readonly releaseStorm: ServerOptions['releaseStorm'];
  readonly worker: number | undefined;
}

function seconds(value: unknown, min: number, name: string, fallback: number): number {
  return value === undefined ? fallback : integerInRange(value, min, MAX_SECONDS, name);
}

function source(o: Partial<ServerOptions>): ServerSource {
  const given = (['snapshot', 'db', 'matcher'] as const).filter((key) => o[key] !== undefined);
  if (given.length !== 1)
    invalid('exactly one of snapshot, db and matcher', 'options', given.length === 0 ? 'none' : given.join(' and '));
  if (o.lists !== undefined && o.db === undefined) invalid('no lists option without db', 'options.lists', o.lists);
  if (o.matcher !== undefined) {
    if (!(o.matcher instanceof Matcher)) invalid('Matcher', 'options.matcher', o.matcher);
    if (o.matcherOptions !== undefined)
      invalid('no matcherOptions with a matcher (it has its own)', 'options.matcherOptions', o.matcherOptions);
    return { kind: 'matcher', matcher: o.matcher };
  }
  if (o.snapshot !== undefined) {
    if (!(o.snapshot instanceof URL)) nonEmptyString(o.snapshot, 'options.snapshot', 4096);
    return { kind: 'snapshot', source: o.snapshot };
  }
  const lists = o.lists;
  if (lists !== undefined && (!Array.isArray(lists) || lists.some((l) => typeof l !== 'string')))
    invalid('array of list names', 'options.lists', lists);
  return {
    kind: 'db',
    path: nonEmptyString(o.db, 'options.db', 4096),
    lists: lists === undefined ? undefined : Object.freeze([...lists]),
  };
}

/** A host name as URLs give it (`URL.hostname`: lower case, IPv6 in brackets). */
function urlHost(host: unknown, name: string): string {
  const text = nonEmptyString(host, name, 255);
  let parsed: URL;
  try {
    parsed = new URL(`http://${text.includes(':') && !text.startsWith('[') ? `[${text}]` : text}/`);
  } catch {
    return invalid('host name', name, host);
  }
  if (parsed.port !== '' || parsed.username !== '' || parsed.pathname !== '/') invalid('host name', name, host);
  return parsed.hostname;
}

function decisionLog(o: Partial<ServerOptions>): string | DecisionLog | undefined {
  const log = o.decisionLog;
  if (log === undefined) return undefined;
  if (o.matcher !== undefined) invalid('no decisionLog with a matcher (it has its own)', 'options.decisionLog', log);
  if (o.matcherOptions?.decisionLog !== undefined)
    invalid('one of decisionLog and matcherOptions.decisionLog', 'options.decisionLog', log);
  return log instanceof DecisionLog ? log : nonEmptyString(log, 'options.decisionLog', 4096);
}

/** Checks `options` once: TypeError or RangeError in the standard shape for a bad one. */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  const o = optionsObject(options, 'options');
  const intervalSeconds = seconds(o.intervalSeconds, 1, 'options.intervalSeconds', DEFAULT_INTERVAL_SECONDS);
  const maxStaleSeconds = seconds(
    o.maxStaleSeconds,
    0,
    'options.maxStaleSeconds',
    Math.min(MAX_SECONDS, DEFAULT_STALE_INTERVALS * intervalSeconds),
  );
  const token = o.token === undefined ? undefined : nonEmptyString(o.token, 'options.token', MAX_TOKEN_LENGTH);
  // A token is sent in a header: a character a header cannot carry would never match.
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token))
    invalid('token of visible ASCII characters', 'options.token', '(hidden)');
  const hosts = o.allowUrlHosts ?? [];
  if (!Array.isArray(hosts)) invalid('array of host names', 'options.allowUrlHosts', hosts);
  const onStorm = (o.matcherOptions as MatcherOptions | undefined)?.onStorm;
  if (onStorm !== undefined && typeof onStorm !== 'function')
    invalid('function', 'options.matcherOptions.onStorm', onStorm);
  const logger = o.logger ?? true;
  if (typeof logger !== 'boolean') optionsObject(logger, 'options.logger');
  return Object.freeze({
    source: source(o),
    matcherOptions: Object.freeze({ ...optionsObject(o.matcherOptions, 'options.matcherOptions') }),
    intervalMs: intervalSeconds * 1000,
    maxStaleMs: maxStaleSeconds * 1000,
    authorization: token === undefined ? undefined : Buffer.from(`Bearer ${token}`, 'latin1'),
    allowUnauthenticated:
      o.allowUnauthenticated === undefined ? false : boolean(o.allowUnauthenticated, 'options.allowUnauthenticated'),
    maxBytes:
      o.maxBytes === undefined ? DEFAULT_MAX_BYTES : integerInRange(o.maxBytes, 1, 2 ** 31 - 1, 'options.maxBytes'),
    maxInFlight:
      o.maxInFlight === undefined
        ? DEFAULT_MAX_IN_FLIGHT
        : integerInRange(o.maxInFlight, 1, 65_536, 'options.maxInFlight'),
    requestTimeoutMs:
      seconds(o.requestTimeoutSeconds, 1, 'options.requestTimeoutSeconds', DEFAULT_REQUEST_TIMEOUT_SECONDS) * 1000,
    drainMs: seconds(o.drainSeconds, 0, 'options.drainSeconds', 0) * 1000,
    allowUrlHosts: new Set(hosts.map((h, i) => urlHost(h, `options.allowUrlHosts[${i}]`))),
    urlTimeoutMs: seconds(o.urlTimeoutSeconds, 1, 'options.urlTimeoutSeconds', DEFAULT_URL_TIMEOUT_SECONDS) * 1000,
    logger,
    decisionLog: decisionLog(o),
    releaseStorm:
      o.releaseStorm === undefined || typeof o.releaseStorm === 'function'
        ? o.releaseStorm
        : invalid('function', 'options.releaseStorm', o.releaseStorm),
    worker: o.worker === undefined ? undefined : integerInRange(o.worker, 1, 65_536, 'options.worker'),
  });
}

/** True for a host that only this machine can reach: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}
