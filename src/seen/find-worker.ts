/**
 * A rescan's search thread (a worker_threads entry, started by find-pool.ts): searches the calling
 * thread's batch index of each table it is sent, in its shared memory (its own index when none
 * came), and answers each search with the kernel's hits, as `findMatches` would on the calling
 * thread.
 *
 * Messages in: `PoolRequest`. Messages out: `PoolReply` (the hits' columns transferred).
 */
import { parentPort } from 'node:worker_threads';
import { BatchIndex } from '../search/batch.js';
import { type EntryThresholds, kernelMatches } from './find.js';
import type { PoolReply, PoolRequest } from './find-pool.js';

const port = parentPort;
if (port === null) throw new Error('find-worker.ts runs as a worker thread');

const tables = new Map<number, { readonly index: BatchIndex; readonly thresholds: EntryThresholds }>();

port.on('message', (request: PoolRequest) => {
  if (request.type === 'table') {
    tables.set(request.table, {
      index:
        request.shared === undefined
          ? BatchIndex.fromHashes(request.hashes)
          : BatchIndex.attach(request.shared, request.hashes),
      thresholds: { ofEntry: request.ofEntry, widest: request.widest },
    });
    port.postMessage({ ready: request.table } satisfies PoolReply);
    return;
  }
  try {
    const table = tables.get(request.table);
    if (table === undefined) throw new Error(`no table ${request.table}`);
    const found = kernelMatches(table.index, request.queries, table.thresholds);
    const query = Uint32Array.from(found.query);
    const entry = Uint32Array.from(found.entry);
    const distance = Uint16Array.from(found.distance);
    port.postMessage({ job: request.job, ok: true, query, entry, distance } satisfies PoolReply, [
      query.buffer,
      entry.buffer,
      distance.buffer,
    ]);
  } catch (error) {
    port.postMessage({ job: request.job, ok: false, message: String(error) } satisfies PoolReply);
  }
});
