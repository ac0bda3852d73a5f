import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeEntry } from '../lists/entry.js';
import { writeSnapshot } from '../snapshot/write.js';
import { HashStore } from '../store/index.js';
import { Matcher } from './matcher.js';

const publisher = generateKeyPairSync('ed25519');
const next = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const pem = (key: typeof publisher.publicKey): string => key.export({ type: 'spki', format: 'pem' }) as string;

const md5 = (c: string): string => c.repeat(32);

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-signed-'));
  path = join(dir, 'lists.snap');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Publishes version `version` of list `l` (holding hash `c`) at `path`, with `sequence`; `null`: unsigned. */
function publish(
  version: number,
  sequence: number,
  c: string,
  privateKey: typeof publisher.privateKey | null = publisher.privateKey,
  to = path,
) {
  return writeSnapshot(to, {
    lists: [{ name: 'l', version }],
    entries: [normalizeEntry({ id: `e${version}`, list: 'l', algorithm: 'md5', hash: md5(c) })],
    sequence,
    ...(privateKey === null ? {} : { sign: { privateKey } }),
  });
}

describe('Matcher: signed snapshots and rollback', () => {
  it('opens a snapshot signed by a trusted key, and refuses one unsigned or signed by another key', async () => {
    await publish(1, 10, 'a');
    for (const open of [Matcher.open, Matcher.openSnapshot]) {
      const m = await open(path, { trustedKeys: [pem(publisher.publicKey)] });
      expect(m.matchHash({ algorithm: 'md5', hash: md5('a') })).toMatchObject([{ entryId: 'e1' }]);
      await expect(open(path, { trustedKeys: [stranger.publicKey] })).rejects.toMatchObject({
        code: 'ERR_SNAPSHOT_SIGNATURE',
      });
    }
    await publish(1, 10, 'a', null);
    await expect(Matcher.open(path, { trustedKeys: [publisher.publicKey] })).rejects.toMatchObject({
      code: 'ERR_SNAPSHOT_SIGNATURE',
    });
    // No trusted keys: signed or not, it loads as before.
    expect((await Matcher.open(path)).size).toBe(1);
  });

  it('rotates keys: with both keys trusted, snapshots of either load, and a reload crosses from one to the other', async () => {
    await publish(1, 10, 'a');
    const m = await Matcher.openSnapshot(path, { trustedKeys: [publisher.publicKey, next.publicKey] });
    await publish(2, 11, 'b', next.privateKey);
    expect(await m.reload()).toBe(true);
    expect(m.lists).toEqual([{ name: 'l', version: 2 }]);
    // An instance that trusts the old key alone refuses the new key's snapshots.
    await expect(Matcher.openSnapshot(path, { trustedKeys: [publisher.publicKey] })).rejects.toMatchObject({
      code: 'ERR_SNAPSHOT_SIGNATURE',
    });
  });

  it('refuses on reload a tampered or unsigned snapshot and keeps serving the lists it has', async () => {
    await publish(1, 10, 'a');
    const m = await Matcher.openSnapshot(path, { trustedKeys: [publisher.publicKey] });
    await publish(2, 11, 'b');
    const bytes = new Uint8Array(await readFile(path));
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 1; // in the signature block
    await writeFile(`${path}.new`, bytes);
    await rename(`${path}.new`, path);
    await expect(m.reload()).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_SIGNATURE' });
    await publish(2, 11, 'b', null);
    await expect(m.reload()).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_SIGNATURE' });
    expect(m.lists).toEqual([{ name: 'l', version: 1 }]);
    expect(m.matchHash({ algorithm: 'md5', hash: md5('a') })).toMatchObject([{ entryId: 'e1' }]);
    await publish(2, 11, 'b');
    expect(await m.reload()).toBe(true);
    expect(m.matchHash({ algorithm: 'md5', hash: md5('b') })).toMatchObject([{ entryId: 'e2' }]);
  });

  it('refuses on reload a snapshot older than the one served, keeps serving, and takes it with allowRollback', async () => {
    await publish(2, 20, 'b');
    const m = await Matcher.openSnapshot(path, { trustedKeys: [publisher.publicKey] });
    await publish(1, 10, 'a'); // validly signed, but older: a replay
    await expect(m.reload()).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_ROLLBACK' });
    expect(m.lists).toEqual([{ name: 'l', version: 2 }]);
    expect(m.matchHash({ algorithm: 'md5', hash: md5('b') })).toMatchObject([{ entryId: 'e2' }]);
    expect(m.matchHash({ algorithm: 'md5', hash: md5('a') })).toEqual([]);
    // The same sequence again (a re-export) is not a rollback.
    await publish(3, 20, 'c');
    expect(await m.reload()).toBe(true);

    const rolling = await Matcher.openSnapshot(path, { allowRollback: true });
    await publish(1, 10, 'a');
    expect(await rolling.reload()).toBe(true);
    expect(rolling.lists).toEqual([{ name: 'l', version: 1 }]);
  });

  it('refuses at open a snapshot below minSequence, and never reloads below it even with allowRollback', async () => {
    await publish(1, 10, 'a');
    await expect(Matcher.open(path, { minSequence: 11 })).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_ROLLBACK' });
    const m = await Matcher.open(path, { minSequence: 10, allowRollback: true });
    await publish(0, 9, 'f');
    await expect(m.reload()).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_ROLLBACK' });
    expect(m.lists).toEqual([{ name: 'l', version: 1 }]);
  });

  it('refuses a SQLite store when trusted keys or a minSequence are required: it carries neither', async () => {
    const db = join(dir, 'store.db');
    const store = HashStore.open(db);
    store.importEntries([{ id: 'a', list: 'l', algorithm: 'md5', hash: md5('a') }]);
    store.close();
    await expect(Matcher.open(db, { trustedKeys: [publisher.publicKey] })).rejects.toMatchObject({
      code: 'ERR_SNAPSHOT_SIGNATURE',
    });
    await expect(Matcher.open(db, { minSequence: 1 })).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_ROLLBACK' });
    expect((await Matcher.open(db)).size).toBe(1);
  });

  it('takes the options as arguments: bad keys, sequences and flags are TypeError or RangeError, entries refuse them', () => {
    const entries = [{ list: 'l', algorithm: 'md5', hash: md5('a') }];
    expect(() => Matcher.fromEntries(entries, { trustedKeys: [publisher.publicKey] })).toThrow(TypeError);
    expect(() => Matcher.fromEntries(entries, { minSequence: 1 })).toThrow(TypeError);
    expect(() => Matcher.fromEntries(entries, { trustedKeys: [] })).toThrow(TypeError);
    expect(() => Matcher.fromEntries(entries, { trustedKeys: [generateKeyPairSync('x25519').publicKey] })).toThrow(
      TypeError,
    );
    expect(() => Matcher.fromEntries(entries, { minSequence: -1 })).toThrow(RangeError);
    expect(() => Matcher.fromEntries(entries, { allowRollback: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(Matcher.fromEntries(entries, { allowRollback: true }).size).toBe(1);
  });
});
