/**
 * The pixel maths of hashing, everything after the decode: PDQ, blockhash, their turned and
 * mirrored hashes, the border and the hashes inside it, per frame. Pixel maths never sees a file:
 * no sharp here (hash.ts decodes, on the calling thread or on a hashing thread, and hands the
 * raster over).
 */
import {
  BLOCKHASH_MIN_DETAIL,
  BLOCKHASH_MIN_SPREAD,
  blockhash,
  blockhashDetail,
  blockhashDihedralHashes,
  blockhashFromSums,
  blockhashSpread,
  blockhashSums,
  type BlockSums,
  type RgbaImage,
} from '../algorithms/blockhash.js';
import { PDQ_MIN_QUALITY, pdqRgba, pdqRgbaDihedral, type PdqResult } from '../algorithms/pdq.js';
import type { AlgorithmName } from '../algorithms/registry.js';
import { cropRgba, findBorder, type Box } from './border.js';
import type { ResolvedImageOptions } from './options.js';

/** Quality scores (0–100) of the hashes that have one: PDQ's. */
export interface ImageQualities {
  readonly pdq?: number;
}

/**
 * Hashes a matcher does not use, with why: a PDQ hash of quality below `PDQ_MIN_QUALITY`
 * (a flat or featureless image: its bits are rounding noise), a blockhash of an image whose block
 * means spread less than `BLOCKHASH_MIN_SPREAD` grey level (one colour: the same hash as
 * every other flat image) or lie within `BLOCKHASH_MIN_DETAIL` of a smooth surface (a ramp,
 * a sky, a vignette: the same hash as every similar shading), or whose bits form a plain layout
 * (a boundary under `BLOCKHASH_MIN_BOUNDARY`: the same hash as every image so laid out).
 */
export type UnusableHashes = { readonly [A in AlgorithmName]?: string };

/** Hashes keyed by algorithm, as bytes. */
type HashBytes = { readonly [A in AlgorithmName]?: Uint8Array };

/**
 * One raster's hashes as hashing makes them, in bytes: they stay bytes on the way to a search and
 * are formatted to hex once, for a result (`formatHashed` in hash.ts).
 */
export interface RasterBytes {
  readonly hashes: HashBytes;
  readonly quality: ImageQualities;
  readonly unusable: UnusableHashes;
  readonly dihedral?: { readonly [A in AlgorithmName]?: readonly Uint8Array[] };
}

/** The options pixel maths reads: a plain object a hashing thread gets by message. */
export type PixelOptions = Pick<ResolvedImageOptions, 'perceptual' | 'dihedral' | 'trim'>;

/** A raster's hashes in bytes and, with `trim`, those of what its border frames. */
export interface FramedBytes extends RasterBytes {
  readonly trimmed?: RasterBytes & { readonly box: Box };
}

/** A decoded image as pixel maths needs it: its raster (possibly scaled) and, when animated, its frames. */
export interface DecodedPixels extends RgbaImage {
  /** Decoder scale factor (1, or 2/4/8 after a scaled JPEG decode). */
  readonly scale: number;
  readonly originalWidth: number;
  readonly originalHeight: number;
  /** Animated images: every frame decoded, the first being the raster itself. */
  readonly frames?: readonly RgbaImage[];
}

/** The perceptual hashes of a decoded image and, when animated, of each of its frames. */
export interface DecodedHashes {
  readonly pixels: FramedBytes;
  readonly frames?: readonly (FramedBytes & { readonly frame: number })[];
}

/**
 * Least side, in pixels, of an image whose perceptual hashes are used for matching: 16. A smaller
 * image is too small to show anything, and its hashes are made of a handful of pixels repeated
 * (two tiny images of random colours get nearly the same blockhash). The listed images
 * of a clearinghouse are photographs, not icons.
 */
export const PERCEPTUAL_MIN_SIDE = 16;

/** Why a blockhash is refused (flat, a smooth shading, a layout of a few regions), or nothing. */
function unusableBlockhash(sums: BlockSums, spread: number, hash: Uint8Array): { unusable?: string } {
  if (spread < BLOCKHASH_MIN_SPREAD)
    return {
      unusable: `blockhash of a flat image (block means spread ${spread.toFixed(2)}, below ${BLOCKHASH_MIN_SPREAD} grey level)`,
    };
  const detail = blockhashDetail(sums);
  if (detail < BLOCKHASH_MIN_DETAIL)
    return {
      unusable: `blockhash of a smooth shading (block means within ${detail.toFixed(2)} grey levels of a smooth surface, below ${BLOCKHASH_MIN_DETAIL})`,
    };
  // Judged from the hash alone, and reported in the algorithm's own words: searchedHashes tells
  // this refusal (each turned hash is then judged on its own) from those of the pixels by them.
  const plain = blockhash.refuse?.(hash);
  return plain === undefined ? {} : { unusable: plain };
}

/** One perceptual algorithm's hash of a raster, with its quality, refusal and turned hashes. */
interface PixelHash {
  readonly hash: Uint8Array;
  readonly quality?: number;
  readonly unusable?: string;
  readonly dihedral?: readonly Uint8Array[];
}

function perceptualHash(name: AlgorithmName, image: RgbaImage, dihedral: boolean): PixelHash {
  const result = hashPixels(name, image, dihedral);
  // Said first: the other guards' reasons are symptoms of it.
  if (Math.min(image.width, image.height) < PERCEPTUAL_MIN_SIDE) {
    return {
      ...result,
      unusable: `${name} of a ${image.width} × ${image.height} image, under ${PERCEPTUAL_MIN_SIDE} pixels a side`,
    };
  }
  return result;
}

function hashPixels(name: AlgorithmName, image: RgbaImage, dihedral: boolean): PixelHash {
  switch (name) {
    case 'blockhash': {
      const sums = blockhashSums(image);
      const spread = blockhashSpread(sums);
      const hash = blockhashFromSums(sums);
      return {
        hash,
        ...unusableBlockhash(sums, spread, hash),
        ...(dihedral ? { dihedral: blockhashDihedralHashes(sums) } : {}),
      };
    }
    case 'pdq': {
      // The turned and mirrored hashes from the moved pixels, not from the coefficients as the
      // reference derives them: PDQ's sampling is not symmetric (pdqRgbaDihedral).
      const result: PdqResult & { dihedral?: readonly Uint8Array[] } = dihedral
        ? pdqRgbaDihedral(image)
        : pdqRgba(image);
      const { hash, quality } = result;
      return {
        hash,
        quality,
        ...(quality < PDQ_MIN_QUALITY ? { unusable: `PDQ quality ${quality} is below ${PDQ_MIN_QUALITY}` } : {}),
        ...(result.dihedral === undefined ? {} : { dihedral: result.dihedral }),
      };
    }
    default:
      throw new Error(`no pixel hasher for ${name}`);
  }
}

/** The perceptual hashes of one raster, as `hashRaw` and `trimmed` report them. */
function pixelHashes(image: RgbaImage, options: PixelOptions): RasterBytes {
  const hashes: Partial<Record<AlgorithmName, Uint8Array>> = {};
  const quality: { pdq?: number } = {};
  const unusable: Partial<Record<AlgorithmName, string>> = {};
  const dihedral: Partial<Record<AlgorithmName, readonly Uint8Array[]>> = {};
  for (const name of options.perceptual) {
    const result = perceptualHash(name, image, options.dihedral);
    hashes[name] = result.hash;
    if (result.dihedral !== undefined) dihedral[name] = result.dihedral;
    if (name === 'pdq' && result.quality !== undefined) quality.pdq = result.quality;
    if (result.unusable !== undefined) unusable[name] = result.unusable;
  }
  return { hashes, quality, unusable, ...(options.dihedral ? { dihedral } : {}) };
}

/**
 * The perceptual hashes of one raster and, with `trim`, of what its border frames. `scale` and
 * the original size put a scaled decode's box back in the image's own pixels.
 */
function rasterHashes(
  image: RgbaImage,
  options: PixelOptions,
  scale = 1,
  originalWidth = image.width,
  originalHeight = image.height,
): FramedBytes {
  const pixels = pixelHashes(image, options);
  const box = options.trim ? findBorder(image) : null;
  if (box === null) return pixels;
  return {
    ...pixels,
    trimmed: {
      box: {
        left: box.left * scale,
        top: box.top * scale,
        width: Math.min(box.width * scale, originalWidth),
        height: Math.min(box.height * scale, originalHeight),
      },
      ...pixelHashes(cropRgba(image, box), options),
    },
  };
}

/**
 * The perceptual hashes of a decoded image (and of each frame of an animation) with options already
 * resolved: what follows the decode, on whichever thread decoded.
 */
export function hashDecoded(image: DecodedPixels, options: PixelOptions): DecodedHashes {
  const pixels = rasterHashes(image, options, image.scale, image.originalWidth, image.originalHeight);
  // Frame 0 is the image itself, hashed once.
  const frames = image.frames?.map((frame, i) => ({ frame: i, ...(i === 0 ? pixels : rasterHashes(frame, options)) }));
  return frames === undefined ? { pixels } : { pixels, frames };
}
