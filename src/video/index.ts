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
  DEFAULT_VIDEO_TRIM,
  FFMPEG_ENV,
  FFPROBE_ENV,
  MAX_DOWNSAMPLE_DIMENSION,
  MAX_SECONDS_PER_HASH,
  resolveVideoOptions,
} from './options.js';
export type { HashVideoOptions, ResolvedVideoOptions } from './options.js';
export {
  COMPANION_DECODERS,
  SNIFF_BYTES as VIDEO_SNIFF_BYTES,
  sniffContainer as sniffVideoContainer,
  VIDEO_CONTAINERS,
  VIDEO_DECODERS,
} from './container.js';
export type { VideoContainer } from './container.js';
export {
  formatVpdqJson,
  formatVpdqLines,
  MAX_VPDQ_ENTRY_BYTES,
  MAX_VPDQ_ENTRY_FRAMES,
  packVpdq,
  parseVpdqJson,
  parseVpdqLines,
  unpackVpdq,
  VPDQ_ALGORITHM,
  VPDQ_PACKED_FRAME_BYTES,
} from '../algorithms/vpdq.js';
export type { ParseVpdqOptions, VideoFrameFeature, VpdqFeature } from '../algorithms/vpdq.js';
export {
  matchVpdqBrute,
  prepareVpdqFrames,
  resolveVpdqThresholds,
  VPDQ_DISTANCE_THRESHOLD,
  VPDQ_INDEX_MATCH_THRESHOLD_PERCENT,
  VPDQ_QUALITY_THRESHOLD,
  VPDQ_QUERY_MATCH_THRESHOLD_PERCENT,
  VpdqIndex,
} from '../search/vpdq.js';
export { normalizeVpdqEntry } from '../lists/vpdq-entry.js';
export type { VpdqEntryInput, VpdqListEntry } from '../lists/vpdq-entry.js';
export type {
  VpdqFramePair,
  VpdqIndexOptions,
  VpdqMatchOptions,
  PackedVpdq,
  VpdqShares,
  VpdqThresholds,
  VpdqVideoMatch,
} from '../search/vpdq.js';
export { matchVideo } from './match-video.js';
export type { ExactHashLookup, MatchVideoOptions, VideoLookup, VideoMatchResult } from './match-video.js';
export { listedVpdqFrames, matchVideoFrameSets } from './renditions.js';
export type { VideoFrameSets } from './renditions.js';
