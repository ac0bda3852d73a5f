/**
 * The matching matrix of issue 24 on the 14 sample clips (src/testing/vpdq-matrix.ts; the table
 * and why the large logos do not match: docs/video.md), hashed as a deployment hashes them: the
 * list every frame, the upload one frame a second, both also inside their black bars; each clip
 * listed as one entry holding both frame sets, each upload matched by either set at
 * python-threatexchange's defaults. No clip matches another clip, the index agrees with the
 * brute force, and the renditions that match form the blocks below, as measured (thresholds not
 * tuned to the sample).
 */
import { describe, expect, it } from 'vitest';
import { HAVE_FFMPEG } from '../testing/ffmpeg.js';
import { hasShared, sharedTitle } from '../testing/shared.js';
import { VPDQ_REFERENCE, vpdqReference } from '../testing/vpdq-conformance.js';
import { crossClipMargin, DEPLOYMENT_SETUP, matrixProblems, vpdqMatrix } from '../testing/vpdq-matrix.js';

const present = hasShared(...VPDQ_REFERENCE) && HAVE_FFMPEG;

/**
 * Every frame of fourteen clips (4,900 frames, most of them hashed twice: whole and inside their
 * bars) on a shared 2-core machine: 186 s measured at load 6–8, about four times that allowed.
 */
const MATRIX_MS = 720_000;

/**
 * The clips that match one another: each set a block, every clip in none of them matching only
 * itself. The renditions with a large logo differ from the rest in more than 20% of their frames
 * (the logo's strokes move the whole-frame PDQ by 50–60 bits); every other rendition, whatever
 * its cut, bars, grey, sepia or small logo, matches its siblings.
 */
const BLOCKS: readonly (readonly string[])[] = [
  [
    'chair-19-sd-bar',
    'chair-20-sd-bar',
    'chair-22-sd-grey-bar',
    'chair-22-sd-sepia-bar',
    'chair-22-with-small-logo-bar',
    'chair-orig-22-sd-bar',
  ],
  ['pattern-hd-no-bar', 'pattern-longer-no-bar', 'pattern-sd-grey-bar', 'pattern-sd-with-small-logo-bar'],
];

describe.skipIf(!present)(sharedTitle('vPDQ matching matrix of the sample clips', present), () => {
  it(
    'matches each clip with itself and its block, never with another clip, whichever way it was hashed',
    async () => {
      // The uploads' frames are taken from the list's hash (the same frames, by the frame step) to
      // decode each clip once; bench/vpdq-matrix.ts decodes them again.
      const matrix = await vpdqMatrix(vpdqReference(), { ...DEPLOYMENT_SETUP, sampleFromList: true });
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
      // The margin to a false match: no upload shares a frame within 31 bits with another clip.
      expect(crossClipMargin(matrix).maxQueryMatchPercent).toBe(0);
    },
    MATRIX_MS,
  );
});
