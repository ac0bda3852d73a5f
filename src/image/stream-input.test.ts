/**
 * Streamed uploads: a Node Readable, a web ReadableStream, a Blob or File and an async iterable of
 * bytes hash as the Buffer of the same file does; the byte limit stops a stream at the chunk that
 * crosses it, and a stream that fails, stalls, gives something other than bytes or cannot be read
 * whole gives a typed error, never a hang.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { HashwardenError } from '../errors.js';
import { Matcher } from '../matcher/matcher.js';
import { rejection } from '../testing/row-errors.js';
import { type HashImageOptions, hashImage } from './index.js';
import { pinInput, readInput } from './input.js';
import { planUpload } from './upload.js';

const vector = (file: string) => fileURLToPath(new URL(`../../test-vectors/images/${file}`, import.meta.url));

/** `bytes` cut into chunks of `size` (the last shorter), each a view on its own copy. */
function chunksOf(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.slice(at, at + size));
  return chunks;
}

/** A generator of `count` chunks of `size` bytes that counts the chunks pulled from it and whether it was stopped. */
function counted(count: number, size: number) {
  const seen = { pulled: 0, stopped: false };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < count; i++) {
        seen.pulled++;
        yield new Uint8Array(size);
      }
    } finally {
      seen.stopped = true;
    }
  }
  return { seen, chunks: chunks() };
}

/** A web stream of `chunks`, pulled one at a time, that records whether it was cancelled. */
function webStream(chunks: readonly Uint8Array[]) {
  const seen = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[seen.pulled++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { seen, stream };
}

/** Never settles: a client that stopped sending. */
const stall = () => new Promise<never>(() => {});

/** An async iterable that gives one chunk, then waits for ever. */
async function* stalling(): AsyncGenerator<Uint8Array> {
  yield new Uint8Array(16);
  await stall();
}

function codeOf(error: unknown): string {
  return error instanceof HashwardenError ? error.code : `${(error as Error).name}: ${(error as Error).message}`;
}

const file = vector('blobs-640x480.jpg');
const bytes = readFileSync(file);

describe('hashImage on a stream', () => {
  it('gives each kind of stream the hashes and image info of the Buffer of the same file', async () => {
    for (const name of ['blobs-640x480.jpg', 'alpha-shapes-300x200.png']) {
      const path = vector(name);
      const buffer = readFileSync(path);
      const expected = await hashImage(buffer);
      const kinds: Record<string, () => Parameters<typeof hashImage>[0]> = {
        'fs read stream': () => createReadStream(path, { highWaterMark: 1024 }),
        'Readable.from': () => Readable.from(chunksOf(buffer, 777)),
        'web ReadableStream': () => webStream(chunksOf(buffer, 500)).stream,
        'Readable.toWeb': () => Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
        Blob: () => new Blob([buffer]),
        File: () => new File([buffer], name, { type: 'image/jpeg' }),
        'async generator': () =>
          (async function* () {
            yield* chunksOf(buffer, 333);
          })(),
        'one chunk': () => Readable.from([buffer]),
      };
      for (const [kind, make] of Object.entries(kinds)) {
        expect(await hashImage(make()), `${name} as ${kind}`).toEqual(expected);
      }
    }
  });

  it('takes the exact digests as the bytes pass, equal to those of the whole file', async () => {
    const read = await readInput(pinInput(Readable.from(chunksOf(bytes, 1000))), {
      maxBytes: bytes.length,
      timeoutSeconds: 5,
      digests: ['md5', 'sha1', 'sha256'],
    });
    expect(Buffer.from(read.bytes).equals(bytes)).toBe(true);
    for (const name of ['md5', 'sha1', 'sha256'] as const)
      expect(Buffer.from(read.digests[name] as Uint8Array).toString('hex')).toBe(
        createHash(name).update(bytes).digest('hex'),
      );
    // A matcher hashing on the calling thread asks for every exact digest while reading.
    const plan = planUpload({ image: {}, algorithms: undefined, first: false, threads: 0 });
    expect([...plan.read.digests].sort()).toEqual(['md5', 'sha1', 'sha256']);
  });

  it('accepts a stream exactly at the limit and refuses one a byte over it', async () => {
    expect((await hashImage(Readable.from(chunksOf(bytes, 4096)), { maxBytes: bytes.length })).image.bytes).toBe(
      bytes.length,
    );
    const error = await rejection(hashImage(Readable.from(chunksOf(bytes, 4096)), { maxBytes: bytes.length - 1 }));
    expect(codeOf(error)).toBe('ERR_IMAGE_TOO_LARGE');
  });
});

describe('the byte limit on a stream', () => {
  // 10 kB chunks against a 105 kB limit: the 11th crosses it.
  const limit = 105_000;

  it('stops an async iterable at the chunk that crosses the limit and returns it', async () => {
    const { seen, chunks } = counted(10_000, 10_000);
    expect(codeOf(await rejection(hashImage(chunks, { maxBytes: limit })))).toBe('ERR_IMAGE_TOO_LARGE');
    expect(seen.pulled).toBe(11);
    await vi.waitFor(() => expect(seen.stopped).toBe(true));
  });

  it('destroys a Readable at the limit, having pulled no more than its buffer holds past it', async () => {
    const { seen, chunks } = counted(10_000, 10_000);
    const stream = Readable.from(chunks);
    expect(codeOf(await rejection(hashImage(stream, { maxBytes: limit })))).toBe('ERR_IMAGE_TOO_LARGE');
    expect(stream.destroyed).toBe(true);
    // Readable.from buffers up to 16 chunks (its object-mode high-water mark) ahead of the reader.
    expect(seen.pulled).toBeLessThanOrEqual(11 + 16 + 1);
    await vi.waitFor(() => expect(seen.stopped).toBe(true));
  });

  it('cancels a web ReadableStream at the limit', async () => {
    const { seen, stream } = webStream(Array.from({ length: 10_000 }, () => new Uint8Array(10_000)));
    expect(codeOf(await rejection(hashImage(stream, { maxBytes: limit })))).toBe('ERR_IMAGE_TOO_LARGE');
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThanOrEqual(11 + 1);
  });

  it('refuses a Blob from its size, before reading it', async () => {
    const blob = new Blob([new Uint8Array(2048)]);
    const read = vi.spyOn(blob, 'stream');
    expect(codeOf(await rejection(hashImage(blob, { maxBytes: 2047 })))).toBe('ERR_IMAGE_TOO_LARGE');
    expect(read).not.toHaveBeenCalled();
  });
});

describe('a stream that cannot be read whole', () => {
  it('gives ERR_INPUT_READ, with the cause, for a stream that fails', async () => {
    const cause = new Error('connection reset');
    const failing = {
      Readable: new Readable({
        read() {
          this.push(bytes.subarray(0, 100));
          this.destroy(cause);
        },
      }),
      'web ReadableStream': new ReadableStream({
        pull(controller) {
          controller.error(cause);
        },
      }),
      'async generator': (async function* () {
        yield bytes.subarray(0, 100);
        throw cause;
      })(),
    };
    for (const [kind, input] of Object.entries(failing)) {
      const error = await rejection(hashImage(input));
      expect(codeOf(error), kind).toBe('ERR_INPUT_READ');
      expect((error as Error).cause, kind).toBe(cause);
    }
  });

  it('gives ERR_IMAGE_TIMEOUT within the timeout for a stream that stalls, and stops it', async () => {
    const stalledReadable = new Readable({ read() {} });
    stalledReadable.push(bytes.subarray(0, 100));
    const web = { cancelled: false };
    const stalledWeb = new ReadableStream({
      pull: stall,
      cancel() {
        web.cancelled = true;
      },
    });
    const started = Date.now();
    const codes = await Promise.all(
      [stalledReadable, stalledWeb, stalling()].map(async (input) =>
        codeOf(await rejection(hashImage(input, { timeoutSeconds: 1 }))),
      ),
    );
    expect(codes).toEqual(['ERR_IMAGE_TIMEOUT', 'ERR_IMAGE_TIMEOUT', 'ERR_IMAGE_TIMEOUT']);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(stalledReadable.destroyed).toBe(true);
    expect(web.cancelled).toBe(true);
  });

  it('gives ERR_INPUT_READ for a chunk that is not bytes, and stops the stream', async () => {
    const { seen, chunks } = counted(1, 10);
    async function* mixed() {
      yield* chunks;
      yield 'text';
    }
    const objects = Readable.from([bytes.subarray(0, 10), { not: 'bytes' }]);
    for (const input of [mixed(), objects, Readable.from(['a string']), Readable.from([new ArrayBuffer(8)])]) {
      expect(codeOf(await rejection(hashImage(input as unknown as AsyncIterable<Uint8Array>)))).toBe('ERR_INPUT_READ');
    }
    expect(objects.destroyed).toBe(true);
    await vi.waitFor(() => expect(seen.stopped).toBe(true));
  });

  it('gives ERR_INPUT_READ, without waiting, for a stream ended, destroyed, locked or read from already', async () => {
    const ended = Readable.from([bytes]);
    for await (const _ of ended);
    const destroyed = Readable.from([bytes]);
    destroyed.destroy();
    const locked = webStream(chunksOf(bytes, 1000)).stream;
    locked.getReader();
    const readFrom = webStream(chunksOf(bytes, 1000)).stream;
    const reader = readFrom.getReader();
    await reader.read();
    reader.releaseLock();
    const started = Readable.from(chunksOf(bytes, 1000));
    await new Promise((resolve) => started.once('readable', resolve));
    started.read();
    for (const [kind, input] of Object.entries({ ended, destroyed, locked, readFrom, started })) {
      expect(codeOf(await rejection(hashImage(input))), kind).toBe('ERR_INPUT_READ');
    }
  });

  it('reads a stream for one call only: a second call with it gives ERR_INPUT_READ; a Blob reads again', async () => {
    const stream = Readable.from(chunksOf(bytes, 1000));
    const [first, second] = await Promise.allSettled([hashImage(stream), hashImage(stream)]);
    expect(first.status).toBe('fulfilled');
    expect(second.status === 'rejected' && codeOf(second.reason)).toBe('ERR_INPUT_READ');
    const blob = new Blob([bytes]);
    expect(await hashImage(blob)).toEqual(await hashImage(blob));
  });

  it('refuses anything else with a TypeError: a plain object, an array of chunks, null', async () => {
    for (const input of [{}, [bytes], null, 42]) {
      await expect(hashImage(input as never)).rejects.toBeInstanceOf(TypeError);
    }
  });
});

describe('Matcher.matchImage on a stream', () => {
  it('matches a listed image given as a Readable, a web stream and a File, by PDQ and by MD5 first', async () => {
    const listedFile = vector('mosaic-400x300.jpg');
    const listed = readFileSync(listedFile);
    const { hashes } = await hashImage(listed, { algorithms: ['pdq', 'md5'] });
    const matcher = Matcher.fromEntries([
      { id: 'by-pdq', list: 'l', algorithm: 'pdq', hash: hashes.pdq as string },
      { id: 'by-md5', list: 'l', algorithm: 'md5', hash: hashes.md5 as string },
    ]);
    const result = await matcher.matchImage(createReadStream(listedFile));
    expect(result.matched).toBe(true);
    expect(result.matches.map((m) => m.entryId).sort()).toEqual(['by-md5', 'by-pdq']);
    // With `first`, the MD5 taken while the stream was read ends the call before any decode.
    const first = await matcher.matchImage(Readable.from(chunksOf(listed, 1000)), { first: true });
    expect(first.matches.map((m) => m.entryId)).toEqual(['by-md5']);
    const batch = await matcher.matchImages([
      webStream(chunksOf(listed, 2000)).stream,
      new File([listed], 'upload.jpg'),
      createReadStream(file),
    ]);
    expect(batch.map((r) => r.ok && r.value.matched)).toEqual([true, true, false]);
    // The same stream twice in a batch: the second item is refused, typed, and the first is read whole.
    const twice = Readable.from(chunksOf(listed, 1000));
    const [once, again] = await matcher.matchImages([twice, twice]);
    expect(once?.ok && once.value.matched).toBe(true);
    expect(again?.ok === false && codeOf(again.error)).toBe('ERR_INPUT_READ');
  });

  it('fails a queued upload whose stream errors while it waits, typed, without an uncaught error', async () => {
    const matcher = Matcher.fromEntries([{ id: 'x', list: 'l', algorithm: 'md5', hash: '0'.repeat(32) }], {
      concurrency: 1,
      image: { timeoutSeconds: 1 },
    });
    const busy = matcher.matchImage(stalling());
    const waiting = new Readable({ read() {} });
    const queued = matcher.matchImage(waiting);
    const cause = new Error('client went away');
    // An 'error' with no listener would be thrown out of the stream: an uncaught exception.
    waiting.destroy(cause);
    expect(codeOf(await rejection(busy))).toBe('ERR_IMAGE_TIMEOUT');
    const error = await rejection(queued);
    expect(codeOf(error)).toBe('ERR_INPUT_READ');
    expect((error as Error).cause).toBe(cause);
  });
});

/**
 * A server on 127.0.0.1 hashing each request's body as it arrives: answers with the hashes, and
 * records each outcome (the hashes' count, or the error's code and whether the request was destroyed).
 */
async function hashingServer(options: HashImageOptions) {
  const outcomes: { code: string; destroyed: boolean }[] = [];
  const server = createServer((request, response) => {
    hashImage(request, options).then(
      (result) => response.end(JSON.stringify(result.hashes)),
      (error: unknown) => {
        outcomes.push({ code: codeOf(error), destroyed: request.destroyed });
        if (!response.destroyed) response.writeHead(422).end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  /** POSTs `body`, a web stream sent as it is pulled: resolves with the answer, or 'closed' when the server hung up. */
  const post = (body: ReadableStream<Uint8Array>) =>
    fetch(url, { method: 'POST', body, duplex: 'half' } as RequestInit).then(
      async (response) => ({ status: response.status, text: await response.text() }),
      () => 'closed' as const,
    );
  return {
    outcomes,
    post,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('hashImage on an HTTP request body, over 127.0.0.1', () => {
  it('hashes a body as the Buffer of the same file, sent in chunks as it is read', async () => {
    const server = await hashingServer({});
    try {
      const answer = await server.post(webStream(chunksOf(bytes, 1000)).stream);
      expect(answer).toEqual({ status: 200, text: JSON.stringify((await hashImage(bytes)).hashes) });
    } finally {
      await server.close();
    }
  });

  it('gives up on a body that stalls at the timeout: ERR_IMAGE_TIMEOUT, the request destroyed', async () => {
    const server = await hashingServer({ timeoutSeconds: 1 });
    try {
      const stalled = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.subarray(0, 1000));
        },
        pull: stall,
      });
      const started = Date.now();
      expect(await server.post(stalled)).toBe('closed');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(server.outcomes).toEqual([{ code: 'ERR_IMAGE_TIMEOUT', destroyed: true }]);
    } finally {
      await server.close();
    }
  });
});
