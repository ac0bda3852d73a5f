/**
 * ThreatExchange synced into a store end to end (issue 21): syncExchange over the stand-in, a 500
 * mid-sync and the resume, a malformed page, an expired token, and the stored checkpoint without
 * the access token.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashStore } from '../store/index.js';
import {
  generateUpdates,
  type StandInUpdate,
  type ThreatExchangeStandIn,
  startThreatExchangeStandIn,
} from '../testing/threatexchange-standin.js';
import type { ExchangeHttpOptions } from './http.js';
import { syncCheckpointKey, syncExchange } from './sync.js';
import { threatExchange } from './threatexchange.js';
import type { ExchangeClient } from './types.js';

const SECRET_PART = 'c3RhbmRpbi1vbmx5LW5vdC1hLXJlYWwtc2VjcmV0';
const TOKEN = `9876543210987|${SECRET_PART}`;
const GROUP = '314159265358979';
const LIST = 'te';
const FAST: ExchangeHttpOptions = { timeoutMs: 2_000, retries: 1, backoffMs: 1 };

let dir: string;
const open: HashStore[] = [];
const servers: ThreatExchangeStandIn[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-te-sync-'));
});
afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

function store(name: string): HashStore {
  const s = HashStore.open(join(dir, name));
  open.push(s);
  return s;
}

async function setUp(updates: StandInUpdate[]): Promise<{ server: ThreatExchangeStandIn; client: ExchangeClient }> {
  const server = await startThreatExchangeStandIn({ token: TOKEN, privacyGroup: GROUP, updates });
  servers.push(server);
  const client = threatExchange({
    credentials: { accessToken: TOKEN },
    privacyGroup: GROUP,
    baseUrl: server.base,
    pageSize: 30,
  });
  return { server, client };
}

function contents(s: HashStore): string[] {
  return [...s.entries({ list: LIST })]
    .map((e) => `${e.id} ${e.algorithm} ${e.hash} ${JSON.stringify(e.metadata)}`)
    .sort();
}

describe('syncExchange(threatExchange)', () => {
  it('syncs a few hundred records page by page, then applies the tombstones of the next sync as removals', async () => {
    const updates = generateUpdates(240);
    const { client } = await setUp(updates);
    const s = store('a.db');
    const first = await syncExchange(s, client, { list: LIST, http: FAST, batchRows: 50 });
    expect(first).toMatchObject({ pages: 8, added: 210, removed: 0, ignored: 30 });
    expect(first.commits).toBeGreaterThanOrEqual(4);
    const gone = updates.filter((u, i) => i < 40 && u.type === 'HASH_PDQ');
    for (const u of gone) updates[updates.indexOf(u)] = { ...u, lastUpdated: 1_800_000_000, shouldDelete: true };
    const second = await syncExchange(s, client, { list: LIST, http: FAST });
    expect(second).toMatchObject({ from: first.checkpoint, removed: gone.length, added: 0 });
    expect(s.count({ list: LIST })).toBe(210 - gone.length);
    expect(JSON.parse(s.checkpoint(syncCheckpointKey(client, LIST)) ?? '')).toEqual({ updateTime: 1_800_000_000 });
  });

  it('resumes after a 500 mid-sync to the store an uninterrupted sync gives: nothing lost, nothing doubled', async () => {
    const updates = generateUpdates(300);
    const whole = store('whole.db');
    await syncExchange(whole, (await setUp(updates)).client, { list: LIST, http: FAST });
    const { server, client } = await setUp(updates);
    server.fail({ kind: 'status', status: 500 }, { skip: 4, times: 2, when: /threat_updates/ });
    const s = store('broken.db');
    await expect(syncExchange(s, client, { list: LIST, http: FAST, batchRows: 1 })).rejects.toMatchObject({
      code: 'ERR_EXCHANGE_HTTP',
    });
    const kept = s.count({ list: LIST });
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(whole.count({ list: LIST }));
    const resumed = await syncExchange(s, client, { list: LIST, http: FAST });
    expect(resumed.pages).toBe(6);
    expect(resumed.added).toBe(whole.count({ list: LIST }) - kept);
    expect(resumed.updated + resumed.unchanged).toBe(0);
    expect(contents(s)).toEqual(contents(whole));
  });

  it('keeps the pages before a malformed one and not its rows, the checkpoint at the page before', async () => {
    const { server, client } = await setUp(generateUpdates(150));
    server.malform('field', { skip: 2 });
    const s = store('m.db');
    await expect(syncExchange(s, client, { list: LIST, http: FAST, batchRows: 1 })).rejects.toMatchObject({
      code: 'ERR_EXCHANGE_RESPONSE',
    });
    const checkpoint = JSON.parse(s.checkpoint(syncCheckpointKey(client, LIST)) ?? '') as { next: string };
    expect(new URL(checkpoint.next).searchParams.get('after')).not.toBeNull();
    const ids = new Set([...s.entries({ list: LIST })].map((e) => e.id));
    expect(
      server.updates
        .slice(0, 60)
        .filter((u) => u.type !== 'HASH_TMK')
        .every((u) => ids.has(u.id)),
    ).toBe(true);
    expect(server.updates.slice(60).some((u) => ids.has(u.id))).toBe(false);
  });

  it('imports nothing on an expired token, and stores no token anywhere in the store file', async () => {
    const { server, client } = await setUp(generateUpdates(100));
    const s = store('t.db');
    server.expire();
    await expect(syncExchange(s, client, { list: LIST, http: FAST })).rejects.toMatchObject({
      code: 'ERR_EXCHANGE_AUTH',
    });
    expect(s.count({ list: LIST })).toBe(0);
    expect(s.checkpoint(syncCheckpointKey(client, LIST))).toBeUndefined();
    const fresh = await setUp(generateUpdates(100));
    fresh.server.fail({ kind: 'status', status: 503 }, { skip: 2, times: 5 });
    await expect(syncExchange(s, fresh.client, { list: LIST, http: FAST, batchRows: 1 })).rejects.toMatchObject({
      code: 'ERR_EXCHANGE_HTTP',
    });
    expect(s.checkpoint(syncCheckpointKey(fresh.client, LIST))).toMatch(/"next":/);
    s.close();
    open.splice(open.indexOf(s), 1);
    const bytes = await readFile(join(dir, 't.db'));
    expect(bytes.includes(SECRET_PART)).toBe(false);
  });
});
