/**
 * The ThreatExchange connector (issue 21) against its stand-in: threat_updates paging, tombstones
 * as removals, resuming from a checkpoint, faults, the access token kept out of every message and
 * checkpoint, filters, environments, reactions.
 */
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { ListEntry } from '../lists/entry.js';
import { startStandIn, type StandIn } from '../testing/exchange-server.js';
import {
  generateUpdates as generate,
  type StandInUpdate,
  type ThreatExchangeStandIn,
  startThreatExchangeStandIn,
} from '../testing/threatexchange-standin.js';
import { Secret } from './credentials.js';
import { ExchangeHttp, type ExchangeHttpOptions } from './http.js';
import { type ThreatExchangeOptions, threatExchange } from './threatexchange.js';
import type { ExchangeClient, ExchangePage } from './types.js';

const APP_ID = '1234567890123';
const SECRET_PART = 'c2VjcmV0LW5vdC1yZWFsLXN0YW5kaW4';
const TOKEN = `${APP_ID}|${SECRET_PART}`;
const GROUP = '987654321012345';
const LIST = 'te';
const FAST: ExchangeHttpOptions = { timeoutMs: 2_000, retries: 2, backoffMs: 1 };

const servers: StandIn[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function standIn(updates: StandInUpdate[], version?: string): Promise<ThreatExchangeStandIn> {
  const server = await startThreatExchangeStandIn({ token: TOKEN, privacyGroup: GROUP, updates, version });
  servers.push(server);
  return server;
}

function client(server: { base: string }, options: Partial<ThreatExchangeOptions> = {}): ExchangeClient {
  return threatExchange({
    credentials: { accessToken: TOKEN },
    privacyGroup: GROUP,
    baseUrl: server.base,
    pageSize: 40,
    ...options,
  });
}

interface Drained {
  readonly pages: ExchangePage[];
  readonly checkpoint: string | undefined;
  readonly error: unknown;
}

/** What the sync does with the pages: take them one by one, keep the last checkpoint, stop at an error. */
async function drain(c: ExchangeClient, from?: string, http: ExchangeHttpOptions = FAST): Promise<Drained> {
  const pages: ExchangePage[] = [];
  let checkpoint = from;
  try {
    for await (const page of c.pages(from, { list: LIST, http: new ExchangeHttp(http) })) {
      pages.push(page);
      checkpoint = page.checkpoint;
    }
  } catch (error) {
    return { pages, checkpoint, error };
  }
  return { pages, checkpoint, error: undefined };
}

/** The list after applying pages in order: a later row about an id wins, as in the store. */
function apply(state: Map<string, ListEntry>, pages: readonly ExchangePage[]): Map<string, ListEntry> {
  for (const page of pages) {
    for (const row of page.rows) {
      if (row.op === 'add') state.set(row.entry.id, row.entry);
      else state.delete(row.id);
    }
  }
  return state;
}

function expectedEntries(updates: readonly StandInUpdate[]): string[] {
  const algorithms: Record<string, string> = {
    HASH_PDQ: 'pdq',
    HASH_MD5: 'md5',
    HASH_VIDEO_MD5: 'md5',
    HASH_SHA1: 'sha1',
    HASH_SHA256: 'sha256',
  };
  return updates
    .filter((u) => u.shouldDelete !== true && algorithms[u.type] !== undefined)
    .map((u) => `${u.id} ${algorithms[u.type]} ${u.indicator}`)
    .sort();
}

function summary(state: Map<string, ListEntry>): string[] {
  return [...state.values()].map((e) => `${e.id} ${e.algorithm} ${e.hash}`).sort();
}

describe('threatExchange: threat_updates', () => {
  it('fetches every page of a few hundred records, each usable indicator one entry, the others counted as ignored', async () => {
    const updates = generate(300);
    const server = await standIn(updates);
    const { pages, error } = await drain(client(server));
    expect(error).toBeUndefined();
    expect(pages.length).toBe(8);
    expect(summary(apply(new Map(), pages))).toEqual(expectedEntries(updates));
    expect(pages.reduce((n, p) => n + (p.ignored ?? 0), 0)).toBe(updates.filter((u) => u.type === 'HASH_TMK').length);
    const first = new URL(server.requests[0]?.url ?? '', server.url);
    expect(first.pathname).toBe(`/v21.0/${GROUP}/threat_updates/`);
    expect(first.searchParams.get('limit')).toBe('40');
    expect(first.searchParams.get('fields')).toMatch(/^id,indicator,type,last_updated,should_delete,descriptors\{/);
    expect(first.searchParams.has('start_time')).toBe(false);
    expect(server.requests.every((r) => new URL(r.url, server.url).searchParams.get('access_token') === TOKEN)).toBe(
      true,
    );
  });

  it('maps types, tags, owners and descriptors, and keeps the records of another type out', async () => {
    const updates = generate(8);
    const server = await standIn(updates);
    const entries = apply(new Map(), (await drain(client(server))).pages);
    const byType = new Map<string, ListEntry | undefined>();
    for (const u of updates) if (!byType.has(u.type)) byType.set(u.type, entries.get(u.id));
    expect(byType.get('HASH_PDQ')).toMatchObject({
      list: LIST,
      algorithm: 'pdq',
      metadata: {
        type: 'HASH_PDQ',
        lastUpdated: 1_700_000_000,
        descriptors: ['1000000000000000'],
        owners: ['555000111'],
        tags: 'csam media_type_photo',
        addedOn: '2024-01-01T00:00:00+0000',
      },
    });
    expect(byType.get('HASH_VIDEO_MD5')?.algorithm).toBe('md5');
    expect(byType.get('HASH_SHA1')?.algorithm).toBe('sha1');
    expect(byType.get('HASH_SHA256')?.algorithm).toBe('sha256');
    expect(byType.get('HASH_TMK')).toBeUndefined();
  });

  it('resumes from the last update time: tombstones remove, changes replace, only the new updates are asked for', async () => {
    const updates = generate(120);
    const server = await standIn(updates);
    const c = client(server);
    const first = await drain(c);
    const state = apply(new Map(), first.pages);
    expect(JSON.parse(first.checkpoint ?? '')).toEqual({ updateTime: 1_700_000_039 });
    const later = 1_700_100_000;
    const deleted = updates.slice(0, 30).filter((u) => u.type === 'HASH_PDQ');
    for (const u of deleted) updates.push({ ...u, lastUpdated: later, shouldDelete: true });
    updates.push(...generate(50, 2, 200_000_000_000_000, later + 1));
    const kept = new Set(deleted.map((u) => u.id));
    const current = [...new Map(updates.map((u) => [u.id, u])).values()];
    for (let i = updates.length - 1; i >= 0; i--)
      if (kept.has(updates[i]?.id ?? '') && updates[i]?.shouldDelete !== true) updates.splice(i, 1);
    const asked = server.requests.length;
    const second = await drain(c, first.checkpoint);
    expect(second.error).toBeUndefined();
    expect(new URL(server.requests[asked]?.url ?? '', server.url).searchParams.get('start_time')).toBe('1700000039');
    const removals = second.pages.flatMap((p) => p.rows).filter((r) => r.op === 'remove');
    expect(removals.map((r) => (r.op === 'remove' ? r.id : '')).sort()).toEqual(deleted.map((u) => u.id).sort());
    expect(summary(apply(state, second.pages))).toEqual(expectedEntries(current));
    expect(deleted.every((u) => !state.has(u.id))).toBe(true);
  });

  it('resumes after a 500 mid-sync from the page it stopped at: nothing lost, nothing fetched twice', async () => {
    const updates = generate(300);
    const whole = await drain(client(await standIn(updates)));
    const server = await standIn(updates);
    server.fail({ kind: 'status', status: 500 }, { skip: 3, times: 3, when: /threat_updates/ });
    const c = client(server);
    const broken = await drain(c);
    expect(broken.error).toMatchObject({ code: 'ERR_EXCHANGE_HTTP' });
    expect(broken.pages.length).toBe(3);
    const checkpoint = JSON.parse(broken.checkpoint ?? '') as { next: string; updateTime: number };
    expect(new URL(checkpoint.next).searchParams.has('after')).toBe(true);
    const resumed = await drain(c, broken.checkpoint);
    expect(resumed.error).toBeUndefined();
    const ids = [...broken.pages, ...resumed.pages].flatMap((p) =>
      p.rows.map((r) => (r.op === 'add' ? r.entry.id : r.id)),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(summary(apply(apply(new Map(), broken.pages), resumed.pages))).toEqual(
      summary(apply(new Map(), whole.pages)),
    );
    expect(resumed.checkpoint).toBe(whole.checkpoint);
  });

  it('refuses a malformed page whole: a typed error naming the page and record, the checkpoint left at the page before', async () => {
    for (const kind of ['field', 'json'] as const) {
      const server = await standIn(generate(200));
      server.malform(kind, { skip: 2 });
      const broken = await drain(client(server));
      expect(broken.error).toMatchObject({ code: 'ERR_EXCHANGE_RESPONSE' });
      expect((broken.error as Error).message).toMatch(/threat_updates page 3 of privacy group/);
      if (kind === 'field')
        expect((broken.error as Error).message).toMatch(/record \d+: last_updated is not a Unix time/);
      expect(broken.pages.length).toBe(2);
      expect(broken.checkpoint).toBe(broken.pages[1]?.checkpoint);
      const resumed = await drain(client(server), broken.checkpoint);
      expect(resumed.error).toBeUndefined();
      expect(summary(apply(apply(new Map(), broken.pages), resumed.pages))).toEqual(expectedEntries(server.updates));
    }
  });

  it('gives up on a slow server with ERR_EXCHANGE_TIMEOUT', async () => {
    const server = await standIn(generate(10));
    server.fail({ kind: 'stall' }, { times: 5 });
    const { pages, error } = await drain(client(server), undefined, { timeoutMs: 150, retries: 1, backoffMs: 1 });
    expect(error).toMatchObject({ code: 'ERR_EXCHANGE_TIMEOUT' });
    expect(pages).toEqual([]);
  });

  it('reads the Graph API refusing an expired token (HTTP 400, invalid_token) as ERR_EXCHANGE_AUTH, nothing imported', async () => {
    const server = await standIn(generate(10));
    server.expire();
    const { pages, error } = await drain(client(server));
    expect(error).toMatchObject({ code: 'ERR_EXCHANGE_AUTH' });
    expect(pages).toEqual([]);
    expect(server.requests.length).toBe(1);
  });

  it('stops between pages when the sync is aborted', async () => {
    const server = await standIn(generate(200));
    const controller = new AbortController();
    const pages: ExchangePage[] = [];
    const iterate = async (): Promise<void> => {
      for await (const page of client(server).pages(undefined, {
        list: LIST,
        http: new ExchangeHttp(FAST),
        signal: controller.signal,
      })) {
        pages.push(page);
        if (pages.length === 2) controller.abort(new Error('stopped'));
      }
    };
    await expect(iterate()).rejects.toThrow('stopped');
    expect(pages.length).toBe(2);
    expect(server.requests.length).toBe(2);
  });

  it('sends the types filter as the Graph API takes it, and it changes the checkpoint key', async () => {
    const updates = generate(64);
    const server = await standIn(updates);
    const c = client(server, { types: ['HASH_PDQ', 'HASH_MD5', 'HASH_PDQ'] });
    const { pages } = await drain(c);
    expect(new URL(server.requests[0]?.url ?? '', server.url).searchParams.get('types')).toBe('HASH_MD5,HASH_PDQ');
    const entries = [...apply(new Map(), pages).values()];
    expect(new Set(entries.map((e) => e.algorithm))).toEqual(new Set(['pdq', 'md5']));
    expect(entries.length).toBe(updates.filter((u) => u.type === 'HASH_PDQ' || u.type === 'HASH_MD5').length);
    expect(c.checkpointKey).toBe(`threatexchange:${server.base}:${GROUP}:types=HASH_MD5,HASH_PDQ`);
    expect(client(server).checkpointKey).toBe(`threatexchange:${server.base}:${GROUP}`);
  });
});

describe('threatExchange: opinions', () => {
  const pdq = (n: number): string => n.toString(16).padStart(64, '0');
  const record = (id: number, descriptors: StandInUpdate['descriptors']): StandInUpdate => ({
    id: String(id),
    type: 'HASH_PDQ',
    indicator: pdq(id),
    lastUpdated: 1_700_000_000 + id,
    descriptors,
  });

  it('marks disputed indicators, leaves out (and removes) the ones every member cleared, skips a malformed hash', async () => {
    const server = await standIn([
      record(1, [
        { id: '11', owner: '901', status: 'MALICIOUS' },
        { id: '12', owner: '902', status: 'NON_MALICIOUS' },
      ]),
      record(2, [{ id: '21', owner: '901', status: 'NON_MALICIOUS' }]),
      record(3, [{ id: '31', owner: '901', reactions: [{ key: 'DISAGREE_WITH_TAGS', value: '903,904' }] }]),
      record(4, [{ id: '41', owner: '901', status: 'NON_MALICIOUS', reactions: [{ key: 'HELPFUL', value: '905' }] }]),
      { ...record(5, [{ id: '51', owner: '901' }]), indicator: 'not-a-hash' },
      { ...record(8, [{ id: '81', owner: '901' }]), indicator: ' ' },
      record(6, [{ id: '61', owner: '901', status: 'UNKNOWN' }]),
      record(7, []),
    ]);
    const { pages } = await drain(client(server));
    const rows = pages.flatMap((p) => p.rows);
    const entries = apply(new Map(), pages);
    expect(entries.get('1')?.metadata).toMatchObject({
      disputed: true,
      owners: ['901', '902'],
      descriptors: ['11', '12'],
    });
    expect(entries.get('3')?.metadata).toMatchObject({ disputed: true });
    expect(entries.get('4')?.metadata).toMatchObject({ disputed: true });
    expect(entries.get('6')?.metadata?.disputed).toBeUndefined();
    for (const gone of ['2', '5', '7', '8']) {
      expect(entries.has(gone)).toBe(false);
      expect(rows).toContainEqual({ op: 'remove', list: LIST, id: gone });
    }
    expect(pages.reduce((n, p) => n + (p.ignored ?? 0), 0)).toBe(3);
  });
});

describe('threatExchange: malformed records', () => {
  /** A client of a stand-in answering one page holding `records`. */
  async function onePage(records: unknown[]): Promise<Drained> {
    const api = await startStandIn(() => ({ body: JSON.stringify({ data: records }) }));
    servers.push(api);
    return drain(client({ base: `${api.url}/v21.0` }));
  }
  const good = { id: '7', type: 'HASH_MD5', indicator: 'ab'.repeat(16), last_updated: 1, should_delete: false };
  const descriptors = { data: [{ id: '8', owner: { id: '9' }, status: 'MALICIOUS' }] };

  it('refuses a page with a record missing its type, indicator, time or delete flag, or with a bad descriptor', async () => {
    for (const bad of [
      { ...good, type: undefined },
      { ...good, indicator: 7 },
      { ...good, last_updated: -1 },
      { ...good, should_delete: 'false' },
      { ...good, id: 'x' },
      { ...good, descriptors: [] },
      { ...good, descriptors: { data: [{ id: '8', owner: {} }] } },
      {
        ...good,
        descriptors: { data: [{ id: '8', owner: { id: '9' }, reactions: [{ key: 'HELPFUL', value: 'me' }] }] },
      },
      'record',
    ]) {
      const { error, pages } = await onePage([{ ...good, descriptors }, bad]);
      expect(error).toMatchObject({ code: 'ERR_EXCHANGE_RESPONSE' });
      expect((error as Error).message).toMatch(/page 1 of privacy group \d+, record 1: /);
      expect(pages).toEqual([]);
    }
  });

  it('ignores a type named like an Object member, without a TypeError', async () => {
    const { error, pages } = await onePage([
      { ...good, type: 'constructor', descriptors },
      { ...good, type: '__proto__', descriptors },
    ]);
    expect(error).toBeUndefined();
    expect(pages).toEqual([{ rows: [], ignored: 2, checkpoint: '{"updateTime":1}' }]);
  });
});

describe('threatExchange: the access token', () => {
  it('never shows in error messages, checkpoints, metadata or util.inspect, though the Graph API puts it in its links', async () => {
    const updates = generate(200);
    const server = await standIn(updates);
    const c = client(server, { credentials: { accessToken: new Secret(TOKEN) } });
    const texts: string[] = [
      inspect(c, { depth: 10 }),
      inspect(threatExchange({ credentials: { accessToken: TOKEN }, privacyGroup: GROUP }), { depth: 10 }),
    ];
    const ok = await drain(c);
    texts.push(...ok.pages.map((p) => `${p.checkpoint}\n${JSON.stringify(p.rows)}`));
    server.fail({ kind: 'status', status: 500 }, { skip: 1, times: 3 });
    const failed = await drain(c);
    server.fail({ kind: 'stall' });
    const slow = await drain(c, failed.checkpoint, { timeoutMs: 100, retries: 0 });
    expect([failed.error, slow.error]).toMatchObject([{ code: 'ERR_EXCHANGE_HTTP' }, { code: 'ERR_EXCHANGE_TIMEOUT' }]);
    for (const broken of [failed, slow])
      texts.push(String(broken.error), inspect(broken.error), String(broken.checkpoint));
    server.malform('json');
    texts.push(inspect((await drain(c)).error));
    server.expire();
    texts.push(inspect((await drain(c)).error));
    // The links followed were the Graph API's, which carry the token: it was taken out and put back.
    expect(server.requests.filter((r) => r.url.includes('after=')).length).toBeGreaterThan(3);
    for (const text of texts) {
      expect(text).not.toContain(SECRET_PART);
      expect(text).not.toContain(encodeURIComponent(TOKEN));
    }
  });

  it('does not follow a paging link off the API, so the token is never sent elsewhere', async () => {
    const elsewhere = await startStandIn(() => ({ body: '{"data": []}' }));
    servers.push(elsewhere);
    const api = await startStandIn(() => ({
      body: JSON.stringify({
        data: [],
        paging: { next: `${elsewhere.url}/v21.0/${GROUP}/threat_updates/?access_token=${TOKEN}&after=x` },
      }),
    }));
    servers.push(api);
    const { error, pages } = await drain(client({ base: `${api.url}/v21.0` }));
    expect(error).toMatchObject({ code: 'ERR_EXCHANGE_RESPONSE' });
    expect((error as Error).message).toMatch(/paging\.next leads off/);
    expect(pages).toEqual([]);
    expect(elsewhere.requests).toEqual([]);
  });

  it('refuses a token that is not an app token without showing it, and checks the other options', () => {
    const secret = 'abcdefghijklmnopqrstuvwxyz0123';
    let error: unknown;
    try {
      threatExchange({ credentials: { accessToken: `nope${secret}` }, privacyGroup: GROUP });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ERR_EXCHANGE_CREDENTIALS' });
    expect(inspect(error)).not.toContain(secret);
    const good = { credentials: { accessToken: TOKEN }, privacyGroup: GROUP };
    expect(() => threatExchange({ ...good, privacyGroup: 'group' })).toThrow(RangeError);
    expect(() => threatExchange({ ...good, privacyGroup: -1 })).toThrow(RangeError);
    expect(() => threatExchange({ ...good, privacyGroup: 2 ** 60 })).toThrow(RangeError);
    expect(() => threatExchange({ ...good, privacyGroup: {} as never })).toThrow(TypeError);
    expect(() => threatExchange({ ...good, environment: 'latest' })).toThrow(RangeError);
    expect(() => threatExchange({ ...good, baseUrl: 'ftp://example.org' })).toThrow(RangeError);
    expect(() => threatExchange({ ...good, baseUrl: 'https://example.org/?access_token=x' })).toThrow(RangeError);
    expect(() => threatExchange({ ...good, types: ['hash pdq'] })).toThrow(RangeError);
    expect(() => threatExchange({ ...good, pageSize: 0 })).toThrow(RangeError);
    expect(() => threatExchange({ ...good, credentials: {} as never })).toThrow(TypeError);
  });
});

describe('threatExchange: environments', () => {
  it('asks the Graph API version the environment names, at graph.facebook.com unless baseUrl says', async () => {
    const urls: string[] = [];
    const recorder = {
      request: async (url: URL) => {
        urls.push(String(url));
        return { status: 200, headers: new Headers(), body: '{"data": []}', url: String(url) };
      },
    } as unknown as ExchangeHttp;
    const c = threatExchange({ credentials: { accessToken: TOKEN }, privacyGroup: GROUP, environment: 'v20.0' });
    for await (const page of c.pages(undefined, { list: LIST, http: recorder })) expect(page.rows).toEqual([]);
    expect(urls[0]).toMatch(new RegExp(`^https://graph\\.facebook\\.com/v20\\.0/${GROUP}/threat_updates/\\?`));
    expect(c.checkpointKey).toBe(`threatexchange:v20.0:${GROUP}`);
    expect(threatExchange({ credentials: { accessToken: TOKEN }, privacyGroup: GROUP }).checkpointKey).toBe(
      `threatexchange:v21.0:${GROUP}`,
    );
    const server = await standIn(generate(5), 'v20.0');
    const { pages, error } = await drain(client(server));
    expect(error).toBeUndefined();
    expect(pages.flatMap((p) => p.rows).length).toBe(5);
    expect(server.requests[0]?.url).toMatch(/^\/v20\.0\//);
  });
});

describe('threatExchange: feedback', () => {
  it('reacts to each descriptor of the entry: HELPFUL for up, NOT_HELPFUL for down, or the reaction the reason names', async () => {
    const updates = generate(4);
    const first = updates[0];
    if (first === undefined) throw new Error('no update');
    updates[0] = { ...first, descriptors: [...(first.descriptors ?? []), { id: '4242', owner: '777' }] };
    const server = await standIn(updates);
    const c = client(server);
    const entry = apply(new Map(), (await drain(c)).pages).get(first.id);
    if (entry === undefined) throw new Error('not fetched');
    const context = { list: LIST, http: new ExchangeHttp(FAST) };
    await c.feedback?.({ entry, vote: 'up' }, context);
    await c.feedback?.({ entry, vote: 'down', reason: 'NON_MALICIOUS' }, context);
    await c.feedback?.({ entry, vote: 'down' }, context);
    expect(server.reactions).toEqual([
      { descriptor: '4242', reaction: 'HELPFUL' },
      { descriptor: '1000000000000000', reaction: 'HELPFUL' },
      { descriptor: '4242', reaction: 'NON_MALICIOUS' },
      { descriptor: '1000000000000000', reaction: 'NON_MALICIOUS' },
      { descriptor: '4242', reaction: 'NOT_HELPFUL' },
      { descriptor: '1000000000000000', reaction: 'NOT_HELPFUL' },
    ]);
    const post = server.requests.find((r) => r.method === 'POST');
    expect(post?.url).toBe(`/v21.0/4242/?access_token=${encodeURIComponent(TOKEN)}`);
    expect(post?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(post?.body).toBe('reactions=HELPFUL');
    await expect(c.feedback?.({ entry, vote: 'up', reason: 'looks right' }, context)).rejects.toThrow(RangeError);
    await expect(c.feedback?.({ entry: { ...entry, metadata: {} }, vote: 'up' }, context)).rejects.toThrow(TypeError);
  });

  it('sends a reaction once: a POST answered 500 is not retried', async () => {
    const updates = generate(1);
    const server = await standIn(updates);
    const c = client(server);
    const entry = apply(new Map(), (await drain(c)).pages).get(updates[0]?.id ?? '');
    if (entry === undefined) throw new Error('not fetched');
    const before = server.requests.length;
    server.fail({ kind: 'status', status: 500 }, { times: 5 });
    await expect(
      c.feedback?.({ entry, vote: 'up' }, { list: LIST, http: new ExchangeHttp(FAST) }),
    ).rejects.toMatchObject({
      code: 'ERR_EXCHANGE_HTTP',
    });
    expect(server.requests.length - before).toBe(1);
  });
});
