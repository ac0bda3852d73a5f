/**
 * `hashwarden fetch` and `hashwarden feedback` end to end against a programme's stand-in (TAT's,
 * src/testing/tat-standin.ts): credentials from a file or the environment and never printed, the
 * result line, a second run with nothing new, usage mistakes, and a sync process killed outright
 * mid-sync that a second run resumes to the store an uninterrupted sync makes. The programmes'
 * own flags are tested beside each (fetch-<programme>.test.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { syncCheckpointKey, tatExchange } from '../exchanges/index.js';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';
import { startTatStandIn, type TatStandIn, tatRecords } from '../testing/tat-standin.js';

const USERNAME = 'analyst-7f3e';
const PASSWORD = 'pw-9a1c-never-printed';
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

let dir: string;
let db: string;
let credentials: string;
let tat: TatStandIn;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-cli-fetch-'));
  db = join(dir, 'hashes.db');
  credentials = join(dir, 'tat.json');
  await writeFile(credentials, JSON.stringify({ username: USERNAME, password: PASSWORD }), { mode: 0o600 });
  tat = await startTatStandIn({ username: USERNAME, password: PASSWORD, records: tatRecords(240), pageSize: 20 });
});

afterEach(async () => {
  await tat.close();
  await rm(dir, { recursive: true, force: true });
});

/** The list's entries as `id=hash`, read from the store file. */
function contents(path: string): string[] {
  const store = HashStore.open(path, { readonly: true });
  try {
    return [...store.entries({ list: 'tat' })].map((e) => `${e.id}=${e.hash}`);
  } finally {
    store.close();
  }
}

const FAST = ['--timeout', '5', '--retries', '0'];

/** `hashwarden fetch tat` into `store` against the stand-in, with the credentials file. */
const fetchTat = (store: string, ...extra: string[]) =>
  cli('fetch', 'tat', '--db', store, '--list', 'tat', '--credentials', credentials, '--base-url', tat.url, ...extra);

describe('hashwarden fetch', () => {
  it('syncs a list with credentials from a file, then finds nothing new', async () => {
    const first = await fetchTat(db, ...FAST);
    expect(first.err).toBe('');
    expect(first.status).toBe(0);
    expect(first.out).toMatch(/^tat → tat: \d+ pages, \+\d+ ~0 -0 =0, \d+ ignored/);
    const stored = contents(db);
    expect(stored.length).toBeGreaterThan(100);
    const again = await fetchTat(db, '--json');
    expect(again.status).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ programme: 'tat', added: 0, removed: 0 });
    expect(contents(db)).toEqual(stored);
    expect(`${first.out}${first.err}${again.out}${again.err}`).not.toContain(PASSWORD);
  });

  it('names the variables to set when credentials are missing, exit 2, nothing written', async () => {
    const { status, err } = await cli('fetch', 'tat', '--db', db, '--list', 'tat', '--base-url', tat.url);
    expect(status).toBe(2);
    expect(err).toMatch(/ERR_EXCHANGE_CREDENTIALS|HASHWARDEN_TAT_USERNAME/);
    expect(existsSync(db)).toBe(false);
  });

  it('reports refused credentials without printing them, exit 2', async () => {
    await writeFile(credentials, JSON.stringify({ username: USERNAME, password: 'wrong-pw-5d2a' }));
    const { status, out, err } = await fetchTat(db, ...FAST);
    expect(status).toBe(2);
    expect(err).toMatch(/ERR_EXCHANGE_AUTH/);
    expect(`${out}${err}`).not.toContain('wrong-pw-5d2a');
  });

  it('refuses an unknown programme and a missing --list as usage errors', async () => {
    expect((await cli('fetch', 'nope', '--db', db, '--list', 'x')).err).toMatch(/Unknown programme "nope"/);
    expect((await cli('fetch', 'tat', '--db', db)).err).toMatch(/Missing --list/);
    expect((await cli('fetch', '--db', db, '--list', 'x')).status).toBe(2);
  });

  it('resumes after the process is killed mid-sync, ending as an uninterrupted sync', async () => {
    const reference = join(dir, 'reference.db');
    expect((await fetchTat(reference)).status).toBe(0);
    const expected = contents(reference);

    // Page 7 never comes: the process waits on it, its checkpoint behind, and is killed there.
    const before = tat.requests.length;
    tat.fail({ kind: 'stall' }, { skip: 6, when: /hash-list/ });
    const child = spawn(
      process.execPath,
      [
        MAIN,
        'fetch',
        'tat',
        '--db',
        db,
        '--list',
        'tat',
        '--credentials',
        credentials,
        '--base-url',
        tat.url,
        '--batch-rows',
        '20',
        '--timeout',
        '60',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const deadline = Date.now() + 20_000;
    const pagesAsked = (): number => tat.requests.slice(before).filter((r) => /hash-list/.test(r.url)).length;
    while (pagesAsked() < 7 && child.exitCode === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(child.exitCode, stderr).toBeNull();
    // The stalled request is in; the six before it are committed (batches of one page).
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGKILL');
    await exited;
    const key = syncCheckpointKey(
      tatExchange({ credentials: { username: 'u', password: 'p' }, baseUrl: tat.url }),
      'tat',
    );
    const killed = HashStore.open(db, { readonly: true });
    let checkpoint: string | undefined;
    try {
      checkpoint = killed.checkpoint(key);
    } finally {
      killed.close();
    }
    expect(checkpoint).toBeDefined();
    const partial = contents(db);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(expected.length);

    const resumed = await fetchTat(db, '--json');
    expect(resumed.status).toBe(0);
    expect(JSON.parse(resumed.out).from).toBe(checkpoint);
    expect(contents(db)).toEqual(expected);
  }, 40_000);
});

describe('hashwarden feedback', () => {
  /** `hashwarden feedback tat` on entry `id` of the store's tat list. */
  const feedbackTat = (id: string, vote: string, ...extra: string[]) =>
    cli('feedback', 'tat', '--db', db, '--list', 'tat', '--id', id, '--vote', vote, ...extra);

  it('refuses a programme without feedback', async () => {
    await fetchTat(db);
    const [id] = contents(db)[0]?.split('=') ?? [];
    const { status, err } = await feedbackTat(String(id), 'down', '--credentials', credentials, '--base-url', tat.url);
    expect(status).toBe(2);
    expect(err).toMatch(/tat takes no feedback/);
  });

  it('refuses a vote other than up or down', async () => {
    const { status, err } = await feedbackTat('x', 'sideways');
    expect(status).toBe(2);
    expect(err).toMatch(/--vote/);
  });
});
