/**
 * `export` keeps the mode and owner of the file it replaces unless `--mode` is given (issue 18,
 * finding 3): it once passed 600 whenever `--mode` was absent, so every re-export undid a
 * `chmod 640` and a `chgrp` that let the upload service read the snapshot.
 */
import { chmodSync, chownSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeEntry } from '../lists/entry.js';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';

const root = process.platform !== 'win32' && process.getuid?.() === 0;
let dir: string;
let db: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-export-mode-'));
  db = join(dir, 'store.db');
  const store = HashStore.open(db);
  try {
    store.importEntries([normalizeEntry({ id: 'a', list: 'l', algorithm: 'md5', hash: '1'.repeat(32) })]);
  } finally {
    store.close();
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const owner = (path: string): [number, number, number] => {
  const stats = statSync(path);
  return [stats.uid, stats.gid, stats.mode & 0o777];
};

describe.skipIf(process.platform === 'win32')('export replacing a file', () => {
  for (const target of ['--snapshot', '--out']) {
    const file = (name: string): string => join(dir, `${name}${target === '--out' ? '.csv' : '.snap'}`);

    it(`${target}: keeps the mode of the file it replaces without --mode; --mode wins`, async () => {
      const path = file('mode');
      expect((await cli('export', '--db', db, target, path)).status).toBe(0);
      expect(owner(path)[2]).toBe(0o600);
      chmodSync(path, 0o640);
      expect((await cli('export', '--db', db, target, path)).status).toBe(0);
      expect(owner(path)[2]).toBe(0o640);
      expect((await cli('export', '--db', db, target, path, '--mode', '600')).status).toBe(0);
      expect(owner(path)[2]).toBe(0o600);
    });

    it.skipIf(!root)(
      `${target}: keeps the group (and owner) of the file it replaces (needs root, to chgrp)`,
      async () => {
        const path = file('group');
        expect((await cli('export', '--db', db, target, path)).status).toBe(0);
        const [uid] = owner(path);
        chownSync(path, uid, 4242);
        chmodSync(path, 0o640);
        expect((await cli('export', '--db', db, target, path)).status).toBe(0);
        expect(owner(path)).toEqual([uid, 4242, 0o640]);
        expect((await cli('export', '--db', db, target, path, '--mode', '644')).status).toBe(0);
        expect(owner(path)).toEqual([uid, 4242, 0o644]);
      },
    );
  }
});
