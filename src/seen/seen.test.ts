import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIHEDRAL_NAMES } from '../algorithms/dihedral.js';
import { formatHex } from '../algorithms/hex.js';
import { isHashwardenError } from '../errors.js';
import { hashImage } from '../image/hash.js';
import { searchedHashes } from '../image/queries.js';
import { Matcher } from '../matcher/matcher.js';
import type { SearchedQuery } from '../matcher/searched.js';
import { loadDriver } from '../store/driver.js';
import { HashStore } from '../store/store.js';
import { resultOf } from '../testing/seen.js';
import { decodeSearched, encodeSearched, packSearched, recordBlobs, searchedAt } from './record.js';
import { SeenStore } from './store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-seen-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const PDQ_A = 'a'.repeat(64);

describe('the seen record', () => {
  it('records every hash a real matchImage call searched, with its transform, and never the image', async () => {
    const image = readFileSync(join(import.meta.dirname, '../../test-vectors/images/landscape-1600x1200.jpg'));
    const matcher = Matcher.fromEntries([{ list: 'l', id: 'x', algorithm: 'pdq', hash: PDQ_A }], {
      lists: [{ name: 'l', version: 7 }],
    });
    const result = await matcher.matchImage(image, { algorithms: ['pdq', 'md5'] });
    const seen = SeenStore.open(join(dir, 'seen.db'));
    seen.record('upload-1', result, { at: new Date('2026-01-02T03:04:05Z') });
    const record = seen.get('upload-1');
    const hashed = await hashImage(image, { algorithms: ['pdq'], dihedral: true, trim: true });
    const expected = searchedHashes(hashed, 'pdq').map((q) => ({ transform: q.transform, hash: q.hash }));
    expect(expected.length).toBe(16); // 8 turns of the image, 8 of what its border frames
    const pdqs = record?.hashes
      .filter((h) => h.algorithm === 'pdq')
      .map((h) => ({ transform: h.transform, hash: formatHex(h.hash) }));
    expect(pdqs).toEqual(expected.filter((q, i) => expected.findIndex((p) => p.hash === q.hash) === i));
    expect(record?.hashes.find((h) => h.algorithm === 'md5')?.hash).toEqual(bytes(result.hashes.md5 as string));
    expect(record?.versions).toEqual({ l: 7 });
    expect(record?.at.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    // The result's own fields and JSON are unchanged: the searched hashes are kept beside it.
    expect(Object.keys(result)).not.toContain('queries');
    // Bytes per upload: the whole file stays far below the image's own size.
    seen.close();
    expect(statSync(join(dir, 'seen.db')).size).toBeLessThan(image.length);
  });

  it('records an item of matchImages as it records matchImage’s result', async () => {
    const image = readFileSync(join(import.meta.dirname, '../../test-vectors/images/shapes-200x150.png'));
    const matcher = Matcher.fromEntries([{ list: 'l', id: 'x', algorithm: 'blockhash', hash: PDQ_A }]);
    const [item] = await matcher.matchImages([image]);
    const single = await matcher.matchImage(image);
    const seen = SeenStore.open(join(dir, 'seen.db'));
    if (item?.ok !== true) throw new Error('the image did not hash');
    seen.record('batch', item.value);
    seen.record('single', single);
    expect(seen.get('batch')?.hashes).toEqual(seen.get('single')?.hashes);
    expect(seen.get('batch')?.hashes.length).toBeGreaterThanOrEqual(8);
    seen.close();
  });

  it('replaces a record recorded twice, deletes by content id and expires by age', () => {
    const seen = SeenStore.open(join(dir, 'seen.db'));
    const q = (hex: string): SearchedQuery => ({ algorithm: 'pdq', hash: bytes(hex) });
    seen.record('a', resultOf([q(PDQ_A)], { l: 1 }), { at: new Date('2026-01-01') });
    seen.record('a', resultOf([q('b'.repeat(64))], { l: 2 }), { at: new Date('2026-03-01') });
    seen.record('b', resultOf([q(PDQ_A)], {}), { at: new Date('2026-02-01') });
    expect(seen.count()).toBe(2);
    expect(seen.get('a')?.versions).toEqual({ l: 2 });
    expect(formatHex(seen.get('a')?.hashes[0]?.hash as Uint8Array)).toBe('b'.repeat(64));
    expect(seen.expire(new Date('2026-02-15'))).toBe(1);
    expect(seen.get('b')).toBeUndefined();
    expect(seen.delete('a')).toBe(true);
    expect(seen.delete('a')).toBe(false);
    expect(seen.count()).toBe(0);
    seen.record('old', resultOf([q(PDQ_A)], {}), { at: new Date(Date.now() - 10 * 86_400_000) });
    seen.record('new', resultOf([q(PDQ_A)], {}));
    expect(seen.expire({ days: 5 })).toBe(1);
    expect(seen.get('new')).toBeDefined();
  });

  it('refuses a result that is not a matcher’s, bad ids and bad options with TypeError or RangeError', () => {
    const seen = SeenStore.open(join(dir, 'seen.db'));
    const real = resultOf([], {});
    expect(() => seen.record('a', { ...real })).toThrow(TypeError);
    expect(() => seen.record('', real)).toThrow(RangeError);
    expect(() => seen.record('x'.repeat(1025), real)).toThrow(RangeError);
    expect(() => seen.expire({ days: 0 })).toThrow(RangeError);
    expect(() => seen.expire(new Date(Number.NaN))).toThrow(TypeError);
    expect(() => seen.record('a', real, { at: 'yesterday' as unknown as Date })).toThrow(TypeError);
  });

  it('refuses a list store opened as a seen store, and a seen store holding a trigger', () => {
    const lists = HashStore.open(join(dir, 'hashes.db'));
    lists.close();
    const refused = (path: string) => {
      try {
        SeenStore.open(path);
      } catch (error) {
        return isHashwardenError(error) ? error.code : error;
      }
      return 'opened';
    };
    expect(refused(join(dir, 'hashes.db'))).toBe('ERR_STORE');
    SeenStore.open(join(dir, 'seen.db')).close();
    const Database = loadDriver();
    const raw = new Database(join(dir, 'seen.db'));
    raw.exec('CREATE TRIGGER t AFTER INSERT ON seen BEGIN DELETE FROM seen; END');
    raw.close();
    expect(refused(join(dir, 'seen.db'))).toBe('ERR_STORE');
  });

  it('packs hashes with their transform, border and frame, leaving out repeats, unpacks any one, and refuses a damaged blob', () => {
    const queries: SearchedQuery[] = [
      { algorithm: 'pdq', hash: bytes(PDQ_A), transform: 'original' },
      { algorithm: 'pdq', hash: bytes(PDQ_A), transform: 'rot90' },
      { algorithm: 'blockhash', hash: bytes('c'.repeat(64)), transform: 'flipAntiDiagonal', trimmed: true, frame: 300 },
      { algorithm: 'sha1', hash: bytes('d'.repeat(40)) },
    ];
    const blob = encodeSearched(queries);
    expect(decodeSearched(blob)).toEqual([queries[0], queries[2], queries[3]]);
    // One hash alone, unpacking none before it: the same as decoding them all.
    expect([0, 1, 2, 3].map((position) => searchedAt(blob, position))).toEqual([
      queries[0],
      queries[2],
      queries[3],
      undefined,
    ]);
    expect(() => searchedAt(null, 0)).toThrow(expect.objectContaining({ code: 'ERR_STORE' }));
    expect(DIHEDRAL_NAMES).toHaveLength(8);
    for (const bad of [Uint8Array.of(2), Uint8Array.of(1, 9, 0), blob.subarray(0, blob.length - 1)]) {
      expect(() => decodeSearched(bad)).toThrow(expect.objectContaining({ code: 'ERR_STORE' }));
      expect(() => searchedAt(bad, 2)).toThrow(expect.objectContaining({ code: 'ERR_STORE' }));
    }
  });

  it('packs a batch of records per algorithm, each hash with its record and position, as decoding them finds', () => {
    const random = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 71) & 0xff);
    const records: SearchedQuery[][] = [
      [
        { algorithm: 'pdq', hash: random(32, 1), transform: 'original' },
        { algorithm: 'sha1', hash: random(20, 2) },
        { algorithm: 'pdq', hash: random(32, 3), transform: 'rot90', frame: 7 },
      ],
      [],
      [
        { algorithm: 'blockhash', hash: random(32, 4), trimmed: true },
        { algorithm: 'pdq', hash: random(32, 5) },
      ],
    ];
    const blobs = records.map(encodeSearched);
    const packed = packSearched(recordBlobs(blobs));
    expect([...packed.keys()].sort()).toEqual(['blockhash', 'pdq', 'sha1']);
    for (const [algorithm, p] of packed) {
      const width = p.hashes.length / p.count;
      const expected = records.flatMap((queries, record) =>
        queries.flatMap((q, position) => (q.algorithm === algorithm ? [{ record, position, hash: q.hash }] : [])),
      );
      expect(p.count).toBe(expected.length);
      expected.forEach((e, k) => {
        expect([p.record[k], p.position[k]]).toEqual([e.record, e.position]);
        expect(p.hashes.subarray(k * width, (k + 1) * width)).toEqual(e.hash);
        expect(decodeSearched(blobs[e.record] as Uint8Array)[e.position]?.hash).toEqual(e.hash);
      });
    }
    // Only the algorithms asked for: the same hashes, each still at its place among all of its record's.
    const pdqOnly = packSearched(recordBlobs(blobs), new Set(['pdq']));
    expect([...pdqOnly.keys()]).toEqual(['pdq']);
    expect(pdqOnly.get('pdq')).toEqual(packed.get('pdq'));
    for (const bad of [Uint8Array.of(2), Uint8Array.of(1, 9, 0), (blobs[0] as Uint8Array).subarray(0, 5), null]) {
      expect(() => packSearched(recordBlobs([blobs[2] as Uint8Array, bad]))).toThrow(
        expect.objectContaining({ code: 'ERR_STORE' }),
      );
    }
  });
});

describe('a damaged seen store', () => {
  it('refuses a record whose hashes or versions were altered, or are over their bounds, with ERR_STORE', () => {
    const path = join(dir, 'seen.db');
    const seen = SeenStore.open(path);
    seen.record('a', resultOf([{ algorithm: 'md5', hash: bytes('0'.repeat(32)) }], { l: 1 }));
    seen.record('b', resultOf([], {}));
    seen.close();
    const raw = new (loadDriver())(path);
    raw.prepare("UPDATE seen SET hashes = zeroblob(17 * 1024 * 1024) WHERE content_id = 'a'").run();
    raw.prepare("UPDATE seen SET versions = '[1, 2]' WHERE content_id = 'b'").run();
    raw.close();
    const reopened = SeenStore.open(path);
    expect(() => reopened.get('a')).toThrow(expect.objectContaining({ code: 'ERR_STORE' }));
    expect(() => reopened.get('b')).toThrow(expect.objectContaining({ code: 'ERR_STORE' }));
    reopened.close();
  });
});
