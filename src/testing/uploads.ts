/**
 * What the upload-guard tests of every adapter share (`hashwarden/express`, `/fastify`, `/web`):
 * a matcher over listed test vectors, uploads with `fetch` + `FormData`, the hostile corpus's
 * in-process outcomes, raw `node:net` requests (a stalled client, an endless chunked body), and
 * the bytes a server read from its sockets. Real HTTP on 127.0.0.1, nothing mocked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { HashwardenError } from '../errors.js';
import { hashImage } from '../image/index.js';
import { Matcher } from '../matcher/matcher.js';
import type { MatcherOptions } from '../matcher/types.js';

export const IMAGES = fileURLToPath(new URL('../../test-vectors/images/', import.meta.url));
export const HOSTILE = fileURLToPath(new URL('../../test-vectors/hostile/', import.meta.url));

/** Originals on the test list (mosaic: the image the hostile corpus's animations hide). */
export const LISTED = ['blobs-640x480.jpg', 'shapes-1024x768.jpg', 'mosaic-400x300.jpg'] as const;
/** An image on no list. */
export const UNRELATED = 'terrain-333x250.jpg';

const manifest = JSON.parse(readFileSync(join(IMAGES, '..', 'manifest.json'), 'utf8')) as {
  images: { file: string; kind: string }[];
};

/** The edited copies (test-vectors/manifest.json: resized, re-encoded, watermarked…) of a listed original. */
export function editsOf(original: string): string[] {
  const stem = original.replace(/\.[a-z]+$/, '');
  return manifest.images.filter((i) => i.kind === 'edit' && i.file.startsWith(`${stem}--`)).map((i) => i.file);
}

export const image = (file: string): Buffer => readFileSync(join(IMAGES, file));

/** A matcher over the {@link LISTED} images' blockhash, PDQ and SHA-256, hashed by `hashImage` here. */
export async function listedMatcher(options?: MatcherOptions): Promise<Matcher> {
  const entries = [];
  for (const file of LISTED) {
    const { hashes } = await hashImage(join(IMAGES, file), { algorithms: ['blockhash', 'pdq', 'sha256'] });
    for (const [algorithm, hash] of Object.entries(hashes))
      entries.push({ id: file, list: 'test-list', algorithm, hash: hash as string });
  }
  return Matcher.fromEntries(entries, options);
}

/** A file to upload: its bytes, the field and name it is sent under. */
export interface Part {
  readonly bytes: Uint8Array;
  readonly field?: string;
  readonly name?: string;
  readonly type?: string;
}

/** An answer: status, headers, the body parsed as JSON (text when it is not JSON). */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: { code?: string; error?: string; [key: string]: unknown } & Record<string, unknown>;
}

/** POSTs `files` (and text `fields`) as `multipart/form-data` with the global `fetch` and `FormData`. */
export async function upload(
  url: string,
  files: readonly Part[],
  fields: Record<string, string> = {},
): Promise<Answer> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const f of files)
    form.append(f.field ?? 'image', new Blob([f.bytes], { type: f.type ?? 'image/jpeg' }), f.name ?? 'upload.jpg');
  const response = await fetch(url, { method: 'POST', body: form });
  const text = await response.text();
  let body: Answer['body'];
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: response.status, headers: response.headers, body };
}

/** `http://127.0.0.1:port` of a listening server. */
export function origin(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Counts the bytes a server read from every socket it accepted (open or closed). */
export function countBytesRead(server: Server): () => number {
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(socket));
  return () => sockets.reduce((n, s) => n + s.bytesRead, 0);
}

/** What the in-process `matchImage(path)` gave for one hostile file. */
export interface HostileCase {
  readonly file: string;
  readonly bytes: Buffer;
  /** Its error's code, or `undefined` when it resolved. */
  readonly code: string | undefined;
  readonly matched: boolean;
  readonly checked: boolean;
}

/** Every file of the hostile corpus with the outcome of `matcher.matchImage(path)` in process. */
export async function hostileCases(matcher: Matcher): Promise<HostileCase[]> {
  const files = readdirSync(HOSTILE).filter((f) => f !== 'manifest.json');
  const cases: HostileCase[] = [];
  for (const file of files) {
    const path = join(HOSTILE, file);
    const bytes = readFileSync(path);
    try {
      const result = await matcher.matchImage(path);
      cases.push({ file, bytes, code: undefined, matched: result.matched, checked: result.checked });
    } catch (error) {
      if (!(error instanceof HashwardenError)) throw error;
      cases.push({ file, bytes, code: error.code, matched: false, checked: false });
    }
  }
  return cases;
}

/**
 * Checks one hostile file's answer over HTTP against its in-process outcome, with the guard's
 * defaults: the same code in the body, a match blocked, a clean upload let through, a result not
 * checked refused as `ERR_NOT_CHECKED`. With `failOpen`, every upload the matcher could not check
 * reaches the handler (200) as `unchecked`.
 */
export function expectHostileAnswer(c: HostileCase, answer: Answer, failOpen: boolean): void {
  const where = `${c.file}: ${JSON.stringify(answer.body).slice(0, 200)}`;
  if (c.matched) {
    expect(answer.status, where).toBe(403);
    return;
  }
  if (failOpen || (c.code === undefined && c.checked)) {
    expect(answer.status, where).toBe(200);
    expect(answer.body.outcome, where).toBe(c.code === undefined && c.checked ? 'clean' : 'unchecked');
    expect(answer.body.error, where).toBe(c.code ?? (c.checked ? undefined : 'ERR_NOT_CHECKED'));
    return;
  }
  expect(answer.body.code, where).toBe(c.code ?? 'ERR_NOT_CHECKED');
  expect(answer.status, where).toBe(
    c.code === 'ERR_IMAGE_TOO_LARGE'
      ? 413
      : c.code === 'ERR_IMAGE_TIMEOUT'
        ? 408
        : c.code === 'ERR_UNSUPPORTED_FORMAT'
          ? 415
          : 422,
  );
}

/** A multipart body: `fields`, then one file part of `bytes`; with the boundary it uses. */
export function multipart(bytes: Uint8Array, fields: Record<string, string> = {}): { boundary: string; body: Buffer } {
  const boundary = '----hashwarden-test-boundary';
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields))
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    ),
    Buffer.from(bytes),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { boundary, body: Buffer.concat(parts) };
}

/** What a raw request got: the status line's code (0: none), the whole answer as text, the time to it. */
export interface RawAnswer {
  readonly status: number;
  readonly text: string;
  /** Milliseconds from the request's first byte to the server's end of the connection. */
  readonly ms: number;
}

/**
 * Sends `head` (the request line and headers) and `body` over a raw socket, then, with `endless`,
 * keeps sending `endless` chunks (as a chunked body's chunks when the head says so) until the server
 * answers; without, waits. Resolves when the server closes the connection, with what it answered,
 * or after `waitMs` (then `ms` is that wait).
 */
export function rawRequest(
  port: number,
  head: string,
  body: Buffer,
  options: { endless?: Buffer; chunked?: boolean; waitMs?: number } = {},
): Promise<RawAnswer> {
  const start = Date.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text, ms: Date.now() - start });
    };
    const timer = setTimeout(finish, options.waitMs ?? 30_000);
    const frame = (chunk: Buffer) =>
      options.chunked
        ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
        : chunk;
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('end', finish);
    socket.write(head);
    if (body.length > 0) socket.write(frame(body));
    const endless = options.endless;
    if (endless === undefined) return;
    const pump = () => {
      // Until the server answers: a client that sends no end.
      while (!done && received.length === 0 && socket.writable) if (!socket.write(frame(endless))) return;
    };
    socket.on('drain', pump);
    pump();
  });
}

/**
 * Serves a fetch-style `handler` (a Next.js route's `POST`) over node:http on 127.0.0.1, as a
 * framework does: each request handed over as a web `Request` whose body streams from the socket
 * (pulled, so the socket is read only as fast as the handler reads), each `Response` written back.
 * Cancelling the body stops reading the socket without destroying it, so a refusal still reaches
 * the client before the connection closes.
 */
export async function serveWeb(handler: (request: Request) => Promise<Response>): Promise<Server> {
  const server = createServer(async (req, res) => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        req.on('data', (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk));
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.on('end', () => controller.close());
        req.on('error', (error) => controller.error(error));
        req.pause();
      },
      pull: () => {
        req.resume();
      },
      cancel: () => {
        req.pause();
      },
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: req.method,
      headers,
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body, duplex: 'half' }),
    } as RequestInit);
    try {
      const response = await handler(request);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain', connection: 'close' });
      res.end(String(error));
    }
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server;
}
