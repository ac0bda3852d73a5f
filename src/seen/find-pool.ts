/**
 * The rescan's search threads: the batch kernel run on several cores at once. Each thread searches
 * the calling thread's index of a round's table in place (its memory is shared; sent once, with the
 * entries' hashes for the scan of guarded queries), and each batch's packed
 * queries are split between the threads in contiguous parts; their hits, put back in query order,
 * are what `findMatches` gives on the calling thread, so the events are the same either way.
 * Only tables the kernel searches go to the threads (`usesKernel`); the rest stay on the caller.
 *
 * A thread that fails (it crashed, ran out of memory) fails the pool: the rescan searches on its
 * own thread from then on, the batch in hand included, and finds the same.
 */
import type { Worker } from 'node:worker_threads';
import {
  type BatchSearch,
  type LateRound,
  planBatch,
  plannedEvents,
  type RescanEvent,
  type Round,
  type RoundTable,
  type SeqRow,
  type UploadBatch,
} from './events.js';
import type { SharedBatchIndex } from '../search/batch.js';
import { startThread, threadSource } from '../threads.js';
import { batchIndexOf, type FoundHits, findMatches, usesKernel } from './find.js';

/** A message to a search thread: a table to index, or a part of a batch to search in one. */
export type PoolRequest =
  | {
      readonly type: 'table';
      readonly table: number;
      /** The entries' hashes, 32 bytes each, in the table's order. */
      readonly hashes: Uint8Array;
      /** The calling thread's index of them, searched in place; absent: the thread builds its own. */
      readonly shared: SharedBatchIndex | undefined;
      readonly ofEntry: Uint8Array;
      readonly widest: number;
    }
  | { readonly type: 'find'; readonly job: number; readonly table: number; readonly queries: Uint8Array };

/** A search thread's answer to a `find`: the hits' columns, or why not. */
export type FindReply = { readonly job: number } & (
  | { readonly ok: true; readonly query: Uint32Array; readonly entry: Uint32Array; readonly distance: Uint16Array }
  | { readonly ok: false; readonly message: string }
);

/** A message from a search thread: a table indexed, or a search's answer. */
export type PoolReply = { readonly ready: number } | FindReply;

interface Job {
  readonly worker: Worker;
  readonly resolve: (hits: Extract<FindReply, { ok: true }>) => void;
  readonly reject: (error: Error) => void;
}

/** Search threads for one rescan: {@link FindPool.start}, {@link FindPool.find}, {@link FindPool.close}. */
export class FindPool {
  readonly #workers: Worker[];
  readonly #jobs = new Map<number, Job>();
  /** Searches each thread has in hand: a thread with none does not keep the process alive. */
  readonly #busy = new Map<Worker, number>();
  readonly #tables = new Map<RoundTable, number>();
  /** How many threads have indexed each table, by its number. */
  readonly #indexed: number[] = [];
  #nextJob = 0;
  /** Set when a thread failed: every search from then on is refused, and the caller searches. */
  #failure: Error | undefined;

  private constructor(workers: Worker[]) {
    this.#workers = workers;
    for (const worker of workers) {
      worker.on('message', (reply: PoolReply) => {
        if ('ready' in reply) {
          this.#indexed[reply.ready] = (this.#indexed[reply.ready] ?? 0) + 1;
          return;
        }
        const job = this.#jobs.get(reply.job);
        if (job === undefined) return; // failed already
        this.#jobs.delete(reply.job);
        this.#settle(worker);
        if (reply.ok) job.resolve(reply);
        else job.reject(new Error(`A rescan search thread failed: ${reply.message}`));
      });
      worker.unref();
      worker.on('error', (error) => this.#fail(error));
      worker.on('exit', (code) => this.#fail(new Error(`A rescan search thread exited (code ${code})`)));
    }
  }

  /** `size` search threads, or undefined when they cannot be started here. */
  static start(size: number): FindPool | undefined {
    // find-worker.js beside this module in the package; from source (tsx, vitest), the TypeScript one.
    const source = threadSource(import.meta.url, 'seen', 'find-worker');
    if (source === undefined || size < 1) return undefined;
    const workers: Worker[] = [];
    try {
      for (let k = 0; k < size; k++) workers.push(startThread(source));
    } catch {
      // No thread to be had (a resource limit): the pass searches on its own thread.
      for (const worker of workers) void worker.terminate();
      return undefined;
    }
    return new FindPool(workers);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const job of this.#jobs.values()) {
      this.#settle(job.worker);
      job.reject(this.#failure);
    }
    this.#jobs.clear();
  }

  /** A search of `worker`'s ended: unreferenced when it has none left. */
  #settle(worker: Worker): void {
    const busy = (this.#busy.get(worker) ?? 1) - 1;
    this.#busy.set(worker, busy);
    if (busy === 0) worker.unref();
  }

  /**
   * Whether every thread has indexed `round`'s table, sending it to them the first time: until
   * then the caller searches on its own thread rather than wait (a large table takes seconds).
   * False for good once a thread failed.
   */
  ready(round: RoundTable): boolean {
    return this.#failure === undefined && this.#indexed[this.#tableId(round)] === this.#workers.length;
  }

  /** The number the threads know `round`'s table by, sending it to them the first time. */
  #tableId(round: RoundTable): number {
    let id = this.#tables.get(round);
    if (id !== undefined) return id;
    id = this.#tables.size;
    this.#tables.set(round, id);
    const { table, ofEntry, widest } = round;
    if (table.kind !== 'perceptual') throw new TypeError('Expected a perceptual table');
    const { a, b } = table.linear.planes();
    const hashes = new Uint8Array(32 * table.linear.count);
    for (let i = 0; i < table.linear.count; i++) {
      hashes.set(a.subarray(16 * i, 16 * i + 16), 32 * i);
      hashes.set(b.subarray(16 * i, 16 * i + 16), 32 * i + 16);
    }
    // The threads search the calling thread's index (built here if the pass has not yet), in
    // place: one index, where one each cost its memory again (350 MB at a million entries) and
    // seconds of the threads' time before their first search.
    const shared = batchIndexOf(table).share();
    const request: PoolRequest = { type: 'table', table: id, hashes, shared, ofEntry, widest };
    for (const worker of this.#workers) worker.postMessage(request);
    return id;
  }

  /**
   * `findMatches(round.table, queries, count, round)` on the threads: `round` a table the kernel
   * searches. Rejects when a thread fails (the pool then refuses every later search).
   */
  async find(round: RoundTable, queries: Uint8Array, count: number): Promise<FoundHits> {
    if (this.#failure !== undefined) throw this.#failure;
    const table = this.#tableId(round);
    const width = queries.length / count;
    const size = this.#workers.length;
    const parts = Array.from({ length: size }, (_, k) => [
      Math.floor((count * k) / size),
      Math.floor((count * (k + 1)) / size),
    ]);
    const replies = await Promise.all(
      parts.map(
        ([from, to], k) =>
          new Promise<Extract<FindReply, { ok: true }>>((resolve, reject) => {
            const job = this.#nextJob++;
            const worker = this.#workers[k] as Worker;
            this.#jobs.set(job, { worker, resolve, reject });
            // Referenced while it searches: the process waits for the answer.
            this.#busy.set(worker, (this.#busy.get(worker) ?? 0) + 1);
            worker.ref();
            const part = queries.slice((from as number) * width, (to as number) * width);
            worker.postMessage({ type: 'find', job, table, queries: part } satisfies PoolRequest, [part.buffer]);
          }),
      ),
    );
    const total = replies.reduce((sum, r) => sum + r.query.length, 0);
    const out = { query: new Uint32Array(total), entry: new Uint32Array(total), distance: new Uint16Array(total) };
    let at = 0;
    replies.forEach((reply, k) => {
      const from = (parts[k] as number[])[0] as number;
      for (let h = 0; h < reply.query.length; h++) out.query[at + h] = (reply.query[h] as number) + from;
      out.entry.set(reply.entry, at);
      out.distance.set(reply.distance, at);
      at += reply.query.length;
    });
    return out;
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    this.#failure ??= new Error('The rescan search threads were closed');
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }
}

/**
 * Uploads a pass searches on its own thread before it starts search threads: a thread's start and
 * its index of the round's tables cost tens of milliseconds from the package (more from source,
 * under tsx), which a rescan of fewer uploads would not win back. The threads then start in the
 * background and take over once every one has indexed the tables; the pass does not wait for them.
 */
export const THREADS_FROM = 20_000;

/**
 * A pass's searches: each batch's events, searched on the calling thread or, once the pass has read
 * {@link THREADS_FROM} uploads and the threads are ready, on `workers` search threads (0: never).
 * The events are the same either way.
 */
export class PassSearch {
  readonly #main: Round;
  readonly #late: LateRound | undefined;
  readonly #workers: number;
  readonly #from: number;
  #read = 0;
  #pool: FindPool | undefined;
  #closed = false;
  /** Set once the threads have searched a batch: no more waiting for their messages. */
  #ready = false;
  /** Batches searched on the threads so far. */
  threaded = 0;

  /** `from`: uploads read before the threads start ({@link THREADS_FROM}; tests start them sooner). */
  constructor(main: Round, late: LateRound | undefined, workers: number, from = THREADS_FROM) {
    this.#main = main;
    this.#late = late;
    this.#workers = workers;
    this.#from = from;
  }

  /** The events of `rows` (as `batchEvents` gives them); a failure rejects, never throws. */
  async events(rows: readonly SeqRow[] | UploadBatch): Promise<RescanEvent[]> {
    this.#read += 'details' in rows ? rows.seq.length : rows.length;
    if (this.#pool === undefined && this.#workers > 0 && this.#read >= this.#from)
      this.#pool = FindPool.start(this.#workers);
    if (this.#pool !== undefined && !this.#ready) {
      // The threads' "indexed" messages arrive through the event loop, which a pass that never
      // waits on I/O (its reads are synchronous, its consumer may be too) would not let run.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const batch = planBatch(rows, this.#main, this.#late);
    const here = (s: BatchSearch) => findMatches(s.round.table, s.hashes, s.count, s.round);
    const pool = this.#pool;
    const threaded = batch.searches.filter((s) => usesKernel(s.round.table));
    // Every table asked (not only up to the first unready one), so each is sent to the threads now.
    if (pool === undefined || threaded.length === 0 || !threaded.map((s) => pool.ready(s.round)).every(Boolean))
      return plannedEvents(batch, batch.searches.map(here));
    this.#ready = true;
    let found: FoundHits[];
    try {
      found = await Promise.all(
        batch.searches.map((s) => (usesKernel(s.round.table) ? pool.find(s.round, s.hashes, s.count) : here(s))),
      );
      this.threaded++;
    } catch (error) {
      // Closed: the pass ended (a `break`) with this batch read ahead; nobody takes its events.
      if (this.#closed) throw error;
      // A thread failed (the pool refuses every search from now on): this batch, and the rest, here.
      found = batch.searches.map(here);
    }
    return plannedEvents(batch, found);
  }

  /** Stops the search threads, if any started. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool?.close();
  }
}
