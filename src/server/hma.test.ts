/**
 * The sidecar answers HMA 2's requests in HMA's shapes, over real HTTP on 127.0.0.1. Each test
 * quotes the shape it checks and where it comes from in HMA's source (OpenMediaMatch blueprints:
 * matching.py, hashing.py, curation.py; app.py for /status and /site-map; flask_utils.py for errors).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Matcher } from '../index.js';
import { createServer, type Sidecar } from './index.js';

const PDQ = 'd811ac390bfa6005d08543fe27fd5a11f6b55bdd2603000dc26476fc79fc76b5';
/** PDQ with 4 bits flipped (the first byte's low nibble). */
const PDQ_NEAR = `d${(0x8 ^ 0xf).toString(16)}${PDQ.slice(2)}`;
const MD5 = 'ecafecafecafecafecafecafecafecaf';

let matcher: Matcher;
let sidecar: Sidecar;
let base: string;

beforeAll(async () => {
  matcher = Matcher.fromEntries(
    [
      { list: 'TEST_BANK', id: '1', algorithm: 'pdq', hash: PDQ },
      { list: 'TEST_BANK', id: '1002', algorithm: 'pdq', hash: PDQ_NEAR },
      { list: 'OTHER_BANK', id: 'case-77', algorithm: 'pdq', hash: PDQ },
      { list: 'OTHER_BANK', id: '4434', algorithm: 'md5', hash: MD5 },
    ],
    {
      lists: [
        { name: 'TEST_BANK', version: 3 },
        { name: 'OTHER_BANK', version: 1 },
      ],
    },
  );
  sidecar = await createServer({ matcher, logger: false });
  base = await sidecar.listen({ port: 0 });
});

afterAll(async () => {
  await sidecar.close();
});

async function get(path: string): Promise<{ status: number; body: unknown; type: string | null }> {
  const response = await fetch(base + path);
  const type = response.headers.get('content-type');
  const text = await response.text();
  return { status: response.status, body: type?.startsWith('application/json') ? JSON.parse(text) : text, type };
}

describe('HMA matching API (matching.py)', () => {
  it('GET /m/lookup?signal_type&signal answers bank name to matches, distances as strings', async () => {
    // api.md "Looking up a hash": {"TEST_BANK":[{"bank_content_id":1,"distance":"0"}]}
    // (matching.py lookup_get → lookup: TMatchByBank, MatchWithDistancePayload {bank_content_id: int, distance: str})
    const { status, body } = await get(`/m/lookup?signal_type=pdq&signal=${PDQ}`);
    expect(status).toBe(200);
    expect(body).toEqual({
      TEST_BANK: [
        { bank_content_id: 1, distance: '0' },
        { bank_content_id: 1002, distance: '4' },
      ],
      // An id that is no decimal integer stays its string.
      OTHER_BANK: [{ bank_content_id: 'case-77', distance: '0' }],
    });
  });

  it('GET /m/lookup gives the distances matcher.matchHash gives, and filters by banks', async () => {
    const { body } = await get(`/m/lookup?signal_type=pdq&signal=${PDQ_NEAR}&banks=TEST_BANK`);
    const expected = matcher
      .matchHash({ algorithm: 'pdq', hash: PDQ_NEAR })
      .filter((m) => m.list === 'TEST_BANK')
      .map((m) => ({ bank_content_id: Number(m.entryId), distance: String(m.distance) }));
    expect(body).toEqual({ TEST_BANK: expected });
    // Coinflip parameters are accepted and change nothing: every list is matched whole.
    expect((await get(`/m/lookup?signal_type=md5&signal=${MD5}&bypass_coinflip=false&seed=1234`)).body).toEqual({
      OTHER_BANK: [{ bank_content_id: 4434, distance: '0' }],
    });
  });

  it('answers HMA errors as {"message": ...} with its statuses', async () => {
    // flask_utils.api_error_handler: {"message": e.description}, e.code
    // matching.py _validate_and_transform_signal_type: 400 "No such SignalType '…'"; query_index: 400 "invalid signal: …"
    expect(await get(`/m/lookup?signal_type=nope&signal=${PDQ}`)).toMatchObject({
      status: 400,
      body: { message: "No such SignalType 'nope'" },
    });
    // A type hashwarden knows but whose lists hold no entry: HMA's "not enabled".
    expect(await get(`/m/lookup?signal_type=sha1&signal=${'a'.repeat(40)}`)).toMatchObject({
      status: 400,
      body: { message: "SignalType 'sha1' is not enabled" },
    });
    const bad = await get('/m/lookup?signal_type=pdq&signal=zz');
    expect(bad.status).toBe(400);
    expect((bad.body as { message: string }).message).toMatch(/^invalid signal: /);
    expect(await get('/m/lookup?signal_type=pdq')).toMatchObject({
      status: 400,
      body: { message: 'Either url or both signal and signal_type are required' },
    });
  });

  it('GET /m/raw_lookup answers {"matches": [ids]}, or with include_distance [{bank_content_id, distance}]', async () => {
    // matching.py raw_lookup → RawLookupResponse(matches: list[int | MatchWithDistance])
    expect(await get(`/m/raw_lookup?signal_type=pdq&signal=${PDQ}&banks=TEST_BANK`)).toMatchObject({
      status: 200,
      body: { matches: [1, 1002] },
    });
    expect(
      (await get(`/m/raw_lookup?signal_type=pdq&signal=${PDQ}&include_distance=true&banks=OTHER_BANK`)).body,
    ).toEqual({
      matches: [{ bank_content_id: 'case-77', distance: '0' }],
    });
    expect((await get(`/m/raw_lookup?signal_type=pdq`)).status).toBe(400);
  });

  it('POST /m/compare answers [match, {distance}] per signal type', async () => {
    // matching.py compare: {"pdq": ["facd8b...", "facd8b..."]} → {"pdq": [true, {"distance": 9}]}
    // (threatexchange SignalComparisonResult is a NamedTuple(match, distance info): a JSON array)
    const post = (body: unknown) =>
      fetch(`${base}/m/compare`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const response = await post({ pdq: [PDQ, PDQ_NEAR], md5: [MD5, MD5] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ pdq: [true, { distance: 4 }], md5: [true, {}] });
    const far = PDQ.replace(/./g, (c) => (15 - Number.parseInt(c, 16)).toString(16));
    expect(await (await post({ pdq: [PDQ, far] })).json()).toEqual({ pdq: [false, { distance: 256 }] });
    // "Comparison hash list length must be exactly 2", "Request input was not a dict", "Invalid pdq hash: …"
    expect(await (await post({ pdq: [PDQ] })).json()).toEqual({
      message: 'Comparison hash list length must be exactly 2',
    });
    expect((await post([1, 2])).status).toBe(400);
    const invalid = await post({ pdq: [PDQ, 'zz'] });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { message: string }).message).toMatch(/^Invalid pdq hash: /);
  });

  it('GET /m/index/status answers {type: {present, built_to, size}}', async () => {
    // matching.py index_status: {"pdq": {"built_to": -1, "present": false, "size": 0}, "video_md5": {...}}
    const { status, body } = await get('/m/index/status');
    expect(status).toBe(200);
    const all = body as Record<string, { present: boolean; built_to: number; size: number }>;
    expect(Object.keys(all).sort()).toEqual(['blockhash', 'md5', 'pdq', 'sha1', 'sha256']);
    expect(all.pdq).toEqual({ present: true, built_to: expect.any(Number), size: 3 });
    expect(all.pdq?.built_to).toBeGreaterThan(1_700_000_000);
    expect(all.sha1).toEqual({ present: false, built_to: -1, size: 0 });
    expect((await get('/m/index/status?signal_type=md5')).body).toEqual({
      md5: { present: true, built_to: all.pdq?.built_to, size: 1 },
    });
    // "No such signal type '…'"
    expect(await get('/m/index/status?signal_type=video_md5')).toMatchObject({
      status: 400,
      body: { message: "No such signal type 'video_md5'" },
    });
  });
});

describe('HMA curation API, read-only (curation.py)', () => {
  it('GET /c/banks answers the lists as [{name, matching_enabled_ratio}]', async () => {
    // curation.py banks_index: list(storage.get_banks().values()) → BankConfig(name, matching_enabled_ratio)
    expect((await get('/c/banks')).body).toEqual([
      { name: 'TEST_BANK', matching_enabled_ratio: 1 },
      { name: 'OTHER_BANK', matching_enabled_ratio: 1 },
    ]);
  });

  it('GET /c/bank/<bank_name> answers one bank, or 404 "bank \'x\' not found"', async () => {
    // curation.py bank_show_by_name: jsonify(bank); abort(404, f"bank '{bank_name}' not found")
    expect((await get('/c/bank/TEST_BANK')).body).toEqual({ name: 'TEST_BANK', matching_enabled_ratio: 1 });
    expect(await get('/c/bank/NOPE')).toMatchObject({ status: 404, body: { message: "bank 'NOPE' not found" } });
  });

  it('GET /c/signal_type answers [{name, enabled_ratio}]', async () => {
    // curation.py get_all_signal_types: [{"enabled_ratio": 1.0, "name": "pdq"}, {"enabled_ratio": 0.0, "name": "video_md5"}]
    expect((await get('/c/signal_type')).body).toEqual([
      { name: 'blockhash', enabled_ratio: 0 },
      { name: 'pdq', enabled_ratio: 1 },
      { name: 'md5', enabled_ratio: 1 },
      { name: 'sha1', enabled_ratio: 0 },
      { name: 'sha256', enabled_ratio: 0 },
    ]);
  });

  it('GET /c/signal_type/index answers {type: {db_size, index_size, index_out_of_date, newest_db_item, index_built_to}}', async () => {
    // curation.py signal_type_index_status
    const { body } = await get('/c/signal_type/index?signal_type=pdq');
    expect(body).toEqual({
      pdq: {
        db_size: 3,
        index_size: 3,
        index_out_of_date: false,
        newest_db_item: expect.any(Number),
        index_built_to: expect.any(Number),
      },
    });
    expect((await get('/c/signal_type/index?signal_type=nope')).status).toBe(400);
  });

  it('GET /c/content_type answers [{name, enabled}]: photo only', async () => {
    // curation.py get_all_content_types: [{"enabled": true, "name": "photo"}, {"enabled": true, "name": "video"}]
    expect((await get('/c/content_type')).body).toEqual([{ name: 'photo', enabled: true }]);
  });
});

describe('HMA core routes (app.py)', () => {
  it('GET /status answers I-AM-ALIVE when ready', async () => {
    // app.py status: "I-AM-ALIVE", 200; "INDEX-NOT-LOADED" / "INDEX-STALE", 503
    expect(await get('/status')).toMatchObject({ status: 200, body: 'I-AM-ALIVE' });
  });

  it('GET /site-map answers every route, sorted, with Flask-style parameters', async () => {
    // app.py site_map: sorted(rule.rule for rule in app.url_map.iter_rules()); api.md lists "/c/bank/<bank_name>"
    const { body } = await get('/site-map');
    const routes = body as string[];
    expect(routes).toEqual([...routes].sort());
    for (const route of [
      '/c/bank/<bank_name>',
      '/c/banks',
      '/h/hash',
      '/m/compare',
      '/m/lookup',
      '/m/raw_lookup',
      '/status',
    ])
      expect(routes).toContain(route);
  });

  it('answers an unknown path 404 in the same error shape', async () => {
    expect(await get('/c/exchanges')).toMatchObject({ status: 404, body: { message: 'Not Found' } });
  });
});
