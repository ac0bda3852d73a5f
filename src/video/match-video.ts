/**
 * `matchVideo`: an upload's vPDQ matched against listed videos (src/video/match.ts, python-
 * threatexchange's semantics) and its exact MD5/SHA-256 against exact lists, as images are. The
 * exact lists are a matcher's (`Matcher` of the core entry, taken by shape: the video room sits
 * below the matcher and imports none of it).
 */
import { invalid, optionsObject } from '../validate.js';
import { hashVideo, type VideoFrameHash, type VideoInput } from './hash.js';
import { resolveVpdqThresholds, VpdqIndex, type VpdqThresholds, type VpdqVideoMatch } from '../search/vpdq.js';
import type { HashVideoOptions } from './options.js';

/** What `matchVideo` needs of a matcher for the file's exact hashes: `Matcher.matchHash`. */
export interface ExactHashLookup<M> {
  matchHash(query: { algorithm: 'md5' | 'sha256'; hash: string }, options?: { decision?: boolean }): readonly M[];
}

/** Options of {@link matchVideo}. */
export interface MatchVideoOptions<M = unknown> extends HashVideoOptions, VpdqThresholds {
  /** The listed videos. */
  readonly index: VpdqIndex;
  /** A matcher whose exact (MD5/SHA-256) lists the file's digests are looked up in; none: no exact lookup. */
  readonly matcher?: ExactHashLookup<M>;
}

/** The outcome of {@link matchVideo}. */
export interface VideoMatchResult<M = unknown> {
  /** True when a listed video or an exact hash matched. */
  readonly matched: boolean;
  /** The listed videos matched, in entry order. */
  readonly videos: readonly VpdqVideoMatch[];
  /** Exact-hash matches of the file (MD5, then SHA-256), as the matcher gives them. */
  readonly exact: readonly M[];
  /** The upload's hashed frames (hash, quality, frame number, seconds), for a report. */
  readonly frames: readonly VideoFrameHash[];
  readonly md5: string;
  readonly sha256: string;
}

/**
 * Hashes `input` (`hashVideo`, same options and errors) and matches it: its frames against
 * `options.index` at the given thresholds (else each list's, else pytx's defaults: 31 bits, 80% of
 * the upload's frames, 0% of the listed video's), its digests against `options.matcher`'s exact
 * lists. The exact lookups are not written to the matcher's decision log (`decision: false`).
 *
 * @example
 * ```ts
 * const index = VpdqIndex.fromEntries([{ list: 'known', id: 'v1', hash: signalText }]);
 * const result = await matchVideo('upload.mp4', { index, matcher });
 * if (result.matched) block(result.videos, result.exact);
 * ```
 */
export async function matchVideo<M = unknown>(
  input: VideoInput,
  options: MatchVideoOptions<M>,
): Promise<VideoMatchResult<M>> {
  const o = optionsObject(options, 'options');
  const { index, matcher, distance, queryMatchPercent, listedMatchPercent, ...hashOptions } = o;
  if (!(index instanceof VpdqIndex)) invalid('VpdqIndex', 'options.index', index);
  if (matcher !== undefined && typeof (matcher as { matchHash?: unknown }).matchHash !== 'function')
    invalid('matcher with matchHash', 'options.matcher', matcher);
  // Checked before FFmpeg runs: a bad threshold is the caller's mistake, not worth a decode.
  const given = { distance, queryMatchPercent, listedMatchPercent };
  resolveVpdqThresholds(given, 'options');
  const video = await hashVideo(input, hashOptions);
  const videos = index.match(video.frames, given);
  const exact =
    matcher === undefined
      ? []
      : [
          ...matcher.matchHash({ algorithm: 'md5', hash: video.md5 }, { decision: false }),
          ...matcher.matchHash({ algorithm: 'sha256', hash: video.sha256 }, { decision: false }),
        ];
  return {
    matched: videos.length > 0 || exact.length > 0,
    videos,
    exact,
    frames: video.frames,
    md5: video.md5,
    sha256: video.sha256,
  };
}
