/**
 * Reads a list file as packed batches (packed.ts), on a worker thread when one can be started (the
 * file is parsed on one core while the store is written on another), else on this thread: the
 * batches are the same either way.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, HashwardenError, type ErrorCode } from '../errors.js';
import { Packer, type PackedBatch } from './packed.js';
import { streamListFile, type ListStreamSummary, type StreamListOptions } from './stream.js';

/** What the reader thread is asked to read (its `workerData`). */
export interface PackedReadRequest {
  readonly path: string;
  readonly options: StreamListOptions;
  /** Watch whether every list's ids ascend (see `PackedBatch.unordered`). */
  readonly checkOrder: boolean;
}

type WorkerMessage =
  | { readonly type: 'batch'; readonly batch: PackedBatch }
  | { readonly type: 'done'; readonly summary: ListStreamSummary }
  | { readonly type: 'error'; readonly name: string; readonly code?: string; readonly message: string };

type Event =
  | WorkerMessage
  | { readonly type: 'crash'; readonly error: unknown }
  | { readonly type: 'exit'; readonly code: number };

/**
 * The reader thread's young generation, in MB: 48 (16 MB semi-spaces, fixed from the start).
 * Every row makes short-lived strings and objects; with this size an import ran faster than with
 * a larger one or with V8's default (docs/benchmark.md).
 */
const READER_YOUNG_GENERATION_MB = 48;

/** How long a stopped reader thread may take to close its file before it is terminated. */
const STOP_GRACE_MS = 2000;

/**
 * The reader thread's module beside this one: `read-worker.js` in the package (this code may sit
 * in `dist/lists/` or, bundled, in `dist/chunks/`). `undefined` when it is not there: running from
 * source (a worker thread does not get the TypeScript loader of its parent), or an application
 * that bundled hashwarden into one file. Then the file is read on the calling thread.
 */
function workerModule(): URL | undefined {
  const here = import.meta.url;
  if (!here.startsWith('file:') || here.endsWith('.ts')) return undefined;
  for (const candidate of ['./read-worker.js', '../lists/read-worker.js']) {
    const url = new URL(candidate, here);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

/** The reader thread's error as this thread's: the same class, code and message (not the cause). */
function rebuild(message: Extract<WorkerMessage, { type: 'error' }>): Error {
  if (message.code !== undefined && (ERROR_CODES as readonly string[]).includes(message.code))
    return new HashwardenError(message.code as ErrorCode, message.message);
  if (message.name === 'TypeError') return new TypeError(message.message);
  if (message.name === 'RangeError') return new RangeError(message.message);
  return new HashwardenError('ERR_LIST_FORMAT', message.message);
}

/**
 * Reads the file on this thread: `streamListFile`'s batches, packed. The reader thread runs this
 * too (read-worker.ts).
 *
 * @example
 * ```ts
 * for await (const batch of readPackedHere({ path: 'ncmec.csv', options: { list: 'ncmec' }, checkOrder: false })) write(batch);
 * ```
 */
export async function* readPackedHere(
  request: PackedReadRequest,
): AsyncGenerator<PackedBatch, ListStreamSummary, void> {
  const packer = new Packer(request.checkOrder);
  const reader = streamListFile(request.path, request.options);
  let finished = false;
  try {
    for (;;) {
      const step = await reader.next();
      if (step.done) {
        finished = true;
        return step.value;
      }
      yield packer.pack(step.value);
    }
  } finally {
    if (!finished) await reader.return(undefined as never);
  }
}

async function* readInWorker(
  request: PackedReadRequest,
  module: URL,
): AsyncGenerator<PackedBatch, ListStreamSummary, void> {
  const worker = new Worker(module, {
    workerData: request,
    resourceLimits: { maxYoungGenerationSizeMb: READER_YOUNG_GENERATION_MB },
  });
  const events: Event[] = [];
  let wake: (() => void) | undefined;
  const push = (event: Event): void => {
    events.push(event);
    wake?.();
  };
  worker.on('message', (message: WorkerMessage) => push(message));
  worker.on('error', (error) => push({ type: 'crash', error }));
  worker.on('exit', (code) => push({ type: 'exit', code }));
  let exited = false;
  try {
    for (;;) {
      while (events.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      const event = events.shift() as Event;
      switch (event.type) {
        case 'batch':
          worker.postMessage('more');
          yield event.batch;
          break;
        case 'done':
          return event.summary;
        case 'error':
          throw rebuild(event);
        case 'crash':
          throw new HashwardenError(
            'ERR_LIST_FORMAT',
            `The list reader thread failed on ${request.path}: ${(event.error as Error)?.message ?? String(event.error)}`,
            { cause: event.error },
          );
        case 'exit':
          exited = true;
          throw new HashwardenError(
            'ERR_LIST_FORMAT',
            `The list reader thread ended (exit code ${event.code}) before the end of ${request.path}`,
          );
      }
    }
  } finally {
    if (!exited && !events.some((e) => e.type === 'exit')) {
      // Let the reader close its file; terminate it if it does not end in time.
      const gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_GRACE_MS)));
      if ((await Promise.race([gone, late])) === 'late') await worker.terminate();
      clearTimeout(timer);
    }
  }
}

/**
 * Reads `path` with `streamListFile` and yields its batches packed, reading on a worker thread
 * when `thread` is true and the reader module is there (else on this one). Returns the reader's
 * summary. Errors are the reader's: a `HashwardenError` with its code and message, or a
 * TypeError / RangeError for bad options.
 *
 * @example
 * ```ts
 * for await (const batch of readPacked({ path: 'ncmec.csv', options: { list: 'ncmec' }, checkOrder: true }, true)) write(batch);
 * ```
 */
export function readPacked(
  request: PackedReadRequest,
  thread: boolean,
): AsyncGenerator<PackedBatch, ListStreamSummary, void> {
  // The options are checked here, on the calling thread, so a bad one throws at once as it would
  // from streamListFile (the generator made here is never started: it opens no file).
  void streamListFile(request.path, request.options);
  const module = thread ? workerModule() : undefined;
  return module === undefined ? readPackedHere(request) : readInWorker(request, module);
}
