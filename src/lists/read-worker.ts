/**
 * The list reader's thread (a worker_threads entry): reads and checks a list file with
 * `streamListFile` and posts its batches packed (`readPackedHere`) to the thread writing the
 * store, so parsing one batch overlaps with writing the previous one. At most `READ_AHEAD` batches wait
 * unacknowledged: memory stays bounded however far the reader could run ahead.
 *
 * Messages out: `{ type: 'batch', batch }`, `{ type: 'done', summary }`, `{ type: 'error', name,
 * code, message }`. Messages in: `'more'` (a batch was taken), `'stop'` (close the file and end).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readPackedHere, type PackedReadRequest } from './packed-reader.js';

/** Batches posted and not yet taken, at most: two keep the writer fed while the third is read. */
const READ_AHEAD = 2;

const port = parentPort;
if (port === null) throw new Error('read-worker.ts runs as a worker thread');
const request = workerData as PackedReadRequest;
let waiting = 0;
let stopped = false;
let wake: (() => void) | undefined;
port.on('message', (message: unknown) => {
  if (message === 'stop') stopped = true;
  else waiting--;
  wake?.();
});

async function run(): Promise<void> {
  const reader = readPackedHere(request);
  let finished = false;
  try {
    for (let step = await reader.next(); !stopped; step = await reader.next()) {
      if (step.done) {
        finished = true;
        port?.postMessage({ type: 'done', summary: step.value });
        return;
      }
      const batch = step.value;
      while (waiting >= READ_AHEAD && !stopped) await new Promise<void>((resolve) => (wake = resolve));
      if (stopped) return;
      waiting++;
      port?.postMessage({ type: 'batch', batch }, [batch.lines.buffer as ArrayBuffer, batch.ops.buffer as ArrayBuffer]);
      // An import writing rows in order stops at the first one out of order: reading on is waste.
      if (batch.unordered !== undefined) return;
    }
  } finally {
    if (!finished) await reader.return(undefined as never);
  }
}

run().then(
  () => port.close(),
  (error: unknown) => {
    const e = error as { name?: unknown; code?: unknown; message?: unknown } | null;
    port.postMessage({
      type: 'error',
      name: typeof e?.name === 'string' ? e.name : 'Error',
      code: typeof e?.code === 'string' ? e.code : undefined,
      message: typeof e?.message === 'string' ? e.message : String(error),
    });
    port.close();
  },
);
