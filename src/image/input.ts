/**
 * Reading an upload: its bytes pinned at call time, its file read within the byte limit, or its
 * stream (a Node `Readable`, a web `ReadableStream`, a `Blob`, an async iterable of bytes) read
 * within the byte limit and the timeout, the exact hashes taken as the bytes pass. Free of sharp, so
 * the core entry's matcher can pin a caller's upload before it loads the image module.
 */
import { readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { EXACT_DIGESTS, type IncrementalDigest } from '../algorithms/digests.js';
import type { AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError, readError } from '../errors.js';
import { invalid } from '../validate.js';

/**
 * An upload: its bytes, the path of a file, or a stream of its bytes: a Node `Readable`, a web
 * `ReadableStream`, a `Blob` (or `File`), or any async iterable of `Uint8Array` chunks.
 */
export type ImageInput = Uint8Array | string | Blob | ReadableStream<Uint8Array> | Readable | AsyncIterable<Uint8Array>;

/** How an upload is read: its byte limit, the time its stream has, the exact hashes to take as it passes. */
export interface ReadLimits {
  readonly maxBytes: number;
  readonly timeoutSeconds: number;
  /**
   * Exact algorithms whose digests are taken chunk by chunk while a stream is read; their digests
   * of bytes or a file are left to hashing.
   */
  readonly digests: readonly AlgorithmName[];
}

/** An upload read: its bytes, and the exact digests taken while they were read. */
export interface ReadUpload {
  readonly bytes: Uint8Array;
  readonly digests: Partial<Record<AlgorithmName, Uint8Array>>;
}

/** A stream as a call holds it from call time until its turn comes to read it. */
type PinnedStream =
  | { readonly kind: 'readable'; readonly stream: Readable; readonly failure: { error?: unknown } }
  | { readonly kind: 'web'; readonly stream: ReadableStream<unknown> }
  | { readonly kind: 'blob'; readonly blob: Blob }
  | { readonly kind: 'iterable'; readonly iterable: AsyncIterable<unknown> };

/** An upload as {@link pinInput} fixed it: bytes copied, a path, or a stream taken by this call. */
export type PinnedInput = Uint8Array | string | PinnedStream;

const EXPECTED = 'Buffer, Uint8Array, file path, Blob, ReadableStream, Readable or async iterable of Uint8Array';

/**
 * Streams a call has taken: a stream is read by one call only, so one passed again (twice in a
 * batch, or to a second call) is refused rather than read from the middle or found empty.
 */
const taken = new WeakSet<object>();

function isNodeReadable(input: object): input is Readable {
  const stream = input as Partial<Readable>;
  return (
    typeof stream.pipe === 'function' &&
    typeof stream.on === 'function' &&
    typeof stream.destroy === 'function' &&
    typeof stream[Symbol.asyncIterator] === 'function'
  );
}

function isWebStream(input: object): input is ReadableStream<unknown> {
  return typeof (input as Partial<ReadableStream>).getReader === 'function';
}

function isAsyncIterable(input: object): input is AsyncIterable<unknown> {
  return typeof (input as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
}

function streamRefused(reason: string, cause?: unknown): HashwardenError {
  return new HashwardenError('ERR_INPUT_READ', `The input stream ${reason}: it cannot be read whole`, { cause });
}

/**
 * Why a stream cannot be read whole now, if it cannot: it failed, is locked by a reader, was read
 * from already (its first bytes gone), ended or was destroyed. Checked at call time and again when
 * its turn comes.
 */
function staleReason(
  stream: Readable | ReadableStream<unknown>,
  failure?: { error?: unknown },
): HashwardenError | undefined {
  const error = failure?.error ?? ('errored' in stream ? stream.errored : null);
  if (error !== undefined && error !== null) return streamRefused('failed', error);
  if ('locked' in stream && stream.locked) return streamRefused('is locked by another reader');
  // isDisturbed tells of a web stream too: Node keeps the flag on its own ReadableStream.
  if (Readable.isDisturbed(stream as Readable)) return streamRefused('was read from already');
  if ('destroyed' in stream && (stream.destroyed || stream.readableEnded))
    return streamRefused('has ended or was destroyed');
  return undefined;
}

/**
 * Checks an upload's type and what can be known of its size now: bytes and a `Blob` against the
 * byte limit, `ERR_IMAGE_TOO_LARGE` before anything is copied or read, so a huge upload costs
 * nothing; a stream for being readable whole (`ERR_INPUT_READ` for one taken by another call,
 * locked, read from, ended or destroyed). A path's size is checked when it is read, a stream's as
 * it is read.
 */
export function checkInput(input: ImageInput, maxBytes: number): void {
  if (input instanceof Uint8Array) {
    if (input.length > maxBytes) {
      throw new HashwardenError(
        'ERR_IMAGE_TOO_LARGE',
        `The input has ${input.length} bytes, above the limit of ${maxBytes}`,
      );
    }
    return;
  }
  if (typeof input === 'string') {
    if (input.length === 0) invalid(EXPECTED, 'input', input);
    return;
  }
  if (input === null || typeof input !== 'object') invalid(EXPECTED, 'input', input);
  if (input instanceof Blob) {
    if (input.size > maxBytes)
      throw new HashwardenError(
        'ERR_IMAGE_TOO_LARGE',
        `The input Blob has ${input.size} bytes, above the limit of ${maxBytes}`,
      );
    return;
  }
  if (!isWebStream(input) && !isNodeReadable(input) && !isAsyncIterable(input)) invalid(EXPECTED, 'input', input);
  if (taken.has(input)) throw streamRefused('was passed to another call already');
  if (isWebStream(input) || isNodeReadable(input)) {
    const stale = staleReason(input);
    if (stale !== undefined) throw stale;
  }
}

/** Keeps a Node stream's errors from going unheard while the call waits for its turn. */
function listen(stream: Readable): { error?: unknown } {
  const failure: { error?: unknown } = {};
  // An 'error' with no listener would throw out of the stream, and take the process down; this one
  // stays on, so an error after the call destroyed the stream is heard too.
  stream.on('error', (error: unknown) => {
    failure.error ??= error;
  });
  return failure;
}

/**
 * The upload as the call will read it, fixed now: bytes are copied, so a caller that reuses or
 * pools its buffer once the call has started cannot change what is hashed; a path is kept, to be
 * read inside the call; a stream is taken by this call (passed again, it is refused) and, for a
 * Node stream, listened to for errors. Synchronous: call it, after {@link checkInput}, before the
 * first `await`.
 */
export function pinInput(input: ImageInput): PinnedInput {
  // `new Uint8Array(view)` copies the view's bytes (a Buffer's `slice` would not: it shares memory).
  if (input instanceof Uint8Array) return new Uint8Array(input);
  if (typeof input === 'string') return input;
  // A Blob's bytes cannot change and it reads again from the start: it is not taken.
  if (input instanceof Blob) return { kind: 'blob', blob: input };
  taken.add(input);
  if (isWebStream(input)) return { kind: 'web', stream: input };
  if (isNodeReadable(input)) return { kind: 'readable', stream: input, failure: listen(input) };
  return { kind: 'iterable', iterable: input as AsyncIterable<unknown> };
}

/** A stream opened for reading: its next chunk, and how to stop it so that nothing more is read. */
interface ChunkSource {
  next(): Promise<IteratorResult<unknown>>;
  /** Destroys, cancels or returns the stream. Never throws. */
  stop(): void;
  /** After the last chunk: lets go of the stream. */
  done(): void;
}

function ignore(): void {}

/**
 * Runs a stream's own way of stopping: one that throws has stopped, or cannot be stopped, and
 * nothing more is read from it either way.
 */
function attempt(stop: () => unknown): void {
  try {
    stop();
  } catch {
    // See above: the call's error is the one to report, not the stream's.
  }
}

function readerSource(stream: ReadableStream<unknown>): ChunkSource {
  const reader = stream.getReader();
  return {
    next: () => reader.read() as Promise<IteratorResult<unknown>>,
    stop: () => attempt(() => reader.cancel().catch(ignore)),
    done: () => reader.releaseLock(),
  };
}

/** Opens a pinned stream, `ERR_INPUT_READ` when it cannot be read whole. */
function open(pinned: PinnedStream): ChunkSource {
  if (pinned.kind === 'readable' || pinned.kind === 'web') {
    const stale = staleReason(pinned.stream, pinned.kind === 'readable' ? pinned.failure : undefined);
    if (stale !== undefined) throw stale;
  }
  try {
    switch (pinned.kind) {
      case 'blob':
        return readerSource(pinned.blob.stream());
      case 'web':
        return readerSource(pinned.stream);
      case 'readable': {
        const { stream } = pinned;
        // Read pulled, chunk by chunk: the stream holds at most its high-water mark ahead of us.
        const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<unknown>;
        // Not the iterator's `return`: it waits for a pending read, which a stalled stream never ends.
        return { next: () => iterator.next(), stop: () => attempt(() => stream.destroy()), done: ignore };
      }
      case 'iterable': {
        const iterator = pinned.iterable[Symbol.asyncIterator]();
        return {
          next: () => iterator.next(),
          // An async generator's `return` waits for a pending `next`; the call does not wait for it.
          stop: () => attempt(() => Promise.resolve(iterator.return?.()).catch(ignore)),
          done: ignore,
        };
      }
    }
  } catch (error) {
    throw streamRefused(`could not be opened (${(error as Error)?.message ?? String(error)})`, error);
  }
}

/**
 * Reads a stream within the limits: chunk by chunk, each a `Uint8Array`, the exact digests taken as
 * they pass, the bytes joined once at the end. At the first chunk past `maxBytes`, at a chunk that is
 * not bytes, at the stream's error or at the deadline, the stream is stopped and nothing more is read.
 */
async function readStream(pinned: PinnedStream, limits: ReadLimits): Promise<ReadUpload> {
  const { maxBytes, timeoutSeconds } = limits;
  const source = open(pinned);
  const hashes: [AlgorithmName, IncrementalDigest][] = limits.digests.map((name) => [
    name,
    EXACT_DIGESTS[name as keyof typeof EXACT_DIGESTS].incremental(),
  ]);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const expired = new HashwardenError(
    'ERR_IMAGE_TIMEOUT',
    `The input stream did not end within ${timeoutSeconds} s: it was stopped`,
  );
  let timer: NodeJS.Timeout | undefined;
  // One deadline for the whole stream: a client trickling a byte at a time must not hold the call longer.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired), timeoutSeconds * 1000);
  });
  try {
    for (;;) {
      let step: IteratorResult<unknown> | null | undefined;
      try {
        step = await Promise.race([source.next(), deadline]);
      } catch (error) {
        if (error === expired) throw error;
        throw new HashwardenError(
          'ERR_INPUT_READ',
          `The input stream failed: ${(error as Error)?.message ?? String(error)}`,
          { cause: error },
        );
      }
      if (step === null || typeof step !== 'object')
        throw new HashwardenError('ERR_INPUT_READ', "The input stream's iterator gave no result object");
      if (step.done === true) break;
      const chunk = step.value;
      if (!(chunk instanceof Uint8Array))
        throw new HashwardenError(
          'ERR_INPUT_READ',
          `The input stream gave a chunk of type ${chunk === null ? 'null' : typeof chunk}, not bytes (Uint8Array)`,
        );
      total += chunk.length;
      if (total > maxBytes)
        throw new HashwardenError(
          'ERR_IMAGE_TOO_LARGE',
          `The input stream sent more than the limit of ${maxBytes} bytes: it was stopped there`,
        );
      chunks.push(chunk);
      for (const [, hash] of hashes) hash.update(chunk);
    }
  } catch (error) {
    source.stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  source.done();
  const digests: ReadUpload['digests'] = {};
  for (const [name, hash] of hashes) digests[name] = hash.digest();
  // Joined once, at the end (a chunk alone is the upload: no copy).
  return { bytes: chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, total), digests };
}

/**
 * Reads an upload checked by {@link checkInput} and pinned by {@link pinInput} into bytes: a path's
 * size is checked against the limit before the file is read; a stream is read as {@link readStream}
 * says, `ERR_IMAGE_TOO_LARGE` past the limit, `ERR_IMAGE_TIMEOUT` past the deadline,
 * `ERR_INPUT_READ` for its error.
 */
export async function readInput(input: PinnedInput, limits: ReadLimits): Promise<ReadUpload> {
  if (input instanceof Uint8Array) return { bytes: input, digests: {} };
  if (typeof input !== 'string') return readStream(input, limits);
  let size: number;
  try {
    const info = await stat(input);
    if (!info.isFile()) throw new Error('not a regular file');
    size = info.size;
  } catch (error) {
    throw readError(input, error);
  }
  if (size > limits.maxBytes)
    throw new HashwardenError(
      'ERR_IMAGE_TOO_LARGE',
      `${input} has ${size} bytes, above the limit of ${limits.maxBytes}`,
    );
  try {
    return { bytes: await readFile(input), digests: {} };
  } catch (error) {
    throw readError(input, error);
  }
}
