/**
 * vPDQ entries in a list store, one test body run over both stores (src/store/vpdq.test.ts for
 * SQLite, src/postgres/vpdq.test.ts for PostgreSQL): every import path stores a video entry and
 * reads it back as its signal text, a re-import counts it unchanged, a replace removes it, a
 * repeat without ids merges, the load for a matcher gives the chosen lists' videos numbered as
 * their image entries and without quarantined ones, and a damaged hash is a typed error.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { AlgorithmName } from '../algorithms/registry.js';
import { packVpdq, parseVpdqJson } from '../algorithms/vpdq.js';
import type { HashwardenError } from '../errors.js';
import type { ListEntry } from '../lists/entry.js';
import { parseList } from '../lists/parse.js';
import { formatList } from '../lists/write.js';
import type { PackedEntries } from '../search/entry-table.js';
import type { PackedVpdq } from '../search/vpdq.js';
import type { AnyListStore } from './list-controls.js';
import { vpdqEntry } from './vpdq-entries.js';

/** A store under test, empty. */
export interface VpdqStoreHarness {
  readonly store: AnyListStore;
  /** A folder for the test's files. */
  readonly dir: string;
  /** The lists named, read as a matcher's load reads them: the packed tables and the videos. */
  packed(names: readonly string[]): Promise<{
    readonly lists: readonly string[];
    readonly packed: ReadonlyMap<AlgorithmName, PackedEntries>;
    readonly videos: PackedVpdq | undefined;
  }>;
  /** Writes `bytes` as the hash of (list, id) by hand, as a damaged or crafted store holds it. */
  corrupt(list: string, id: string, bytes: Uint8Array): Promise<void>;
}

/** What the cases run on: a new harness per test, and whether the store can run at all. */
export interface VpdqStoreSetup {
  make(): Promise<VpdqStoreHarness>;
  running?: () => boolean;
}

const md5 = (c: string, list: string): ListEntry => ({ list, id: c, algorithm: 'md5', hash: c.repeat(32) });

/** Every entry of the store, awaited from either store's iterator. */
async function all(store: AnyListStore, list?: string): Promise<ListEntry[]> {
  const out: ListEntry[] = [];
  for await (const entry of store.entries(list === undefined ? undefined : { list })) out.push(entry);
  return out;
}

/** What `fn` threw or rejected with. */
async function refusal(fn: () => unknown): Promise<HashwardenError> {
  try {
    await fn();
  } catch (error) {
    return error as HashwardenError;
  }
  throw new Error('did not throw');
}

/** The text of entry `i` of a packed string column. */
function text(column: { offsets: Uint32Array; bytes: Uint8Array }, i: number): string {
  return Buffer.from(column.bytes.subarray(column.offsets[i], column.offsets[i + 1])).toString('utf8');
}

/** Entry `i`'s packed frames. */
function frames(videos: PackedVpdq, i: number): Buffer {
  return Buffer.from(videos.frames.bytes.subarray(videos.frames.offsets[i], videos.frames.offsets[i + 1]));
}

const byKey = (a: ListEntry, b: ListEntry): number =>
  a.list === b.list ? Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)) : a.list < b.list ? -1 : 1;

/** Declares the cases in the current `describe`. */
export function vpdqStoreCases({ make, running = () => true }: VpdqStoreSetup): void {
  const test = (name: string, body: (h: VpdqStoreHarness) => Promise<void>): void => {
    it(name, async (t) => {
      if (!running()) return t.skip();
      await body(await make());
    }, 60_000);
  };

  const clip = vpdqEntry('videos', 40, 1, { id: 'clip-1', label: 'csam', metadata: { source: 'partner' } });
  const plain = vpdqEntry('videos', 12, 2);
  const empty = vpdqEntry('videos', 0, 3, { id: 'no frames' });
  const videos = [clip, plain, empty];

  test('importEntries stores vPDQ entries and every read gives them back as their signal text', async ({ store }) => {
    const entries = [...videos, md5('a', 'videos')];
    await store.importEntries(entries, { source: 'videos.json' });
    expect(await all(store)).toEqual([...entries].sort(byKey));
    expect(await store.entry('videos', 'clip-1')).toEqual(clip);
    expect(await store.count({ algorithm: 'vpdq' })).toBe(3);
    expect(await all(store, 'videos')).toHaveLength(4);
    const [info] = await store.lists();
    expect(info?.counts).toEqual({ md5: 1, vpdq: 3 });
    expect(info?.total).toBe(4);
    const listed: ListEntry[] = [];
    for await (const e of store.entries({ algorithm: 'vpdq' })) listed.push(e);
    expect(listed).toEqual([...videos].sort(byKey));
  });

  test('a 20-minute clip (1,200 frames) and an entry of 36,000 frames store and read back whole', async ({ store }) => {
    const long = vpdqEntry('videos', 1200, 4, { id: 'long' });
    const most = vpdqEntry('videos', 36_000, 5, { id: 'most' });
    await store.importEntries([long, most]);
    expect(await store.entry('videos', 'long')).toEqual(long);
    expect(await store.entry('videos', 'most')).toEqual(most);
  });

  for (const [format, ordered] of [
    ['csv', true],
    ['ndjson', false],
    ['text', false],
  ] as const) {
    test(`importFile of ${format} (${ordered ? 'ordered' : 'staged'}) stores them; a re-import is unchanged; a replace removes them`, async ({
      store,
      dir,
    }) => {
      // Sorted by id the file takes the ordered import; the other way round, the staged one.
      const entries = [...videos, md5('a', 'videos')].sort(byKey);
      if (!ordered) entries.reverse();
      const path = join(dir, `videos.${format}`);
      await writeFile(path, formatList(entries, format));
      const first = await store.importFile(path, { list: 'videos' });
      expect(first.ordered).toBe(ordered);
      expect(first.summaries[0]).toMatchObject({ added: entries.length, updated: 0, unchanged: 0 });
      const stored = await all(store);
      if (format === 'text') {
        // Text keeps algorithm and hash: the ids are the defaults, label and metadata are gone.
        expect(stored.map((e) => [e.algorithm, e.hash]).sort()).toEqual(
          entries.map((e) => [e.algorithm, e.hash]).sort(),
        );
      } else {
        expect(stored).toEqual([...entries].sort(byKey));
      }
      const again = await store.importFile(path, { list: 'videos' });
      expect(again.summaries[0]).toMatchObject({ added: 0, updated: 0, unchanged: entries.length, removed: 0 });
      // The list without its videos, replacing it: they are removed.
      const images = join(dir, `images.${format}`);
      await writeFile(images, formatList([md5('a', 'videos')], format));
      const replaced = await store.importFile(images, { list: 'videos', replace: ['videos'] });
      expect(replaced.summaries[0]).toMatchObject({ removed: 3 });
      expect(await store.count({ algorithm: 'vpdq' })).toBe(0);
    });
  }

  test('a delta row removes a video by its signal text (its default id) or by its id', async ({ store, dir }) => {
    await store.importEntries([clip, plain, md5('a', 'videos')]);
    const path = join(dir, 'delta.csv');
    const cell = (text: string): string => `"${text.replaceAll('"', '""')}"`;
    await writeFile(path, `op,id,algorithm,hash\nremove,,vpdq,${cell(plain.hash)}\nremove,clip-1,,\n`);
    const result = await store.importFile(path, { list: 'videos' });
    expect(result.summaries[0]).toMatchObject({ removed: 2 });
    expect((await all(store)).map((e) => e.id)).toEqual(['a']);
  });

  test('importRows, and two rows of one video without ids merge (dedupe merge) or are refused (fail)', async ({
    store,
    dir,
  }) => {
    const rows = [{ op: 'add' as const, entry: clip, line: 1 }];
    await store.importRows([{ rows }], { source: 'rows' });
    expect(await store.entry('videos', 'clip-1')).toEqual(clip);
    const signal = plain.hash.replaceAll('"', '""');
    const path = join(dir, 'twice.csv');
    await writeFile(path, `algorithm,hash\nvpdq,"${signal}"\nvpdq,"${signal}"\n`);
    const merged = await store.importFile(path, { list: 'twice' });
    expect(merged.skippedCount).toBe(0);
    expect(await all(store, 'twice')).toEqual([{ ...plain, list: 'twice' }]);
    const error = await refusal(() => store.importFile(path, { list: 'strict', dedupe: 'fail' }));
    expect(error.message).toMatch(/Duplicate id/);
    // importRows stages without the arrivals table: the same rule.
    const twice = [1, 2].map((line) => ({ op: 'add' as const, entry: { ...plain, list: 'rows' }, line }));
    const result = await store.importRows([{ rows: twice }], { source: 'rows' });
    expect(result.skippedCount).toBe(0);
    expect(await store.count({ list: 'rows' })).toBe(1);
  });

  test('the load for a matcher gives the videos numbered as the packed entries, quarantined ones left out', async (h) => {
    const { store } = h;
    const a = vpdqEntry('alpha', 5, 11, { id: 'a-video', label: 'csam' });
    const b1 = vpdqEntry('beta', 6, 12, { id: 'b-1', metadata: { k: 'v' } });
    const b2 = vpdqEntry('beta', 7, 13, { id: 'b-2' });
    await store.importEntries([a, md5('a', 'alpha'), b1, b2, md5('b', 'beta'), md5('c', 'gamma'), md5('d', 'delta')]);
    await store.disableEntry('beta', 'b-2', { reason: 'a false positive' });
    const names = ['gamma', 'beta', 'alpha'];
    // The numbering is the load's (SQLite: the order named; PostgreSQL: the store's order).
    const { lists, packed, videos } = await h.packed(names);
    expect([...lists].sort()).toEqual([...names].sort());
    const md5s = packed.get('md5') as PackedEntries;
    expect(md5s.columns.lists).toEqual(lists);
    const imageLists = [...md5s.columns.listIndex].map((n, i) => [text(md5s.columns.ids, i), lists[n]]);
    expect(imageLists.sort()).toEqual([
      ['a', 'alpha'],
      ['b', 'beta'],
      ['c', 'gamma'],
    ]);
    expect(packed.has('vpdq' as AlgorithmName)).toBe(false);
    const v = videos as PackedVpdq;
    expect(v.columns.lists).toEqual(lists);
    const held = [...v.columns.listIndex].map((n, i) => ({
      list: lists[n],
      id: text(v.columns.ids, i),
      label: text(v.columns.labels, i),
      metadata: text(v.columns.metadata, i),
      frames: frames(v, i),
    }));
    held.sort((p, q) => (p.id < q.id ? -1 : 1));
    expect(held).toEqual([
      {
        list: 'alpha',
        id: 'a-video',
        label: 'csam',
        metadata: '',
        frames: Buffer.from(packVpdq(parseVpdqJson(a.hash))),
      },
      {
        list: 'beta',
        id: 'b-1',
        label: '',
        metadata: '{"k":"v"}',
        frames: Buffer.from(packVpdq(parseVpdqJson(b1.hash))),
      },
    ]);
    // Enabled again, the quarantined video is loaded; lists without videos give none.
    await store.enableEntry('beta', 'b-2');
    expect((await h.packed(names)).videos?.columns.listIndex).toHaveLength(3);
    expect((await h.packed(['gamma', 'delta'])).videos).toBeUndefined();
  });

  test('a damaged vPDQ hash is ERR_STORE naming the list and id, for reads and the load', async (h) => {
    const { store } = h;
    await store.importEntries([clip, md5('a', 'videos')]);
    const good = packVpdq(parseVpdqJson(clip.hash));
    const damages: [string, Uint8Array][] = [
      ['cut short', good.subarray(0, good.length - 3)],
      ['a quality over 100', Uint8Array.from(good, (byte, i) => (i === 32 ? 200 : byte))],
      ['a timestamp that is not finite', Uint8Array.from(good, (byte, i) => (i >= 33 && i < 41 ? 0xff : byte))],
    ];
    for (const [what, bytes] of damages) {
      await h.corrupt('videos', 'clip-1', bytes);
      for (const read of [() => store.entry('videos', 'clip-1'), () => all(store), () => h.packed(['videos'])]) {
        const error = await refusal(read);
        expect(error.code, what).toBe('ERR_STORE');
        expect(error.message, what).toMatch(/"clip-1"/);
        expect(error.message, what).toMatch(/"videos"/);
      }
    }
  });

  test('exports of the stored entries read back to the same entries (csv, ndjson, pytx)', async ({ store }) => {
    await store.importEntries(videos);
    const stored = await all(store);
    for (const format of ['csv', 'ndjson'] as const) {
      expect(parseList(formatList(stored, format), { list: 'x', format }).entries).toEqual(stored);
    }
    expect(formatList(stored, 'pytx')).toContain(`vpdq ${clip.hash}\n`);
  });
}
