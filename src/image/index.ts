/**
 * `hashwarden/image`: image hashing with sharp. Importing this entry loads sharp (a native module,
 * slow to load: docs/serverless.md); the core entry `hashwarden` does not, and loads this one on
 * first `matchImage`.
 */
export { hashImage, PERCEPTUAL_MIN_SIDE } from './hash.js';
export type { ImageInput } from './input.js';
export type {
  DihedralHashes,
  FrameHashes,
  ImageHashResult,
  ImageHashes,
  ImageInfo,
  ImageQualities,
  TrimmedHashes,
  UnusableHashes,
} from './hash.js';
export { searchedHashes } from './queries.js';
export type { HashedImage, SearchedHash } from './queries.js';
export { cropRgba, findBorder } from './border.js';
export type { Box } from './border.js';
export {
  IMAGE_ALGORITHMS,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_PIXELS,
  DEFAULT_TIMEOUT_SECONDS,
  DEFAULT_MAX_FRAMES,
  MAX_FRAMES_LIMIT,
} from './options.js';
export type { HashImageOptions, Resolution, FailOn } from './options.js';
export { ANIMATED_FORMATS, IMAGE_FORMATS, mayBeAnimated, sniffImageFormat } from './sniff.js';
export type { ImageFormat, SniffedFormat } from './sniff.js';
