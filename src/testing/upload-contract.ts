/**
 * The behaviour every upload guard adapter owes (`hashwarden/express`, `/fastify`, `/web`), as
 * tests each adapter's test file runs against its own server: listed, edited and unrelated images,
 * the hostile corpus with and without `failOpen`, limits, and (for a guard that reads the body
 * itself) hostile clients: an oversize Content-Length, an endless chunked body, a stall, 64 at once.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { UploadCheck, UploadGuardResult } from '../http/check.js';
import type { UploadGuardOptions } from '../http/options.js';
import type { Matcher } from '../matcher/matcher.js';
import {
  countBytesRead,
  editsOf,
  expectHostileAnswer,
  hostileCases,
  image,
  LISTED,
  listedMatcher,
  multipart,
  rawRequest,
  UNRELATED,
  upload,
  type HostileCase,
} from './uploads.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The fixtures of an adapter's test file, set up once in its `beforeAll`. */
export interface UploadFixtures {
  /** The matcher over the listed test vectors. */
  readonly matcher: () => Matcher;
  /** The hostile corpus with each file's in-process outcome with that matcher. */
  readonly hostile: () => HostileCase[];
}

/** Sets up {@link UploadFixtures} in a `beforeAll` of the calling file. */
export function uploadFixtures(): UploadFixtures {
  let matcher: Matcher | undefined;
  let hostile: HostileCase[] = [];
  beforeAll(async () => {
    matcher = await listedMatcher();
    hostile = await hostileCases(matcher);
  }, 60_000);
  return { matcher: () => matcher as Matcher, hostile: () => hostile };
}

/** What a guarded route saw: the handler's calls and the hook's. */
export interface Seen {
  handled: number;
  hooked: (readonly UploadCheck[])[];
}

/** A guarded route listening: its URL, what it saw, its server. */
export interface Served {
  readonly url: string;
  readonly seen: Seen;
  readonly server: Server;
}

/** Starts a server with the adapter's guard on POST `url`, its handler answering {@link handlerAnswer}. */
export type Serve<R> = (options?: UploadGuardOptions<R>, matcher?: Matcher) => Promise<Served>;

/** `options` with an `onMatch` that records its call in `seen` before the caller's own. */
export function recording<R>(options: UploadGuardOptions<R>, seen: Seen): UploadGuardOptions<R> {
  return {
    ...options,
    onMatch: async (uploads, request) => {
      seen.hooked.push(uploads);
      await options.onMatch?.(uploads, request);
    },
  };
}

/** What the test handlers answer: the first upload as the handler got it, and the fields. */
export function handlerAnswer(result: UploadGuardResult | undefined, seen: Seen): Record<string, unknown> {
  seen.handled++;
  const u = result?.uploads[0] as UploadCheck;
  return {
    files: result?.uploads.map((f) => [f.field, f.outcome]),
    outcome: u.outcome,
    error: u.error?.code,
    size: u.size,
    sha256: sha256(u.bytes),
    filename: u.filename,
    result: u.result,
    fields: result?.fields,
  };
}

/**
 * The shared tests, over `serve`; `matcher` and `hostile` are the file's, set up in its
 * `beforeAll` (the listed matcher, the corpus's in-process outcomes). `streamed`: the guard reads
 * the body itself, so the hostile-client tests apply.
 */
export function describeUploadGuard<R>(name: string, serve: Serve<R>, setup: UploadFixtures, streamed: boolean): void {
  describe(`${name}: uploads`, () => {
    it('blocks a listed image with a 403 that names no list, after the hook had the full result, and never calls the handler', async () => {
      const { url, seen } = await serve();
      for (const file of LISTED) {
        const answer = await upload(url, [{ bytes: image(file), name: file }]);
        expect(answer.status, file).toBe(403);
        expect(JSON.stringify(answer.body)).not.toMatch(/test-list|blobs|shapes|mosaic|distance/);
      }
      expect(seen.handled).toBe(0);
      expect(seen.hooked).toHaveLength(LISTED.length);
      const first = seen.hooked[0]?.[0] as UploadCheck;
      expect(first.outcome).toBe('matched');
      expect(first.filename).toBe(LISTED[0]);
      expect(first.result?.matches[0]).toMatchObject({ list: 'test-list', entryId: LISTED[0] });
      expect(first.result?.hashes.sha256).toBe(sha256(image(LISTED[0])));
      expect(sha256(first.bytes)).toBe(sha256(image(LISTED[0])));
    });

    it('blocks the edited copies of a listed image that the matcher matches in process', async () => {
      const { url, seen } = await serve();
      const edits = LISTED.flatMap(editsOf);
      let blocked = 0;
      for (const file of edits) {
        const inProcess = await setup.matcher().matchImage(image(file));
        const answer = await upload(url, [{ bytes: image(file) }]);
        // A copy the matcher could not check (a crop's PDQ refused) is refused as not checked.
        expect(answer.status, file).toBe(inProcess.matched ? 403 : inProcess.checked ? 200 : 422);
        if (inProcess.matched) blocked++;
      }
      expect(blocked).toBeGreaterThanOrEqual(8);
      expect(seen.hooked).toHaveLength(blocked);
    });

    it('hands an unrelated image to the handler with its bytes, its full result and the text fields', async () => {
      const { url, seen } = await serve();
      const bytes = image(UNRELATED);
      const answer = await upload(url, [{ bytes, name: UNRELATED }], { caption: 'a hill' });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        outcome: 'clean',
        size: bytes.length,
        sha256: sha256(bytes),
        filename: UNRELATED,
      });
      expect(answer.body.result).toMatchObject({ matched: false, checked: true, matches: [] });
      expect((answer.body.result as { hashes: { sha256: string } }).hashes.sha256).toBe(sha256(bytes));
      expect(answer.body.fields).toEqual({ caption: 'a hill' });
      expect(seen.handled).toBe(1);
      expect(seen.hooked).toHaveLength(0);
    });

    it('gives every file of the hostile corpus the code matchImage gives it in process, failing closed by default', async () => {
      const { url } = await serve();
      for (const c of setup.hostile())
        expectHostileAnswer(c, await upload(url, [{ bytes: c.bytes, name: c.file }]), false);
      expect(setup.hostile().some((c) => c.code !== undefined)).toBe(true);
    }, 60_000);

    it('hands every upload it could not check to the handler as unchecked with failOpen: true', async () => {
      const { url } = await serve({ failOpen: true });
      for (const c of setup.hostile())
        expectHostileAnswer(c, await upload(url, [{ bytes: c.bytes, name: c.file }]), true);
    }, 60_000);

    it('refuses a request with more files than maxFiles, and one with no file', async () => {
      const { url, seen } = await serve();
      const two = await upload(url, [{ bytes: image(UNRELATED) }, { bytes: image(UNRELATED) }]);
      expect([two.status, two.body.code]).toEqual([400, 'ERR_UPLOAD_REQUEST']);
      const none = await upload(url, [], { caption: 'no file' });
      expect([none.status, none.body.code]).toEqual([400, 'ERR_UPLOAD_REQUEST']);
      expect(seen.handled).toBe(0);
    });

    it('checks every file of a request of maxFiles files, in order, and blocks it when any matched', async () => {
      const { url, seen } = await serve({ maxFiles: 2 });
      const clean = await upload(url, [
        { bytes: image(UNRELATED), field: 'first' },
        { bytes: image('landscape-1600x1200.jpg'), field: 'second' },
      ]);
      expect([clean.status, clean.body.files]).toEqual([
        200,
        [
          ['first', 'clean'],
          ['second', 'clean'],
        ],
      ]);
      const mixed = await upload(url, [{ bytes: image(UNRELATED) }, { bytes: image(LISTED[1]) }]);
      expect(mixed.status).toBe(403);
      expect(seen.hooked[0]?.map((u) => u.outcome)).toEqual(['clean', 'matched']);
      expect(seen.handled).toBe(1);
    });

    it('takes a file of exactly maxBytes and refuses one byte more with 413', async () => {
      const bytes = image(UNRELATED);
      const exact = await serve({ maxBytes: bytes.length });
      expect((await upload(exact.url, [{ bytes }])).status).toBe(200);
      const under = await serve({ maxBytes: bytes.length - 1 });
      const answer = await upload(under.url, [{ bytes }]);
      expect([answer.status, answer.body.code]).toEqual([413, 'ERR_IMAGE_TOO_LARGE']);
      expect(under.seen.handled).toBe(0);
    });

    it('refuses more text fields than maxFields, and a field longer than maxFieldBytes', async () => {
      const { url, seen } = await serve({ maxFields: 2, maxFieldBytes: 16 });
      const bytes = image(UNRELATED);
      const many = await upload(url, [{ bytes }], { a: '1', b: '2', c: '3' });
      expect([many.status, many.body.code]).toEqual([400, 'ERR_UPLOAD_REQUEST']);
      const long = await upload(url, [{ bytes }], { caption: 'x'.repeat(17) });
      expect([long.status, long.body.code]).toEqual([400, 'ERR_UPLOAD_REQUEST']);
      expect((await upload(url, [{ bytes }], { a: '1', caption: 'x'.repeat(16) })).status).toBe(200);
      expect(seen.handled).toBe(1);
    });
  });

  if (streamed) {
    describe(`${name}: hostile clients`, () => {
      it('refuses a Content-Length above what maxFiles files could take with 413, reading almost none of the body', async () => {
        const { server, seen } = await serve({ maxBytes: 100_000 });
        const bytesRead = countBytesRead(server);
        const { port } = server.address() as AddressInfo;
        const { boundary } = multipart(Buffer.alloc(0));
        const answer = await rawRequest(
          port,
          `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 1000000000\r\n\r\n`,
          Buffer.alloc(0),
          { endless: Buffer.alloc(64 * 1024, 0x61) },
        );
        expect(answer.status).toBe(413);
        expect(answer.text).toMatch(/ERR_IMAGE_TOO_LARGE/);
        expect(answer.text.toLowerCase()).toMatch(/connection: close/);
        expect(bytesRead()).toBeLessThan(4 * 1024 * 1024);
        expect(seen.handled).toBe(0);
        expect(setup.matcher().pending).toEqual({ running: 0, queued: 0 });
      });

      it('answers 413 to a chunked body whose file crosses maxBytes and closes the connection instead of reading on', async () => {
        const { server, seen } = await serve({ maxBytes: 100_000 });
        const bytesRead = countBytesRead(server);
        const { port } = server.address() as AddressInfo;
        const { boundary, body } = multipart(Buffer.alloc(0));
        // The head of the file part, then file bytes that never end.
        const head = body.subarray(0, body.indexOf('\r\n\r\n', body.indexOf('filename')) + 4);
        const answer = await rawRequest(
          port,
          `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nTransfer-Encoding: chunked\r\n\r\n`,
          head,
          { endless: Buffer.alloc(16 * 1024, 0xff), chunked: true },
        );
        expect(answer.status).toBe(413);
        expect(answer.text).toMatch(/ERR_IMAGE_TOO_LARGE/);
        expect(answer.text.toLowerCase()).toMatch(/connection: close/);
        expect(bytesRead()).toBeLessThan(100_000 + 4 * 1024 * 1024);
        expect(seen.handled).toBe(0);
      });

      it('answers 408 and closes a client that stalls mid-body within timeoutSeconds, and frees its slot', async () => {
        const { server, url, seen } = await serve({ timeoutSeconds: 1, maxInFlight: 1 });
        const { port } = server.address() as AddressInfo;
        const { boundary, body } = multipart(image(UNRELATED), { caption: 'stalls' });
        for (const cut of [40, body.length - 2000]) {
          const answer = await rawRequest(
            port,
            `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`,
            body.subarray(0, cut),
            { waitMs: 10_000 },
          );
          expect(answer.status, `cut at ${cut}`).toBe(408);
          expect(answer.text).toMatch(/ERR_IMAGE_TIMEOUT/);
          expect(answer.ms).toBeGreaterThanOrEqual(900);
          expect(answer.ms).toBeLessThan(5_000);
          // The one slot is free again: the next upload is checked, not refused with 503.
          const next = await upload(url, [{ bytes: image(UNRELATED) }]);
          expect(next.status).toBe(200);
        }
        expect(seen.handled).toBe(2);
      });

      it("takes maxInFlight from the matcher's concurrency + maxQueued: one request in hand there, the next gets 503", async () => {
        const { server, url } = await serve(
          { timeoutSeconds: 1 },
          await listedMatcher({ concurrency: 1, maxQueued: 0 }),
        );
        const { port } = server.address() as AddressInfo;
        const { boundary, body } = multipart(image(UNRELATED));
        const stalled = rawRequest(
          port,
          `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`,
          body.subarray(0, 100),
          { waitMs: 10_000 },
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        const refused = await upload(url, [{ bytes: image(UNRELATED) }]);
        expect([refused.status, refused.body.code, refused.headers.get('retry-after')]).toEqual([503, 'ERR_BUSY', '1']);
        expect((await stalled).status).toBe(408);
        expect((await upload(url, [{ bytes: image(UNRELATED) }])).status).toBe(200);
      });

      it('answers 64 concurrent uploads, never checking more than maxInFlight at once, the excess with 503 and Retry-After', async () => {
        // One upload at a time, of the larger vectors: the checks outlast the requests' arrival.
        const busy = await listedMatcher({ concurrency: 1 });
        const { url, seen } = await serve({ maxInFlight: 8 }, busy);
        let most = 0;
        const sample = setInterval(() => {
          const { running, queued } = busy.pending;
          most = Math.max(most, running + queued);
        }, 1);
        const unrelated = 'landscape-1600x1200.jpg';
        const files = Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? 'shapes-1024x768.jpg' : unrelated));
        let answers: Awaited<ReturnType<typeof upload>>[];
        try {
          answers = await Promise.all(files.map((file) => upload(url, [{ bytes: image(file) }])));
        } finally {
          clearInterval(sample);
        }
        let refused = 0;
        answers.forEach((answer, i) => {
          if (answer.status === 503) {
            refused++;
            expect(answer.headers.get('retry-after')).toBe('1');
            expect(answer.body.code).toBe('ERR_BUSY');
          } else expect(answer.status, files[i]).toBe(files[i] === unrelated ? 200 : 403);
        });
        expect(refused).toBeGreaterThan(0);
        expect(refused).toBeLessThan(64);
        expect(most).toBeGreaterThan(0);
        expect(most).toBeLessThanOrEqual(8);
        expect(seen.handled + seen.hooked.length + refused).toBe(64);
      }, 30_000);
    });
  }

  describe(`${name}: options`, () => {
    it('answers a blocked upload with the configured response, or hands it to the handler with passMatched', async () => {
      const custom = await serve({ blockedResponse: { status: 451, body: 'no', headers: { 'x-reason': 'policy' } } });
      const answer = await upload(custom.url, [{ bytes: image(LISTED[0]) }]);
      expect([answer.status, answer.body.text, answer.headers.get('x-reason')]).toEqual([451, 'no', 'policy']);
      const passed = await serve({ passMatched: true });
      const through = await upload(passed.url, [{ bytes: image(LISTED[0]) }]);
      expect([through.status, through.body.outcome]).toEqual([200, 'matched']);
      expect(passed.seen.hooked).toHaveLength(1);
    });

    it("answers the matcher's own ERR_BUSY with 503, and with failOpen hands the upload over whole as unchecked", async () => {
      const busy = await listedMatcher({ concurrency: 1, maxQueued: 0 });
      // Another caller of the matcher holds its one slot: a stream that sends nothing yet.
      const holder = new PassThrough();
      const held = busy.matchImage(holder).catch((error: unknown) => error);
      const bytes = image(UNRELATED);
      const closed = await serve({ maxInFlight: 4 }, busy);
      const refused = await upload(closed.url, [{ bytes }]);
      expect([refused.status, refused.body.code, refused.headers.get('retry-after')]).toEqual([503, 'ERR_BUSY', '1']);
      const open = await serve({ maxInFlight: 4, failOpen: true }, busy);
      const passed = await upload(open.url, [{ bytes }]);
      expect(passed.status).toBe(200);
      expect(passed.body).toMatchObject({
        outcome: 'unchecked',
        error: 'ERR_BUSY',
        size: bytes.length,
        sha256: sha256(bytes),
      });
      holder.end(image(LISTED[0]));
      expect(await held).toMatchObject({ matched: true });
    });

    it("takes maxBytes from the matcher's image.maxBytes", async () => {
      const { url, seen } = await serve({}, await listedMatcher({ image: { maxBytes: 20_000 } }));
      const large = await upload(url, [{ bytes: image('shapes-1024x768.jpg') }]);
      expect([large.status, large.body.code]).toEqual([413, 'ERR_IMAGE_TOO_LARGE']);
      expect((await upload(url, [{ bytes: image(UNRELATED) }])).status).toBe(200);
      expect(seen.handled).toBe(1);
    });

    it('sends the request to the error path, not the handler, when onMatch throws', async () => {
      const { url, seen } = await serve({
        onMatch: () => {
          throw new Error('report store down');
        },
      });
      const answer = await upload(url, [{ bytes: image(LISTED[0]) }]);
      expect(answer.status).toBe(500);
      expect(seen.handled).toBe(0);
    });
  });
}
