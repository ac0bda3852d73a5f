/**
 * The StopNCII connector against its stand-in (src/testing/stopncii-standin.ts): many pages into a
 * store, withdrawals and deletions as removals, the next sync from `nextSetTimestamp`, a 500 mid-sync
 * resumed from the checkpoint (also with an expired page token) to the store an uninterrupted sync
 * gives, a malformed page, a slow server, an expired key, credentials kept out of every message,
 * and feedback as the reference client posts it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHashwardenError } from '../errors.js';
import { normalizeEntry, type ListEntry } from '../lists/entry.js';
import { HashStore } from '../store/index.js';
import {
  startStopnciiStandIn,
  stopnciiRecords,
  type StopnciiStandIn,
  type StopnciiStandInKeys,
} from '../testing/stopncii-standin.js';
import { UsageError } from '../cli/command.js';
import { stopnciiProgramme } from '../cli/fetch-stopncii.js';
import { Secret } from './credentials.js';
import { ExchangeHttp } from './http.js';
import { STOPNCII_BASE_URL, stopnciiExchange, type StopnciiExchangeOptions } from './stopncii.js';
import { syncCheckpointKey, syncExchange, type SyncResult } from './sync.js';
import type { ExchangeClient } from './types.js';
import { rejection } from '../testing/row-errors.js';

const KEYS: StopnciiStandInKeys = {
  subscriptionKey: 'sub-key-5f1e2d3c4b5a',
  fetchFunctionKey: 'fetch-key-0a9b8c7d6e5f',
  feedbackFunctionKey: 'feedback-key-1b2c3d4e5f60',
};
// Fast failures: small backoff, few retries, a short deadline.
const HTTP = { timeoutMs: 2_000, retries: 1, backoffMs: 1 };
const LIST = 'stopncii';

let dir: string;
let service: StopnciiStandIn;
let stores: HashStore[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-stopncii-sync-'));
  service = await startStopnciiStandIn(stopnciiRecords(300, 21), KEYS);
  stores = [];
});

afterEach(async () => {
  for (const store of stores) store.close();
  await service.close();
  await rm(dir, { recursive: true, force: true });
});

function openStore(name = 'hashes.db'): HashStore {
  const store = HashStore.open(join(dir, name));
  stores.push(store);
  return store;
}

function client(options: Partial<StopnciiExchangeOptions> = {}): ExchangeClient {
  return stopnciiExchange({ credentials: KEYS, baseUrl: service.url, pageSize: 40, ...options });
}

function sync(store: HashStore, c = client(), http = HTTP): Promise<SyncResult> {
  return syncExchange(store, c, { list: LIST, http });
}

const failure = async (promise: Promise<unknown>): Promise<Error> => (await rejection(promise)) as Error;

/** What the store should hold: the service's records that add, as entries. */
function expected(): ListEntry[] {
  const entries = new Map<string, ListEntry>();
  for (const r of service.records) {
    const algorithm = r.signalType === 'ImagePDQ' ? 'pdq' : r.signalType === 'VideoMD5' ? 'md5' : undefined;
    if (algorithm === undefined) continue;
    const id = `${algorithm}:${r.hashValue}`;
    if (r.hashStatus === 'Withdrawn' || r.hashStatus === 'Deleted') entries.delete(id);
    else entries.set(id, normalizeEntry({ list: LIST, algorithm, hash: r.hashValue }));
  }
  return [...entries.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}

function held(store: HashStore): string[] {
  return [...store.entries({ list: LIST })].map((e) => e.id).sort();
}

describe('stopnciiExchange: syncing', () => {
  it('syncs many pages with both keys sent, adds as pdq and md5 entries, TMK ignored', async () => {
    const store = openStore();
    const result = await sync(store);
    expect(result.pages).toBe(8);
    expect(result.ignored).toBe(30);
    expect(held(store)).toEqual(expected().map((e) => e.id));
    expect(store.count({ list: LIST })).toBe(270);
    const entry = [...store.entries({ list: LIST })].find((e) => e.metadata?.feedback !== undefined);
    expect(entry?.metadata).toMatchObject({ hashStatus: 'Active', cases: 1, feedback: [{ value: 'Blocked' }] });
    for (const request of service.server.requests) {
      expect(request.headers['ocp-apim-subscription-key']).toBe(KEYS.subscriptionKey);
      expect(request.headers['x-functions-key']).toBe(KEYS.fetchFunctionKey);
    }
    const fetches = service.fetches();
    expect(fetches[0]).toEqual({ startTimestamp: '10', pageSize: '40', nextPageToken: null });
    expect(fetches.slice(1).every((f) => f.startTimestamp === '10' && f.nextPageToken !== null)).toBe(true);
    expect(JSON.parse(result.checkpoint ?? '')).toEqual({ start: 1_700_000_299 });
  });

  it('applies withdrawals and deletions as removals in the next sync, from nextSetTimestamp', async () => {
    const store = openStore();
    await sync(store);
    const [first, second, third] = service.records;
    if (first === undefined || second === undefined || third === undefined) throw new Error('no records');
    let now = 1_700_001_000;
    for (const [record, status] of [
      [first, 'Withdrawn'],
      [second, 'Deleted'],
    ] as const) {
      service.records.push({ ...record, hashStatus: status, lastModtimestamp: now++ });
    }
    service.records.push(...stopnciiRecords(5, 99, now));
    const before = service.server.requests.length;
    const result = await sync(store);
    expect(service.fetches().slice(before - service.server.requests.length)).toEqual([
      { startTimestamp: '1700000299', pageSize: '40', nextPageToken: null },
    ]);
    expect(result).toMatchObject({ pages: 1, removed: 2 });
    expect(held(store)).toEqual(expected().map((e) => e.id));
    expect(held(store)).not.toContain(`pdq:${first.hashValue}`);
    expect(held(store)).toContain(`pdq:${third.hashValue}`);
  });

  it('resumes after a 500 outlasting the retries from the last page committed: nothing lost, nothing doubled', async () => {
    const whole = openStore('whole.db');
    await sync(whole);
    const requestsWhole = service.server.requests.length;

    const store = openStore();
    service.server.fail({ kind: 'status', status: 500 }, { skip: 3, times: 2, when: /FetchHashes/ });
    const error = await failure(sync(store));
    expect(isHashwardenError(error) && error.code).toBe('ERR_EXCHANGE_HTTP');
    const checkpoint = JSON.parse(store.checkpoint(syncCheckpointKey(client(), LIST)) ?? '{}');
    expect(checkpoint).toMatchObject({ start: 10, pageSize: 40 });
    expect(store.count({ list: LIST })).toBeGreaterThan(0);
    expect(store.count({ list: LIST })).toBeLessThan(270);

    const resumed = await sync(store);
    expect(resumed.pages).toBe(5);
    // The first request of the resumed sync continues the pass with the stored token.
    expect(service.fetches()[requestsWhole + 5]?.nextPageToken).toBe(checkpoint.next);
    expect(held(store)).toEqual(held(whole));
    expect([...store.entries({ list: LIST })]).toEqual([...whole.entries({ list: LIST })]);
  });

  it('starts the pass again when the token kept in the checkpoint has expired', async () => {
    const store = openStore();
    service.server.fail({ kind: 'status', status: 503 }, { skip: 2, times: 2, when: /FetchHashes/ });
    await failure(sync(store));
    service.expireTokens();
    const resumed = await sync(store);
    expect(resumed.pages).toBe(8);
    expect(held(store)).toEqual(expected().map((e) => e.id));
  });

  it('refuses a malformed page with ERR_EXCHANGE_RESPONSE: its rows not imported, the checkpoint before it', async () => {
    for (const body of [
      '{"hashRecords": [',
      '{"count": 1, "hasMoreRecords": true, "nextSetTimestamp": 5, "hashRecords": []}',
      '{"hasMoreRecords": false, "nextSetTimestamp": -1, "hashRecords": []}',
      '{"hasMoreRecords": "no", "nextSetTimestamp": 5, "hashRecords": []}',
      '[]',
      JSON.stringify({
        hasMoreRecords: false,
        nextSetTimestamp: 'soon',
        hashRecords: stopnciiRecords(3, 6, 1_800_000_000),
      }),
    ]) {
      const store = openStore(`m${Math.random()}.db`);
      const key = syncCheckpointKey(client(), LIST);
      await sync(store);
      const stored = store.checkpoint(key);
      const count = store.count({ list: LIST });
      service.records.push(...stopnciiRecords(3, 5, 1_800_000_000));
      service.malform(body);
      const error = await failure(sync(store));
      expect(isHashwardenError(error) && error.code).toBe('ERR_EXCHANGE_RESPONSE');
      expect(store.checkpoint(key)).toBe(stored);
      expect(store.count({ list: LIST })).toBe(count);
      service.records.splice(300);
    }
  });

  it('keeps the pages before a malformed one mid-pass, and resumes with it', async () => {
    const store = openStore();
    const key = syncCheckpointKey(client(), LIST);
    const bad = stopnciiRecords(40, 77, 1_600_000_000);
    service.malform(JSON.stringify({ hasMoreRecords: true, nextSetTimestamp: 1, hashRecords: bad }), 2);
    const error = await failure(sync(store));
    expect(isHashwardenError(error) && error.code).toBe('ERR_EXCHANGE_RESPONSE');
    expect(store.count({ list: LIST })).toBe(72);
    const held2 = held(store);
    expect(bad.some((r) => held2.includes(`pdq:${r.hashValue}`))).toBe(false);
    const third = service.fetches()[2];
    expect(JSON.parse(store.checkpoint(key) ?? '')).toMatchObject({ start: 10, next: third?.nextPageToken });
    await sync(store);
    expect(held(store)).toEqual(expected().map((e) => e.id));
  });

  it('refuses a checkpoint it did not write, and drops a token kept with another page size', async () => {
    const pages = async (from: string, c = client()) => {
      for await (const _ of c.pages(from, ctx())) return;
    };
    for (const from of ['garbage', '{"start": -1}', '{"start": 5, "next": 7}', 'null']) {
      const error = await failure(pages(from));
      expect(isHashwardenError(error) && error.code).toBe('ERR_EXCHANGE_RESPONSE');
    }
    await pages('{"start": 5, "next": "t", "pageSize": 40}', client({ pageSize: 50 }));
    expect(service.fetches().at(-1)).toEqual({ startTimestamp: '5', pageSize: '50', nextPageToken: null });
  });

  it('counts a record it cannot read as ignored and goes on', async () => {
    service.records.splice(3);
    service.records.push({ ...service.records[0], hashValue: 'not hex', lastModtimestamp: 1_700_000_010 } as never);
    const store = openStore();
    const result = await sync(store);
    expect(result.ignored).toBe(1);
    expect(store.count({ list: LIST })).toBe(3);
  });

  it('times out on a slow server with ERR_EXCHANGE_TIMEOUT', async () => {
    service.server.fail({ kind: 'stall' }, { times: 5 });
    const store = openStore();
    const error = await failure(sync(store, client(), { timeoutMs: 150, retries: 0, backoffMs: 1 }));
    expect(isHashwardenError(error) && error.code).toBe('ERR_EXCHANGE_TIMEOUT');
  });

  it('refuses an expired key with ERR_EXCHANGE_AUTH and imports nothing', async () => {
    service.keys = { ...KEYS, fetchFunctionKey: 'rotated-key' };
    const store = openStore();
    const error = await failure(sync(store));
    expect(isHashwardenError(error) && error.code).toBe('ERR_EXCHANGE_AUTH');
    expect(store.count({ list: LIST })).toBe(0);
    expect(store.checkpoint(syncCheckpointKey(client(), LIST))).toBeUndefined();
    expect(service.server.requests).toHaveLength(1);
  });
});

describe('stopnciiExchange: credentials and options', () => {
  it('never shows a key: not in errors, inspect, checkpoints or metadata', async () => {
    const store = openStore();
    const c = client({ credentials: { ...KEYS, subscriptionKey: new Secret(KEYS.subscriptionKey) } });
    const texts = [inspect(c, { depth: 10, showHidden: true }), JSON.stringify(c), String(c.checkpointKey)];
    service.keys = { ...KEYS, subscriptionKey: 'other' };
    texts.push((await failure(sync(store, c))).message);
    service.keys = KEYS;
    service.server.fail({ kind: 'stall' });
    texts.push((await failure(sync(store, c, { timeoutMs: 100, retries: 0, backoffMs: 1 }))).message);
    const result = await sync(store, c);
    texts.push(JSON.stringify(result), JSON.stringify([...store.entries({ list: LIST })]));
    texts.push(
      (await failure(c.feedback?.({ entry: { id: 'x' } as never, vote: 'up' }, ctx()) ?? Promise.reject())).message,
    );
    for (const text of texts) for (const key of Object.values(KEYS)) expect(text).not.toContain(key);
  });

  it('uses the production URL by default and keys checkpoints by the URL', () => {
    const production = stopnciiExchange({ credentials: KEYS });
    expect(production.checkpointKey).toBe(`stopncii:${STOPNCII_BASE_URL}`);
    expect(client().checkpointKey).toBe(`stopncii:${service.url}/`);
    expect(() => stopnciiExchange({ credentials: KEYS, baseUrl: 'ftp://example.org' })).toThrow(RangeError);
    expect(() => stopnciiExchange({ credentials: KEYS, pageSize: 0 })).toThrow(RangeError);
    expect(() => stopnciiExchange({ credentials: { subscriptionKey: 'a' } })).toThrow(TypeError);
    expect(() => stopnciiExchange({ credentials: { ...KEYS, subscriptionKey: '' } })).toThrow(TypeError);
  });

  it('makes a client from the CLI flags, refusing an environment StopNCII does not have', async () => {
    const credentials = { subscriptionKey: new Secret('s'), fetchFunctionKey: new Secret('f') };
    const c = stopnciiProgramme.create({ 'page-size': '100' }, credentials, { baseUrl: service.url });
    expect(c.checkpointKey).toBe(`stopncii:${service.url}/`);
    expect(() => stopnciiProgramme.create({}, credentials, { environment: 'test' })).toThrow(UsageError);
    for (const size of ['x', '0', '10001', '1.5'])
      expect(() => stopnciiProgramme.create({ 'page-size': size }, credentials, {})).toThrow(UsageError);
  });
});

function ctx() {
  return { list: LIST, http: new ExchangeHttp(HTTP) };
}

describe('stopnciiExchange: feedback', () => {
  const entry = normalizeEntry({ list: LIST, algorithm: 'pdq', hash: 'ab'.repeat(32) });

  it('posts the vote as the reference client does: the hash, Blocked or NotBlocked, the reason as a tag', async () => {
    const c = client();
    await c.feedback?.({ entry, vote: 'down', reason: 'not NCII' }, ctx());
    await c.feedback?.({ entry, vote: 'up' }, ctx());
    expect(service.feedback).toEqual([
      { count: 1, hashFeedbacks: [{ tags: ['not NCII'], feedbackValue: 'NotBlocked', hashValue: entry.hash }] },
      { count: 1, hashFeedbacks: [{ tags: [], feedbackValue: 'Blocked', hashValue: entry.hash }] },
    ]);
    const [request] = service.server.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/SubmitFeedback' });
    expect(request?.headers['x-functions-key']).toBe(KEYS.feedbackFunctionKey);
    expect(request?.headers['ocp-apim-subscription-key']).toBe(KEYS.subscriptionKey);
  });

  it('is not retried, needs the feedback key, and takes only pdq and md5 entries', async () => {
    service.server.fail({ kind: 'status', status: 500 }, { times: 3 });
    const error = await failure(client().feedback?.({ entry, vote: 'up' }, ctx()) ?? Promise.reject());
    expect(isHashwardenError(error) && error.code).toBe('ERR_EXCHANGE_HTTP');
    expect(service.server.requests).toHaveLength(1);
    const noKey = client({ credentials: { subscriptionKey: 's', fetchFunctionKey: 'f' } });
    const missing = await failure(noKey.feedback?.({ entry, vote: 'up' }, ctx()) ?? Promise.reject());
    expect(isHashwardenError(missing) && missing.code).toBe('ERR_EXCHANGE_CREDENTIALS');
    const sha = normalizeEntry({ list: LIST, algorithm: 'sha1', hash: 'ab'.repeat(20) });
    await expect(client().feedback?.({ entry: sha, vote: 'up' }, ctx())).rejects.toThrow(RangeError);
  });
});
