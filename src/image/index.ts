/**
 * `hashwarden/image`: image hashing with sharp. Importing this entry loads sharp (a native module,
 * slow to load: docs/serverless.md); the core entry `hashwarden` does not, and loads this one on
 * first `matchImage`.
 */
export { hashImage, hashBytes, readInput, PERCEPTUAL_MIN_SIDE } from './hash.js';
export { searchedHashes } from '../matcher/queries.js';
export type { HashedImage, SearchedHash } from '../matcher/queries.js';
export type { DihedralHashes, FrameHashes, ImageHashResult, ImageHashes, ImageInfo, ImageInput, ImageQualities, TrimmedHashes, UnusableHashes } from './hash.js';
export { BORDER_MIN_CONTENT, BORDER_MIN_SHARE, BORDER_TOLERANCE, cropRgba, findBorder } from './border.js';
export type { Box } from './border.js';
export {
  resolveImageOptions,
  IMAGE_ALGORITHMS,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_PIXELS,
  DEFAULT_TIMEOUT_SECONDS,
  DEFAULT_MAX_FRAMES,
  MAX_FRAMES_LIMIT,
} from './options.js';
export type { HashImageOptions, ResolvedImageOptions, Resolution, FailOn } from './options.js';
export { FAST_MIN_SIDE } from './decode.js';
export { ANIMATED_FORMATS, IMAGE_FORMATS, mayBeAnimated, sniffImageFormat } from './sniff.js';
export type { ImageFormat, SniffedFormat } from './sniff.js';
