/**
 * The NCMEC connector through `syncExchange` into a real store, against its stand-in: a full sync
 * in several transactions, a later sync's deletions, a 500 and a malformed page mid-sync resumed
 * from the stored checkpoint to the store an uninterrupted sync gives, an expired credential.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isHashwardenError } from '../errors.js';
import { HashStore } from '../store/index.js';
import { startNcmecStandIn, type NcmecStandIn, type NcmecStandInRecord } from '../testing/ncmec-standin.js';
import { ncmecExchange } from './ncmec.js';
import { syncCheckpointKey, syncExchange } from './sync.js';

const USER = 'sync-user';
const PASSWORD = 'sync-password-not-shown';
const NOW = Date.UTC(2021, 0, 1);
const FAST = { retries: 1, backoffMs: 1, timeoutMs: 5_000 } as const;

function records(count: number): NcmecStandInRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    memberId: 42 + (i % 2),
    id: `image${i}`,
    mediaType: 'image',
    timestamp: Date.UTC(2019, 0, 1) / 1000 + ((i * 31) % count) * 3_600,
    classification: i % 2 === 0 ? 'A1' : 'B1',
    fingerprints: {
      md5: randomBytes(16).toString('hex'),
      ...(i % 3 === 0 ? { pdq: randomBytes(32).toString('hex') } : {}),
      ...(i % 4 === 0 ? { pdna: 'cGhvdG9kbmE=' } : {}),
    },
  }));
}

let dir: string;
let ncmec: NcmecStandIn;
const client = () => ncmecExchange({ credentials: { username: USER, password: PASSWORD }, baseUrl: ncmec.baseUrl });
const contents = (store: HashStore): string[] =>
  [...store.entries({ list: 'ncmec' })].map((e) => `${e.id}=${e.hash}:${e.label ?? ''}`).sort();

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-ncmec-sync-'));
  ncmec = await startNcmecStandIn({ username: USER, password: PASSWORD, pageSize: 40 });
  ncmec.records.push(...records(240));
});

afterEach(async () => {
  vi.useRealTimers();
  await ncmec.close();
  await rm(dir, { recursive: true, force: true });
});

async function reference(): Promise<string[]> {
  const store = HashStore.open(join(dir, 'reference.db'));
  try {
    await syncExchange(store, client(), { list: 'ncmec', http: FAST });
    return contents(store);
  } finally {
    store.close();
  }
}

describe('ncmecExchange through syncExchange', () => {
  it('syncs every page into the store in batches, then applies a later sync’s deletions', async () => {
    const store = HashStore.open(join(dir, 'hashes.db'));
    try {
      const first = await syncExchange(store, client(), { list: 'ncmec', http: FAST, batchRows: 150 });
      expect(first).toMatchObject({ pages: 6, added: 240 + 80, ignored: 60 });
      expect(first.commits).toBeGreaterThan(1);
      expect(store.count({ list: 'ncmec' })).toBe(320);
      expect(store.checkpoint(syncCheckpointKey(client(), 'ncmec'))).toBe(
        JSON.stringify({ maxTimestamp: NOW / 1000 - 5 }),
      );

      const deleted = ncmec.records.slice(0, 3).map((r) => ({ ...r, deleted: true, timestamp: NOW / 1000 + 10 }));
      ncmec.records.splice(0, 3, ...deleted);
      vi.setSystemTime(NOW + 60_000);
      const second = await syncExchange(store, client(), { list: 'ncmec', http: FAST });
      // image0 had a PDQ hash too.
      expect(second).toMatchObject({ pages: 1, removed: 4, added: 0 });
      expect(store.count({ list: 'ncmec' })).toBe(316);
    } finally {
      store.close();
    }
  });

  it('resumes after a 500 and after a malformed page to the store an uninterrupted sync gives', async () => {
    const expected = await reference();
    const store = HashStore.open(join(dir, 'hashes.db'));
    const key = syncCheckpointKey(client(), 'ncmec');
    try {
      ncmec.server.fail({ kind: 'status', status: 500 }, { skip: 2, times: 2 });
      const failed = await syncExchange(store, client(), { list: 'ncmec', http: FAST, batchRows: 40 }).catch(
        (e: unknown) => e,
      );
      expect(isHashwardenError(failed) && failed.code).toBe('ERR_EXCHANGE_HTTP');
      expect(JSON.parse(store.checkpoint(key) ?? '').next).toMatch(/start=81/);
      const kept = store.count({ list: 'ncmec' });
      expect(kept).toBeGreaterThan(0);

      ncmec.breakPage(121, '<queryResult><images><image><member id="42">M</member><id>x</id>');
      const malformed = await syncExchange(store, client(), { list: 'ncmec', http: FAST, batchRows: 40 }).catch(
        (e: unknown) => e,
      );
      expect(isHashwardenError(malformed) && malformed.code).toBe('ERR_EXCHANGE_RESPONSE');
      // The page before the malformed one committed, the malformed one not: the checkpoint points at it.
      expect(JSON.parse(store.checkpoint(key) ?? '').next).toMatch(/start=121/);

      ncmec.breakPage(121, undefined);
      await syncExchange(store, client(), { list: 'ncmec', http: FAST });
      expect(contents(store)).toEqual(expected);
    } finally {
      store.close();
    }
  });

  it('imports nothing and stores no checkpoint when the credential has expired', async () => {
    ncmec.expire();
    const store = HashStore.open(join(dir, 'hashes.db'));
    try {
      const error = await syncExchange(store, client(), { list: 'ncmec', http: FAST }).catch((e: unknown) => e);
      expect(isHashwardenError(error) && error.code).toBe('ERR_EXCHANGE_AUTH');
      expect(String((error as Error).message)).not.toContain(PASSWORD);
      expect(store.count({ list: 'ncmec' })).toBe(0);
      expect(store.checkpoint(syncCheckpointKey(client(), 'ncmec'))).toBeUndefined();
    } finally {
      store.close();
    }
  });
});
