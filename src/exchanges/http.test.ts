/**
 * The connectors' HTTP client against a stand-in: what is retried and what is not, backoff and
 * Retry-After, deadlines, bounded bodies, the rate limit, and errors that never carry a credential.
 * Credentials: from a file, the environment or a `_FILE` variable, never printed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { startStandIn, type StandIn } from '../testing/exchange-server.js';
import { readCredentials, Secret } from './credentials.js';
import { ExchangeHttp, parseJsonBody, redactUrl } from './http.js';

let server: StandIn;

beforeEach(async () => {
  server = await startStandIn(() => ({ headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }));
});

afterEach(async () => {
  await server.close();
});

async function failure(promise: Promise<unknown>): Promise<HashwardenError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HashwardenError);
  return error as HashwardenError;
}

describe('ExchangeHttp', () => {
  it('retries 429 and 5xx with backoff, then answers', async () => {
    server.fail({ kind: 'status', status: 503 }, { times: 2 });
    server.fail({ kind: 'status', status: 429 }, { times: 1 });
    const http = new ExchangeHttp({ backoffMs: 1 });
    const response = await http.request(`${server.url}/x`);
    expect(parseJsonBody(response, 'x')).toEqual({ ok: true });
    expect(http.requests).toBe(4);
  });

  it('gives up after the retries with ERR_EXCHANGE_HTTP naming the status', async () => {
    server.fail({ kind: 'status', status: 500 }, { times: 10 });
    const http = new ExchangeHttp({ backoffMs: 1, retries: 2 });
    const error = await failure(http.request(`${server.url}/x`, { what: 'page' }));
    expect(error.code).toBe('ERR_EXCHANGE_HTTP');
    expect(error.message).toMatch(/HTTP 500/);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a refused credential, nor another client error, nor a POST unless asked', async () => {
    server.fail({ kind: 'status', status: 401 }, { times: 1 });
    expect((await failure(new ExchangeHttp({ backoffMs: 1 }).request(`${server.url}/x`))).code).toBe(
      'ERR_EXCHANGE_AUTH',
    );
    server.fail({ kind: 'status', status: 404 }, { times: 1 });
    expect((await failure(new ExchangeHttp({ backoffMs: 1 }).request(`${server.url}/x`))).code).toBe(
      'ERR_EXCHANGE_HTTP',
    );
    server.fail({ kind: 'status', status: 503 }, { times: 1 });
    const post = new ExchangeHttp({ backoffMs: 1 }).request(`${server.url}/x`, { method: 'POST', body: 'vote' });
    expect((await failure(post)).code).toBe('ERR_EXCHANGE_HTTP');
    expect(server.requests).toHaveLength(3);
  });

  it('waits as long as Retry-After asks', async () => {
    server.fail({ kind: 'status', status: 429, headers: { 'retry-after': '1' } }, { times: 1 });
    const started = performance.now();
    await new ExchangeHttp({ backoffMs: 1 }).request(`${server.url}/x`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('times out a stalled server on every attempt with ERR_EXCHANGE_TIMEOUT', async () => {
    server.fail({ kind: 'stall' }, { times: 5 });
    const error = await failure(
      new ExchangeHttp({ timeoutMs: 150, retries: 1, backoffMs: 1 }).request(`${server.url}/x`),
    );
    expect(error.code).toBe('ERR_EXCHANGE_TIMEOUT');
    expect(server.requests).toHaveLength(2);
  });

  it('retries an answer cut short', async () => {
    server.fail({ kind: 'cut' }, { times: 1 });
    const response = await new ExchangeHttp({ backoffMs: 1 }).request(`${server.url}/x`);
    expect(response.body).toBe('{"ok":true}');
  });

  it('refuses a body over maxResponseBytes with ERR_EXCHANGE_RESPONSE, declared or not', async () => {
    const big = await startStandIn(() => ({ body: 'x'.repeat(10_000) }));
    try {
      const error = await failure(new ExchangeHttp({ maxResponseBytes: 1_000 }).request(`${big.url}/x`));
      expect(error.code).toBe('ERR_EXCHANGE_RESPONSE');
    } finally {
      await big.close();
    }
  });

  it('spaces requests by minIntervalMs', async () => {
    const http = new ExchangeHttp({ minIntervalMs: 200 });
    const started = performance.now();
    for (let i = 0; i < 3; i++) await http.request(`${server.url}/x`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
  });

  it('never puts the query (where a token travels) in an error', async () => {
    server.fail({ kind: 'status', status: 403 }, { times: 1 });
    const error = await failure(new ExchangeHttp().request(`${server.url}/x?access_token=123|s3cret`));
    expect(error.message).not.toMatch(/s3cret|access_token/);
    expect(redactUrl('https://user:pw@example.org/a?b=c')).toBe('https://example.org/a');
  });

  it('reports a body that is not JSON as ERR_EXCHANGE_RESPONSE', async () => {
    const text = await startStandIn(() => ({ body: '<html>' }));
    try {
      const response = await new ExchangeHttp().request(`${text.url}/x`);
      expect(() => parseJsonBody(response, 'page')).toThrow(expect.objectContaining({ code: 'ERR_EXCHANGE_RESPONSE' }));
    } finally {
      await text.close();
    }
  });

  it('checks its options', () => {
    expect(() => new ExchangeHttp({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new ExchangeHttp({ retries: 1.5 })).toThrow(TypeError);
    expect(() => new ExchangeHttp(null as never)).toThrow(TypeError);
  });
});

describe('readCredentials and Secret', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hashwarden-credentials-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a JSON file, the environment, or a _FILE variable, trimmed', async () => {
    const file = join(dir, 'ncmec.json');
    await writeFile(file, JSON.stringify({ username: 'u', password: 'p\n' }));
    const fromFile = await readCredentials('ncmec', ['username', 'password'], { file });
    expect([fromFile.username.reveal(), fromFile.password.reveal()]).toEqual(['u', 'p']);

    const keyFile = join(dir, 'key');
    await writeFile(keyFile, 'k2\n');
    const env = { HASHWARDEN_STOPNCII_SUBSCRIPTION_KEY: 'k1', HASHWARDEN_STOPNCII_FETCH_KEY_FILE: keyFile };
    const fromEnv = await readCredentials('stopncii', ['subscriptionKey', 'fetchKey'], { env });
    expect([fromEnv.subscriptionKey.reveal(), fromEnv.fetchKey.reveal()]).toEqual(['k1', 'k2']);
  });

  it('names what is missing, never a value', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, '{"username": "hunter2-user", ');
    const notJson = await failure(readCredentials('ncmec', ['username'], { file }));
    expect(notJson.code).toBe('ERR_EXCHANGE_CREDENTIALS');
    expect(notJson.message).not.toContain('hunter2');
    await writeFile(file, JSON.stringify({ username: 'hunter2-user' }));
    const missing = await failure(readCredentials('ncmec', ['username', 'password'], { file }));
    expect(missing.message).toMatch(/password/);
    expect(missing.message).not.toContain('hunter2');
    const unset = await failure(readCredentials('tat', ['username'], { env: {} }));
    expect(unset.message).toMatch(/HASHWARDEN_TAT_USERNAME/);
    const absent = await failure(readCredentials('tat', ['username'], { file: join(dir, 'none.json') }));
    expect(absent.code).toBe('ERR_EXCHANGE_CREDENTIALS');
  });

  it('prints a Secret as [redacted] every way an object becomes text', () => {
    const secret = new Secret('hunter2');
    const shown = [String(secret), `${secret}`, JSON.stringify({ secret }), inspect({ secret }), inspect(secret)];
    for (const text of shown) expect(text).not.toContain('hunter2');
    expect(secret.reveal()).toBe('hunter2');
  });
});
