/**
 * The PostgreSQL store's file import, its two ways (src/postgres/import.ts): a first import of a
 * list whose ids ascend copied straight into `entries` (`ordered: true`), any other file staged,
 * and a file that turns out of order, or a list filled by another import meanwhile, taking the
 * staged way with the same result. Against a real server (src/testing/postgres.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ImportProgress } from '../store/types.js';
import { MD5_A, MD5_B, rejected, SHA1 } from '../testing/store-rows.js';
import { postgresTitle, usePostgres } from '../testing/postgres.js';
import { drained } from './import.js';
import { PgHashStore } from './index.js';

const pg = usePostgres({ beforeAll, afterAll });
let dir = '';
let open: PgHashStore[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-pg-import-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const store of open) await store.close();
  open = [];
});

async function connect(url = pg.url()): Promise<PgHashStore> {
  const store = await PgHashStore.connect(url);
  open.push(store);
  return store;
}

let files = 0;
async function file(text: string): Promise<string> {
  const path = join(dir, `list-${++files}.csv`);
  await writeFile(path, text);
  return path;
}

/** A CSV of `n` MD5 rows, ids `e0000000`… in the order `order` gives. */
function csv(n: number, order: (i: number) => number = (i) => i): string {
  const rows = Array.from({ length: n }, (_, i) => {
    const k = order(i);
    return `e${String(k).padStart(7, '0')},md5,${k.toString(16).padStart(32, '0')}`;
  });
  return `id,algorithm,hash\n${rows.join('\n')}\n`;
}

async function stored(store: PgHashStore, list = 'demo'): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.entries({ list }))
    out.push(`${e.id} ${e.algorithm} ${e.hash} ${e.label ?? '-'} ${JSON.stringify(e.metadata ?? null)}`);
  return out;
}

describe.skipIf(!pg.available)(postgresTitle('PgHashStore.importFile: straight into entries', pg.available), () => {
  it('copies a first import of ascending ids straight into the list, fields as the staged way stores them', async (t) => {
    if (!pg.running()) return t.skip();
    // A tab and a backslash in a label and in metadata: escaped for COPY (the row-by-row way).
    const rows =
      `id,algorithm,hash,label,source\n1,md5,${MD5_A},csam,ncmec\n2,md5,${MD5_B},,\n` +
      `3,sha1,${SHA1},"a\tb\\\\c",x\\y\n`;
    const path = await file(rows);
    const direct = await connect();
    const result = await direct.importFile(path, { list: 'demo' });
    expect([result.ordered, result.summaries]).toEqual([
      true,
      [{ list: 'demo', added: 3, updated: 0, unchanged: 0, removed: 0, version: 1, mode: 'merge' }],
    ]);
    // The same file into a list that holds an entry goes the staged way: the same rows result.
    const staged = await connect();
    await staged.importFile(await file(`id,algorithm,hash\n0,md5,${MD5_A}\n`), { list: 'demo' });
    expect((await staged.importFile(path, { list: 'demo' })).ordered).toBe(false);
    expect((await stored(staged)).slice(1)).toEqual(await stored(direct));
    expect((await stored(direct))[2]).toBe(`3 sha1 ${SHA1} a\tb\\\\c {"source":"x\\\\y"}`);
  });

  it('reads a file whose ids go out of order after some batches again, staged, with the same entries and counts', async (t) => {
    if (!pg.running()) return t.skip();
    // 2,500 rows ascending, then the 500 ids below them: out of order in the third batch of 1,000.
    const path = await file(csv(3000, (i) => (i < 2500 ? i + 500 : i - 2500)));
    const store = await connect();
    const progress: ImportProgress[] = [];
    const result = await store.importFile(path, { list: 'demo', onProgress: (p) => progress.push(p) });
    expect([result.ordered, result.summaries[0]?.added, result.read.adds]).toEqual([false, 3000, 3000]);
    const ids = (await stored(store)).map((line) => line.split(' ')[0]);
    expect(ids).toEqual(Array.from({ length: 3000 }, (_, i) => `e${String(i).padStart(7, '0')}`));
    // The second reading reports its rows from the start again, and ends at the whole file.
    expect(progress.at(-1)?.rows).toBe(3000);
    expect((await store.history()).map((h) => [h.version, h.added])).toEqual([[1, 3000]]);
  });

  it('refuses a repeated id in a first import, as the staged way does', async (t) => {
    if (!pg.running()) return t.skip();
    const path = await file(`id,algorithm,hash\n1,md5,${MD5_A}\n2,md5,${MD5_B}\n2,md5,${MD5_A}\n`);
    const store = await connect();
    const error = await rejected(store.importFile(path, { list: 'demo' }));
    expect([error.code, error.message.startsWith(`${path}:4: Duplicate id "2"`)]).toEqual(['ERR_LIST_FORMAT', true]);
    expect(await store.lists()).toEqual([]);
  });

  it('keeps the rules of a replace and of removals on the straight way', async (t) => {
    if (!pg.running()) return t.skip();
    const store = await connect();
    const empty = await file('id,algorithm,hash\n');
    expect((await rejected(store.importFile(empty, { list: 'demo', replace: ['demo'] }))).code).toBe('ERR_LIST_FORMAT');
    const removal = await file(`op,id,algorithm,hash\nadd,1,md5,${MD5_A}\nremove,2,,\n`);
    expect((await rejected(store.importFile(removal, { list: 'demo', replace: ['demo'] }))).code).toBe(
      'ERR_LIST_FORMAT',
    );
    expect(await store.lists()).toEqual([]);
    // A removal of an id the empty list does not hold removes nothing; the add is stored.
    const result = await store.importFile(removal, { list: 'demo' });
    expect([result.ordered, result.summaries[0]]).toEqual([
      true,
      { list: 'demo', added: 1, updated: 0, unchanged: 0, removed: 0, version: 1, mode: 'merge' },
    ]);
    const allowed = await store.importFile(empty, { list: 'other', replace: ['other'], allowEmpty: true });
    expect([allowed.ordered, allowed.summaries[0]?.version, await stored(store, 'other')]).toEqual([true, 1, []]);
  });

  it('skips bad rows on the straight way with onError skip, and rolls everything back with fail', async (t) => {
    if (!pg.running()) return t.skip();
    const rows = `list,id,algorithm,hash\ndemo,1,md5,${MD5_A}\nvendor,2,md5,${MD5_B}\ndemo,3,md5,${MD5_B}\n`;
    const path = await file(rows);
    const store = await connect();
    expect((await rejected(store.importFile(path, { list: 'demo' }))).message).toMatch(/:3: a row of list "vendor"/);
    expect(await store.lists()).toEqual([]);
    const skipped = await store.importFile(path, { list: 'demo', onError: 'skip' });
    expect([skipped.ordered, skipped.skippedCount, skipped.summaries[0]?.added]).toEqual([true, 1, 2]);
  });

  it('numbers a removal after the rows before it in its batch: the repeat is the later row', async (t) => {
    if (!pg.running()) return t.skip();
    const store = await connect();
    await store.importFile(await file(`id,algorithm,hash\n0,md5,${MD5_A}\n`), { list: 'demo' });
    const delta = await file(`op,id,algorithm,hash\nadd,1,md5,${MD5_A}\nadd,2,md5,${MD5_B}\nremove,1,,\n`);
    const error = await rejected(store.importFile(delta, { list: 'demo' }));
    expect(error.message.startsWith(`${delta}:4: Duplicate id "1" in list "demo", first on line 2`)).toBe(true);
  });

  it('stores a first import whose ids come in random order as the file holds them, counted and recorded once', async (t) => {
    if (!pg.running()) return t.skip();
    // 3,000 ids scrambled (a stride prime to 3,000), with a label and metadata on some rows.
    const k = (i: number): number => (i * 1201) % 3000;
    const rows = Array.from({ length: 3000 }, (_, i) => {
      const id = `e${String(k(i)).padStart(7, '0')}`;
      return `${id},md5,${k(i).toString(16).padStart(32, '0')},${k(i) % 7 === 0 ? 'seven' : ''},${k(i) % 5 === 0 ? 'five' : ''}`;
    });
    const path = await file(`id,algorithm,hash,label,source\n${rows.join('\n')}\n`);
    const store = await connect();
    const result = await store.importFile(path, { list: 'demo' });
    expect([result.ordered, result.skippedCount, result.summaries]).toEqual([
      false,
      0,
      [{ list: 'demo', added: 3000, updated: 0, unchanged: 0, removed: 0, version: 1, mode: 'merge' }],
    ]);
    const expected = Array.from({ length: 3000 }, (_, i) => {
      const meta = i % 5 === 0 ? '{"source":"five"}' : 'null';
      return `e${String(i).padStart(7, '0')} md5 ${i.toString(16).padStart(32, '0')} ${i % 7 === 0 ? 'seven' : '-'} ${meta}`;
    });
    expect(await stored(store)).toEqual(expected);
    expect((await store.history()).map((h) => [h.version, h.added, h.mode])).toEqual([[1, 3000, 'merge']]);
    // The same file as a replace of the now full list changes nothing, and is recorded as such.
    const again = await store.importFile(path, { list: 'demo', replace: ['demo'] });
    expect(again.summaries[0]).toMatchObject({ added: 0, updated: 0, unchanged: 3000, removed: 0, version: 2 });
  });

  it('reports a repeated id of a first import in random order as before, and skips it with onError skip', async (t) => {
    if (!pg.running()) return t.skip();
    const path = await file(`id,algorithm,hash\n3,md5,${MD5_A}\n1,md5,${MD5_B}\n2,md5,${MD5_A}\n1,md5,${MD5_A}\n`);
    const store = await connect();
    const error = await rejected(store.importFile(path, { list: 'demo' }));
    expect([
      error.code,
      error.message.startsWith(`${path}:5: Duplicate id "1" in list "demo", first on line 3`),
    ]).toEqual(['ERR_LIST_FORMAT', true]);
    expect([await store.lists(), await store.history()]).toEqual([[], []]);
    const skipped = await store.importFile(path, { list: 'demo', onError: 'skip' });
    expect([skipped.ordered, skipped.skippedCount, skipped.skipped[0]?.line, skipped.summaries[0]]).toEqual([
      false,
      1,
      5,
      { list: 'demo', added: 3, updated: 0, unchanged: 0, removed: 0, version: 1, mode: 'merge' },
    ]);
    expect((await stored(store)).map((line) => line.split(' ').slice(0, 3).join(' '))).toEqual([
      `1 md5 ${MD5_B}`,
      `2 md5 ${MD5_A}`,
      `3 md5 ${MD5_A}`,
    ]);
  });

  it('orders a removal in a first import in random order after the add of the same id before it', async (t) => {
    if (!pg.running()) return t.skip();
    const delta = await file(`op,id,algorithm,hash\nadd,2,md5,${MD5_A}\nadd,1,md5,${MD5_B}\nremove,3,,\n`);
    const store = await connect();
    const result = await store.importFile(delta, { list: 'demo' });
    expect([result.ordered, result.summaries[0]]).toEqual([
      false,
      { list: 'demo', added: 2, updated: 0, unchanged: 0, removed: 0, version: 1, mode: 'merge' },
    ]);
    const repeat = await file(`op,id,algorithm,hash\nadd,2,md5,${MD5_A}\nadd,1,md5,${MD5_B}\nremove,2,,\n`);
    const error = await rejected(store.importFile(repeat, { list: 'other' }));
    expect(error.message.startsWith(`${repeat}:4: Duplicate id "2" in list "other", first on line 2`)).toBe(true);
  });

  it('loses and repeats nothing when two first imports of one list run at once', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    const [a, b] = [await connect(url), await connect(url)];
    const first = await file(csv(2000, (i) => 2 * i));
    const second = await file(csv(2000, (i) => 2 * i + 1));
    const results = await Promise.all([a.importFile(first, { list: 'demo' }), b.importFile(second, { list: 'demo' })]);
    // One of them found the list empty; the other waited for its lock, found it full and staged.
    expect(results.map((r) => r.ordered).sort()).toEqual([false, true]);
    expect(results.map((r) => r.summaries[0]?.version).sort()).toEqual([1, 2]);
    expect(results.map((r) => r.summaries[0]?.added)).toEqual([2000, 2000]);
    const ids = (await stored(a)).map((line) => line.split(' ')[0]);
    expect(ids).toEqual(Array.from({ length: 4000 }, (_, i) => `e${String(i).padStart(7, '0')}`));
  });
});

describe.skipIf(!pg.available)(
  postgresTitle('PgHashStore.importFile: into a list that holds entries', pg.available),
  () => {
    it('counts updated and unchanged rows alike whether the rows are joined with the list first or probed one by one', async (t) => {
      if (!pg.running()) return t.skip();
      const store = await connect();
      const row = (i: number, label = ''): string => `e${i},md5,${i.toString(16).padStart(32, '0')},${label}`;
      const all = (rows: string[]): Promise<string> => file(`id,algorithm,hash,label\n${rows.join('\n')}\n`);
      await store.importFile(await all(Array.from({ length: 10 }, (_, i) => row(i, i === 3 ? 'old' : ''))), {
        list: 'demo',
      });
      // 11 rows against 10 entries, joined first: 2 changed (a label added, one dropped), 1 new, 8 the same.
      const replace = Array.from({ length: 11 }, (_, i) => row(i, i === 5 ? 'new' : ''));
      const joined = await store.importFile(await all(replace), { list: 'demo', replace: ['demo'] });
      expect(joined.summaries[0]).toMatchObject({ added: 1, updated: 2, unchanged: 8, removed: 0 });
      // 3 rows against 11 entries, probed one by one: 1 changed, 1 new, 1 the same.
      const delta = await store.importFile(await all([row(1, 'x'), row(2), row(20)]), { list: 'demo' });
      expect(delta.summaries[0]).toMatchObject({ added: 1, updated: 1, unchanged: 1, removed: 0 });
      const labels = (await stored(store)).map((line) =>
        line
          .split(' ')
          .slice(0, 4)
          .join(' ')
          .replace(/ md5 \w+/, ''),
      );
      expect(labels).toEqual([
        'e0 -',
        'e1 x',
        'e10 -',
        'e2 -',
        'e20 -',
        'e3 -',
        'e4 -',
        'e5 new',
        'e6 -',
        'e7 -',
        'e8 -',
        'e9 -',
      ]);
    });
  },
);

describe("drained: the COPY writer's wait for the stream", () => {
  it('leaves no listener behind however many times it waits', async () => {
    const slow = new Writable({ highWaterMark: 4, write: (_chunk, _encoding, done) => setImmediate(done) });
    slow.on('error', () => undefined);
    let waits = 0;
    for (let i = 0; i < 20; i++) {
      if (!slow.write('12345678')) {
        waits++;
        await drained(slow);
      }
    }
    expect([waits, slow.listenerCount('error'), slow.listenerCount('drain')]).toEqual([20, 1, 0]);
  });

  it("rejects with the stream's error", async () => {
    const failing = new Writable({
      highWaterMark: 4,
      write: (_chunk, _encoding, done) => done(new Error('server gone')),
    });
    failing.on('error', () => undefined);
    failing.write('12345678');
    await expect(drained(failing)).rejects.toThrow('server gone');
  });
});
