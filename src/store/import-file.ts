/**
 * `importFile`: a list file read (on a worker thread when it is large) and written through the
 * ordered import while its ids ascend, else read again through the staged import.
 */
import { stat } from 'node:fs/promises';
import { HashwardenError, type ErrorCode } from '../errors.js';
import { MAX_FIELD_LENGTH } from '../lists/entry.js';
import { PACKED_FIELDS, packedFields, type PackedBatch } from '../lists/packed.js';
import { readPacked } from '../lists/packed-reader.js';
import type { ListStreamSummary, StreamListOptions } from '../lists/stream.js';
import { boolean, invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { MAX_PATH_LENGTH } from '../lists/formats.js';
import { writable, type StoreContext } from './context.js';
import { resolveImport, type ListOrder, type ResolvedImport } from './import.js';
import type { StagedParameters } from './statements.js';
import { orderedImport } from './ordered-import.js';
import { stagedImport } from './staged-import.js';
import type { ImportFileOptions, ImportFileResult, ImportProgress } from './types.js';

/**
 * Rows per batch read by `importFile`. Small batches keep little alive in the reader: its young
 * generation is collected at the cost of what survives, and a batch being built survives, so
 * smaller batches spend less time in the reader thread's garbage collector (docs/benchmark.md).
 */
const IMPORT_BATCH_ROWS = 1000;

/**
 * Files smaller than this are read on the calling thread: starting the reader thread has a cost
 * that a small file does not win back; from about this size on, the thread wins
 * (docs/benchmark.md).
 */
const THREAD_MIN_BYTES = 2 * 1024 * 1024;

/** {@link ImportFileOptions}, checked (TypeError / RangeError), as both stores' `importFile` take them. */
export interface ResolvedFileImport {
  readonly resolved: ResolvedImport;
  readonly onError: 'fail' | 'skip';
  /** Read on a worker thread: asked for, and the file large enough to win it back. */
  readonly thread: boolean;
  readonly onProgress: ((progress: ImportProgress) => void) | undefined;
  /** The reader's options. */
  readonly read: StreamListOptions;
}

/** Checks `importFile`'s path and options and fills in the defaults. */
export async function resolveFileImport(path: string, options: ImportFileOptions): Promise<ResolvedFileImport> {
  nonEmptyString(path, 'path', MAX_PATH_LENGTH);
  const o = optionsObject(options, 'options');
  // The reader checks `list` the same way; rows' list names are trimmed (normalizeEntry).
  const list = nonEmptyString(o.list, 'list', MAX_FIELD_LENGTH).trim();
  const multiList = o.multiList === undefined ? false : boolean(o.multiList, 'multiList');
  const resolved: ResolvedImport = Object.freeze({
    ...resolveImport({
      ...(o.replace === undefined ? {} : { replace: o.replace as readonly string[] }),
      ...(o.allowEmpty === undefined ? {} : { allowEmpty: o.allowEmpty as boolean }),
      ...(o.dedupe === undefined ? {} : { dedupe: o.dedupe }),
      ...(o.checkpoint === undefined ? {} : { checkpoint: o.checkpoint }),
      source: o.source === undefined ? path : (o.source as string),
    }),
    only: multiList ? undefined : list,
  });
  const onError = o.onError === undefined ? 'fail' : oneOf(o.onError, ['fail', 'skip'] as const, 'onError');
  // A size that cannot be read goes to the reader, which reports why.
  const thread =
    (o.thread === undefined ? true : boolean(o.thread, 'thread')) &&
    (await stat(path).then(
      (info) => info.size,
      () => Infinity,
    )) >= THREAD_MIN_BYTES;
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') invalid('function', 'onProgress', o.onProgress);
  const onProgress = o.onProgress as ((progress: ImportProgress) => void) | undefined;
  const read: StreamListOptions = Object.freeze({
    list: o.list as string,
    onError,
    ...(o.format === undefined ? {} : { format: o.format as StreamListOptions['format'] }),
    ...(o.algorithm === undefined ? {} : { algorithm: o.algorithm as string }),
    ...(o.maxBytes === undefined ? {} : { maxBytes: o.maxBytes as number }),
    batchSize: IMPORT_BATCH_ROWS,
  });
  return { resolved, onError, thread, onProgress, read };
}

/**
 * Makes, for each reading of the file, the function that reports its batches to `onProgress`.
 * Problems are reported once: a second reading of the file reports only those past the first's.
 */
export function progressReporter(
  path: string,
  onProgress: ((progress: ImportProgress) => void) | undefined,
): () => (batch: PackedBatch) => void {
  let reportedTo = 0;
  return () => {
    let rows = 0;
    return (batch) => {
      rows += batch.count + batch.problems.length;
      const fresh = batch.problems.filter((p) => p.line > reportedTo);
      const last = batch.problems.at(-1);
      if (last !== undefined) reportedTo = Math.max(reportedTo, last.line);
      onProgress?.(
        Object.freeze({
          bytesRead: batch.bytesRead,
          bytesTotal: batch.bytesTotal,
          rows,
          problems: Object.freeze(
            fresh.map((p) =>
              Object.freeze({ source: path, line: p.line, error: new HashwardenError(p.code as ErrorCode, p.message) }),
            ),
          ),
        }),
      );
    };
  };
}

/**
 * Hands each row of a packed batch to `add` (as a staged add, when its list may be imported) or
 * to `stage.remove`: the staged file import of both stores.
 */
export function stagePacked(
  batch: PackedBatch,
  stage: {
    readonly order: ListOrder;
    where(line: number): string;
    remove(list: string, id: string, line: number, at: () => string): void;
  },
  add: (row: StagedParameters) => void,
): void {
  const fields = packedFields(batch);
  for (let r = 0, f = 0; r < batch.count; r++, f += PACKED_FIELDS) {
    const list = fields[f] as string;
    const id = fields[f + 1] as string;
    const line = batch.lines[r] as number;
    if (batch.ops[r] === 0) {
      if (!stage.order.see(list, line, () => stage.where(line))) continue;
      add([
        list,
        id,
        0,
        fields[f + 2] as string,
        fields[f + 3] as string,
        fields[f + 4] || null,
        fields[f + 5] || null,
        line,
      ]);
    } else {
      stage.remove(list, id, line, () => stage.where(line));
    }
  }
}

/** {@link HashStore.importFile}. */
export async function importFile(
  ctx: StoreContext,
  path: string,
  options: ImportFileOptions,
): Promise<ImportFileResult> {
  const { resolved, onError, thread, onProgress, read } = await resolveFileImport(path, options);
  writable(ctx, 'import');
  const progress = progressReporter(path, onProgress);
  const ordered = await orderedImport(
    ctx,
    readPacked({ path, options: read, checkOrder: true }, thread),
    resolved,
    onError,
    progress(),
  );
  if (ordered !== undefined) return ordered;
  const report = progress();
  const { result, returned } = await stagedImport(
    ctx,
    readPacked({ path, options: read, checkOrder: false }, thread),
    resolved,
    onError,
    true,
    (batch: PackedBatch, stage) => {
      report(batch);
      stagePacked(batch, stage, (row) => stage.stager.add(row));
    },
  );
  return Object.freeze({ ...result, read: returned as ListStreamSummary, ordered: false });
}
