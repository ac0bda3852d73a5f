/**
 * The matching matrix of issue 24 on the 14 sample clips (src/testing/vpdq-matrix.ts; the table
 * and why some renditions do not match: docs/video.md): hashed one frame a second, each listed,
 * each matched at python-threatexchange's defaults. No clip matches another clip; the renditions
 * that match form the blocks below, as measured (thresholds not tuned to the sample).
 */
import { describe, expect, it } from 'vitest';
import { HAVE_FFMPEG } from '../testing/ffmpeg.js';
import { hasShared, sharedTitle } from '../testing/shared.js';
import { VPDQ_REFERENCE, vpdqReference } from '../testing/vpdq-conformance.js';
import { matrixProblems, vpdqMatrix } from '../testing/vpdq-matrix.js';

const present = hasShared(...VPDQ_REFERENCE) && HAVE_FFMPEG;

/** Fourteen clips hashed at native size on a shared machine: ~30 s measured, four times that allowed. */
const MATRIX_MS = 120_000;

/**
 * The clips that match one another at pytx's defaults: each set a block, every clip in none of
 * them matching only itself. The chair renditions of one length, bars, grey, sepia or a small
 * logo, match; a large logo, the 19-second cut, the HD pattern without bars and its longer cut
 * each differ from the rest in more than 20% of their sampled frames.
 */
const BLOCKS: readonly (readonly string[])[] = [
  [
    'chair-20-sd-bar',
    'chair-22-sd-grey-bar',
    'chair-22-sd-sepia-bar',
    'chair-22-with-small-logo-bar',
    'chair-orig-22-sd-bar',
  ],
  ['pattern-sd-grey-bar', 'pattern-sd-with-small-logo-bar'],
];

describe.skipIf(!present)(sharedTitle('vPDQ matching matrix of the sample clips', present), () => {
  it(
    'matches each clip with itself and its block, never with another clip',
    async () => {
      const matrix = await vpdqMatrix(vpdqReference());
      expect(matrix.clips).toHaveLength(14);
      expect(matrixProblems(matrix)).toEqual([]);
      const block = (clip: string): number => BLOCKS.findIndex((b) => b.includes(clip));
      for (const cell of matrix.cells.flat()) {
        const together =
          cell.query === cell.listed || (block(cell.query) >= 0 && block(cell.query) === block(cell.listed));
        expect({ query: cell.query, listed: cell.listed, matched: cell.matched }).toEqual({
          query: cell.query,
          listed: cell.listed,
          matched: together,
        });
      }
    },
    MATRIX_MS,
  );
});
