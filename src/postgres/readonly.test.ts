/**
 * The PostgreSQL store connected read-only (for matchers and exporters), a schema newer than this
 * release refused, and the commands that take `--db postgresql://…` (`import`, `lists`, `list
 * set`, `export`): their results, and the password kept out of everything they print.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run.js';
import { Matcher } from '../matcher/matcher.js';
import { loadPg } from './driver.js';
import { postgresTitle, usePostgres } from '../testing/postgres.js';
import { PG_SCHEMA_VERSION, PgHashStore, PgSeenStore } from './index.js';
import { resultOf } from '../testing/seen.js';

const pg = usePostgres({ beforeAll, afterAll });
const available = pg.available;

const md5 = (n: number): string => n.toString(16).padStart(32, '0');

async function cli(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), isTTY: false });
  return { status, out, err };
}

/** Runs `sql` on the database at `url` through a client of its own. */
async function sql(url: string, text: string): Promise<void> {
  const client = new (loadPg().pg.Client)({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-pg-readonly-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!available)(postgresTitle('PgHashStore connected read-only', available), () => {
  it('reads, opens matchers and exports, and refuses every write with ERR_STORE before the server', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    const writer = await PgHashStore.connect(url);
    await writer.importEntries([{ list: 'a', id: '1', algorithm: 'md5', hash: md5(1) }]);
    await writer.close();
    const store = await PgHashStore.connect(url, { readonly: true });
    try {
      expect((await store.lists()).map((l) => [l.name, l.version, l.total])).toEqual([['a', 1, 1]]);
      const entry = { list: 'a', id: '2', algorithm: 'md5' as const, hash: md5(2) };
      await expect(store.importEntries([entry])).rejects.toMatchObject({ code: 'ERR_STORE' });
      await expect(store.importRows([{ rows: [] }])).rejects.toMatchObject({ code: 'ERR_STORE' });
      const file = join(dir, 'one.csv');
      await writeFile(file, `id,algorithm,hash\n2,md5,${md5(2)}\n`);
      await expect(store.importFile(file, { list: 'a' })).rejects.toMatchObject({ code: 'ERR_STORE' });
      await expect(store.setListPolicy('a', { label: 'x' })).rejects.toMatchObject({ code: 'ERR_STORE' });
      expect((await store.exportSnapshot(join(dir, 'ro.snap'))).entries).toBe(1);
      expect((await Matcher.open(store)).matchHash({ algorithm: 'md5', hash: md5(1) })).toHaveLength(1);
      expect(await store.history('a')).toHaveLength(1);
      expect(await store.count()).toBe(1);
    } finally {
      await store.close();
    }
    // Over a pool of the caller's, which the server lets write: the store's own check refuses.
    const pool = new (loadPg().pg.Pool)({ connectionString: url });
    const over = await PgHashStore.connect({ pool }, { readonly: true });
    try {
      const entry = { list: 'a', id: '2', algorithm: 'md5' as const, hash: md5(2) };
      await expect(over.importEntries([entry])).rejects.toMatchObject({ code: 'ERR_STORE' });
      await expect(over.setListPolicy('a', { enabled: false })).rejects.toMatchObject({ code: 'ERR_STORE' });
      expect((await over.lists()).map((l) => [l.version, l.total, l.enabled])).toEqual([[1, 1, true]]);
    } finally {
      await over.close();
      await pool.end();
    }
  });

  it('connects a seen store read-only: reads work, records, deletes and expiries are ERR_STORE', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    const writer = await PgSeenStore.connect(url);
    await writer.record('u1', resultOf([{ algorithm: 'md5', hash: Buffer.from(md5(1), 'hex') }], {}));
    await writer.close();
    const seen = await PgSeenStore.connect(url, { readonly: true });
    try {
      expect(await seen.count()).toBe(1);
      expect((await seen.get('u1'))?.contentId).toBe('u1');
      const result = resultOf([{ algorithm: 'md5', hash: Buffer.from(md5(2), 'hex') }], {});
      await expect(seen.record('u2', result)).rejects.toMatchObject({ code: 'ERR_STORE' });
      await expect(seen.delete('u1')).rejects.toMatchObject({ code: 'ERR_STORE' });
      await expect(seen.expire({ days: 1 })).rejects.toMatchObject({ code: 'ERR_STORE' });
      expect(await seen.count()).toBe(1);
    } finally {
      await seen.close();
    }
  });

  it('creates no tables in an empty database, and takes no create option with readonly', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    await expect(PgHashStore.connect(url, { readonly: true })).rejects.toMatchObject({ code: 'ERR_STORE' });
    await expect(PgHashStore.connect(url, { readonly: true, create: true })).rejects.toBeInstanceOf(RangeError);
    // Nothing was created: a writable connect finds an empty database and creates the schema.
    const store = await PgHashStore.connect(url, { create: false }).catch((error: unknown) => error);
    expect(store).toMatchObject({ code: 'ERR_STORE' });
  });

  it('its own connections are read only on the server too', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    await (await PgHashStore.connect(url)).close();
    // The pool the store makes, caught as it first connects: a write through it, past the store's own check.
    const Pool = loadPg().pg.Pool;
    const connect = Pool.prototype.connect;
    const pools: InstanceType<typeof Pool>[] = [];
    Pool.prototype.connect = function (this: InstanceType<typeof Pool>, ...args: unknown[]) {
      pools.push(this);
      return (connect as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof connect;
    let store: PgHashStore;
    try {
      store = await PgHashStore.connect(url, { readonly: true });
    } finally {
      Pool.prototype.connect = connect;
    }
    try {
      expect(pools).toHaveLength(1);
      await expect(
        (pools[0] as InstanceType<typeof Pool>).query("INSERT INTO checkpoints VALUES ('k', 'v', now())"),
      ).rejects.toMatchObject({ code: '25006' });
      expect(await store.checkpoint('k')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('refuses a store whose schema is newer than this release, read-only or not', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    await (await PgHashStore.connect(url)).close();
    await sql(url, `COMMENT ON TABLE lists IS 'hashwarden store schema ${PG_SCHEMA_VERSION + 1}'`);
    for (const options of [{}, { readonly: true }]) {
      const refused = await PgHashStore.connect(url, options).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'ERR_STORE' });
      expect((refused as Error).message).toContain(`schema version ${PG_SCHEMA_VERSION + 1}`);
    }
  });
});

describe.skipIf(!available)(postgresTitle('The commands on a PostgreSQL store', available), () => {
  it('imports, lists, changes a policy and exports', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    const file = join(dir, 'list.csv');
    await writeFile(file, `id,algorithm,hash\n${[1, 2, 3].map((n) => `e${n},md5,${md5(n)}`).join('\n')}\n`);
    const imported = await cli('import', file, '--db', url, '--list', 'ncmec', '--quiet');
    expect(imported.status, imported.err).toBe(0);
    expect(imported.out).toContain('3 added');
    expect((await cli('import', file, '--db', url, '--list', 'ncmec', '--mode', '640')).status).toBe(2);
    const set = await cli('list', 'set', 'ncmec', '--db', url, '--label', 'block-and-report');
    expect(set.status, set.err).toBe(0);
    const listed = await cli('lists', '--db', url, '--json');
    expect(listed.status, listed.err).toBe(0);
    expect(JSON.parse(listed.out)).toMatchObject({ name: 'ncmec', version: 1, total: 3, label: 'block-and-report' });
    const out = join(dir, 'cli.snap');
    const exported = await cli('export', '--db', url, '--snapshot', out);
    expect(exported.status, exported.err).toBe(0);
    expect(exported.out).toContain('3 entries');
  });

  it('matches images against the lists of a PostgreSQL store', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    const vectors = fileURLToPath(new URL('../../test-vectors/', import.meta.url));
    const manifest = JSON.parse(await readFile(join(vectors, 'manifest.json'), 'utf8')) as {
      images: { file: string; blockhash: string }[];
    };
    const blobs = manifest.images.find((i) => i.file === 'blobs-640x480.jpg') as { blockhash: string };
    const csv = join(dir, 'blobs.csv');
    await writeFile(csv, `id,algorithm,hash,label\nb1,blockhash,${blobs.blockhash},test-label\n`);
    expect((await cli('import', csv, '--db', url, '--list', 'demo', '--quiet')).status).toBe(0);
    const hit = await cli('match', join(vectors, 'images', 'blobs-640x480--resize50.jpg'), '--db', url, '--json');
    expect(hit.status, hit.err).toBe(1);
    expect(JSON.parse(hit.out)).toMatchObject({
      matched: true,
      matches: [{ list: 'demo', entryId: 'b1', label: 'test-label' }],
    });
    const miss = await cli('match', join(vectors, 'images', 'mosaic-400x300.jpg'), '--db', url);
    expect(miss.status, miss.err).toBe(0);
    await cli('list', 'set', 'demo', '--db', url, '--disable');
    const none = await cli('match', join(vectors, 'images', 'mosaic-400x300.jpg'), '--db', url);
    expect(none).toMatchObject({ status: 2, err: expect.stringContaining('(PostgreSQL)') });
  });

  it('never prints the password: not in errors, warnings, snapshots or help', async (t) => {
    if (!pg.running()) return t.skip();
    const secret = 'Sup3r-S3cret-pw';
    const u = new URL(pg.url());
    const base = `postgresql://${u.username}:${secret}@${u.host}`;
    // A database that does not exist (the server answers), a port nothing listens on (the driver does).
    const runs = [
      await cli('lists', '--db', `${base}/no_such_database`),
      await cli('export', '--db', `${base}/no_such_database`, '--snapshot', join(dir, 'x.snap')),
      await cli(
        'import',
        join(dir, 'missing.csv'),
        '--db',
        `postgresql://${u.username}:${secret}@127.0.0.1:1/x`,
        '--list',
        'a',
      ),
      await cli('list', 'set', 'a', '--db', `postgresql://${u.username}:${secret}@127.0.0.1:1/x`, '--label', 'b'),
      await cli('match', join(dir, 'missing.png'), '--db', `${base}/no_such_database`),
    ];
    for (const run of runs) {
      expect(run.status).toBe(2);
      expect(run.err.length).toBeGreaterThan(0);
      expect(`${run.out}${run.err}`).not.toContain(secret);
    }
    expect(runs[0]?.err).toContain('visible to every user');
    expect(runs[0]?.err).toContain('no_such_database');
    // Trust authentication takes any password: the export succeeds, and the file names no password.
    const snap = join(dir, 'pw.snap');
    const writer = await PgHashStore.connect(u.href);
    await writer.importEntries([{ list: 'a', id: '1', algorithm: 'md5', hash: md5(1) }]);
    await writer.close();
    const ok = await cli('export', '--db', `${base}${u.pathname}`, '--snapshot', snap);
    expect(ok.status, ok.err).toBe(0);
    expect((await readFile(snap)).includes(secret)).toBe(false);
    const saved = process.env.PGPASSWORD;
    process.env.PGPASSWORD = secret;
    try {
      for (const command of ['export', 'import', 'lists', 'list', 'match']) {
        const help = await cli(command, '--help');
        expect(help.status).toBe(0);
        expect(`${help.out}${help.err}`).not.toContain(secret);
      }
      const env = await cli('lists', '--db', `postgresql://${u.username}@${u.host}/no_such_database`);
      expect(env.status).toBe(2);
      expect(`${env.out}${env.err}`).not.toContain(secret);
    } finally {
      if (saved === undefined) delete process.env.PGPASSWORD;
      else process.env.PGPASSWORD = saved;
    }
  });
});
