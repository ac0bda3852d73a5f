/**
 * The lists a sidecar serves and how fresh they are: the matcher opened from the source (a
 * followed snapshot, a store re-read on a timer, or the caller's), every check of the source
 * recorded, and readiness derived from them: ready once loaded, stale when no check succeeded
 * within the max age, not ready while draining.
 */
import {
  Matcher,
  type DecisionLog,
  type ErrorCode,
  type ReloadEvent,
  type StormEvent,
  isHashwardenError,
} from '../index.js';
import { notReady } from './hma.js';
import type { ResolvedServerOptions } from './options.js';

/** Readiness as HMA's `/status` and `/readyz` word it (app.py), plus ours for a draining instance. */
export type Readiness = 'READY' | 'INDEX-NOT-LOADED' | 'INDEX-STALE' | 'DRAINING';

/** One check of the source, as the sidecar logs and counts it. */
export type CheckResult =
  | { readonly ok: true; readonly changed: boolean }
  | { readonly ok: false; readonly code: ErrorCode | undefined; readonly error: Error };

/** What the lists tell the sidecar as they happen: each check of the source, each storm raised. */
export interface ListEvents {
  check(result: CheckResult): void;
  storm(event: StormEvent): void;
}

/** The matcher served and the record of its source's checks. */
export class Lists {
  #matcher: Matcher | undefined;
  /** `Date.now()` of the last successful check (the first load included); 0 before it. */
  #lastOk = 0;
  /** Unix seconds at which the lists served were loaded (swapped in). */
  #loadedAt = -1;
  #lastFailed = false;
  #draining = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #options: ResolvedServerOptions;
  readonly #events: ListEvents;
  readonly #decisionLog: DecisionLog | undefined;
  /** Resolves with the matcher once the lists are loaded; rejects when the first load fails. */
  readonly loaded: Promise<Matcher>;

  /** `decisionLog`: the log the matcher opened here records in, when there is one. */
  constructor(options: ResolvedServerOptions, events: ListEvents, decisionLog?: DecisionLog) {
    this.#options = options;
    this.#events = events;
    this.#decisionLog = decisionLog;
    this.loaded = this.#load();
    // The caller decides what a failed first load means (the CLI exits); no unhandled rejection meanwhile.
    this.loaded.catch(() => {});
  }

  async #load(): Promise<Matcher> {
    const { source, matcherOptions, intervalMs, maxBytes } = this.#options;
    const theirs = matcherOptions.onStorm;
    const options = {
      ...matcherOptions,
      image: { ...matcherOptions.image, maxBytes },
      ...(this.#decisionLog === undefined ? {} : { decisionLog: this.#decisionLog }),
      // The sidecar logs and counts each storm, then the caller's own callback hears of it.
      onStorm: (event: StormEvent) => {
        this.#events.storm(event);
        theirs?.(event);
      },
    };
    let matcher: Matcher;
    if (source.kind === 'matcher') matcher = source.matcher;
    else if (source.kind === 'snapshot') {
      matcher = await Matcher.follow(source.source, {
        ...options,
        intervalMs,
        onReload: (event: ReloadEvent) => this.#checked(event.ok ? event : { ...event, ok: false }),
      });
    } else {
      matcher = await Matcher.open(source.path, {
        ...options,
        ...(source.lists === undefined ? {} : { lists: source.lists }),
      });
      this.#timer = setInterval(() => {
        matcher.reload().then(
          (changed) => this.#checked({ ok: true, changed }),
          (error: Error) =>
            this.#checked({ ok: false, code: isHashwardenError(error) ? error.code : undefined, error }),
        );
      }, intervalMs);
      // The timer never keeps a closing process alive.
      this.#timer.unref();
    }
    if (this.#draining && source.kind !== 'matcher') {
      // Closed while loading: the lists opened meanwhile are let go at once.
      await matcher.close();
      throw new Error('The sidecar closed before its lists were loaded');
    }
    this.#matcher = matcher;
    this.#lastOk = Date.now();
    this.#loadedAt = Math.floor(this.#lastOk / 1000);
    return matcher;
  }

  #checked(result: CheckResult): void {
    if (result.ok) {
      this.#lastOk = Date.now();
      if (result.changed) this.#loadedAt = Math.floor(this.#lastOk / 1000);
    }
    this.#lastFailed = !result.ok;
    this.#events.check(result);
  }

  /** The matcher served; HMA's 503 "index not yet ready" while it loads. */
  served(): Matcher {
    const matcher = this.#matcher;
    if (matcher === undefined) throw notReady();
    return matcher;
  }

  /** The matcher served, once loaded. */
  get matcher(): Matcher | undefined {
    return this.#matcher;
  }

  /** Unix seconds at which the lists served were swapped in; -1 before the first load. */
  get loadedAt(): number {
    return this.#loadedAt;
  }

  /** `Date.now()` of the last successful check of the source; 0 before the first load. */
  get lastOk(): number {
    return this.#lastOk;
  }

  /** True when the last check of the source failed (the lists served may be behind it). */
  get lastFailed(): boolean {
    return this.#lastFailed;
  }

  /** Whether the instance should get traffic, and if not why. */
  readiness(now = Date.now()): Readiness {
    if (this.#draining) return 'DRAINING';
    if (this.#matcher === undefined) return 'INDEX-NOT-LOADED';
    const { maxStaleMs, source } = this.#options;
    if (source.kind !== 'matcher' && maxStaleMs > 0 && now - this.#lastOk > maxStaleMs) return 'INDEX-STALE';
    return 'READY';
  }

  /** Readiness turns 503 from now on (shutdown has begun). */
  drain(): void {
    this.#draining = true;
  }

  /**
   * Stops checking the source and closes the matcher the sidecar opened (a followed one's
   * downloads removed); the caller's matcher is left as it is.
   */
  async close(): Promise<void> {
    this.#draining = true;
    clearInterval(this.#timer);
    if (this.#options.source.kind !== 'matcher') await this.#matcher?.close();
  }
}
