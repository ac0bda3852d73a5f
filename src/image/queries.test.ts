import { describe, expect, it } from 'vitest';
import { blockhash, blockhashBoundary } from '../algorithms/blockhash.js';
import { mulberry32 } from '../testing/prng.js';
import { searchedHashes } from './queries.js';

const random = mulberry32(11);
const busy = (): string => Array.from({ length: 64 }, () => Math.floor(random() * 16).toString(16)).join('');
/** A bright top half: 16 neighbouring blocks differ, a plain layout. */
const PLAIN = 'ff'.repeat(16) + '00'.repeat(16);
/** A bright left half: as plain. */
const PLAIN_SIDEWAYS = 'ff00'.repeat(16);

describe('searchedHashes', () => {
  it('searches the own hash, or the 8 turned and mirrored ones in order, then those of the trimmed image', () => {
    const own = busy();
    const variants = [own, ...Array.from({ length: 7 }, busy)];
    const inner = busy();
    expect(searchedHashes({ hashes: { blockhash: own }, unusable: {} }, 'blockhash')).toEqual([{ hash: own }]);
    const searched = searchedHashes(
      {
        hashes: { blockhash: own },
        unusable: {},
        dihedral: { blockhash: variants },
        trimmed: { hashes: { blockhash: inner }, unusable: {} },
      },
      'blockhash',
    );
    expect(searched.map((q) => q.transform)).toEqual([
      'original',
      'rot90',
      'rot180',
      'rot270',
      'flipX',
      'flipY',
      'flipMainDiagonal',
      'flipAntiDiagonal',
      undefined,
    ]);
    expect(searched.at(-1)).toEqual({ hash: inner, trimmed: true });
  });

  it('searches nothing of an image whose pixels a guard refuses, turned hashes included', () => {
    const hex = busy();
    expect(
      searchedHashes(
        {
          hashes: { pdq: hex },
          unusable: { pdq: 'PDQ quality 12 is below 50' },
          dihedral: { pdq: Array.from({ length: 8 }, busy) },
        },
        'pdq',
      ),
    ).toEqual([]);
    expect(
      searchedHashes(
        {
          hashes: { blockhash: hex },
          unusable: { blockhash: 'blockhash of a flat image (…)' },
          dihedral: { blockhash: Array.from({ length: 8 }, busy) },
        },
        'blockhash',
      ),
    ).toEqual([]);
  });

  it('judges each blockhash on its own layout: a plain one is left out, a busy turn of it is searched', () => {
    expect(blockhashBoundary(blockhash.parse(PLAIN))).toBe(16);
    expect(blockhashBoundary(blockhash.parse(PLAIN_SIDEWAYS))).toBe(16);
    const refusal = blockhash.refuse?.(blockhash.parse(PLAIN));
    expect(refusal).toBe('blockhash of a plain layout (16 neighbouring blocks differ, below 48)');
    // Without turned hashes, a plain own hash leaves nothing to search.
    expect(
      searchedHashes({ hashes: { blockhash: PLAIN }, unusable: { blockhash: refusal as string } }, 'blockhash'),
    ).toEqual([]);
    // With them, the turns that are busy are searched (an upright plain layout can turn into a busy one).
    const turned = busy();
    const variants = [PLAIN, turned, PLAIN, busy(), PLAIN, PLAIN, PLAIN_SIDEWAYS, PLAIN_SIDEWAYS];
    const searched = searchedHashes(
      { hashes: { blockhash: PLAIN }, unusable: { blockhash: refusal as string }, dihedral: { blockhash: variants } },
      'blockhash',
    );
    expect(searched.map((q) => q.transform)).toEqual(['rot90', 'rot270']);
    expect(searched[0]?.hash).toBe(turned);
  });
});
