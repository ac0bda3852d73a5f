/**
 * The hashing threads: a pool of worker threads (hash-worker.ts) doing the pixel maths of uploads
 * (pixels.ts: PDQ, blockhash, their turned hashes, the border, per frame) so that the calling
 * thread only reads, decodes (sharp, on libuv's pool, as before) and searches. The lists stay on
 * the calling thread: they can be gigabytes, a search is microseconds, and sharing them with every
 * thread would cost more than it saves. Internal: the matcher sizes it (`hashThreads`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, HashwardenError, type ErrorCode } from '../errors.js';
import type { DecodedHashes, DecodedPixels, PixelOptions } from './pixels.js';

/** A message from a hashing thread: the hashes of the image it was given, or why not. */
export type WorkerReply = (
  | { readonly ok: true; readonly hashes: DecodedHashes }
  | { readonly ok: false; readonly name: string; readonly code?: string; readonly message: string }
) & {
  /** The request's raster buffers, handed back for the next upload's rasters. */
  readonly buffers: readonly ArrayBuffer[];
};

/** A message to a hashing thread: one decoded image and the options to hash it with. */
export interface WorkerRequest {
  readonly image: DecodedPixels;
  readonly options: PixelOptions;
  /** The buffers the rasters of `image` are in, transferred: the thread hands them back. */
  readonly buffers: readonly ArrayBuffer[];
}

/**
 * Largest raster buffer the pool keeps for reuse: 64 MiB, the raster of a 16-megapixel image, above
 * a 12-megapixel phone photo. Fresh memory costs far more to fill than memory filled before (the
 * system maps and faults it in page by page), so buffers handed back are kept for the next
 * uploads; a larger raster is rare, and holding hundreds of MB idle for it is not worth it.
 */
const SPARE_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Buffers kept for reuse per thread: 2, one for the upload a thread hashes and one for the upload
 * being decoded for it meanwhile. With one, every other upload of a busy pool found none; at most
 * 2 × `SPARE_MAX_BYTES` a thread stays held while the pool is idle.
 */
const SPARES_PER_THREAD = 2;

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
  readonly resolve: (hashes: DecodedHashes) => void;
  readonly reject: (error: Error) => void;
}

/** One hashing thread and the upload it is hashing, if any. */
interface Slot {
  readonly worker: Worker;
  task: Task | undefined;
  /** The thread's uncaught error, reported before it exits. */
  error: Error | undefined;
}

/**
 * A pool of at most `size` hashing threads, started when uploads wait for one, each hashing one
 * upload at a time. A thread holds the process open only while it hashes. A thread that dies
 * fails its upload with `ERR_HASH_THREAD` (never a call left pending) and the next upload
 * starts another.
 */
export class HashPool {
  readonly size: number;
  readonly #source: WorkerSource;
  readonly #slots: Slot[] = [];
  readonly #queue: Task[] = [];
  /** Raster buffers handed back by the threads, for the next uploads, the largest first. */
  readonly #spare: ArrayBuffer[] = [];

  constructor(size: number, source: WorkerSource) {
    this.size = size;
    this.#source = source;
  }

  /** Threads running now (started and not exited). */
  get threads(): number {
    return this.#slots.length;
  }

  /**
   * The hashes `hashDecoded` gives for `image`, computed on a thread. The image's rasters are
   * copied once and handed over, so the caller may drop them.
   */
  hash(image: DecodedPixels, options: PixelOptions): Promise<DecodedHashes> {
    const request = this.#moved(image, options);
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#pump();
    });
  }

  /**
   * The request for `image`: each raster copied once into a buffer the thread takes over. sharp's
   * buffers are allocated outside V8 and cannot be transferred (a transfer list ignores them and
   * the message would copy them on each side), so the calling thread copies each raster, into a
   * buffer a thread handed back when one is large enough. An animation's frames share one buffer
   * and are copied as one.
   */
  #moved(image: DecodedPixels, options: PixelOptions): WorkerRequest {
    const copies = new Map<ArrayBufferLike, Uint8Array>();
    const own = (data: Uint8Array | Uint8ClampedArray): Uint8Array => {
      let copy = copies.get(data.buffer);
      if (copy === undefined) {
        copy = new Uint8Array(this.#buffer(data.buffer.byteLength), 0, data.buffer.byteLength);
        copy.set(new Uint8Array(data.buffer));
        copies.set(data.buffer, copy);
      }
      return new Uint8Array(copy.buffer, data.byteOffset, data.byteLength);
    };
    return {
      image: {
        data: own(image.data),
        width: image.width,
        height: image.height,
        scale: image.scale,
        originalWidth: image.originalWidth,
        originalHeight: image.originalHeight,
        ...(image.frames === undefined
          ? {}
          : { frames: image.frames.map((frame) => ({ ...frame, data: own(frame.data) })) }),
      },
      options: { perceptual: options.perceptual, dihedral: options.dihedral, trim: options.trim },
      buffers: [...copies.values()].map((copy) => copy.buffer as ArrayBuffer),
    };
  }

  /** A buffer of at least `bytes`: the smallest spare that fits, or a new one, not zero-filled (the copy fills it). */
  #buffer(bytes: number): ArrayBuffer {
    let best = -1;
    for (const [i, spare] of this.#spare.entries())
      if (spare.byteLength >= bytes && (best < 0 || spare.byteLength < (this.#spare[best] as ArrayBuffer).byteLength))
        best = i;
    if (best >= 0) return this.#spare.splice(best, 1)[0] as ArrayBuffer;
    return Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
  }

  /** Keeps the buffers a thread handed back, largest first, within SPARES_PER_THREAD a thread, SPARE_MAX_BYTES each. */
  #keep(buffers: readonly ArrayBuffer[]): void {
    for (const buffer of buffers) if (buffer.byteLength <= SPARE_MAX_BYTES) this.#spare.push(buffer);
    this.#spare.sort((a, b) => b.byteLength - a.byteLength);
    this.#spare.length = Math.min(this.#spare.length, this.size * SPARES_PER_THREAD);
  }

  /**
   * Starts the first thread if none runs, without giving it work: called when an upload is
   * planned, so that the thread loads while the upload is read and decoded rather than after.
   */
  warm(): void {
    if (this.#slots.length > 0) return;
    try {
      this.#start();
    } catch {
      // Reported, typed, to the upload that needs the thread (#pump tries again then).
    }
  }

  /** Ends every thread; uploads they were hashing fail with `ERR_HASH_THREAD`. */
  async close(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
  }

  /** Gives waiting uploads to idle threads, starting threads up to `size`. */
  #pump(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((candidate) => candidate.task === undefined);
      if (slot === undefined) {
        if (this.#slots.length >= this.size) return;
        try {
          slot = this.#start();
        } catch (error) {
          // No thread could start (out of memory, too many threads): the upload fails typed.
          (this.#queue.shift() as Task).reject(threadError(`could not start: ${(error as Error).message}`, error));
          continue;
        }
      }
      const task = this.#queue.shift() as Task;
      slot.task = task;
      slot.worker.ref();
      slot.worker.postMessage(task.request, [...task.request.buffers]);
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
    const slot: Slot = { worker, task: undefined, error: undefined };
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const task = slot.task;
      slot.task = undefined;
      worker.unref();
      this.#keep(reply.buffers);
      if (reply.ok) task?.resolve(reply.hashes);
      else task?.reject(rebuild(reply));
      this.#pump();
    });
    worker.on('error', (error) => {
      slot.error = error;
    });
    worker.on('exit', (exitCode) => {
      this.#slots.splice(this.#slots.indexOf(slot), 1);
      const reason = slot.error === undefined ? `exited with code ${exitCode}` : `failed: ${slot.error.message}`;
      slot.task?.reject(threadError(reason, slot.error));
      slot.task = undefined;
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
