/**
 * `hashwarden/video`: vPDQ video hashing with FFmpeg, and matching against listed videos as
 * python-threatexchange matches (docs/video.md). Importing this entry loads no native module and
 * starts nothing; `hashVideo` runs the system's `ffprobe` and `ffmpeg`. The core entry `hashwarden`
 * does not load it.
 */
export { hashVideo } from './hash.js';
export type { VideoFrameHash, VideoHashResult, VideoInput } from './hash.js';
export {
  DEFAULT_SECONDS_PER_HASH,
  DEFAULT_VIDEO_MAX_BYTES,
  DEFAULT_VIDEO_MAX_DURATION_SECONDS,
  DEFAULT_VIDEO_MAX_FRAMES,
  DEFAULT_VIDEO_MAX_PIXELS,
  DEFAULT_VIDEO_TIMEOUT_SECONDS,
  FFMPEG_ENV,
  FFPROBE_ENV,
  MAX_DOWNSAMPLE_DIMENSION,
  MAX_SECONDS_PER_HASH,
  resolveVideoOptions,
} from './options.js';
export type { HashVideoOptions, ResolvedVideoOptions } from './options.js';
export { COMPANION_DECODERS, VIDEO_CONTAINERS, VIDEO_DECODERS } from './container.js';
export type { VideoContainer } from './container.js';
export { formatVpdqJson, formatVpdqLines, parseVpdqJson, parseVpdqLines } from './format.js';
export type { ParseVpdqOptions, VideoFrameFeature, VpdqFeature } from './format.js';
export {
  MAX_VPDQ_ENTRY_BYTES,
  MAX_VPDQ_ENTRY_FRAMES,
  matchVpdqBrute,
  normalizeVpdqEntry,
  prepareVpdqFrames,
  resolveVpdqThresholds,
  VPDQ_ALGORITHM,
  VPDQ_DISTANCE_THRESHOLD,
  VPDQ_INDEX_MATCH_THRESHOLD_PERCENT,
  VPDQ_QUALITY_THRESHOLD,
  VPDQ_QUERY_MATCH_THRESHOLD_PERCENT,
  VpdqIndex,
} from './match.js';
export type {
  VpdqEntryInput,
  VpdqFramePair,
  VpdqIndexOptions,
  VpdqListEntry,
  VpdqShares,
  VpdqThresholds,
  VpdqVideoMatch,
} from './match.js';
export { matchVideo } from './match-video.js';
export type { ExactHashLookup, MatchVideoOptions, VideoMatchResult } from './match-video.js';
