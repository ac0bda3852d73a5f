/**
 * Connecting to the PostgreSQL store on a real server: the schema created once, refused when it is
 * not a hashwarden store's, and credentials kept out of every message.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejected } from '../testing/store-rows.js';
import { postgresTitle, refusalAfter, runSql as sql, usePostgres } from '../testing/postgres.js';
import { PgHashStore } from './index.js';

const server = usePostgres({ beforeAll, afterAll });

describe.skipIf(!server.available)(postgresTitle('PgHashStore.connect', server.available), () => {
  it('creates the schema once, also when two processes connect to a new database at once', async (t) => {
    if (!server.running()) return t.skip();
    const url = server.url();
    const stores = await Promise.all([PgHashStore.connect(url), PgHashStore.connect(url), PgHashStore.connect(url)]);
    try {
      expect(stores[0]?.label).toMatch(/^postgresql:\/\/127\.0\.0\.1:\d+\/test_\d+$/);
      await stores[0]?.importEntries([
        { list: 'demo', id: '1', algorithm: 'md5', hash: '0cc175b9c0f1b6a831c399e269772661' },
      ]);
      expect(await stores[2]?.count()).toBe(1);
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it('refuses an empty database with create: false, and creates nothing', async (t) => {
    if (!server.running()) return t.skip();
    const url = server.url();
    expect((await rejected(PgHashStore.connect(url, { create: false }))).message).toMatch(/not a hashwarden store/);
    const store = await PgHashStore.connect(url);
    expect(await store.lists()).toEqual([]);
    await store.close();
  });

  it('refuses a store whose table was altered, that holds a trigger, or of another schema version', async (t) => {
    if (!server.running()) return t.skip();
    const cases: [string, RegExp][] = [
      ['ALTER TABLE entries ALTER COLUMN hash TYPE text', /table "entries" is not the one/],
      ['ALTER TABLE lists ADD COLUMN extra text', /table "lists" is not the one/],
      [
        "CREATE FUNCTION drop_rows() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'; CREATE TRIGGER sneaky BEFORE INSERT ON entries FOR EACH ROW EXECUTE FUNCTION drop_rows()",
        /trigger "sneaky" on "entries"/,
      ],
      ["COMMENT ON TABLE lists IS 'hashwarden store schema 99'", /schema version 99/],
      ['DROP TABLE checkpoints', /tables missing: checkpoints/],
    ];
    for (const [alteration, message] of cases) {
      const error = await refusalAfter(server.url(), (url) => PgHashStore.connect(url), alteration);
      expect([error.code, error.message]).toEqual(['ERR_STORE', expect.stringMatching(message)]);
    }
  });

  it('names host, port and database in errors, never the password', async (t) => {
    if (!server.running()) return t.skip();
    const url = new URL(server.url());
    const secret = 's3cret-Pa55word';
    // A database that does not exist on the real server, and a port nothing listens on.
    const missing = `postgresql://postgres:${secret}@127.0.0.1:${url.port}/no_such_db`;
    const refused = `postgresql://postgres:${encodeURIComponent(secret)}@127.0.0.1:1/somedb`;
    for (const target of [missing, refused, { connectionString: missing }]) {
      const error = await rejected(PgHashStore.connect(target));
      expect(error.code).toBe('ERR_STORE');
      expect(error.message).not.toContain(secret);
      expect(error.cause).toBeUndefined();
      expect(JSON.stringify(error)).not.toContain(secret);
      expect(error.message).toMatch(/PostgreSQL store postgresql:\/\/127\.0\.0\.1:\d+\/(no_such_db|somedb)/);
    }
    // A keyword string: its password is masked in the name too.
    const keywords = await rejected(PgHashStore.connect(`host=127.0.0.1 port=1 dbname=x password=${secret}`));
    expect(keywords.message).not.toContain(secret);
  });

  it('uses a pool of the caller, and leaves it open on close', async (t) => {
    if (!server.running()) return t.skip();
    const pool = new pg.Pool({ connectionString: server.url() });
    try {
      const store = await PgHashStore.connect({ pool });
      await store.close();
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect((await rejected(store.count())).code).toBe('ERR_STORE');
    } finally {
      await pool.end();
    }
  });

  it('refuses, naming it, what an import never writes: an oversized entry, bad thresholds, an oversized checkpoint', async (t) => {
    if (!server.running()) return t.skip();
    const url = server.url();
    const store = await PgHashStore.connect(url);
    try {
      await store.importEntries([
        { list: 'demo', id: 'a', algorithm: 'md5', hash: '0cc175b9c0f1b6a831c399e269772661' },
      ]);
      await sql(url, `UPDATE entries SET metadata = '"' || repeat('x', 70000) || '"'`);
      const read = await rejected(
        (async () => {
          for await (const _ of store.entries()) void _;
        })(),
      );
      expect([read.code, read.message]).toEqual([
        'ERR_STORE',
        expect.stringMatching(/bad entry "a" in list "demo": its metadata is longer than 65536 bytes/),
      ]);
      expect((await rejected(store.entry('demo', 'a'))).code).toBe('ERR_STORE');
      await sql(url, `UPDATE entries SET metadata = NULL; UPDATE lists SET thresholds = '{"pdq": 999}'`);
      expect((await rejected(store.lists())).message).toMatch(/bad thresholds for list "demo"/);
      await sql(
        url,
        `UPDATE lists SET thresholds = NULL; INSERT INTO checkpoints VALUES ('k', repeat('x', 70000), now())`,
      );
      expect((await rejected(store.checkpoint('k'))).message).toMatch(/checkpoint "k" is longer than 65536 bytes/);
      // Nothing left open: the store still writes.
      expect(
        (
          await store.importEntries([
            { list: 'demo', id: 'b', algorithm: 'md5', hash: '92eb5ffee6ae2fec3ad71c777531578f' },
          ])
        )[0]?.version,
      ).toBe(2);
    } finally {
      await store.close();
    }
  });

  it('validates its arguments with the standard errors', async () => {
    await expect(PgHashStore.connect(42 as never)).rejects.toThrow(TypeError);
    await expect(PgHashStore.connect('postgresql://x/y', { create: 'yes' as never })).rejects.toThrow(TypeError);
    await expect(PgHashStore.connect({ pool: {} })).rejects.toThrow(TypeError);
  });
});
