/**
 * `hashwarden/video`: vPDQ video hashing with FFmpeg (docs/video.md). Importing this entry loads
 * no native module and starts nothing; `hashVideo` runs the system's `ffprobe` and `ffmpeg`. The
 * core entry `hashwarden` does not load it.
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
