/**
 * The frame-hashing thread (a worker_threads entry, started by frame-pool.ts): PDQ of each RGB24
 * frame it is sent, as hash.ts would compute it on the calling thread (pdqRgbFrame, whole, and
 * with `trim` inside the frame's bars: bars.ts), so that a 1080p frame's ~22 ms of PDQ never
 * blocks the calling thread's event loop.
 *
 * Messages in: `FrameRequest` (the frame's pixels transferred). Messages out: `FrameReply`.
 */
import { parentPort } from 'node:worker_threads';
import { pdqFrameHashes } from './bars.js';
import type { FrameReply, FrameRequest } from './frame-pool.js';

const port = parentPort;
if (port === null) throw new Error('frame-worker.ts runs as a worker thread');

port.on('message', ({ id, rgb, width, height, trim }: FrameRequest) => {
  let reply: FrameReply;
  try {
    reply = { id, ok: true, ...pdqFrameHashes(rgb, width, height, trim) };
  } catch (error) {
    reply = { id, ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
