/**
 * The one place hashwarden touches sharp (libvips). An upload is decoded once into an RGBA raster
 * that every perceptual algorithm reads. Decisions that change hashes, and why:
 * - Embedded ICC profiles are ignored: the reference tools hash the stored pixel values, and
 *   converting to sRGB first moves blockhash away from theirs.
 * - EXIF orientation is applied (the blockhash specification says it SHOULD be), so a photo and
 *   its rotated-by-metadata copy hash alike.
 * - `fast` resolution asks for a JPEG scaled by 1/2, 1/4 or 1/8 while keeping ≥ 256 px on the
 *   short side, unless PDQ is wanted (its reference samples the full decode); libjpeg then decodes fewer DCT coefficients (sharp takes one power of two less
 *   from the decoder, avoiding libjpeg's rounding at exact factors, and halves the rest). Other
 *   formats have no cheap scaled decode and are decoded whole. Measured against full decodes in
 *   `bench/resolution.ts`.
 * - An animated GIF or WebP is decoded in one pass into its first `maxFrames` frames (sharp's
 *   `pages`), each as a viewer shows it (libvips composites each frame over the previous ones);
 *   the first frame is the same raster a still decode of the file gives.
 */
import { createRequire } from 'node:module';
import type { Metadata, OutputInfo, Sharp, SharpOptions } from 'sharp';

// sharp is CommonJS: loaded with require it costs a fresh process much less than through the ES
// module loader (`import`) (docs/serverless.md), and a serverless cold start pays that cost.
const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp').default;
import { HashwardenError } from '../errors.js';
import type { ResolvedImageOptions } from './options.js';
import {
  ANIMATED_FORMATS,
  isHevcHeif,
  mayBeAnimated,
  mayCarryOrientation,
  sniffImageFormat,
  type ImageFormat,
} from './sniff.js';

/**
 * Shortest side kept when scaling a JPEG at `fast` resolution. At 256 the blockhashes of the
 * reference set and the shared photos stay close to those of the full decode, closer than at 128
 * (`bench/resolution.ts`, docs/hashing.md). Images made of flat areas are the exception: blocks
 * tie with their band's median, and the reference's tie rule flips them together (one
 * generated test vector's hash moves far).
 */
const FAST_MIN_SIDE = 256;

/** One frame of an animated image: RGBA, 4 bytes per pixel, after EXIF orientation. */
export interface DecodedFrame {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** A decoded image: RGBA pixels plus what was learnt about the file. */
export interface DecodedImage {
  /** RGBA, 4 bytes per pixel, after EXIF orientation; possibly scaled down (see `scale`). */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
  /** Size of the stored image, after orientation, before any scaling. */
  readonly originalWidth: number;
  readonly originalHeight: number;
  /** EXIF orientation tag (1–8) that was applied, 1 when absent. */
  readonly orientation: number;
  /** Decoder scale factor: 1 at full resolution, 2/4/8 when JPEG shrink-on-load was used. */
  readonly scale: number;
  /**
   * Animated GIF and WebP only (more than one frame): the frames decoded, in display order, the
   * first being `data` itself; the first `maxFrames`, or fewer when more would not fit in
   * `maxPixels` together.
   */
  readonly frames?: readonly DecodedFrame[];
  /** Animated GIF and WebP only: how many frames the file holds, decoded or not. */
  readonly frameCount?: number;
}

/**
 * What sharp does to show stored pixels upright, per EXIF orientation (flips happen before the
 * turn in a sharp pipeline), for frames: sharp cannot turn a multi-page image itself ("Rotate is
 * not supported for multi-page images"), so an animation is decoded as stored and each frame
 * turned on its own. The same moves `autoOrient` makes for a still image.
 */
const ORIENT: Readonly<Record<number, (frame: Sharp) => Sharp>> = {
  2: (f) => f.flop(),
  3: (f) => f.rotate(180),
  4: (f) => f.flip(),
  5: (f) => f.flop().rotate(270),
  6: (f) => f.rotate(90),
  7: (f) => f.flop().rotate(90),
  8: (f) => f.rotate(270),
};

const SHARP_TOO_LARGE = /pixel limit|too large|exceeds/i;
const SHARP_TIMEOUT = /timeout/i;
const SHARP_UNSUPPORTED = /unsupported image format/i;
/**
 * libheif without a decoder for the image's codec: sharp's prebuilt libvips has none for HEVC
 * (patents), the codec of the iPhone's HEIC photos. The file may be perfectly sound, so it is
 * not a decode error: the service must convert it, or check it elsewhere.
 */
const MISSING_CODEC = /has not been built in|no matching decoder|unsupported codec/i;

/**
 * Whether this libvips decodes HEVC-coded HEIF (HEIC): it lists `.heic` among its HEIF input
 * suffixes only then. sharp's prebuilt libvips does not (it lists `.avif` alone).
 */
const HEVC_DECODER = sharp.format.heif?.input.fileSuffix?.includes('.heic') ?? false;

/**
 * Formats whose decoder can be missing a codec or a feature (libheif's codecs, TIFF's
 * compressions): only for these does an "unsupported" message mean the file cannot be decoded
 * here rather than that it is damaged.
 */
const CODEC_FORMATS: ReadonlySet<string> = new Set(['heif', 'avif', 'tiff']);

/**
 * A sharp failure as a typed error. libvips keeps one error buffer per process, so a decode that
 * fails while another does can be given that one's message (seen under load: a corrupt JPEG
 * reported with libheif's words): the codes that come from messages are only taken where they
 * can be true, and HEIC without a decoder is refused from its brands before decoding.
 */
function translate(error: unknown, format: string): HashwardenError {
  const message = error instanceof Error ? error.message : String(error);
  if (SHARP_TIMEOUT.test(message))
    return new HashwardenError('ERR_IMAGE_TIMEOUT', `Decoding the ${format} image timed out`, { cause: error });
  if (SHARP_TOO_LARGE.test(message))
    return new HashwardenError('ERR_IMAGE_TOO_LARGE', `The ${format} image is too large: ${message}`, { cause: error });
  if (CODEC_FORMATS.has(format) && SHARP_UNSUPPORTED.test(message))
    return new HashwardenError('ERR_UNSUPPORTED_FORMAT', `The ${format} data is not a decodable image: ${message}`, {
      cause: error,
    });
  // Only the last line: libvips prefixes the errors of every loader it tried first.
  if (CODEC_FORMATS.has(format) && MISSING_CODEC.test(message))
    return new HashwardenError(
      'ERR_UNSUPPORTED_FORMAT',
      `This build of libvips cannot decode the codec of this ${format} image: ${message.trim().split('\n').at(-1) ?? message}`,
      { cause: error },
    );
  return new HashwardenError('ERR_IMAGE_DECODE', `Could not decode the ${format} image: ${message}`, { cause: error });
}

/** Checks the byte signature against the allowlist; returns the format. */
export function checkFormat(bytes: Uint8Array, options: ResolvedImageOptions): ImageFormat {
  const sniffed = sniffImageFormat(bytes);
  if (sniffed === 'svg' || sniffed === 'pdf') {
    throw new HashwardenError(
      'ERR_UNSUPPORTED_FORMAT',
      `${sniffed.toUpperCase()} input is refused: it can reference other files and is not a raster image upload`,
    );
  }
  if (sniffed === 'unknown') {
    throw new HashwardenError(
      'ERR_UNSUPPORTED_FORMAT',
      bytes.length === 0
        ? 'The input is empty'
        : 'The input is not a supported image format (JPEG, PNG, WebP, GIF, AVIF, HEIF, TIFF)',
    );
  }
  if (!options.formats.has(sniffed)) {
    throw new HashwardenError(
      'ERR_UNSUPPORTED_FORMAT',
      `${sniffed.toUpperCase()} input is not in the allowed formats (${[...options.formats].join(', ')})`,
    );
  }
  if (sniffed === 'heif' && !HEVC_DECODER && isHevcHeif(bytes)) {
    throw new HashwardenError(
      'ERR_UNSUPPORTED_FORMAT',
      'This HEIF image is HEVC-coded (HEIC), and this build of libvips has no HEVC decoder: convert it (to JPEG, say) before it can be checked',
    );
  }
  return sniffed;
}

/** A Buffer's bytes as a plain Uint8Array view (no copy). */
function view(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Runs a decode to 8-bit sRGB RGBA within the timeout; the pixels and what sharp says of them. */
async function rgba(pipeline: Sharp, timeoutSeconds: number): Promise<{ data: Uint8Array; info: OutputInfo }> {
  const { data, info } = await pipeline
    .toColourspace('srgb')
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .timeout({ seconds: timeoutSeconds })
    .toBuffer({ resolveWithObject: true });
  return { data: view(data), info };
}

/**
 * Decodes `bytes` (already checked with {@link checkFormat}) into RGBA at the configured resolution.
 * Rejects with `ERR_IMAGE_TOO_LARGE`, `ERR_IMAGE_DECODE` or `ERR_IMAGE_TIMEOUT`.
 */
export async function decodeRgba(
  bytes: Uint8Array,
  format: ImageFormat,
  options: ResolvedImageOptions,
): Promise<DecodedImage> {
  const input = {
    failOn: options.failOn,
    limitInputPixels: options.maxPixels,
    ignoreIcc: true,
    autoOrient: true,
  } as const;
  // One sharp instance: the header read (when needed) and the decode share the input.
  let pipeline = sharp(bytes, input);
  // The header is read first only when the decode depends on it (the scaled JPEG decode needs the
  // size, an animation its frame count) or when the file may carry an EXIF orientation to report.
  // Otherwise it is skipped: that read costs a visible share of decoding a small image
  // (docs/benchmark.md), the pixel limit is enforced by the decoder itself (limitInputPixels,
  // before any pixel is decoded), and the size comes with the decoded pixels.
  const scalable = options.resolution === 'fast' && format === 'jpeg' && !options.perceptual.includes('pdq');
  let meta: Metadata | undefined;
  // The size after orientation, from the header when it was read.
  let width = 0;
  let height = 0;
  if (scalable || mayCarryOrientation(bytes, format) || mayBeAnimated(bytes, format)) {
    try {
      meta = await pipeline.metadata();
    } catch (error) {
      throw translate(error, format);
    }
    if (meta.format === 'svg' || meta.format === 'pdf') {
      throw new HashwardenError(
        'ERR_UNSUPPORTED_FORMAT',
        `The data decodes as ${meta.format.toUpperCase()}, which is refused`,
      );
    }
    width = meta.autoOrient?.width ?? meta.width ?? 0;
    height = meta.autoOrient?.height ?? meta.height ?? 0;
    if (!width || !height) throw new HashwardenError('ERR_IMAGE_DECODE', `The ${format} image has no dimensions`);
    if (width * height > options.maxPixels) {
      throw new HashwardenError(
        'ERR_IMAGE_TOO_LARGE',
        `The ${format} image has ${width} × ${height} pixels, above the limit of ${options.maxPixels}`,
      );
    }
    if (ANIMATED_FORMATS.has(format) && (meta.pages ?? 1) > 1)
      return decodeFrames(bytes, input, format, meta, width, height, options);
  }

  let scale = 1;
  // PDQ is decoded whole: its reference samples the full decode, and a scaled JPEG decode moves
  // PDQ far on some photos (bench/pdq-conformance.ts), where the full decode is bit-exact.
  // Blockhash alone keeps the cheap scaled decode.
  if (scalable) {
    while (scale < 8 && Math.min(width, height) / (scale * 2) >= FAST_MIN_SIDE) scale *= 2;
  }
  if (scale > 1) pipeline = pipeline.resize(Math.ceil(width / scale), Math.ceil(height / scale), { fit: 'fill' });
  try {
    const { data, info } = await rgba(pipeline, options.timeoutSeconds);
    if (info.channels !== 4) throw new Error(`expected 4 channels, decoder produced ${info.channels}`);
    return {
      data,
      width: info.width,
      height: info.height,
      format,
      originalWidth: meta === undefined ? info.width : width,
      originalHeight: meta === undefined ? info.height : height,
      orientation: meta?.orientation ?? 1,
      scale,
    };
  } catch (error) {
    throw translate(error, format);
  }
}

/**
 * Decodes the first frames of an animation (`meta.pages` frames of `width` × `height` after
 * orientation) in one pass: as many as `maxFrames` allows and as fit in `maxPixels` together (the
 * decoder's own pixel limit then holds for the whole strip of frames it returns).
 */
async function decodeFrames(
  bytes: Uint8Array,
  input: SharpOptions,
  format: ImageFormat,
  meta: Metadata,
  width: number,
  height: number,
  options: ResolvedImageOptions,
): Promise<DecodedImage> {
  const pages = meta.pages ?? 1;
  const count = Math.min(pages, options.maxFrames, Math.floor(options.maxPixels / (width * height)));
  const orientation = meta.orientation ?? 1;
  const orient = ORIENT[orientation];
  let frames: DecodedFrame[];
  try {
    const { data, info } = await rgba(
      sharp(bytes, { ...input, autoOrient: false, pages: count }),
      options.timeoutSeconds,
    );
    const frameHeight = info.pageHeight ?? info.height / count;
    if (info.channels !== 4 || frameHeight * count !== info.height) {
      throw new Error(
        `expected ${count} frames of 4 channels, decoder produced ${info.channels} channels and ${info.height} rows`,
      );
    }
    const frameBytes = info.width * frameHeight * 4;
    frames = Array.from({ length: count }, (_, i) => ({
      data: data.subarray(i * frameBytes, (i + 1) * frameBytes),
      width: info.width,
      height: frameHeight,
    }));
    if (orient !== undefined) {
      const turned: DecodedFrame[] = [];
      for (const frame of frames) {
        const moved = await orient(
          sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 4 } }),
        )
          .raw()
          .timeout({ seconds: options.timeoutSeconds })
          .toBuffer({ resolveWithObject: true });
        turned.push({ data: view(moved.data), width: moved.info.width, height: moved.info.height });
      }
      frames = turned;
    }
  } catch (error) {
    throw translate(error, format);
  }
  const first = frames[0] as DecodedFrame;
  return {
    data: first.data,
    width: first.width,
    height: first.height,
    format,
    originalWidth: width,
    originalHeight: height,
    orientation,
    scale: 1,
    frames,
    frameCount: pages,
  };
}
