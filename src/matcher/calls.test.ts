/**
 * What a matcher does with the calls made on it, as a caller under load makes them: buffers reused
 * as soon as a call has started, and more calls at once than it can hold.
 */
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { hashImage } from '../image/index.js';
import { Matcher } from './matcher.js';
import type { MatcherOptions } from './types.js';

const vector = (file: string) => fileURLToPath(new URL(`../../test-vectors/images/${file}`, import.meta.url));

/**
 * Seeded noise as an uncompressed PNG: two seeds give two unrelated images whose files have the
 * same length, so one can be written over the other in the same buffer.
 */
function noise(seed: number): Promise<Buffer> {
  const pixels = Buffer.from(
    Array.from({ length: 300 * 200 * 3 }, (_, i) => (((i + seed) * 2654435761) >>> 24) & 0xff),
  );
  return sharp(pixels, { raw: { width: 300, height: 200, channels: 3 } })
    .png({ compressionLevel: 0, adaptiveFiltering: false })
    .toBuffer();
}

/** The error code a promise rejects with, or 'resolved'. */
function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof HashwardenError ? error.code : (error as Error).name),
  );
}

let listed: Buffer;
let unlisted: Buffer;
let listing: (options?: MatcherOptions) => Matcher;

beforeAll(async () => {
  [listed, unlisted] = await Promise.all([noise(0), noise(7777)]);
  expect(listed.length).toBe(unlisted.length);
  const { hashes } = await hashImage(listed, { algorithms: ['blockhash', 'pdq', 'md5'] });
  listing = (options) =>
    Matcher.fromEntries(
      [
        { id: 'b', list: 'l', algorithm: 'blockhash', hash: hashes.blockhash as string },
        { id: 'p', list: 'l', algorithm: 'pdq', hash: hashes.pdq as string },
        { id: 'm', list: 'l', algorithm: 'md5', hash: hashes.md5 as string },
      ],
      options,
    );
});

describe('a caller that reuses its buffer once a call has started', () => {
  it('does not change what matchImage matched: the bytes are those of the call', async () => {
    const matcher = listing();
    const alone = await matcher.matchImage(Buffer.from(listed));
    expect(alone.matches.map((m) => m.entryId)).toContain('m');
    const buffer = Buffer.from(listed);
    const pending = matcher.matchImage(buffer);
    buffer.set(unlisted);
    expect((await pending).matches).toEqual(alone.matches);

    // The other way round: an unlisted upload stays unlisted whatever the buffer holds later.
    buffer.set(unlisted);
    const clean = matcher.matchImage(buffer);
    buffer.set(listed);
    expect((await clean).matched).toBe(false);
  });

  it('does not change what matchImages matched, for any item of the batch', async () => {
    const matcher = listing();
    const buffers = [Buffer.from(listed), Buffer.from(unlisted), new Uint8Array(listed)];
    const pending = matcher.matchImages(buffers, { concurrency: 1 });
    buffers[0]?.set(unlisted);
    buffers[1]?.set(listed);
    buffers[2]?.set(unlisted);
    const results = await pending;
    expect(results.map((r) => (r.ok ? r.value.matched : r.error))).toEqual([true, false, true]);
  });

  it('does not change the hashes hashImage returns', async () => {
    const expected = await hashImage(listed, { algorithms: ['blockhash', 'md5'] });
    const buffer = Buffer.from(listed);
    const pending = hashImage(buffer, { algorithms: ['blockhash', 'md5'] });
    buffer.set(unlisted);
    expect((await pending).hashes).toEqual(expected.hashes);
  });

  it('reads only the view it was given, and refuses one above the byte limit', async () => {
    const matcher = listing({ image: { maxBytes: listed.length } });
    const pool = Buffer.alloc(listed.length * 2);
    pool.set(listed, 7);
    const view = new Uint8Array(pool.buffer, pool.byteOffset + 7, listed.length);
    const pending = matcher.matchImage(view);
    pool.fill(0);
    expect((await pending).matched).toBe(true);
    expect(await outcome(matcher.matchImage(pool))).toBe('ERR_IMAGE_TOO_LARGE');
    expect(await outcome(hashImage(pool, { maxBytes: listed.length }))).toBe('ERR_IMAGE_TOO_LARGE');
  });
});

describe('a matcher-wide bound on uploads in hand', () => {
  it('runs `concurrency` calls, queues `maxQueued` more in order and refuses the next with ERR_BUSY', async () => {
    const matcher = listing({ concurrency: 1, maxQueued: 2 });
    const finished: number[] = [];
    const calls = [listed, unlisted, listed, unlisted].map((bytes, i) =>
      outcome(
        matcher.matchImage(bytes).then((result) => {
          finished.push(i);
          return result;
        }),
      ),
    );
    expect(matcher.pending).toEqual({ running: 1, queued: 2 });
    expect(await Promise.all(calls)).toEqual(['resolved', 'resolved', 'resolved', 'ERR_BUSY']);
    expect(finished).toEqual([0, 1, 2]);
    expect(matcher.pending).toEqual({ running: 0, queued: 0 });
  });

  it('frees the slot of a call that fails, whether on its upload or on its options', async () => {
    const matcher = listing({ concurrency: 1, maxQueued: 0 });
    const corrupt = listed.subarray(0, 200);
    expect(await outcome(matcher.matchImage(corrupt))).toMatch(/^ERR_IMAGE_DECODE$|^ERR_UNSUPPORTED_FORMAT$/);
    // An algorithm name is checked by the image module, inside the slot.
    expect(await outcome(matcher.matchImage(listed, { algorithms: ['nope' as 'md5'] }))).toBe('RangeError');
    expect(await outcome(matcher.matchImage(vector('missing.png')))).toBe('ERR_INPUT_READ');
    expect(matcher.pending).toEqual({ running: 0, queued: 0 });
    expect(await outcome(matcher.matchImage(listed))).toBe('resolved');
  });

  it('runs a batch within the bound, never refusing its own items, while single calls are refused', async () => {
    const matcher = listing({ concurrency: 2, maxQueued: 0 });
    const inputs = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? listed : vector('mosaic-400x300.jpg')));
    const batch = matcher.matchImages(inputs, { concurrency: 8 });
    // The batch's first items take both slots once its options are planned; a call then finds no room.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(matcher.pending.running).toBe(2);
    expect(await outcome(matcher.matchImage(listed))).toBe('ERR_BUSY');
    const results = await batch;
    expect(results.map((r) => r.ok && r.value.matched)).toEqual(inputs.map((_, i) => i % 2 === 0));
    expect(matcher.pending).toEqual({ running: 0, queued: 0 });
  });

  it('accepts Infinity for maxQueued and refuses bad bounds in the standard shape', () => {
    expect(() => listing({ maxQueued: Infinity })).not.toThrow();
    expect(() => listing({ concurrency: 0 })).toThrow(RangeError);
    expect(() => listing({ concurrency: 1.5 })).toThrow(TypeError);
    expect(() => listing({ maxQueued: -1 })).toThrow(RangeError);
    expect(() => listing({ maxQueued: Number.NaN })).toThrow(TypeError);
  });

  it('takes 0 to 1024 hashing threads, refusing others in the standard shape', async () => {
    const inThread = listing({ hashThreads: 0 });
    expect((await inThread.matchImage(vector('mosaic-400x300.jpg'))).checked).toBe(true);
    expect(() => listing({ hashThreads: 1024 })).not.toThrow();
    expect(() => listing({ hashThreads: -1 })).toThrow(
      new RangeError('Expected integer between 0 and 1024 for hashThreads but received -1 of type number'),
    );
    expect(() => listing({ hashThreads: 1025 })).toThrow(RangeError);
    expect(() => listing({ hashThreads: 1.5 })).toThrow(TypeError);
    expect(() => listing({ hashThreads: '2' as unknown as number })).toThrow(TypeError);
  });
});
