import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatHex } from '../algorithms/hex.js';
import { flippedHex } from '../testing/hash-lists.js';
import { mulberry32 } from '../testing/prng.js';
import { formatVpdqJson, type VpdqFeature } from '../algorithms/vpdq.js';
import { MAX_VPDQ_ENTRY_BYTES, MAX_VPDQ_ENTRY_FRAMES } from '../algorithms/vpdq.js';
import { normalizeVpdqEntry, type VpdqListEntry } from '../lists/vpdq-entry.js';
import { packVpdq } from '../algorithms/vpdq.js';
import type { ListEntry } from '../lists/entry.js';
import { packEntries } from './entry-table.js';
import { matchVpdqBrute, type PackedVpdq, prepareVpdqFrames, VpdqIndex } from './vpdq.js';

function randomHash(random: () => number): string {
  return formatHex(Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)));
}

/** A video's frames: near copies of some of `bases` (0–45 bits off, so around the threshold), some repeated, some of low quality. */
function video(bases: string[], random: () => number): VpdqFeature[] {
  const count = 1 + Math.floor(random() * 12);
  const out: VpdqFeature[] = [];
  for (let i = 0; i < count; i++) {
    const previous = out[out.length - 1];
    const hash =
      previous !== undefined && random() < 0.15
        ? previous.hash
        : flippedHex(bases[Math.floor(random() * bases.length)] as string, Math.floor(random() * 46), random);
    out.push({
      hash,
      quality: random() < 0.2 ? Math.floor(random() * 50) : 50 + Math.floor(random() * 51),
      seconds: i,
    });
  }
  return out;
}

const frame = (hash: string, seconds: number, quality = 100): VpdqFeature => ({ hash, quality, seconds });
const A = 'f'.repeat(64);
const Z = '0'.repeat(64);

describe('VpdqIndex against pytx brute-force matcher', () => {
  for (const search of [undefined, { tier: 'mih', substringBits: 8 } as const]) {
    it(`gives the brute force's shares for every listed video a frame hit (${search?.tier ?? 'auto'} search)`, () => {
      const random = mulberry32(search === undefined ? 24 : 25);
      for (let round = 0; round < 60; round++) {
        const bases = Array.from({ length: 1 + Math.floor(random() * 5) }, () => randomHash(random));
        const listed = Array.from({ length: 1 + Math.floor(random() * 6) }, () => video(bases, random));
        const index = VpdqIndex.fromEntries(
          listed.map((frames, i) => ({ list: 'l', id: String(i), hash: frames })),
          { search },
        );
        const query = video(bases, random);
        const distance = 20 + Math.floor(random() * 20);
        const thresholds = { distance, queryMatchPercent: 0, listedMatchPercent: 0 };
        const got = new Map(index.match(query, thresholds).map((m) => [m.entryId, m]));
        listed.forEach((frames, i) => {
          const brute = matchVpdqBrute(query, frames, distance);
          const match = got.get(String(i));
          if (brute.queryMatchPercent === 0) expect(match).toBeUndefined();
          else {
            expect(match?.queryMatchPercent).toBe(brute.queryMatchPercent);
            expect(match?.listedMatchPercent).toBe(brute.listedMatchPercent);
          }
        });
        // At pytx's defaults: reported exactly when the brute force's query share reaches 80%.
        const defaults = new Set(index.match(query).map((m) => m.entryId));
        listed.forEach((frames, i) => {
          expect(defaults.has(String(i))).toBe(matchVpdqBrute(query, frames).queryMatchPercent >= 80);
        });
      }
    });
  }
});

/** `entries` packed as a store reads them: the usual columns, and each entry's frames in packVpdq's form. */
function packed(entries: readonly ListEntry[], frames: readonly (readonly VpdqFeature[])[]): PackedVpdq {
  const lists = [...new Set(entries.map((e) => e.list))];
  const chunks = frames.map((f) => packVpdq(f));
  const offsets = new Uint32Array(chunks.length + 1);
  chunks.forEach((c, i) => {
    offsets[i + 1] = (offsets[i] as number) + c.length;
  });
  return { columns: packEntries(entries, lists), frames: { offsets, bytes: Buffer.concat(chunks) } };
}

describe('VpdqIndex from packed entries', () => {
  it('matches as the index from the same entries, and as the brute force', () => {
    const random = mulberry32(26);
    for (let round = 0; round < 40; round++) {
      const bases = Array.from({ length: 1 + Math.floor(random() * 5) }, () => randomHash(random));
      const listed = Array.from({ length: 1 + Math.floor(random() * 6) }, () => video(bases, random));
      const search = round % 2 === 0 ? undefined : ({ tier: 'mih', substringBits: 8 } as const);
      const entries = VpdqIndex.fromEntries(
        listed.map((frames, i) => ({
          list: i % 2 === 0 ? 'a' : 'b',
          id: `v${i}`,
          hash: formatVpdqJson(frames),
          ...(i % 3 === 0 ? { label: 'csam', metadata: { source: `s${i}` } } : {}),
        })),
        { search, lists: { b: { distance: 25 } } },
      );
      const fromPacked = VpdqIndex.fromPacked(
        packed(
          entries.entries,
          entries.entries.map((e) => e.frames),
        ),
        { search, lists: { b: { distance: 25 } } },
      );
      expect(fromPacked.entries).toEqual(entries.entries);
      expect(fromPacked.frameCount).toBe(entries.frameCount);
      const query = video(bases, random);
      for (const thresholds of [undefined, { distance: 20 + Math.floor(random() * 20), queryMatchPercent: 0 }]) {
        const got = fromPacked.match(query, thresholds);
        expect(got).toEqual(entries.match(query, thresholds));
        for (const match of got) {
          const entry = entries.entries.find((e) => e.id === match.entryId) as VpdqListEntry;
          const distance = thresholds?.distance ?? (match.list === 'b' ? 25 : 31);
          expect(match).toMatchObject(matchVpdqBrute(query, entry.frames, distance));
        }
      }
    }
  });

  it('refuses offsets beyond the bytes, and frames cut short, with ERR_HASH_FORMAT', () => {
    const entry = normalizeVpdqEntry({ list: 'l', id: 'v', hash: [frame(A, 0), frame(Z, 1)] });
    const good = packed([entry], [entry.frames]);
    const code = (p: PackedVpdq): unknown => {
      try {
        VpdqIndex.fromPacked(p);
      } catch (error) {
        return (error as { code?: unknown }).code;
      }
      return 'no error';
    };
    expect(code(good)).toBe('no error');
    expect(code({ ...good, frames: { offsets: Uint32Array.of(0, 83), bytes: good.frames.bytes } })).toBe(
      'ERR_HASH_FORMAT',
    );
    expect(code({ ...good, frames: { offsets: Uint32Array.of(0, 40), bytes: good.frames.bytes } })).toBe(
      'ERR_HASH_FORMAT',
    );
    expect(code({ ...good, frames: { offsets: Uint32Array.of(0), bytes: good.frames.bytes } })).toBe('ERR_HASH_FORMAT');
    const bad = Uint8Array.from(good.frames.bytes);
    bad[32] = 200; // a quality byte above 100
    expect(code({ ...good, frames: { offsets: good.frames.offsets, bytes: bad } })).toBe('ERR_HASH_FORMAT');
  });
});

describe('vPDQ matching rules', () => {
  it('drops frames below quality 50 on both sides', () => {
    const index = VpdqIndex.fromEntries([{ list: 'l', id: 'v', hash: [frame(A, 0), frame(Z, 1, 49)] }]);
    expect(index.frameCount).toBe(1);
    expect(index.match([frame(Z, 0, 100)])).toEqual([]);
    expect(index.match([frame(A, 0, 49)])).toEqual([]);
    expect(index.match([frame(A, 0, 50)])).toMatchObject([{ queryMatchPercent: 100, listedMatchPercent: 100 }]);
  });

  it('counts a repeated frame hash once, whatever its case', () => {
    const far = flippedHex(A, 128, mulberry32(1));
    expect(prepareVpdqFrames([frame(A, 0), frame(A, 1), frame(A, 2), frame(far, 3)]).length).toBe(2);
    const index = VpdqIndex.fromEntries([{ list: 'l', id: 'v', hash: [frame(A, 0)] }]);
    const [match] = index.match([frame(A, 0), frame(A.toUpperCase(), 1), frame(A, 2), frame(far, 3)], {
      queryMatchPercent: 0,
    });
    expect(match?.queryMatchPercent).toBe(50);
  });

  it('matches frames at 31 bits and not at 32 by default', () => {
    const random = mulberry32(7);
    const index = VpdqIndex.fromEntries([{ list: 'l', id: 'v', hash: [frame(A, 0)] }]);
    expect(index.match([frame(flippedHex(A, 31, random), 0)])).toHaveLength(1);
    expect(index.match([frame(flippedHex(A, 32, random), 0)])).toEqual([]);
    expect(index.match([frame(flippedHex(A, 32, random), 0)], { distance: 32 })).toHaveLength(1);
  });

  it('needs 80% of the query and any share of the listed video by default', () => {
    const random = mulberry32(8);
    const others = Array.from({ length: 4 }, () => randomHash(random));
    const listed = [frame(A, 0), ...others.slice(0, 3).map((h, i) => frame(h, i + 1))];
    const index = VpdqIndex.fromEntries([{ list: 'l', id: 'v', hash: listed }]);
    // 4 of 5 query frames listed (80%): a match; one more unlisted frame (4 of 6) is not.
    const query = [...listed.map((f) => f), frame(flippedHex(A, 128, random), 9)];
    expect(index.match(query)).toMatchObject([{ queryMatchPercent: 80, listedMatchPercent: 100 }]);
    expect(index.match([...query, frame(flippedHex(A, 100, random), 10)])).toEqual([]);
    expect(index.match(query, { listedMatchPercent: 100 })).toHaveLength(1);
  });

  it('names each matched query frame with the nearest listed frame', () => {
    const random = mulberry32(9);
    const near = flippedHex(A, 3, random);
    const index = VpdqIndex.fromEntries([
      { list: 'l', id: 'v', label: 'csam', hash: [frame(flippedHex(A, 10, random), 4), frame(near, 7), frame(Z, 9)] },
    ]);
    // Frame 1 is dropped (quality 10), frame 2 repeats frame 0: positions name the frames given.
    const [match] = index.match([frame(A, 1.5), frame(A, 2, 10), frame(A, 2), frame(Z, 2.5)]);
    expect(match).toMatchObject({ list: 'l', entryId: 'v', label: 'csam', algorithm: 'vpdq' });
    expect(match?.frames).toEqual([
      { queryFrame: 0, querySeconds: 1.5, listedSeconds: 7, distance: 3 },
      { queryFrame: 3, querySeconds: 2.5, listedSeconds: 9, distance: 0 },
    ]);
  });

  it("applies a list's thresholds where the call gives none", () => {
    const random = mulberry32(10);
    const hash = [frame(A, 0)];
    const index = VpdqIndex.fromEntries(
      [
        { list: 'strict', id: 'v', hash },
        { list: 'loose', id: 'v', hash },
      ],
      { lists: { strict: { distance: 5 }, loose: { distance: 40 } } },
    );
    const query = [frame(flippedHex(A, 35, random), 0)];
    expect(index.match(query).map((m) => m.list)).toEqual(['loose']);
    expect(index.match(query, { distance: 31 })).toEqual([]);
    expect(index.match([frame(flippedHex(A, 4, random), 0)]).map((m) => m.list)).toEqual(['strict', 'loose']);
  });

  it("gives a call's per-list thresholds over the index's, and the call's own over both", () => {
    const random = mulberry32(12);
    const index = VpdqIndex.fromEntries(
      [
        { list: 'strict', id: 'v', hash: [frame(A, 0)] },
        { list: 'loose', id: 'v', hash: [frame(A, 0)] },
      ],
      { lists: { strict: { distance: 5 }, loose: { distance: 40 } } },
    );
    const query = [frame(flippedHex(A, 20, random), 0)];
    expect(index.match(query).map((m) => m.list)).toEqual(['loose']);
    expect(index.match(query, { lists: { strict: { distance: 25 } } }).map((m) => m.list)).toEqual(['strict', 'loose']);
    expect(index.match(query, { lists: { loose: { distance: 10 } } })).toEqual([]);
    expect(index.match(query, { distance: 10, lists: { loose: { distance: 40 } } })).toEqual([]);
    expect(() => index.match(query, { lists: { other: { distance: 300 } } })).toThrow(RangeError);
  });

  it('matches nothing for a query with no frame of quality 50', () => {
    const index = VpdqIndex.fromEntries([{ list: 'l', id: 'v', hash: [frame(A, 0)] }]);
    expect(index.match([])).toEqual([]);
    expect(index.match([frame(A, 0, 10)], { queryMatchPercent: 0 })).toEqual([]);
    expect(matchVpdqBrute([frame(A, 0, 10)], [frame(A, 0)])).toEqual({ queryMatchPercent: 0, listedMatchPercent: 0 });
  });
});

describe('vPDQ list entries', () => {
  it('hold pytx signal text, written again as pytx writes it, with a content id by default', () => {
    const text = `["${A.toUpperCase()},100,0.0","${Z},50,1.0"]`;
    const entry = normalizeVpdqEntry({ list: ' l ', algorithm: 'VPDQ', hash: text }, 0);
    const canonical = formatVpdqJson([frame(A, 0), frame(Z, 1, 50)]);
    expect(entry).toMatchObject({ list: 'l', algorithm: 'vpdq', hash: canonical });
    expect(entry.id).toBe(`vpdq:${createHash('sha256').update(canonical).digest('hex')}`);
    expect(entry.frames).toHaveLength(2);
  });

  it('refuse hostile text with typed errors', () => {
    const code = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (error) {
        return (error as { code?: unknown }).code;
      }
      return 'no error';
    };
    expect(code(() => normalizeVpdqEntry({ list: 'l', hash: '["zz,100,0.0"]' }, 0))).toBe('ERR_HASH_FORMAT');
    expect(code(() => normalizeVpdqEntry({ list: 'l', hash: '{' }, 0))).toBe('ERR_HASH_FORMAT');
    expect(code(() => normalizeVpdqEntry({ list: 'l', hash: ' '.repeat(MAX_VPDQ_ENTRY_BYTES + 1) }, 0))).toBe(
      'ERR_LIST_FORMAT',
    );
    const many = Array.from({ length: MAX_VPDQ_ENTRY_FRAMES + 1 }, () => `"${A},100,0.0"`);
    expect(code(() => normalizeVpdqEntry({ list: 'l', hash: `[${many.join(',')}]` }, 0))).toBe('ERR_HASH_FORMAT');
    expect(code(() => normalizeVpdqEntry({ list: 'l', hash: many.map(() => frame(A, 0)) }, 0))).toBe('ERR_LIST_FORMAT');
    expect(code(() => normalizeVpdqEntry({ list: 'l', algorithm: 'pdq', hash: [] }, 0))).toBe('ERR_UNKNOWN_ALGORITHM');
    expect(code(() => normalizeVpdqEntry({ list: '', hash: [] }, 0))).toBe('ERR_LIST_FORMAT');
    expect(code(() => normalizeVpdqEntry({ list: 'l', hash: 5 as unknown as string }, 0))).toBe('ERR_LIST_FORMAT');
    expect(
      code(() =>
        VpdqIndex.fromEntries([
          { list: 'l', id: 'v', hash: [] },
          { list: 'l', id: 'v', hash: [frame(A, 0)] },
        ]),
      ),
    ).toBe('ERR_LIST_FORMAT');
  });

  it('give an entry or a typed error for any edit of signal text', () => {
    const random = mulberry32(11);
    const text = formatVpdqJson(Array.from({ length: 6 }, (_, i) => frame(randomHash(random), i * 1.5, 40 + i * 10)));
    const alphabet = '[]{}",.:0123456789abcdefxyz-+e \\\n';
    for (let round = 0; round < 2000; round++) {
      const chars = [...text];
      for (let edits = 1 + Math.floor(random() * 4); edits > 0; edits--) {
        const at = Math.floor(random() * chars.length);
        const kind = random();
        const c = alphabet[Math.floor(random() * alphabet.length)] as string;
        if (kind < 0.4) chars[at] = c;
        else if (kind < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, c);
      }
      try {
        const entry = normalizeVpdqEntry({ list: 'l', hash: chars.join('') }, round);
        // What was accepted reads back to the same frames.
        expect(normalizeVpdqEntry({ list: 'l', hash: entry.hash }, 0).frames).toEqual(entry.frames);
      } catch (error) {
        expect(['ERR_HASH_FORMAT', 'ERR_LIST_FORMAT']).toContain((error as { code?: unknown }).code);
      }
    }
  });

  it('refuse bad thresholds as arguments', () => {
    const index = VpdqIndex.fromEntries([]);
    expect(() => index.match([], { distance: 257 })).toThrow(RangeError);
    expect(() => index.match([], { queryMatchPercent: 101 })).toThrow(RangeError);
    expect(() => index.match([], { listedMatchPercent: Number.NaN })).toThrow(TypeError);
    expect(() => VpdqIndex.fromEntries([], { lists: { l: { distance: -1 } } })).toThrow(RangeError);
    expect(() => VpdqIndex.fromEntries(5 as never)).toThrow(TypeError);
    expect(() => index.match([{ hash: 'zz', quality: 100, seconds: 0 }])).toThrow(TypeError);
    expect(() => index.match([{ hash: A, quality: 101, seconds: 0 }])).toThrow(RangeError);
    expect(() => index.match([{ hash: A, quality: 100, seconds: -1 }])).toThrow(TypeError);
  });
});
