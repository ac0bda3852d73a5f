/**
 * A hashing thread (a worker_threads entry, started by pool.ts): decodes and hashes each upload it
 * is sent with `hashRaw`, as the calling thread would, and replies with the hashes or the error.
 * It loads sharp itself; the calling thread has loaded it too, which keeps sharp's shared
 * libraries loaded when a thread exits (glibc would otherwise unload them under a running
 * decode).
 *
 * Messages in: `WorkerRequest` (the upload's bytes transferred). Messages out: `WorkerReply`.
 */
import { parentPort } from 'node:worker_threads';
import { hashRaw } from './hash.js';
import type { WorkerReply, WorkerRequest } from './pool.js';

const port = parentPort;
if (port === null) throw new Error('hash-worker.ts runs as a worker thread');

port.on('message', ({ id, bytes, options }: WorkerRequest) => {
  hashRaw(bytes, options).then(
    (hashed) => port.postMessage({ id, ok: true, hashed } satisfies WorkerReply),
    (error: unknown) => {
      const e = error as { name?: unknown; code?: unknown; message?: unknown } | null;
      port.postMessage({
        id,
        ok: false,
        name: typeof e?.name === 'string' ? e.name : 'Error',
        ...(typeof e?.code === 'string' ? { code: e.code } : {}),
        message: typeof e?.message === 'string' ? e.message : String(error),
      } satisfies WorkerReply);
    },
  );
});
