/**
 * Allow lists and entry quarantine in the PostgreSQL store, on a real server: the SQLite store's
 * rules (src/testing/list-controls.ts, run over both stores), the upgrade of a version 1 store
 * (by one writer, by several at once; read as it is read-only), the rescan's exclusions, and the
 * CLI's `entry`, `list set --action` and `lists` on a PostgreSQL URL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run.js';
import type { HashwardenError } from '../errors.js';
import { Matcher } from '../matcher/matcher.js';
import {
  listControlCases,
  md5,
  refusal,
  rescanSkipsAllowLists,
  rescanSkipsQuarantined,
  VENDOR,
} from '../testing/list-controls.js';
import { postgresTitle, runSql, usePostgres } from '../testing/postgres.js';
import { PG_SCHEMA_VERSION, PgHashStore, PgSeenStore } from './index.js';

const server = usePostgres({ beforeAll, afterAll });
let dir: string;
let n = 0;
let open: { close(): Promise<void> }[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-pg-quarantine-'));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function connect(url: string, options?: Parameters<typeof PgHashStore.connect>[1]): Promise<PgHashStore> {
  const store = await PgHashStore.connect(url, options);
  open.push(store);
  return store;
}

/**
 * The schema version 1 store as hashwarden wrote it before allow lists and quarantine: the DDL of
 * src/postgres/schema.ts at that version, verbatim, and two lists (demo: a and b md5, label
 * block; other: c sha1) with their import records, as an import wrote them.
 */
const VERSION_1_STORE = `
CREATE TABLE lists (
  name text COLLATE "C" PRIMARY KEY,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  label text,
  thresholds text,
  enabled boolean NOT NULL DEFAULT true
);
CREATE TABLE entries (
  list text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  algorithm text NOT NULL,
  hash bytea NOT NULL,
  label text,
  metadata text,
  PRIMARY KEY (list, id)
);
CREATE TABLE imports (
  seq bigserial PRIMARY KEY,
  list text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  source text,
  added integer NOT NULL,
  updated integer NOT NULL,
  unchanged integer NOT NULL,
  removed integer NOT NULL,
  mode text NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX imports_list ON imports (list, seq);
CREATE TABLE checkpoints (
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL,
  at timestamptz NOT NULL
);
COMMENT ON TABLE lists IS 'hashwarden store schema 1';
INSERT INTO lists VALUES ('demo', 1, now(), now(), 'block', NULL, true), ('other', 1, now(), now(), NULL, NULL, true);
INSERT INTO entries VALUES
  ('demo', 'a', 'md5', decode(repeat('aa', 16), 'hex'), NULL, NULL),
  ('demo', 'b', 'md5', decode(repeat('bb', 16), 'hex'), NULL, NULL),
  ('other', 'c', 'sha1', decode(repeat('cc', 20), 'hex'), NULL, NULL);
INSERT INTO imports (list, version, source, added, updated, unchanged, removed, mode, at) VALUES
  ('demo', 1, 'demo.csv', 2, 0, 0, 0, 'merge', now()), ('other', 1, 'other.csv', 1, 0, 0, 0, 'merge', now());
`;

/** A database holding a version 1 store. */
async function version1(): Promise<string> {
  const url = server.url();
  await runSql(url, VERSION_1_STORE);
  return url;
}

/** The schema version the lists table's comment records. */
async function markOf(url: string): Promise<string | null> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query("SELECT obj_description('lists'::regclass, 'pg_class') AS mark")).rows[0].mark;
  } finally {
    await client.end();
  }
}

async function cli(argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), isTTY: false });
  return { status, out, err };
}

const running = (): boolean => server.running();

describe.skipIf(!server.available)(postgresTitle('PgHashStore: allow lists and quarantine', server.available), () => {
  listControlCases({
    running,
    make: async () => {
      const url = server.url();
      const store = await connect(url);
      await store.importEntries(VENDOR, { source: 'vendor.csv' });
      return {
        store,
        dir: await mkdtemp(join(dir, 'case-')),
        open: () => Matcher.open(store),
        exportSnapshot: async (path) => {
          await store.exportSnapshot(path);
        },
        readonly: () => connect(url, { readonly: true }),
      };
    },
  });

  it('refuses a list action the column does not hold, put there by hand, with ERR_STORE', async (t) => {
    if (!running()) return t.skip();
    const url = server.url();
    const store = await connect(url);
    await store.importEntries(VENDOR);
    await runSql(url, "ALTER TABLE lists DROP CONSTRAINT lists_action_check; UPDATE lists SET action = 'ALLOW'");
    const error = (await refusal(() => store.lists())) as HashwardenError;
    expect([error.code, error.message]).toEqual(['ERR_STORE', expect.stringMatching(/neither block nor allow/)]);
  });
});

describe.skipIf(!server.available)(
  postgresTitle('PgHashStore quarantine: rows written by hand', server.available),
  () => {
    it('refuses a quarantine row longer than disableEntry writes, with ERR_STORE, without reading it whole', async (t) => {
      if (!running()) return t.skip();
      const url = server.url();
      const store = await connect(url);
      await store.importEntries(VENDOR);
      await runSql(url, "INSERT INTO quarantine (list, id, reason, since) VALUES ('vendor', 'a', $1, now())", [
        'r'.repeat(1e6),
      ]);
      const error = (await refusal(() => store.quarantined())) as HashwardenError;
      expect([error.code, error.message]).toEqual(['ERR_STORE', expect.stringMatching(/not what disableEntry writes/)]);
      expect(error.message.length).toBeLessThan(500);
      // A matcher leaves the entry out without reading the row (as SQLite's); an export, which records it, refuses.
      expect((await Matcher.open(store)).matchHash({ algorithm: 'md5', hash: 'a'.repeat(32) })).toEqual([]);
      const snapshot = join(dir, `crafted-${n++}.snap`);
      expect(((await refusal(() => store.exportSnapshot(snapshot))) as HashwardenError).code).toBe('ERR_STORE');
    });

    it('makes a disable wait for an import of the same list holding its lock, then bumps the version after it', async (t) => {
      if (!running()) return t.skip();
      const url = server.url();
      const store = await connect(url);
      await store.importEntries(VENDOR);
      const holder = new pg.Client(url);
      await holder.connect();
      try {
        // The lock an import of "vendor" takes (import.ts), held as an import would hold it.
        await holder.query('BEGIN');
        await holder.query("SELECT pg_advisory_xact_lock($1, hashtext('vendor'))", [0x68617368]);
        let done = false;
        const disabling = store.disableEntry('vendor', 'a', { reason: 'r' }).then((q) => {
          done = true;
          return q;
        });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(done).toBe(false);
        await holder.query('COMMIT');
        await disabling;
        expect((await store.lists())[0]?.version).toBe(2);
      } finally {
        await holder.end();
      }
    });
  },
);

describe.skipIf(!server.available)(postgresTitle('PgHashStore: schema version 1 stores', server.available), () => {
  it('reads a version 1 store connected read-only as it is: block lists, nothing quarantined, nothing written', async (t) => {
    if (!running()) return t.skip();
    const url = await version1();
    const store = await connect(url, { readonly: true });
    expect((await store.lists()).map((l) => [l.name, l.version, l.label, l.action, l.quarantined, l.total])).toEqual([
      ['demo', 1, 'block', undefined, 0, 2],
      ['other', 1, undefined, undefined, 0, 1],
    ]);
    expect(await store.quarantined()).toEqual([]);
    expect((await store.history()).map((r) => [r.list, r.mode, r.entry])).toEqual([
      ['demo', 'merge', undefined],
      ['other', 'merge', undefined],
    ]);
    const matcher = await Matcher.open(store);
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'aa'.repeat(16) })).toHaveLength(1);
    const snapshot = join(dir, `v1-${n++}.snap`);
    expect((await store.exportSnapshot(snapshot)).entries).toBe(3);
    expect(await markOf(url)).toBe('hashwarden store schema 1');
  });

  it('upgrades a version 1 store when a writer connects, keeping its lists as block lists, and then quarantines', async (t) => {
    if (!running()) return t.skip();
    const url = await version1();
    // A reader connected before the upgrade, matching from the store as a long-running service does.
    const before = await connect(url, { readonly: true });
    const serving = await Matcher.open(before);
    const a = { algorithm: 'md5' as const, hash: 'aa'.repeat(16) };
    expect(serving.matchHash(a)).toHaveLength(1);
    const store = await connect(url);
    expect(await markOf(url)).toBe(`hashwarden store schema ${PG_SCHEMA_VERSION}`);
    expect((await store.lists()).map((l) => [l.name, l.version, l.label, l.action, l.total])).toEqual([
      ['demo', 1, 'block', undefined, 2],
      ['other', 1, undefined, undefined, 1],
    ]);
    expect(await store.count()).toBe(3);
    await store.disableEntry('demo', 'a', { reason: 'r' });
    expect((await store.setListPolicy('other', { action: 'allow' })).action).toBe('allow');
    expect((await store.history('demo')).map((r) => r.mode)).toEqual(['merge', 'disable']);
    expect((await Matcher.open(store)).matchHash({ algorithm: 'md5', hash: 'aa'.repeat(16) })).toEqual([]);
    // The reader notices the upgrade at its next read: its matcher's reload leaves the entry out.
    expect(await serving.reload()).toBe(true);
    expect(serving.matchHash(a)).toEqual([]);
    expect(serving.lists.find((l) => l.name === 'other')?.action).toBe('allow');
    expect((await before.quarantined()).map((q) => q.id)).toEqual(['a']);
    expect((await before.history('demo')).map((r) => r.entry?.id)).toEqual([undefined, 'a']);
  });

  it('upgrades once when several writers connect to a version 1 store at once', async (t) => {
    if (!running()) return t.skip();
    const url = await version1();
    const stores = await Promise.all(Array.from({ length: 4 }, () => connect(url)));
    expect(await markOf(url)).toBe(`hashwarden store schema ${PG_SCHEMA_VERSION}`);
    await Promise.all(stores.map((s, i) => s.disableEntry('demo', 'b', { reason: `writer ${i}` })));
    expect((await stores[0]?.quarantined())?.map((q) => q.id)).toEqual(['b']);
    expect((await stores[3]?.lists())?.find((l) => l.name === 'demo')?.version).toBe(5);
  });

  it('refuses a store of a newer schema version, saying so, before reading or writing anything', async (t) => {
    if (!running()) return t.skip();
    const url = server.url();
    await (await PgHashStore.connect(url)).close();
    await runSql(url, `COMMENT ON TABLE lists IS 'hashwarden store schema ${PG_SCHEMA_VERSION + 1}'`);
    for (const options of [{}, { readonly: true }]) {
      const error = (await refusal(() => PgHashStore.connect(url, options))) as HashwardenError;
      expect([error.code, error.message]).toEqual([
        'ERR_STORE',
        expect.stringContaining(`schema version ${PG_SCHEMA_VERSION + 1} is newer than this hashwarden supports`),
      ]);
    }
  });

  it('refuses a version 1 store altered by hand rather than upgrading it', async (t) => {
    if (!running()) return t.skip();
    const url = await version1();
    await runSql(url, 'ALTER TABLE lists ADD COLUMN action text');
    const error = (await refusal(() => PgHashStore.connect(url))) as HashwardenError;
    expect([error.code, error.message]).toEqual(['ERR_STORE', expect.stringMatching(/table "lists" is not the one/)]);
    expect(await markOf(url)).toBe('hashwarden store schema 1');
  });
});

describe.skipIf(!server.available)(
  postgresTitle('PgSeenStore.rescan: allow lists and quarantine', server.available),
  () => {
    const controls = async () => {
      const url = server.url();
      const lists = await connect(url);
      const seen = await PgSeenStore.connect(url);
      open.push(seen);
      return {
        lists,
        record: (contentId: string, result: Parameters<PgSeenStore['record']>[1]) => seen.record(contentId, result),
        rescan: () => seen.rescan(lists),
      };
    };

    it('reports no hit for the new entries of an allow list, and reports those of a block list', async (t) => {
      if (!running()) return t.skip();
      await rescanSkipsAllowLists(await controls());
    });

    it('reports no event for a quarantined entry, and reports it once the entry is enabled again', async (t) => {
      if (!running()) return t.skip();
      await rescanSkipsQuarantined(await controls());
    });
  },
);

describe.skipIf(!server.available)(
  postgresTitle('hashwarden entry, list set, lists on PostgreSQL', server.available),
  () => {
    it('disables, lists and enables an entry of a PostgreSQL store, and lists counts it', async (t) => {
      if (!running()) return t.skip();
      const url = server.url();
      const store = await connect(url);
      await store.importEntries([...VENDOR, md5('a', 'fine')]);
      const disabled = await cli(['entry', 'disable', 'b', '--list', 'vendor', '--reason', 'meme', '--db', url]);
      expect(disabled).toMatchObject({ status: 0, err: '' });
      expect(disabled.out).toMatch(/^disabled vendor {2}b {2}since \S+ {2}until lifted {2}meme\n$/);
      const ahead = await cli(['entry', 'disable', 'z', '--list', 'vendor', '--reason', 'next delta', '--db', url]);
      expect(ahead.err).toMatch(/holds no entry z yet/);
      const listed = await cli(['entry', 'list', '--db', url, '--json']);
      expect(
        listed.out
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line).id),
      ).toEqual(['b', 'z']);
      const shown = await cli(['lists', '--db', url]);
      expect(shown.out).toMatch(/^vendor {2}v3 .* 3 entries \(md5 3\) {2}2 quarantined /m);
      expect((await cli(['lists', '--db', url, '--json'])).out).toContain('"quarantined":2');
      expect((await cli(['entry', 'enable', 'b', '--list', 'vendor', '--db', url])).out).toBe('enabled vendor b\n');
      expect((await cli(['entry', 'enable', 'b', '--list', 'vendor', '--db', url])).out).toMatch(/was not quarantined/);
      expect((await store.quarantined()).map((q) => q.id)).toEqual(['z']);
      const set = await cli(['list', 'set', 'fine', '--action', 'allow', '--db', url]);
      expect(set).toMatchObject({ status: 0, err: '' });
      expect(set.out).toMatch(/^fine {2}v1 {2}enabled {2}allow /);
      expect((await Matcher.open(store)).matchHash({ algorithm: 'md5', hash: 'a'.repeat(32) })).toEqual([]);
      const missing = await cli(['entry', 'disable', 'a', '--list', 'vendr', '--reason', 'r', '--db', url]);
      expect([missing.status, missing.err]).toEqual([2, expect.stringMatching(/no list named "vendr"/)]);
    });
  },
);
