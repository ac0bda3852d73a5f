/**
 * Blockhash: Bian Yang, Fan Gu, Xiamu Niu, "Block Mean Value Based Image Perceptual Hashing"
 * (IIH-MSP 2006), as specified by blockhash.io and its reference tools (commonsmachinery
 * blockhash C/Python/JS): method 2, "bmvbhash", with 16×16 blocks → 256 bits.
 *
 * Each pixel adds R+G+B (765 when fully transparent) to the block(s) it overlaps, weighted by the
 * overlapping area; a bit is 1 when its block is brighter than the median of its horizontal band
 * (4 bands of 4 block rows). On the same pixels the result is bit-identical to `blockhash-core`
 * (tested as an oracle): with 16 blocks every area weight is a multiple of 1/16, so every block sum
 * is exact in doubles (below 2^30 pixels) whatever the order of the additions.
 */
import { integerInRange } from '../validate.js';
import { DIHEDRAL_NAMES, dihedralSource } from './dihedral.js';
import { hexAlgorithm } from './hex.js';
import { kthSmallest } from './select.js';
import { LazyInstance, type WasmMemory } from '../wasm.js';
import { BLOCKHASH_WASM_BASE64 } from './blockhash-wasm.js';
import type { HashAlgorithm } from './types.js';

/** Blocks per side: 16 → 256-bit hashes, the size the reference tools and lists use. */
const BLOCKHASH_BLOCKS = 16;

/**
 * Default match threshold in bits (of 256): 10, the largest that keeps 2 bits between it and the
 * nearest unrelated pair of the robustness benchmark (docs/thresholds.md). A threshold that found
 * more of the mildly edited copies would let unrelated pairs match: blockhash compares R + G + B
 * block means with their band's median, so colour edits (greyscale, saturation) move blocks across
 * it. Where a list has PDQ, trust PDQ.
 */
export const BLOCKHASH_DEFAULT_THRESHOLD = 10;

/**
 * Largest threshold accepted: a quarter of the bits. Unrelated images sit around half the bits
 * apart; beyond 64 a "match" says nothing about the image, so a larger value is a mistake.
 */
export const BLOCKHASH_MAX_THRESHOLD = 64;

/**
 * Least spread of the block means (their standard deviation, in grey levels of 0–255) for a
 * blockhash to be used for matching: 1. Below it the image is one colour, every block ties with
 * its band's median, and the reference's tie rule gives every such image the same hash (all zeros
 * for dark or mid grey, all ones for light), so a flat upload would match every flat entry. Flat
 * images measure exactly 0, and every other image measured lies well above 1 (docs/benchmark.md).
 */
export const BLOCKHASH_MIN_SPREAD = 1;

/**
 * Least detail a blockhash needs to be used for matching: the block means must depart from the
 * smooth surface that fits them best (a quadratic in x and y: a plane, a ramp, a vignette, a bowl)
 * by 4 grey levels (RMS) or more. Below it the image is a smooth shading: each bit only says on
 * which side of the shading's middle its block lies, so every such image shares one of a few
 * hashes (every horizontal ramp matched every vertical one, a sky, a reversed ramp, before this
 * guard). Generated ramps, skies, vignettes and near-blank scans fall below 4, as do a small
 * share of tiles cut from photos (skies, walls); the only whole photos below it are the flat ones
 * the spread guard already refuses (bench/robustness/low-information.ts; docs/benchmark.md).
 */
export const BLOCKHASH_MIN_DETAIL = 4;

/**
 * Least boundary a blockhash needs to be used for matching: of the 480 pairs of neighbouring
 * blocks (side by side, or one above the other), 48 must have different bits. A hash with a
 * shorter boundary is a few large regions: it says only that one part of the image is darker than
 * another (a dark half beside a bright one, a disc on a plain ground), and every image with that
 * layout shares it, whatever it shows. In the robustness benchmark every pair of unrelated tiles
 * that matched had a tile with a short boundary; 48 lies between those and the photos' own, with
 * a margin on each side, and with it no unrelated pair matched at the default threshold
 * (bench/robustness; docs/benchmark.md, docs/thresholds.md).
 */
export const BLOCKHASH_MIN_BOUNDARY = 48;

/** RGBA pixels, 4 bytes per pixel, rows top to bottom, no padding. */
export interface RgbaImage {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/** The per-block sums and the area of one block, the input of the bit decision. */
export interface BlockSums {
  /** `blocks × blocks` sums, row-major. */
  readonly sums: Float64Array;
  /** Pixels per block (fractional when the size is not a multiple of `blocks`). */
  readonly pixelsPerBlock: number;
  readonly blocks: number;
}

function checkImage(image: RgbaImage): void {
  if (image === null || typeof image !== 'object') {
    throw new TypeError(
      `Expected object with data, width and height for image but received ${String(image)} of type ${typeof image}`,
    );
  }
  const width = integerInRange(image.width, 1, 0x3fff_ffff, 'width');
  const height = integerInRange(image.height, 1, 0x3fff_ffff, 'height');
  if (!(image.data instanceof Uint8Array || image.data instanceof Uint8ClampedArray)) {
    throw new TypeError(`Expected Uint8Array for data but received ${typeof image.data}`);
  }
  if (image.data.length !== width * height * 4) {
    throw new RangeError(`Expected ${width * height * 4} bytes of RGBA for data but received ${image.data.length}`);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** blockhash.wat's exports. Pointers are byte offsets into `memory`. */
interface BlockhashExports {
  readonly memory: WasmMemory;
  sums(band: number, rowBytes: number, rows: number, segments: number, count: number, out: number, acc: number): void;
}

/** Bytes of pixels copied into the kernel at a time: a band of rows that stays in the L2 cache. */
const BAND_BYTES = 1 << 18;

/**
 * Widest image the kernel sums: a segment's i32 sum stays below 2^31 (2^21 pixels × 765) even with
 * 2 blocks a side; wider images are summed in JavaScript.
 */
const KERNEL_MAX_WIDTH = 1 << 22;

/** The WebAssembly kernel (blockhash.wat), or null without WebAssembly (the JavaScript loop then runs). */
const KERNEL = new LazyInstance<BlockhashExports>(BLOCKHASH_WASM_BASE64);

/** For one axis: the two blocks each pixel row/column overlaps and the weight of each. */
function axisWeights(size: number, blocks: number, even: boolean) {
  const first = new Int32Array(size);
  const second = new Int32Array(size);
  const wFirst = new Float64Array(size);
  const wSecond = new Float64Array(size);
  const blockSize = size / blocks;
  for (let p = 0; p < size; p++) {
    if (even) {
      first[p] = second[p] = Math.floor(p / blockSize);
      wFirst[p] = 1;
      wSecond[p] = 0;
      continue;
    }
    const mod = (p + 1) % blockSize;
    const frac = mod - Math.floor(mod);
    const whole = mod - frac;
    wFirst[p] = 1 - frac;
    wSecond[p] = frac;
    // `whole` is 0 on block boundaries and on the last row/column: there a pixel may straddle two blocks.
    if (whole > 0 || p + 1 === size) {
      first[p] = second[p] = Math.floor(p / blockSize);
    } else {
      first[p] = Math.floor(p / blockSize);
      second[p] = Math.ceil(p / blockSize);
    }
  }
  return { first, second, wFirst, wSecond, blockSize };
}

/**
 * Block sums of bmvbhash (method 2) for `blocks × blocks` blocks. Exposed because rotations and
 * flips of the hash can be derived from the sums without decoding again.
 */
export function blockhashSums(image: RgbaImage, blocks: number = BLOCKHASH_BLOCKS): BlockSums {
  checkImage(image);
  integerInRange(blocks, 2, 64, 'blocks');
  // Powers of two keep every block size and weight a dyadic fraction, hence every sum exact.
  if ((blocks & (blocks - 1)) !== 0)
    throw new RangeError(`Expected power of two between 2 and 64 for blocks but received ${blocks} of type number`);
  const { data, width, height } = image;
  // Where a side divides evenly the reference takes its quick path (whole pixels per block): the
  // weights below are then 1 and 0 and the sums are the same integers.
  const rows = axisWeights(height, blocks, height % blocks === 0);
  const cols = axisWeights(width, blocks, width % blocks === 0);
  const sums = new Float64Array(blocks * blocks);
  const row = new Float64Array(blocks);
  const words =
    LITTLE_ENDIAN && data.byteOffset % 4 === 0
      ? new Uint32Array(data.buffer, data.byteOffset, width * height)
      : undefined;
  // Columns as runs lying wholly in one block, plus the single columns that straddle two blocks.
  const runs: number[] = []; // start, end, block
  const splits: number[] = []; // x
  for (let x = 0; x < width; ) {
    const block = cols.first[x] as number;
    if (cols.second[x] !== block) {
      splits.push(x++);
      continue;
    }
    const start = x;
    while (x < width && cols.first[x] === block && cols.second[x] === block) x++;
    runs.push(start, x, block);
  }
  // The reference adds value·wTop·wLeft etc. per pixel. Weights are multiples of 1/blocks, so all
  // these products and sums are exact in doubles and may be regrouped freely: first each pixel row
  // into per-column-block sums (a pixel inside one block adds its whole value), then each row sum
  // into the block rows it overlaps. Same bits as the reference (the oracle test), several × faster.
  const addRow = (y: number): void => {
    const top = (rows.first[y] as number) * blocks;
    const bottom = (rows.second[y] as number) * blocks;
    if (top === bottom) {
      for (let b = 0; b < blocks; b++) (sums[top + b] as number) += row[b] as number;
    } else {
      const wTop = rows.wFirst[y] as number;
      const wBottom = rows.wSecond[y] as number;
      for (let b = 0; b < blocks; b++) {
        (sums[top + b] as number) += (row[b] as number) * wTop;
        (sums[bottom + b] as number) += (row[b] as number) * wBottom;
      }
    }
  };
  const addSplit = (x: number, value: number): void => {
    (row[cols.first[x] as number] as number) += value * (cols.wFirst[x] as number);
    (row[cols.second[x] as number] as number) += value * (cols.wSecond[x] as number);
  };

  const k = width <= KERNEL_MAX_WIDTH ? KERNEL.get() : null;
  if (k !== null) {
    // Bands of rows are copied into the kernel's memory (a memcpy) and summed there in SIMD, a
    // group of rows at a time: the rows lying wholly in one block row together, a row straddling
    // two alone (its weights differ); each group's sums per segment (the runs, then each
    // straddling column as a segment of one pixel) are weighed and added here.
    const count = runs.length / 3 + splits.length;
    const rowBytes = width * 4;
    const bandRows = Math.max(1, Math.min(height, Math.floor(BAND_BYTES / rowBytes)));
    const align = (n: number): number => (n + 15) & ~15;
    const outAt = align(8 * count);
    const accAt = align(outAt + 4 * count);
    const bandAt = align(accAt + 2 * rowBytes);
    const need = bandAt + bandRows * rowBytes;
    if (need > k.memory.buffer.byteLength) k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / 65536));
    const segments = new Int32Array(k.memory.buffer, 0, 2 * count);
    let widest = 1;
    for (let r = 0; r < runs.length; r += 3) {
      segments.set([(runs[r] as number) * 4, (runs[r + 1] as number) * 4], (2 * r) / 3);
      widest = Math.max(widest, (runs[r + 1] as number) - (runs[r] as number));
    }
    splits.forEach((x, i) => {
      segments.set([x * 4, x * 4 + 4], 2 * (runs.length / 3 + i));
    });
    // A group's sum over a segment stays below 2^31.
    const groupRows = Math.max(1, Math.floor(0x7fffffff / (765 * widest)));
    const band = new Uint8Array(k.memory.buffer, bandAt, bandRows * rowBytes);
    const out = new Int32Array(k.memory.buffer, outAt, count);
    for (let y0 = 0; y0 < height; y0 += bandRows) {
      const n = Math.min(bandRows, height - y0);
      band.set(data.subarray(y0 * rowBytes, (y0 + n) * rowBytes));
      for (let y = y0; y < y0 + n; ) {
        const block = rows.first[y] as number;
        let end = y + 1;
        if (rows.second[y] === block) {
          while (end < y0 + n && end - y < groupRows && rows.first[end] === block && rows.second[end] === block) end++;
        }
        k.sums(bandAt + (y - y0) * rowBytes, rowBytes, end - y, 0, count, outAt, accAt);
        row.fill(0);
        let o = 0;
        for (let r = 0; r < runs.length; r += 3, o++) (row[runs[r + 2] as number] as number) += out[o] as number;
        for (const x of splits) addSplit(x, out[o++] as number);
        addRow(y);
        y = end;
      }
    }
    return { sums, pixelsPerBlock: cols.blockSize * rows.blockSize, blocks };
  }

  for (let y = 0; y < height; y++) {
    row.fill(0);
    const base = y * width * 4;
    for (let r = 0; r < runs.length; r += 3) {
      let total = 0;
      if (words !== undefined) {
        // One 32-bit load per pixel (little-endian RGBA → A in the top byte).
        for (let p = base / 4 + (runs[r] as number), end = base / 4 + (runs[r + 1] as number); p < end; p++) {
          const w = words[p] as number;
          total += w >>> 24 === 0 ? 765 : (w & 255) + ((w >>> 8) & 255) + ((w >>> 16) & 255);
        }
      } else {
        for (let i = base + (runs[r] as number) * 4, end = base + (runs[r + 1] as number) * 4; i < end; i += 4) {
          total += data[i + 3] === 0 ? 765 : (data[i] as number) + (data[i + 1] as number) + (data[i + 2] as number);
        }
      }
      (row[runs[r + 2] as number] as number) += total;
    }
    for (const x of splits) {
      const i = base + x * 4;
      addSplit(x, data[i + 3] === 0 ? 765 : (data[i] as number) + (data[i + 1] as number) + (data[i + 2] as number));
    }
    addRow(y);
  }
  return { sums, pixelsPerBlock: cols.blockSize * rows.blockSize, blocks };
}

/** Scratch space of the median search: a band has at most 64 × 64 / 4 blocks. */
const medianScratch = new Float64Array(1024);

/** The median of `values[from .. to)`: the mean of the two middle values when their count is even. */
function median(values: Float64Array, from: number, to: number): number {
  const n = to - from;
  const kth = (k: number): number => kthSmallest(values, k, medianScratch, from, to);
  return n % 2 === 0 ? (kth(n / 2 - 1) + kth(n / 2)) / 2 : kth((n - 1) / 2);
}

/** The bit decision: each block against the median of its horizontal band, as bytes. */
export function blockhashFromSums({ sums, pixelsPerBlock, blocks }: BlockSums): Uint8Array {
  const count = blocks * blocks;
  const band = count / 4;
  const half = (pixelsPerBlock * 256 * 3) / 2;
  const out = new Uint8Array(Math.ceil(count / 8));
  for (let b = 0; b < 4; b++) {
    const m = median(sums, b * band, (b + 1) * band);
    for (let j = b * band; j < (b + 1) * band; j++) {
      const v = sums[j] as number;
      // Near-flat images put many blocks on the median: the reference then answers by which half
      // of the value range the median sits in, so a white image hashes to ones and a black one to zeros.
      if (v > m || (Math.abs(v - m) < 1 && m > half)) (out[j >> 3] as number) |= 0x80 >> (j & 7);
    }
  }
  return out;
}

/**
 * Blockhash (bmvbhash, 16×16 blocks, 256 bits) of RGBA pixels. Pure pixel maths: decoding is the
 * caller's (see `hashwarden/image`).
 *
 * @example
 * ```ts
 * const hash = blockhashRgba({ data: rgba, width: 640, height: 480 });
 * blockhash.format(hash); // 64 hex digits
 * ```
 */
export function blockhashRgba(image: RgbaImage): Uint8Array {
  return blockhashFromSums(blockhashSums(image, BLOCKHASH_BLOCKS));
}

/**
 * How much the block means differ: their standard deviation, in grey levels (0–255). Below
 * {@link BLOCKHASH_MIN_SPREAD} the image carries no information a blockhash can keep.
 *
 * @example
 * ```ts
 * blockhashSpread(blockhashSums(rgba)) < BLOCKHASH_MIN_SPREAD; // true for a flat image
 * ```
 */
export function blockhashSpread({ sums, pixelsPerBlock }: BlockSums): number {
  // R + G + B per pixel: a grey level is 3 of it.
  const scale = 1 / (pixelsPerBlock * 3);
  let mean = 0;
  for (let i = 0; i < sums.length; i++) mean += (sums[i] as number) * scale;
  mean /= sums.length;
  let variance = 0;
  for (let i = 0; i < sums.length; i++) variance += ((sums[i] as number) * scale - mean) ** 2;
  return Math.sqrt(variance / sums.length);
}

/**
 * How far the block means depart from the smooth surface that fits them best: the RMS residual, in
 * grey levels (0–255), of a least-squares fit of a quadratic in the block's x and y. Below
 * {@link BLOCKHASH_MIN_DETAIL} the image is a smooth shading whose blockhash it shares with every
 * similar shading.
 *
 * @example
 * ```ts
 * blockhashDetail(blockhashSums(rgba)) < BLOCKHASH_MIN_DETAIL; // true for a gradient
 * ```
 */
export function blockhashDetail({ sums, pixelsPerBlock, blocks }: BlockSums): number {
  const n = blocks * blocks;
  const terms = fitTerms(blocks);
  const scale = 1 / (pixelsPerBlock * 3);
  // Normal equations of the fit, solved by Gauss–Jordan elimination with partial pivoting.
  const a: Float64Array[] = Array.from({ length: 6 }, () => new Float64Array(7));
  for (let b = 0; b < n; b++) {
    const m = (sums[b] as number) * scale;
    for (let i = 0; i < 6; i++) {
      const row = a[i] as Float64Array;
      const ti = terms[b * 6 + i] as number;
      for (let j = 0; j < 6; j++) (row[j] as number) += ti * (terms[b * 6 + j] as number);
      (row[6] as number) += ti * m;
    }
  }
  for (let p = 0; p < 6; p++) {
    let best = p;
    for (let q = p + 1; q < 6; q++)
      if (Math.abs((a[q] as Float64Array)[p] as number) > Math.abs((a[best] as Float64Array)[p] as number)) best = q;
    const swap = a[p] as Float64Array;
    a[p] = a[best] as Float64Array;
    a[best] = swap;
    const pivot = a[p] as Float64Array;
    for (let q = 0; q < 6; q++) {
      if (q === p) continue;
      const row = a[q] as Float64Array;
      const f = (row[p] as number) / (pivot[p] as number);
      for (let k = p; k < 7; k++) (row[k] as number) -= f * (pivot[k] as number);
    }
  }
  const coefficients = a.map((row, i) => (row[6] as number) / (row[i] as number));
  let squares = 0;
  for (let b = 0; b < n; b++) {
    let fit = 0;
    for (let i = 0; i < 6; i++) fit += (coefficients[i] as number) * (terms[b * 6 + i] as number);
    squares += ((sums[b] as number) * scale - fit) ** 2;
  }
  return Math.sqrt(squares / n);
}

/**
 * The length of the boundary between a blockhash's ones and zeros: how many pairs of neighbouring
 * blocks (side by side, or one above the other; 480 pairs for 16 × 16) have different bits. Below
 * {@link BLOCKHASH_MIN_BOUNDARY} the hash is a layout of a few regions shared by unrelated images.
 *
 * @example
 * ```ts
 * blockhashBoundary(blockhash.parse('ff'.repeat(16) + '00'.repeat(16))); // 16: a bright top half
 * ```
 */
export function blockhashBoundary(hash: Uint8Array, blocks = BLOCKHASH_BLOCKS): number {
  integerInRange(blocks, 1, 64, 'blocks');
  if (!(hash instanceof Uint8Array) || hash.length * 8 < blocks * blocks)
    throw new RangeError(
      `Expected Uint8Array of ${Math.ceil((blocks * blocks) / 8)} bytes for hash but received ${hash instanceof Uint8Array ? hash.length : typeof hash}`,
    );
  const bit = (i: number): number => ((hash[i >> 3] as number) >> (7 - (i & 7))) & 1;
  let boundary = 0;
  for (let r = 0; r < blocks; r++) {
    for (let c = 0; c < blocks; c++) {
      const i = r * blocks + c;
      if (c + 1 < blocks && bit(i) !== bit(i + 1)) boundary++;
      if (r + 1 < blocks && bit(i) !== bit(i + blocks)) boundary++;
    }
  }
  return boundary;
}

const fitTermTables = new Map<number, Float64Array>();

/** For each block (row-major), the fit's terms 1, x, y, x², xy, y² (x and y from −1 to 1); made once per size. */
function fitTerms(blocks: number): Float64Array {
  let terms = fitTermTables.get(blocks);
  if (terms === undefined) {
    terms = new Float64Array(blocks * blocks * 6);
    const centre = (blocks - 1) / 2;
    for (let r = 0; r < blocks; r++) {
      for (let c = 0; c < blocks; c++) {
        const x = (c - centre) / centre;
        const y = (r - centre) / centre;
        terms.set([1, x, y, x * x, x * y, y * y], (r * blocks + c) * 6);
      }
    }
    fitTermTables.set(blocks, terms);
  }
  return terms;
}

/**
 * The hashes of the image and of its seven rotations and flips, from its block sums alone, in the
 * order of `DIHEDRAL_NAMES` (dihedral.ts). Exact: a block's pixel weights are symmetric, so
 * turning or mirroring the image moves the sums as it moves the blocks, and the bands whose
 * medians decide the bits are then taken across the moved grid.
 *
 * @example
 * ```ts
 * const [original, rot90] = blockhashDihedralHashes(blockhashSums(rgba));
 * ```
 */
export function blockhashDihedralHashes(sums: BlockSums): Uint8Array[] {
  const { blocks } = sums;
  const moved = new Float64Array(blocks * blocks);
  return dihedralTables(blocks).map((source) => {
    for (let k = 0; k < moved.length; k++) moved[k] = sums.sums[source[k] as number] as number;
    return blockhashFromSums({ ...sums, sums: moved });
  });
}

const tables = new Map<number, Int16Array[]>();

/**
 * For each transform, the block each block of the moved grid takes its sum from, for `blocks`
 * blocks a side; made once per size (per-cell calls made the 8 hashes a tenth of a decode).
 */
function dihedralTables(blocks: number): Int16Array[] {
  let found = tables.get(blocks);
  if (found === undefined) {
    found = DIHEDRAL_NAMES.map((name) => {
      const source = new Int16Array(blocks * blocks);
      for (let r = 0; r < blocks; r++) {
        for (let c = 0; c < blocks; c++) {
          const [sr, sc] = dihedralSource(name, r, c, blocks);
          source[r * blocks + c] = sr * blocks + sc;
        }
      }
      return source;
    });
    tables.set(blocks, found);
  }
  return found;
}

/**
 * Why a blockhash must not be searched from the hash alone: a boundary under
 * {@link BLOCKHASH_MIN_BOUNDARY}. The text is the one `hashImage` reports in `unusable`.
 */
function refuseBlockhash(hash: Uint8Array): string | undefined {
  const boundary = blockhashBoundary(hash);
  return boundary < BLOCKHASH_MIN_BOUNDARY
    ? `blockhash of a plain layout (${boundary} neighbouring blocks differ, below ${BLOCKHASH_MIN_BOUNDARY})`
    : undefined;
}

/**
 * The blockhash hash type: 256 bits, hex as printed by the reference tools; `refuse` turns away a
 * plain layout ({@link BLOCKHASH_MIN_BOUNDARY}).
 */
export const blockhash: HashAlgorithm<'blockhash'> = hexAlgorithm({
  name: 'blockhash',
  kind: 'perceptual',
  bits: 256,
  defaultThreshold: BLOCKHASH_DEFAULT_THRESHOLD,
  maxThreshold: BLOCKHASH_MAX_THRESHOLD,
  refuse: refuseBlockhash,
});
