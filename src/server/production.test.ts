/**
 * The sidecar's production parts over real HTTP on 127.0.0.1: bearer-token auth (probes exempt),
 * readiness that differs from liveness (not loaded, ready, stale, reloaded, draining) on a
 * followed snapshot, graceful shutdown finishing a request in hand, /openapi.json listing every
 * route, /metrics in Prometheus' text format, and logs that carry the URL but never the token.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionLog, Matcher, verifyLog, writeSnapshot } from '../index.js';
import { HashStore } from '../store/index.js';
import { createServer, type Sidecar } from './index.js';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
const TOKEN = 'test-token-8c1f0e2a';

let dir: string;
const sidecars: Sidecar[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-serve-'));
});

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await rm(dir, { recursive: true, force: true });
});

/** A snapshot of list `l` at `version` (its sequence too): `e<version>` listed by md5. */
async function snapshot(path: string, version: number): Promise<void> {
  const tmp = `${path}.${version}.tmp`;
  await writeSnapshot(tmp, {
    lists: [{ name: 'l', version }],
    entries: [{ id: String(version), list: 'l', algorithm: 'md5', hash: md5(`e${version}`) }],
    sequence: version,
  });
  await rename(tmp, path);
}

async function start(options: Parameters<typeof createServer>[0]): Promise<{ sidecar: Sidecar; base: string }> {
  const sidecar = await createServer({ logger: false, ...options });
  sidecars.push(sidecar);
  return { sidecar, base: await sidecar.listen({ port: 0 }) };
}

const text = async (response: Response) => `${response.status} ${await response.text()}`;

async function until(check: () => Promise<boolean>, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('bearer-token auth', () => {
  it('refuses a missing or wrong token with 401, takes the right one, and lets probes through without', async () => {
    const matcher = Matcher.fromEntries([{ list: 'l', id: '1', algorithm: 'md5', hash: md5('x') }]);
    const { base } = await start({ matcher, token: TOKEN });
    const lookup = `${base}/m/lookup?signal_type=md5&signal=${md5('x')}`;
    const withAuth = (value: string) => fetch(lookup, { headers: { authorization: value } });
    const missing = await fetch(lookup);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toEqual({ message: expect.any(String) });
    expect((await withAuth(`Bearer ${TOKEN.replace(/.$/, 'X')}`)).status).toBe(401);
    expect((await withAuth(`Bearer ${TOKEN}x`)).status).toBe(401);
    expect((await withAuth(TOKEN)).status).toBe(401);
    expect(await (await withAuth(`Bearer ${TOKEN}`)).json()).toEqual({ l: [{ bank_content_id: 1, distance: '0' }] });
    for (const probe of ['/healthz', '/livez', '/readyz', '/status'])
      expect((await fetch(base + probe)).status).toBe(200);
    // Metrics and the API description are not probes: they need the token.
    for (const path of ['/metrics', '/openapi.json', '/site-map', '/no-such-route'])
      expect((await fetch(base + path)).status).toBe(401);
  });

  it('refuses to listen on a non-loopback host without a token unless allowed', async () => {
    const matcher = Matcher.fromEntries([{ list: 'l', id: '1', algorithm: 'md5', hash: md5('x') }]);
    const open = await createServer({ matcher, logger: false });
    sidecars.push(open);
    await expect(open.listen({ host: '0.0.0.0', port: 0 })).rejects.toThrow(TypeError);
    const allowed = await createServer({ matcher, logger: false, allowUnauthenticated: true });
    sidecars.push(allowed);
    expect(await allowed.listen({ host: '0.0.0.0', port: 0 })).toMatch(/^http:\/\//);
    const tokened = await createServer({ matcher, logger: false, token: TOKEN });
    sidecars.push(tokened);
    expect(await tokened.listen({ host: '0.0.0.0', port: 0 })).toMatch(/^http:\/\//);
  });
});

describe('readiness', () => {
  it('is 503 INDEX-NOT-LOADED while the snapshot downloads, while liveness is 200; then READY', async () => {
    const path = join(dir, 'slow.snap');
    await snapshot(path, 1);
    const bytes = await readFile(path);
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const feed = createHttpServer((_request, response) => {
      void released.then(() => response.writeHead(200, { 'content-length': bytes.length }).end(bytes));
    });
    servers.push(feed);
    await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve));
    const { sidecar, base } = await start({
      snapshot: `http://127.0.0.1:${(feed.address() as AddressInfo).port}/lists.snap`,
    });
    expect(await text(await fetch(`${base}/readyz`))).toBe('503 INDEX-NOT-LOADED');
    // app.py status: "INDEX-NOT-LOADED", 503
    expect(await text(await fetch(`${base}/status`))).toBe('503 INDEX-NOT-LOADED');
    expect(await text(await fetch(`${base}/healthz`))).toBe('200 OK');
    // matching.py query_index: abort(503, "index not yet ready")
    const early = await fetch(`${base}/m/lookup?signal_type=md5&signal=${md5('e1')}`);
    expect(early.status).toBe(503);
    expect(await early.json()).toEqual({ message: 'index not yet ready' });
    release();
    await sidecar.loaded;
    expect(await text(await fetch(`${base}/readyz`))).toBe('200 READY');
    expect(await (await fetch(`${base}/m/lookup?signal_type=md5&signal=${md5('e1')}`)).json()).toEqual({
      l: [{ bank_content_id: 1, distance: '0' }],
    });
  });

  it('turns stale when the source cannot be checked past maxStaleSeconds, and sees a replaced snapshot', async () => {
    const path = join(dir, 'followed.snap');
    await snapshot(path, 1);
    const { sidecar, base } = await start({ snapshot: path, intervalSeconds: 1, maxStaleSeconds: 2, token: TOKEN });
    await sidecar.loaded;
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    const status = async () =>
      (await (await fetch(`${base}/m/index/status?signal_type=md5`, auth)).json()) as {
        md5: { built_to: number };
      };
    expect(await text(await fetch(`${base}/readyz`))).toBe('200 READY');
    const first = (await status()).md5.built_to;
    await unlink(path);
    await until(async () => (await fetch(`${base}/readyz`)).status === 503, 'staleness');
    expect(await text(await fetch(`${base}/readyz`))).toBe('503 INDEX-STALE');
    expect(await text(await fetch(`${base}/status`))).toBe('503 INDEX-STALE');
    // The lists served go on answering meanwhile; curation says the index may be behind its source.
    expect((await fetch(`${base}/m/lookup?signal_type=md5&signal=${md5('e1')}`, auth)).status).toBe(200);
    expect(await (await fetch(`${base}/c/signal_type/index?signal_type=md5`, auth)).json()).toMatchObject({
      md5: { index_out_of_date: true },
    });
    // A new snapshot in place: the next check swaps it in and the instance is ready again.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await snapshot(path, 2);
    await until(async () => (await fetch(`${base}/readyz`)).status === 200, 'the reload');
    expect(await (await fetch(`${base}/m/lookup?signal_type=md5&signal=${md5('e2')}`, auth)).json()).toEqual({
      l: [{ bank_content_id: 2, distance: '0' }],
    });
    expect((await status()).md5.built_to).toBeGreaterThan(first);
    const metrics = await (await fetch(`${base}/metrics`, auth)).text();
    expect(metrics).toMatch(/^hashwarden_source_checks_total\{result="changed"\} 1$/m);
    expect(metrics).toMatch(/^hashwarden_source_checks_total\{result="failed"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^hashwarden_list_version\{list="l"\} 2$/m);
    expect(metrics).toMatch(/^hashwarden_snapshot_sequence 2$/m);
  }, 20_000);
});

describe('a SQLite store source', () => {
  it('serves the store and re-reads it every interval: a new import is seen without a restart', async () => {
    const db = join(dir, 'hashes.db');
    const store = HashStore.open(db);
    store.importEntries([{ id: '1', list: 'ncmec', algorithm: 'md5', hash: md5('e1') }]);
    const { sidecar, base } = await start({ db, intervalSeconds: 1 });
    await sidecar.loaded;
    const lookup = async (text: string) =>
      (await (await fetch(`${base}/m/lookup?signal_type=md5&signal=${md5(text)}`)).json()) as Record<string, unknown>;
    expect(await lookup('e1')).toEqual({ ncmec: [{ bank_content_id: 1, distance: '0' }] });
    expect(await lookup('e2')).toEqual({});
    store.importEntries([{ id: '2', list: 'ncmec', algorithm: 'md5', hash: md5('e2') }]);
    store.close();
    await until(async () => Object.keys(await lookup('e2')).length > 0, 'the store re-read');
    expect(await lookup('e2')).toEqual({ ncmec: [{ bank_content_id: 2, distance: '0' }] });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^hashwarden_source_checks_total\{result="changed"\} 1$/m);
    expect(metrics).toMatch(/^hashwarden_list_version\{list="ncmec"\} 2$/m);
  });
});

describe('graceful shutdown', () => {
  it('turns readiness 503 while draining, lets a request in hand finish, then closes the followed matcher', async () => {
    const path = join(dir, 'shutdown.snap');
    await snapshot(path, 1);
    const { sidecar, base } = await start({ snapshot: path, drainSeconds: 1 });
    const matcher = await sidecar.loaded;
    let release: () => void = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(Buffer.from('--x\r\nContent-Disposition: form-data; name="photo"; filename="a"\r\n\r\n'));
        release = () => {
          controller.enqueue(Buffer.from('not an image\r\n--x--\r\n'));
          controller.close();
        };
      },
    });
    const inHand = fetch(`${base}/h/hash`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body,
      duplex: 'half',
    } as RequestInit);
    await new Promise((resolve) => setTimeout(resolve, 200));
    let closed = false;
    const closing = sidecar.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await text(await fetch(`${base}/readyz`))).toBe('503 DRAINING');
    expect(await text(await fetch(`${base}/healthz`))).toBe('200 OK');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(closed).toBe(false);
    release();
    // The request in hand got its full answer (this one: not an image, 415).
    const answer = await inHand;
    expect(answer.status).toBe(415);
    expect(await answer.json()).toMatchObject({ code: 'ERR_UNSUPPORTED_FORMAT' });
    await closing;
    // Closed: no more polling; reload rejects.
    await expect(matcher.reload()).rejects.toThrow();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});

describe('API description, metrics, logs', () => {
  it('lists every route in /openapi.json and answers /metrics in the text exposition format', async () => {
    const lines: string[] = [];
    const matcher = Matcher.fromEntries([{ list: 'l', id: '1', algorithm: 'md5', hash: md5('x') }]);
    const sidecar = await createServer({
      matcher,
      token: TOKEN,
      logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } },
    });
    sidecars.push(sidecar);
    const base = await sidecar.listen({ port: 0 });
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    const doc = (await (await fetch(`${base}/openapi.json`, auth)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    const routes = (await (await fetch(`${base}/site-map`, auth)).json()) as string[];
    expect(Object.keys(doc.paths).sort()).toEqual(routes.map((r) => r.replace(/<(\w+)>/g, '{$1}')).sort());
    expect(Object.keys(doc.paths['/m/lookup'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/h/hash'] ?? {}).sort()).toEqual(['get', 'post']);

    await fetch(`${base}/m/lookup?signal_type=md5&signal=${md5('x')}`, auth);
    await fetch(`${base}/m/lookup?signal_type=md5&signal=zz`, auth);
    const metrics = await fetch(`${base}/metrics`, auth);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const exposition = await metrics.text();
    // Every line a comment (# HELP, # TYPE) or a sample: name{labels} value.
    for (const line of exposition.split('\n').filter(Boolean))
      expect(line).toMatch(
        /^(# (HELP|TYPE) [a-zA-Z_:][\w:]* .*|[a-zA-Z_:][\w:]*(\{[^}]*\})? -?[\d.e+-]+|[a-zA-Z_:][\w:]*(\{[^}]*\})? (NaN|[+-]Inf))$/,
      );
    expect(exposition).toMatch(/^hashwarden_http_requests_total\{method="GET",route="\/m\/lookup",status="200"\} 1$/m);
    expect(exposition).toMatch(/^hashwarden_http_requests_total\{method="GET",route="\/m\/lookup",status="400"\} 1$/m);
    expect(exposition).toMatch(
      /^hashwarden_http_request_duration_seconds_count\{method="GET",route="\/m\/lookup"\} 2$/m,
    );
    expect(exposition).toMatch(/^hashwarden_list_entries\{algorithm="md5"\} 1$/m);
    expect(exposition).toMatch(/^hashwarden_ready 1$/m);
    expect(exposition).toMatch(/^hashwarden_matcher_uploads\{state="queued"\} 0$/m);

    // One JSON line says where it listens; no line holds the token.
    const listening = lines
      .map((l) => JSON.parse(l) as { msg?: string; url?: string })
      .filter((l) => l.msg === 'listening');
    expect(listening).toEqual([expect.objectContaining({ url: base })]);
    expect(lines.some((l) => l.includes(TOKEN))).toBe(false);
  });
});

describe('match storms and the decision log', () => {
  it('shows a storm in /storms, /metrics and a log line; a release over HTTP makes the next match block', async () => {
    const lines: string[] = [];
    const path = join(dir, 'storm.snap');
    await snapshot(path, 1);
    const logDir = join(dir, 'storm-log');
    const { sidecar, base } = await start({
      snapshot: path,
      token: TOKEN,
      matcherOptions: { storm: { threshold: 3, hold: true } },
      decisionLog: logDir,
      logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } },
    });
    await sidecar.loaded;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const lookup = async () =>
      (await (await fetch(`${base}/m/lookup?signal_type=md5&signal=${md5('e1')}`, { headers: auth })).json()) as {
        l: { bank_content_id: number; review?: boolean }[];
      };
    expect((await lookup()).l[0]).toEqual({ bank_content_id: 1, distance: '0' });
    await lookup();
    // The third match raises the storm; held, it says review.
    expect((await lookup()).l[0]).toEqual({ bank_content_id: 1, distance: '0', review: true });
    const storms = (await (await fetch(`${base}/storms`, { headers: auth })).json()) as Record<string, unknown>;
    expect(storms).toEqual({
      worker: null,
      pid: process.pid,
      scope: 'process',
      storms: [
        { list: 'l', algorithm: 'md5', entryId: '1', count: 3, since: expect.any(Number), held: true, released: false },
      ],
    });
    const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/^hashwarden_storms_total 1$/m);
    expect(metrics).toMatch(/^hashwarden_storm_entries\{held="true"\} 1$/m);
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.event === 'storm')).toEqual([
      expect.objectContaining({ level: 40, list: 'l', algorithm: 'md5', entryId: '1', count: 3, held: true }),
    ]);

    const release = (body: unknown, headers: Record<string, string> = auth) =>
      fetch(`${base}/storms/release`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const target = { list: 'l', algorithm: 'md5', entryId: '1' };
    expect((await release(target, {})).status).toBe(401);
    expect((await release({ list: 'l', algorithm: 'md5' })).status).toBe(400);
    const unknown = await release({ ...target, entryId: '2' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ processes: 1 });
    const released = await release(target);
    expect(released.status).toBe(200);
    expect(await released.json()).toEqual({ processes: 1, released: 1 });
    expect((await lookup()).l[0]).toEqual({ bank_content_id: 1, distance: '0' });
    expect(lines.some((l) => (JSON.parse(l) as { event?: string }).event === 'storm-released')).toBe(true);
    const after = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    expect(after).toMatch(/^hashwarden_storm_entries\{held="false"\} 1$/m);

    // Closed: the log synced and closed, its chain whole: the four lookups by hash, and the storm
    // raised (before the decision of the lookup that raised it) and released.
    await sidecar.close();
    const verified = verifyLog([logDir]);
    expect(verified).toMatchObject({ ok: true, records: 6 });
    const [file] = await readdir(logDir);
    const kinds = (await readFile(join(logDir, file as string), 'utf8'))
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as { kind: string; action?: string; review?: boolean })
      .map((r) => [r.kind, r.action ?? r.review ?? null]);
    expect(kinds).toEqual([
      ['decision', null],
      ['decision', null],
      ['storm', 'raised'],
      ['decision', true],
      ['storm', 'released'],
      ['decision', null],
    ]);
    const log = await DecisionLog.open(logDir);
    expect(log.head.seq).toBe(6);
    await log.close();
  });

  it('records each upload checked and each lookup by hash in a decision log directory, not a hashing, and refuses /storms without the token', async () => {
    const logDir = join(dir, 'upload-log');
    const image = await readFile(new URL('../../test-vectors/images/terrain-333x250.jpg', import.meta.url));
    const path = join(dir, 'upload.snap');
    await writeSnapshot(path, {
      lists: [{ name: 'l', version: 1 }],
      entries: [{ id: '5', list: 'l', algorithm: 'md5', hash: createHash('md5').update(image).digest('hex') }],
    });
    const { sidecar, base } = await start({ snapshot: path, token: TOKEN, decisionLog: logDir });
    await sidecar.loaded;
    expect((await fetch(`${base}/storms`)).status).toBe(401);
    const form = new FormData();
    form.append('photo', new Blob([image]), 'a.jpg');
    const answer = await fetch(`${base}/m/lookup`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: form,
    });
    expect(answer.status).toBe(200);
    // Hashing alone decides nothing: not recorded. The lookup by hash that follows is.
    const hashForm = new FormData();
    hashForm.append('photo', new Blob([image]), 'a.jpg');
    const hashed = await fetch(`${base}/h/hash?types=md5`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: hashForm,
    });
    const { md5: hash } = (await hashed.json()) as { md5: string };
    const byHash = await fetch(`${base}/m/lookup?signal_type=md5&signal=${hash}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(byHash.status).toBe(200);
    await sidecar.close();
    const files = await readdir(logDir);
    const records = (await readFile(join(logDir, files[0]!), 'utf8'))
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toEqual([
      expect.objectContaining({
        seq: 1,
        kind: 'decision',
        matched: true,
        matches: [expect.objectContaining({ entryId: '5' })],
      }),
      expect.objectContaining({
        seq: 2,
        kind: 'decision',
        matched: true,
        query: { algorithm: 'md5', hash },
        matches: [expect.objectContaining({ entryId: '5' })],
      }),
    ]);
    expect(records[0]!.contentId).toBeUndefined();
    expect(verifyLog([logDir])).toMatchObject({ ok: true, records: 2 });
  });

  it('refuses a decision log beside a matcher of the caller, or given twice', async () => {
    const matcher = Matcher.fromEntries([{ list: 'l', id: '1', algorithm: 'md5', hash: md5('x') }]);
    await expect(createServer({ matcher, decisionLog: dir, logger: false })).rejects.toThrow(TypeError);
    const log = await DecisionLog.open(join(dir, 'twice'));
    await expect(
      createServer({ db: 'x.db', decisionLog: dir, matcherOptions: { decisionLog: log }, logger: false }),
    ).rejects.toThrow(TypeError);
    await log.close();
  });
});

describe('optional peers', () => {
  it('rejects with ERR_MISSING_DEPENDENCY naming the install command when Fastify is not installed', async () => {
    // A child process whose module resolution cannot find fastify, as in an app that did not install it.
    const hook = `export async function resolve(specifier, context, next) {
      if (specifier === 'fastify') throw Object.assign(new Error("Cannot find package 'fastify' imported from the app"), { code: 'ERR_MODULE_NOT_FOUND' });
      return next(specifier, context);
    }`;
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
      const { Matcher } = await import('./src/index.ts');
      const { createServer } = await import('./src/server/index.ts');
      const matcher = Matcher.fromEntries([{ list: 'l', algorithm: 'md5', hash: '${md5('x')}' }]);
      await createServer({ matcher, logger: false }).then(
        () => console.log('created'),
        (error) => console.log(JSON.stringify({ code: error.code, message: error.message })),
      );`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: root,
      },
    );
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { code?: string; message?: string };
    expect(outcome.code).toBe('ERR_MISSING_DEPENDENCY');
    expect(outcome.message).toMatch(/^fastify is not installed: run `npm install fastify @fastify\/multipart/);
  }, 30_000);
});
