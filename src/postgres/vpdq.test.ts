/**
 * vPDQ entries in the PostgreSQL store, on a real server: the rules both stores share
 * (src/testing/vpdq-store.ts), the load being `readPacked`'s `PackedLists.videos`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import { storeSourceOf } from '../matcher/store-source.js';
import { postgresTitle, runSql, usePostgres } from '../testing/postgres.js';
import { vpdqStoreCases } from '../testing/vpdq-store.js';
import { PgHashStore } from './index.js';

const server = usePostgres({ beforeAll, afterAll });
let dir: string;
let open: PgHashStore[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-pg-vpdq-'));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  open = [];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!server.available)(postgresTitle('PgHashStore: vPDQ entries', server.available), () => {
  vpdqStoreCases({
    running: () => server.running(),
    make: async () => {
      const url = server.url();
      const store = await PgHashStore.connect(url);
      open.push(store);
      return {
        store,
        dir,
        packed: async (names) => {
          const read = await storeSourceOf(store)?.readPacked(names, undefined);
          if (read === undefined) throw new Error('the store gave no lists');
          return { lists: read.lists.map((l) => l.name), packed: read.packed, videos: read.videos };
        },
        corrupt: (list, id, bytes) =>
          runSql(url, 'UPDATE entries SET hash = $1 WHERE list = $2 AND id = $3', [Buffer.from(bytes), list, id]),
      };
    },
  });
});
