/**
 * The TAT connector driven by syncExchange into a store, against the stand-in: a full sync and
 * an incremental one, a 500 or a malformed page mid-sync then a resume equal to an uninterrupted
 * sync, v1's file replacing the list once per published file, an expired credential importing
 * nothing, and no secret anywhere in the store file.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HashwardenError } from '../errors.js';
import { HashStore } from '../store/index.js';
import { startTatStandIn, type TatStandIn, type TatStandInOptions, tatRecords } from '../testing/tat-standin.js';
import { type SyncOptions, syncCheckpointKey, syncExchange } from './sync.js';
import { type TatExchangeOptions, tatExchange } from './tat.js';
import type { ExchangeClient } from './types.js';

const USERNAME = 'analyst-51b0';
const PASSWORD = 'pw-c0de-kept-out-of-the-store';
const FAST = { timeoutMs: 2_000, retries: 1, backoffMs: 1 } as const;

let dir: string;
let store: HashStore;
let tat: TatStandIn;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-tat-'));
  store = HashStore.open(join(dir, 'hashes.db'));
});

afterEach(async () => {
  store.close();
  await tat?.close();
  await rm(dir, { recursive: true, force: true });
});

async function standIn(options: TatStandInOptions): Promise<TatStandIn> {
  tat = await startTatStandIn({ username: USERNAME, password: PASSWORD, ...options });
  return tat;
}

const client = (options: Partial<TatExchangeOptions> = {}): ExchangeClient =>
  tatExchange({ credentials: { username: USERNAME, password: PASSWORD }, baseUrl: tat.url, ...options });

const sync = (target: HashStore, exchange: ExchangeClient, options: Partial<SyncOptions> = {}) =>
  syncExchange(target, exchange, { list: 'tat', http: FAST, ...options });

const failure = (promise: Promise<unknown>): Promise<HashwardenError> =>
  promise.then(
    () => {
      throw new Error('expected the sync to fail');
    },
    (error: unknown) => error as HashwardenError,
  );

const contents = (s: HashStore): string[] =>
  [...s.entries({ list: 'tat' })].map((e) => `${e.id} ${e.algorithm}:${e.hash} ${e.label}`).sort();

/** What the stand-in's live records should give. */
const expected = (): string[] =>
  tat.records
    .filter((r) => !r.deleted && r.algorithm !== 'TMK')
    .map((r) => `${r.id} ${r.algorithm.toLowerCase()}:${r.hash_digest} ${r.ideology}`)
    .sort();

describe('syncExchange with TAT v2', () => {
  it('syncs every page, then only what changed after the stored checkpoint', async () => {
    await standIn({ records: tatRecords(300), pageSize: 50 });
    const first = await sync(store, client(), { batchRows: 120 });
    expect(first).toMatchObject({ pages: 6, added: 288, ignored: 12, removed: 0 });
    expect(first.commits).toBeGreaterThan(1);
    expect(contents(store)).toEqual(expected());

    tat.withdraw(1006);
    tat.withdraw(1007);
    tat.add(tatRecords(4, 5, 7000));
    const second = await sync(store, client());
    expect(second).toMatchObject({ from: first.checkpoint, pages: 1, added: 4, removed: 2 });
    expect(contents(store)).toEqual(expected());

    const asked = tat.requests.length;
    expect(await sync(store, client())).toMatchObject({ pages: 0, commits: 0, added: 0 });
    expect(tat.requests.slice(asked).map((r) => r.url.split('?')[0])).toEqual([
      '/token-auth/tcap/',
      '/api/hash-list/v2/all',
    ]);
  });

  it('keeps the pages before a 500 that outlasts the retries, and resumes to the store an uninterrupted sync makes', async () => {
    await standIn({ records: tatRecords(300), pageSize: 50 });
    const reference = HashStore.open(join(dir, 'reference.db'));
    await sync(reference, client());
    const whole = contents(reference);
    reference.close();

    tat.fail({ kind: 'status', status: 500 }, { when: /\/v2\//, skip: 3, times: 2 });
    const error = await failure(sync(store, client(), { batchRows: 50 }));
    expect(error.code).toBe('ERR_EXCHANGE_HTTP');
    const key = syncCheckpointKey(client(), 'tat');
    const kept = store.checkpoint(key);
    expect(JSON.parse(kept as string).after).toBe(`${tat.records[149]?.updated_on},${tat.records[149]?.id}`);
    expect(store.count({ list: 'tat' })).toBe(144);

    const resumed = await sync(store, client());
    expect(resumed).toMatchObject({ from: kept, pages: 3, removed: 0 });
    expect(contents(store)).toEqual(whole);
  });

  it('does not import a malformed page nor move the checkpoint past it', async () => {
    await standIn({ records: tatRecords(150), pageSize: 50 });
    tat.tamper(/\/v2\//, '{"next": null, "checkpoint": "9,9", "results": [{"id": 5, "algorithm": "MD5"}]}', {
      skip: 1,
    });
    const error = await failure(sync(store, client(), { batchRows: 1 }));
    expect(error.code).toBe('ERR_EXCHANGE_RESPONSE');
    expect(JSON.parse(store.checkpoint(syncCheckpointKey(client(), 'tat')) as string).after).toMatch(/,1049$/);
    expect(store.count({ list: 'tat' })).toBe(48);

    expect(await sync(store, client())).toMatchObject({ pages: 2 });
    expect(contents(store)).toEqual(expected());
  });

  it('imports nothing with refused credentials, and keeps them, the token and the file URL out of the store', async () => {
    await standIn({ records: tatRecords(120), pageSize: 50 });
    const refused = tatExchange({ credentials: { username: USERNAME, password: 'wrong' }, baseUrl: tat.url });
    expect((await failure(sync(store, refused))).code).toBe('ERR_EXCHANGE_AUTH');
    expect(store.lists()).toEqual([]);

    await sync(store, client());
    tat.publish();
    await sync(store, client({ api: 'v1' }), { list: 'tat-file' });
    store.close();
    const bytes = (await readFile(join(dir, 'hashes.db'))).toString('latin1');
    const tokens = tat.requests
      .map((r) => String(r.headers.authorization ?? '').replace('Bearer ', ''))
      .filter(Boolean);
    const signatures = tat.requests
      .map((r) => new URL(r.url, tat.url).searchParams.get('X-Amz-Signature'))
      .filter(Boolean);
    expect(tokens.length).toBeGreaterThan(1);
    expect(signatures).toHaveLength(1);
    for (const secret of [USERNAME, PASSWORD, ...tokens, ...(signatures as string[])])
      expect(bytes).not.toContain(secret);
    store = HashStore.open(join(dir, 'hashes.db'));
  });
});

describe('syncExchange with TAT v1', () => {
  it('replaces the list with each new file, and downloads nothing while the file is the one imported', async () => {
    await standIn({ records: tatRecords(200) });
    tat.publish('2026-02-01T00:00:00Z');
    const exchange = client({ api: 'v1' });
    const first = await sync(store, exchange);
    expect(first).toMatchObject({ pages: 1, commits: 1, added: 192, ignored: 8 });
    expect(contents(store)).toEqual(expected());

    const asked = tat.requests.length;
    expect(await sync(store, exchange)).toMatchObject({ pages: 0, commits: 0 });
    expect(tat.requests.slice(asked).some((r) => r.url.startsWith('/files/'))).toBe(false);

    tat.withdraw(1000);
    tat.withdraw(1001);
    tat.add(tatRecords(3, 11, 8000));
    tat.publish('2026-02-02T00:00:00Z');
    const next = await sync(store, exchange);
    // Withdrawn records are left out of the file's list: removed by the replacement, counted ignored.
    expect(next).toMatchObject({ pages: 1, added: 3, removed: 2, ignored: 10 });
    expect(contents(store)).toEqual(expected());
  });

  it('leaves the list as it was when the file is malformed or its download fails', async () => {
    await standIn({ records: tatRecords(60) });
    tat.publish('2026-03-01T00:00:00Z');
    await sync(store, client({ api: 'v1' }));
    const before = contents(store);
    const checkpoint = store.checkpoint(syncCheckpointKey(client({ api: 'v1' }), 'tat'));

    tat.add(tatRecords(2, 3, 9100));
    tat.publish('2026-03-02T00:00:00Z');
    tat.tamper(/^\/files\//, '[{"id": 1, "hash_digest": "00", "algorithm": "MD5"}]');
    expect((await failure(sync(store, client({ api: 'v1' })))).code).toBe('ERR_EXCHANGE_RESPONSE');
    tat.fail({ kind: 'status', status: 503 }, { when: /^\/files\//, times: 2 });
    expect((await failure(sync(store, client({ api: 'v1' })))).code).toBe('ERR_EXCHANGE_HTTP');
    expect(contents(store)).toEqual(before);
    expect(store.checkpoint(syncCheckpointKey(client({ api: 'v1' }), 'tat'))).toBe(checkpoint);

    expect(await sync(store, client({ api: 'v1' }))).toMatchObject({ pages: 1, added: 2 });
    expect(contents(store)).toEqual(expected());
  });
});
