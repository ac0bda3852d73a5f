/**
 * `hashwarden fetch ncmec` and `hashwarden feedback ncmec` (issue 21), run in process against the
 * NCMEC stand-in: the flags, the credentials from the environment, the summary, the resume, a
 * down vote by reason name, an expired credential; and what the flags make of the client.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../exchanges/credentials.js';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';
import { type NcmecStandIn, startNcmecStandIn } from '../testing/ncmec-standin.js';
import { UsageError } from './command.js';
import { ncmecProgramme } from './fetch-ncmec.js';

const USER = 'cli-user';
const PASSWORD = 'cli-password-never-printed';
const GUID = '01234567-abcd-0123-4567-012345678900';

let dir: string;
let ncmec: NcmecStandIn;
const saved = { ...process.env };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-ncmec-cli-'));
  ncmec = await startNcmecStandIn({
    username: USER,
    password: PASSWORD,
    pageSize: 25,
    reasons: [{ guid: GUID, name: 'Not CSAM' }],
  });
  for (let i = 0; i < 60; i++) {
    ncmec.records.push({
      memberId: 42 + (i % 2),
      id: `image${i}`,
      mediaType: 'image',
      timestamp: Date.UTC(2020, 0, 1) / 1000 + i * 60,
      classification: i % 3 === 0 ? 'A1' : 'B1',
      fingerprints: { md5: randomBytes(16).toString('hex'), pdna: 'cGhvdG9kbmE=' },
    });
  }
  process.env.HASHWARDEN_NCMEC_USERNAME = USER;
  process.env.HASHWARDEN_NCMEC_PASSWORD = PASSWORD;
});
afterEach(async () => {
  process.env = { ...saved };
  await ncmec.close();
  await rm(dir, { recursive: true, force: true });
});

function run(command: 'fetch' | 'feedback', ...flags: string[]) {
  const common = ['--db', join(dir, 'h.db'), '--list', 'ncmec', '--base-url', ncmec.baseUrl, '--retries', '0'];
  return cli(command, 'ncmec', ...common, ...flags);
}

describe('hashwarden fetch ncmec', () => {
  it('syncs page by page with the credentials from the environment, and a second run finds nothing new', async () => {
    const first = await run('fetch', '--member', '42');
    expect(first.err).toBe('');
    expect(first.status).toBe(0);
    expect(first.out).toMatch(/^ncmec → ncmec: 3 pages, \+30 ~0 -0 =0, 60 ignored, /);
    const second = await run('fetch', '--member', '42', '--json');
    expect(JSON.parse(second.out)).toMatchObject({ programme: 'ncmec', added: 0, removed: 0 });
    const store = HashStore.open(join(dir, 'h.db'), { readonly: true });
    expect(store.count({ list: 'ncmec' })).toBe(30);
    store.close();
  });

  it('sends a down vote with the guid of the reason named: feedback --vote down --reason "not csam"', async () => {
    expect((await run('fetch')).status).toBe(0);
    const sent = await run('feedback', '--id', '43-image1:md5', '--vote', 'down', '--reason', 'not csam');
    expect(sent.err).toBe('');
    expect(sent.status).toBe(0);
    const put = ncmec.server.requests.find((r) => r.method === 'PUT');
    expect(put?.url).toBe('/v2/entries/43/image1/MD5/feedback');
    expect(put?.body).toContain(`<negative><reasonIds><guid>${GUID}</guid></reasonIds></negative>`);
    const unknown = await run('feedback', '--id', '43-image1:md5', '--vote', 'down', '--reason', 'other');
    expect(unknown.status).toBe(2);
  });

  it('fails with ERR_EXCHANGE_AUTH on an expired credential, without printing it', async () => {
    ncmec.expire();
    const result = await run('fetch');
    expect(result.status).toBe(2);
    expect(result.err).toMatch(/ERR_EXCHANGE_AUTH/);
    expect(`${result.out}${result.err}`).not.toContain(PASSWORD);
  });
});

describe('fetch ncmec flags', () => {
  const secrets = { username: new Secret(USER), password: new Secret(PASSWORD) };

  it('builds the client from --member and --classification, comma-separated or repeated, and --environment', () => {
    const client = ncmecProgramme.create({ member: ['42,43', '44'], classification: ['A1'] }, secrets, {
      environment: 'test_Industry',
    });
    expect(client.checkpointKey).toBe('ncmec:test_Industry:members=42,43,44:classifications=A1');
    expect(ncmecProgramme.create({}, secrets, {}).checkpointKey).toBe('ncmec:Industry');
  });

  it('refuses a member id that is no number and an unknown environment as usage errors', () => {
    expect(() => ncmecProgramme.create({ member: ['abc'] }, secrets, {})).toThrow(UsageError);
    expect(() => ncmecProgramme.create({}, secrets, { environment: 'staging' })).toThrow(/--environment/);
  });
});
