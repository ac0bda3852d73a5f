/**
 * The one place hashwarden touches sharp (libvips). An upload is decoded once into an RGBA raster
 * that every perceptual algorithm reads. Decisions that change hashes, and why:
 * - Embedded ICC profiles are ignored: the reference tools hash the stored pixel values, and
 *   converting to sRGB first was measured to move blockhash by up to 14 bits.
 * - EXIF orientation is applied (the blockhash specification says it SHOULD be), so a photo and
 *   its rotated-by-metadata copy hash alike.
 * - `fast` resolution asks for a JPEG scaled by 1/2, 1/4 or 1/8 while keeping ≥ 256 px on the
 *   short side, unless PDQ is wanted (its reference samples the full decode); libjpeg then decodes fewer DCT coefficients (sharp takes one power of two less
 *   from the decoder, avoiding libjpeg's rounding at exact factors, and halves the rest). Other
 *   formats have no cheap scaled decode and are decoded whole. Measured against full decodes in
 *   `bench/resolution.ts`.
 */
import sharp, { type Metadata } from 'sharp';
import { HashwardenError } from '../errors.js';
import type { ResolvedImageOptions } from './options.js';
import { mayCarryOrientation, sniffImageFormat, type ImageFormat } from './sniff.js';

/**
 * Shortest side kept when scaling a JPEG at `fast` resolution. At 256 every image of the
 * blockhash reference set and the shared photos stayed within 2 bits of the full decode
 * (mean 0.02); at 128 the worst case was 4 bits (`bench/resolution.ts`, docs/hashing.md).
 * Images made of flat areas are the exception: blocks tie with their band's median, and the
 * reference's tie rule flips them together (one generated test vector moves 23 bits).
 */
export const FAST_MIN_SIDE = 256;

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
}

const SHARP_TOO_LARGE = /pixel limit|too large|exceeds/i;
const SHARP_TIMEOUT = /timeout/i;
const SHARP_UNSUPPORTED = /unsupported image format/i;

function translate(error: unknown, format: string): HashwardenError {
  const message = error instanceof Error ? error.message : String(error);
  if (SHARP_TIMEOUT.test(message)) return new HashwardenError('ERR_IMAGE_TIMEOUT', `Decoding the ${format} image timed out`, { cause: error });
  if (SHARP_TOO_LARGE.test(message)) return new HashwardenError('ERR_IMAGE_TOO_LARGE', `The ${format} image is too large: ${message}`, { cause: error });
  if (SHARP_UNSUPPORTED.test(message)) return new HashwardenError('ERR_UNSUPPORTED_FORMAT', `The ${format} data is not a decodable image: ${message}`, { cause: error });
  return new HashwardenError('ERR_IMAGE_DECODE', `Could not decode the ${format} image: ${message}`, { cause: error });
}

/** Checks the byte signature against the allowlist; returns the format. */
export function checkFormat(bytes: Uint8Array, options: ResolvedImageOptions): ImageFormat {
  const sniffed = sniffImageFormat(bytes);
  if (sniffed === 'svg' || sniffed === 'pdf') {
    throw new HashwardenError('ERR_UNSUPPORTED_FORMAT', `${sniffed.toUpperCase()} input is refused: it can reference other files and is not a raster image upload`);
  }
  if (sniffed === 'unknown') {
    throw new HashwardenError('ERR_UNSUPPORTED_FORMAT', bytes.length === 0 ? 'The input is empty' : 'The input is not a supported image format (JPEG, PNG, WebP, GIF, AVIF, HEIF, TIFF)');
  }
  if (!options.formats.has(sniffed)) {
    throw new HashwardenError('ERR_UNSUPPORTED_FORMAT', `${sniffed.toUpperCase()} input is not in the allowed formats (${[...options.formats].join(', ')})`);
  }
  return sniffed;
}

/**
 * Decodes `bytes` (already checked with {@link checkFormat}) into RGBA at the configured resolution.
 * Rejects with `ERR_IMAGE_TOO_LARGE`, `ERR_IMAGE_DECODE` or `ERR_IMAGE_TIMEOUT`.
 */
export async function decodeRgba(bytes: Uint8Array, format: ImageFormat, options: ResolvedImageOptions): Promise<DecodedImage> {
  const input = { failOn: options.failOn, limitInputPixels: options.maxPixels, ignoreIcc: true, autoOrient: true } as const;
  // One sharp instance: the header read (when needed) and the decode share the input.
  let pipeline = sharp(bytes, input);
  // The header is read first only when the decode depends on it (the scaled JPEG decode needs the
  // size) or when the file may carry an EXIF orientation to report. Otherwise it is skipped: that
  // read cost about a tenth of decoding a small image (docs/benchmark.md), the pixel limit is
  // enforced by the decoder itself (limitInputPixels, before any pixel is decoded), and the size
  // comes with the decoded pixels.
  const scalable = options.resolution === 'fast' && format === 'jpeg' && !options.perceptual.includes('pdq');
  let meta: Metadata | undefined;
  // The size after orientation, from the header when it was read.
  let width = 0;
  let height = 0;
  if (scalable || mayCarryOrientation(bytes, format)) {
    try {
      meta = await pipeline.metadata();
    } catch (error) {
      throw translate(error, format);
    }
    if (meta.format === 'svg' || meta.format === 'pdf') {
      throw new HashwardenError('ERR_UNSUPPORTED_FORMAT', `The data decodes as ${meta.format.toUpperCase()}, which is refused`);
    }
    width = meta.autoOrient?.width ?? meta.width ?? 0;
    height = meta.autoOrient?.height ?? meta.height ?? 0;
    if (!width || !height) throw new HashwardenError('ERR_IMAGE_DECODE', `The ${format} image has no dimensions`);
    if (width * height > options.maxPixels) {
      throw new HashwardenError('ERR_IMAGE_TOO_LARGE', `The ${format} image has ${width} × ${height} pixels, above the limit of ${options.maxPixels}`);
    }
  }

  let scale = 1;
  // PDQ is decoded whole: its reference samples the full decode, and a scaled JPEG decode moved
  // PDQ by up to 18 bits (5 of 131 photos over 10; bench/pdq-conformance.ts), where the full
  // decode is bit-exact. Blockhash alone keeps the cheap scaled decode.
  if (scalable) {
    while (scale < 8 && Math.min(width, height) / (scale * 2) >= FAST_MIN_SIDE) scale *= 2;
  }
  if (scale > 1) pipeline = pipeline.resize(Math.ceil(width / scale), Math.ceil(height / scale), { fit: 'fill' });
  try {
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .timeout({ seconds: options.timeoutSeconds })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`expected 4 channels, decoder produced ${info.channels}`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
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
