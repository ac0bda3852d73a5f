/**
 * `hashwarden fetch threatexchange` and `hashwarden feedback threatexchange` (issue 21), run in
 * process against the ThreatExchange stand-in: the flags, the credential from a file or the
 * environment, the summary line, the resume, a reaction, an expired token.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCredentials, Secret } from '../exchanges/credentials.js';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';
import {
  generateUpdates,
  type ThreatExchangeStandIn,
  startThreatExchangeStandIn,
} from '../testing/threatexchange-standin.js';
import { UsageError } from './command.js';
import { threatexchangeProgramme } from './fetch-threatexchange.js';

const SECRET_PART = 'Y2xpLXRlc3Qtb25seS1ub3QtYS1yZWFsLXRva2Vu';
const TOKEN = `1122334455667|${SECRET_PART}`;
const GROUP = '271828182845904';

let dir: string;
let server: ThreatExchangeStandIn;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-te-cli-'));
  server = await startThreatExchangeStandIn({ token: TOKEN, privacyGroup: GROUP, updates: generateUpdates(90) });
  await writeFile(join(dir, 'te.json'), JSON.stringify({ accessToken: TOKEN }));
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** `hashwarden <command> threatexchange` with the store, list, credentials and stand-in given. */
function run(command: 'fetch' | 'feedback', ...flags: string[]) {
  const common = ['--db', join(dir, 'h.db'), '--list', 'te', '--credentials', join(dir, 'te.json')];
  return cli(command, 'threatexchange', ...common, '--base-url', server.base, '--retries', '0', ...flags);
}

describe('hashwarden fetch threatexchange', () => {
  it('syncs the privacy group page by page, and a second run finds nothing new', async () => {
    const first = await run('fetch', '--privacy-group', GROUP, '--page-size', '20');
    expect(first.err).toBe('');
    expect(first.status).toBe(0);
    expect(first.out).toMatch(/^threatexchange → te: 5 pages, \+79 ~0 -0 =0, 11 ignored, /);
    const second = await run('fetch', '--privacy-group', GROUP, '--page-size', '20', '--json');
    expect(JSON.parse(second.out)).toMatchObject({ programme: 'threatexchange', pages: 1, added: 0, removed: 0 });
    const store = HashStore.open(join(dir, 'h.db'), { readonly: true });
    expect(store.count({ list: 'te' })).toBe(79);
    store.close();
    const asked = new URL(server.requests[0]?.url ?? '', server.url).searchParams;
    expect([asked.get('limit'), asked.has('start_time')]).toEqual(['20', false]);
  });

  it('sends a reaction to the descriptors of an entry: feedback --vote down --reason NON_MALICIOUS', async () => {
    expect((await run('fetch', '--privacy-group', GROUP)).status).toBe(0);
    const id = server.updates[0]?.id ?? '';
    const sent = await run(
      'feedback',
      '--privacy-group',
      GROUP,
      '--id',
      id,
      '--vote',
      'down',
      '--reason',
      'NON_MALICIOUS',
    );
    expect(sent.err).toBe('');
    expect(sent.status).toBe(0);
    expect(server.reactions).toEqual([
      { descriptor: server.updates[0]?.descriptors?.[0]?.id, reaction: 'NON_MALICIOUS' },
    ]);
  });

  it('fails with ERR_EXCHANGE_AUTH on an expired token, without printing it', async () => {
    server.expire();
    const failed = await run('fetch', '--privacy-group', GROUP);
    expect(failed.status).toBe(2);
    expect(failed.err).toMatch(/ERR_EXCHANGE_AUTH/);
    expect(`${failed.out}${failed.err}`).not.toContain(SECRET_PART);
  });

  it('needs --privacy-group, and lists its flags in --help', async () => {
    const missing = await run('fetch');
    expect(missing.status).toBe(2);
    expect(missing.err).toMatch(/--privacy-group/);
    expect((await cli('fetch', '--help')).out).toMatch(
      /threatexchange \(credentials: accessToken\):\n {2}--privacy-group ID/,
    );
  });
});

describe('threatexchangeProgramme', () => {
  it('makes the client from its flags and $HASHWARDEN_THREATEXCHANGE_ACCESS_TOKEN; a bad flag is a usage error, a bad token a credentials error', async () => {
    const accessToken = new Secret(TOKEN);
    const c = threatexchangeProgramme.create(
      { 'privacy-group': GROUP, types: 'HASH_PDQ, HASH_MD5', 'page-size': '500' },
      { accessToken },
      { environment: 'v20.0' },
    );
    expect(c.checkpointKey).toBe(`threatexchange:v20.0:${GROUP}:types=HASH_MD5,HASH_PDQ`);
    const fromEnv = await readCredentials('threatexchange', threatexchangeProgramme.credentialFields, {
      env: { HASHWARDEN_THREATEXCHANGE_ACCESS_TOKEN: `${TOKEN}\n` },
    });
    expect(threatexchangeProgramme.create({ 'privacy-group': GROUP }, fromEnv, {}).checkpointKey).toBe(
      `threatexchange:v21.0:${GROUP}`,
    );
    expect(() => threatexchangeProgramme.create({}, { accessToken }, {})).toThrow(UsageError);
    expect(() =>
      threatexchangeProgramme.create({ 'privacy-group': GROUP, 'page-size': 'ten' }, { accessToken }, {}),
    ).toThrow(UsageError);
    expect(() =>
      threatexchangeProgramme.create({ 'privacy-group': GROUP }, { accessToken: new Secret('x') }, {}),
    ).toThrow(expect.objectContaining({ code: 'ERR_EXCHANGE_CREDENTIALS' }));
  });
});
