import { describe, expect, it } from 'vitest';
import { hammingDistance } from '../../src/algorithms/hex.js';
import { mulberry32 } from '../../src/testing/prng.js';
import { Histogram, dihedralDistance, distance, groupHistogram, sameSceneGroups, toWords } from './measure.js';

function randomHash(seed: number): Uint8Array {
  const random = mulberry32(seed);
  return Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
}

describe('robustness arithmetic', () => {
  it('computes the same distances as the library', () => {
    for (let seed = 1; seed < 200; seed++) {
      const a = randomHash(seed);
      const b = randomHash(seed + 1000);
      expect(distance(toWords(a), toWords(b))).toBe(hammingDistance(a, b));
    }
    expect(distance(toWords(new Uint8Array(32)), toWords(new Uint8Array(32).fill(255)))).toBe(256);
  });

  it('takes the least distance over the 8 turned and mirrored hashes', () => {
    const listed = toWords(randomHash(1));
    const variants = [2, 3, 4].map((s) => toWords(randomHash(s)));
    const near = Uint8Array.from(randomHash(1));
    near[0] = (near[0] as number) ^ 0b111;
    expect(dihedralDistance([...variants, toWords(near)], listed)).toBe(3);
  });

  it('counts rates over every pair, those that could not be compared included', () => {
    const h = new Histogram();
    for (const d of [0, 3, 3, 10, 128]) h.add(d);
    h.missing = 5;
    expect(h.total).toBe(10);
    expect(h.within(3)).toBe(3);
    expect(h.rate(3)).toBe(0.3);
    // Through the data file and back: the same counts.
    const back = Histogram.fromJSON(JSON.parse(JSON.stringify(h)) as { counts: number[]; missing: number });
    expect([back.total, back.within(3), back.within(200), back.min]).toEqual([10, 3, 5, 0]);
    expect(h.rate(256)).toBe(0.5);
    expect(h.min).toBe(0);
    expect(new Histogram().merge(h).merge(h).within(10)).toBe(8);
  });

  it('merges the histograms of the edits of one group only', () => {
    const at = (d: number): Histogram => {
      const h = new Histogram();
      h.add(d);
      return h;
    };
    const edit = (group: string, d: number) => ({
      group,
      stats: { pdq: { plain: at(d) }, blockhash: { plain: at(d + 1) } },
    });
    const merged = groupHistogram([edit('mild', 2), edit('crop', 5), edit('mild', 7)], 'blockhash', 'mild', 'plain');
    expect([merged.total, merged.within(3), merged.within(8)]).toEqual([2, 1, 2]);
  });

  it('merges same-scene pairs into groups transitively', () => {
    const groups = sameSceneGroups([
      ['a', 'b'],
      ['b', 'c', 14],
      ['d', 'e'],
    ]);
    expect(groups.get('a')).toBe(groups.get('c'));
    expect(groups.get('d')).toBe(groups.get('e'));
    expect(groups.get('a')).not.toBe(groups.get('d'));
  });
});
