/**
 * `matchVideo`: an upload's vPDQ matched against listed videos (python-threatexchange's semantics,
 * src/search/vpdq.ts) and its exact MD5/SHA-256 against exact lists, as images are. The listed
 * videos are a matcher's own vPDQ entries, or an index given; the exact lists are a matcher's
 * (`Matcher` of the core entry, taken by shape: the video room sits below the matcher and imports
 * none of it).
 */
import { boolean, invalid, optionsObject } from '../validate.js';
import { hashVideo, type VideoFrameHash, type VideoInput } from './hash.js';
import {
  resolveVpdqThresholds,
  VpdqIndex,
  type VpdqMatchOptions,
  type VpdqThresholds,
  type VpdqVideoMatch,
} from '../search/vpdq.js';
import type { VpdqFeature } from '../algorithms/vpdq.js';
import type { HashVideoOptions } from './options.js';

/** What `matchVideo` needs of a matcher for the file's exact hashes: `Matcher.matchHash`. */
export interface ExactHashLookup<M> {
  matchHash(query: { algorithm: 'md5' | 'sha256'; hash: string }, options?: { decision?: boolean }): readonly M[];
}

/**
 * What `matchVideo` takes of a matcher: `matchHash` for the file's exact hashes and, when no
 * `index` is given, `matchVpdq` for its frames against the matcher's own vPDQ entries.
 */
export interface VideoLookup<M> extends ExactHashLookup<M> {
  matchVpdq?(
    frames: readonly VpdqFeature[],
    options?: VpdqMatchOptions & { contentId?: string; decision?: boolean },
  ): readonly VpdqVideoMatch[];
}

/** Options of {@link matchVideo}. */
export interface MatchVideoOptions<M = unknown> extends HashVideoOptions, VpdqThresholds {
  /** The listed videos. Default: `matcher`'s own vPDQ entries (`Matcher.matchVpdq`). */
  readonly index?: VpdqIndex;
  /**
   * A matcher: its exact (MD5/SHA-256) lists are where the file's digests are looked up (none: no
   * exact lookup), and without `index` its vPDQ entries are the listed videos.
   */
  readonly matcher?: VideoLookup<M>;
  /** Per-list thresholds for this call, where the call's own are not given (as `VpdqIndex.match` takes them). */
  readonly lists?: Readonly<Record<string, VpdqThresholds>>;
  /** The caller's id for the upload, written with the decision to the matcher's decision log (no `index`). */
  readonly contentId?: string;
  /** `false`: the decision is not written to the matcher's decision log (no `index`). Default `true`. */
  readonly decision?: boolean;
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
 * `options.index`, or else the matcher's own vPDQ entries (`matcher.matchVpdq`, which writes the
 * decision to the matcher's decision log, with `contentId`, unless `decision: false`), at the given
 * thresholds (else each list's, else pytx's defaults: 31 bits, 80% of the upload's frames, 0% of
 * the listed video's); its digests against `options.matcher`'s exact lists. The exact lookups are
 * not written to the decision log (`decision: false`). Neither an index nor a matcher with
 * `matchVpdq` is a TypeError.
 *
 * @example
 * ```ts
 * const matcher = await Matcher.open('lists.snap'); // video entries and exact hashes
 * const result = await matchVideo('upload.mp4', { matcher, contentId: 'upload-8812' });
 * if (result.matched) block(result.videos, result.exact);
 * ```
 */
export async function matchVideo<M = unknown>(
  input: VideoInput,
  options: MatchVideoOptions<M>,
): Promise<VideoMatchResult<M>> {
  const o = optionsObject(options, 'options');
  const {
    index,
    matcher,
    distance,
    queryMatchPercent,
    listedMatchPercent,
    lists,
    contentId,
    decision,
    ...hashOptions
  } = o;
  if (index !== undefined && !(index instanceof VpdqIndex)) invalid('VpdqIndex', 'options.index', index);
  if (matcher !== undefined && typeof (matcher as { matchHash?: unknown }).matchHash !== 'function')
    invalid('matcher with matchHash', 'options.matcher', matcher);
  if (index === undefined && typeof matcher?.matchVpdq !== 'function')
    invalid('VpdqIndex, or a matcher with matchVpdq', 'options.index', index);
  // Checked before FFmpeg runs: a bad threshold is the caller's mistake, not worth a decode.
  const given = { distance, queryMatchPercent, listedMatchPercent, lists };
  resolveVpdqThresholds({ distance, queryMatchPercent, listedMatchPercent }, 'options');
  for (const [name, t] of Object.entries(optionsObject(lists, 'options.lists')))
    resolveVpdqThresholds(t, `options.lists.${name}`);
  if (decision !== undefined) boolean(decision, 'options.decision');
  if (contentId !== undefined && typeof contentId !== 'string') invalid('string', 'options.contentId', contentId);
  const video = await hashVideo(input, hashOptions);
  const videos =
    index !== undefined
      ? index.match(video.frames, given)
      : (matcher as Required<VideoLookup<M>>).matchVpdq(video.frames, {
          ...given,
          ...(contentId === undefined ? {} : { contentId }),
          ...(decision === undefined ? {} : { decision }),
        });
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
