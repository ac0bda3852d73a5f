/**
 * A sync: a programme's pages into one list of a store, resumable. Each batch of pages is one
 * transaction holding its rows and the checkpoint of its last page, so after a crash, a 500 that
 * outlasts the retries, or a malformed page, the next sync starts exactly after the last page
 * committed: nothing lost, nothing applied twice. The pages a failure interrupts are not yielded
 * (a connector yields a page only once it parsed whole), so a failure commits the pages before it.
 */
import { MAX_FIELD_LENGTH } from '../lists/entry.js';
import type { HashStore } from '../store/store.js';
import type { ImportRow, ImportSummary } from '../store/types.js';
import { boolean, integerInRange, invalid, nonEmptyString, optionsObject } from '../validate.js';
import { ExchangeHttp, type ExchangeHttpOptions } from './http.js';
import type { ExchangeClient, ExchangeContext, ExchangePage } from './types.js';

/**
 * Default rows per transaction: 10,000. Large enough that a full sync of a million-entry list is a
 * hundred commits (each an fsync and a list version), small enough that a failure re-fetches at
 * most a few pages' worth and the folded batch stays a few megabytes.
 */
export const DEFAULT_SYNC_BATCH_ROWS = 10_000;

/**
 * Options of {@link syncExchange}.
 *
 * @example
 * ```ts
 * const options: SyncOptions = { list: 'ncmec', http: { timeoutMs: 30_000 }, onProgress: (p) => log(p.pages) };
 * ```
 */
export interface SyncOptions {
  /** The store list the programme's entries go into (created by the first commit). */
  readonly list: string;
  /** The HTTP client's options (timeouts, retries, rate limit). Default: its defaults. */
  readonly http?: ExchangeHttpOptions;
  /** Rows per transaction (a page is never split). Default {@link DEFAULT_SYNC_BATCH_ROWS}. */
  readonly batchRows?: number;
  /** Stops the sync between requests; the pages fetched whole before are committed. */
  readonly signal?: AbortSignal;
  /** Called after each commit. Default: none. */
  readonly onProgress?: (progress: SyncProgress) => void;
  /**
   * Start from the programme's beginning instead of the stored checkpoint (after a list was
   * emptied by hand, or to re-read everything). Default `false`.
   */
  readonly restart?: boolean;
}

/** How far a sync is, after a commit. */
export interface SyncProgress {
  readonly pages: number;
  readonly commits: number;
  /** Rows committed so far (after folding repeats of one id). */
  readonly rows: number;
  readonly checkpoint: string | undefined;
}

/**
 * What {@link syncExchange} did.
 *
 * @example
 * ```ts
 * const r = await syncExchange(store, client, { list: 'ncmec' });
 * console.log(`${r.pages} pages: +${r.added} ~${r.updated} -${r.removed}, ${r.ignored} ignored`);
 * ```
 */
export interface SyncResult {
  readonly list: string;
  /** The checkpoint the sync started from (`undefined`: the programme's beginning). */
  readonly from: string | undefined;
  /** The checkpoint stored at the end (the same as `from` when no page came). */
  readonly checkpoint: string | undefined;
  readonly pages: number;
  /** Transactions committed (each bumps the list's version). */
  readonly commits: number;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly removed: number;
  /** Records the list did not take (hash types hashwarden lacks, negative classes…). */
  readonly ignored: number;
  /** HTTP requests made, retries included. */
  readonly requests: number;
}

/** {@link SyncOptions} resolved once. */
interface ResolvedSync {
  readonly list: string;
  readonly batchRows: number;
  readonly restart: boolean;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: ((progress: SyncProgress) => void) | undefined;
}

function resolveSync(options: SyncOptions): ResolvedSync {
  const o = optionsObject(options, 'options');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') invalid('function', 'onProgress', o.onProgress);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) invalid('AbortSignal', 'signal', o.signal);
  return Object.freeze({
    list: nonEmptyString(o.list, 'list', MAX_FIELD_LENGTH).trim(),
    batchRows:
      o.batchRows === undefined ? DEFAULT_SYNC_BATCH_ROWS : integerInRange(o.batchRows, 1, 10_000_000, 'batchRows'),
    restart: o.restart === undefined ? false : boolean(o.restart, 'restart'),
    signal: o.signal,
    onProgress: o.onProgress,
  });
}

/**
 * The store key of a client's checkpoint for one list: the client's key (programme, environment,
 * filters) and the list, so neither another environment nor another list resumes from it.
 *
 * @example
 * ```ts
 * store.checkpoint(syncCheckpointKey(client, 'ncmec'));
 * ```
 */
export function syncCheckpointKey(client: ExchangeClient, list: string): string {
  return `${client.checkpointKey}|${list}`;
}

/** Rows waiting for their commit, one per (list, id): a later row about an id replaces an earlier. */
class Batch {
  readonly #rows = new Map<string, ImportRow>();
  checkpoint: string | undefined;

  get size(): number {
    return this.#rows.size;
  }

  add(rows: readonly ImportRow[], list: string): void {
    for (const row of rows) {
      const rowList = row.op === 'add' ? row.entry.list : row.list;
      if (rowList !== list) {
        throw new TypeError(
          `A connector gave a row of list ${JSON.stringify(rowList)} to a sync of ${JSON.stringify(list)}`,
        );
      }
      const id = row.op === 'add' ? row.entry.id : row.id;
      this.#rows.delete(id);
      this.#rows.set(id, row);
    }
  }

  take(): ImportRow[] {
    const rows = [...this.#rows.values()];
    this.#rows.clear();
    return rows;
  }
}

/**
 * Syncs one list of `store` from a programme: resumes from the checkpoint stored for this client
 * and list (unless `restart`), applies each page's adds and removals, and stores each batch of
 * pages with its last checkpoint in one transaction. A page marked `whole` replaces the list.
 *
 * A failure (`ERR_EXCHANGE_*`, the signal's reason, a store error) is thrown after the pages
 * fetched whole before it are committed; the next sync resumes after them. Removals may empty the
 * list (the programme withdrew everything); a `whole` page may not (an empty download is refused
 * as `ERR_LIST_FORMAT`, as `importRows` refuses a replace that empties a list).
 *
 * @example
 * ```ts
 * const client = ncmecExchange({ credentials: await readCredentials('ncmec', ['username', 'password']) });
 * const result = await syncExchange(store, client, { list: 'ncmec' });
 * ```
 */
export async function syncExchange(
  store: HashStore,
  client: ExchangeClient,
  options: SyncOptions,
): Promise<SyncResult> {
  const s = store as Partial<HashStore> | null;
  if (s === null || typeof s !== 'object' || typeof s.checkpoint !== 'function' || typeof s.importRows !== 'function') {
    invalid('HashStore', 'store', store);
  }
  if (client === null || typeof client !== 'object' || typeof client.pages !== 'function') {
    invalid('ExchangeClient', 'client', client);
  }
  const resolved = resolveSync(options);
  const http = new ExchangeHttp({
    ...options.http,
    ...(resolved.signal === undefined ? {} : { signal: resolved.signal }),
  });
  const { list } = resolved;
  const key = syncCheckpointKey(client, list);
  const from = resolved.restart ? undefined : store.checkpoint(key);
  const source = `${client.name} sync (${client.checkpointKey})`;
  const context: ExchangeContext = {
    list,
    http,
    ...(resolved.signal === undefined ? {} : { signal: resolved.signal }),
  };
  const totals = { added: 0, updated: 0, unchanged: 0, removed: 0 };
  let pages = 0;
  let commits = 0;
  let rows = 0;
  let ignored = 0;
  let checkpoint = from;
  const batch = new Batch();

  const commit = async (committed: ImportRow[], value: string, whole: boolean): Promise<void> => {
    const { summaries } = await store.importRows([{ rows: committed }], {
      source,
      checkpoint: { key, value },
      ...(whole ? { replace: [list] } : { allowEmpty: true }),
    });
    for (const s of summaries as readonly ImportSummary[]) {
      totals.added += s.added;
      totals.updated += s.updated;
      totals.unchanged += s.unchanged;
      totals.removed += s.removed;
    }
    commits++;
    rows += committed.length;
    checkpoint = value;
    resolved.onProgress?.({ pages, commits, rows, checkpoint });
  };
  const flush = async (): Promise<void> => {
    if (batch.checkpoint !== undefined && (batch.size > 0 || batch.checkpoint !== checkpoint)) {
      await commit(batch.take(), batch.checkpoint, false);
    }
    batch.checkpoint = undefined;
  };

  try {
    for await (const page of client.pages(from, context) as AsyncIterable<ExchangePage>) {
      checkPage(page);
      pages++;
      ignored += page.ignored ?? 0;
      if (page.whole === true) {
        await flush();
        const whole = new Batch();
        whole.add(page.rows, list);
        await commit(whole.take(), page.checkpoint, true);
        continue;
      }
      batch.add(page.rows, list);
      batch.checkpoint = page.checkpoint;
      if (batch.size >= resolved.batchRows) await flush();
    }
  } catch (error) {
    // The pages yielded before the failure parsed whole: keep them, then report the failure.
    await flush();
    throw error;
  }
  await flush();
  return Object.freeze({ list, from, checkpoint, pages, commits, ...totals, ignored, requests: http.requests });
}

/** A page as the connector contract has it, or a TypeError (a connector's bug, not the network's). */
function checkPage(page: ExchangePage): void {
  if (page === null || typeof page !== 'object' || !Array.isArray(page.rows) || typeof page.checkpoint !== 'string') {
    throw new TypeError('A connector yielded a page without rows and a checkpoint string');
  }
  if (page.ignored !== undefined && !(Number.isSafeInteger(page.ignored) && page.ignored >= 0)) {
    throw new TypeError('A connector yielded a page whose ignored count is not a non-negative integer');
  }
}
