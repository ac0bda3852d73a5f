/**
 * The store against inputs it must not trust (issue 18): a list file naming lists other than the
 * one imported, removals that would empty a list, a store holding entries larger than an import
 * writes, a store holding triggers, views, tables or indexes the schema does not define, and a
 * dangling symbolic link as the path of a new store. Crafted stores are written with raw SQL
 * through driver.ts's better-sqlite3.
 */
import { lstatSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_METADATA_BYTES } from '../lists/entry.js';
import { loadDriver } from './driver.js';
import { HashStore, type ImportRow } from './index.js';
import { openStore, resolveStoreOptions } from './schema.js';

const md5 = (c: string): string => c.repeat(32);

let dir: string;
let open: HashStore[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-hostile-store-'));
  open = [];
});

afterEach(async () => {
  for (const store of open) store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Opens a store that the test cleanup closes. */
function store(name = 'hashes.db', options?: Parameters<typeof HashStore.open>[1]): HashStore {
  const opened = HashStore.open(join(dir, name), options);
  open.push(opened);
  return opened;
}

/** Runs raw SQL on a store file (closed by the caller's HashStore first), as a crafted store's author would. */
function raw(name: string, sql: string, ...params: unknown[]): void {
  const Database = loadDriver();
  const db = new Database(join(dir, name));
  try {
    if (params.length === 0) db.exec(sql);
    else db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

/** Counts rows with raw SQL, past anything hashwarden would refuse. */
function rawCount(name: string, sql: string): number {
  const Database = loadDriver();
  const db = new Database(join(dir, name), { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

/** The entries of each list, by id. */
function contents(s: HashStore): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of s.entries()) (out[e.list] ??= []).push(e.id);
  return out;
}

/** A store holding list L1 (x, y) of one provider and list vendorA (v1) of another. */
function twoProviders(name = 'hashes.db'): HashStore {
  const s = store(name);
  s.importEntries([
    { list: 'L1', id: 'x', algorithm: 'md5', hash: md5('1') },
    { list: 'L1', id: 'y', algorithm: 'md5', hash: md5('2') },
    { list: 'vendorA', id: 'v1', algorithm: 'md5', hash: md5('3') },
  ]);
  return s;
}

describe('HashStore.importFile: a file touches the list it is imported into, unless multiList', () => {
  // The finding: vendorA's file (imported with list: 'vendorA', no replace) whose rows name list
  // L1 removed L1's entries, and an add row created list L2. Ids ascend (the ordered import) or not
  // (the staged one): both must refuse.
  const files = {
    ordered: `op,id,list,algorithm,hash\nremove,x,L1,,\nremove,y,L1,,\nadd,n,L2,md5,${md5('4')}\nadd,v2,,md5,${md5('5')}\n`,
    staged: `op,id,list,algorithm,hash\nadd,v2,,md5,${md5('5')}\nremove,y,L1,,\nremove,x,L1,,\nadd,n,L2,md5,${md5('4')}\n`,
  };

  for (const [way, text] of Object.entries(files)) {
    it(`refuses a row of another list whole, naming file:line and both lists (${way})`, async () => {
      const s = twoProviders();
      const file = join(dir, 'vendorA.csv');
      await writeFile(file, text);
      const error = await s.importFile(file, { list: 'vendorA' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'ERR_LIST_FORMAT' });
      expect((error as Error).message).toMatch(
        new RegExp(`^${file}:[23]: a row of list "L1" in an import of list "vendorA" \\(.*multiList, --multi-list\\)`),
      );
      expect(contents(s)).toEqual({ L1: ['x', 'y'], vendorA: ['v1'] });
      expect(s.lists().map((l) => [l.name, l.version])).toEqual([
        ['L1', 1],
        ['vendorA', 1],
      ]);
    });

    it(`skips the rows of other lists with onError skip, reporting each line (${way})`, async () => {
      const s = twoProviders();
      const file = join(dir, 'vendorA.csv');
      await writeFile(file, text);
      const result = await s.importFile(file, { list: 'vendorA', onError: 'skip' });
      expect(result.ordered).toBe(way === 'ordered');
      expect(result.skippedCount).toBe(3);
      expect(result.skipped.map((r) => r.line).sort()).toEqual(way === 'ordered' ? [2, 3, 4] : [3, 4, 5]);
      expect(result.skipped[0]?.message).toContain('in an import of list "vendorA"');
      expect(result.summaries.map((r) => [r.list, r.added])).toEqual([['vendorA', 1]]);
      expect(contents(s)).toEqual({ L1: ['x', 'y'], vendorA: ['v1', 'v2'] });
    });

    it(`applies the rows of every list named with multiList, an emptied list still needing allowEmpty (${way})`, async () => {
      const s = twoProviders();
      const file = join(dir, 'vendorA.csv');
      await writeFile(file, text);
      await expect(s.importFile(file, { list: 'vendorA', multiList: true })).rejects.toMatchObject({
        code: 'ERR_LIST_FORMAT',
        message: expect.stringContaining('removal rows would empty list "L1" (2 entries)') as unknown as string,
      });
      expect(contents(s)).toEqual({ L1: ['x', 'y'], vendorA: ['v1'] });
      const result = await s.importFile(file, { list: 'vendorA', multiList: true, allowEmpty: true });
      expect(Object.fromEntries(result.summaries.map((r) => [r.list, [r.added, r.removed]]))).toEqual({
        L1: [0, 2],
        L2: [1, 0],
        vendorA: [1, 0],
      });
      expect(contents(s)).toEqual({ L2: ['n'], vendorA: ['v1', 'v2'] });
    });
  }

  it('lets a replace touch the replaced lists alone, as before, with or without multiList', async () => {
    const s = twoProviders();
    const file = join(dir, 'both.csv');
    await writeFile(file, `id,list,algorithm,hash\nv9,vendorA,md5,${md5('6')}\nz,L1,md5,${md5('7')}\n`);
    for (const multiList of [false, true]) {
      await expect(s.importFile(file, { list: 'vendorA', replace: ['vendorA'], multiList })).rejects.toMatchObject({
        code: 'ERR_LIST_FORMAT',
        message: expect.stringContaining(
          `${file}:3: an entry of list "L1" in a replace of "vendorA"`,
        ) as unknown as string,
      });
    }
    const both = await s.importFile(file, { list: 'vendorA', replace: ['vendorA', 'L1'] });
    expect(both.summaries.map((r) => [r.list, r.added, r.removed])).toEqual([
      ['vendorA', 1, 1],
      ['L1', 1, 2],
    ]);
  });
});

describe('HashStore imports: removals that would empty a list need allowEmpty', () => {
  const removals = (list: string, ...ids: string[]): ImportRow[] =>
    ids.map((id, i) => ({ op: 'remove', list, id, line: i + 2 }));

  it('refuses importRows whose removals take a list that had entries to none, and allows it with allowEmpty', async () => {
    const s = twoProviders();
    await expect(s.importRows([{ rows: removals('L1', 'x', 'y') }], { source: 'delta' })).rejects.toMatchObject({
      code: 'ERR_LIST_FORMAT',
      message: expect.stringMatching(
        /^delta: removal rows would empty list "L1" \(2 entries\); allow it/,
      ) as unknown as string,
    });
    expect(contents(s).L1).toEqual(['x', 'y']);
    // One entry left is no emptied list; a list that was empty already, or new, stays as it was.
    await s.importRows([{ rows: [...removals('L1', 'x'), ...removals('L3', 'q')] }]);
    expect(contents(s).L1).toEqual(['y']);
    const [summary] = (await s.importRows([{ rows: removals('L1', 'y') }], { allowEmpty: true })).summaries;
    expect(summary).toMatchObject({ list: 'L1', removed: 1 });
    expect(s.count({ list: 'L1' })).toBe(0);
    await s.importRows([{ rows: removals('L1', 'y') }]);
  });

  for (const [way, ids] of [
    ['ordered', ['x', 'y']],
    ['staged', ['y', 'x']],
  ] as const) {
    it(`refuses an importFile delta emptying its list, leaving it intact, and allows it with allowEmpty (${way})`, async () => {
      const s = twoProviders();
      const file = join(dir, 'delta.csv');
      await writeFile(file, `op,id,algorithm,hash\n${ids.map((id) => `remove,${id},,`).join('\n')}\n`);
      await expect(s.importFile(file, { list: 'L1' })).rejects.toMatchObject({
        code: 'ERR_LIST_FORMAT',
        message: expect.stringContaining(
          `${file}: removal rows would empty list "L1" (2 entries)`,
        ) as unknown as string,
      });
      expect(contents(s)).toEqual({ L1: ['x', 'y'], vendorA: ['v1'] });
      expect(s.lists().find((l) => l.name === 'L1')?.version).toBe(1);
      const result = await s.importFile(file, { list: 'L1', allowEmpty: true });
      expect(result.ordered).toBe(way === 'ordered');
      expect(result.summaries).toMatchObject([{ list: 'L1', removed: 2, version: 2 }]);
      expect(contents(s)).toEqual({ vendorA: ['v1'] });
    });
  }
});

describe('HashStore reads: an entry larger than an import writes is refused, not read', () => {
  /** A store whose entry `big` of list demo was given `column` = `value` by raw SQL. */
  function crafted(column: 'metadata' | 'label' | 'id', value: string): HashStore {
    const s = store('crafted.db');
    s.importEntries([
      { list: 'demo', id: 'a', algorithm: 'md5', hash: md5('a') },
      { list: 'demo', id: 'big', algorithm: 'md5', hash: md5('b') },
    ]);
    s.close();
    raw('crafted.db', `UPDATE entries SET ${column} = ? WHERE id = 'big'`, value);
    return store('crafted.db', { readonly: true });
  }
  const metadataOf = (bytes: number): string => `{"k":"${'x'.repeat(bytes - 8)}"}`;

  it('refuses an entry whose metadata is longer than MAX_METADATA_BYTES with ERR_STORE naming it', () => {
    const s = crafted('metadata', metadataOf(MAX_METADATA_BYTES + 1));
    const entries = s.entries();
    expect(entries.next().value).toMatchObject({ id: 'a' });
    expect(() => entries.next()).toThrow(
      expect.objectContaining({
        code: 'ERR_STORE',
        message: expect.stringContaining(
          `bad entry "big" in list "demo": its metadata is longer than ${MAX_METADATA_BYTES} bytes`,
        ),
      }),
    );
    expect(s.count()).toBe(2); // counting reads no entry
  });

  it('reads metadata of exactly MAX_METADATA_BYTES, counted in UTF-8 bytes', () => {
    expect(metadataOf(MAX_METADATA_BYTES).length).toBe(MAX_METADATA_BYTES);
    const s = crafted('metadata', metadataOf(MAX_METADATA_BYTES));
    expect([...s.entries()][1]?.metadata?.k).toHaveLength(MAX_METADATA_BYTES - 8);
    s.close();
    // The same number of characters, two bytes each in UTF-8: over the limit.
    raw(
      'crafted.db',
      `UPDATE entries SET metadata = ? WHERE id = 'big'`,
      `{"k":"${'é'.repeat(MAX_METADATA_BYTES / 2)}"}`,
    );
    expect(() => [...store('crafted.db', { readonly: true }).entries()]).toThrow(
      expect.objectContaining({ code: 'ERR_STORE' }),
    );
  });

  it('refuses a label or an id longer than an import writes', () => {
    const label = crafted('label', 'l'.repeat(1_000_000));
    expect(() => [...label.entries({ list: 'demo' })]).toThrow(
      expect.objectContaining({ code: 'ERR_STORE', message: expect.stringContaining('its label is longer than') }),
    );
    label.close();
    raw('crafted.db', `UPDATE entries SET label = NULL, id = ? WHERE id = 'big'`, 'i'.repeat(1_000_000));
    const id = store('crafted.db', { readonly: true });
    const error = (() => {
      try {
        [...id.entries()];
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toMatchObject({ code: 'ERR_STORE' });
    expect(error?.message).toMatch(/bad entry "i{100}…" in list "demo": its id is longer than \d+ bytes/);
  });
});

describe('HashStore.lists: a list whose label or thresholds are larger than a policy change writes is refused', () => {
  it('refuses it with ERR_STORE naming the list, without reading the value', () => {
    for (const column of ['label', 'thresholds']) {
      twoProviders('crafted.db').close();
      open.pop();
      raw('crafted.db', `UPDATE lists SET ${column} = ? WHERE name = 'L1'`, 'v'.repeat(1_000_000));
      const s = store('crafted.db', { readonly: true });
      expect(() => s.lists()).toThrow(
        expect.objectContaining({
          code: 'ERR_STORE',
          message: expect.stringContaining(`bad list "L1": its ${column} is not what an import`),
        }),
      );
      s.close();
      raw('crafted.db', `UPDATE lists SET ${column} = NULL`);
    }
  });

  it('refuses a version or an enabled flag that holds no integer (SQLite keeps any type anywhere)', () => {
    for (const column of ['version', 'enabled']) {
      twoProviders('crafted.db').close();
      open.pop();
      raw('crafted.db', `UPDATE lists SET ${column} = ? WHERE name = 'L1'`, '9'.repeat(1_000_000));
      const s = store('crafted.db', { readonly: true });
      expect(() => s.lists(), column).toThrow(
        expect.objectContaining({ code: 'ERR_STORE', message: expect.stringContaining(`its ${column} is not what`) }),
      );
      s.close();
      rmSync(join(dir, 'crafted.db'));
    }
  });
});

describe('HashStore.history: a record larger than an import writes is refused, not read whole', () => {
  it('refuses a source over its bound and a count that holds no integer, with ERR_STORE naming the column', () => {
    for (const [column, value] of [
      ['source', 's'.repeat(5_000_000)],
      ['added', 'many'],
    ]) {
      twoProviders('crafted.db').close();
      open.pop();
      raw('crafted.db', `UPDATE imports SET ${column} = ? WHERE list = 'L1'`, value);
      const s = store('crafted.db', { readonly: true });
      expect(() => s.history('L1'), column).toThrow(
        expect.objectContaining({ code: 'ERR_STORE', message: expect.stringContaining(`its ${column} is not what`) }),
      );
      expect(s.history('vendorA')).toHaveLength(1);
      s.close();
      rmSync(join(dir, 'crafted.db'));
    }
  });
});

describe('HashStore.open: a store holding what the schema does not define is refused', () => {
  /** A closed store holding L1 (x, y), then `sql` run on it raw. */
  function craft(sql: string): string {
    twoProviders('crafted.db').close();
    open.pop();
    raw('crafted.db', sql);
    return join(dir, 'crafted.db');
  }

  it("refuses the finding's store, whose triggers drop every row and empty L1, before they run", () => {
    const path = craft(`
      CREATE TRIGGER drop_rows BEFORE INSERT ON entries BEGIN SELECT RAISE(IGNORE); END;
      CREATE TRIGGER empty_l1 AFTER INSERT ON imports BEGIN DELETE FROM entries WHERE list = 'L1'; END;`);
    for (const options of [{}, { readonly: true }]) {
      expect(() => HashStore.open(path, options)).toThrow(
        expect.objectContaining({
          code: 'ERR_STORE',
          message: expect.stringMatching(/not a hashwarden store \(it holds trigger "drop_rows" on "entries"/),
        }),
      );
    }
    expect(rawCount('crafted.db', "SELECT count(*) FROM entries WHERE list = 'L1'")).toBe(2);
  });

  it('refuses a view, an extra table, an extra index, and an index of a known name defined otherwise', () => {
    const objects = {
      'view "everything"': 'CREATE VIEW everything AS SELECT * FROM entries',
      'table "notes"': 'CREATE TABLE notes (text TEXT)',
      'index "by_label" on "entries"': 'CREATE INDEX by_label ON entries (label)',
      'index "entries_algorithm" on "entries"':
        "CREATE INDEX entries_algorithm ON entries (algorithm) WHERE list = 'L1'",
    };
    for (const [named, sql] of Object.entries(objects)) {
      const path = craft(sql);
      expect(() => HashStore.open(path, { readonly: true })).toThrow(
        expect.objectContaining({ code: 'ERR_STORE', message: expect.stringContaining(`it holds ${named},`) }),
      );
      raw('crafted.db', `DROP ${sql.split(' ')[1]} ${named.split('"')[1]}`);
      HashStore.open(path).close();
    }
  });

  it('refuses a table of a known name whose columns or constraints differ from the schema', () => {
    // A store rebuilt with tables of its own making: the names are right, what they answer is not.
    const entries = (columns: string): string => {
      const copied = columns.includes(' AS (')
        ? 'list, id, algorithm, label, metadata'
        : 'list, id, algorithm, hash, label, metadata';
      return `
      CREATE TABLE entries2 (${columns}, PRIMARY KEY (list, id)) WITHOUT ROWID;
      INSERT INTO entries2 (${copied}) SELECT ${copied} FROM entries;
      DROP TABLE entries; ALTER TABLE entries2 RENAME TO entries;`;
    };
    const base = 'list TEXT NOT NULL REFERENCES lists(name), id TEXT NOT NULL, algorithm TEXT NOT NULL';
    const crafted = {
      'a generated hash': `${base}, hash BLOB AS (zeroblob(16)), label TEXT, metadata TEXT`,
      'a CHECK refusing one list': `${base}, hash BLOB NOT NULL, label TEXT, metadata TEXT, CHECK (list <> 'L9')`,
      'a hash without NOT NULL': `${base}, hash BLOB, label TEXT, metadata TEXT`,
    };
    for (const [what, columns] of Object.entries(crafted)) {
      const path = craft(entries(columns));
      expect(rawCount('crafted.db', 'SELECT count(*) FROM entries'), what).toBe(3);
      expect(() => HashStore.open(path, { readonly: true }), what).toThrow(
        expect.objectContaining({ code: 'ERR_STORE', message: expect.stringContaining('its table "entries" is not') }),
      );
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    }
    // The same rebuild with the schema's own columns is accepted: the check is of the columns, not the SQL text.
    const path = craft(entries(`${base}, hash BLOB NOT NULL, label TEXT, metadata TEXT`));
    const s = HashStore.open(path, { readonly: true });
    open.push(s);
    expect(s.count()).toBe(3);
  });

  it('accepts what SQLite itself adds: the statistics of ANALYZE', () => {
    const path = craft('ANALYZE');
    expect(rawCount('crafted.db', "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'")).toBeGreaterThan(
      0,
    );
    const s = HashStore.open(path);
    open.push(s);
    expect(s.count()).toBe(3);
  });

  it('opens every store with trusted_schema off', () => {
    const path = join(dir, 'trusted.db');
    for (const options of [{}, { readonly: true }]) {
      const ctx = openStore(path, resolveStoreOptions(path, options));
      try {
        expect(ctx.db.pragma('trusted_schema', { simple: true })).toBe(0);
      } finally {
        ctx.db.close();
      }
    }
  });
});

describe.skipIf(process.platform === 'win32')('HashStore.open: a dangling symbolic link as the path', () => {
  it('creates the file the link names with the mode asked for, whatever the umask', () => {
    symlinkSync('target.db', join(dir, 'link.db'));
    symlinkSync(join(dir, 'link.db'), join(dir, 'chain.db'));
    const umask = process.umask(0o022);
    try {
      store('chain.db', { mode: 0o640 }).importEntries([{ list: 'demo', id: 'a', algorithm: 'md5', hash: md5('a') }]);
    } finally {
      process.umask(umask);
    }
    expect(lstatSync(join(dir, 'chain.db')).isSymbolicLink()).toBe(true);
    for (const file of ['target.db', 'target.db-wal', 'target.db-shm'])
      expect(statSync(join(dir, file)).mode & 0o777).toBe(0o640);
    symlinkSync('other.db', join(dir, 'default.db'));
    store('default.db');
    expect(statSync(join(dir, 'other.db')).mode & 0o777).toBe(0o600);
  });
});
