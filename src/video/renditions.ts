/**
 * Renditions with and without black bars (docs/video.md, the matching matrix): a video hashed
 * with `trim` carries two frame sets, its whole frames (Meta's vPDQ) and the same frames inside
 * their bars. A list entry may hold both sets' frames; an upload matches a listed video when
 * either of its sets does. Both keep python-threatexchange's matching as it is: with its default
 * listed share (0%), frames added to a listed video can only add matches of the upload's frames,
 * and each of the upload's sets is matched on its own, so neither dilutes the other's share.
 */
import type { VpdqFeature } from '../algorithms/vpdq.js';

export { listedVpdqFrames } from '../algorithms/vpdq.js';
import type { VpdqIndex, VpdqThresholds, VpdqVideoMatch } from '../search/vpdq.js';
import type { VideoFrameHash } from './hash.js';

/** The frame sets of a hashed video (`hashVideo`'s result, or the same fields parsed back). */
export interface VideoFrameSets {
  readonly frames: readonly VideoFrameHash[];
  readonly trimmed?: readonly VideoFrameHash[];
}

/**
 * The listed videos a hashed upload matches through either of its frame sets: `index.match` with
 * the trimmed set as its `trimmed` option (src/search/vpdq.ts, where the rule lives, so a matcher's
 * `matchVpdq` applies the same one).
 *
 * @example
 * ```ts
 * const video = await hashVideo('upload.mp4');
 * matchVideoFrameSets(index, video); // the SD copy in bars matches the listed HD video
 * ```
 */
export function matchVideoFrameSets(
  index: VpdqIndex,
  video: VideoFrameSets,
  thresholds?: VpdqThresholds,
): VpdqVideoMatch[] {
  const { frames, trimmed } = video;
  return index.match(frames as readonly VpdqFeature[], {
    ...thresholds,
    ...(trimmed === undefined ? {} : { trimmed }),
  });
}
