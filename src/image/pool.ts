/**
 * The hashing threads: a pool of worker threads (hash-worker.ts), each decoding and hashing whole
 * uploads (`hashRaw`: the decode on libuv's pool as on the calling thread, then PDQ, blockhash,
 * their turned hashes, the border, per frame), so that the calling thread only reads an upload,
 * hands its bytes over and searches the hashes that come back. The upload crosses as its file
 * bytes, copied once; its rasters (4 bytes a pixel, tens of MB for a photo) never cross a thread.
 * The lists stay on the calling thread: they can be gigabytes, a search is microseconds, and
 * sharing them with every thread would cost more than it saves. Internal: the matcher sizes it
 * (`hashThreads`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, HashwardenError, type ErrorCode } from '../errors.js';
import type { HashedBytes } from './hash.js';
import type { ResolvedImageOptions } from './options.js';

/** A message from a hashing thread: the hashes of upload `id`, or why not. */
export type WorkerReply = { readonly id: number } & (
  | { readonly ok: true; readonly hashed: HashedBytes }
  | { readonly ok: false; readonly name: string; readonly code?: string; readonly message: string }
);

/** A message to a hashing thread: one upload's bytes (transferred) and the options to hash it with. */
export interface WorkerRequest {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly options: ResolvedImageOptions;
}

/**
 * Uploads a thread holds at once: 2, so that one decodes (on libuv's pool) while the thread hashes
 * the other's pixels. With 1, a thread sat idle through each of its decodes: the load bench left
 * more of the cores idle and made fewer calls a second (docs/benchmark.md).
 */
const TASKS_PER_THREAD = 2;

/** How to start a hashing thread: the built module beside this one, or the TypeScript source. */
export interface WorkerSource {
  readonly module: URL;
  /** Set when the module is TypeScript: the thread registers tsx's loader first. */
  readonly typescript: boolean;
}

/**
 * Where the hashing thread's module is: `hash-worker.js` beside this one in the package (this code
 * may sit in `dist/image/` or, bundled, in `dist/chunks/`). From source, only when this process
 * runs under tsx (the benches): a thread does not inherit its parent's loader, so it registers it
 * itself. `undefined` otherwise (an application that bundled hashwarden into one file, tests run
 * from source): the uploads are then hashed on the calling thread, as with `hashThreads: 0`.
 */
export function workerSource(): WorkerSource | undefined {
  const here = import.meta.url;
  if (!here.startsWith('file:')) return undefined;
  if (here.endsWith('.ts')) {
    const tsx = process.execArgv.some((arg) => arg.includes('tsx'));
    return tsx ? { module: new URL('./hash-worker.ts', here), typescript: true } : undefined;
  }
  for (const candidate of ['./hash-worker.js', '../image/hash-worker.js']) {
    const url = new URL(candidate, here);
    if (existsSync(fileURLToPath(url))) return { module: url, typescript: false };
  }
  return undefined;
}

/** The hashing thread's error as this thread's: the same class, code and message. */
function rebuild(reply: Extract<WorkerReply, { ok: false }>): Error {
  if (reply.code !== undefined && (ERROR_CODES as readonly string[]).includes(reply.code))
    return new HashwardenError(reply.code as ErrorCode, reply.message);
  if (reply.name === 'TypeError') return new TypeError(reply.message);
  if (reply.name === 'RangeError') return new RangeError(reply.message);
  return new Error(reply.message);
}

/** The error of an upload whose hashing thread failed: not checked. */
function threadError(reason: string, cause: unknown): HashwardenError {
  return new HashwardenError(
    'ERR_HASH_THREAD',
    `A hashing thread ${reason} while it hashed this upload: the upload was not checked; retry it`,
    { cause },
  );
}

/** One upload waiting for, or on, a hashing thread. */
interface Task {
  readonly request: WorkerRequest;
  readonly resolve: (hashed: HashedBytes) => void;
  readonly reject: (error: Error) => void;
}

/** One hashing thread and the uploads it holds, by id. */
interface Slot {
  readonly worker: Worker;
  readonly tasks: Map<number, Task>;
  /** The thread's uncaught error, reported before it exits. */
  error: Error | undefined;
}

/**
 * A pool of at most `size` hashing threads, started when uploads wait for one, each holding at
 * most TASKS_PER_THREAD uploads. A thread holds the process open only while it holds an upload.
 * A thread that dies fails its uploads with `ERR_HASH_THREAD` (never a call left pending) and the
 * next upload starts another.
 */
export class HashPool {
  readonly size: number;
  readonly #source: WorkerSource;
  readonly #slots: Slot[] = [];
  readonly #queue: Task[] = [];
  #nextId = 0;

  constructor(size: number, source: WorkerSource) {
    this.size = size;
    this.#source = source;
  }

  /** Threads running now (started and not exited). */
  get threads(): number {
    return this.#slots.length;
  }

  /**
   * What `hashRaw(bytes, options)` gives, computed on a thread: the upload's bytes are copied
   * once, so the caller keeps its own.
   */
  hash(bytes: Uint8Array, options: ResolvedImageOptions): Promise<HashedBytes> {
    const request: WorkerRequest = { id: this.#nextId++, bytes: new Uint8Array(bytes), options };
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#pump();
    });
  }

  /**
   * Starts the first thread if none runs, without giving it work: called when an upload is
   * planned, so that the thread loads while the upload is read rather than after.
   */
  warm(): void {
    if (this.#slots.length > 0) return;
    try {
      this.#start();
    } catch {
      // Reported, typed, to the upload that needs the thread (#pump tries again then).
    }
  }

  /** Ends every thread; uploads they held fail with `ERR_HASH_THREAD`. */
  async close(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
  }

  /** The thread the next upload goes to: an idle one, else a new one, else the least busy with room. */
  #slot(): Slot | undefined {
    const idle = this.#slots.find((slot) => slot.tasks.size === 0);
    if (idle !== undefined) return idle;
    if (this.#slots.length < this.size) return this.#start();
    let best: Slot | undefined;
    for (const slot of this.#slots)
      if (slot.tasks.size < TASKS_PER_THREAD && (best === undefined || slot.tasks.size < best.tasks.size)) best = slot;
    return best;
  }

  /** Gives waiting uploads to threads with room, starting threads up to `size`. */
  #pump(): void {
    while (this.#queue.length > 0) {
      let slot: Slot | undefined;
      try {
        slot = this.#slot();
      } catch (error) {
        // No thread could start (out of memory, too many threads): the upload fails typed.
        (this.#queue.shift() as Task).reject(threadError(`could not start: ${(error as Error).message}`, error));
        continue;
      }
      if (slot === undefined) return;
      const task = this.#queue.shift() as Task;
      slot.tasks.set(task.request.id, task);
      slot.worker.ref();
      slot.worker.postMessage(task.request, [task.request.bytes.buffer as ArrayBuffer]);
    }
  }

  #start(): Slot {
    const { module, typescript } = this.#source;
    const worker = typescript
      ? new Worker(
          `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(module.href)}); })`,
          { eval: true },
        )
      : new Worker(module);
    const slot: Slot = { worker, tasks: new Map(), error: undefined };
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const task = slot.tasks.get(reply.id);
      slot.tasks.delete(reply.id);
      if (slot.tasks.size === 0) worker.unref();
      if (reply.ok) task?.resolve(reply.hashed);
      else task?.reject(rebuild(reply));
      this.#pump();
    });
    worker.on('error', (error) => {
      slot.error = error;
    });
    worker.on('exit', (exitCode) => {
      this.#slots.splice(this.#slots.indexOf(slot), 1);
      const reason = slot.error === undefined ? `exited with code ${exitCode}` : `failed: ${slot.error.message}`;
      for (const task of slot.tasks.values()) task.reject(threadError(reason, slot.error));
      slot.tasks.clear();
      this.#pump();
    });
    this.#slots.push(slot);
    return slot;
  }
}

/** The pools of this process, one per size: matchers of the same `hashThreads` share threads. */
const pools = new Map<number, HashPool>();

/**
 * The process's pool of `size` hashing threads, or `undefined` for `0` or when the thread's module
 * is not there (hashing then runs on the calling thread).
 */
export function hashPool(size: number): HashPool | undefined {
  if (size === 0) return undefined;
  let pool = pools.get(size);
  if (pool === undefined) {
    const source = workerSource();
    if (source === undefined) return undefined;
    pool = new HashPool(size, source);
    pools.set(size, pool);
  }
  return pool;
}
