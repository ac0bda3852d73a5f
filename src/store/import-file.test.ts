/**
 * HashStore.importFile against the reference it must equal: importRows(streamListFile(…)), the
 * staged import. Random list files (ids in order and out of it, removal rows, repeated ids, several
 * lists, ids beyond U+FFFF) are imported by both into stores holding the same entries; the
 * summaries, the entries and the history must come out the same, or both must fail with the same
 * code and leave their store as it was. The reader thread is exercised through the built package.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../testing/prng.js';
import { HashStore, type ImportFileOptions, type ImportRow } from './index.js';
import { streamListFile } from '../lists/stream.js';

const dir = mkdtempSync(join(tmpdir(), 'hashwarden-import-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let serial = 0;

const hex = (n: number, digits: number): string =>
  (n >>> 0)
    .toString(16)
    .padStart(8, '0')
    .repeat(digits / 8);

interface Row {
  readonly op: 'add' | 'remove';
  readonly id: string;
  readonly list: string;
  readonly algorithm: 'md5' | 'pdq';
  readonly hash: number;
  readonly label?: string;
}

function csv(rows: readonly Row[]): string {
  const lines = ['op,id,list,algorithm,hash,label'];
  for (const r of rows) {
    lines.push(
      r.op === 'remove'
        ? `remove,${r.id},${r.list},,,`
        : `add,${r.id},${r.list},${r.algorithm},${hex(r.hash, r.algorithm === 'md5' ? 32 : 64)},${r.label ?? ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

// A small id space, so that files and the stored entries overlap (updates, unchanged rows, removals).
const ID = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 40 }).map((n) => `id-${String(n).padStart(3, '0')}`) },
  { weight: 1, arbitrary: fc.constantFrom('id-\u{1F600}', 'id-\uFFFD', 'ID-010', 'id-010 b') },
);
const ROW: fc.Arbitrary<Row> = fc.record(
  {
    op: fc.constantFrom<'add' | 'remove'>('add', 'add', 'add', 'add', 'remove'),
    id: ID,
    list: fc.constantFrom('alpha', 'alpha', 'alpha', 'beta'),
    algorithm: fc.constantFrom<'md5' | 'pdq'>('md5', 'pdq'),
    hash: fc.integer({ min: 0, max: 3 }),
    label: fc.constantFrom('block', 'review'),
  },
  { requiredKeys: ['op', 'id', 'list', 'algorithm', 'hash'] },
);

/** Rows of a file: as drawn (any order, repeats possible) or sorted by id without repeats, as most files come. */
const FILE = fc.tuple(fc.array(ROW, { maxLength: 60 }), fc.boolean()).map(([rows, sorted]) => {
  if (!sorted) return rows;
  const seen = new Set<string>();
  return rows
    .filter((r) => {
      const key = `${r.list}\n${r.id}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
});

const STORED = fc.array(
  fc.record({
    id: ID,
    list: fc.constantFrom('alpha', 'beta'),
    algorithm: fc.constantFrom<'md5' | 'pdq'>('md5', 'pdq'),
    hash: fc.integer({ min: 0, max: 3 }),
  }),
  { maxLength: 30 },
);

type Outcome = { ok: true; value: unknown } | { ok: false; code: unknown; message: string };

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, code: (error as { code?: unknown }).code, message: (error as Error).message };
  }
}

/** Everything an import can change, timestamps left out. */
function state(store: HashStore): unknown {
  return {
    entries: [...store.entries()],
    lists: store.lists().map(({ updatedAt: _u, ...list }) => list),
    history: store.history().map(({ at: _a, ...record }) => record),
  };
}

function seeded(
  name: string,
  stored: readonly { id: string; list: string; algorithm: 'md5' | 'pdq'; hash: number }[],
): HashStore {
  const store = HashStore.open(join(dir, name));
  store.importEntries(
    stored.map((e) => ({
      id: e.id,
      list: e.list,
      algorithm: e.algorithm,
      hash: hex(e.hash, e.algorithm === 'md5' ? 32 : 64),
    })),
    { source: 'seed' },
  );
  return store;
}

/** Two stores holding `stored`: the reference (for the staged import) and the tested one, closed after `check`. */
async function withPair(
  stored: Parameters<typeof seeded>[1],
  check: (reference: HashStore, tested: HashStore) => Promise<void>,
): Promise<void> {
  const n = serial++;
  const reference = seeded(`reference-${n}.db`, stored);
  const tested = seeded(`tested-${n}.db`, stored);
  try {
    await check(reference, tested);
  } finally {
    reference.close();
    tested.close();
  }
}

/** A reader's batches without the rows of lists other than `list` (what an import of `list` alone may touch). */
async function* onlyList(
  reader: AsyncIterable<{ readonly rows: readonly ImportRow[] }>,
  list: string,
): AsyncGenerator<{ readonly rows: readonly ImportRow[] }> {
  for await (const batch of reader)
    yield { rows: batch.rows.filter((row) => (row.op === 'add' ? row.entry.list : row.list) === list) };
}

/** The message of a row skipped for naming a list other than the one imported. */
const FOREIGN = /: a row of list "[^"]*" in an import of list /;

describe('HashStore.importFile', () => {
  it('equals the staged import of the same file: summaries, entries, versions, history, errors', async () => {
    const ways = { ordered: 0, staged: 0 };
    await fc.assert(
      fc.asyncProperty(
        FILE,
        STORED,
        fc.constantFrom<'merge' | 'replace'>('merge', 'replace'),
        fc.constantFrom<'fail' | 'skip'>('fail', 'skip'),
        fc.boolean(),
        fc.boolean(),
        async (rows, stored, mode, onError, allowEmpty, multiList) => {
          const file = join(dir, `file-${serial++}.csv`);
          await writeFile(file, csv(rows));
          await withPair(stored, async (reference, tested) => {
            const policy = mode === 'replace' ? { replace: ['alpha'], allowEmpty } : { allowEmpty };
            // Without multiList (and outside a replace, which names its lists), the rows of beta are
            // bad rows: the import fails, or imports as if the file held alpha's rows alone.
            const alone = !multiList && mode === 'merge';
            const foreign = alone ? rows.filter((r) => r.list !== 'alpha').length : 0;
            const expected = await outcome(async () => {
              if (foreign > 0 && onError === 'fail')
                throw Object.assign(new Error('foreign rows'), { code: 'ERR_LIST_FORMAT' });
              const read = streamListFile(file, { list: 'alpha', onError });
              const result = await reference.importRows(alone ? onlyList(read, 'alpha') : read, {
                source: file,
                onError,
                ...policy,
              });
              return {
                summaries: result.summaries,
                skippedCount: result.skippedCount + foreign,
                skipped: result.skipped,
              };
            });
            const actual = await outcome(async () => {
              const result = await tested.importFile(file, { list: 'alpha', onError, multiList, ...policy });
              ways[result.ordered ? 'ordered' : 'staged']++;
              const skipped = result.skipped.filter((s) => !FOREIGN.test(s.message));
              expect(result.skipped.length - skipped.length).toBe(Math.min(foreign, 1000));
              return { summaries: result.summaries, skippedCount: result.skippedCount, skipped };
            });
            if (expected.ok) expect(actual).toEqual(expected);
            else expect(actual).toMatchObject({ ok: false, code: expected.code });
            expect(state(tested)).toEqual(state(reference));
          });
        },
      ),
      { numRuns: 150, seed: 20261129 },
    );
    // Both ways were taken, each many times.
    expect(ways.ordered).toBeGreaterThan(30);
    expect(ways.staged).toBeGreaterThan(30);
  }, 120_000); // two stores and two imports a run, on a machine shared with other test files

  // The property above draws files of at most 60 rows: never a full chunk of 128 rows, never a
  // second batch. These files are long, in order, and switch between rows with and without labels
  // (two ways of binding a chunk) inside chunks and across batches, with two lists.
  it('equals the staged import on long ordered files, chunk by chunk, labelled or bare', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const random = mulberry32(seed);
      const pick = (n: number): number => Math.floor(random() * n);
      const ids = 3000;
      // Each list's rows fill chunks of their own: ids in blocks of 500 per list, or (even seeds)
      // lists alternating from row to row.
      const list = (i: number): string =>
        (seed % 2 === 0 ? (i * 7) % 10 < 3 : Math.floor(i / 500) % 3 === 2) ? 'beta' : 'alpha';
      const stored = Array.from({ length: ids }, (_, i) => i)
        .filter(() => random() < 0.4)
        .map((i) => ({
          id: `id-${String(i).padStart(5, '0')}`,
          list: list(i),
          algorithm: random() < 0.5 ? ('md5' as const) : ('pdq' as const),
          hash: pick(3),
        }));
      // Labels on a stretch of the file (none at all for seed 1), and here and there.
      const [from, to] = seed === 1 ? [0, 0] : ([pick(ids), pick(ids)].sort((a, b) => a - b) as [number, number]);
      const rows: Row[] = [];
      for (let i = 0; i < ids; i++) {
        if (random() < 0.3) continue;
        const label =
          seed !== 1 && ((i >= from && i < to) || random() < 0.01) ? (random() < 0.5 ? 'block' : 'review') : undefined;
        rows.push({
          op: 'add',
          id: `id-${String(i).padStart(5, '0')}`,
          list: list(i),
          algorithm: random() < 0.5 ? 'md5' : 'pdq',
          hash: pick(3),
          ...(label === undefined ? {} : { label }),
        });
      }
      const file = join(dir, `long-${seed}.csv`);
      await writeFile(file, csv(rows));
      for (const policy of [{}, { replace: ['alpha', 'beta'] }]) {
        await withPair(stored, async (reference, tested) => {
          const expected = await reference.importRows(streamListFile(file, { list: 'alpha' }), {
            source: file,
            ...policy,
          });
          const actual = await tested.importFile(file, { list: 'alpha', multiList: true, ...policy });
          expect(actual.ordered).toBe(true);
          expect(actual.summaries).toEqual(expected.summaries);
          expect(state(tested)).toEqual(state(reference));
        });
      }
    }
  });

  // Out of order, rows are sorted into the staging table after the whole file is read, and the
  // repeats found then: the same repeats, messages and counts as the staged import reports as it goes.
  it('reports repeated ids of an unordered file as the staged import does, beyond the 1,000 shown', async () => {
    const once = Array.from(
      { length: 1200 },
      (_, i): Row => ({
        op: 'add',
        id: `id-${String(1199 - i).padStart(5, '0')}`,
        list: 'alpha',
        algorithm: 'md5',
        hash: i % 3,
      }),
    );
    const file = join(dir, 'repeats.csv');
    await writeFile(file, csv([...once, ...once.map((r) => ({ ...r, hash: r.hash + 1 }))]));
    for (const onError of ['skip', 'fail'] as const) {
      await withPair([], async (reference, tested) => {
        const expected = await outcome(async () =>
          reference.importRows(streamListFile(file, { list: 'alpha' }), { source: file, onError }),
        );
        const actual = await outcome(async () => {
          const { summaries, skipped, skippedCount } = await tested.importFile(file, { list: 'alpha', onError });
          return { summaries, skipped, skippedCount };
        });
        expect(actual).toEqual(expected);
        if (onError === 'skip')
          expect(actual).toMatchObject({
            ok: true,
            value: {
              skippedCount: 1200,
              skipped: {
                length: 1000,
                0: { line: 1202, message: `${file}:1202: Duplicate id "id-01199" in list "alpha", first on line 2` },
              },
            },
          });
        else
          expect(actual).toMatchObject({
            ok: false,
            code: 'ERR_LIST_FORMAT',
            message: `${file}:1202: Duplicate id "id-01199" in list "alpha", first on line 2`,
          });
        expect(state(tested)).toEqual(state(reference));
      });
    }
  });

  it('writes ids in ascending order straight into the store, and stages any other file', async () => {
    const store = HashStore.open(join(dir, 'ordered.db'));
    try {
      const sorted = join(dir, 'sorted.csv');
      await writeFile(
        sorted,
        csv([
          { op: 'add', id: 'a', list: 'alpha', algorithm: 'md5', hash: 1 },
          { op: 'add', id: 'b', list: 'alpha', algorithm: 'md5', hash: 2 },
        ]),
      );
      expect(await store.importFile(sorted, { list: 'alpha' })).toMatchObject({
        ordered: true,
        read: { format: 'csv', rows: 2, adds: 2 },
      });
      const unsorted = join(dir, 'unsorted.csv');
      await writeFile(
        unsorted,
        csv([
          { op: 'add', id: 'b', list: 'alpha', algorithm: 'md5', hash: 2 },
          { op: 'add', id: 'a', list: 'alpha', algorithm: 'md5', hash: 3 },
        ]),
      );
      const result = await store.importFile(unsorted, { list: 'alpha' });
      expect(result).toMatchObject({
        ordered: false,
        summaries: [{ list: 'alpha', added: 0, updated: 1, unchanged: 1, version: 2 }],
      });
    } finally {
      store.close();
    }
  });

  it('reports each skipped bad row once, also when the file is read a second time', async () => {
    const store = HashStore.open(join(dir, 'problems.db'));
    try {
      const file = join(dir, 'problems.csv');
      await writeFile(
        file,
        `id,algorithm,hash\nb,md5,${hex(1, 32)}\nbad,md5,xyz\na,md5,${hex(2, 32)}\nworse,nope,00\n`,
      );
      const lines: number[] = [];
      const result = await store.importFile(file, {
        list: 'alpha',
        onError: 'skip',
        onProgress: (p) => lines.push(...p.problems.map((problem) => problem.line)),
      });
      expect(result.ordered).toBe(false);
      expect(lines).toEqual([3, 5]);
      expect(result.read.skippedCount).toBe(2);
      expect(store.count({ list: 'alpha' })).toBe(2);
    } finally {
      store.close();
    }
  });

  it("passes on the reader's error with its code and leaves the store as it was", async () => {
    const store = HashStore.open(join(dir, 'failing.db'));
    try {
      const file = join(dir, 'failing.csv');
      await writeFile(file, `id,algorithm,hash\na,md5,${hex(1, 32)}\nb,md5,nothex\n`);
      await expect(store.importFile(file, { list: 'alpha' })).rejects.toMatchObject({
        code: 'ERR_LIST_FORMAT',
        message: expect.stringContaining(`${file}:3`) as unknown as string,
      });
      await expect(store.importFile(join(dir, 'missing.csv'), { list: 'alpha' })).rejects.toMatchObject({
        code: 'ERR_INPUT_READ',
      });
      expect(store.lists()).toEqual([]);
      await expect(
        store.importFile(file, { list: 'alpha', thread: 'yes' } as unknown as ImportFileOptions),
      ).rejects.toThrow(TypeError);
      await expect(
        store.importFile(file, { list: 'alpha', onProgress: 1 } as unknown as ImportFileOptions),
      ).rejects.toThrow(TypeError);
    } finally {
      store.close();
    }
  });

  // The reader thread runs only from the built package (src/ is TypeScript, which a worker thread
  // cannot load without the parent's loader); `npm test` builds first.
  const built = join(import.meta.dirname, '../../dist/store/index.js');
  it.skipIf(!existsSync(built))(
    'reads on a worker thread in the built package, with the same results and errors',
    async () => {
      const dist = (await import(built)) as { HashStore: typeof HashStore };
      // Past THREAD_MIN_BYTES (2 MiB): smaller files are read on the calling thread.
      const rows = Array.from(
        { length: 40_000 },
        (_, i): Row => ({
          op: 'add',
          id: `id-${String(i).padStart(6, '0')}`,
          list: 'alpha',
          algorithm: i % 2 === 0 ? 'md5' : 'pdq',
          hash: i,
        }),
      );
      for (const [name, file] of [
        ['ordered', rows],
        ['staged', [...rows].reverse()],
      ] as const) {
        const path = join(dir, `thread-${name}.csv`);
        await writeFile(path, csv(file));
        expect(statSync(path).size).toBeGreaterThan(2 * 1024 ** 2);
        const threaded = dist.HashStore.open(join(dir, `thread-${name}.db`));
        const here = HashStore.open(join(dir, `here-${name}.db`));
        try {
          const a = await threaded.importFile(path, { list: 'alpha', replace: ['alpha'] });
          const b = await here.importFile(path, { list: 'alpha', replace: ['alpha'], thread: false });
          expect(a.ordered).toBe(name === 'ordered');
          expect([a.summaries, a.read]).toEqual([b.summaries, b.read]);
          expect([...threaded.entries()]).toEqual([...here.entries()]);
        } finally {
          threaded.close();
          here.close();
        }
      }
      const bad = join(dir, 'thread-bad.csv');
      await writeFile(bad, `id,algorithm,hash\na,md5,${hex(1, 32)}\nb,sha1,00\n`);
      const store = dist.HashStore.open(join(dir, 'thread-bad.db'));
      try {
        await expect(store.importFile(bad, { list: 'alpha' })).rejects.toMatchObject({
          code: 'ERR_LIST_FORMAT',
          message: expect.stringContaining(`${bad}:3`) as unknown as string,
        });
        expect(store.lists()).toEqual([]);
      } finally {
        store.close();
      }
    },
  );
});
