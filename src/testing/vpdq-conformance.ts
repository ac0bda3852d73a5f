/**
 * vPDQ conformance with Meta's published frame hashes (../shared/reference/vpdq: the sample clips
 * and `vpdq-hash-video`'s output for each, every frame, native size and 128 × 128), judged as
 * Meta's own regression test (vpdq/cpp/regtest.py) judges a re-implementation: frames aligned by
 * number, a pair conforms when both qualities are ≥ 50 and the PDQ distance ≤ 31. Shared by
 * bench/vpdq-conformance.ts (the table in docs/video.md) and src/video/conformance.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hammingDistance, parseHex } from '../algorithms/hex.js';
import { PDQ_DEFAULT_THRESHOLD, PDQ_MIN_QUALITY } from '../algorithms/pdq.js';
import { parseVpdqLines } from '../algorithms/vpdq.js';
import { hashVideo } from '../video/hash.js';
import { sharedPath } from './shared.js';

/** The reference folder inside ../shared. */
export const VPDQ_REFERENCE = ['reference', 'vpdq'] as const;

/** Distance counted as "near": the share within it says how close, beyond passing. */
const NEAR_BITS = 10;

/** One clip at one size against its reference file. */
export interface ConformanceRow {
  readonly clip: string;
  /** `native` or `128x128`. */
  readonly size: string;
  /** Frames hashed here and in the reference. */
  readonly ours: number;
  readonly reference: number;
  /** Frames present in both (aligned by number). */
  readonly compared: number;
  /** Of those, pairs with both qualities ≥ 50: the ones the rule judges. */
  readonly judged: number;
  /** Judged pairs within 31 bits. */
  readonly conforming: number;
  /** Compared pairs within 10 bits. */
  readonly near: number;
  /** Mean distance over the compared pairs, and over the judged ones; largest judged distance. */
  readonly meanDistance: number;
  readonly meanJudged: number;
  readonly maxJudged: number;
  /** Compared pairs whose qualities differ. */
  readonly qualityDiffers: number;
}

/** The reference folder: ../shared/reference/vpdq unless another is given (a checkout elsewhere). */
export function vpdqReference(root?: string): string {
  return root ?? sharedPath(...VPDQ_REFERENCE);
}

/** The sample clips' names (without `.mp4`) in the reference folder `root`, sorted. */
export function vpdqClips(root: string): string[] {
  return readdirSync(join(root, 'videos'))
    .filter((f) => f.endsWith('.mp4'))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** Hashes `clip` (of the folder `root`) every frame at `size` (0: native) and compares with the reference file, if there is one. */
export async function conformance(root: string, clip: string, size: 0 | 128): Promise<ConformanceRow | undefined> {
  const label = size === 0 ? 'native' : `${size}x${size}`;
  let text: string;
  try {
    text = readFileSync(join(root, 'sample-hashes', `${clip}${size === 0 ? '' : '-128x128'}.txt`), 'utf8');
  } catch {
    return undefined;
  }
  const reference = new Map(parseVpdqLines(text).map((f) => [f.frame, f]));
  const video = await hashVideo(join(root, 'videos', `${clip}.mp4`), {
    secondsPerHash: 0,
    downsampleFrameDimension: size,
    // Meta's hashes are of whole frames: the frames inside bars would be hashed for nothing.
    trim: false,
  });
  let compared = 0;
  let judged = 0;
  let conforming = 0;
  let near = 0;
  let sum = 0;
  let sumJudged = 0;
  let maxJudged = 0;
  let qualityDiffers = 0;
  for (const frame of video.frames) {
    const theirs = reference.get(frame.frame);
    if (theirs === undefined) continue;
    const distance = hammingDistance(parseHex(frame.hash, 32, 'pdq'), parseHex(theirs.hash, 32, 'pdq'));
    compared++;
    sum += distance;
    if (distance <= NEAR_BITS) near++;
    if (frame.quality !== theirs.quality) qualityDiffers++;
    if (frame.quality >= PDQ_MIN_QUALITY && theirs.quality >= PDQ_MIN_QUALITY) {
      judged++;
      sumJudged += distance;
      maxJudged = Math.max(maxJudged, distance);
      if (distance <= PDQ_DEFAULT_THRESHOLD) conforming++;
    }
  }
  return {
    clip,
    size: label,
    ours: video.frames.length,
    reference: reference.size,
    compared,
    judged,
    conforming,
    near,
    meanDistance: compared === 0 ? Number.NaN : sum / compared,
    meanJudged: judged === 0 ? Number.NaN : sumJudged / judged,
    maxJudged,
    qualityDiffers,
  };
}
