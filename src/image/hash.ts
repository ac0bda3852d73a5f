/**
 * `hashImage`: read an upload once, hash its bytes (exact algorithms) and its pixels (perceptual
 * algorithms) from a single decode.
 */
import { EXACT_DIGESTS } from '../algorithms/digests.js';
import { formatHex } from '../algorithms/hex.js';
import type { AlgorithmName } from '../algorithms/registry.js';
import type { Box } from './border.js';
import { checkFormat, decodeRgba, type DecodedImage } from './decode.js';
import { checkInput, pinInput, readInput, type ImageInput, type ReadUpload } from './input.js';
import { resolveImageOptions, type HashImageOptions, type ResolvedImageOptions } from './options.js';
import { hashDecoded, type FramedBytes, type ImageQualities, type RasterBytes, type UnusableHashes } from './pixels.js';

export type { ImageQualities, UnusableHashes } from './pixels.js';
import type { ImageFormat } from './sniff.js';

export { PERCEPTUAL_MIN_SIDE } from './pixels.js';

/** What `hashImage` learnt about the image. */
export interface ImageInfo {
  readonly format: ImageFormat;
  /** Size after EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** EXIF orientation applied (1 = none). */
  readonly orientation: number;
  readonly bytes: number;
  /**
   * Animated GIF and WebP only: how many frames the file holds. More than `frames.length` in the
   * result when the frame or pixel limit cut the hashing short: the frames after were not checked.
   */
  readonly frameCount?: number;
}

/** Hashes of one image, lower-case hex, keyed by algorithm (only those requested). */
export type ImageHashes = { readonly [A in AlgorithmName]?: string };

/**
 * The hashes of the image turned and mirrored, per perceptual algorithm: 8 hex strings in the
 * order of `DIHEDRAL_NAMES` (the first is the hash itself). Only with the `dihedral` option.
 */
export type DihedralHashes = { readonly [A in AlgorithmName]?: readonly string[] };

/**
 * The perceptual hashes of what lies inside the image's uniform border (letterbox, pillarbox,
 * frame, padding), with the `trim` option when there is one.
 */
export interface TrimmedHashes {
  /** The part inside the border, in pixels of the image after EXIF orientation. */
  readonly box: Box;
  readonly hashes: ImageHashes;
  readonly quality: ImageQualities;
  readonly unusable: UnusableHashes;
  /** With the `dihedral` option: the 8 hashes of each perceptual algorithm. */
  readonly dihedral?: DihedralHashes;
}

/**
 * The perceptual hashes of one frame of an animated image, as the top level of a result holds
 * those of a still one.
 */
export interface FrameHashes {
  /** The frame's position in the animation, 0-based. */
  readonly frame: number;
  readonly hashes: ImageHashes;
  readonly quality: ImageQualities;
  readonly unusable: UnusableHashes;
  /** With the `dihedral` option: the 8 hashes of each perceptual algorithm. */
  readonly dihedral?: DihedralHashes;
  /** With the `trim` option, when the frame has a uniform border: the hashes of what it frames. */
  readonly trimmed?: TrimmedHashes;
}

/** The result of `hashImage`. */
export interface ImageHashResult {
  readonly hashes: ImageHashes;
  /** Quality of the hashes that have one (PDQ), when computed. */
  readonly quality: ImageQualities;
  /** Computed hashes a matcher refuses to match with, and why (empty when none). */
  readonly unusable: UnusableHashes;
  /** With the `dihedral` option: the 8 hashes of each perceptual algorithm. */
  readonly dihedral?: DihedralHashes;
  /** With the `trim` option, when the image has a uniform border: the hashes of what it frames. */
  readonly trimmed?: TrimmedHashes;
  /**
   * Animated GIF and WebP only, when perceptual hashes were asked for: the perceptual hashes of
   * each frame hashed, in order from frame 0 (whose hashes are also the top level's), at most
   * `maxFrames`. A still image has no `frames`.
   */
  readonly frames?: readonly FrameHashes[];
  readonly image: ImageInfo;
}

/** An {@link ImageHashResult} with its hashes in bytes. */
export interface HashedBytes extends FramedBytes {
  readonly frames?: readonly (FramedBytes & { readonly frame: number })[];
  readonly image: ImageInfo;
}

/** Each value of `record` through `fn`, keys kept in order. */
function mapHashes<T, U>(
  record: { readonly [A in AlgorithmName]?: T },
  fn: (value: T) => U,
): { [A in AlgorithmName]?: U } {
  const out: { [A in AlgorithmName]?: U } = {};
  for (const [name, value] of Object.entries(record) as [AlgorithmName, T][]) out[name] = fn(value);
  return out;
}

function rasterHex(raster: RasterBytes): Omit<TrimmedHashes, 'box'> {
  return {
    hashes: mapHashes(raster.hashes, formatHex),
    quality: raster.quality,
    unusable: raster.unusable,
    ...(raster.dihedral === undefined
      ? {}
      : { dihedral: mapHashes(raster.dihedral, (hashes) => hashes.map(formatHex)) }),
  };
}

function framedHex(raster: FramedBytes): Omit<FrameHashes, 'frame'> {
  return {
    ...rasterHex(raster),
    ...(raster.trimmed === undefined ? {} : { trimmed: { box: raster.trimmed.box, ...rasterHex(raster.trimmed) } }),
  };
}

/** The result as `hashImage` returns it: every hash formatted to lower-case hex, once. */
export function formatHashed(hashed: HashedBytes): ImageHashResult {
  return {
    ...framedHex(hashed),
    ...(hashed.frames === undefined
      ? {}
      : { frames: hashed.frames.map((frame) => ({ frame: frame.frame, ...framedHex(frame) })) }),
    image: hashed.image,
  };
}

/**
 * What hashes an upload elsewhere: the hashing threads (pool.ts's `HashPool`), which run
 * `hashRaw` itself on their side. Named here so that this module, which the threads load, does
 * not import the pool.
 */
export interface UploadHasher {
  hash(bytes: Uint8Array, options: ResolvedImageOptions): Promise<HashedBytes>;
}

/**
 * Hashes already-read bytes with already-resolved options, each hash kept as bytes: the shared
 * core of `hashImage` (which formats the result) and of the matcher's uploads (which search it).
 * With `pool`, an upload to decode is decoded and hashed on one of its threads; the result is the same.
 * `digests`: exact hashes of these bytes taken while they were read, used instead of hashing them
 * again (the pool's threads take their own: ask for none when they will hash).
 */
export async function hashRaw(
  bytes: Uint8Array,
  options: ResolvedImageOptions,
  pool?: UploadHasher,
  digests: ReadUpload['digests'] = {},
): Promise<HashedBytes> {
  const format = checkFormat(bytes, options);
  // A pass that decodes goes to a thread whole; one of exact hashes alone costs less than the trip.
  if (pool !== undefined && options.perceptual.length > 0) return pool.hash(bytes, options);
  let decoded: DecodedImage | undefined;
  let pixels: FramedBytes = { hashes: {}, quality: {}, unusable: {}, ...(options.dihedral ? { dihedral: {} } : {}) };
  let frames: readonly (FramedBytes & { frame: number })[] | undefined;
  if (options.perceptual.length > 0) {
    const image = await decodeRgba(bytes, format, options);
    decoded = image;
    ({ pixels, frames } = hashDecoded(image, options));
  }
  const hashes: Partial<Record<AlgorithmName, Uint8Array>> = { ...pixels.hashes };
  for (const name of options.exact)
    hashes[name] = digests[name] ?? EXACT_DIGESTS[name as keyof typeof EXACT_DIGESTS].digest(bytes);
  return {
    hashes,
    quality: pixels.quality,
    unusable: pixels.unusable,
    ...(options.dihedral ? { dihedral: pixels.dihedral ?? {} } : {}),
    ...(pixels.trimmed === undefined ? {} : { trimmed: pixels.trimmed }),
    ...(frames === undefined ? {} : { frames }),
    image: {
      format,
      width: decoded?.originalWidth ?? 0,
      height: decoded?.originalHeight ?? 0,
      orientation: decoded?.orientation ?? 1,
      bytes: bytes.length,
      ...(decoded?.frameCount === undefined ? {} : { frameCount: decoded.frameCount }),
    },
  };
}

/**
 * Hashes an image: exact hashes of its bytes and perceptual hashes of its pixels, from one decode;
 * of an animated GIF or WebP, the perceptual hashes of each of its first `maxFrames` frames too
 * (`frames`; the top level holds frame 0's). Rejects with a `HashwardenError`: `ERR_INPUT_READ`, `ERR_UNSUPPORTED_FORMAT`,
 * `ERR_IMAGE_TOO_LARGE`, `ERR_IMAGE_DECODE` or `ERR_IMAGE_TIMEOUT`. Treat any of them on an
 * upload as "cannot be checked", not as "clean".
 *
 * @param input the file's bytes, copied at call time (the caller may reuse its buffer as soon as the
 *   call returns its promise); its path, read during the call; or a stream of its bytes (a Node
 *   `Readable`, a web `ReadableStream`, a `Blob` or `File`, an async iterable of `Uint8Array`),
 *   read during the call within `maxBytes` (stopped at the first chunk past it, `ERR_IMAGE_TOO_LARGE`)
 *   and `timeoutSeconds` (`ERR_IMAGE_TIMEOUT`), its exact hashes taken as the bytes pass; a stream
 *   that fails, gives a chunk that is not bytes, or was read from, ended, locked or passed to
 *   another call already is `ERR_INPUT_READ`
 * @param options defaults: all algorithms, `fast` resolution, 50 MiB, 100 MP, 20 s, 32 frames, failOn `warning`
 * @example
 * ```ts
 * import { hashImage } from 'hashwarden/image';
 * const { hashes } = await hashImage('upload.jpg', { algorithms: ['blockhash', 'md5'] });
 * console.log(hashes.blockhash); // 64 hex digits
 * ```
 */
export async function hashImage(
  input: ImageInput,
  options?: HashImageOptions | ResolvedImageOptions,
): Promise<ImageHashResult> {
  const resolved = resolveImageOptions(options);
  // Pinned before the first await: bytes the caller changes after the call are not what it hashes.
  checkInput(input, resolved.maxBytes);
  const pinned = pinInput(input);
  const { maxBytes, timeoutSeconds, exact } = resolved;
  const { bytes, digests } = await readInput(pinned, { maxBytes, timeoutSeconds, digests: exact });
  return formatHashed(await hashRaw(bytes, resolved, undefined, digests));
}
