/**
 * Following a snapshot's source for `Matcher.follow`: where it is (a path, or an HTTP(S) URL
 * fetched with `fetch.ts`), what was last seen there, and the timer that polls it. The follower
 * only brings a new snapshot to a local file; the matcher reads and checks it through its one
 * snapshot path and swaps it in (`Matcher.reload`), so every check a snapshot gets when opened it
 * gets when followed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitHashwardenWarning, HashwardenError, type ErrorCode } from '../errors.js';
import { integerInRange, invalid, nonEmptyString, optionsObject } from '../validate.js';
import { displayUrl, fetchSnapshot, type Validators } from './fetch.js';
import { fileSignature } from './state.js';
import type { MatcherList } from './types.js';

/**
 * Default time between two polls of a followed source: 60 s. A list feed changes a few times a day
 * at most; a minute puts a new snapshot on every instance soon after it is published, while a
 * fleet of a thousand instances asks the object store about 17 times a second, mostly answered
 * 304 with no body.
 */
const DEFAULT_FOLLOW_INTERVAL_MS = 60_000;

/**
 * Default limit on one fetch of a followed URL, headers and body: 5 minutes. A snapshot is about
 * 150 bytes an entry, so 10M entries are 1.5 GB: 5 minutes is 40 Mbit/s for that, far below what
 * an instance gets from an object store in its own region, and a server slower than that is
 * abandoned rather than left holding a poll for ever.
 */
const DEFAULT_FOLLOW_TIMEOUT_MS = 300_000;

/**
 * Default cap on a followed snapshot's size: 4 GiB, the largest section the snapshot reader takes
 * (`MAX_SECTION_BYTES`), well above 10M entries. It bounds the disk a misbehaving or hostile
 * server can fill (the body is written to a temporary file) before the reader sees a byte.
 */
const DEFAULT_MAX_SNAPSHOT_BYTES = 2 ** 32;

/**
 * Share of the interval by which each wait is shortened at random (0–20%): a fleet started by one
 * deploy polls in step at first, and independent random waits spread the polls out, while no wait
 * is longer than `intervalMs`, so a new snapshot reaches every instance within one interval.
 */
const FOLLOW_JITTER = 0.2;

/** The longest delay `setTimeout` takes (2^31 − 1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Options of `Matcher.follow`, beside the matcher's own. */
export interface FollowOptions {
  /**
   * Milliseconds between polls, 0 to 2^31 − 1: each wait is this less up to 20% at random, so that
   * a fleet does not poll in step. `0` polls never: call `reload()` when it suits (a serverless
   * function at the start of an invocation). Default 60,000.
   */
  readonly intervalMs?: number;
  /**
   * URL sources: milliseconds one fetch may take, headers and body, 1 to 2^31 − 1; a slower server is
   * abandoned with `ERR_SOURCE_FETCH`. Default 300,000 (5 minutes).
   */
  readonly timeoutMs?: number;
  /** URL sources: the largest snapshot downloaded, in bytes; a larger one is `ERR_SOURCE_FETCH`. Default 4 GiB. */
  readonly maxSnapshotBytes?: number;
  /**
   * URL sources: the directory the download is written into (an owner-only directory is made in
   * it, and removed by `close`). Default: the system's temporary directory.
   */
  readonly cacheDir?: string;
  /** URL sources: headers sent with every request (`authorization` for a private bucket). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Called after every check of the source, by the timer or by `reload()` (not for the first
   * load, whose failure rejects `Matcher.follow`). Without it, a failed check is written as a
   * process warning (`process.emitWarning`), so that it is never silent. An exception it throws is
   * written as a warning too and does not stop the polling.
   */
  readonly onReload?: (event: ReloadEvent) => void;
}

/**
 * One check of a followed source. `ok: true`: the source was read, and `changed` says whether a
 * new snapshot was swapped in (false: unchanged, a 304 or the same file); `lists` are the lists
 * served after the check. `ok: false`: the check failed and the previous lists go on serving;
 * `code` is the error's (`ERR_SOURCE_FETCH`, `ERR_SNAPSHOT_CORRUPT`, …).
 */
export type ReloadEvent =
  | {
      readonly ok: true;
      readonly source: string;
      readonly changed: boolean;
      readonly lists: readonly MatcherList[];
      readonly size: number;
      /** The sequence of the snapshot served after the check (`Matcher.sequence`). */
      readonly sequence: number;
    }
  | { readonly ok: false; readonly source: string; readonly code: ErrorCode | undefined; readonly error: Error };

/** Follow options, validated once. */
export interface ResolvedFollowOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly maxSnapshotBytes: number;
  readonly cacheDir: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly onReload: ((event: ReloadEvent) => void) | undefined;
}

export function resolveFollowOptions(options: FollowOptions | undefined): ResolvedFollowOptions {
  const o = optionsObject(options, 'options');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(optionsObject(o.headers, 'options.headers'))) {
    if (typeof value !== 'string') invalid('string', `options.headers.${name}`, value);
    headers[name.toLowerCase()] = value;
  }
  if (o.onReload !== undefined && typeof o.onReload !== 'function') invalid('function', 'options.onReload', o.onReload);
  return Object.freeze({
    intervalMs:
      o.intervalMs === undefined
        ? DEFAULT_FOLLOW_INTERVAL_MS
        : integerInRange(o.intervalMs, 0, MAX_TIMER_MS, 'options.intervalMs'),
    timeoutMs:
      o.timeoutMs === undefined
        ? DEFAULT_FOLLOW_TIMEOUT_MS
        : integerInRange(o.timeoutMs, 1, MAX_TIMER_MS, 'options.timeoutMs'),
    maxSnapshotBytes:
      o.maxSnapshotBytes === undefined
        ? DEFAULT_MAX_SNAPSHOT_BYTES
        : integerInRange(o.maxSnapshotBytes, 1, Number.MAX_SAFE_INTEGER, 'options.maxSnapshotBytes'),
    cacheDir: o.cacheDir === undefined ? undefined : nonEmptyString(o.cacheDir, 'options.cacheDir', 4096),
    headers: Object.freeze(headers),
    onReload: o.onReload,
  });
}

/** A followed source: a URL to fetch, or a path read in place. */
type Where = { readonly kind: 'url'; readonly url: URL } | { readonly kind: 'path'; readonly path: string };

/** The source argument of `Matcher.follow`, checked: a path, or an `http:`, `https:` or `file:` URL. */
function where(source: unknown): Where {
  const expected = 'path or http(s) URL of a snapshot';
  if (source instanceof URL || (typeof source === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(source))) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      return invalid(expected, 'source', source);
    }
    if (url.protocol === 'file:') return { kind: 'path', path: fileURLToPath(url) };
    if (url.protocol !== 'http:' && url.protocol !== 'https:') invalid(expected, 'source', source);
    return { kind: 'url', url };
  }
  if (typeof source !== 'string' || source.length === 0) invalid(expected, 'source', source);
  return { kind: 'path', path: source };
}

/**
 * A refusal that depends on the snapshot's bytes alone: the same bytes would be refused again, so
 * they are not fetched nor read again until the source changes. Other failures (the network, the
 * disk) may pass, and are retried at the next poll.
 */
function refusesTheBytes(error: unknown): error is HashwardenError {
  return (
    error instanceof HashwardenError && (error.code.startsWith('ERR_SNAPSHOT_') || error.code === 'ERR_NO_ENTRIES')
  );
}

/** What the source held when last looked at, and whether the matcher refused it. */
interface Seen {
  /** The file's identity (a path), or a hash of the body (a URL). */
  readonly identity: string;
  readonly validators: Validators | undefined;
  readonly refused: HashwardenError | undefined;
}

/** The source of a followed matcher and its polling; one check at a time (the matcher's reload is shared). */
export class Follower {
  readonly #where: Where;
  readonly #options: ResolvedFollowOptions;
  /** For messages and events: the path, or the URL without its query (which may hold a credential). */
  readonly source: string;
  #seen: Seen | undefined;
  #dir: Promise<string> | undefined;
  #downloads = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #closing = new AbortController();

  constructor(source: unknown, options: ResolvedFollowOptions) {
    this.#where = where(source);
    this.#options = options;
    this.source = this.#where.kind === 'url' ? displayUrl(this.#where.url) : this.#where.path;
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /**
   * Brings the source's snapshot to a local file and hands its path to `load` (the matcher's
   * snapshot reader), unless it is the one served: undefined then. A snapshot refused before is
   * refused again with the same error, without a second download or read, until the source
   * changes. A downloaded file is removed once `load` has read it, whatever the outcome.
   */
  async next<T>(load: (path: string) => Promise<T>): Promise<T | undefined> {
    if (this.closed) throw this.#closing.signal.reason;
    const where = this.#where;
    let path: string;
    let seen: Omit<Seen, 'refused'>;
    let temporary = false;
    if (where.kind === 'path') {
      // Taken before reading, so a file replaced meanwhile is read again at the next poll.
      const identity = await fileSignature(where.path);
      if (identity === this.#seen?.identity) return this.#again();
      path = where.path;
      seen = { identity, validators: undefined };
    } else {
      const file = join(await this.#directory(), `snapshot-${++this.#downloads}.tmp`);
      const fetched = await fetchSnapshot({
        url: where.url,
        validators: this.#seen?.validators,
        headers: this.#options.headers,
        timeoutMs: this.#options.timeoutMs,
        maxBytes: this.#options.maxSnapshotBytes,
        file,
        signal: this.#closing.signal,
      });
      if (!fetched.changed) {
        // Not modified since nothing: a server (or a cache before it) that cannot be followed.
        if (this.#seen === undefined)
          throw new HashwardenError(
            'ERR_SOURCE_FETCH',
            `${this.source}: the server answered 304 to an unconditional GET`,
          );
        return this.#again();
      }
      if (fetched.digest === this.#seen?.identity) {
        // The same bytes under a new validator (uploaded again): nothing to read.
        await rm(fetched.file, { force: true });
        this.#seen = { ...this.#seen, validators: fetched.validators };
        return this.#again();
      }
      path = fetched.file;
      temporary = true;
      seen = { identity: fetched.digest, validators: fetched.validators };
    }
    try {
      const loaded = await load(path);
      this.#seen = { ...seen, refused: undefined };
      return loaded;
    } catch (error) {
      if (refusesTheBytes(error)) this.#seen = { ...seen, refused: error };
      throw error;
    } finally {
      if (temporary) await rm(path, { force: true });
    }
  }

  /** The source holds what was seen last: nothing new, or the refusal again. */
  #again(): undefined {
    if (this.#seen?.refused !== undefined) throw this.#seen.refused;
    return undefined;
  }

  /** The owner-only directory downloads go to, made on first use. */
  #directory(): Promise<string> {
    this.#dir ??= mkdtemp(join(this.#options.cacheDir ?? tmpdir(), 'hashwarden-follow-')).catch((error: unknown) => {
      this.#dir = undefined;
      throw new HashwardenError(
        'ERR_OUTPUT_WRITE',
        `Cannot make a directory for downloads in ${this.#options.cacheDir ?? tmpdir()}: ${(error as Error).message}`,
        { cause: error },
      );
    });
    return this.#dir;
  }

  /** Reports one check through `onReload`, else a failure as a process warning. */
  report(event: ReloadEvent): void {
    const { onReload } = this.#options;
    if (onReload === undefined) {
      if (!event.ok)
        emitHashwardenWarning(`${this.source}: ${event.error.message}; the previous lists go on serving`, event.code);
      return;
    }
    try {
      onReload(event);
    } catch (error) {
      emitHashwardenWarning(`onReload threw: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /**
   * Polls with `check` (the matcher's reload, which reports) every interval less a random share, one
   * poll at a time; the timer does not keep the process alive.
   */
  start(check: () => Promise<unknown>): void {
    const { intervalMs } = this.#options;
    if (intervalMs === 0 || this.closed) return;
    const schedule = (): void => {
      if (this.closed) return;
      const wait = Math.round(intervalMs * (1 - FOLLOW_JITTER * Math.random()));
      this.#timer = setTimeout(() => {
        check()
          .catch(() => undefined) // reported by the check itself
          .finally(schedule);
      }, wait);
      this.#timer.unref();
    };
    schedule();
  }

  /**
   * Stops polling and aborts a download in progress; once `inFlight` (the check running, if any)
   * has settled, removes the download directory and whatever is in it.
   */
  async close(inFlight: Promise<unknown> | undefined): Promise<void> {
    if (!this.closed)
      this.#closing.abort(
        new HashwardenError('ERR_SOURCE_FETCH', `${this.source}: the matcher was closed and follows it no more`),
      );
    clearTimeout(this.#timer);
    await inFlight?.catch(() => undefined);
    const dir = await this.#dir?.catch(() => undefined);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}
