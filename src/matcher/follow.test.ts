/**
 * Matcher.follow against a real HTTP server on 127.0.0.1 serving a sequence of snapshots (good,
 * newer, truncated, tampered, slow, failing, unchanged), and against a local path: every refusal
 * keeps the previous lists serving and reports its code, and no call ever sees a mix of versions.
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { hashImage } from '../image/index.js';
import { type ListEntry, normalizeEntry } from '../lists/entry.js';
import { writeSnapshot } from '../snapshot/write.js';
import { fetchSnapshot } from './fetch.js';
import type { ReloadEvent } from './follow.js';
import { Matcher } from './matcher.js';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return error instanceof HashwardenError ? error.code : `not a HashwardenError: ${String(error)}`;
  }
  return undefined;
}

let dir: string;
/** Snapshot bytes by version: version n holds list `l` at version n, entries `v<n>-…`. */
const snapshots = new Map<number, Buffer>();
/** The upload the mix test matches, and its md5 and blockhash, listed in every version under its own ids. */
const upload = fileURLToPath(new URL('../../test-vectors/images/mosaic-400x300.jpg', import.meta.url));
let uploadHashes: { md5: string; blockhash: string };

function entriesOf(version: number): ListEntry[] {
  return [
    { id: `v${version}-md5`, list: 'l', algorithm: 'md5', hash: uploadHashes.md5 },
    { id: `v${version}-blockhash`, list: 'l', algorithm: 'blockhash', hash: uploadHashes.blockhash },
    { id: `v${version}-only`, list: 'l', algorithm: 'md5', hash: md5(`only in version ${version}`) },
  ].map((e) => normalizeEntry(e));
}

async function snapshotBytes(version: number): Promise<Buffer> {
  let bytes = snapshots.get(version);
  if (bytes === undefined) {
    const path = join(dir, `v${version}.snap`);
    // The sequence is the version: a lower version served after a higher one is a rollback.
    await writeSnapshot(path, { lists: [{ name: 'l', version }], entries: entriesOf(version), sequence: version });
    bytes = await readFile(path);
    snapshots.set(version, bytes);
  }
  return bytes;
}

/** What the server answers next: a function of the request, swapped by each test. */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler;
let server: Server;
let base: string;
const requests: IncomingMessage[] = [];

/** Serves `body` with an ETag, answering 304 to a request that already holds it. */
function serve(body: Buffer, etag: string): Handler {
  return (req, res) => {
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { etag, 'content-length': body.length, 'content-type': 'application/octet-stream' }).end(body);
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-follow-test-'));
  const hashed = await hashImage(upload, { algorithms: ['md5', 'blockhash'] });
  uploadHashes = { md5: hashed.hashes.md5 as string, blockhash: hashed.hashes.blockhash as string };
  server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const open: Matcher[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
  requests.length = 0;
});

/** A followed matcher on the server, polled by hand (no timer), recording its events. */
async function follow(
  options: Parameters<typeof Matcher.follow>[1] = {},
): Promise<{ matcher: Matcher; events: ReloadEvent[]; cacheDir: string }> {
  const events: ReloadEvent[] = [];
  const cacheDir = await mkdtemp(join(dir, 'cache-'));
  const matcher = await Matcher.follow(`${base}/lists.snap?X-Signature=secret`, {
    intervalMs: 0,
    cacheDir,
    onReload: (e) => events.push(e),
    ...options,
  });
  open.push(matcher);
  return { matcher, events, cacheDir };
}

const versionOf = (m: Matcher): number | undefined => m.lists[0]?.version;
const onlyHit = (m: Matcher, version: number) =>
  m.matchHash({ algorithm: 'md5', hash: md5(`only in version ${version}`) }).length;

describe('Matcher.follow over HTTP', () => {
  it('loads the snapshot served, then swaps in a new one, and a 304 changes nothing', async () => {
    handler = serve(await snapshotBytes(1), '"v1"');
    const { matcher, events } = await follow();
    expect(versionOf(matcher)).toBe(1);
    expect(onlyHit(matcher, 1)).toBe(1);

    expect(await matcher.reload()).toBe(false);
    expect(requests.at(-1)?.headers['if-none-match']).toBe('"v1"');
    expect(events.at(-1)).toMatchObject({ ok: true, changed: false });

    handler = serve(await snapshotBytes(2), '"v2"');
    expect(await matcher.reload()).toBe(true);
    expect(versionOf(matcher)).toBe(2);
    expect(onlyHit(matcher, 1)).toBe(0);
    expect(onlyHit(matcher, 2)).toBe(1);
    const last = events.at(-1);
    expect(last).toMatchObject({ ok: true, changed: true, size: 3 });
    expect(last?.ok === true && last.lists[0]?.version).toBe(2);
    // The query of the URL (a presigned URL's credential) is kept out of events and messages.
    expect(last?.source).toBe(`${base}/lists.snap`);
  });

  it('sends If-Modified-Since when the server gives Last-Modified and no ETag', async () => {
    const modified = 'Sun, 06 Dec 2026 06:00:00 GMT';
    const body = await snapshotBytes(1);
    handler = (req, res) => {
      if (req.headers['if-modified-since'] === modified) res.writeHead(304).end();
      else res.writeHead(200, { 'last-modified': modified }).end(body);
    };
    const { matcher } = await follow();
    expect(await matcher.reload()).toBe(false);
    expect(requests.at(-1)?.headers['if-modified-since']).toBe(modified);
  });

  it('keeps serving and reports the code of each refusal: truncated, tampered, 500, 404, slow, too large', async () => {
    handler = serve(await snapshotBytes(1), '"v1"');
    const { matcher, events } = await follow({ timeoutMs: 400, maxSnapshotBytes: 64 * 1024 });
    const good = await snapshotBytes(2);
    const tampered = Buffer.from(good);
    tampered[tampered.length - 8] = (tampered[tampered.length - 8] as number) ^ 0x10;
    const slow: Handler = (_req, res) => {
      res.writeHead(200, { 'content-length': good.length });
      res.write(good.subarray(0, 100)); // and never the rest
    };
    const cases: [string, Handler, string][] = [
      ['truncated', serve(good.subarray(0, good.length - 100), '"cut"'), 'ERR_SNAPSHOT_TRUNCATED'],
      ['tampered', serve(tampered, '"tampered"'), 'ERR_SNAPSHOT_CORRUPT'],
      ['500', (_req, res) => res.writeHead(500).end('oops'), 'ERR_SOURCE_FETCH'],
      ['404', (_req, res) => res.writeHead(404).end(), 'ERR_SOURCE_FETCH'],
      ['slow body', slow, 'ERR_SOURCE_FETCH'],
      ['no headers', () => undefined, 'ERR_SOURCE_FETCH'],
      [
        'declared too large',
        (_req, res) => res.writeHead(200, { 'content-length': 1 << 20 }).end(),
        'ERR_SOURCE_FETCH',
      ],
      [
        'too large, undeclared',
        (_req, res) => {
          res.writeHead(200, { 'transfer-encoding': 'chunked' });
          for (let i = 0; i < 100; i++) res.write(Buffer.alloc(1024));
          res.end();
        },
        'ERR_SOURCE_FETCH',
      ],
    ];
    for (const [name, respond, code] of cases) {
      handler = respond;
      expect(await codeOf(matcher.reload()), name).toBe(code);
      expect(versionOf(matcher), name).toBe(1);
      expect(onlyHit(matcher, 1), name).toBe(1);
      expect(events.at(-1), name).toMatchObject({ ok: false, code });
    }
    // The polling goes on: the next good snapshot is taken.
    handler = serve(good, '"v2"');
    expect(await matcher.reload()).toBe(true);
    expect(versionOf(matcher)).toBe(2);
  });

  it('reports an unreachable server as ERR_SOURCE_FETCH', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await codeOf(Matcher.follow(`http://127.0.0.1:${port}/lists.snap`, { intervalMs: 0 }))).toBe(
      'ERR_SOURCE_FETCH',
    );
  });

  it('does not download or read a refused snapshot again while the source still holds it, and says so at each check', async () => {
    handler = serve(await snapshotBytes(1), '"v1"');
    const { matcher, events } = await follow();
    const tampered = Buffer.from(await snapshotBytes(2));
    tampered[tampered.length - 8] = (tampered[tampered.length - 8] as number) ^ 0x10;
    let bodies = 0;
    const tamperedServed = serve(tampered, '"tampered"');
    handler = (req, res) => {
      if (req.headers['if-none-match'] !== '"tampered"') bodies++;
      tamperedServed(req, res);
    };
    expect(await codeOf(matcher.reload())).toBe('ERR_SNAPSHOT_CORRUPT');
    expect(await codeOf(matcher.reload())).toBe('ERR_SNAPSHOT_CORRUPT');
    expect(requests.at(-1)?.headers['if-none-match']).toBe('"tampered"');
    expect(bodies).toBe(1);
    expect(events.slice(-2).map((e) => e.ok === false && e.code)).toEqual([
      'ERR_SNAPSHOT_CORRUPT',
      'ERR_SNAPSHOT_CORRUPT',
    ]);
    expect(versionOf(matcher)).toBe(1);
  });

  it('takes the same bytes served under a new ETag as unchanged', async () => {
    const body = await snapshotBytes(1);
    handler = serve(body, '"a"');
    const { matcher, events } = await follow();
    handler = serve(body, '"b"');
    expect(await matcher.reload()).toBe(false);
    expect(events.at(-1)).toMatchObject({ ok: true, changed: false });
    expect(await matcher.reload()).toBe(false);
    expect(requests.at(-1)?.headers['if-none-match']).toBe('"b"');
  });

  it('refuses a first snapshot that cannot be fetched or read, leaving no download behind', async () => {
    const cacheDir = await mkdtemp(join(dir, 'cache-'));
    handler = (_req, res) => res.writeHead(503).end();
    expect(await codeOf(Matcher.follow(`${base}/x.snap`, { intervalMs: 0, cacheDir }))).toBe('ERR_SOURCE_FETCH');
    handler = (_req, res) => res.writeHead(304).end();
    expect(await codeOf(Matcher.follow(`${base}/x.snap`, { intervalMs: 0, cacheDir }))).toBe('ERR_SOURCE_FETCH');
    handler = serve((await snapshotBytes(1)).subarray(0, 200), '"cut"');
    expect(await codeOf(Matcher.follow(`${base}/x.snap`, { intervalMs: 0, cacheDir }))).toBe('ERR_SNAPSHOT_TRUNCATED');
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('refuses an empty snapshot with ERR_NO_ENTRIES, unless allowEmpty', async () => {
    const path = join(dir, 'empty.snap');
    await writeSnapshot(path, { lists: [{ name: 'l', version: 9 }], entries: [] });
    handler = serve(await readFile(path), '"empty"');
    expect(await codeOf(Matcher.follow(`${base}/x.snap`, { intervalMs: 0 }))).toBe('ERR_NO_ENTRIES');
    const { matcher } = await follow({ allowEmpty: true });
    expect(matcher.size).toBe(0);
  });

  it('polls on its timer and reports each check; close() stops the polling and removes the downloads', async () => {
    handler = serve(await snapshotBytes(1), '"v1"');
    const events: ReloadEvent[] = [];
    const cacheDir = await mkdtemp(join(dir, 'cache-'));
    const matcher = await Matcher.follow(`${base}/lists.snap`, {
      intervalMs: 20,
      cacheDir,
      onReload: (e) => events.push(e),
    });
    open.push(matcher);
    expect((await readdir(cacheDir)).length).toBe(1); // the owner-only download directory
    handler = serve(await snapshotBytes(2), '"v2"');
    const deadline = Date.now() + 10_000;
    while (versionOf(matcher) !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(versionOf(matcher)).toBe(2);
    expect(events.some((e) => e.ok && e.changed)).toBe(true);
    await matcher.close();
    expect(await readdir(cacheDir)).toEqual([]);
    const seen = requests.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(requests.length).toBe(seen);
    expect(await codeOf(matcher.reload())).toBe('ERR_SOURCE_FETCH');
    // It still matches, on the lists it held.
    expect(onlyHit(matcher, 2)).toBe(1);
  });

  it('close() abandons a download in progress without reporting it', async () => {
    handler = serve(await snapshotBytes(1), '"v1"');
    const { matcher, events, cacheDir } = await follow();
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(Buffer.alloc(100)); // and hangs
    };
    const reload = matcher.reload();
    while (requests.length < 2) await new Promise((r) => setTimeout(r, 5));
    const before = events.length;
    await matcher.close();
    expect(await codeOf(reload)).toBe('ERR_SOURCE_FETCH');
    expect(events.length).toBe(before);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('keeps polling when onReload throws', async () => {
    handler = serve(await snapshotBytes(1), '"v1"');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const { matcher } = await follow({
        onReload: () => {
          throw new Error('callback bug');
        },
      });
      handler = serve(await snapshotBytes(2), '"v2"');
      expect(await matcher.reload()).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(warnings.some((w) => w.includes('callback bug'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('every call is answered from one version while swaps happen (matchHash, matchImage)', async () => {
    handler = serve(await snapshotBytes(1), '"v1"');
    // Back and forth between two snapshots: each step back is a rollback, allowed here.
    const { matcher } = await follow({ concurrency: 2, allowRollback: true });
    const versions = new Set<number>();
    let swaps = 0;
    let stop = false;
    const swapper = (async () => {
      for (let i = 0; i < 8; i++) {
        const version = (i % 2) + 2; // 2, 3, 2, 3…: each a swap
        handler = serve(await snapshotBytes(version), `"s${i}"`);
        if (await matcher.reload()) swaps++;
        await new Promise((r) => setTimeout(r, 15));
      }
      stop = true;
    })();
    const calls: Promise<void>[] = [];
    const checkImage = async (): Promise<void> => {
      while (!stop) {
        const started = versionOf(matcher);
        const result = await matcher.matchImage(upload, { dihedral: false, trim: false });
        const own = new Set(result.matches.map((m) => m.listVersion));
        expect(own.size).toBe(1);
        const version = [...own][0] as number;
        versions.add(version);
        // A call in flight finishes on the lists it started with, whatever was swapped in meanwhile.
        expect(version).toBe(started);
        expect(result.matches.map((m) => m.entryId).sort()).toEqual([`v${version}-blockhash`, `v${version}-md5`]);
      }
    };
    calls.push(checkImage(), checkImage());
    calls.push(
      (async () => {
        while (!stop) {
          const hits = matcher.matchHash({ algorithm: 'md5', hash: uploadHashes.md5 });
          expect(hits).toHaveLength(1);
          expect(hits[0]?.entryId).toBe(`v${hits[0]?.listVersion}-md5`);
          await new Promise((r) => setImmediate(r));
        }
      })(),
    );
    await Promise.all([swapper, ...calls]);
    expect(swaps).toBe(8);
    expect(versions.size).toBeGreaterThan(1);
  });

  it('refuses an older snapshot (a lower sequence) served after a newer one, and keeps the newer', async () => {
    handler = serve(await snapshotBytes(3), '"v3"');
    const { matcher, events } = await follow();
    expect(matcher.sequence).toBe(3);
    handler = serve(await snapshotBytes(2), '"v2"');
    expect(await codeOf(matcher.reload())).toBe('ERR_SNAPSHOT_ROLLBACK');
    expect(versionOf(matcher)).toBe(3);
    expect(matcher.sequence).toBe(3);
    expect(events.at(-1)).toMatchObject({ ok: false, code: 'ERR_SNAPSHOT_ROLLBACK' });
    handler = serve(await snapshotBytes(4), '"v4"');
    expect(await matcher.reload()).toBe(true);
    expect(versionOf(matcher)).toBe(4);
    // What an instance records to restart with as its floor.
    expect(matcher.sequence).toBe(4);
    expect(events.at(-1)).toMatchObject({ ok: true, changed: true, sequence: 4 });
  });

  it('refuses an unsigned snapshot, or one signed by a key not trusted, when trusted keys are set', async () => {
    const trusted = generateKeyPairSync('ed25519');
    const other = generateKeyPairSync('ed25519');
    const signed = async (version: number, privateKey: KeyObject): Promise<Buffer> => {
      const path = join(dir, `signed-${version}-${privateKey === trusted.privateKey ? 't' : 'o'}.snap`);
      await writeSnapshot(path, {
        lists: [{ name: 'l', version }],
        entries: entriesOf(version),
        sequence: version,
        sign: { privateKey },
      });
      return readFile(path);
    };
    handler = serve(await signed(1, trusted.privateKey), '"s1"');
    const { matcher, events } = await follow({ trustedKeys: [trusted.publicKey] });
    expect(versionOf(matcher)).toBe(1);
    for (const [name, body] of [
      ['unsigned', await snapshotBytes(2)],
      ['signed by another key', await signed(2, other.privateKey)],
    ] as const) {
      handler = serve(body, `"${name}"`);
      expect(await codeOf(matcher.reload()), name).toBe('ERR_SNAPSHOT_SIGNATURE');
      expect(versionOf(matcher), name).toBe(1);
      expect(events.at(-1), name).toMatchObject({ ok: false, code: 'ERR_SNAPSHOT_SIGNATURE' });
    }
    handler = serve(await signed(2, trusted.privateKey), '"s2"');
    expect(await matcher.reload()).toBe(true);
    expect(versionOf(matcher)).toBe(2);
  });
});

describe('Matcher.follow over a path', () => {
  it('swaps in a snapshot renamed over the path, and keeps serving when the new file is broken', async () => {
    const path = join(dir, 'followed.snap');
    await writeFile(path, await snapshotBytes(1));
    const events: ReloadEvent[] = [];
    const matcher = await Matcher.follow(path, { intervalMs: 0, onReload: (e) => events.push(e) });
    open.push(matcher);
    expect(await matcher.reload()).toBe(false);
    const aside = join(dir, 'followed.snap.tmp');
    await writeFile(aside, (await snapshotBytes(2)).subarray(0, 300));
    await rm(path);
    await writeFile(path, await readFile(aside));
    expect(await codeOf(matcher.reload())).toBe('ERR_SNAPSHOT_TRUNCATED');
    expect(events.at(-1)).toMatchObject({ ok: false, code: 'ERR_SNAPSHOT_TRUNCATED', source: path });
    expect(versionOf(matcher)).toBe(1);
    await writeSnapshot(path, { lists: [{ name: 'l', version: 2 }], entries: entriesOf(2) });
    expect(await matcher.reload()).toBe(true);
    expect(versionOf(matcher)).toBe(2);
    await rm(path);
    expect(await codeOf(matcher.reload())).toBe('ERR_INPUT_READ');
    expect(versionOf(matcher)).toBe(2);
  });

  it('does not keep the process alive: its timer is unref', async () => {
    const path = join(dir, 'alive.snap');
    await writeFile(path, await snapshotBytes(1));
    const script = [
      `import { Matcher } from ${JSON.stringify(new URL('./matcher.ts', import.meta.url).href)};`,
      `const m = await Matcher.follow(${JSON.stringify(path)}, { intervalMs: 600000 });`,
      'console.log(m.size);',
    ].join('\n');
    const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
    const out = await new Promise<string>((resolve, reject) =>
      execFile(tsx, ['--eval', script, '--input-type=module'], { timeout: 20_000 }, (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      ),
    );
    expect(out.trim()).toBe('3');
  });

  it('takes a file: URL as a path', async () => {
    const path = join(dir, 'url.snap');
    await writeFile(path, await snapshotBytes(1));
    const matcher = await Matcher.follow(new URL(`file://${path}`), { intervalMs: 0 });
    open.push(matcher);
    expect(versionOf(matcher)).toBe(1);
  });
});

describe('fetchSnapshot', () => {
  const request = (file: string) => ({
    url: new URL(`${base}/lists.snap`),
    validators: undefined,
    headers: { authorization: 'Bearer t' },
    timeoutMs: 5_000,
    maxBytes: 1 << 20,
    file,
    signal: new AbortController().signal,
  });

  it('writes the body to a new owner-only file, with the caller headers sent', async () => {
    const body = await snapshotBytes(1);
    handler = serve(body, '"v1"');
    const file = join(dir, 'fetched.tmp');
    const fetched = await fetchSnapshot(request(file));
    expect(fetched).toMatchObject({ changed: true, bytes: body.length, validators: { etag: '"v1"' } });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Buffer.compare(await readFile(file), body)).toBe(0);
    expect(requests.at(-1)?.headers.authorization).toBe('Bearer t');
    // A file already there is never written through.
    expect(await codeOf(fetchSnapshot(request(file)))).toBe('ERR_OUTPUT_WRITE');
    await rm(file);
  });

  it('removes the partial file when the body is cut short', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(10));
      setTimeout(() => req.socket.destroy(), 20);
    };
    const file = join(dir, 'cut.tmp');
    expect(await codeOf(fetchSnapshot(request(file)))).toBe('ERR_SOURCE_FETCH');
    await expect(stat(file)).rejects.toThrow();
  });
});

describe('Matcher.follow arguments', () => {
  it('refuses a source that is neither a path nor an http(s) URL, and bad options', async () => {
    await expect(Matcher.follow('ftp://example.com/x.snap')).rejects.toThrow(TypeError);
    await expect(Matcher.follow('')).rejects.toThrow(TypeError);
    await expect(Matcher.follow(42 as unknown as string)).rejects.toThrow(TypeError);
    await expect(Matcher.follow(`${base}/x`, { intervalMs: -1 })).rejects.toThrow(RangeError);
    await expect(Matcher.follow(`${base}/x`, { timeoutMs: 0 })).rejects.toThrow(RangeError);
    await expect(Matcher.follow(`${base}/x`, { maxSnapshotBytes: 1.5 })).rejects.toThrow(TypeError);
    await expect(Matcher.follow(`${base}/x`, { onReload: 'log' as never })).rejects.toThrow(TypeError);
    await expect(Matcher.follow(`${base}/x`, { headers: { a: 1 as never } })).rejects.toThrow(TypeError);
    await expect(Matcher.follow(`${base}/x`, { concurrency: 0 })).rejects.toThrow(RangeError);
  });

  it('close() does nothing for a matcher that follows nothing', async () => {
    await expect(Matcher.fromEntries([{ list: 'l', algorithm: 'md5', hash: md5('x') }]).close()).resolves.toBe(
      undefined,
    );
  });
});
