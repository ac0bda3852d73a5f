/**
 * The sync loop against a stand-in speaking a minimal paged protocol (`GET /page?n=`: rows and
 * the next page's number): batches and their checkpoints, resume after a failure with nothing
 * lost or doubled, rows about one id folded, a whole page replacing the list, restart, abort.
 * Each programme's own protocol is tested in its connector's test file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { normalizeEntry } from '../lists/entry.js';
import { HashStore, type ImportRow } from '../store/index.js';
import { startStandIn, type StandIn } from '../testing/exchange-server.js';
import { parseJsonBody } from './http.js';
import { syncCheckpointKey, syncExchange } from './sync.js';
import type { ExchangeClient, ExchangePage } from './types.js';

/** A page of the stand-in: `add` ids with their hash digit, `remove` ids; `whole` for a full list. */
interface ToyPage {
  readonly add: readonly [string, string][];
  readonly remove?: readonly string[];
  readonly whole?: boolean;
}

/** A client of the toy protocol: the checkpoint is the next page's number. */
function toyClient(base: string): ExchangeClient {
  return {
    name: 'tat',
    checkpointKey: 'toy',
    async *pages(from, context): AsyncIterable<ExchangePage> {
      let n = from === undefined ? 0 : Number(from);
      for (;;) {
        const response = await context.http.request(`${base}/page?n=${n}`, { what: 'toy page' });
        const body = parseJsonBody(response, 'toy page') as { page: ToyPage | null };
        if (body.page === null) return;
        const rows: ImportRow[] = [
          ...body.page.add.map(
            ([id, digit]): ImportRow => ({
              op: 'add',
              entry: normalizeEntry({ list: context.list, id, algorithm: 'md5', hash: digit.repeat(32) }),
            }),
          ),
          ...(body.page.remove ?? []).map((id): ImportRow => ({ op: 'remove', list: context.list, id })),
        ];
        n++;
        yield { rows, checkpoint: String(n), ignored: 1, ...(body.page.whole === true ? { whole: true } : {}) };
      }
    },
  };
}

let dir: string;
let server: StandIn;
let pages: ToyPage[];
let store: HashStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-sync-'));
  pages = [];
  server = await startStandIn((_request, url) => ({
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ page: pages[Number(url.searchParams.get('n'))] ?? null }),
  }));
  store = HashStore.open(join(dir, 'hashes.db'));
});

afterEach(async () => {
  store.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const FAST = { retries: 0, backoffMs: 1, timeoutMs: 2_000 } as const;
const contents = (s: HashStore): string[] => [...s.entries({ list: 'feed' })].map((e) => `${e.id}=${e.hash[0]}`);

/** Ten pages of five ids each, a few of them changed and removed by later pages. */
function tenPages(): ToyPage[] {
  return Array.from({ length: 10 }, (_, p) => ({
    add: Array.from({ length: 5 }, (_, i): [string, string] => [`e${p * 5 + i}`, String((p + i) % 10)]),
    remove: p > 0 ? [`e${(p - 1) * 5}`] : [],
  }));
}

describe('syncExchange', () => {
  it('applies every page, commits in batches with their checkpoints, and resumes where it stopped', async () => {
    pages = tenPages();
    const progress: number[] = [];
    const first = await syncExchange(store, toyClient(server.url), {
      list: 'feed',
      http: FAST,
      batchRows: 12,
      onProgress: (p) => progress.push(p.pages),
    });
    // An id added and removed within one batch is folded away: only removals across batches count.
    expect(first).toMatchObject({ from: undefined, checkpoint: '10', pages: 10, ignored: 10 });
    expect(first.removed).toBeGreaterThan(0);
    expect(first.commits).toBe(progress.length);
    expect(first.commits).toBeGreaterThan(2);
    expect(store.count({ list: 'feed' })).toBe(41);
    expect(store.checkpoint(syncCheckpointKey(toyClient(server.url), 'feed'))).toBe('10');

    pages.push({ add: [['late', 'f']] });
    const asked = server.requests.length;
    const second = await syncExchange(store, toyClient(server.url), { list: 'feed', http: FAST });
    expect(second).toMatchObject({ from: '10', checkpoint: '11', pages: 1, added: 1 });
    expect(server.requests.slice(asked).map((r) => r.url)).toEqual(['/page?n=10', '/page?n=11']);
  });

  it('keeps the pages before a failure, and a resumed sync ends equal to an uninterrupted one', async () => {
    pages = tenPages();
    const reference = HashStore.open(join(dir, 'reference.db'));
    await syncExchange(reference, toyClient(server.url), { list: 'feed', http: FAST });
    const expected = contents(reference);
    reference.close();

    server.fail({ kind: 'status', status: 500 }, { skip: 6, times: 1 });
    const failure = await syncExchange(store, toyClient(server.url), {
      list: 'feed',
      http: FAST,
      batchRows: 1_000,
    }).catch((e: unknown) => e);
    expect((failure as HashwardenError).code).toBe('ERR_EXCHANGE_HTTP');
    expect(store.checkpoint(syncCheckpointKey(toyClient(server.url), 'feed'))).toBe('6');
    expect(store.count({ list: 'feed' })).toBe(25);

    const asked = server.requests.length;
    const resumed = await syncExchange(store, toyClient(server.url), { list: 'feed', http: FAST });
    expect(resumed).toMatchObject({ from: '6', pages: 4 });
    expect(contents(store)).toEqual(expected);
    // Nothing applied twice: the resumed sync asked for no page before its checkpoint.
    expect(server.requests.slice(asked).map((r) => r.url)).toEqual(
      ['6', '7', '8', '9', '10'].map((n) => `/page?n=${n}`),
    );
  });

  it('does not move the checkpoint past a malformed page, nor import its rows', async () => {
    pages = tenPages();
    const broken = await startStandIn((_request, url) =>
      url.searchParams.get('n') === '3'
        ? { body: '{"page": {"add": [["x", "1"]' }
        : { body: JSON.stringify({ page: pages[Number(url.searchParams.get('n'))] ?? null }) },
    );
    try {
      const error = await syncExchange(store, toyClient(broken.url), { list: 'feed', http: FAST }).catch(
        (e: unknown) => e,
      );
      expect((error as HashwardenError).code).toBe('ERR_EXCHANGE_RESPONSE');
      expect(store.checkpoint(syncCheckpointKey(toyClient(broken.url), 'feed'))).toBe('3');
      expect(contents(store)).not.toContain('x=1');
    } finally {
      await broken.close();
    }
  });

  it('folds rows about one id within a batch: the last one wins', async () => {
    pages = [{ add: [['a', '1']] }, { add: [], remove: ['a'] }, { add: [['b', '2']] }, { add: [['b', '3']] }];
    const result = await syncExchange(store, toyClient(server.url), { list: 'feed', http: FAST });
    expect(contents(store)).toEqual(['b=3']);
    expect(result.commits).toBe(1);
  });

  it('replaces the list with a whole page, and refuses a whole page that would empty it', async () => {
    pages = [
      {
        add: [
          ['a', '1'],
          ['b', '2'],
        ],
      },
      { add: [['c', '3']], whole: true },
    ];
    await syncExchange(store, toyClient(server.url), { list: 'feed', http: FAST });
    expect(contents(store)).toEqual(['c=3']);
    pages.push({ add: [], whole: true });
    const error = await syncExchange(store, toyClient(server.url), { list: 'feed', http: FAST }).catch(
      (e: unknown) => e,
    );
    expect((error as HashwardenError).code).toBe('ERR_LIST_FORMAT');
    expect(contents(store)).toEqual(['c=3']);
  });

  it('starts from the beginning with restart', async () => {
    pages = [{ add: [['a', '1']] }];
    await syncExchange(store, toyClient(server.url), { list: 'feed', http: FAST });
    const again = await syncExchange(store, toyClient(server.url), { list: 'feed', http: FAST, restart: true });
    expect(again).toMatchObject({ from: undefined, pages: 1, unchanged: 1 });
  });

  it('stops when aborted and keeps what it fetched', async () => {
    pages = tenPages();
    const controller = new AbortController();
    const error = await syncExchange(store, toyClient(server.url), {
      list: 'feed',
      http: FAST,
      batchRows: 5,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.pages === 4) controller.abort(new Error('stopped by the operator'));
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('stopped by the operator');
    expect(store.checkpoint(syncCheckpointKey(toyClient(server.url), 'feed'))).toBe('4');
  });

  it('checks its options', async () => {
    await expect(syncExchange(store, toyClient(server.url), { list: '' })).rejects.toThrow(RangeError);
    await expect(syncExchange(store, toyClient(server.url), { list: 'feed', batchRows: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(syncExchange(store, {} as ExchangeClient, { list: 'feed' })).rejects.toThrow(TypeError);
  });
});
