/**
 * Options of image hashing, validated once and resolved into a frozen object: the hot path reads
 * plain fields and never re-checks them.
 */
import { ALGORITHM_NAMES, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { boolean, integerInRange, invalid, oneOf, optionsObject } from '../validate.js';
import { IMAGE_FORMATS, type ImageFormat } from './sniff.js';

/** Default byte limit: 50 MiB, above any camera JPEG or phone HEIF, far below memory trouble. */
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;
/**
 * Default pixel limit: 100 megapixels (e.g. 12,240 × 8,160), above every phone and most camera
 * sensors; a 100-byte PNG can declare 2.5 gigapixels, and this stops it before allocation.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;
/** Default decode timeout in seconds: a wide margin over the decode of a large PNG (docs/benchmark.md). */
export const DEFAULT_TIMEOUT_SECONDS = 20;
/**
 * Default frame limit of an animated GIF or WebP: its first 32 frames are hashed. Hashing holds a
 * thread (a hashing thread, or the JavaScript one), and at `matchImage`'s defaults 32 small frames cost about what one
 * 12-megapixel photo does (docs/benchmark.md): an animation costs no more than the largest
 * ordinary still. 32 frames are 2 to 3 seconds of a typical 10–15 fps GIF. Frames
 * past the limit are not hashed, and the result says so (`image.frameCount` above
 * `frames.length`): treat such an upload as checked in part.
 */
export const DEFAULT_MAX_FRAMES = 32;
/** Largest frame limit accepted. */
export const MAX_FRAMES_LIMIT = 10_000;

/** How large the decoded raster is; see `docs/hashing.md` for the measurements behind the default. */
export type Resolution = 'fast' | 'full';

/**
 * sharp's `failOn` levels. `warning` (the default) refuses anything the decoder complains about,
 * including truncated and partly corrupt files: an uploader can corrupt a file on purpose so that
 * viewers still show most of it while the hash changes, so refusing is the safe side.
 */
export type FailOn = 'none' | 'truncated' | 'error' | 'warning';

/** Options of `hashImage`. */
export interface HashImageOptions {
  /** Which hashes to compute. Default: all of `IMAGE_ALGORITHMS`. */
  readonly algorithms?: readonly AlgorithmName[];
  /**
   * `fast` (default) lets the JPEG decoder scale down by 2/4/8 while decoding, keeping at least
   * 256 pixels on the short side, for blockhash; with PDQ among the algorithms the image is
   * decoded whole anyway (PDQ's reference samples the full decode). `full` decodes every pixel,
   * as the reference tools do.
   */
  readonly resolution?: Resolution;
  /**
   * Also compute the hashes of the image turned and mirrored (8 per perceptual algorithm, in the
   * order of `DIHEDRAL_NAMES`), from the same decode. Default `false`.
   */
  readonly dihedral?: boolean;
  /**
   * When the image has a uniform border (letterbox or pillarbox bars, a frame, padding: see
   * `findBorder`), also hash what lies inside it (`trimmed` in the result). Default `false`;
   * `matchImage` turns it on.
   */
  readonly trim?: boolean;
  /**
   * Refuse inputs larger than this many bytes (`ERR_IMAGE_TOO_LARGE`): a stream is stopped at the
   * chunk that crosses it. Default 50 MiB.
   */
  readonly maxBytes?: number;
  /** Refuse images with more pixels than this (`ERR_IMAGE_TOO_LARGE`). Default 100,000,000. */
  readonly maxPixels?: number;
  /**
   * Give up decoding after this many seconds (`ERR_IMAGE_TIMEOUT`); a streamed input must also
   * arrive whole within it, from when its read begins. Default 20.
   */
  readonly timeoutSeconds?: number;
  /**
   * Hash at most this many frames of an animated GIF or WebP, from the first: 1–10,000, default
   * 32 ({@link DEFAULT_MAX_FRAMES}). Fewer are decoded when they would not fit in `maxPixels`
   * together, so an animation never holds more pixels in memory than a still image may. 1 hashes
   * the first frame alone.
   */
  readonly maxFrames?: number;
  /** Decoder strictness. Default `warning`. */
  readonly failOn?: FailOn;
  /** Formats accepted. Default: JPEG, PNG, WebP, GIF, AVIF, HEIF, TIFF. SVG and PDF are never decoded. */
  readonly formats?: readonly ImageFormat[];
}

/** `HashImageOptions` after validation, with every default filled in. */
export interface ResolvedImageOptions {
  readonly algorithms: readonly AlgorithmName[];
  readonly perceptual: readonly AlgorithmName[];
  readonly exact: readonly AlgorithmName[];
  readonly resolution: Resolution;
  readonly dihedral: boolean;
  readonly trim: boolean;
  readonly maxBytes: number;
  readonly maxPixels: number;
  readonly timeoutSeconds: number;
  readonly maxFrames: number;
  readonly failOn: FailOn;
  readonly formats: ReadonlySet<ImageFormat>;
}

/** Algorithms `hashImage` can compute: every registered one (exact hashes are of the file bytes). */
export const IMAGE_ALGORITHMS: readonly AlgorithmName[] = ALGORITHM_NAMES;

const resolvedOptions = new WeakSet<object>();

/**
 * Validates `options` once; throws TypeError/RangeError with the standard message. Passing the
 * result back in returns it unchanged, so a batch validates once and hashes many times.
 *
 * @example
 * ```ts
 * const options = resolveImageOptions({ algorithms: ['blockhash'] });
 * for (const file of files) await hashImage(file, options);
 * ```
 */
export function resolveImageOptions(options?: HashImageOptions | ResolvedImageOptions): ResolvedImageOptions {
  if (options !== undefined && resolvedOptions.has(options)) return options as ResolvedImageOptions;
  const o = optionsObject(options as HashImageOptions | undefined, 'options');
  let algorithms = IMAGE_ALGORITHMS;
  if (o.algorithms !== undefined) {
    if (!Array.isArray(o.algorithms) || o.algorithms.length === 0)
      invalid('non-empty array of algorithm names', 'algorithms', o.algorithms);
    // Array.from, not map: map skips the holes of a sparse array, which must be refused too.
    algorithms = [...new Set(Array.from(o.algorithms as unknown[], (a) => oneOf(a, IMAGE_ALGORITHMS, 'algorithms')))];
  }
  let formats: readonly ImageFormat[] = IMAGE_FORMATS;
  if (o.formats !== undefined) {
    if (!Array.isArray(o.formats)) invalid('array of image formats', 'formats', o.formats);
    formats = Array.from(o.formats as unknown[], (f) => oneOf(f, IMAGE_FORMATS, 'formats'));
  }
  const resolved: ResolvedImageOptions = Object.freeze({
    algorithms,
    perceptual: algorithms.filter((a) => getAlgorithm(a).kind === 'perceptual'),
    exact: algorithms.filter((a) => getAlgorithm(a).kind === 'exact'),
    resolution: o.resolution === undefined ? 'fast' : oneOf(o.resolution, ['fast', 'full'] as const, 'resolution'),
    dihedral: o.dihedral === undefined ? false : boolean(o.dihedral, 'dihedral'),
    trim: o.trim === undefined ? false : boolean(o.trim, 'trim'),
    maxBytes: o.maxBytes === undefined ? DEFAULT_MAX_BYTES : integerInRange(o.maxBytes, 1, 2 ** 31 - 1, 'maxBytes'),
    maxPixels:
      o.maxPixels === undefined ? DEFAULT_MAX_PIXELS : integerInRange(o.maxPixels, 1, 0x3fff * 0x3fff, 'maxPixels'),
    timeoutSeconds:
      o.timeoutSeconds === undefined
        ? DEFAULT_TIMEOUT_SECONDS
        : integerInRange(o.timeoutSeconds, 1, 3600, 'timeoutSeconds'),
    maxFrames:
      o.maxFrames === undefined ? DEFAULT_MAX_FRAMES : integerInRange(o.maxFrames, 1, MAX_FRAMES_LIMIT, 'maxFrames'),
    failOn:
      o.failOn === undefined
        ? 'warning'
        : oneOf(o.failOn, ['none', 'truncated', 'error', 'warning'] as const, 'failOn'),
    formats: new Set(formats),
  });
  resolvedOptions.add(resolved);
  return resolved;
}
