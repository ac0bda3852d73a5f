/**
 * `hashwarden fetch stopncii` and `hashwarden feedback stopncii` against the StopNCII stand-in:
 * the keys from the environment, the fetch key for syncing and the feedback key for feedback,
 * none of them printed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';
import { startStopnciiStandIn, stopnciiRecords, type StopnciiStandIn } from '../testing/stopncii-standin.js';

const KEYS = {
  subscriptionKey: 'sub-key-cli-41d2',
  fetchFunctionKey: 'fetch-key-cli-77aa',
  feedbackFunctionKey: 'feedback-key-cli-9e03',
};
const ENV = {
  HASHWARDEN_STOPNCII_SUBSCRIPTION_KEY: KEYS.subscriptionKey,
  HASHWARDEN_STOPNCII_FETCH_FUNCTION_KEY: KEYS.fetchFunctionKey,
  HASHWARDEN_STOPNCII_FEEDBACK_FUNCTION_KEY: KEYS.feedbackFunctionKey,
};

let dir: string;
let db: string;
let service: StopnciiStandIn;
let saved: Record<string, string | undefined>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-cli-stopncii-'));
  db = join(dir, 'hashes.db');
  service = await startStopnciiStandIn(stopnciiRecords(120, 5), KEYS);
  saved = Object.fromEntries(Object.keys(ENV).map((name) => [name, process.env[name]]));
  Object.assign(process.env, ENV);
});

afterEach(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await service.close();
  await rm(dir, { recursive: true, force: true });
});

/** `hashwarden feedback stopncii` on entry `id` of the list, against the stand-in. */
const feedback = (id: string, ...flags: string[]) =>
  cli('feedback', 'stopncii', '--db', db, '--list', 'stopncii', '--id', id, '--base-url', service.url, ...flags);

describe('hashwarden fetch and feedback stopncii', () => {
  it('syncs with the keys from the environment, and sends a downvote with the feedback key', async () => {
    const fetched = await cli(
      'fetch',
      'stopncii',
      '--db',
      db,
      '--list',
      'stopncii',
      '--base-url',
      service.url,
      '--page-size',
      '25',
    );
    expect(fetched.err).toBe('');
    expect(fetched.status).toBe(0);
    expect(fetched.out).toMatch(/^stopncii → stopncii: \d+ pages, \+\d+/);

    const store = HashStore.open(db, { readonly: true });
    const entry = [...store.entries({ list: 'stopncii', algorithm: 'pdq' })][0];
    store.close();
    expect(entry).toBeDefined();

    const sent = await feedback(String(entry?.id), '--vote', 'down', '--reason', 'not-ncii');
    expect(sent.err).toBe('');
    expect(sent.status).toBe(0);
    expect(service.feedback).toHaveLength(1);
    expect(JSON.stringify(service.feedback[0])).toContain(entry?.hash ?? 'missing');
    const printed = `${fetched.out}${fetched.err}${sent.out}${sent.err}`;
    for (const key of Object.values(KEYS)) expect(printed).not.toContain(key);
  });

  it('refuses feedback without the feedback key, naming the variable', async () => {
    delete process.env.HASHWARDEN_STOPNCII_FEEDBACK_FUNCTION_KEY;
    await cli('fetch', 'stopncii', '--db', db, '--list', 'stopncii', '--base-url', service.url);
    const { status, err } = await feedback('x', '--vote', 'up');
    expect(status).toBe(2);
    expect(err).toMatch(/HASHWARDEN_STOPNCII_FEEDBACK_FUNCTION_KEY/);
    expect(service.feedback).toHaveLength(0);
  });

  it("refuses another programme's flag", async () => {
    const { status, err } = await cli('fetch', 'stopncii', '--db', db, '--list', 's', '--ideology', 'all');
    expect(status).toBe(2);
    expect(err).toMatch(/--ideology is a flag of tat/);
  });
});
