/**
 * A hashing thread (a worker_threads entry, started by pool.ts): hashes each decoded image it is
 * sent with `hashDecoded`, one at a time, and replies with the hashes or the error. It loads the
 * pixel maths alone, not sharp: decoding stays on the calling thread's side (libuv's pool).
 *
 * Messages in: `WorkerRequest` (the image's rasters transferred). Messages out: `WorkerReply`, the
 * rasters' buffers transferred back.
 */
import { parentPort } from 'node:worker_threads';
import { hashDecoded } from './pixels.js';
import type { WorkerReply, WorkerRequest } from './pool.js';

const port = parentPort;
if (port === null) throw new Error('hash-worker.ts runs as a worker thread');

port.on('message', ({ image, options, buffers }: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { ok: true, hashes: hashDecoded(image, options), buffers };
  } catch (error) {
    const e = error as { name?: unknown; code?: unknown; message?: unknown } | null;
    reply = {
      ok: false,
      name: typeof e?.name === 'string' ? e.name : 'Error',
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      message: typeof e?.message === 'string' ? e.message : String(error),
      buffers,
    };
  }
  // The rasters go back to be filled again: reusing memory costs less than mapping new memory.
  port.postMessage(reply, [...buffers]);
});
