/**
 * The TAT connector against its stand-in (src/testing/tat-standin.ts): v2's pages with their
 * checkpoints, withdrawals as removals, resuming after a 500 or a malformed page, v1's whole file
 * downloaded once per published file, timeouts, expired tokens and credentials kept out of every
 * message. The real service needs an account this project cannot have.
 */
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import type { ListEntry } from '../lists/entry.js';
import { startTatStandIn, type TatStandIn, type TatStandInOptions, tatRecords } from '../testing/tat-standin.js';
import { Secret } from './credentials.js';
import { ExchangeHttp, type ExchangeHttpOptions } from './http.js';
import { TAT_BASE_URL, type TatExchangeOptions, tatExchange } from './tat.js';
import type { ExchangeClient, ExchangePage } from './types.js';

const USERNAME = 'analyst-7f3c';
const PASSWORD = 'pw-9d1e-never-printed';
/** Small waits, so that the retries and timeouts of these tests take milliseconds. */
const FAST: ExchangeHttpOptions = { timeoutMs: 2_000, retries: 2, backoffMs: 1 };

let server: TatStandIn | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function standIn(options: TatStandInOptions = {}): Promise<TatStandIn> {
  server = await startTatStandIn({ username: USERNAME, password: PASSWORD, ...options });
  return server;
}

function client(tat: TatStandIn, options: Partial<TatExchangeOptions> = {}): ExchangeClient {
  return tatExchange({ credentials: { username: USERNAME, password: PASSWORD }, baseUrl: tat.url, ...options });
}

/** The pages a sync from `from` yields, and the error that ended it, if one did. */
async function collect(
  exchange: ExchangeClient,
  from?: string,
  http: ExchangeHttpOptions = FAST,
): Promise<{ pages: ExchangePage[]; error?: HashwardenError }> {
  const pages: ExchangePage[] = [];
  try {
    for await (const page of exchange.pages(from, { list: 'tat', http: new ExchangeHttp(http) })) pages.push(page);
  } catch (error) {
    if (!(error instanceof HashwardenError)) throw error;
    return { pages, error };
  }
  return { pages };
}

/** The list after applying pages as the sync does: a later row wins, a whole page replaces. */
function apply(pages: readonly ExchangePage[], list = new Map<string, ListEntry>()): Map<string, ListEntry> {
  for (const page of pages) {
    if (page.whole === true) list.clear();
    for (const row of page.rows) {
      if (row.op === 'add') list.set(row.entry.id, row.entry);
      else list.delete(row.id);
    }
  }
  return list;
}

/** The entries the stand-in's live records should give. */
function expected(tat: TatStandIn, ideology?: string): string[] {
  return tat.records
    .filter((r) => !r.deleted && r.algorithm !== 'TMK' && (ideology === undefined || r.ideology === ideology))
    .map((r) => `${r.id} ${r.algorithm.toLowerCase()}:${r.hash_digest} ${r.ideology}`)
    .sort();
}

function shown(list: Map<string, ListEntry>): string[] {
  return [...list.values()].map((e) => `${e.id} ${e.algorithm}:${e.hash} ${e.label}`).sort();
}

const last = (pages: readonly ExchangePage[]): string => (pages.at(-1) as ExchangePage).checkpoint;
const paths = (tat: TatStandIn, pattern: RegExp): string[] =>
  tat.requests.map((r) => r.url).filter((u) => pattern.test(u));

describe('TAT v2: pages with checkpoints', () => {
  it('fetches every page of a few hundred records, each record one entry labelled with its ideology', async () => {
    const tat = await standIn({ records: tatRecords(300), pageSize: 50 });
    const { pages, error } = await collect(client(tat));
    expect(error).toBeUndefined();
    expect(pages).toHaveLength(6);
    expect(shown(apply(pages))).toEqual(expected(tat));
    // Every 25th record is a TMK video hash: counted, not imported.
    expect(pages.reduce((n, p) => n + (p.ignored ?? 0), 0)).toBe(12);
    const entry = apply(pages).get('1001') as ListEntry;
    expect(entry).toMatchObject({ list: 'tat', algorithm: 'pdq', label: 'far-right' });
    expect(entry.metadata).toMatchObject({
      ideology: 'far-right',
      file_type: 'png',
      updated_on: tat.records[1]?.updated_on,
    });
    // One token for the sync, asked for as the reference client asks: a form POST.
    const auth = tat.requests.filter((r) => r.url === '/token-auth/tcap/');
    expect(auth).toHaveLength(1);
    expect(Object.fromEntries(new URLSearchParams(auth[0]?.body))).toEqual({
      username: USERNAME,
      password: PASSWORD,
      resend: 'False',
    });
    const listed = tat.requests.filter((r) => r.url.startsWith('/api/'));
    expect(listed.every((r) => /^Bearer tcap\./.test(String(r.headers.authorization)))).toBe(true);
    // Each page asks for what follows the previous page's checkpoint, in ascending order.
    const afters = listed.map((r) => new URL(r.url, tat.url).searchParams);
    expect(afters.every((p) => p.get('order') === 'asc')).toBe(true);
    expect(afters.map((p) => p.get('after'))).toEqual([
      '',
      ...pages.slice(0, -1).map((p) => JSON.parse(p.checkpoint).after),
    ]);
  });

  it('brings withdrawn and new records after the checkpoint: removals and adds', async () => {
    const tat = await standIn({ records: tatRecords(120), pageSize: 40 });
    const exchange = client(tat);
    const first = await collect(exchange);
    const list = apply(first.pages);
    tat.withdraw(1003);
    tat.withdraw(1050);
    tat.add(tatRecords(5, 99, 5000));
    const second = await collect(exchange, last(first.pages));
    expect(second.error).toBeUndefined();
    const rows = second.pages.flatMap((p) => p.rows);
    expect(rows.filter((r) => r.op === 'remove')).toEqual([
      { op: 'remove', list: 'tat', id: '1003' },
      { op: 'remove', list: 'tat', id: '1050' },
    ]);
    expect(rows.filter((r) => r.op === 'add')).toHaveLength(5);
    expect(shown(apply(second.pages, list))).toEqual(expected(tat));
    // Nothing new: one request, no page.
    const third = await collect(exchange, last(second.pages));
    expect(third).toEqual({ pages: [] });
  });

  it('retries a 500 that passes, and after one that does not, resumes from the checkpoint with nothing lost or doubled', async () => {
    const tat = await standIn({ records: tatRecords(300), pageSize: 50 });
    const whole = shown(apply((await collect(client(tat))).pages));
    tat.fail({ kind: 'status', status: 500 }, { when: /\/v2\//, skip: 1, times: 1 });
    expect(shown(apply((await collect(client(tat))).pages))).toEqual(whole);

    tat.fail({ kind: 'status', status: 500 }, { when: /\/v2\//, skip: 2, times: 3 });
    const broken = await collect(client(tat));
    expect(broken.error?.code).toBe('ERR_EXCHANGE_HTTP');
    expect(broken.pages).toHaveLength(2);
    const resumed = await collect(client(tat), last(broken.pages));
    expect(resumed.error).toBeUndefined();
    const ids = [...broken.pages, ...resumed.pages].flatMap((p) =>
      p.rows.map((r) => (r.op === 'add' ? r.entry.id : r.id)),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(shown(apply([...broken.pages, ...resumed.pages]))).toEqual(whole);
  });

  it.each([
    ['not JSON', '{"results": [', 'ERR_EXCHANGE_RESPONSE'],
    ['results not an array', '{"count": 1, "next": null, "checkpoint": "1,1", "results": {}}', 'ERR_EXCHANGE_RESPONSE'],
    [
      'a record without an id',
      '{"next": null, "checkpoint": "1,1", "results": [{"hash_digest": "ab", "algorithm": "MD5"}]}',
      'ERR_EXCHANGE_RESPONSE',
    ],
    [
      'a hash of the wrong length',
      '{"next": null, "checkpoint": "1,1", "results": [{"id": 1, "hash_digest": "abc", "algorithm": "MD5", "deleted": false}]}',
      'ERR_EXCHANGE_RESPONSE',
    ],
    [
      'no checkpoint',
      '{"next": "x", "results": [{"id": 1, "hash_digest": "00", "algorithm": "TMK"}]}',
      'ERR_EXCHANGE_RESPONSE',
    ],
  ])('refuses a malformed page (%s): typed error, the page not yielded, resumable', async (_name, body, code) => {
    const tat = await standIn({ records: tatRecords(150), pageSize: 50 });
    const whole = shown(apply((await collect(client(tat))).pages));
    // The first page passes, the second is the malformed one.
    tat.tamper(/\/v2\//, body, { skip: 1 });
    const broken = await collect(client(tat));
    expect(broken.error?.code).toBe(code);
    expect(broken.error?.message).toMatch(/TAT hash list page after "[^"]+"/);
    expect(broken.pages).toHaveLength(1);
    const resumed = await collect(client(tat), last(broken.pages));
    expect(resumed.error).toBeUndefined();
    expect(shown(apply([...broken.pages, ...resumed.pages]))).toEqual(whole);
  });

  it('gives ERR_EXCHANGE_TIMEOUT for a server that stalls', async () => {
    const tat = await standIn({ records: tatRecords(60), pageSize: 50 });
    tat.fail({ kind: 'stall' }, { when: /\/v2\//, skip: 1, times: 10 });
    const { pages, error } = await collect(client(tat), undefined, { timeoutMs: 150, retries: 1, backoffMs: 1 });
    expect(error?.code).toBe('ERR_EXCHANGE_TIMEOUT');
    expect(pages).toHaveLength(1);
  });
});

describe('TAT tokens and credentials', () => {
  it('renews a token that expires mid-sync, once per request', async () => {
    const tat = await standIn({ records: tatRecords(300), pageSize: 50, tokenUses: 2 });
    const { pages, error } = await collect(client(tat));
    expect(error).toBeUndefined();
    expect(shown(apply(pages))).toEqual(expected(tat));
    expect(tat.tokensIssued()).toBe(3);
  });

  it('gives ERR_EXCHANGE_AUTH, with nothing yielded, for a refused password or a token refused again once renewed', async () => {
    const tat = await standIn({ records: tatRecords(60) });
    tat.setPassword('rotated');
    const refused = await collect(client(tat));
    expect(refused.error?.code).toBe('ERR_EXCHANGE_AUTH');
    expect(refused.pages).toEqual([]);
    await tat.close();

    const strict = await standIn({ records: tatRecords(60), tokenUses: 0 });
    const expired = await collect(client(strict));
    expect(expired.error?.code).toBe('ERR_EXCHANGE_AUTH');
    expect(expired.pages).toEqual([]);
    expect(strict.tokensIssued()).toBe(2);
  });

  it('never shows the credentials or the token: not in util.inspect, JSON, errors or checkpoints', async () => {
    const tat = await standIn({ records: tatRecords(120), pageSize: 50 });
    const exchange = tatExchange({
      credentials: { username: new Secret(USERNAME), password: PASSWORD },
      baseUrl: tat.url,
    });
    const texts = [inspect(exchange, { depth: 10, showHidden: true }), JSON.stringify(exchange), String(exchange)];
    const { pages } = await collect(exchange);
    texts.push(...pages.map((p) => p.checkpoint), JSON.stringify(pages));
    tat.fail({ kind: 'status', status: 503 }, { when: /\/v2\//, times: 10 });
    texts.push((await collect(exchange)).error?.message ?? 'no error');
    tat.tamper(/\/v2\//, '{"results": 1}');
    texts.push((await collect(exchange)).error?.message ?? 'no error');
    tat.setPassword('rotated');
    tat.expireTokens();
    texts.push((await collect(exchange)).error?.message ?? 'no error');
    const tokens = tat.requests
      .map((r) => String(r.headers.authorization ?? '').replace('Bearer ', ''))
      .filter(Boolean);
    expect(tokens.length).toBeGreaterThan(0);
    for (const text of texts) {
      for (const secret of [USERNAME, PASSWORD, ...tokens]) expect(text).not.toContain(secret);
    }
    expect(texts.slice(-3).map((t) => t.split(':')[0])).toEqual([
      'TAT hash list page after the start',
      'TAT hash list page after the start',
      'TAT token request',
    ]);
  });
});

describe('TAT options', () => {
  it('sends the ideology in the path, and keys the checkpoint to base URL, API version and ideology', async () => {
    const tat = await standIn({ records: tatRecords(100), pageSize: 30 });
    const exchange = client(tat, { ideology: 'far-right' });
    const { pages } = await collect(exchange);
    expect(shown(apply(pages))).toEqual(expected(tat, 'far-right'));
    expect(paths(tat, /^\/api\//).every((u) => u.startsWith('/api/hash-list/v2/far-right?'))).toBe(true);
    expect(exchange.checkpointKey).toBe(`tat:${tat.url}/:v2:far-right`);
    expect(tatExchange({ credentials: { username: 'u', password: 'p' } }).checkpointKey).toBe(
      `tat:${TAT_BASE_URL}:v2:all`,
    );
    expect(client(tat, { api: 'v1', ideology: 'islamist' }).checkpointKey).toBe(`tat:${tat.url}/:v1:islamist`);
  });

  it('refuses bad options with TypeError or RangeError, naming the option and never a credential', () => {
    const credentials = { username: USERNAME, password: PASSWORD };
    const make = (options: unknown) => () => tatExchange(options as TatExchangeOptions);
    expect(make({ credentials, ideology: 'far_right' })).toThrow(RangeError);
    expect(make({ credentials, api: 'v3' })).toThrow(RangeError);
    expect(make({ credentials, baseUrl: 'ftp://example.org/' })).toThrow(RangeError);
    expect(make({ credentials, baseUrl: 'https://user:pw@example.org/' })).toThrow(RangeError);
    expect(make({ credentials, baseUrl: 'https://example.org/?key=1' })).toThrow(RangeError);
    expect(make({ credentials, baseUrl: 42 })).toThrow(TypeError);
    expect(make({ credentials: { username: USERNAME } })).toThrow(/credentials\.password/);
    expect(make({ credentials: { username: 7, password: PASSWORD } })).toThrow(TypeError);
    expect(make(undefined)).toThrow(TypeError);
    try {
      make({ credentials: { username: USERNAME, password: 12345 } })();
    } catch (error) {
      expect((error as Error).message).not.toContain('12345');
    }
  });

  it('refuses a checkpoint that is not its own before any request', async () => {
    const tat = await standIn();
    const pages = (from: string, api: 'v1' | 'v2') =>
      client(tat, { api })
        .pages(from, { list: 'tat', http: new ExchangeHttp(FAST) })
        [Symbol.asyncIterator]()
        .next();
    await expect(pages('not json', 'v2')).rejects.toThrow(RangeError);
    await expect(pages(JSON.stringify({ file: 'a.json', created: 'x' }), 'v2')).rejects.toThrow(RangeError);
    await expect(pages(JSON.stringify({ after: '1,2' }), 'v1')).rejects.toThrow(RangeError);
    expect(tat.requests).toEqual([]);
  });
});

describe('TAT v1: the whole list, one file a day', () => {
  it('downloads the file once as the whole list, without the token, and not again until a new file is published', async () => {
    const tat = await standIn({ records: tatRecords(200) });
    tat.withdraw(1004);
    const name = tat.publish('2026-01-01T00:00:00Z');
    const exchange = client(tat, { api: 'v1' });
    const first = await collect(exchange);
    expect(first.error).toBeUndefined();
    expect(first.pages).toHaveLength(1);
    const [page] = first.pages as [ExchangePage];
    expect(page.whole).toBe(true);
    expect(shown(apply(first.pages))).toEqual(expected(tat));
    // 8 TMK records and the withdrawn one: counted, not in the list (the replacement removes it).
    expect(page.ignored).toBe(9);
    expect(page.rows.every((r) => r.op === 'add')).toBe(true);
    // The checkpoint names the file, never its presigned URL.
    expect(JSON.parse(page.checkpoint)).toEqual({
      file: `${name.replace('.json', '')}-all.json`,
      created: '2026-01-01T00:00:00Z',
    });
    expect(page.checkpoint).not.toMatch(/Signature|files\/|http/);
    const download = tat.requests.find((r) => r.url.startsWith('/files/'));
    expect(download?.headers.authorization).toBeUndefined();

    tat.requests.length = 0;
    expect(await collect(exchange, page.checkpoint)).toEqual({ pages: [] });
    expect(paths(tat, /^\/files\//)).toEqual([]);
    expect(paths(tat, /^\/api\//)).toEqual(['/api/hash-list/all']);

    tat.withdraw(1010);
    tat.add(tatRecords(3, 7, 9000));
    tat.publish('2026-01-02T00:00:00Z');
    const next = await collect(exchange, page.checkpoint);
    expect(next.pages).toHaveLength(1);
    expect(shown(apply(next.pages, apply(first.pages)))).toEqual(expected(tat));
  });

  it('takes the ideology filter', async () => {
    const tat = await standIn({ records: tatRecords(50) });
    tat.publish();
    const { pages } = await collect(client(tat, { api: 'v1', ideology: 'islamist' }));
    expect(shown(apply(pages))).toEqual(expected(tat, 'islamist'));
    expect(paths(tat, /^\/api\//)).toEqual(['/api/hash-list/islamist']);
  });

  it.each([
    ['not JSON', '[{"id": 1,'],
    ['an object, not an array', '{"results": []}'],
    ['an empty array, which would empty the list', '[]'],
    ['a record with a text id', '[{"id": "1", "hash_digest": "0cc175b9c0f1b6a831c399e269772661", "algorithm": "MD5"}]'],
    [
      'a PDQ hash of 63 digits',
      `[{"id": 1, "hash_digest": "${'a'.repeat(63)}", "algorithm": "PDQ", "deleted": false}]`,
    ],
    [
      'deleted not a boolean',
      '[{"id": 1, "hash_digest": "0cc175b9c0f1b6a831c399e269772661", "algorithm": "MD5", "deleted": "no"}]',
    ],
  ])('refuses a malformed file (%s): ERR_EXCHANGE_RESPONSE, nothing yielded', async (_name, body) => {
    const tat = await standIn({ records: tatRecords(20) });
    tat.publish();
    tat.tamper(/^\/files\//, body);
    const { pages, error } = await collect(client(tat, { api: 'v1' }));
    expect(error?.code).toBe('ERR_EXCHANGE_RESPONSE');
    expect(error?.message).toMatch(/^TAT hash list file "tat-hash-list-[^"]+-all\.json"/);
    expect(error?.message).not.toMatch(/Signature/);
    expect(pages).toEqual([]);
  });

  it.each([
    ['no file_url', '{"file_name": "a.json", "created_on": "2026-01-01"}'],
    ['a file_url that is not a URL', '{"file_url": "files/a.json", "file_name": "a.json", "created_on": "2026-01-01"}'],
    ['no file_name', '{"file_url": "http://127.0.0.1/files/a.json", "created_on": "2026-01-01"}'],
    ['a negative total', '{"file_url": "http://127.0.0.1/a", "file_name": "a", "created_on": "x", "total_hashes": -1}'],
  ])('refuses a malformed list answer (%s) before any download', async (_name, body) => {
    const tat = await standIn({ records: tatRecords(20) });
    tat.publish();
    tat.tamper(/^\/api\//, body);
    const { pages, error } = await collect(client(tat, { api: 'v1' }));
    expect(error?.code).toBe('ERR_EXCHANGE_RESPONSE');
    expect(pages).toEqual([]);
    expect(paths(tat, /^\/files\//)).toEqual([]);
  });

  it('retries a 500 on the file', async () => {
    const tat = await standIn({ records: tatRecords(30) });
    tat.publish();
    tat.fail({ kind: 'status', status: 500 }, { when: /^\/files\//, times: 2 });
    const { pages, error } = await collect(client(tat, { api: 'v1' }));
    expect(error).toBeUndefined();
    expect(shown(apply(pages))).toEqual(expected(tat));
    expect(paths(tat, /^\/files\//)).toHaveLength(3);
  });

  it('gives ERR_EXCHANGE_TIMEOUT when the file stalls, ERR_EXCHANGE_RESPONSE past maxResponseBytes', async () => {
    const tat = await standIn({ records: tatRecords(300) });
    tat.publish();
    tat.fail({ kind: 'stall' }, { when: /^\/files\//, times: 2 });
    const slow = await collect(client(tat, { api: 'v1' }), undefined, { timeoutMs: 150, retries: 1, backoffMs: 1 });
    expect(slow.error?.code).toBe('ERR_EXCHANGE_TIMEOUT');
    expect(slow.pages).toEqual([]);
    const big = await collect(client(tat, { api: 'v1' }), undefined, { ...FAST, maxResponseBytes: 4096 });
    expect(big.error?.code).toBe('ERR_EXCHANGE_RESPONSE');
    expect(big.error?.message).toMatch(/TAT hash list file/);
    expect(big.pages).toEqual([]);
  });

  it('gives ERR_EXCHANGE_AUTH for an expired token or an expired file URL, never printing the URL query', async () => {
    const tat = await standIn({ records: tatRecords(30), tokenUses: 0 });
    tat.publish();
    const expired = await collect(client(tat, { api: 'v1' }));
    expect(expired.error?.code).toBe('ERR_EXCHANGE_AUTH');
    expect(expired.pages).toEqual([]);
    await tat.close();

    const files = await standIn({ records: tatRecords(30) });
    files.publish();
    files.fail({ kind: 'status', status: 403 }, { when: /^\/files\// });
    const refused = await collect(client(files, { api: 'v1' }));
    expect(refused.error?.code).toBe('ERR_EXCHANGE_AUTH');
    expect(refused.error?.message).toContain(`${files.url}/files/`);
    expect(refused.error?.message).not.toMatch(/Signature|\?/);
    expect(refused.pages).toEqual([]);
  });
});

describe('TAT v2: a server that does not advance', () => {
  it('refuses a page whose checkpoint is the one asked for, rather than asking again forever', async () => {
    const tat = await standIn({ records: tatRecords(100), pageSize: 50 });
    const first = (await collect(client(tat))).pages[0] as ExchangePage;
    const { after } = JSON.parse(first.checkpoint);
    const record = { id: 1, hash_digest: '0cc175b9c0f1b6a831c399e269772661', algorithm: 'MD5', deleted: false };
    tat.tamper(/\/v2\//, JSON.stringify({ next: 'more', checkpoint: after, results: [record] }), { skip: 1 });
    const { pages, error } = await collect(client(tat));
    expect(error?.code).toBe('ERR_EXCHANGE_RESPONSE');
    expect(pages.map((p) => p.checkpoint)).toEqual([first.checkpoint]);
  });
});
