/**
 * Uploads through the sidecar, over real HTTP on 127.0.0.1 with undici's fetch and FormData:
 * POST /m/lookup and POST /h/hash (multipart, HMA's field name = content type, `photo`), the
 * hostile corpus giving the same codes as in-process `matchImage`, the byte limit (413), the bound
 * on requests in flight (503), and `?url=` fetching: off by default, on for allowed hosts only.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostileEntry } from '../../test-vectors/hostile.js';
import { hashImage } from '../image/index.js';
import { HashwardenError, Matcher, type ImageMatchResult } from '../index.js';
import { createServer, type Sidecar } from './index.js';

const IMAGES = fileURLToPath(new URL('../../test-vectors/images/', import.meta.url));
const HOSTILE = fileURLToPath(new URL('../../test-vectors/hostile/', import.meta.url));
const image = (name: string): Buffer => readFileSync(join(IMAGES, name));
const LISTED = image('terrain-333x250.jpg');
const EDITED = image('terrain-333x250--jpeg60.jpg');
const UNRELATED = image('shapes-200x150.png');

let matcher: Matcher;
const sidecars: Sidecar[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  const { hashes } = await hashImage(LISTED, { algorithms: ['pdq', 'blockhash', 'md5'] });
  matcher = Matcher.fromEntries(
    [
      { list: 'TEST_BANK', id: '1', algorithm: 'pdq', hash: hashes.pdq as string },
      { list: 'TEST_BANK', id: '2', algorithm: 'blockhash', hash: hashes.blockhash as string },
      { list: 'EXACT', id: 'file-3', algorithm: 'md5', hash: hashes.md5 as string },
    ],
    { lists: [{ name: 'TEST_BANK' }, { name: 'EXACT' }] },
  );
});

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

async function start(options: Partial<Parameters<typeof createServer>[0]> = {}): Promise<string> {
  const sidecar = await createServer({ matcher, logger: false, ...options });
  sidecars.push(sidecar);
  return sidecar.listen({ port: 0 });
}

function form(bytes: Uint8Array, field = 'photo'): FormData {
  const body = new FormData();
  body.append(field, new Blob([bytes]), 'upload.bin');
  return body;
}

const post = (url: string, body: FormData) => fetch(url, { method: 'POST', body });

/** What HMA's POST /m/lookup answers for an in-process result: signal type → bank → matches. */
function expectedLookup(result: ImageMatchResult): Record<string, Record<string, unknown[]>> {
  const out: Record<string, Record<string, unknown[]>> = {};
  for (const name of Object.keys(result.hashes)) out[name] = {};
  for (const m of result.matches) {
    const id = /^\d+$/.test(m.entryId) ? Number(m.entryId) : m.entryId;
    (out[m.algorithm]![m.list] ??= []).push({ bank_content_id: id, distance: String(m.distance) });
  }
  return out;
}

describe('POST /m/lookup', () => {
  let base: string;
  beforeAll(async () => {
    base = await start();
  });

  it("answers a listed, an edited and an unrelated image as in-process matchImage does, in HMA's shape", async () => {
    // matching.py lookup_post: {"pdq": {"TEST_BANK": [{"bank_content_id": 1, "distance": "0"}]}} (api.md "Hashing and matching")
    for (const [bytes, matched] of [
      [LISTED, true],
      [EDITED, true],
      [UNRELATED, false],
    ] as const) {
      const response = await post(`${base}/m/lookup`, form(bytes));
      expect(response.status).toBe(200);
      const local = await matcher.matchImage(bytes);
      expect(local.matched).toBe(matched);
      expect(await response.json()).toEqual(expectedLookup(local));
      expect(response.headers.get('x-hashwarden-checked')).toBe('true');
      expect(response.headers.get('x-hashwarden-quality')).toBe(`pdq=${local.quality.pdq}`);
    }
    const listed = (await (await post(`${base}/m/lookup`, form(LISTED))).json()) as Record<string, unknown>;
    expect(listed.md5).toEqual({ EXACT: [{ bank_content_id: 'file-3', distance: '0' }] });
    expect(listed.pdq).toEqual({ TEST_BANK: [{ bank_content_id: 1, distance: '0' }] });
  });

  it('gives every hostile-corpus file the code in-process matchImage gives it', async () => {
    const manifest = JSON.parse(readFileSync(join(HOSTILE, 'manifest.json'), 'utf8')) as { files: HostileEntry[] };
    const outcomes: Array<[string, string, string]> = [];
    for (const entry of manifest.files) {
      const bytes = readFileSync(join(HOSTILE, entry.file));
      let local: string;
      try {
        const result = await matcher.matchImage(bytes);
        local = result.matched ? 'matched' : result.checked ? 'clean' : 'ERR_NOT_CHECKED';
      } catch (error) {
        local = error instanceof HashwardenError ? error.code : `untyped ${String(error)}`;
      }
      const response = await post(`${base}/m/lookup`, form(bytes));
      const body = (await response.json()) as { code?: string; pdq?: Record<string, unknown> };
      const remote =
        response.status === 200
          ? Object.values(body).some((b) => Object.keys(b as object).length > 0)
            ? 'matched'
            : 'clean'
          : String(body.code);
      // Never an empty "no match" for an upload that was not checked.
      if (response.status === 200) expect(response.headers.get('x-hashwarden-checked')).toBe('true');
      outcomes.push([entry.file, local, remote]);
    }
    expect(outcomes.filter(([, local, remote]) => local !== remote)).toEqual([]);
    // The corpus holds refusals of each kind, and each has its status.
    expect(new Set(outcomes.map(([, local]) => local))).toEqual(
      new Set([
        'clean',
        'matched',
        'ERR_IMAGE_DECODE',
        'ERR_UNSUPPORTED_FORMAT',
        'ERR_IMAGE_TOO_LARGE',
        'ERR_NOT_CHECKED',
      ]),
    );
  }, 60_000);

  it('answers an upload that could not be checked 422 ERR_NOT_CHECKED with why, never an empty match', async () => {
    const blank = readFileSync(join(IMAGES, 'flat-grey-64x64.png'));
    const local = await matcher.matchImage(blank);
    expect(local.checked).toBe(false);
    const response = await post(`${base}/m/lookup`, form(blank));
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({
      message: expect.any(String),
      code: 'ERR_NOT_CHECKED',
      unusable: local.unusable,
      quality: local.quality,
    });
    expect(response.headers.get('x-hashwarden-checked')).toBe('false');
  });

  it('counts each upload once in hashwarden_uploads_total, by outcome and code', async () => {
    const own = await start();
    await post(`${own}/m/lookup`, form(readFileSync(join(IMAGES, 'flat-grey-64x64.png'))));
    await post(`${own}/m/lookup`, form(LISTED));
    await post(`${own}/m/lookup`, form(UNRELATED));
    await post(`${own}/m/lookup`, form(Buffer.from('not an image')));
    const metrics = await (await fetch(`${own}/metrics`)).text();
    const uploads = metrics.split('\n').filter((l) => l.startsWith('hashwarden_uploads_total{'));
    expect(uploads.sort()).toEqual([
      'hashwarden_uploads_total{outcome="clean",code=""} 1',
      'hashwarden_uploads_total{outcome="matched",code=""} 1',
      'hashwarden_uploads_total{outcome="unchecked",code="ERR_NOT_CHECKED"} 1',
      'hashwarden_uploads_total{outcome="unchecked",code="ERR_UNSUPPORTED_FORMAT"} 1',
    ]);
  });

  it('refuses what is not one photo file as HMA does (400)', async () => {
    // hashing.py hash_media_from_form_data: "Missing multipart/form-data file upload",
    // "Only one file allowed per request", _lookup_content_type: "no such content_type: 'video'"
    const two = form(LISTED);
    two.append('photo', new Blob([EDITED]), 'second.jpg');
    const none = new FormData();
    none.append('note', 'no file');
    for (const [body, message] of [
      [form(LISTED, 'video'), "no such content_type: 'video'"],
      [two, 'Only one file allowed per request'],
      [none, 'Missing multipart/form-data file upload'],
    ] as const) {
      const response = await post(`${base}/m/lookup`, body);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ message });
    }
    const json = await fetch(`${base}/m/lookup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(400);
  });
});

describe('POST /h/hash', () => {
  it('answers the hashes hashImage gives, by algorithm name, or only the types asked', async () => {
    // api.md "Hashing content by bytes": {"pdq":"d811ac39…"} (hashing.py hash_media_post → HashResponse)
    const base = await start();
    const response = await post(`${base}/h/hash`, form(EDITED));
    expect(response.status).toBe(200);
    const local = await hashImage(EDITED);
    expect(await response.json()).toEqual(local.hashes);
    expect(response.headers.get('x-hashwarden-quality')).toBe(`pdq=${local.quality.pdq}`);
    expect(await (await post(`${base}/h/hash?types=pdq,md5`, form(EDITED))).json()).toEqual({
      pdq: local.hashes.pdq,
      md5: local.hashes.md5,
    });
    const bogus = await post(`${base}/h/hash?types=tmk`, form(EDITED));
    expect(bogus.status).toBe(400);
    expect(await bogus.json()).toEqual({ message: "signal type 'tmk' doesn't exist or is disabled" });
  });
});

describe('limits', () => {
  it('answers an upload over maxBytes 413 ERR_IMAGE_TOO_LARGE, from its declared length or while it is read', async () => {
    const base = await start({ maxBytes: UNRELATED.length - 1 });
    // Within the multipart allowance: refused by the matcher as the file streams in.
    const streamed = await post(`${base}/m/lookup`, form(UNRELATED));
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ code: 'ERR_IMAGE_TOO_LARGE' });
    // Declared far above the limit: refused before the body is read.
    const declared = await post(`${base}/h/hash`, form(new Uint8Array(UNRELATED.length + 128 * 1024)));
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ code: 'ERR_IMAGE_TOO_LARGE' });
    // At the limit exactly, an upload is taken.
    const base2 = await start({ maxBytes: UNRELATED.length });
    expect((await post(`${base2}/m/lookup`, form(UNRELATED))).status).toBe(200);
  });

  it('answers 503 with Retry-After beyond maxInFlight requests, and serves again once one finishes', async () => {
    const base = await start({ maxInFlight: 1 });
    // An upload whose body stalls after its first bytes holds the one slot.
    let release: () => void = () => {};
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        const boundary = '--x';
        controller.enqueue(
          Buffer.from(`${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n`),
        );
        controller.enqueue(UNRELATED.subarray(0, 100));
        release = () => {
          controller.enqueue(UNRELATED.subarray(100));
          controller.enqueue(Buffer.from(`\r\n${boundary}--\r\n`));
          controller.close();
        };
      },
    });
    const held = fetch(`${base}/m/lookup`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: stalled,
      duplex: 'half',
    } as RequestInit);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await fetch(`${base}/m/lookup?signal_type=pdq&signal=${'0'.repeat(64)}`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ code: 'ERR_BUSY' });
    // Probes are never refused.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    release();
    expect((await held).status).toBe(200);
    expect((await fetch(`${base}/m/lookup?signal_type=pdq&signal=${'0'.repeat(64)}`)).status).toBe(200);
  });
});

describe('?url= fetching', () => {
  let files: string;
  beforeAll(async () => {
    const server = createHttpServer((request, response) => {
      const path = request.url ?? '/';
      if (path === '/edited.jpg') response.writeHead(200, { 'content-type': 'image/jpeg' }).end(EDITED);
      else if (path === '/redirect-in') response.writeHead(302, { location: '/edited.jpg' }).end();
      else if (path === '/redirect-out') {
        const port = (server.address() as AddressInfo).port;
        response.writeHead(302, { location: `http://localhost:${port}/edited.jpg` }).end();
      } else if (path === '/text') response.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
      else response.writeHead(404).end();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    files = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  it('is off by default: 403 that says so', async () => {
    const base = await start();
    for (const path of ['/h/hash', '/m/lookup']) {
      const response = await fetch(`${base}${path}?url=${encodeURIComponent(`${files}/edited.jpg`)}`);
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({
        code: 'ERR_URL_FETCH_OFF',
        message: expect.stringMatching(/--allow-url-host/),
      });
    }
  });

  it('fetches from an allowed host (redirects on it followed) and refuses another host or a redirect off the list', async () => {
    const base = await start({ allowUrlHosts: ['127.0.0.1'] });
    const get = (path: string) => fetch(`${base}${path}`);
    const url = (p: string) => encodeURIComponent(`${files}${p}`);
    // hashing.py hash_media → HashResponse; matching.py lookup_get with url: by signal type, or
    // "If Signal Type is given, the outer JSON object is elided".
    const hashed = await get(`/h/hash?url=${url('/edited.jpg')}`);
    expect(hashed.status).toBe(200);
    expect(await hashed.json()).toEqual((await hashImage(EDITED)).hashes);
    expect(await (await get(`/h/hash?url=${url('/redirect-in')}&types=pdq`)).json()).toEqual({
      pdq: (await hashImage(EDITED)).hashes.pdq,
    });
    const expected = expectedLookup(await matcher.matchImage(EDITED));
    expect(await (await get(`/m/lookup?url=${url('/edited.jpg')}`)).json()).toEqual(expected);
    expect(await (await get(`/m/lookup?url=${url('/edited.jpg')}&signal_type=pdq`)).json()).toEqual(expected.pdq);
    // hashing.py is_valid_url → 400 "Invalid or unsafe URL provided"
    const port = new URL(files).port;
    for (const path of [
      `/h/hash?url=${encodeURIComponent(`http://localhost:${port}/edited.jpg`)}`,
      `/h/hash?url=${url('/redirect-out')}`,
      `/h/hash?url=${encodeURIComponent(`file:///etc/passwd`)}`,
    ]) {
      const refused = await get(path);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { message: string }).message).toMatch(/^Invalid or unsafe URL provided/);
    }
    expect((await get(`/h/hash?url=${url('/text')}`)).status).toBe(400);
    expect((await get(`/h/hash?url=${url('/missing')}`)).status).toBe(400);
  });

  it('refuses a fetched body over maxBytes with 413', async () => {
    const base = await start({ allowUrlHosts: ['127.0.0.1'], maxBytes: 1000 });
    const response = await fetch(`${base}/h/hash?url=${encodeURIComponent(`${files}/edited.jpg`)}`);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'ERR_IMAGE_TOO_LARGE' });
  });
});
