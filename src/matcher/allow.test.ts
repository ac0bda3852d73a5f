/**
 * Allow lists: an upload matching an allow entry within that list's own threshold is not blocked
 * by block-list matches of the same algorithm on the same part of it; other algorithms' block
 * matches stand. And evidence-ready results: `exactHashes` when a list holds exact hashes or the
 * call asks.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { hashImage } from '../image/index.js';
import type { AlgorithmName } from '../algorithms/registry.js';
import type { ListEntry } from '../lists/entry.js';
import { writeSnapshot } from '../snapshot/write.js';
import { HashStore } from '../store/store.js';
import { STORE_SCHEMA_VERSION } from '../store/types.js';
import { Matcher } from './matcher.js';
import type { MatcherList } from './types.js';

const vector = (file: string) => fileURLToPath(new URL(`../../test-vectors/images/${file}`, import.meta.url));
const UPLOAD = vector('mosaic-400x300.jpg');

/** `hex` with its first `bits` bits flipped: a hash `bits` away. */
function flip(hex: string, bits: number): string {
  const bytes = Buffer.from(hex, 'hex');
  for (let i = 0; i < bits; i++) bytes[i >> 3] = (bytes[i >> 3] as number) ^ (0x80 >> (i & 7));
  return bytes.toString('hex');
}

let dir: string;
let bytes: Buffer;
let up: { pdq: string; blockhash: string; md5: string; sha1: string; sha256: string };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-allow-'));
  bytes = await readFile(UPLOAD);
  const { hashes } = await hashImage(bytes, { algorithms: ['pdq', 'blockhash', 'md5', 'sha1', 'sha256'] });
  up = hashes as typeof up;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ALLOW: MatcherList = { name: 'fine', action: 'allow' };
const entry = (list: string, id: string, algorithm: AlgorithmName, hash: string): ListEntry => ({
  list,
  id,
  algorithm,
  hash,
});

describe('allow lists: the same algorithm', () => {
  it('moves a block match of the same algorithm to allowed, with the allow match as by', async () => {
    const m = Matcher.fromEntries(
      [entry('shared', 'meme', 'pdq', up.pdq), entry('fine', 'ok', 'pdq', flip(up.pdq, 3))],
      { lists: [ALLOW] },
    );
    const r = await m.matchImage(bytes);
    expect(r.matched).toBe(false);
    expect(r.matches).toEqual([]);
    expect(r.allowed).toMatchObject([
      {
        by: { list: 'fine', entryId: 'ok', distance: 3 },
        overrode: [{ list: 'shared', entryId: 'meme', distance: 0 }],
      },
    ]);
    expect(r.checked).toBe(true);
  });

  it('keeps a block match of another algorithm: an allowed PDQ does not vouch for the file or its blockhash', async () => {
    const m = Matcher.fromEntries(
      [
        entry('shared', 'file', 'md5', up.md5),
        entry('shared', 'bh', 'blockhash', up.blockhash),
        entry('fine', 'ok', 'pdq', up.pdq),
      ],
      { lists: [ALLOW] },
    );
    const r = await m.matchImage(bytes);
    expect(r.matched).toBe(true);
    expect(r.matches.map((x) => x.entryId).sort()).toEqual(['bh', 'file']);
    expect(r.allowed).toMatchObject([{ by: { entryId: 'ok' }, overrode: [] }]);
  });

  it('lets an allowed MD5 override block MD5 entries of that hash, and never a block SHA-256 of the same file', async () => {
    const entries = [
      entry('shared', 'a', 'md5', up.md5),
      entry('other', 'b', 'md5', up.md5),
      entry('fine', 'ok', 'md5', up.md5),
    ];
    const allowed = await Matcher.fromEntries(entries, { lists: [ALLOW] }).matchImage(bytes);
    expect([allowed.matched, allowed.allowed?.[0]?.overrode.map((x) => x.list)]).toEqual([false, ['other', 'shared']]);
    const sha = Matcher.fromEntries([...entries, entry('shared', 'c', 'sha256', up.sha256)], { lists: [ALLOW] });
    const blocked = await sha.matchImage(bytes);
    expect(blocked.matched).toBe(true);
    expect(blocked.matches).toMatchObject([{ entryId: 'c', algorithm: 'sha256' }]);
  });

  it('changes nothing, and adds no field, for a matcher without an allow list', async () => {
    const r = await Matcher.fromEntries([entry('shared', 'meme', 'pdq', up.pdq)]).matchImage(bytes);
    expect(r.matched).toBe(true);
    expect('allowed' in r).toBe(false);
    expect('exactHashes' in r).toBe(false);
  });
});

describe('allow lists: thresholds', () => {
  it("counts an allow match only within the allow list's own threshold, however wide the call's", async () => {
    const entries = [entry('shared', 'meme', 'pdq', up.pdq), entry('fine', 'ok', 'pdq', flip(up.pdq, 12))];
    const narrow = Matcher.fromEntries(entries, { lists: [{ ...ALLOW, thresholds: { pdq: 10 } }] });
    for (const options of [{}, { threshold: 40 }]) {
      const r = await narrow.matchImage(bytes, options);
      expect(r.matched).toBe(true);
      expect(r.matches).toMatchObject([{ entryId: 'meme' }]);
      expect('allowed' in r).toBe(false);
    }
    const wide = Matcher.fromEntries(entries, { lists: [{ ...ALLOW, thresholds: { pdq: 12 } }] });
    expect((await wide.matchImage(bytes)).matched).toBe(false);
    // A call narrower than the allow list's threshold narrows it: fewer overrides, never more.
    expect((await wide.matchImage(bytes, { threshold: 11 })).matched).toBe(true);
  });
});

describe('allow lists with first: true', () => {
  it('goes on past an algorithm whose every block match is allowed, and stops at the next that blocks', async () => {
    const m = Matcher.fromEntries(
      [
        entry('shared', 'file', 'md5', up.md5),
        entry('fine', 'file-ok', 'md5', up.md5),
        entry('shared', 'pic', 'pdq', up.pdq),
      ],
      { lists: [ALLOW] },
    );
    const r = await m.matchImage(bytes, { first: true });
    expect(r.matched).toBe(true);
    expect(r.matches).toMatchObject([{ entryId: 'pic', algorithm: 'pdq' }]);
    expect(r.allowed).toMatchObject([{ by: { entryId: 'file-ok' }, overrode: [{ entryId: 'file' }] }]);
  });

  it('does not stop at a block match an allow entry of its algorithm overrides', async () => {
    const m = Matcher.fromEntries(
      [entry('shared', 'pic', 'pdq', up.pdq), entry('fine', 'ok', 'pdq', flip(up.pdq, 2))],
      { lists: [ALLOW] },
    );
    const r = await m.matchImage(bytes, { first: true });
    expect([r.matched, r.matches, r.allowed?.[0]?.overrode.length]).toEqual([false, [], 1]);
  });
});

describe('allow lists: what a matched part covers', () => {
  /** A two-frame GIF of `frames` (raw RGBA, 200×150 each) and the PDQ of each frame. */
  async function animation(frames: Buffer[]): Promise<{ gif: Buffer; pdq: string[] }> {
    const raw = { width: 200, height: 150 * frames.length, channels: 4 as const, pageHeight: 150 };
    const gif = await sharp(Buffer.concat(frames), { raw })
      .gif({ delay: frames.map(() => 100) })
      .toBuffer();
    const hashed = await hashImage(gif, { algorithms: ['pdq'] });
    return { gif, pdq: (hashed.frames ?? []).map((f) => f.hashes.pdq as string) };
  }
  const frame = (file: string, brighten = 1) =>
    sharp(file).resize(200, 150).linear(brighten, 0).ensureAlpha().raw().toBuffer();
  const off = { dihedral: false, trim: false } as const;

  it('does not let an allowed first frame carry a listed later frame through', async () => {
    const { gif, pdq } = await animation([await frame(UPLOAD), await frame(vector('landscape-1600x1200.jpg'))]);
    const [f0, f1] = pdq as [string, string];
    const m = Matcher.fromEntries([entry('fine', 'ok', 'pdq', f0), entry('shared', 'x', 'pdq', f1)], {
      lists: [ALLOW],
    });
    const r = await m.matchImage(gif, off);
    expect(r.matched).toBe(true);
    expect(r.matches).toMatchObject([{ entryId: 'x', frame: 1 }]);
    expect(r.allowed).toMatchObject([{ by: { entryId: 'ok', frame: 0 }, overrode: [] }]);
  });

  it('keeps blocking an entry reported at an allowed frame when it also matched a frame no allow entry did', async () => {
    // Frame 1 is frame 0 brightened: a few bits away, within the block threshold, not the allow list's 0.
    const { gif, pdq } = await animation([await frame(UPLOAD), await frame(UPLOAD, 1.3)]);
    const [f0, f1] = pdq as [string, string];
    expect(f0).not.toBe(f1);
    const lists = [{ ...ALLOW, thresholds: { pdq: 0 } }];
    const m = Matcher.fromEntries([entry('fine', 'ok', 'pdq', f0), entry('shared', 'y', 'pdq', f0)], { lists });
    const r = await m.matchImage(gif, off);
    // y is reported at its nearest, frame 0, which the allow entry covers; frame 1 it matched too.
    expect(r.matched).toBe(true);
    expect(r.matches).toMatchObject([{ entryId: 'y', frame: 0 }]);
    // The allowed picture alone (the encoder keeps one of two equal frames): y is overridden.
    const twice = await animation([await frame(UPLOAD), await frame(UPLOAD)]);
    const allowed = await m.matchImage(twice.gif, off);
    expect([allowed.matched, allowed.allowed?.[0]?.overrode.map((x) => x.entryId)]).toEqual([false, ['y']]);
  });
});

describe('allow lists in matchHash', () => {
  it('leaves out allow matches and the block matches of that hash they override', () => {
    const m = Matcher.fromEntries(
      [entry('shared', 'meme', 'pdq', up.pdq), entry('fine', 'ok', 'pdq', up.pdq), entry('shared', 'f', 'md5', up.md5)],
      { lists: [ALLOW] },
    );
    expect(m.matchHash({ algorithm: 'pdq', hash: up.pdq })).toEqual([]);
    expect(m.matchHash({ algorithm: 'md5', hash: up.md5 })).toMatchObject([{ entryId: 'f' }]);
    expect(m.matchHashes([{ algorithm: 'pdq', hash: up.pdq }])).toEqual([{ ok: true, matches: [] }]);
  });

  it('refuses an action that is neither block nor allow', () => {
    expect(() =>
      Matcher.fromEntries([entry('a', '1', 'md5', up.md5)], {
        lists: [{ name: 'a', action: 'pass' as 'allow' }],
      }),
    ).toThrow(/Expected one of block, allow for options\.lists\[0\]\.action but received "pass"/);
  });
});

describe('allow lists from a store and a snapshot', () => {
  const fill = (path: string): HashStore => {
    const store = HashStore.open(path);
    store.importEntries([entry('shared', 'meme', 'pdq', up.pdq), entry('fine', 'ok', 'pdq', up.pdq)]);
    return store;
  };

  it('takes the action from the store, and a disabled allow list overrides nothing', async () => {
    const path = join(dir, 'policy.db');
    const store = fill(path);
    expect(store.lists().map((l) => [l.name, l.action])).toEqual([
      ['fine', undefined],
      ['shared', undefined],
    ]);
    expect((await (await Matcher.open(path)).matchImage(bytes)).matches).toHaveLength(2);
    expect(store.setListPolicy('fine', { action: 'allow' }).action).toBe('allow');
    expect((await (await Matcher.open(path)).matchImage(bytes)).matched).toBe(false);
    store.setListPolicy('fine', { enabled: false });
    expect((await (await Matcher.open(path)).matchImage(bytes)).matches).toMatchObject([{ entryId: 'meme' }]);
    store.setListPolicy('fine', { enabled: true, action: 'block' });
    expect(store.lists().find((l) => l.name === 'fine')?.action).toBeUndefined();
    expect(() => store.setListPolicy('fine', { action: 'pass' as 'allow' })).toThrow(RangeError);
    store.close();
  });

  it('keeps the action through a snapshot, and reads an older snapshot without one as block', async () => {
    const entries = [entry('shared', 'meme', 'pdq', up.pdq), entry('fine', 'ok', 'pdq', up.pdq)];
    const path = join(dir, 'allow.snap');
    await writeSnapshot(path, {
      lists: [
        { name: 'fine', version: 2, action: 'allow' },
        { name: 'shared', version: 1 },
      ],
      entries,
    });
    const m = await Matcher.openSnapshot(path);
    expect(m.lists.map((l) => [l.name, l.action])).toEqual([
      ['fine', 'allow'],
      ['shared', undefined],
    ]);
    expect((await m.matchImage(bytes)).allowed).toMatchObject([
      { by: { listVersion: 2 }, overrode: [{ list: 'shared' }] },
    ]);
    const older = join(dir, 'older.snap');
    await writeSnapshot(older, {
      lists: [
        { name: 'fine', version: 2 },
        { name: 'shared', version: 1 },
      ],
      entries,
    });
    expect((await (await Matcher.openSnapshot(older)).matchImage(bytes)).matches).toHaveLength(2);
  });

  it('upgrades a version 3 store to hold actions, its lists block lists; read-only, reads it as it is', async () => {
    // Written by the schema 3 store (test-vectors/README.md): lists demo and other, three entries.
    const path = join(dir, 'v3.db');
    await writeFile(path, await readFile(new URL('../../test-vectors/stores/v3.db', import.meta.url)));
    const readOnly = HashStore.open(path, { readonly: true });
    expect(readOnly.lists().map((l) => l.action)).toEqual([undefined, undefined]);
    readOnly.close();
    expect((await readFile(path)).readUInt32BE(60)).toBe(3);
    const store = HashStore.open(path);
    expect(store.setListPolicy('demo', { action: 'allow' }).action).toBe('allow');
    expect(store.count()).toBe(3);
    store.close();
    expect((await readFile(path)).readUInt32BE(60)).toBe(STORE_SCHEMA_VERSION);
  });

  it('refuses a store whose action is neither block nor allow', () => {
    const path = join(dir, 'crafted.db');
    fill(path).close();
    const raw = new Database(path);
    raw.prepare("UPDATE lists SET action = 'ALLOW' WHERE name = 'fine'").run();
    raw.close();
    const store = HashStore.open(path, { readonly: true });
    try {
      store.lists();
      expect.unreachable('a crafted action was read');
    } catch (error) {
      expect((error as HashwardenError).code).toBe('ERR_STORE');
    } finally {
      store.close();
    }
  });
});

describe('exactHashes', () => {
  const digest = (name: string) => createHash(name).update(bytes).digest('hex');

  it('gives md5, sha1 and sha256 of the upload bytes when the call asks, and not otherwise', async () => {
    const m = Matcher.fromEntries([entry('shared', 'x', 'pdq', flip(up.pdq, 100))]);
    expect((await m.matchImage(bytes, { exact: true })).exactHashes).toEqual({
      md5: digest('md5'),
      sha1: digest('sha1'),
      sha256: digest('sha256'),
    });
    expect('exactHashes' in (await m.matchImage(bytes))).toBe(false);
    await expect(m.matchImage(bytes, { exact: 1 as unknown as boolean })).rejects.toThrow(TypeError);
  });

  it('gives them whenever a list holds exact hashes, matched or not, first or not, from a stream too', async () => {
    const m = Matcher.fromEntries([entry('shared', 'x', 'sha1', 'ab'.repeat(20))]);
    const want = { md5: digest('md5'), sha1: digest('sha1'), sha256: digest('sha256') };
    expect((await m.matchImage(bytes)).exactHashes).toEqual(want);
    expect((await m.matchImage(bytes, { first: true, exact: false })).exactHashes).toEqual(want);
    expect((await m.matchImage(new Blob([bytes]))).exactHashes).toEqual(want);
    // Hashed on a thread: the upload's bytes it is given are a copy, so the rest are hashed from the same bytes.
    const threaded = Matcher.fromEntries([entry('shared', 'x', 'pdq', flip(up.pdq, 100))], { hashThreads: 1 });
    expect((await threaded.matchImage(bytes, { exact: true })).exactHashes).toEqual(want);
  });
});
