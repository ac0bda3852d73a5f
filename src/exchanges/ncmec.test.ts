/**
 * The NCMEC connector against its stand-in (src/testing/ncmec-standin.ts): time ranges paged
 * through `next` links, deletions as removals, resuming from a checkpoint after a 500 and after a
 * malformed page, a slow server, an expired credential, the environments, the member and
 * classification filters, and feedback. `pages()` is driven directly: each run folds its rows into
 * a map keyed by id, as a sync folds them into the store.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isHashwardenError } from '../errors.js';
import type { ListEntry } from '../lists/entry.js';
import type { ImportRow } from '../store/types.js';
import { startNcmecStandIn, type NcmecStandIn, type NcmecStandInRecord } from '../testing/ncmec-standin.js';
import { Secret } from './credentials.js';
import { ExchangeHttp, type ExchangeRequest, type ExchangeResponse } from './http.js';
import { DEFAULT_NCMEC_RANGE_ENTRIES, ncmecExchange, type NcmecExchangeOptions } from './ncmec.js';
import type { ExchangeClient, ExchangePage } from './types.js';

const USER = 'stand-in-user';
const PASSWORD = 'hunter2-secret-password';
const credentials = { username: USER, password: new Secret(PASSWORD) };
const T2019 = Date.UTC(2019, 0, 1) / 1000;
const NOW = Date.UTC(2021, 0, 1);

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** `count` generated records over 2019, of three members, with one to three usable fingerprints each. */
function generate(count: number): NcmecStandInRecord[] {
  const classes = ['A1', 'A2', 'B1', undefined];
  return Array.from({ length: count }, (_, i) => {
    const fingerprints: Record<string, string | null> = { md5: hex(16) };
    if (i % 2 === 0) fingerprints.sha1 = hex(20);
    if (i % 3 === 0) fingerprints.pdq = hex(32);
    if (i % 5 === 0) fingerprints.pdna = Buffer.from(hex(72)).toString('base64');
    if (i % 7 === 0) fingerprints['tmk-pdqf'] = null;
    return {
      memberId: 42 + (i % 3),
      id: `${i % 4 === 0 ? 'video' : 'image'}${i}`,
      mediaType: i % 4 === 0 ? 'video' : 'image',
      // Not in time order, as NCMEC's are not.
      timestamp: T2019 + ((i * 7919) % count) * 86_400,
      classification: classes[i % 4],
      fingerprints,
    } satisfies NcmecStandInRecord;
  });
}

/** What a store holds after the records: every MD5, SHA-1 and PDQ fingerprint of every live one. */
function expected(
  records: readonly NcmecStandInRecord[],
  keep = (_r: NcmecStandInRecord) => true,
): Map<string, string> {
  const map = new Map<string, string>();
  for (const r of records) {
    if (r.deleted === true || !keep(r)) continue;
    for (const algorithm of ['md5', 'sha1', 'pdq']) {
      const hash = r.fingerprints?.[algorithm];
      if (typeof hash === 'string') map.set(`${r.memberId}-${r.id}:${algorithm}`, hash);
    }
  }
  return map;
}

/** A store's content as a map of id → hash, the rows applied in order. */
function apply(store: Map<string, string>, rows: readonly ImportRow[]): void {
  for (const row of rows) {
    if (row.op === 'add') store.set(row.entry.id, row.entry.hash);
    else store.delete(row.id);
  }
}

interface Run {
  readonly pages: ExchangePage[];
  readonly error: unknown;
}

async function run(client: ExchangeClient, from: string | undefined, http = fastHttp()): Promise<Run> {
  const pages: ExchangePage[] = [];
  try {
    for await (const page of client.pages(from, { list: 'ncmec', http })) pages.push(page);
    return { pages, error: undefined };
  } catch (error) {
    return { pages, error };
  }
}

function fastHttp(timeoutMs = 5_000): ExchangeHttp {
  return new ExchangeHttp({ timeoutMs, retries: 2, backoffMs: 1 });
}

function storeOf(...runs: Run[]): Map<string, string> {
  const store = new Map<string, string>();
  for (const r of runs) for (const page of r.pages) apply(store, page.rows);
  return store;
}

let ncmec: NcmecStandIn;
let client: ExchangeClient;
const make = (extra: Partial<NcmecExchangeOptions> = {}) =>
  ncmecExchange({ credentials, baseUrl: ncmec.baseUrl, ...extra });

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
  ncmec = await startNcmecStandIn({
    username: USER,
    password: PASSWORD,
    pageSize: 50,
    prefix: '/hashsharing',
    reasons: [
      { guid: '01234567-abcd-0123-4567-012345678900', name: 'Not CSAM' },
      { guid: '01234567-abcd-0123-4567-012345678901', name: 'Wrong hash' },
    ],
  });
  ncmec.records.push(...generate(300));
  client = make();
});

afterEach(async () => {
  vi.useRealTimers();
  await ncmec.close();
});

describe('ncmecExchange: syncing', () => {
  it('walks a time range page by page through next links, with basic authentication on every request', async () => {
    const result = await run(client, undefined);
    expect(result.error).toBeUndefined();
    expect(result.pages.length).toBe(6);
    expect(storeOf(result)).toEqual(expected(ncmec.records));
    const requests = ncmec.entryRequests();
    expect(requests.length).toBe(6);
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    expect(requests.every((r) => r.headers.authorization === basic)).toBe(true);
    expect(requests[0]?.url).toBe(
      `/hashsharing/v2/entries?from=1970-01-01T00%3A00%3A00Z&to=${encodeURIComponent('2020-12-31T23:59:55Z')}`,
    );
    expect(requests[1]?.url).toMatch(/^\/hashsharing\/v2\/entries\?from=.*&start=51&size=50&max=300$/);
    // Inside the range, the checkpoint is its start and the next page's link; at its end, the end.
    expect(JSON.parse(result.pages[0]?.checkpoint ?? '')).toEqual({
      maxTimestamp: 0,
      next: expect.stringMatching(/start=51/),
      nextEnd: NOW / 1000 - 5,
      nextAt: NOW / 1000,
    });
    expect(JSON.parse(result.pages.at(-1)?.checkpoint ?? '')).toEqual({ maxTimestamp: NOW / 1000 - 5 });
    // PhotoDNA and TMK fingerprints: 60 + 43 of the 300 records.
    expect(result.pages.reduce((n, p) => n + (p.ignored ?? 0), 0)).toBe(60 + 43);
  });

  it('maps a record to entries with its classification as label and its ids, member and media type as metadata', async () => {
    ncmec.records.length = 0;
    const md5 = hex(16);
    ncmec.records.push({
      memberId: 42,
      member: 'Example & Member',
      id: 'video1',
      mediaType: 'video',
      timestamp: T2019,
      classification: 'A2',
      fingerprints: { md5, videntifier: null },
    });
    const [page] = (await run(client, undefined)).pages;
    const add = page?.rows.find((r): r is Extract<ImportRow, { op: 'add' }> => r.op === 'add');
    expect(add?.entry).toEqual({
      id: '42-video1:md5',
      list: 'ncmec',
      algorithm: 'md5',
      hash: md5,
      label: 'A2',
      metadata: {
        ncmecId: 'video1',
        memberId: 42,
        member: 'Example & Member',
        mediaType: 'video',
        timestamp: '2019-01-01T00:00:00Z',
        classification: 'A2',
      },
    } satisfies ListEntry);
    expect(page?.ignored).toBe(1);
  });

  it('applies deletions, updates and dropped fingerprints of a later sync as removals', async () => {
    const first = await run(client, undefined);
    const later = NOW / 1000 + 86_400;
    const [a, b, c] = ncmec.records.filter((r) => typeof r.fingerprints?.sha1 === 'string');
    if (a === undefined || b === undefined || c === undefined) throw new Error('generated records');
    const changes: [NcmecStandInRecord, NcmecStandInRecord][] = [
      [a, { ...a, deleted: true, timestamp: later }],
      [b, { ...b, fingerprints: { md5: hex(16) }, timestamp: later }],
      [c, { ...c, classification: 'B2', timestamp: later }],
    ];
    for (const [old, now] of changes) ncmec.records[ncmec.records.indexOf(old)] = now;
    vi.setSystemTime(NOW + 2 * 86_400_000);
    const second = await run(client, first.pages.at(-1)?.checkpoint);
    expect(second.error).toBeUndefined();
    expect(ncmec.entryRequests().at(-1)?.url).toContain(`from=${encodeURIComponent('2020-12-31T23:59:55Z')}`);
    const store = storeOf(first, second);
    expect(store).toEqual(expected(ncmec.records));
    expect(store.has(`${a.memberId}-${a.id}:md5`)).toBe(false);
    expect(store.has(`${b.memberId}-${b.id}:sha1`)).toBe(false);
  });

  it('resumes after a 500 mid-sync from the last checkpoint: nothing lost, nothing doubled', async () => {
    const whole = await run(make(), undefined);
    ncmec.server.fail({ kind: 'status', status: 500 }, { skip: 3, times: 3, when: /entries$/ });
    const broken = await run(make(), undefined);
    expect(isHashwardenError(broken.error) && broken.error.code).toBe('ERR_EXCHANGE_HTTP');
    expect(broken.pages.length).toBe(3);
    const resumed = await run(make(), broken.pages.at(-1)?.checkpoint);
    expect(resumed.error).toBeUndefined();
    // The rows of the two runs are those of the uninterrupted one, page for page.
    expect([...broken.pages, ...resumed.pages].map((p) => p.rows.length)).toEqual(
      whole.pages.map((p) => p.rows.length),
    );
    expect(storeOf(broken, resumed)).toEqual(storeOf(whole));
    expect(storeOf(whole)).toEqual(expected(ncmec.records));
  });

  it('refuses a malformed page with ERR_EXCHANGE_RESPONSE, yielding none of its rows and no checkpoint past it', async () => {
    const whole = await run(make(), undefined);
    ncmec.breakPage(101, '<?xml version="1.0"?>\n<queryResult><images><image><member id="42">M</member>');
    const broken = await run(make(), undefined);
    expect(isHashwardenError(broken.error) && broken.error.code).toBe('ERR_EXCHANGE_RESPONSE');
    expect((broken.error as Error).message).toMatch(
      /page 3: http:\/\/127\.0\.0\.1:\d+\/hashsharing\/v2\/entries answered/,
    );
    expect(broken.pages.length).toBe(2);
    expect(JSON.parse(broken.pages[1]?.checkpoint ?? '').next).toMatch(/start=101/);
    // A record without its member id, the rest well-formed: refused the same way.
    ncmec.breakPage(101, '<queryResult><images><image><member>M</member><id>x</id></image></images></queryResult>');
    expect(isHashwardenError((await run(make(), broken.pages[1]?.checkpoint)).error)).toBe(true);
    ncmec.breakPage(101, undefined);
    const resumed = await run(make(), broken.pages[1]?.checkpoint);
    expect(storeOf(broken, resumed)).toEqual(storeOf(whole));
  });

  it('refuses a page larger than a saved NCMEC document may be', async () => {
    ncmec.breakPage(1, `<queryResult>${' '.repeat(64 * 1024 * 1024 + 1)}</queryResult>`);
    const result = await run(make(), undefined);
    expect(isHashwardenError(result.error) && result.error.code).toBe('ERR_EXCHANGE_RESPONSE');
    expect((result.error as Error).message).toMatch(/more than 67108864 bytes/);
  });

  it('refuses a next link that leaves the base URL, before sending the credentials anywhere', async () => {
    for (const next of [
      '//elsewhere.example/v2/entries?start=51',
      'https://elsewhere.example/v2/entries',
      '/../../v2/entries',
    ]) {
      ncmec.breakPage(1, `<queryResult><images count="0"/><paging><next>${next}</next></paging></queryResult>`);
      const result = await run(make(), undefined);
      expect(isHashwardenError(result.error) && result.error.code).toBe('ERR_EXCHANGE_RESPONSE');
      expect(result.pages).toEqual([]);
    }
  });

  it('splits a range estimated above maxRangeEntries, and grows the ranges again when they are small', async () => {
    const result = await run(make({ maxRangeEntries: 120 }), undefined);
    expect(result.error).toBeUndefined();
    expect(storeOf(result)).toEqual(expected(ncmec.records));
    const ranges = new Set(ncmec.entryRequests().map((r) => new URL(r.url, 'http://x').searchParams.get('from')));
    expect(ranges.size).toBeGreaterThan(2);
    expect(DEFAULT_NCMEC_RANGE_ENTRIES).toBe(100_000);
  });

  it('starts a range again from its start when its paging link is older than 12 hours', async () => {
    const first = await run(make(), undefined);
    const checkpoint = first.pages[1]?.checkpoint ?? '';
    vi.setSystemTime(NOW + 13 * 3_600_000);
    const before = ncmec.entryRequests().length;
    const again = await run(make(), checkpoint);
    expect(again.error).toBeUndefined();
    expect(ncmec.entryRequests()[before]?.url).not.toContain('start=');
    expect(storeOf(first)).toEqual(storeOf(again));
  });

  it('times out on a slow server with ERR_EXCHANGE_TIMEOUT', async () => {
    ncmec.server.fail({ kind: 'stall' }, { times: 10 });
    const result = await run(client, undefined, new ExchangeHttp({ timeoutMs: 200, retries: 1, backoffMs: 1 }));
    expect(isHashwardenError(result.error) && result.error.code).toBe('ERR_EXCHANGE_TIMEOUT');
    expect(result.pages).toEqual([]);
  });

  it('stops at an expired or wrong credential with ERR_EXCHANGE_AUTH, importing nothing', async () => {
    ncmec.expire();
    const expired = await run(client, undefined);
    expect(isHashwardenError(expired.error) && expired.error.code).toBe('ERR_EXCHANGE_AUTH');
    expect(expired.pages).toEqual([]);
    expect(ncmec.entryRequests().length).toBe(1);
  });

  it('never shows the credentials: not in errors, util.inspect, JSON or checkpoints', async () => {
    const wrong = await run(
      ncmecExchange({ credentials: { username: USER, password: 'wrong-password-42' }, baseUrl: ncmec.baseUrl }),
      undefined,
    );
    const ok = await run(client, undefined);
    ncmec.server.fail({ kind: 'stall' }, { times: 10 });
    const slow = await run(client, undefined, new ExchangeHttp({ timeoutMs: 100, retries: 0 }));
    const texts = [
      inspect(client, { depth: 10, showHidden: true }),
      JSON.stringify(client),
      String((wrong.error as Error).message),
      inspect(wrong.error, { depth: 10 }),
      String((slow.error as Error).message),
      ...ok.pages.map((p) => p.checkpoint),
      JSON.stringify(ok.pages.flatMap((p) => p.rows)),
    ];
    const basic = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    for (const text of texts) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain('wrong-password-42');
      expect(text).not.toContain(basic);
    }
  });
});

describe('ncmecExchange: options', () => {
  class RecordingHttp extends ExchangeHttp {
    readonly urls: string[] = [];
    override async request(url: string | URL, _request?: ExchangeRequest): Promise<ExchangeResponse> {
      this.urls.push(String(url));
      throw new Error('not sent');
    }
  }

  it("sends to the environment's URL: Industry by default, test_Industry on the test system", async () => {
    for (const [environment, base] of [
      [undefined, 'https://report.cybertip.org/hashsharing'],
      ['test_Industry', 'https://exttest.cybertip.org/hashsharing'],
      ['test_NGO', 'https://hashsharing-test.ncmec.org/npo'],
    ] as const) {
      const http = new RecordingHttp();
      const c = ncmecExchange({ credentials, ...(environment === undefined ? {} : { environment }) });
      await run(c, undefined, http);
      expect(http.urls[0]).toMatch(new RegExp(`^${base}/v2/entries\\?from=`));
      expect(c.checkpointKey).toBe(`ncmec:${environment ?? 'Industry'}`);
    }
    expect(make().checkpointKey).toBe(`ncmec:${ncmec.baseUrl}`);
  });

  it('refuses bad options with the standard argument errors', async () => {
    expect(() => ncmecExchange({ credentials, environment: 'prod' as never })).toThrow(RangeError);
    expect(() => ncmecExchange({ credentials, baseUrl: 'ftp://x/' })).toThrow(RangeError);
    expect(() => ncmecExchange({ credentials, baseUrl: 'https://x/?token=1' })).toThrow(RangeError);
    expect(() => ncmecExchange({ credentials: { username: USER, password: '' } })).toThrow(TypeError);
    expect(() => ncmecExchange({ credentials, members: [1.5] })).toThrow(TypeError);
    expect(() => ncmecExchange({ credentials, classifications: [''] })).toThrow(TypeError);
    expect(() => ncmecExchange({ credentials, maxRangeEntries: 0 })).toThrow(RangeError);
    const pages = client.pages('{"maxTimestamp":-1}', { list: 'ncmec', http: fastHttp() })[Symbol.asyncIterator]();
    await expect(pages.next()).rejects.toThrow(RangeError);
  });

  it('keeps only the members and classifications asked for, removing a record reclassified out of them', async () => {
    const members = make({ members: [42, 44] });
    const byMember = await run(members, undefined);
    expect(storeOf(byMember)).toEqual(expected(ncmec.records, (r) => r.memberId !== 43));
    const classified = make({ classifications: ['a1', 'B1'] });
    expect(classified.checkpointKey).toBe(`ncmec:${ncmec.baseUrl}:classifications=A1,B1`);
    expect(members.checkpointKey).toBe(`ncmec:${ncmec.baseUrl}:members=42,44`);
    const first = await run(classified, undefined);
    const keep = (r: NcmecStandInRecord) => r.classification === 'A1' || r.classification === 'B1';
    expect(storeOf(first)).toEqual(expected(ncmec.records, keep));
    const index = ncmec.records.findIndex((r) => r.classification === 'A1');
    const record = ncmec.records[index] as NcmecStandInRecord;
    ncmec.records[index] = { ...record, classification: 'A2', timestamp: NOW / 1000 + 60 };
    vi.setSystemTime(NOW + 3_600_000);
    const second = await run(classified, first.pages.at(-1)?.checkpoint);
    const store = storeOf(first, second);
    expect(store.has(`${record.memberId}-${record.id}:md5`)).toBe(false);
    expect(store).toEqual(expected(ncmec.records, keep));
  });
});

describe('ncmecExchange: feedback', () => {
  async function entryOf(id: string): Promise<ListEntry> {
    const result = await run(client, undefined);
    for (const page of result.pages) {
      for (const row of page.rows) if (row.op === 'add' && row.entry.id === id) return row.entry;
    }
    throw new Error(`no ${id}`);
  }

  it("puts an up vote and a down vote with the reason's guid as the reference client's XML bodies", async () => {
    const entry = await entryOf('43-image1:md5');
    const context = { list: 'ncmec', http: fastHttp() };
    await client.feedback?.({ entry, vote: 'up' }, context);
    await client.feedback?.({ entry, vote: 'down', reason: 'wrong HASH' }, context);
    await client.feedback?.({ entry, vote: 'down', reason: '01234567-abcd-0123-4567-012345678900' }, context);
    const puts = ncmec.server.requests.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.url)).toEqual(Array(3).fill('/hashsharing/v2/entries/43/image1/MD5/feedback'));
    expect(puts[0]?.headers['content-type']).toBe('application/xml; charset=utf-8');
    expect(puts[0]?.body).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><feedbackSubmission xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><affirmative/></feedbackSubmission>',
    );
    expect(puts[1]?.body).toContain(
      '<negative><reasonIds><guid>01234567-abcd-0123-4567-012345678901</guid></reasonIds></negative>',
    );
    expect(puts[2]?.body).toContain('<guid>01234567-abcd-0123-4567-012345678900</guid>');
    expect(ncmec.server.requests.filter((r) => r.url.endsWith('/v2/feedback/MD5/reasons')).length).toBe(1);
  });

  it('asks for a reason among several, and sends a POST-like PUT once, never retried', async () => {
    const entry = await entryOf('44-image2:sha1');
    const context = { list: 'ncmec', http: fastHttp() };
    await expect(client.feedback?.({ entry, vote: 'down' }, context)).rejects.toThrow(/Not CSAM, Wrong hash/);
    await expect(client.feedback?.({ entry, vote: 'down', reason: 'other' }, context)).rejects.toThrow(RangeError);
    ncmec.server.fail({ kind: 'status', status: 500 }, { when: /feedback$/ });
    const error = await client.feedback?.({ entry, vote: 'up' }, context).catch((e: unknown) => e);
    expect(isHashwardenError(error) && error.code).toBe('ERR_EXCHANGE_HTTP');
    expect(ncmec.server.requests.filter((r) => r.method === 'PUT').length).toBe(1);
    await expect(client.feedback?.({ entry: { ...entry, metadata: {} }, vote: 'up' }, context)).rejects.toThrow(
      TypeError,
    );
  });
});
