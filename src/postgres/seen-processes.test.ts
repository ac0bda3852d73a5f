/**
 * The PostgreSQL seen store with several processes on it: recorders in child processes while
 * lists are imported into and rescans run, every (upload, entry) found once, none lost, none
 * repeated; and a rescan killed part way (SIGKILL, in a child process) resumed by
 * `hashwarden rescan` from its last acknowledged batch, the batch it was in repeated with the
 * same ids.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RescanEvent } from '../seen/events.js';
import { cli } from '../testing/cli.js';
import { postgresTitle, usePostgres } from '../testing/postgres.js';
import { killWhenPaused, pausingRescan } from '../testing/rescan-kill.js';
import { collect } from '../testing/rescan-property.js';
import { resultOf } from '../testing/seen.js';
import { PgHashStore, PgSeenStore } from './index.js';

const server = usePostgres({ beforeAll, afterAll });

const md5 = (i: number) => i.toString(16).padStart(32, '0');
const INDEX = new URL('./index.ts', import.meta.url).href;
const SEEN_HELPER = new URL('../testing/seen.ts', import.meta.url).href;

describe.skipIf(!server.available)(postgresTitle('PgSeenStore with several processes', server.available), () => {
  it('finds every upload recorded by three processes against every entry imported meanwhile, once', async (t) => {
    if (!server.running()) return t.skip();
    const url = server.url();
    const lists = await PgHashStore.connect(url);
    const seen = await PgSeenStore.connect(url);
    const SAME = md5(7);
    const entry = (i: number) => ({ list: 'l', id: `e${i}`, algorithm: 'md5' as const, hash: SAME });
    try {
      await lists.importEntries([entry(0)]);
      // Every upload the same image, checked against no list (a matcher not yet loaded): each
      // must be found by every entry.
      const script = `
        const { PgSeenStore } = await import(${JSON.stringify(INDEX)});
        const { resultOf } = await import(${JSON.stringify(SEEN_HELPER)});
        const [url, tag] = process.argv.slice(-2);
        const seen = await PgSeenStore.connect(url);
        const hash = Uint8Array.from(Buffer.from(${JSON.stringify(SAME)}, 'hex'));
        for (let i = 0; i < 120; i += 4)
          await Promise.all([0, 1, 2, 3].map((k) => seen.record(tag + '-' + (i + k), resultOf([{ algorithm: 'md5', hash }], {}))));
        await seen.close();`;
      const run = promisify(execFile);
      const recorders = Promise.all(
        ['p', 'q', 'r'].map((tag) =>
          run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', url, tag], {
            timeout: 60_000,
          }),
        ),
      );
      let recording = true;
      void recorders.finally(() => (recording = false));
      const importing = (async () => {
        for (let i = 1; i <= 5; i++) {
          await new Promise((resolve) => setTimeout(resolve, 150));
          await lists.importEntries([entry(i)]);
        }
      })();
      const events: RescanEvent[] = [];
      let rounds = 0;
      for (; recording; rounds++) events.push(...(await collect(seen.rescan(lists, { batchSize: 7 }))));
      await Promise.all([recorders, importing]);
      // The rounds ran while records and imports came in: several, and finding uploads already.
      expect([rounds > 2, events.length > 0]).toEqual([true, true]);
      events.push(...(await collect(seen.rescan(lists, { batchSize: 7 }))));
      const pairs = events.map((e) => `${e.contentId} ${e.entryId}`);
      expect(await seen.count()).toBe(360);
      // 360 uploads × 6 entries: each pair once.
      expect(new Set(pairs).size).toBe(360 * 6);
      expect(pairs).toHaveLength(360 * 6);
      expect(await collect(seen.rescan(lists))).toEqual([]);
    } finally {
      await seen.close();
      await lists.close();
    }
  }, 60_000);

  it('resumes after a SIGKILL mid-rescan with no event lost, the batch in hand repeated with the same ids', async (t) => {
    if (!server.running()) return t.skip();
    const UPLOADS = 60;
    /** The same lists and records in a database of their own. */
    const seeded = async () => {
      const url = server.url();
      const lists = await PgHashStore.connect(url);
      await lists.importEntries(
        Array.from({ length: UPLOADS }, (_, i) => ({
          list: 'l',
          id: `e${i}`,
          algorithm: 'md5' as const,
          hash: md5(i),
        })),
      );
      const seen = await PgSeenStore.connect(url);
      for (let i = 0; i < UPLOADS; i++)
        await seen.record(
          `u${String(i).padStart(2, '0')}`,
          resultOf([{ algorithm: 'md5', hash: Buffer.from(md5(i), 'hex') }], {}),
          { at: new Date(Date.UTC(2026, 0, 1)) },
        );
      return { url, lists, seen };
    };
    // The events an uninterrupted rescan gives, from a copy.
    const reference = await seeded();
    const expected = await collect(reference.seen.rescan(reference.lists, { batchSize: 10 }));
    await reference.seen.close();
    await reference.lists.close();
    expect(expected).toHaveLength(UPLOADS);
    const { url, lists, seen } = await seeded();
    await seen.close();
    await lists.close();
    // The child takes 25 events (two batches of 10 acknowledged, five of the third), then waits to be killed.
    const script = `const { PgHashStore, PgSeenStore } = await import(${JSON.stringify(INDEX)});
const lists = await PgHashStore.connect(${JSON.stringify(url)});
const seen = await PgSeenStore.connect(${JSON.stringify(url)});
${pausingRescan('seen.rescan(lists, { batchSize: 10 })', 25)}`;
    const taken = await killWhenPaused(['--import', 'tsx', '--input-type=module', '-e', script]);
    expect(taken).toEqual(expected.slice(0, 25).map((e) => e.id));
    // The killed process's connection closes, and its lock with it: the CLI's rescan goes on at once.
    const resumed = await cli('rescan', '--db', url, '--seen', url, '--json', '--batch', '10');
    expect(resumed.status, resumed.err).toBe(1);
    const ids = resumed.lines.map((line) => (JSON.parse(line) as RescanEvent).id);
    // From the third batch: its five events again, same ids, then the rest.
    expect(ids).toEqual(expected.slice(20).map((e) => e.id));
    expect(new Set([...taken, ...ids])).toEqual(new Set(expected.map((e) => e.id)));
    expect(await cli('rescan', '--db', url, '--seen', url)).toMatchObject({ status: 0, out: '' });
  }, 60_000);

  it('refuses a PostgreSQL list store with a SQLite seen store (exit 2), and never prints the password', async (t) => {
    if (!server.running()) return t.skip();
    const url = new URL(server.url());
    const mixed = await cli('rescan', '--db', url.href, '--seen', 'seen.db');
    expect([mixed.status, mixed.err]).toEqual([2, expect.stringContaining('both')]);
    const secret = 's3cret-Pa55word';
    const wrong = `postgresql://postgres:${secret}@127.0.0.1:${url.port}/no_such_db`;
    const run = await cli('rescan', '--db', wrong, '--seen', wrong);
    expect(run.status).toBe(2);
    expect(run.err).toContain('no_such_db');
    expect(run.err + run.out).not.toContain(secret);
  });
});
