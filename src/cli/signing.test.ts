import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSnapshot, snapshotKeyId } from '../index.js';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';

const vectors = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-vectors');
const manifest = JSON.parse(readFileSync(join(vectors, 'manifest.json'), 'utf8')) as {
  images: { file: string; md5: string }[];
};
const listed = manifest.images[0] as { file: string; md5: string };
const upload = join(vectors, 'images', listed.file);

let dir: string;
let db: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-cli-sign-'));
  db = join(dir, 'store.db');
  const store = HashStore.open(db);
  store.importEntries([{ id: 'known', list: 'l', algorithm: 'md5', hash: listed.md5 }]);
  store.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hashwarden keygen, export --sign, match --trust', () => {
  it('signs a snapshot with a new key and matches against it only with that key trusted', async () => {
    const key = join(dir, 'publisher.key');
    const made = await cli('keygen', '--out', key);
    expect(made.status).toBe(0);
    const keyId = snapshotKeyId(readFileSync(`${key}.pub`, 'utf8'));
    expect(made.out).toContain(`key id ${keyId}`);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(snapshotKeyId(readFileSync(key, 'utf8'))).toBe(keyId);

    const snap = join(dir, 'lists.snap');
    const exported = await cli('export', '--db', db, '--snapshot', snap, '--sign', key, '--sequence', '5');
    expect(exported.status).toBe(0);
    expect(exported.out).toContain(`sequence 5, signed by key ${keyId}`);
    expect(await readSnapshot(snap, { trustedKeys: [readFileSync(`${key}.pub`, 'utf8')] })).toMatchObject({
      sequence: 5,
      signature: { keyId, verified: true },
    });

    const matched = await cli('match', upload, '--snapshot', snap, '--trust', `${key}.pub`);
    expect([matched.status, matched.out]).toEqual([1, expect.stringContaining('entry=known')]);

    expect((await cli('keygen', '--out', join(dir, 'other.key'))).status).toBe(0);
    const stranger = await cli('match', upload, '--snapshot', snap, '--trust', join(dir, 'other.key.pub'));
    expect([stranger.status, stranger.err]).toEqual([2, expect.stringContaining('ERR_SNAPSHOT_SIGNATURE')]);
    // Rotation: either key trusted.
    const both = ['--trust', join(dir, 'other.key.pub'), '--trust', `${key}.pub`];
    const rotating = await cli('match', upload, '--snapshot', snap, ...both);
    expect(rotating.status).toBe(1);

    const old = await cli('match', upload, '--snapshot', snap, '--min-sequence', '6');
    expect([old.status, old.err]).toEqual([2, expect.stringContaining('ERR_SNAPSHOT_ROLLBACK')]);
    const store = await cli('match', upload, '--db', db, '--trust', `${key}.pub`);
    expect([store.status, store.err]).toEqual([2, expect.stringContaining('ERR_SNAPSHOT_SIGNATURE')]);
  });

  it('never replaces a key file, and refuses bad arguments as usage errors', async () => {
    const key = join(dir, 'kept.key');
    expect((await cli('keygen', '--out', key)).status).toBe(0);
    const before = readFileSync(key, 'utf8');
    const again = await cli('keygen', '--out', key);
    expect([again.status, again.err]).toEqual([2, expect.stringContaining('ERR_OUTPUT_WRITE')]);
    expect(readFileSync(key, 'utf8')).toBe(before);
    expect((await cli('keygen')).status).toBe(2);
    const snap = join(dir, 'bad.snap');
    for (const args of [
      ['--sequence', '-1'],
      ['--sequence', 'soon'],
      ['--sign', join(dir, 'missing.key')],
      ['--sign', `${key}.pub`],
    ]) {
      const result = await cli('export', '--db', db, '--snapshot', snap, ...args);
      expect([args, result.status]).toEqual([args, 2]);
    }
    const listFile = await cli('export', '--db', db, '--out', join(dir, 'l.csv'), '--sign', key);
    expect([listFile.status, listFile.err]).toEqual([2, expect.stringContaining('are for --snapshot')]);
  });
});
