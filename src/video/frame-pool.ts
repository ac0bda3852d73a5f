/**
 * The thread that hashes a video's frames (frame-worker.ts): hash.ts hands it each decoded frame
 * (its pixels transferred, not copied) and gets the PDQ hash and quality back, so the calling
 * thread's event loop only moves bytes from FFmpeg's pipe while a video is hashed. One thread per
 * process, started on the first video and shared by every call: it holds the process open only
 * while it holds a frame. Without the thread's module (an application that bundled hashwarden
 * into one file) the frames are hashed on the calling thread, as before.
 */
import type { Worker } from 'node:worker_threads';
import { HashwardenError } from '../errors.js';
import { startThread, type ThreadSource, threadSource } from '../threads.js';
import type { FramePdqs } from './bars.js';

/** A frame to hash: its RGB24 pixels (transferred) and size, and whether to hash inside its bars too. */
export interface FrameRequest {
  readonly id: number;
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly trim: boolean;
}

/** The thread's answer: the frame's PDQ hashes (hex) and qualities, or why not. */
export type FrameReply = { readonly id: number } & (
  | ({ readonly ok: true } & FramePdqs)
  | { readonly ok: false; readonly message: string }
);

/** A frame on the thread, waiting for its hash. */
interface Pending {
  readonly resolve: (pdq: FramePdqs) => void;
  readonly reject: (error: Error) => void;
}

/** The error of a frame whose thread failed: the video was not checked. */
function threadError(reason: string, cause: unknown): HashwardenError {
  return new HashwardenError(
    'ERR_HASH_THREAD',
    `The frame-hashing thread ${reason} while it hashed this video: the video was not checked; retry it`,
    { cause },
  );
}

/**
 * One frame-hashing thread, started on the first frame and again after it dies (its frames then
 * fail with `ERR_HASH_THREAD`, never left pending).
 */
export class FramePool {
  readonly #source: ThreadSource;
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | undefined;
  #error: Error | undefined;
  #nextId = 0;

  constructor(source: ThreadSource) {
    this.#source = source;
  }

  /**
   * PDQ of `rgb` (`width × height` RGB24) on the thread, and with `trim` of what its bars frame;
   * `rgb`'s buffer is transferred (emptied here).
   */
  hash(rgb: Uint8Array, width: number, height: number, trim = false): Promise<FramePdqs> {
    return new Promise((resolve, reject) => {
      let worker: Worker;
      try {
        worker = this.#worker ?? this.#start();
      } catch (error) {
        reject(threadError(`could not start: ${(error as Error).message}`, error));
        return;
      }
      const id = this.#nextId++;
      this.#pending.set(id, { resolve, reject });
      worker.ref();
      const request: FrameRequest = { id, rgb, width, height, trim };
      worker.postMessage(request, [rgb.buffer as ArrayBuffer]);
    });
  }

  /** Ends the thread; frames it held fail with `ERR_HASH_THREAD`. */
  async close(): Promise<void> {
    await this.#worker?.terminate();
  }

  #start(): Worker {
    const worker = startThread(this.#source);
    this.#worker = worker;
    this.#error = undefined;
    worker.unref();
    worker.on('message', (reply: FrameReply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) worker.unref();
      if (reply.ok)
        pending?.resolve({
          hash: reply.hash,
          quality: reply.quality,
          ...(reply.trimmed === undefined ? {} : { trimmed: reply.trimmed }),
        });
      else pending?.reject(new HashwardenError('ERR_IMAGE_DECODE', `A frame could not be hashed: ${reply.message}`));
    });
    worker.on('error', (error) => {
      this.#error = error;
    });
    worker.on('exit', (exitCode) => {
      if (this.#worker === worker) this.#worker = undefined;
      const reason = this.#error === undefined ? `exited with code ${exitCode}` : `failed: ${this.#error.message}`;
      for (const pending of this.#pending.values()) pending.reject(threadError(reason, this.#error));
      this.#pending.clear();
    });
    return worker;
  }
}

let pool: FramePool | undefined | null = null;

/** The process's frame-hashing thread, or `undefined` when its module is not there. */
export function framePool(): FramePool | undefined {
  if (pool === null) {
    // frame-worker.js beside this module in the package; from source (tsx, vitest), the TypeScript one.
    const source = threadSource(import.meta.url, 'video', 'frame-worker');
    pool = source === undefined ? undefined : new FramePool(source);
  }
  return pool;
}
