/**
 * vPDQ entries in the SQLite store: the rules both stores share (src/testing/vpdq-store.ts), then
 * this store's own: the distinct hashes `export --format pytx` writes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadDriver } from './driver.js';
import { vpdqEntry } from '../testing/vpdq-entries.js';
import { vpdqStoreCases } from '../testing/vpdq-store.js';
import { distinctHashes, HashStore, packedEntries, packedVideos } from './store.js';

let dir: string;
const open: HashStore[] = [];
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-vpdq-store-'));
});
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fresh(): { store: HashStore; path: string } {
  const path = join(dir, `v${n++}.db`);
  const store = HashStore.open(path);
  open.push(store);
  return { store, path };
}

describe('HashStore: vPDQ entries', () => {
  vpdqStoreCases({
    make: async () => {
      const { store, path } = fresh();
      return {
        store,
        dir,
        packed: async (names) =>
          store.read(() => ({ lists: names, packed: packedEntries(store, names), videos: packedVideos(store, names) })),
        corrupt: async (list, id, bytes) => {
          const db = new (loadDriver())(path);
          try {
            db.prepare('UPDATE entries SET hash = ? WHERE list = ? AND id = ?').run(Buffer.from(bytes), list, id);
          } finally {
            db.close();
          }
        },
      };
    },
  });

  it('gives each video of the lists once, with its default id, after the image hashes (export --format pytx)', () => {
    const { store } = fresh();
    const one = vpdqEntry('a', 3, 1, { id: 'x' });
    const two = vpdqEntry('b', 4, 2);
    store.importEntries([
      one,
      { ...one, list: 'b', id: 'y' },
      two,
      { list: 'a', id: 'm', algorithm: 'md5', hash: 'a'.repeat(32) },
    ]);
    const out = store.read(() => [...distinctHashes(store, ['a', 'b'], ['md5', 'vpdq'])]);
    const videos = [
      { id: vpdqEntry('a', 3, 1).id, list: 'a', algorithm: 'vpdq', hash: one.hash },
      { id: two.id, list: 'b', algorithm: 'vpdq', hash: two.hash },
    ].sort((p, q) => (p.id < q.id ? -1 : 1));
    expect(out).toEqual([
      { id: `md5:${'a'.repeat(32)}`, list: 'a', algorithm: 'md5', hash: 'a'.repeat(32) },
      ...videos,
    ]);
  });
});
