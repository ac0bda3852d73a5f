/**
 * The PostgreSQL seen store on a real server: what `SeenStore`'s tests check (a record kept as
 * written, replaced, deleted, expired; bad arguments refused; an altered table refused), and
 * records from several processes at once each kept once.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatHex } from '../algorithms/hex.js';
import type { SearchedQuery } from '../matcher/searched.js';
import { postgresTitle, refusalAfter, runSql as sql, usePostgres } from '../testing/postgres.js';
import { resultOf } from '../testing/seen.js';
import { rejected } from '../testing/store-rows.js';
import { PgHashStore, PgSeenStore } from './index.js';

const server = usePostgres({ beforeAll, afterAll });

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const q = (hex: string): SearchedQuery => ({ algorithm: 'pdq', hash: bytes(hex) });
const PDQ_A = 'a'.repeat(64);

describe.skipIf(!server.available)(postgresTitle('PgSeenStore', server.available), () => {
  it('keeps a record as written, with its transforms, frames and time to the millisecond', async (t) => {
    if (!server.running()) return t.skip();
    const seen = await PgSeenStore.connect(server.url());
    try {
      const queries: SearchedQuery[] = [
        { algorithm: 'pdq', hash: bytes(PDQ_A), transform: 'rot90' },
        { algorithm: 'blockhash', hash: bytes('c'.repeat(64)), transform: 'flipX', trimmed: true, frame: 300 },
        { algorithm: 'sha1', hash: bytes('d'.repeat(40)) },
      ];
      await seen.record('upload-1', resultOf(queries, { l: 7 }), { at: new Date('2026-01-02T03:04:05.678Z') });
      const record = await seen.get('upload-1');
      expect(record).toEqual({
        contentId: 'upload-1',
        at: new Date('2026-01-02T03:04:05.678Z'),
        versions: { l: 7 },
        hashes: queries,
      });
      expect(await seen.get('other')).toBeUndefined();
    } finally {
      await seen.close();
    }
  });

  it('replaces a record recorded twice, deletes by content id and expires by age', async (t) => {
    if (!server.running()) return t.skip();
    const seen = await PgSeenStore.connect(server.url());
    try {
      await seen.record('a', resultOf([q(PDQ_A)], { l: 1 }), { at: new Date('2026-01-01') });
      await seen.record('a', resultOf([q('b'.repeat(64))], { l: 2 }), { at: new Date('2026-03-01') });
      await seen.record('b', resultOf([q(PDQ_A)], {}), { at: new Date('2026-02-01') });
      expect(await seen.count()).toBe(2);
      expect((await seen.get('a'))?.versions).toEqual({ l: 2 });
      expect(formatHex((await seen.get('a'))?.hashes[0]?.hash as Uint8Array)).toBe('b'.repeat(64));
      expect(await seen.expire(new Date('2026-02-15'))).toBe(1);
      expect(await seen.get('b')).toBeUndefined();
      expect(await seen.delete('a')).toBe(true);
      expect(await seen.delete('a')).toBe(false);
      expect(await seen.count()).toBe(0);
      await seen.record('old', resultOf([q(PDQ_A)], {}), { at: new Date(Date.now() - 10 * 86_400_000) });
      await seen.record('new', resultOf([q(PDQ_A)], {}));
      expect(await seen.expire({ days: 5 })).toBe(1);
      expect(await seen.get('new')).toBeDefined();
    } finally {
      await seen.close();
    }
  });

  it('refuses bad arguments with TypeError or RangeError before any round trip', async (t) => {
    if (!server.running()) return t.skip();
    const seen = await PgSeenStore.connect(server.url());
    try {
      const real = resultOf([], {});
      await expect(seen.record('a', { ...real })).rejects.toThrow(TypeError);
      await expect(seen.record('', real)).rejects.toThrow(RangeError);
      await expect(seen.record('x'.repeat(1025), real)).rejects.toThrow(RangeError);
      await expect(seen.expire({ days: 0 })).rejects.toThrow(RangeError);
      await expect(seen.expire(new Date(Number.NaN))).rejects.toThrow(TypeError);
      await expect(seen.get('')).rejects.toThrow(RangeError);
      expect(() => seen.rescan({} as PgHashStore)).toThrow(TypeError);
    } finally {
      await seen.close();
    }
  });

  it('lives beside the list store, and refuses an altered table, a trigger or a damaged record', async (t) => {
    if (!server.running()) return t.skip();
    const url = server.url();
    const lists = await PgHashStore.connect(url);
    const seen = await PgSeenStore.connect(url);
    await seen.record('a', resultOf([q(PDQ_A)], { l: 1 }));
    await seen.record('b', resultOf([q(PDQ_A)], { l: 1 }));
    await sql(url, "UPDATE seen_uploads SET hashes = '\\x09'::bytea WHERE content_id = 'a'");
    await sql(url, "UPDATE seen_uploads SET versions = '[1, 2]' WHERE content_id = 'b'");
    expect(await rejected(seen.get('a'))).toMatchObject({ code: 'ERR_STORE' });
    expect(await rejected(seen.get('b'))).toMatchObject({ code: 'ERR_STORE' });
    await seen.close();
    await lists.close();
    expect(await rejected(PgSeenStore.connect(server.url(), { create: false }))).toMatchObject({ code: 'ERR_STORE' });
    const cases: [string, RegExp][] = [
      ['ALTER TABLE seen_uploads ALTER COLUMN hashes TYPE text', /table "seen_uploads" is not the one/],
      [
        "CREATE FUNCTION drop_rows() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'; CREATE TRIGGER sneaky BEFORE INSERT ON seen_uploads FOR EACH ROW EXECUTE FUNCTION drop_rows()",
        /trigger "sneaky" on "seen_uploads"/,
      ],
      ["COMMENT ON TABLE seen_uploads IS 'hashwarden seen schema 99'", /schema version 99/],
      ['DROP TABLE seen_cursor', /tables missing: seen_cursor/],
    ];
    for (const [alteration, message] of cases) {
      const error = await refusalAfter(server.url(), (url) => PgSeenStore.connect(url), alteration);
      expect([error.code, error.message]).toEqual(['ERR_STORE', expect.stringMatching(message)]);
    }
  });

  it('keeps every record of four processes recording at once, once each', async (t) => {
    if (!server.running()) return t.skip();
    const url = server.url();
    const seenModule = new URL('./index.ts', import.meta.url).href;
    const helper = new URL('../testing/seen.ts', import.meta.url).href;
    const script = `
      const { PgSeenStore } = await import(${JSON.stringify(seenModule)});
      const { resultOf } = await import(${JSON.stringify(helper)});
      const [url, prefix] = process.argv.slice(-2);
      const seen = await PgSeenStore.connect(url);
      const md5 = (i) => Uint8Array.from(Buffer.from(i.toString(16).padStart(32, '0'), 'hex'));
      // Eight at a time from each process; every id also recorded by the others ("shared-").
      for (let i = 0; i < 200; i += 8)
        await Promise.all(Array.from({ length: 8 }, (_, k) => seen.record((k % 2 ? prefix : 'shared') + '-' + (i + k), resultOf([{ algorithm: 'md5', hash: md5(i + k) }], {}))));
      await seen.close();`;
    await (await PgSeenStore.connect(url)).close(); // the schema, made before the race
    const run = promisify(execFile);
    await Promise.all(
      ['p', 'q', 'r', 's'].map((prefix) =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', url, prefix], {
          timeout: 60_000,
        }),
      ),
    );
    const seen = await PgSeenStore.connect(url);
    try {
      // 100 ids of each process's own, 100 shared ids recorded by all four: each once.
      expect(await seen.count()).toBe(500);
      expect((await seen.get('q-199'))?.hashes).toEqual([
        { algorithm: 'md5', hash: bytes((199).toString(16).padStart(32, '0')) },
      ]);
    } finally {
      await seen.close();
    }
  }, 60_000);
});
