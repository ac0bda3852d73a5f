/**
 * What every hash-sharing connector shares: the pages a programme's API gives, the checkpoint that
 * lets a sync resume, and the feedback some programmes take. Types and names only; the HTTP client is
 * http.ts, the sync loop sync.ts, each programme a file of its own.
 */
import type { ListEntry } from '../lists/entry.js';
import type { ImportRow } from '../store/types.js';
import type { ExchangeHttp } from './http.js';

/** The hash-sharing programmes hashwarden fetches from. */
export type ExchangeName = 'ncmec' | 'stopncii' | 'threatexchange' | 'tat';

/**
 * The programmes' names, as `hashwarden fetch` takes them.
 *
 * @example
 * ```ts
 * EXCHANGE_NAMES.includes(argument as ExchangeName);
 * ```
 */
export const EXCHANGE_NAMES: readonly ExchangeName[] = Object.freeze([
  'ncmec',
  'stopncii',
  'threatexchange',
  'tat',
] as const);

/**
 * One page of a programme's answer, turned into rows of the list being synced: adds (entries
 * whose `list` is the synced list) and removals (the programme's deletions and withdrawals).
 *
 * @example
 * ```ts
 * yield { rows, checkpoint: JSON.stringify({ next: url }), ignored: 2 };
 * ```
 */
export interface ExchangePage {
  /** The page's rows, in the programme's order: a later row about the same id wins. */
  readonly rows: readonly ImportRow[];
  /**
   * Where to resume after this page (opaque text, JSON by convention): given back as `from` to
   * {@link ExchangeClient.pages}, it fetches the pages after this one and none before. Stored in
   * the same transaction as the page's rows, so that a crash can neither lose nor repeat a page.
   */
  readonly checkpoint: string;
  /**
   * Records of the page the list does not take: a hash type hashwarden does not have (PhotoDNA,
   * TMK), a negative class, a record without a hash. Counted in the sync's result, not imported.
   */
  readonly ignored?: number;
  /**
   * The page is the list's whole content, not a change to it (a programme that publishes its list
   * whole, as TAT does): the sync replaces the list with it, removing every entry it does not hold.
   * Such a page is committed alone. Default `false`.
   */
  readonly whole?: boolean;
}

/** What a connector's calls get from the sync: the list it fills and the one HTTP client. */
export interface ExchangeContext {
  /** The store list the rows belong to (each add's `entry.list`, each removal's `list`). */
  readonly list: string;
  readonly http: ExchangeHttp;
  /** Aborted when the caller stops the sync: stop between requests. */
  readonly signal?: AbortSignal;
}

/** An opinion on one entry, for the programmes that take feedback. */
export interface ExchangeFeedback {
  /** The entry as the store holds it (its id and metadata carry the programme's own ids). */
  readonly entry: ListEntry;
  /** `up`: the entry is what the programme says; `down`: it is not (a false positive). */
  readonly vote: 'up' | 'down';
  /** Why, in words or as one of the programme's reason codes. Required by some programmes for `down`. */
  readonly reason?: string;
}

/**
 * A hash-sharing programme's client, as {@link syncExchange} drives it. Each programme's factory
 * (`ncmecExchange`, …) makes one from its credentials and options.
 *
 * @example
 * ```ts
 * for await (const page of client.pages(undefined, context)) console.log(page.rows.length, page.checkpoint);
 * ```
 */
export interface ExchangeClient {
  readonly name: ExchangeName;
  /**
   * What a checkpoint is valid for: the programme, its environment and the filters that change
   * which records the pages hold (`ncmec:test_Industry:members=…`). A sync stores its checkpoint
   * under this key and the list's name, so that a checkpoint is never resumed against another
   * environment or with other filters.
   */
  readonly checkpointKey: string;
  /**
   * The pages after `from` (a page's `checkpoint`; `undefined`: from the programme's beginning),
   * fetched one at a time as the caller asks for them. A malformed answer throws
   * `ERR_EXCHANGE_RESPONSE` before its page is yielded.
   */
  pages(from: string | undefined, context: ExchangeContext): AsyncIterable<ExchangePage>;
  /** Sends feedback on one entry, where the programme takes it (absent otherwise). */
  feedback?(feedback: ExchangeFeedback, context: ExchangeContext): Promise<void>;
}
