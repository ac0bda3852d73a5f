/**
 * Conformance with Meta's published vPDQ hashes on three of the sample clips (the bench,
 * bench/vpdq-conformance.ts, runs all fourteen): every frame hashed, aligned by number with
 * `vpdq-hash-video`'s output; by Meta's rule every pair with both qualities ≥ 50 is within 31 bits,
 * and here within 10; at 128 × 128 the lines written equal Meta's file byte for byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_FFMPEG } from '../testing/ffmpeg.js';
import { hasShared, sharedTitle } from '../testing/shared.js';
import { conformance, VPDQ_REFERENCE, vpdqReference } from '../testing/vpdq-conformance.js';
import { formatVpdqLines } from '../algorithms/vpdq.js';
import { hashVideo } from './hash.js';

const present = hasShared(...VPDQ_REFERENCE) && HAVE_FFMPEG;

/** Long enough for a 1080 × 1080 clip hashed every frame on a shared machine. */
const CLIP_MS = 120_000;

describe.skipIf(!present)(sharedTitle('vPDQ conformance with the reference hashes', present), () => {
  const root = vpdqReference();

  it.each([
    // Fades to black: half its frames have quality below 50 and are not judged.
    ['doorknob-hd-no-bar', 0],
    // 1080 × 1080: the first probe, through the photo path's 512-pixel reduction, was 8–38 bits off.
    ['test-padded-dimensions', 0],
    ['pattern-sd-grey-bar', 128],
  ] as const)(
    '%s at size %d: every judged frame within 31 bits (here 10)',
    async (clip, size) => {
      const row = await conformance(root, clip, size);
      expect(row).toBeDefined();
      if (row === undefined) return;
      expect(row.ours).toBe(row.reference);
      expect(row.conforming).toBe(row.judged);
      expect(row.judged).toBeGreaterThan(0);
      expect(row.maxJudged).toBeLessThanOrEqual(10);
    },
    CLIP_MS,
  );

  it(
    "writes Meta's 128 × 128 file byte for byte",
    async () => {
      const clip = 'doorknob-hd-no-bar';
      const video = await hashVideo(join(root, 'videos', `${clip}.mp4`), {
        secondsPerHash: 0,
        downsampleFrameDimension: 128,
      });
      expect(formatVpdqLines(video.frames)).toBe(
        readFileSync(join(root, 'sample-hashes', `${clip}-128x128.txt`), 'utf8'),
      );
    },
    CLIP_MS,
  );
});
