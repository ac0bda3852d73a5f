import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { blockhash } from '../algorithms/blockhash.js';
import { formatHex, hammingDistance } from '../algorithms/hex.js';
import { HashwardenError } from '../errors.js';
import { hashImage } from '../image/index.js';
import { Matcher } from './matcher.js';
import { writeSnapshot } from '../snapshot/write.js';
import { HashStore } from '../store/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof HashwardenError ? error.code : `${(error as Error).name}`;
  }
  return undefined;
}

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('Matcher.matchHash', () => {
  it('returns exactly the entries a brute-force scan finds, nearest first, at any threshold', () => {
    fc.assert(
      fc.property(
        fc.array(hex32, { maxLength: 30 }),
        hex32,
        fc.nat(64),
        fc.nat(8),
        (hashes, query, threshold, flips) => {
          const q = hashes[0] === undefined ? query : Uint8Array.from(hashes[0], (b, i) => (i < flips ? b ^ 1 : b));
          const entries = hashes.map((h, i) => ({
            id: `e${i}`,
            list: i % 2 ? 'a' : 'b',
            algorithm: 'blockhash',
            hash: formatHex(h),
          }));
          const matches = Matcher.fromEntries(entries, { allowEmpty: true }).matchHash(
            { algorithm: 'blockhash', hash: q },
            { threshold },
          );
          const expected = entries
            .map((e, i) => ({ id: e.id, list: e.list, d: hammingDistance(hashes[i]!, q) }))
            .filter((e) => e.d <= threshold)
            .sort((x, y) => x.d - y.d || x.list.localeCompare(y.list) || x.id.localeCompare(y.id));
          expect(matches.map((m) => [m.entryId, m.distance])).toEqual(expected.map((e) => [e.id, e.d]));
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it('returns the same matches with the multi-index tier forced as with the scan', () => {
    fc.assert(
      fc.property(
        fc.array(hex32, { minLength: 1, maxLength: 60 }),
        fc.nat(64),
        fc.nat(255),
        (hashes, threshold, flips) => {
          const entries = hashes.map((h, i) => ({
            id: `e${i}`,
            list: 'a',
            algorithm: 'blockhash',
            hash: formatHex(h),
          }));
          const mih = Matcher.fromEntries(entries, { search: { tier: 'mih', substringBits: 8 } });
          const linear = Matcher.fromEntries(entries, { search: { tier: 'linear' } });
          expect(mih.describe()).toEqual([
            { algorithm: 'blockhash', count: hashes.length, tier: 'mih', substringBits: Array(32).fill(8) },
          ]);
          expect(linear.describe()).toEqual([{ algorithm: 'blockhash', count: hashes.length, tier: 'linear' }]);
          const q = Uint8Array.from(hashes[0]!, (b, i) => (i * 8 < flips ? b ^ 0x11 : b));
          expect(mih.matchHash({ algorithm: 'blockhash', hash: q }, { threshold })).toEqual(
            linear.matchHash({ algorithm: 'blockhash', hash: q }, { threshold }),
          );
        },
      ),
      { seed: 11, numRuns: 200 },
    );
  });

  it('rejects bad search options with the option named', () => {
    expect(() => Matcher.fromEntries([], { search: { substringBits: 30 } })).toThrow(
      'Expected integer between 8 and 24 for search.substringBits but received 30 of type number',
    );
    expect(() => Matcher.fromEntries([], { search: { tier: 'fastest' as 'mih' } })).toThrow(RangeError);
    expect(() => Matcher.fromEntries([], { search: 'mih' as never })).toThrow(TypeError);
  });

  it('matches exact hashes by equality only, in every list that holds them', () => {
    const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
    const m = Matcher.fromEntries([
      { list: 'ncmec', algorithm: 'md5', hash: md5.toUpperCase(), label: 'csam' },
      { list: 'internal', algorithm: 'md5', hash: md5 },
      { list: 'internal', algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427f' },
    ]);
    const found = m.matchHash({ algorithm: 'md5', hash: md5 });
    expect(found.map((f) => [f.list, f.distance, f.label])).toEqual([
      ['internal', 0, undefined],
      ['ncmec', 0, 'csam'],
    ]);
    expect(m.matchHash({ algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf84270' })).toEqual([]);
  });

  it('uses the default threshold, a matcher-wide one, or a per-call one', () => {
    const base = new Uint8Array(32);
    const near = Uint8Array.from(base, (_, i) => (i < 2 ? 0xff : 0)); // 16 bits away
    const entries = [{ list: 'l', algorithm: 'blockhash', hash: base }];
    expect(Matcher.fromEntries(entries).matchHash({ algorithm: 'blockhash', hash: near })).toEqual([]);
    expect(
      Matcher.fromEntries(entries, { thresholds: { blockhash: 16 } }).matchHash({ algorithm: 'blockhash', hash: near }),
    ).toHaveLength(1);
    expect(Matcher.fromEntries(entries).matchHash({ algorithm: 'blockhash', hash: near }, { threshold: 15 })).toEqual(
      [],
    );
    expect(
      Matcher.fromEntries(entries).matchHash({ algorithm: 'blockhash', hash: near }, { threshold: 16 })[0]?.distance,
    ).toBe(16);
  });

  it('rejects threshold above 64 and bad queries', () => {
    const m = Matcher.fromEntries([{ list: 'l', algorithm: 'blockhash', hash: new Uint8Array(32) }]);
    expect(() => m.matchHash({ algorithm: 'blockhash', hash: new Uint8Array(32) }, { threshold: 70 })).toThrow(
      'Expected integer between 0 and 64 for threshold but received 70 of type number',
    );
    expect(codeOf(() => m.matchHash({ algorithm: 'blockhash', hash: 'abc' }))).toBe('ERR_HASH_FORMAT');
    expect(codeOf(() => m.matchHash({ algorithm: 'blockhash', hash: new Uint8Array(8) }))).toBe('ERR_HASH_FORMAT');
    expect(codeOf(() => m.matchHash({ algorithm: 'photodna', hash: 'ab' }))).toBe('ERR_UNKNOWN_ALGORITHM');
    expect(() => Matcher.fromEntries([], { thresholds: { md5: 3 } })).toThrow(RangeError);
  });

  it('refuses a bad entry with the error of its field', () => {
    expect(codeOf(() => Matcher.fromEntries([{ list: 'l', algorithm: 'md5', hash: 'xyz' }]))).toBe('ERR_HASH_FORMAT');
    expect(codeOf(() => Matcher.fromEntries([{ list: '', algorithm: 'md5', hash: 'xyz' }]))).toBe('ERR_LIST_FORMAT');
  });
});

describe('Matcher.matchImage', () => {
  /** A textured test vector (PDQ quality 100, blockhash well above the detail guard), as PNG. */
  const textured = (): Promise<Buffer> =>
    sharp(fileURLToPath(new URL('../../test-vectors/images/mosaic-400x300.jpg', import.meta.url)))
      .png()
      .toBuffer();

  async function gradient(width: number, height: number, flip = false): Promise<Buffer> {
    const data = Buffer.alloc(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      const x = i % width;
      const y = Math.floor(i / width);
      const v = flip ? width - x : x;
      data.set([(v * 255) / width, (y * 255) / height, ((x * y) % 97) + 80], i * 3);
    }
    return sharp(data, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
  }

  it('matches an image, a resized re-encoded copy by blockhash only, and not an unrelated image', async () => {
    const original = await textured();
    const { hashes } = await hashImage(original, { algorithms: ['blockhash', 'md5'] });
    const matcher = Matcher.fromEntries([
      { id: 'k1', list: 'known', algorithm: 'blockhash', hash: hashes.blockhash!, label: 'test' },
      { id: 'k1-md5', list: 'known', algorithm: 'md5', hash: hashes.md5! },
    ]);
    const same = await matcher.matchImage(original);
    expect(same.matched).toBe(true);
    expect(same.matches.map((m) => [m.entryId, m.algorithm, m.distance])).toEqual([
      ['k1', 'blockhash', 0],
      ['k1-md5', 'md5', 0],
    ]);

    const copy = await sharp(original).resize(200).jpeg({ quality: 70 }).toBuffer();
    const edited = await matcher.matchImage(copy);
    expect(edited.matches.map((m) => m.algorithm)).toEqual(['blockhash']);
    expect(edited.hashes.md5).not.toBe(hashes.md5);

    // Unrelated: soft noise, nothing like the gradient in any orientation (a mirrored gradient
    // would match now that matchImage tries the 8 rotations and flips: see below).
    const noise = await sharp(
      Buffer.from(Array.from({ length: 400 * 300 * 3 }, (_, i) => ((i * 2654435761) >>> 24) & 0xff)),
      { raw: { width: 400, height: 300, channels: 3 } },
    )
      .blur(4)
      .png()
      .toBuffer();
    const other = await matcher.matchImage(noise);
    expect(other.matched).toBe(false);
    expect(
      hammingDistance(blockhash.parse(other.hashes.blockhash!), blockhash.parse(hashes.blockhash!)),
    ).toBeGreaterThan(matcher.threshold('blockhash'));
  });

  it('hashes only the algorithms its lists hold', async () => {
    const matcher = Matcher.fromEntries([{ list: 'l', algorithm: 'sha256', hash: '0'.repeat(64) }]);
    const result = await matcher.matchImage(await gradient(32, 32));
    expect(Object.keys(result.hashes)).toEqual(['sha256']);
  });

  it('matches by PDQ, and refuses a PDQ hash below quality 50 instead of matching every flat image', async () => {
    const textured = await sharp(
      Buffer.from(Array.from({ length: 300 * 200 * 3 }, (_, i) => ((i * 2654435761) >>> 24) & 0xff)),
      { raw: { width: 300, height: 200, channels: 3 } },
    )
      .png()
      .toBuffer();
    const flat = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#777777' } })
      .png()
      .toBuffer();
    const otherFlat = await sharp({ create: { width: 120, height: 90, channels: 3, background: '#202020' } })
      .png()
      .toBuffer();
    const known = await hashImage(textured, { algorithms: ['pdq'] });
    const blank = await hashImage(flat, { algorithms: ['pdq'] });
    expect(known.quality.pdq).toBeGreaterThanOrEqual(50);
    expect(blank).toMatchObject({ quality: { pdq: 0 }, unusable: { pdq: 'PDQ quality 0 is below 50' } });
    const matcher = Matcher.fromEntries([
      { list: 'l', id: 'textured', algorithm: 'pdq', hash: known.hashes.pdq as string },
      { list: 'l', id: 'flat', algorithm: 'pdq', hash: blank.hashes.pdq as string },
    ]);
    const hit = await matcher.matchImage(textured);
    expect(hit.matches.map((m) => [m.entryId, m.distance])).toEqual([['textured', 0]]);
    expect(hit.unusable).toEqual({});
    // The upload as it is and its 7 turns and flips were looked up.
    expect(hit.searched).toBe(8);
    // A flat image's coefficients are rounding noise, so its bits say nothing about the image: the
    // gate keeps even the very same flat image from matching its listed hash, and says why, so the
    // caller can tell "not checked by PDQ" from "clean". (A hash queried directly is not gated.)
    const refused = await matcher.matchImage(flat);
    expect(
      matcher.matchHash({ algorithm: 'pdq', hash: refused.hashes.pdq as string }).map((m) => [m.entryId, m.distance]),
    ).toEqual([['flat', 0]]);
    expect(refused).toMatchObject({
      matched: false,
      matches: [],
      unusable: { pdq: 'PDQ quality 0 is below 50' },
      searched: 0,
    });
    expect((await matcher.matchImage(otherFlat)).unusable).toEqual({ pdq: 'PDQ quality 0 is below 50' });
  });

  it('matches a mirrored or turned upload by default (dihedral), naming the transform, and not with dihedral off', async () => {
    const original = await textured();
    const { hashes } = await hashImage(original, { algorithms: ['blockhash'] });
    const matcher = Matcher.fromEntries([
      { list: 'l', id: 'known', algorithm: 'blockhash', hash: hashes.blockhash as string },
    ]);
    const mirrored = await sharp(original).flop().png().toBuffer();
    const turned = await sharp(original).rotate(270).png().toBuffer();
    const same = await matcher.matchImage(original);
    expect(same.matches.map((m) => [m.entryId, m.distance, m.transform])).toEqual([['known', 0, 'original']]);
    expect((await matcher.matchImage(mirrored)).matches.map((m) => [m.entryId, m.transform])).toEqual([
      ['known', 'flipY'],
    ]);
    // sharp's rotate(270) is a quarter turn counter-clockwise: undone by the reference's rot270.
    expect((await matcher.matchImage(turned)).matches.map((m) => [m.entryId, m.transform])).toEqual([
      ['known', 'rot270'],
    ]);
    expect(await matcher.matchImage(mirrored, { dihedral: false })).toMatchObject({ matched: false, matches: [] });
    await expect(matcher.matchImage(mirrored, { dihedral: 'yes' as unknown as boolean })).rejects.toThrow(TypeError);
  });

  it('matches an upload with black bars added by what lies inside them (trim, on by default), and not with trim off', async () => {
    const original = await textured();
    const { hashes } = await hashImage(original, { algorithms: ['pdq', 'blockhash'] });
    const matcher = Matcher.fromEntries([
      { list: 'l', id: 'pdq', algorithm: 'pdq', hash: hashes.pdq as string },
      { list: 'l', id: 'blockhash', algorithm: 'blockhash', hash: hashes.blockhash as string },
    ]);
    const letterboxed = await sharp(original)
      .extend({ top: 40, bottom: 40, left: 0, right: 0, background: '#000' })
      .jpeg({ quality: 85 })
      .toBuffer();
    const hit = await matcher.matchImage(letterboxed);
    expect(hit.matches.map((m) => [m.entryId, m.trimmed]).sort()).toEqual([
      ['blockhash', true],
      ['pdq', true],
    ]);
    expect(hit.matches.every((m) => m.transform === 'original')).toBe(true);
    expect(await matcher.matchImage(letterboxed, { trim: false })).toMatchObject({ matched: false, matches: [] });
    // The upload as it is wins over its trimmed part when both match: no `trimmed` on a plain copy.
    expect((await matcher.matchImage(original)).matches.map((m) => [m.entryId, m.distance, m.trimmed])).toEqual([
      ['blockhash', 0, undefined],
      ['pdq', 0, undefined],
    ]);
    await expect(matcher.matchImage(letterboxed, { trim: 1 as unknown as boolean })).rejects.toThrow(TypeError);
  });

  it('rejects an undecodable upload with a typed error instead of reporting it clean', async () => {
    const matcher = Matcher.fromEntries([{ list: 'l', algorithm: 'blockhash', hash: new Uint8Array(32) }]);
    await expect(matcher.matchImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).rejects.toMatchObject({
      code: 'ERR_UNSUPPORTED_FORMAT',
    });
  });
});

describe('Matcher.open', () => {
  it('matches against every list of a SQLite store, or only the named ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-open-'));
    try {
      const db = join(dir, 'store.db');
      const store = HashStore.open(db);
      const hash = 'ab'.repeat(16);
      store.importEntries([
        { id: 'a', list: 'one', algorithm: 'md5', hash },
        { id: 'b', list: 'two', algorithm: 'md5', hash, label: 'review' },
      ]);
      store.close();
      const all = await Matcher.open(db);
      expect(all.size).toBe(2);
      expect(all.matchHash({ algorithm: 'md5', hash }).map((m) => [m.list, m.entryId, m.label])).toEqual([
        ['one', 'a', undefined],
        ['two', 'b', 'review'],
      ]);
      const two = await Matcher.open(db, { lists: ['two'] });
      expect(two.matchHash({ algorithm: 'md5', hash }).map((m) => m.list)).toEqual(['two']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a missing store with ERR_STORE instead of creating one', async () => {
    await expect(Matcher.open('/nonexistent/dir/store.db')).rejects.toMatchObject({ code: 'ERR_STORE' });
  });
});

describe('Matcher.matchHashes', () => {
  it('answers each query in order, reporting a bad one in its own slot', () => {
    const hash = 'ab'.repeat(16);
    const m = Matcher.fromEntries([{ id: 'a', list: 'l', algorithm: 'md5', hash }]);
    const results = m.matchHashes([
      { algorithm: 'md5', hash },
      { algorithm: 'md5', hash: 'zz' },
      { algorithm: 'md5', hash: 'cd'.repeat(16) },
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[0]).toMatchObject({ ok: true, matches: [{ entryId: 'a' }] });
    expect(results[1]).toMatchObject({ ok: false, error: { code: 'ERR_HASH_FORMAT' } });
    expect(results[2]).toEqual({ ok: true, matches: [] });
  });

  it('gives the same matches as matchHash one by one', () => {
    const entries = Array.from({ length: 200 }, (_, i) => ({
      id: `e${i}`,
      list: 'l',
      algorithm: 'blockhash',
      hash: Uint8Array.from({ length: 32 }, (_, j) => (i * 31 + j * 7) & (j % 3 ? 0xff : 0x0f)),
    }));
    const m = Matcher.fromEntries(entries);
    const queries = entries.slice(0, 20).map((e) => ({ algorithm: 'blockhash', hash: e.hash }));
    expect(m.matchHashes(queries, { threshold: 40 }).map((r) => (r.ok ? r.matches : r.error))).toEqual(
      queries.map((q) => m.matchHash(q, { threshold: 40 })),
    );
  });

  it('rejects a bad shared threshold for the whole call', () => {
    const m = Matcher.fromEntries([], { allowEmpty: true });
    expect(() => m.matchHashes([], { threshold: -1 })).toThrow(RangeError);
  });
});

describe('Matcher: list policy', () => {
  /** A 256-bit hash with the first `n` bits flipped from all zeros. */
  const flipped = (n: number): Uint8Array =>
    Uint8Array.from({ length: 32 }, (_, i) => (i < n >> 3 ? 0xff : i === n >> 3 ? (0xff00 >> (n & 7)) & 0xff : 0));
  const zero = new Uint8Array(32);

  it("applies each list's own threshold, and names the list's label and version in its matches", () => {
    const entries = [
      { id: 'strict', list: 'ncmec', algorithm: 'pdq', hash: flipped(20) },
      { id: 'loose', list: 'internal', algorithm: 'pdq', hash: flipped(36) },
      { id: 'plain', list: 'vendor', algorithm: 'pdq', hash: flipped(30) },
    ];
    const m = Matcher.fromEntries(entries, {
      lists: [
        { name: 'ncmec', version: 3, thresholds: { pdq: 16 }, label: 'block-and-report' },
        { name: 'internal', thresholds: { pdq: 40 }, label: 'review' },
      ],
    });
    // ncmec at 16 leaves out its entry at 20; internal at 40 keeps its one at 36; vendor has the default 31.
    expect(
      m.matchHash({ algorithm: 'pdq', hash: zero }).map((x) => [x.entryId, x.distance, x.listLabel, x.listVersion]),
    ).toEqual([
      ['plain', 30, undefined, undefined],
      ['loose', 36, 'review', undefined],
    ]);
    // A threshold given with the call applies to every list.
    expect(
      m
        .matchHash({ algorithm: 'pdq', hash: zero }, { threshold: 24 })
        .map((x) => [x.entryId, x.listLabel, x.listVersion]),
    ).toEqual([['strict', 'block-and-report', 3]]);
    expect(m.lists.map((l) => l.name)).toEqual(['ncmec', 'internal']);
  });

  it('refuses lists with a repeated name or a threshold out of range', () => {
    expect(() => Matcher.fromEntries([], { lists: [{ name: 'a' }, { name: 'a' }] })).toThrow(RangeError);
    expect(() => Matcher.fromEntries([], { lists: [{ name: 'a', thresholds: { pdq: 65 } }] })).toThrow(
      'Expected integer between 0 and 64 for options.lists[0].thresholds.pdq but received 65 of type number',
    );
    expect(
      codeOf(() => Matcher.fromEntries([], { lists: [{ name: 'a', thresholds: { photodna: 1 } as never }] })),
    ).toBe('ERR_UNKNOWN_ALGORITHM');
  });
});

describe('Matcher: stores, snapshots, reload and first match', () => {
  async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-policy-'));
    try {
      await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const md5 = (c: string) => c.repeat(32);

  it("loads a store's enabled lists with their policy, a disabled one only when named, and refuses an unknown name", async () => {
    await withDir(async (dir) => {
      const db = join(dir, 'store.db');
      const store = HashStore.open(db);
      store.importEntries([
        { id: 'a', list: 'on', algorithm: 'md5', hash: md5('a') },
        { id: 'b', list: 'off', algorithm: 'md5', hash: md5('b') },
      ]);
      store.setListPolicy('on', { label: 'block-and-report', thresholds: { pdq: 20 } });
      store.setListPolicy('off', { enabled: false });
      store.close();
      const m = await Matcher.open(db);
      expect(m.lists).toEqual([{ name: 'on', version: 1, thresholds: { pdq: 20 }, label: 'block-and-report' }]);
      expect(m.matchHash({ algorithm: 'md5', hash: md5('a') })).toMatchObject([
        { entryId: 'a', listLabel: 'block-and-report', listVersion: 1 },
      ]);
      expect(m.matchHash({ algorithm: 'md5', hash: md5('b') })).toEqual([]);
      expect(
        (await Matcher.open(db, { lists: ['off'] })).matchHash({ algorithm: 'md5', hash: md5('b') }),
      ).toMatchObject([{ entryId: 'b' }]);
      await expect(Matcher.open(db, { lists: ['nope'] })).rejects.toMatchObject({
        code: 'ERR_STORE',
        message: expect.stringContaining('no list named "nope"'),
      });
    });
  });

  it('reloads a store only when a list changed, and keeps serving the previous lists until then', async () => {
    await withDir(async (dir) => {
      const db = join(dir, 'store.db');
      const store = HashStore.open(db);
      store.importEntries([{ id: 'a', list: 'l', algorithm: 'md5', hash: md5('a') }]);
      const m = await Matcher.open(db);
      expect(await m.reload()).toBe(false);
      await store.importRows([
        {
          rows: [
            { op: 'remove', list: 'l', id: 'a' },
            { op: 'add', entry: { id: 'b', list: 'l', algorithm: 'md5', hash: md5('b') } },
          ],
        },
      ]);
      expect(m.matchHash({ algorithm: 'md5', hash: md5('a') })).toHaveLength(1);
      const [first, second] = await Promise.all([m.reload(), m.reload()]);
      expect([first, second]).toEqual([true, true]);
      expect(m.matchHash({ algorithm: 'md5', hash: md5('a') })).toEqual([]);
      expect(m.matchHash({ algorithm: 'md5', hash: md5('b') })).toMatchObject([{ entryId: 'b', listVersion: 2 }]);
      store.setListPolicy('l', { label: 'review' });
      expect(await m.reload()).toBe(true);
      expect(m.matchHash({ algorithm: 'md5', hash: md5('b') })[0]?.listLabel).toBe('review');
      store.close();
      await rm(db);
      await expect(m.reload()).rejects.toMatchObject({ code: 'ERR_STORE' });
      expect(m.matchHash({ algorithm: 'md5', hash: md5('b') })).toHaveLength(1);
      await expect(Matcher.fromEntries([], { allowEmpty: true }).reload()).rejects.toThrow(TypeError);
    });
  });

  it("carries each list's policy in a snapshot, and reloads a snapshot when the file is replaced", async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'lists.snap');
      const entry = (id: string, c: string) => ({ id, list: 'l', algorithm: 'md5' as const, hash: md5(c) });
      await writeSnapshot(path, {
        lists: [{ name: 'l', version: 4, thresholds: { pdq: 12 }, label: 'review' }],
        entries: [entry('a', 'a')],
      });
      const m = await Matcher.open(path);
      expect(m.lists).toEqual([{ name: 'l', version: 4, thresholds: { pdq: 12 }, label: 'review' }]);
      expect(await m.reload()).toBe(false);
      await writeSnapshot(path, { lists: [{ name: 'l', version: 5 }], entries: [entry('b', 'b')] });
      expect(await m.reload()).toBe(true);
      expect(m.matchHash({ algorithm: 'md5', hash: md5('b') })).toMatchObject([{ entryId: 'b', listVersion: 5 }]);
      await expect(
        writeSnapshot(path, { lists: [{ name: 'l', version: 6, thresholds: { pdq: 99 } }], entries: [] }),
      ).rejects.toThrow(RangeError);
    });
  });

  it("stops at the first match: a listed file's MD5 answers without decoding the image", async () => {
    const png = await sharp(fileURLToPath(new URL('../../test-vectors/images/mosaic-400x300.jpg', import.meta.url)))
      .png()
      .toBuffer();
    const { createHash } = await import('node:crypto');
    const digest = createHash('md5').update(png).digest('hex');
    const { hashes } = await hashImage(png, { algorithms: ['blockhash'] });
    const m = Matcher.fromEntries([
      { id: 'file', list: 'l', algorithm: 'md5', hash: digest },
      { id: 'picture', list: 'l', algorithm: 'blockhash', hash: hashes.blockhash as string },
    ]);
    const all = await m.matchImage(png);
    expect(all.matches.map((x) => x.entryId).sort()).toEqual(['file', 'picture']);
    const first = await m.matchImage(png, { first: true });
    expect(first.matches.map((x) => x.entryId)).toEqual(['file']);
    // Only the exact hash was computed: the image was not decoded.
    expect(Object.keys(first.hashes)).toEqual(['md5']);
    expect(first.image).toMatchObject({ format: 'png', bytes: png.length });
  });
});

describe('Matcher.matchImages', () => {
  const vector = (file: string) => fileURLToPath(new URL(`../../test-vectors/images/${file}`, import.meta.url));
  const hostile = (file: string) => fileURLToPath(new URL(`../../test-vectors/hostile/${file}`, import.meta.url));

  async function listing(): Promise<Matcher> {
    const { hashes } = await hashImage(vector('mosaic-400x300.jpg'), { algorithms: ['blockhash', 'pdq', 'md5'] });
    return Matcher.fromEntries([
      { id: 'b', list: 'l', algorithm: 'blockhash', hash: hashes.blockhash as string },
      { id: 'p', list: 'l', algorithm: 'pdq', hash: hashes.pdq as string },
      { id: 'm', list: 'l', algorithm: 'md5', hash: hashes.md5 as string },
    ]);
  }

  it('answers each image in input order, as matchImage does, with an upload that cannot be checked in its own slot', async () => {
    const m = await listing();
    const inputs = [
      vector('mosaic-400x300.jpg'),
      hostile('jpeg-cut-mid-scan.jpg'),
      readFileSync(vector('blobs-640x480.jpg')),
      hostile('animated-listed-frame-2.gif'),
      join(tmpdir(), 'hashwarden-missing.png'),
    ];
    // Errors compared by code: libvips words a message after whatever else failed at the time.
    const summary = (r: { ok: true; value: unknown } | { ok: false; error: unknown }) =>
      r.ok ? r : { ok: false, code: (r.error as HashwardenError).code };
    const expected = await Promise.all(
      inputs.map((input) =>
        m.matchImage(input).then(
          (value) => ({ ok: true as const, value }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      ),
    );
    for (const concurrency of [1, 3, 64]) {
      const results = await m.matchImages(inputs, { concurrency });
      expect(results.map(summary), `concurrency ${concurrency}`).toEqual(expected.map(summary));
    }
    const results = await m.matchImages(inputs);
    expect(
      results.map((r) =>
        r.ok
          ? r.value.matches.map((x) => `${x.entryId}${x.frame === undefined ? '' : `@${x.frame}`}`)
          : (r.error as HashwardenError).code,
      ),
    ).toEqual([['b', 'm', 'p'], 'ERR_IMAGE_DECODE', [], ['b@2', 'p@2'], 'ERR_INPUT_READ']);
  });

  it("applies matchImage's options to every image, first match included, and accepts any iterable", async () => {
    const m = await listing();
    function* inputs() {
      yield hostile('animated-listed-frame-2.webp');
      yield vector('mosaic-400x300.jpg');
    }
    const results = await m.matchImages(inputs(), { first: true, algorithms: ['blockhash', 'pdq'] });
    expect(results.map((r) => (r.ok ? r.value.matches.map((x) => [x.entryId, x.frame]) : r.error))).toEqual([
      [['b', 2]],
      [['b', undefined]],
    ]);
    expect(await m.matchImages([])).toEqual([]);
  });

  it('checks its options once for the whole call, concurrency in the standard message shape', async () => {
    const m = await listing();
    await expect(m.matchImages([vector('mosaic-400x300.jpg')], { concurrency: 0 })).rejects.toThrow(
      new RangeError('Expected integer between 1 and 1024 for concurrency but received 0 of type number'),
    );
    await expect(m.matchImages([], { concurrency: 1025 })).rejects.toThrow(RangeError);
    await expect(m.matchImages([], { concurrency: 2.5 })).rejects.toThrow(TypeError);
    await expect(m.matchImages([], { concurrency: '4' as unknown as number })).rejects.toThrow(
      new TypeError('Expected integer between 1 and 1024 for concurrency but received "4" of type string'),
    );
    await expect(m.matchImages([vector('mosaic-400x300.jpg')], { thresholds: { pdq: 300 } })).rejects.toThrow(
      RangeError,
    );
    // One image passed where a list was expected: a Buffer and a path are iterable too.
    await expect(m.matchImages(readFileSync(vector('mosaic-400x300.jpg')) as unknown as string[])).rejects.toThrow(
      TypeError,
    );
    await expect(m.matchImages(vector('mosaic-400x300.jpg') as unknown as string[])).rejects.toThrow(TypeError);
  });
});

describe('Matcher: one threshold option for every call', () => {
  /** `hash` with its first `n` bits flipped. */
  const flip = (hash: Uint8Array, n: number): Uint8Array =>
    hash.map((b, i) => (i < n >> 3 ? b ^ 0xff : i === n >> 3 ? b ^ ((0xff00 >> (n & 7)) & 0xff) : b));

  it('takes one number for every perceptual algorithm, or a threshold per algorithm, in matchHash and matchHashes', () => {
    const zero = new Uint8Array(32);
    const m = Matcher.fromEntries([
      { id: 'b', list: 'l', algorithm: 'blockhash', hash: flip(zero, 12) },
      { id: 'p', list: 'l', algorithm: 'pdq', hash: flip(zero, 20) },
      { id: 'm', list: 'l', algorithm: 'md5', hash: '0'.repeat(32) },
    ]);
    const ids = (threshold: number | { blockhash?: number; pdq?: number }) =>
      ['blockhash', 'pdq'].flatMap((algorithm) =>
        m.matchHash({ algorithm, hash: zero }, { threshold }).map((x) => x.entryId),
      );
    expect(ids(11)).toEqual([]);
    expect(ids(12)).toEqual(['b']);
    expect(ids(20)).toEqual(['b', 'p']);
    expect(ids({ pdq: 20 })).toEqual(['p']);
    expect(ids({ blockhash: 12, pdq: 19 })).toEqual(['b']);
    // Exact hashes match by equality whatever number the call gives.
    expect(m.matchHash({ algorithm: 'md5', hash: '0'.repeat(32) }, { threshold: 20 })).toMatchObject([
      { entryId: 'm', distance: 0 },
    ]);
    expect(m.matchHashes([{ algorithm: 'pdq', hash: zero }], { threshold: { pdq: 20 } })).toMatchObject([
      { ok: true, matches: [{ entryId: 'p' }] },
    ]);
    expect(() => m.matchHash({ algorithm: 'pdq', hash: zero }, { threshold: { pdq: 65 } })).toThrow(RangeError);
    expect(() => m.matchHash({ algorithm: 'pdq', hash: zero }, { threshold: '8' as never })).toThrow(TypeError);
    expect(codeOf(() => m.matchHash({ algorithm: 'pdq', hash: zero }, { threshold: { photodna: 1 } as never }))).toBe(
      'ERR_UNKNOWN_ALGORITHM',
    );
  });

  it('takes the same option in matchImage, keeps the deprecated thresholds working, and refuses both at once', async () => {
    const upload = fileURLToPath(new URL('../../test-vectors/images/mosaic-400x300.jpg', import.meta.url));
    const { hashes } = await hashImage(upload, { algorithms: ['blockhash'] });
    const m = Matcher.fromEntries([
      { id: 'near', list: 'l', algorithm: 'blockhash', hash: flip(blockhash.parse(hashes.blockhash as string), 12) },
    ]);
    const plain = { dihedral: false, trim: false };
    const matched = async (options: object) => (await m.matchImage(upload, { ...plain, ...options })).matched;
    expect(await matched({ threshold: 11 })).toBe(false);
    expect(await matched({ threshold: 12 })).toBe(true);
    expect(await matched({ threshold: { blockhash: 12 } })).toBe(true);
    expect(await matched({ thresholds: { blockhash: 11 } })).toBe(false);
    expect(await matched({ thresholds: { blockhash: 12 } })).toBe(true);
    await expect(m.matchImage(upload, { threshold: 12, thresholds: { blockhash: 12 } })).rejects.toThrow(TypeError);
    await expect(m.matchImages([upload], { threshold: 65 })).rejects.toThrow(RangeError);
  });
});

describe('Matcher: a source with nothing to match fails closed', () => {
  async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-empty-'));
    try {
      await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const entry = { id: 'a', list: 'l', algorithm: 'md5' as const, hash: 'a'.repeat(32) };

  it('refuses fromEntries with no entry, unless allowEmpty', () => {
    expect(codeOf(() => Matcher.fromEntries([]))).toBe('ERR_NO_ENTRIES');
    expect(codeOf(() => Matcher.fromEntries([], { lists: [{ name: 'l' }] }))).toBe('ERR_NO_ENTRIES');
    expect(Matcher.fromEntries([], { allowEmpty: true }).size).toBe(0);
    expect(() => Matcher.fromEntries([entry], { allowEmpty: 'yes' as never })).toThrow(TypeError);
  });

  it('refuses a store whose lists are all disabled or empty, and a snapshot of nothing, unless allowEmpty', async () => {
    await withDir(async (dir) => {
      const db = join(dir, 'store.db');
      const store = HashStore.open(db);
      store.importEntries([entry]);
      store.setListPolicy('l', { enabled: false });
      store.close();
      await expect(Matcher.open(db)).rejects.toMatchObject({ code: 'ERR_NO_ENTRIES' });
      expect((await Matcher.open(db, { allowEmpty: true })).size).toBe(0);
      const snap = join(dir, 'empty.snap');
      await writeSnapshot(snap, { lists: [{ name: 'l', version: 1 }], entries: [] });
      await expect(Matcher.open(snap)).rejects.toMatchObject({ code: 'ERR_NO_ENTRIES' });
      await expect(Matcher.openSnapshot(snap)).rejects.toMatchObject({ code: 'ERR_NO_ENTRIES' });
      expect((await Matcher.openSnapshot(snap, { allowEmpty: true })).size).toBe(0);
    });
  });

  it('rejects a reload to an empty source and keeps serving the previous lists', async () => {
    await withDir(async (dir) => {
      const db = join(dir, 'store.db');
      const store = HashStore.open(db);
      store.importEntries([entry]);
      const fromStore = await Matcher.open(db);
      store.setListPolicy('l', { enabled: false });
      await expect(fromStore.reload()).rejects.toMatchObject({ code: 'ERR_NO_ENTRIES' });
      expect(fromStore.matchHash({ algorithm: 'md5', hash: entry.hash })).toHaveLength(1);
      store.close();
      const snap = join(dir, 'lists.snap');
      await writeSnapshot(snap, { lists: [{ name: 'l', version: 1 }], entries: [entry] });
      const fromSnapshot = await Matcher.open(snap);
      await writeSnapshot(snap, { lists: [{ name: 'l', version: 2 }], entries: [] });
      await expect(fromSnapshot.reload()).rejects.toMatchObject({ code: 'ERR_NO_ENTRIES' });
      expect(fromSnapshot.matchHash({ algorithm: 'md5', hash: entry.hash })).toHaveLength(1);
    });
  });

  it('refuses a directory as its source with ERR_INPUT_READ', async () => {
    await withDir(async (dir) => {
      await expect(Matcher.open(dir)).rejects.toMatchObject({ code: 'ERR_INPUT_READ' });
      await expect(Matcher.openSnapshot(dir)).rejects.toMatchObject({ code: 'ERR_INPUT_READ' });
    });
  });
});
