/**
 * PDQ: Meta's perceptual image hash ("The TMK+PDQF video-hashing algorithm and the PDQ
 * image-similarity hashing algorithm", facebook/ThreatExchange hashing/hashing.pdf, 2019), as its
 * C++ reference computes it (pdq/cpp: pdqhashing, downscaling, torben, pdqhashtypes): luma, a tent
 * filter, decimation to 64 × 64, 16 × 16 DCT coefficients against their median, in single
 * precision wherever the reference's arithmetic is `float`; the eight rotations and flips follow
 * from the coefficients. Pixel maths only: it takes RGBA or luma buffers and never sees a file.
 * The steps, the reasons for each choice and the conformance figures are in docs/pdq.md.
 */
import { integerInRange } from '../validate.js';
import { DIHEDRAL_NAMES } from './dihedral.js';
import { hexAlgorithm } from './hex.js';
import { kthSmallest } from './select.js';
import { LazyInstance, type WasmMemory } from '../wasm.js';
import { PDQ_WASM_BASE64 } from './pdq-wasm.js';
import type { HashAlgorithm } from './types.js';

/**
 * Default match threshold in bits (of 256): 31, Meta's distance for a confident PDQ match, which
 * python-threatexchange and the programmes sharing PDQ hashes apply, so a list matched at 31
 * elsewhere gives the same answers here. A larger threshold finds a few more edited copies, but
 * a platform making billions of comparisons lives in a tail of unrelated pairs that no test pool
 * shows, and each added bit lets in more of it (the figures: docs/thresholds.md). A list that
 * wants the recall sets its own threshold.
 */
export const PDQ_DEFAULT_THRESHOLD = 31;

/** Largest threshold accepted: a quarter of the bits, as for blockhash; beyond it a match says nothing. */
export const PDQ_MAX_THRESHOLD = 64;

/**
 * Least quality a PDQ hash needs to be used for matching: 50, Meta's recommendation. Below it the
 * image is too flat or featureless for its hash to mean anything (a blank image hashes to the
 * same bits as any other blank image).
 */
export const PDQ_MIN_QUALITY = 50;

/** Images with a side shorter than this get an all-zero hash of quality 0, as in the reference. */
const PDQ_MIN_DIMENSION = 5;

/** Side of the decimated image and of the DCT output. */
const SAMPLES = 64;
const COEFFICIENTS = 16;

const f = Math.fround;

/** The reference's `const float` luma coefficients. */
const LUMA_R = f(0.299);
const LUMA_G = f(0.587);
const LUMA_B = f(0.114);

/** The 16 × 64 DCT matrix: row i is basis function i + 1, scaled by √(2/64), in single precision. */
const DCT = (() => {
  const scale = f(Math.sqrt(2 / SAMPLES));
  const matrix = new Float32Array(COEFFICIENTS * SAMPLES);
  for (let i = 0; i < COEFFICIENTS; i++) {
    for (let j = 0; j < SAMPLES; j++)
      matrix[i * SAMPLES + j] = scale * Math.cos((Math.PI / 2 / SAMPLES) * (i + 1) * (2 * j + 1));
  }
  return matrix;
})();

/** Luminance of the RGBA pixel at byte `q`, in the reference's single-precision steps. */
function lumaAt(data: Uint8Array | Uint8ClampedArray, q: number): number {
  return f(
    f(f(LUMA_R * (data[q] as number)) + f(LUMA_G * (data[q + 1] as number))) + f(LUMA_B * (data[q + 2] as number)),
  );
}

/**
 * Luminance of pixels of `channels` bytes each, R, G and B first (alpha or padding ignored, as the
 * reference reads only R, G and B), row-major; the sides and length checked.
 */
function lumaOf(data: Uint8Array | Uint8ClampedArray, width: number, height: number, channels: 3 | 4): Float32Array {
  integerInRange(width, 1, 2 ** 16, 'width');
  integerInRange(height, 1, 2 ** 16, 'height');
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray))
    throw new TypeError(`Expected Uint8Array for data but received ${typeof data}`);
  if (data.length !== width * height * channels)
    throw new RangeError(
      `Expected ${width * height * channels} bytes of ${channels === 4 ? 'RGBA' : 'RGB'} for data but received ${data.length}`,
    );
  const luma = new Float32Array(width * height);
  for (let p = 0, q = 0; p < luma.length; p++, q += channels) luma[p] = lumaAt(data, q);
  return luma;
}

/** Luminance of RGBA pixels (alpha ignored, as the reference reads only R, G and B), row-major. */
export function pdqLuma(data: Uint8Array | Uint8ClampedArray, width: number, height: number): Float32Array {
  return lumaOf(data, width, height, 4);
}

/**
 * Luminance of packed RGB pixels (3 bytes each, as FFmpeg's `rgb24` gives a video frame), row-major:
 * the same single-precision steps as {@link pdqLuma}, which takes RGBA.
 */
export function pdqLumaRgb(data: Uint8Array, width: number, height: number): Float32Array {
  return lumaOf(data, width, height, 3);
}

/**
 * PDQ of one RGB video frame as vPDQ hashes it (facebook/ThreatExchange vpdq/cpp, pdqbufferhasher:
 * `fillFloatLumaFromRGB`, then `pdqHash256FromFloatLuma`): the luma of every pixel at the frame's
 * own size. Unlike {@link pdqRgba} there is no 512 × 512 reduction first: that step belongs to the
 * photo hasher's file loading, and vPDQ's frames never pass through it (with it, a 1080 × 1080
 * frame lands 8–38 bits from Meta's hashes). A side under 5 pixels gives an all-zero hash of
 * quality 0, as in the reference.
 */
export function pdqRgbFrame(data: Uint8Array, width: number, height: number): PdqResult {
  const coefficients = pdqCoefficients(pdqLumaRgb(data, width, height), width, height);
  return { hash: pdqHashFromCoefficients(coefficients.dct), ...coefficients };
}

/** Box filter of `window` along one row of `length` values from `start` (the reference's box1DFloat). */
function box(input: Float32Array, output: Float32Array, start: number, length: number, window: number): void {
  // The window is centred: it reaches `half - 1` values back and `window - half` ahead, and is
  // cut at both ends (each output is the mean of the values it covers).
  const half = Math.floor((window + 2) / 2);
  let sum = 0;
  let size = 0;
  let right = start;
  let left = start;
  let out = start;
  for (let i = 0; i < half - 1; i++) {
    sum = f(sum + (input[right] as number));
    size++;
    right++;
  }
  for (let i = 0; i < window - half + 1; i++) {
    sum = f(sum + (input[right] as number));
    size++;
    output[out] = f(sum / size);
    right++;
    out++;
  }
  for (let i = 0; i < length - window; i++) {
    sum = f(sum + (input[right] as number));
    sum = f(sum - (input[left] as number));
    output[out] = f(sum / size);
    left++;
    right++;
    out++;
  }
  for (let i = 0; i < half - 1; i++) {
    sum = f(sum - (input[left] as number));
    size--;
    output[out] = f(sum / size);
    left++;
    out++;
  }
}

/**
 * {@link box} down every column at once: the same additions, in the same order, for each column
 * (so the same values), but walking the image row by row — reading a column with a stride of a
 * row missed the cache on every value and took most of PDQ's time.
 */
function boxColumns(
  input: Float32Array,
  output: Float32Array,
  width: number,
  height: number,
  window: number,
  sums: Float32Array,
): void {
  const half = Math.floor((window + 2) / 2);
  sums.fill(0);
  let size = 0;
  let right = 0;
  let left = 0;
  let out = 0;
  for (let i = 0; i < half - 1; i++, right++) {
    size++;
    for (let j = 0, r = right * width; j < width; j++) sums[j] = (sums[j] as number) + (input[r + j] as number);
  }
  for (let i = 0; i < window - half + 1; i++, right++, out++) {
    size++;
    for (let j = 0, r = right * width, o = out * width; j < width; j++) {
      const sum = f((sums[j] as number) + (input[r + j] as number));
      sums[j] = sum;
      output[o + j] = sum / size;
    }
  }
  for (let i = 0; i < height - window; i++, left++, right++, out++) {
    for (let j = 0, r = right * width, l = left * width, o = out * width; j < width; j++) {
      const sum = f(f((sums[j] as number) + (input[r + j] as number)) - (input[l + j] as number));
      sums[j] = sum;
      output[o + j] = sum / size;
    }
  }
  for (let i = 0; i < half - 1; i++, left++, out++) {
    size--;
    for (let j = 0, l = left * width, o = out * width; j < width; j++) {
      const sum = f((sums[j] as number) - (input[l + j] as number));
      sums[j] = sum;
      output[o + j] = sum / size;
    }
  }
}

/** Window of the box filter along a side of `side` pixels: ⌈side / 128⌉, the reference's. */
function windowAlong(side: number): number {
  return Math.floor((side + 2 * SAMPLES - 1) / (2 * SAMPLES));
}

/**
 * The 64 × 64 samples of a luma image in JavaScript: the tent filter (two rounds of rows then
 * columns, in `luma` itself) and decimation at cell centres. The path without WebAssembly.
 */
function samples64(luma: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(SAMPLES * SAMPLES);
  if (width === SAMPLES && height === SAMPLES) {
    // Already 64 × 64 (e.g. a frame downsampled elsewhere): the reference uses it as is.
    out.set(luma);
    return out;
  }
  const alongRows = windowAlong(width);
  const alongColumns = windowAlong(height);
  const scratch = new Float32Array(luma.length);
  const sums = new Float32Array(width);
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < height; i++) box(luma, scratch, i * width, width, alongRows);
    boxColumns(scratch, luma, width, height, alongColumns, sums);
  }
  for (let i = 0; i < SAMPLES; i++) {
    const row = Math.floor(((i + 0.5) * height) / SAMPLES);
    for (let j = 0; j < SAMPLES; j++)
      out[i * SAMPLES + j] = luma[row * width + Math.floor(((j + 0.5) * width) / SAMPLES)] as number;
  }
  return out;
}

/** pdq.wat's exports. Pointers are byte offsets into `memory`. */
interface PdqExports {
  readonly memory: WasmMemory;
  luma(pixels: number, count: number): void;
  rows(input: number, output: number, width: number, height: number, window: number): void;
  columns(input: number, output: number, sums: number, width: number, height: number, window: number): void;
  decimate(input: number, output: number, width: number, height: number): void;
  gatherColumns(input: number, output: number, width: number, height: number): void;
  dct(matrix: number, transposed: number, samples: number, scratch: number, output: number): void;
  gradients(samples: number): number;
  gatherLuma(source: number, target: number, columns: number, count: number): void;
}

/** Where things live in the kernel's memory: fixed areas, then the image and its scratch. */
const AT = {
  matrix: 0,
  transposed: 4 * COEFFICIENTS * SAMPLES,
  samples: 8 * COEFFICIENTS * SAMPLES,
  scratch: 8 * COEFFICIENTS * SAMPLES + 4 * SAMPLES * SAMPLES,
  coefficients: 12 * COEFFICIENTS * SAMPLES + 4 * SAMPLES * SAMPLES,
  /** The reduction's source column of each output column, as byte offsets (512 × i32). */
  columns: 30720,
  image: 32768,
} as const;

/**
 * Most pixels the kernel takes: a 1080p video frame (1920 × 1088, its coded height), which
 * {@link pdqRgbFrame} hashes whole: 22 ms of a core a 1080p frame instead of 60 (docs/video.md).
 * Its memory grows to about 8 bytes per pixel (17 MB here) and never shrinks, so a larger luma
 * buffer is filtered in JavaScript instead (`pdqRgba` never needs more than 512 × 512).
 */
const KERNEL_MAX_PIXELS = 1920 * 1088;

/**
 * The WebAssembly kernel (pdq.wat), or null without WebAssembly (the JavaScript path then runs);
 * the DCT matrix and its transpose are written into its memory once.
 */
const KERNEL = new LazyInstance<PdqExports>(PDQ_WASM_BASE64, (k) => {
  const memory = new Float32Array(k.memory.buffer);
  memory.set(DCT, AT.matrix / 4);
  for (let i = 0; i < COEFFICIENTS; i++)
    for (let j = 0; j < SAMPLES; j++) memory[AT.transposed / 4 + j * COEFFICIENTS + i] = DCT[i * SAMPLES + j] as number;
});

/**
 * Grows the kernel's memory to hold a `width × height` image with its scratch, and `extra` bytes
 * after them (where the reduction stages source rows); returns the buffer.
 */
function reserve(k: PdqExports, width: number, height: number, extra = 0): ArrayBuffer {
  const need = AT.image + 8 * width * height + 4 * width + extra;
  const have = k.memory.buffer.byteLength;
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  return k.memory.buffer;
}

/**
 * The coefficients and quality of the luma image already at `AT.image` in the kernel's memory:
 * the same steps as {@link samples64}, {@link dct16} and {@link quality64}, in WebAssembly
 * (faster than the JavaScript, luma included: docs/benchmark.md).
 * Without `withQuality` (the flips of {@link pdqRgbaDihedral}, whose quality nobody reads) the
 * quality is not computed and reported as NaN.
 */
function kernelCoefficients(k: PdqExports, width: number, height: number, withQuality = true): PdqCoefficients {
  if (width === SAMPLES && height === SAMPLES) {
    k.decimate(AT.image, AT.samples, width, height);
  } else {
    const scratch = AT.image + 4 * width * height;
    const sums = scratch + 4 * width * height;
    k.rows(AT.image, scratch, width, height, windowAlong(width));
    k.columns(scratch, AT.image, sums, width, height, windowAlong(height));
    k.rows(AT.image, scratch, width, height, windowAlong(width));
    if (width > SAMPLES) {
      // The last pass only on the 64 columns the decimation samples: the same values, an eighth
      // of the work at 512 pixels wide.
      k.gatherColumns(scratch, AT.image, width, height);
      k.columns(AT.image, scratch, sums, SAMPLES, height, windowAlong(height));
      k.decimate(scratch, AT.samples, SAMPLES, height);
    } else {
      k.columns(scratch, AT.image, sums, width, height, windowAlong(height));
      k.decimate(AT.image, AT.samples, width, height);
    }
  }
  k.dct(AT.matrix, AT.transposed, AT.samples, AT.scratch, AT.coefficients);
  const quality = withQuality ? Math.min(100, Math.floor(k.gradients(AT.samples) / 90)) : Number.NaN;
  return { dct: new Float32Array(k.memory.buffer, AT.coefficients, COEFFICIENTS * COEFFICIENTS).slice(), quality };
}

/** The quality score (0–100) of the 64 × 64 samples: how much significant gradient there is. */
function quality64(s: Float32Array): number {
  let sum = 0;
  const step = (u: number, v: number): number => Math.abs(Math.trunc(f(f(f(u - v) * 100) / 255)));
  for (let i = 0; i < SAMPLES - 1; i++)
    for (let j = 0; j < SAMPLES; j++) sum += step(s[i * SAMPLES + j] as number, s[(i + 1) * SAMPLES + j] as number);
  for (let i = 0; i < SAMPLES; i++)
    for (let j = 0; j < SAMPLES - 1; j++) sum += step(s[i * SAMPLES + j] as number, s[i * SAMPLES + j + 1] as number);
  return Math.min(100, Math.floor(sum / 90));
}

/** B = D · A · Dᵀ: the 16 × 16 coefficients (1..16) × (1..16) of the 64 × 64 samples. */
function dct16(a: Float32Array): Float32Array {
  const t = new Float32Array(COEFFICIENTS * SAMPLES);
  for (let i = 0; i < COEFFICIENTS; i++) {
    for (let j = 0; j < SAMPLES; j++) {
      let sum = 0;
      for (let k = 0; k < SAMPLES; k++)
        sum = f(sum + f((DCT[i * SAMPLES + k] as number) * (a[k * SAMPLES + j] as number)));
      t[i * SAMPLES + j] = sum;
    }
  }
  const b = new Float32Array(COEFFICIENTS * COEFFICIENTS);
  for (let i = 0; i < COEFFICIENTS; i++) {
    for (let j = 0; j < COEFFICIENTS; j++) {
      let sum = 0;
      for (let k = 0; k < SAMPLES; k++)
        sum = f(sum + f((t[i * SAMPLES + k] as number) * (DCT[j * SAMPLES + k] as number)));
      b[i * COEFFICIENTS + j] = sum;
    }
  }
  return b;
}

/** What PDQ computes from one image before the bits: the 16 × 16 coefficients and the quality. */
export interface PdqCoefficients {
  /** Row-major 16 × 16 DCT coefficients; all zero for an image below the minimum size. */
  readonly dct: Float32Array;
  /** 0–100; below {@link PDQ_MIN_QUALITY} the hash is not used for matching. */
  readonly quality: number;
}

/**
 * The PDQ coefficients and quality of a luma image (`width × height` values, row-major, as
 * {@link pdqLuma} returns). `luma` is used as scratch space and may be changed. An image with a side
 * under {@link PDQ_MIN_DIMENSION} pixels has all-zero coefficients and quality 0.
 *
 * @example
 * ```ts
 * const { dct, quality } = pdqCoefficients(pdqLuma(rgba, width, height), width, height);
 * const hash = pdqHashFromCoefficients(dct);
 * ```
 */
export function pdqCoefficients(luma: Float32Array, width: number, height: number): PdqCoefficients {
  integerInRange(width, 1, 2 ** 16, 'width');
  integerInRange(height, 1, 2 ** 16, 'height');
  if (!(luma instanceof Float32Array) || luma.length !== width * height)
    throw new RangeError(
      `Expected Float32Array of ${width * height} values for luma but received ${luma instanceof Float32Array ? luma.length : typeof luma}`,
    );
  if (width < PDQ_MIN_DIMENSION || height < PDQ_MIN_DIMENSION)
    return { dct: new Float32Array(COEFFICIENTS * COEFFICIENTS), quality: 0 };
  const k = KERNEL.get();
  if (k !== null && width * height <= KERNEL_MAX_PIXELS) {
    new Float32Array(reserve(k, width, height), AT.image, width * height).set(luma);
    return kernelCoefficients(k, width, height);
  }
  const s = samples64(luma, width, height);
  return { dct: dct16(s), quality: quality64(s) };
}

/** Scratch space of the median search (hashing is synchronous: one at a time). */
const medianScratch = new Float64Array(COEFFICIENTS * COEFFICIENTS);

/**
 * The 256-bit hash of 16 × 16 coefficients, as bytes in the order of the reference's hex text:
 * bit i·16 + j is set when coefficient (i, j) is above the median.
 *
 * @example
 * ```ts
 * pdq.format(pdqHashFromCoefficients(dct)); // 64 hex digits, as pdq-photo-hasher prints them
 * ```
 */
export function pdqHashFromCoefficients(dct: Float32Array): Uint8Array {
  if (!(dct instanceof Float32Array) || dct.length !== COEFFICIENTS * COEFFICIENTS)
    throw new RangeError('Expected Float32Array of 256 coefficients for dct');
  // The median as the reference's Torben search returns it for 256 values: the 128th smallest.
  const median = kthSmallest(dct, 127, medianScratch);
  const hash = new Uint8Array(32);
  for (let k = 0; k < 256; k++) {
    // Word ⌊k/16⌋ is printed at bytes 2·(15 − word), high byte first.
    if ((dct[k] as number) <= median) continue;
    const at = 2 * (15 - (k >> 4)) + ((k & 15) < 8 ? 1 : 0);
    hash[at] = (hash[at] as number) | (1 << (k & 7));
  }
  return hash;
}

/**
 * The coefficients of the image turned or flipped: which coefficients change sign (by the parity
 * of their row and column) and whether the matrix is transposed, per dihedral transform.
 */
const DIHEDRAL: readonly { readonly transpose: boolean; readonly negate: (i: number, j: number) => boolean }[] = [
  { transpose: false, negate: () => false },
  { transpose: true, negate: (_i, j) => (j & 1) === 0 },
  { transpose: false, negate: (i, j) => ((i + j) & 1) === 1 },
  { transpose: true, negate: (i) => (i & 1) === 0 },
  { transpose: false, negate: (i) => (i & 1) === 0 },
  { transpose: false, negate: (_i, j) => (j & 1) === 0 },
  { transpose: true, negate: () => false },
  { transpose: true, negate: (i, j) => ((i + j) & 1) === 1 },
];

/**
 * The hashes of the image and of its seven rotations and flips, from its coefficients alone, in
 * the order of {@link DIHEDRAL_NAMES} (dihedral.ts).
 *
 * @example
 * ```ts
 * const [original, rot90] = pdqDihedralHashes(dct);
 * ```
 */
export function pdqDihedralHashes(dct: Float32Array): Uint8Array[] {
  if (!(dct instanceof Float32Array) || dct.length !== COEFFICIENTS * COEFFICIENTS)
    throw new RangeError('Expected Float32Array of 256 coefficients for dct');
  const out = new Float32Array(COEFFICIENTS * COEFFICIENTS);
  return dihedralTables().map(({ source, sign }) => {
    for (let k = 0; k < out.length; k++) out[k] = (sign[k] as number) * (dct[source[k] as number] as number);
    return pdqHashFromCoefficients(out);
  });
}

let tables: { source: Int16Array; sign: Float32Array }[] | undefined;

/**
 * {@link DIHEDRAL} as tables, made once: for each output coefficient, the coefficient it comes
 * from and its sign (a closure call per coefficient made the 8 hashes cost a tenth of a decode).
 */
function dihedralTables(): { source: Int16Array; sign: Float32Array }[] {
  tables ??= DIHEDRAL.map(({ transpose, negate }) => {
    const source = new Int16Array(COEFFICIENTS * COEFFICIENTS);
    const sign = new Float32Array(COEFFICIENTS * COEFFICIENTS);
    for (let i = 0; i < COEFFICIENTS; i++) {
      for (let j = 0; j < COEFFICIENTS; j++) {
        const target = transpose ? j * COEFFICIENTS + i : i * COEFFICIENTS + j;
        source[target] = i * COEFFICIENTS + j;
        sign[target] = negate(i, j) ? -1 : 1;
      }
    }
    return { source, sign };
  });
  return tables;
}

/**
 * Side above which the reference tool (pdq-photo-hasher) first reduces an image: to 512 × 512,
 * aspect not kept, by nearest neighbour. The 64 × 64 decimation rescales each axis on its own
 * anyway; what the reduction changes is which pixels are sampled, so it is copied exactly.
 */
const PDQ_REFERENCE_MAX_SIDE = 512;

/**
 * For each of the `side` rows (or columns) of the reference's reduction, the source row (column)
 * it copies: ⌊x · size / side⌋, CImg's nearest neighbour (libvips' samples the cell centre
 * instead, and the hashes of the large reference images then differ from the reference's).
 */
function reductionIndex(size: number, side: number): Int32Array {
  const index = new Int32Array(side);
  for (let x = 0; x < side; x++) index[x] = Math.floor((x * size) / side);
  return index;
}

/**
 * Puts the luma of the pixels the reference hashes (the image, or its 512 × 512 reduction) at
 * `AT.image` in the kernel's memory; returns the size hashed.
 */
function kernelLuma(
  k: PdqExports,
  data: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
): { width: number; height: number } {
  if (width <= PDQ_REFERENCE_MAX_SIDE && height <= PDQ_REFERENCE_MAX_SIDE) {
    new Uint8Array(reserve(k, width, height), AT.image, width * height * 4).set(data);
    k.luma(AT.image, width * height);
    return { width, height };
  }
  const side = PDQ_REFERENCE_MAX_SIDE;
  const rowBytes = width * 4;
  const buffer = reserve(k, side, side, rowBytes);
  new Int32Array(buffer, AT.columns, side).set(reductionIndex(width, side).map((x) => x * 4));
  gatherRows(k, data, rowBytes, reductionIndex(height, side), AT.image + 8 * side * side + 4 * side, [
    { columns: AT.columns, at: AT.image },
  ]);
  return { width: side, height: side };
}

/**
 * Samples rows `rows` of the source into 512 × 512 luma in the kernel: each source row copied in
 * whole (a memcpy) to `staging` and sampled there in WebAssembly, faster than picking the pixels
 * out in JavaScript (docs/benchmark.md); once per target, a table of source columns
 * (as byte offsets) and where its image goes.
 */
function gatherRows(
  k: PdqExports,
  data: Uint8Array | Uint8ClampedArray,
  rowBytes: number,
  rows: Int32Array,
  staging: number,
  targets: readonly { columns: number; at: number }[],
): void {
  const stage = new Uint8Array(k.memory.buffer, staging, rowBytes);
  const side = rows.length;
  let staged = -1;
  for (let y = 0; y < side; y++) {
    const row = rows[y] as number;
    if (row !== staged) {
      stage.set(data.subarray(row * rowBytes, (row + 1) * rowBytes));
      staged = row;
    }
    for (const { columns, at } of targets) k.gatherLuma(staging, at + y * side * 4, columns, side);
  }
}

/** RGBA pixels as the PDQ functions take them. */
type Rgba = { readonly data: Uint8Array | Uint8ClampedArray; readonly width: number; readonly height: number };

/** Checks RGBA pixels (sides 1–65,536, 4 bytes per pixel) and returns them. */
function checkRgba(image: Rgba): Rgba {
  const { data } = image;
  const width = integerInRange(image.width, 1, 2 ** 16, 'width');
  const height = integerInRange(image.height, 1, 2 ** 16, 'height');
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray))
    throw new TypeError(`Expected Uint8Array for data but received ${typeof data}`);
  if (data.length !== width * height * 4)
    throw new RangeError(`Expected ${width * height * 4} bytes of RGBA for data but received ${data.length}`);
  return image;
}

/** PDQ of one image: its hash, quality and coefficients (for the dihedral hashes). */
export interface PdqResult extends PdqCoefficients {
  readonly hash: Uint8Array;
}

/**
 * PDQ of RGBA pixels as the reference tool computes it: an image wider or taller than 512 pixels
 * is first reduced to 512 × 512 by nearest neighbour ({@link PDQ_REFERENCE_MAX_SIDE}), then
 * luma, coefficients, quality and bits.
 *
 * @example
 * ```ts
 * const { hash, quality } = pdqRgba({ data, width, height });
 * if (quality >= PDQ_MIN_QUALITY) console.log(pdq.format(hash));
 * ```
 */
export function pdqRgba(image: Rgba): PdqResult {
  const { data, width, height } = checkRgba(image);
  const k = KERNEL.get();
  let coefficients: PdqCoefficients;
  if (k === null || width < PDQ_MIN_DIMENSION || height < PDQ_MIN_DIMENSION) {
    const reduced = flippedLuma(data, width, height, FLIPS[0]);
    coefficients = pdqCoefficients(reduced.luma, reduced.width, reduced.height);
  } else {
    const reduced = kernelLuma(k, data, width, height);
    coefficients = kernelCoefficients(k, reduced.width, reduced.height);
  }
  return { hash: pdqHashFromCoefficients(coefficients.dct), ...coefficients };
}

/**
 * The flips hashed from pixels for {@link pdqRgbaDihedral}, in the order it hashes them: rows
 * mirrored (upside down) and columns mirrored (left to right). Each one's transpose, the other
 * four transforms, follows from its coefficients: transposing the image transposes its
 * samples (the filter's window and the decimation along a side depend only on that side's
 * length) and so its DCT.
 */
const FLIPS = [
  { name: 'original', rows: false, columns: false, transposed: 'flipMainDiagonal' },
  { name: 'flipY', rows: false, columns: true, transposed: 'rot90' },
  { name: 'flipX', rows: true, columns: false, transposed: 'rot270' },
  { name: 'rot180', rows: true, columns: true, transposed: 'flipAntiDiagonal' },
] as const;

/** The transpose of 16 × 16 coefficients. */
function transposed(dct: Float32Array): Float32Array {
  const out = new Float32Array(COEFFICIENTS * COEFFICIENTS);
  for (let i = 0; i < COEFFICIENTS; i++)
    for (let j = 0; j < COEFFICIENTS; j++) out[j * COEFFICIENTS + i] = dct[i * COEFFICIENTS + j] as number;
  return out;
}

/**
 * The rows (or columns) of the image the reference hashes, as source indices: every one when the
 * image is within 512 pixels, else the reduction's; mirrored, those of the image flipped along
 * that axis (the reduction of a flipped image samples other pixels than the flipped reduction).
 */
function sourceIndex(size: number, reduced: boolean, mirrored: boolean): Int32Array {
  const index = reduced ? reductionIndex(size, PDQ_REFERENCE_MAX_SIDE) : Int32Array.from({ length: size }, (_, i) => i);
  if (mirrored) for (let i = 0; i < index.length; i++) index[i] = size - 1 - (index[i] as number);
  return index;
}

/**
 * The luma the reference hashes, in JavaScript (the path without WebAssembly): of the image, or of
 * its 512 × 512 nearest-neighbour reduction sampled straight from the source (no reduced RGBA copy
 * is made); of the image flipped as `flip` says.
 */
function flippedLuma(
  data: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  flip: (typeof FLIPS)[number],
): { luma: Float32Array; width: number; height: number } {
  const reduced = width > PDQ_REFERENCE_MAX_SIDE || height > PDQ_REFERENCE_MAX_SIDE;
  const rows = sourceIndex(height, reduced, flip.rows);
  const columns = sourceIndex(width, reduced, flip.columns);
  const luma = new Float32Array(rows.length * columns.length);
  for (let y = 0; y < rows.length; y++) {
    const row = (rows[y] as number) * width;
    for (let x = 0; x < columns.length; x++)
      luma[y * columns.length + x] = lumaAt(data, (row + (columns[x] as number)) * 4);
  }
  return { luma, width: columns.length, height: rows.length };
}

/**
 * The coefficients of the four {@link FLIPS} with the kernel. An image within 512 pixels: its luma
 * is made once and flipped. A larger one: each flip is its own reduction, sampled from the source
 * (two sweeps over the source rows, the plain and the mirrored ones, each row gathered with the
 * plain and the mirrored columns).
 */
function kernelFlips(
  k: PdqExports,
  data: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
): PdqCoefficients[] {
  if (width <= PDQ_REFERENCE_MAX_SIDE && height <= PDQ_REFERENCE_MAX_SIDE) {
    kernelLuma(k, data, width, height);
    const base = new Float32Array(k.memory.buffer, AT.image, width * height).slice();
    return FLIPS.map((flip) => {
      const view = new Float32Array(k.memory.buffer, AT.image, width * height);
      if (flip.rows && flip.columns) {
        view.set(base);
        view.reverse();
      } else {
        for (let y = 0; y < height; y++) {
          const row = base.subarray(y * width, (y + 1) * width);
          const at = (flip.rows ? height - 1 - y : y) * width;
          view.set(row, at);
          if (flip.columns) view.subarray(at, at + width).reverse();
        }
      }
      return kernelCoefficients(k, width, height, flip === FLIPS[0]);
    });
  }
  const side = PDQ_REFERENCE_MAX_SIDE;
  const rowBytes = width * 4;
  const lumaBytes = 4 * side * side;
  const buffer = reserve(k, side, side, rowBytes + 4 * side + lumaBytes);
  // After the image and its scratch: the staged source row, the mirrored columns' table, and the
  // luma of the column-mirrored flip while the other one is hashed.
  const staging = AT.image + 8 * side * side + 4 * side;
  const mirroredColumns = staging + rowBytes;
  const second = mirroredColumns + 4 * side;
  new Int32Array(buffer, AT.columns, side).set(sourceIndex(width, true, false).map((x) => x * 4));
  new Int32Array(buffer, mirroredColumns, side).set(sourceIndex(width, true, true).map((x) => x * 4));
  const out: PdqCoefficients[] = [];
  for (const mirrorRows of [false, true]) {
    gatherRows(k, data, rowBytes, sourceIndex(height, true, mirrorRows), staging, [
      { columns: AT.columns, at: AT.image },
      { columns: mirroredColumns, at: second },
    ]);
    out.push(kernelCoefficients(k, side, side, out.length === 0));
    new Float32Array(k.memory.buffer).copyWithin(AT.image / 4, second / 4, (second + lumaBytes) / 4);
    out.push(kernelCoefficients(k, side, side, false));
  }
  return out;
}

/** PDQ of one image and the hashes of its seven rotations and flips. */
export interface PdqDihedralResult extends PdqResult {
  /** The 8 hashes in the order of {@link DIHEDRAL_NAMES}; the first is `hash`. */
  readonly dihedral: readonly Uint8Array[];
}

/**
 * PDQ of RGBA pixels, as {@link pdqRgba}, and the hashes of the image turned and mirrored, each
 * equal to hashing the moved pixels: the three flips are hashed from their own pixels, their
 * transposes follow from the coefficients. Costlier than `pdqRgba` (docs/benchmark.md): three
 * more images are hashed.
 *
 * The reference derives all eight from one image's coefficients ({@link pdqDihedralHashes}).
 * That is exact only where sampling the image is symmetric, and PDQ's is not: the box filter's
 * window is even for images over 384 pixels (it reaches one pixel further back than ahead), the
 * 64 cells are sampled half a pixel off centre, and the 512-pixel reduction takes the first
 * pixel of each cell. Derived that way, a flipped or turned copy of a photo with fine texture, or
 * of a small one, can land beyond the default threshold from its original; hashed from its moved
 * pixels it stays within it.
 *
 * @example
 * ```ts
 * const { hash, quality, dihedral } = pdqRgbaDihedral({ data, width, height });
 * const rot90 = dihedral[DIHEDRAL_NAMES.indexOf('rot90')];
 * ```
 */
export function pdqRgbaDihedral(image: Rgba): PdqDihedralResult {
  const { data, width, height } = checkRgba(image);
  const k = KERNEL.get();
  const flips =
    k === null || width < PDQ_MIN_DIMENSION || height < PDQ_MIN_DIMENSION
      ? FLIPS.map((flip) => {
          const reduced = flippedLuma(data, width, height, flip);
          return pdqCoefficients(reduced.luma, reduced.width, reduced.height);
        })
      : kernelFlips(k, data, width, height);
  const dihedral = new Array<Uint8Array>(DIHEDRAL_NAMES.length);
  FLIPS.forEach((flip, i) => {
    const { dct } = flips[i] as PdqCoefficients;
    dihedral[DIHEDRAL_NAMES.indexOf(flip.name)] = pdqHashFromCoefficients(dct);
    dihedral[DIHEDRAL_NAMES.indexOf(flip.transposed)] = pdqHashFromCoefficients(transposed(dct));
  });
  const own = flips[0] as PdqCoefficients;
  return { hash: dihedral[0] as Uint8Array, dct: own.dct, quality: own.quality, dihedral };
}

export { DIHEDRAL_NAMES };

/** The PDQ hash type: 256 bits, hex as the reference tools print it. */
export const pdq: HashAlgorithm<'pdq'> = hexAlgorithm({
  name: 'pdq',
  kind: 'perceptual',
  bits: 256,
  defaultThreshold: PDQ_DEFAULT_THRESHOLD,
  maxThreshold: PDQ_MAX_THRESHOLD,
});
