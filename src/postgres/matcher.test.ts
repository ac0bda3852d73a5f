/**
 * A matcher opened from the PostgreSQL store (`Matcher.open(store)`), and a snapshot it exports
 * (`exportSnapshot`, `hashwarden export --db postgresql://…`), against a real server: the same
 * entries and policies imported into a SQLite store and into PostgreSQL must give the same lists,
 * tables and matches, and the same snapshot contents; a reload reads the server again only when a
 * list's version or policy changed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run.js';
import type { ListEntry } from '../lists/entry.js';
import { Matcher } from '../matcher/matcher.js';
import { readSnapshot } from '../snapshot/read.js';
import { HashStore } from '../store/index.js';
import { postgresTitle, usePostgres } from '../testing/postgres.js';
import { makeEntries, queriesOf, setPolicies } from '../testing/store-entries.js';
import { loadPg } from './driver.js';
import { PgHashStore } from './index.js';

const pg = usePostgres({ beforeAll, afterAll });
const available = pg.available;

/** Runs the CLI in process; its exit status and what it wrote. */
async function cli(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), isTTY: false });
  return { status, out, err };
}

describe.skipIf(!available)(postgresTitle('Matcher.open and exportSnapshot from PostgreSQL', available), () => {
  let dir: string;
  let url: string;
  let store: PgHashStore;
  let entries: ListEntry[];
  let fromSqlite: Matcher;
  let fromPostgres: Matcher;
  let db: string;

  beforeAll(async () => {
    if (!pg.running()) return;
    dir = await mkdtemp(join(tmpdir(), 'hashwarden-pg-matcher-'));
    db = join(dir, 'hashes.db');
    entries = makeEntries();
    const sqlite = HashStore.open(db);
    try {
      sqlite.importEntries(entries);
      await setPolicies(sqlite);
    } finally {
      sqlite.close();
    }
    url = pg.url();
    const writer = await PgHashStore.connect(url);
    try {
      await writer.importEntries(entries);
      await setPolicies(writer);
    } finally {
      await writer.close();
    }
    store = await PgHashStore.connect(url, { readonly: true });
    fromSqlite = await Matcher.open(db);
    fromPostgres = await Matcher.open(store);
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('holds the lists, tables and entries a matcher opened from the same SQLite store holds', (t) => {
    if (!pg.running()) return t.skip();
    expect(fromPostgres.lists).toEqual(fromSqlite.lists);
    expect(fromPostgres.size).toBe(entries.length - 50);
    expect(fromPostgres.describe()).toEqual(fromSqlite.describe());
    expect(fromPostgres.algorithms).toEqual(fromSqlite.algorithms);
  });

  it('gives the same matches as the SQLite path for hashes, near misses and misses, at every threshold', (t) => {
    if (!pg.running()) return t.skip();
    const queries = queriesOf(entries);
    expect(queries.length).toBeGreaterThan(1000);
    for (const threshold of [undefined, 0, 12, 31, 64]) {
      const options = threshold === undefined ? undefined : { threshold };
      const expected = fromSqlite.matchHashes(queries, options);
      expect(expected.some((r) => r.ok && r.matches.length > 1)).toBe(true);
      expect(fromPostgres.matchHashes(queries, options)).toEqual(expected);
    }
  });

  it('finds every enabled entry by its own hash, with its label and metadata, and no disabled one', (t) => {
    if (!pg.running()) return t.skip();
    for (const entry of entries) {
      const found = fromPostgres.matchHash({ algorithm: entry.algorithm, hash: entry.hash }, { threshold: 0 });
      const mine = found.filter((m) => m.list === entry.list && m.entryId === entry.id);
      expect(mine).toHaveLength(entry.list === 'off' ? 0 : 1);
      if (entry.list === 'off') continue;
      expect(mine[0]?.label).toBe(entry.label);
      expect(mine[0]?.metadata).toEqual(entry.metadata);
    }
  });

  it('reads only the lists named (a disabled one too), and refuses a name the store lacks', async (t) => {
    if (!pg.running()) return t.skip();
    const named = await Matcher.open(store, { lists: ['off', 'items'] });
    expect(named.lists).toEqual((await Matcher.open(db, { lists: ['off', 'items'] })).lists);
    expect(named.size).toBe(50 + 4500 * 3);
    await expect(Matcher.open(store, { lists: ['nope'] })).rejects.toMatchObject({ code: 'ERR_STORE' });
    await expect(Matcher.open({} as PgHashStore)).rejects.toBeInstanceOf(TypeError);
    // A store carries no signature nor sequence: trusting keys or a floor is a mistake, as for SQLite.
    await expect(Matcher.open(store, { minSequence: 5 })).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_ROLLBACK' });
  });

  it('exports a snapshot whose lists, tables and matches are those of the SQLite store exported', async (t) => {
    if (!pg.running()) return t.skip();
    const fromPg = join(dir, 'pg.snap');
    const fromLite = join(dir, 'sqlite.snap');
    const summary = await store.exportSnapshot(fromPg, { sequence: 7 });
    expect(summary).toMatchObject({ entries: entries.length - 50, sequence: 7 });
    const exported = await cli('export', '--db', db, '--snapshot', fromLite, '--sequence', '7');
    expect(exported.status, exported.err).toBe(0);
    const [a, b] = [await readSnapshot(fromPg), await readSnapshot(fromLite)];
    expect(a.lists).toEqual(b.lists);
    expect(a.algorithms).toEqual(b.algorithms);
    expect(a.source).toBe(store.label);
    const queries = queriesOf(entries);
    const [snapPg, snapLite] = [await Matcher.open(fromPg), await Matcher.open(fromLite)];
    for (const threshold of [undefined, 0, 31, 64]) {
      const options = threshold === undefined ? undefined : { threshold };
      expect(snapPg.matchHashes(queries, options)).toEqual(snapLite.matchHashes(queries, options));
    }
    expect(snapPg.lists).toEqual(fromSqlite.lists);
  });

  it('exports from the command line, its connection from the PG variables when the URL leaves it out', async (t) => {
    if (!pg.running()) return t.skip();
    const out = join(dir, 'cli.snap');
    const u = new URL(url);
    const saved = { ...process.env };
    Object.assign(process.env, {
      PGHOST: u.hostname,
      PGPORT: u.port,
      PGUSER: u.username,
      PGDATABASE: u.pathname.slice(1),
    });
    try {
      const run = await cli('export', '--db', 'postgresql://', '--snapshot', out, '--list', 'items', '--tier', 'mih');
      expect(run.status, run.err).toBe(0);
      expect(run.out).toMatch(/wrote .*cli\.snap \(13500 entries/);
    } finally {
      process.env = saved;
    }
    const snapshot = await readSnapshot(out);
    expect(snapshot.lists.map((l) => l.name)).toEqual(['items']);
    expect(snapshot.algorithms.find((a) => a.name === 'pdq')?.search.tier).toBe('mih');
    expect((await cli('export', '--db', url, '--snapshot', out, '--list', 'nope')).status).toBe(2);
    const listFile = await cli('export', '--db', url, '--out', join(dir, 'x.csv'));
    expect(listFile).toMatchObject({ status: 2, err: expect.stringMatching(/--snapshot/) });
  });

  it('refuses to export lists holding no entry unless allowEmpty, and checks options before reading', async (t) => {
    if (!pg.running()) return t.skip();
    const empty = await PgHashStore.connect(pg.url());
    try {
      const path = join(dir, 'empty.snap');
      await expect(empty.exportSnapshot(path)).rejects.toMatchObject({ code: 'ERR_NO_ENTRIES' });
      expect((await empty.exportSnapshot(path, { allowEmpty: true })).entries).toBe(0);
      await expect(empty.exportSnapshot(path, { sequence: -1 })).rejects.toBeInstanceOf(RangeError);
      await expect(empty.exportSnapshot(path, { lists: 'a' as never })).rejects.toBeInstanceOf(TypeError);
    } finally {
      await empty.close();
    }
  });
});

describe.skipIf(!available)(postgresTitle('A matcher reloading from PostgreSQL', available), () => {
  it('reads again only when a version or a policy changed, and keeps serving when the store is closed', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    const writer = await PgHashStore.connect(url);
    const reader = await PgHashStore.connect(url, { readonly: true });
    try {
      const md5 = (n: number): string => n.toString(16).padStart(32, '0');
      await writer.importEntries([{ list: 'a', id: '1', algorithm: 'md5', hash: md5(1) }]);
      const matcher = await Matcher.open(reader);
      expect(await matcher.reload()).toBe(false);
      await writer.importEntries([{ list: 'a', id: '2', algorithm: 'md5', hash: md5(2) }]);
      expect(matcher.matchHash({ algorithm: 'md5', hash: md5(2) })).toEqual([]);
      expect(await matcher.reload()).toBe(true);
      expect(matcher.matchHash({ algorithm: 'md5', hash: md5(2) })).toHaveLength(1);
      expect(matcher.lists).toEqual([{ name: 'a', version: 2, thresholds: {} }]);
      await writer.setListPolicy('a', { label: 'review' });
      expect(await matcher.reload()).toBe(true);
      expect(matcher.lists[0]?.label).toBe('review');
      expect(await matcher.reload()).toBe(false);
      // Setting the action a list has changes nothing to read; another does.
      expect((await writer.setListPolicy('a', { action: 'block' })).action).toBeUndefined();
      expect(await matcher.reload()).toBe(false);
      expect((await writer.setListPolicy('a', { action: 'allow' })).action).toBe('allow');
      expect(await matcher.reload()).toBe(true);
      expect(matcher.lists[0]?.action).toBe('allow');
      await writer.setListPolicy('a', { action: 'block' });
      expect(await matcher.reload()).toBe(true);
      await writer.setListPolicy('a', { enabled: false });
      await expect(matcher.reload()).rejects.toMatchObject({ code: 'ERR_NO_ENTRIES' });
      expect(matcher.size).toBe(2);
      await reader.close();
      await expect(matcher.reload()).rejects.toMatchObject({ code: 'ERR_STORE' });
      expect(matcher.matchHash({ algorithm: 'md5', hash: md5(1) })).toHaveLength(1);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it('reads versions and entries from one snapshot of the store while another process imports', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    const writer = await PgHashStore.connect(url);
    const reader = await PgHashStore.connect(url, { readonly: true });
    // Each version v of the list holds ids `v<v>-…` only: a read mixing two versions is seen.
    const version = (v: number) =>
      Array.from({ length: 20_000 }, (_, i) => ({
        list: 'x',
        id: `v${String(v).padStart(3, '0')}-${String(i).padStart(5, '0')}`,
        algorithm: 'md5' as const,
        hash: (v * 100_000 + i).toString(16).padStart(32, '0'),
      }));
    try {
      await writer.importEntries(version(1), { replace: ['x'] });
      let importing = true;
      const imports = (async () => {
        for (let v = 2; v <= 6; v++) await writer.importEntries(version(v), { replace: ['x'] });
        importing = false;
      })();
      let reads = 0;
      while (importing || reads === 0) {
        const matcher = await Matcher.open(reader);
        const v = matcher.lists[0]?.version as number;
        expect(matcher.size).toBe(20_000);
        const probe = (v * 100_000 + 19_999).toString(16).padStart(32, '0');
        expect(matcher.matchHash({ algorithm: 'md5', hash: probe })[0]?.entryId).toMatch(
          new RegExp(`^v${String(v).padStart(3, '0')}-`),
        );
        reads++;
      }
      await imports;
      expect(reads).toBeGreaterThan(0);
    } finally {
      await writer.close();
      await reader.close();
    }
  }, 60_000);
});

describe.skipIf(!available)(
  postgresTitle('A crafted PostgreSQL store read by a matcher or an export', available),
  () => {
    it.for([
      ['a hash of another width', "'pdq', decode(repeat('ab', 31), 'hex'), NULL, NULL"],
      ['an algorithm no import writes', "'photodna', decode(repeat('ab', 32), 'hex'), NULL, NULL"],
      [
        'metadata over its bound',
        `'pdq', decode(repeat('ab', 32), 'hex'), NULL, '{"x":"' || repeat('y', 70000) || '"}'`,
      ],
      ['a label over its bound', "'pdq', decode(repeat('ab', 32), 'hex'), repeat('z', 70000), NULL"],
    ] as const)('refuses %s with ERR_STORE, as entries() does, after a batch of plain rows', async ([, values], t) => {
      if (!pg.running()) return t.skip();
      const url = pg.url();
      const store = await PgHashStore.connect(url);
      try {
        const hex = (n: number): string => n.toString(16).padStart(64, '0');
        await store.importEntries(
          Array.from({ length: 9000 }, (_, i) => ({
            list: 'c',
            id: `a${String(i).padStart(5, '0')}`,
            algorithm: 'pdq' as const,
            hash: hex(i + 1),
          })),
        );
        const client = new (loadPg().pg.Client)({ connectionString: url });
        await client.connect();
        try {
          await client.query(
            `INSERT INTO entries (list, id, algorithm, hash, label, metadata) VALUES ('c', 'b-crafted', ${values})`,
          );
        } finally {
          await client.end();
        }
        const read = async () => {
          for await (const entry of store.entries({ list: 'c' })) void entry;
        };
        await expect(read()).rejects.toMatchObject({ code: 'ERR_STORE' });
        await expect(Matcher.open(store)).rejects.toMatchObject({ code: 'ERR_STORE' });
        await expect(
          store.exportSnapshot(join(tmpdir(), `hashwarden-crafted-${process.pid}.snap`)),
        ).rejects.toMatchObject({
          code: 'ERR_STORE',
        });
      } finally {
        await store.close();
      }
    });
  },
);
