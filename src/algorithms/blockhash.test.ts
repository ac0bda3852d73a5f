/**
 * Blockhash against its oracle: `blockhash-core` (the reference JS of blockhash.io) must give the
 * same 256 bits as `blockhashRgba` on the same RGBA pixels. Lists of known images are hashed by the
 * reference tools, so any disagreement, even one bit on one odd size, is a missed match.
 * Images are described by small parameters and painted from a seeded PRNG, so fast-check shrinks
 * failures to a readable description instead of a megabyte of bytes.
 */
import { bmvbhash } from 'blockhash-core';
import fc from 'fast-check';
import { withAndWithoutWasm } from '../testing/jitless.js';
import { moved } from '../testing/moved.js';
import { mulberry32 } from '../testing/prng.js';
import { describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import {
  BLOCKHASH_MIN_BOUNDARY,
  BLOCKHASH_MIN_DETAIL,
  BLOCKHASH_MIN_SPREAD,
  blockhash,
  blockhashBoundary,
  blockhashDetail,
  blockhashDihedralHashes,
  blockhashRgba,
  blockhashSpread,
  blockhashSums,
  type RgbaImage,
} from './blockhash.js';
import { DIHEDRAL_NAMES } from './dihedral.js';
import { formatHex } from './hex.js';

/** Fixed so a failure reproduces on every machine; change it only to explore, never to get green. */
const SEED = 0x0b10c4a5;

type Rgba = readonly [number, number, number, number];

/** How a region is painted. Alpha modes matter: alpha 0 counts as white whatever the RGB says. */
type Fill =
  | { readonly kind: 'flat'; readonly colour: Rgba }
  | { readonly kind: 'gradient'; readonly from: Rgba; readonly to: Rgba; readonly axis: 'x' | 'y' | 'xy' }
  | { readonly kind: 'noise'; readonly seed: number; readonly alpha: 'opaque' | 'zero' | 'semi' | 'any' };

interface Rect {
  /** Corners as fractions of the image size, so a rectangle stays meaningful at any size. */
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  readonly fill: Fill;
}

interface Content {
  readonly background: Fill;
  readonly rects: readonly Rect[];
}

function paint(width: number, height: number, content: Content): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  const region = (fill: Fill, x0: number, y0: number, x1: number, y1: number): void => {
    const random = fill.kind === 'noise' ? mulberry32(fill.seed) : undefined;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const i = (y * width + x) * 4;
        if (fill.kind === 'flat') {
          data.set(fill.colour, i);
        } else if (fill.kind === 'gradient') {
          const tx = width > 1 ? x / (width - 1) : 0;
          const ty = height > 1 ? y / (height - 1) : 0;
          const t = fill.axis === 'x' ? tx : fill.axis === 'y' ? ty : (tx + ty) / 2;
          for (let c = 0; c < 4; c++) data[i + c] = Math.round(fill.from[c]! + (fill.to[c]! - fill.from[c]!) * t);
        } else {
          const r = random!;
          data[i] = Math.floor(r() * 256);
          data[i + 1] = Math.floor(r() * 256);
          data[i + 2] = Math.floor(r() * 256);
          const alpha =
            fill.alpha === 'opaque'
              ? 255
              : fill.alpha === 'zero'
                ? 0
                : fill.alpha === 'semi'
                  ? 1 + Math.floor(r() * 254)
                  : Math.floor(r() * 256);
          data[i + 3] = alpha;
        }
      }
    }
  };
  region(content.background, 0, 0, width, height);
  for (const rect of content.rects) {
    const x0 = Math.floor(Math.min(rect.x0, rect.x1) * width);
    const x1 = Math.ceil(Math.max(rect.x0, rect.x1) * width);
    const y0 = Math.floor(Math.min(rect.y0, rect.y1) * height);
    const y1 = Math.ceil(Math.max(rect.y0, rect.y1) * height);
    region(rect.fill, x0, y0, x1, y1);
  }
  return { data, width, height };
}

const channel = fc.integer({ min: 0, max: 255 });
const alpha = fc.oneof(
  { weight: 4, arbitrary: fc.constant(255) },
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 254 }) },
);
// Black, white and mid greys put every block on the median, where the reference's tie rule decides.
const specialRgb = fc.constantFrom<[number, number, number]>(
  [0, 0, 0],
  [255, 255, 255],
  [128, 128, 128],
  [127, 127, 127],
  [85, 85, 85],
);
const rgb = fc.oneof(specialRgb, fc.tuple(channel, channel, channel));
const colour: fc.Arbitrary<Rgba> = fc.tuple(rgb, alpha).map(([[r, g, b], a]) => [r, g, b, a] as const);

const fill: fc.Arbitrary<Fill> = fc.oneof(
  fc.record({ kind: fc.constant('flat' as const), colour }),
  fc.record({
    kind: fc.constant('gradient' as const),
    from: colour,
    to: colour,
    axis: fc.constantFrom('x' as const, 'y' as const, 'xy' as const),
  }),
  fc.record({
    kind: fc.constant('noise' as const),
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
    alpha: fc.constantFrom('opaque' as const, 'zero' as const, 'semi' as const, 'any' as const),
  }),
);

const fraction = fc.double({ min: 0, max: 1, noNaN: true });
const rect: fc.Arbitrary<Rect> = fc.record({ x0: fraction, y0: fraction, x1: fraction, y1: fraction, fill });
const content: fc.Arbitrary<Content> = fc.record({ background: fill, rects: fc.array(rect, { maxLength: 4 }) });

// Sides not divisible by 16 take the weighted (fractional block) path; multiples of 16 the
// reference's integer "even" path; small sides make blocks thinner than a pixel.
const side = fc.oneof(
  fc.integer({ min: 1, max: 300 }),
  fc.integer({ min: 1, max: 20 }).map((k) => k * 16),
  fc.integer({ min: 1, max: 40 }),
);

function ours(image: RgbaImage): string {
  return formatHex(blockhashRgba(image));
}

function oracle(image: RgbaImage): string {
  return bmvbhash({ data: image.data, width: image.width, height: image.height }, 16);
}

function flat(width: number, height: number, rgbaValue: Rgba): RgbaImage {
  return paint(width, height, { background: { kind: 'flat', colour: rgbaValue }, rects: [] });
}

describe('blockhashRgba agrees with blockhash-core bit for bit', () => {
  /** Property: on every generated image of the given sizes, ours equals the oracle. */
  function agrees(sizes: fc.Arbitrary<readonly [number, number]>, numRuns: number): void {
    fc.assert(
      fc.property(sizes, content, ([width, height], c) => {
        const image = paint(width, height, c);
        expect(ours(image)).toBe(oracle(image));
      }),
      { seed: SEED, numRuns },
    );
  }
  const multiple = fc.integer({ min: 1, max: 20 }).map((k) => k * 16);

  it('on random sizes and contents', () => {
    agrees(fc.tuple(side, side), 400);
  });

  it('on sizes that are multiples of 16 (the reference even path)', () => {
    agrees(fc.tuple(multiple, multiple), 150);
  });

  it('on sizes where only one side is a multiple of 16', () => {
    const other = fc.integer({ min: 1, max: 300 }).filter((n) => n % 16 !== 0);
    agrees(
      fc.tuple(fc.boolean(), multiple, other).map(([swap, m, o]) => (swap ? ([o, m] as const) : ([m, o] as const))),
      150,
    );
  });

  // Edge sizes: single pixels and lines, just under/over one block, tall and wide strips.
  const EDGE_SIZES: [number, number][] = [
    [1, 1],
    [1, 17],
    [17, 1],
    [16, 16],
    [15, 15],
    [31, 33],
    [17, 3000],
    [3000, 17],
  ];
  // Larger than one band of rows summed in WebAssembly at a time (256 KiB), ending mid-band.
  const BAND_SIZES: [number, number][] = [
    [1000, 403],
    [333, 1001],
  ];

  it.each(EDGE_SIZES)('on %i×%i with random contents', (width, height) => {
    agrees(fc.constant([width, height] as const), width * height > 10_000 ? 25 : 60);
  });

  it.each(BAND_SIZES)('on %i×%i with random contents, across bands of rows', (width, height) => {
    agrees(fc.constant([width, height] as const), 6);
  });

  it('sums the same in JavaScript (no WebAssembly) as in the WebAssembly kernel', () => {
    // Opaque, transparent and mixed noise; sizes with straddling columns and rows, several bands,
    // and pixels at an unaligned offset (the JavaScript byte-by-byte loop).
    const script = `
      const { blockhashSums } = await import('./src/algorithms/blockhash.ts');
      const { mulberry32 } = await import('./src/testing/prng.ts');
      const out = [];
      for (const [width, height, offset] of [[300, 200, 0], [1000, 403, 0], [37, 29, 1], [17, 3000, 0], [333, 1001, 3]]) {
        const random = mulberry32(width * height);
        const data = Uint8Array.from({ length: width * height * 4 + offset }, (_, i) => (i % 4 === 3 && random() < 0.5 ? 0 : Math.floor(random() * 256))).subarray(offset);
        out.push(Array.from(blockhashSums({ data, width, height }).sums));
      }
      console.log(JSON.stringify({ wasm: typeof WebAssembly, out }));`;
    const { withWasm, withoutWasm } = withAndWithoutWasm(script);
    expect([withWasm.wasm, withoutWasm.wasm]).toEqual(['object', 'undefined']);
    expect(withoutWasm.out).toEqual(withWasm.out);
  }, 60_000);

  it.each([...EDGE_SIZES, [64, 48], [333, 250]])(
    'on flat images of %i×%i in black, white, greys and transparent',
    (width, height) => {
      const colours: Rgba[] = [
        [0, 0, 0, 255],
        [255, 255, 255, 255],
        [128, 128, 128, 255],
        [127, 127, 127, 255],
        [200, 10, 90, 255],
        [0, 0, 0, 0],
        [0, 0, 0, 1],
        [255, 255, 255, 128],
      ];
      for (const c of colours) {
        const image = flat(width, height, c);
        expect(ours(image), `colour ${c.join(',')}`).toBe(oracle(image));
      }
    },
  );

  it('on fully transparent noise, whose RGB must be ignored', () => {
    fc.assert(
      fc.property(side, side, fc.integer({ min: 0, max: 0x7fffffff }), (width, height, seed) => {
        const image = paint(width, height, { background: { kind: 'noise', seed, alpha: 'zero' }, rects: [] });
        expect(ours(image)).toBe(oracle(image));
        // Below 16 pixels a side some blocks receive no pixel at all and stay at 0.
        if (width >= 16 && height >= 16) expect(ours(image)).toBe('f'.repeat(64));
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('on a Uint8ClampedArray as well as a Uint8Array', () => {
    const image = paint(40, 30, { background: { kind: 'noise', seed: 7, alpha: 'any' }, rects: [] });
    const clamped = { data: new Uint8ClampedArray(image.data), width: 40, height: 30 };
    expect(ours(clamped)).toBe(oracle(image));
  });

  it('on pixels at an unaligned offset in their buffer (the byte-by-byte path)', () => {
    fc.assert(
      fc.property(fc.tuple(side, side), content, ([width, height], c) => {
        const image = paint(width, height, c);
        const shifted = new Uint8Array(image.data.length + 1);
        shifted.set(image.data, 1);
        expect(ours({ data: shifted.subarray(1), width, height })).toBe(oracle(image));
      }),
      { seed: SEED, numRuns: 60 },
    );
  });
});

describe('blockhashRgba', () => {
  it('returns 32 bytes (256 bits) for any size', () => {
    for (const [w, h] of [
      [1, 1],
      [16, 16],
      [333, 250],
    ] as const) {
      const hash = blockhashRgba(flat(w, h, [10, 20, 30, 255]));
      expect(hash).toBeInstanceOf(Uint8Array);
      expect(hash.length).toBe(32);
    }
  });

  it('hashes a black image to all zeros and a white one to all ones, as the reference does', () => {
    for (const [w, h] of [
      [64, 64],
      [333, 250],
      [16, 3000],
    ] as const) {
      const black = flat(w, h, [0, 0, 0, 255]);
      const white = flat(w, h, [255, 255, 255, 255]);
      expect(oracle(black)).toBe('0'.repeat(64));
      expect(oracle(white)).toBe('f'.repeat(64));
      expect(ours(black)).toBe(oracle(black));
      expect(ours(white)).toBe(oracle(white));
    }
  });

  it('lights only the first block for a single white pixel, as the reference does', () => {
    // Blocks thinner than a pixel: the one pixel lands in block 0 and the other 255 blocks stay empty.
    const pixel = flat(1, 1, [255, 255, 255, 255]);
    expect(oracle(pixel)).toBe(`8${'0'.repeat(63)}`);
    expect(ours(pixel)).toBe(oracle(pixel));
  });

  it('puts the top-left block in the most significant bit of the first byte', () => {
    // One white block in a black 16×16 image: only bit 0 can be above its band's median.
    const image = flat(16, 16, [0, 0, 0, 255]);
    image.data.set([255, 255, 255, 255], 0);
    expect(oracle(image)).toBe(`8${'0'.repeat(63)}`);
    expect(blockhashRgba(image)[0]).toBe(0x80);
  });

  it('rejects data whose length does not match width × height × 4 with a RangeError', () => {
    expect(() => blockhashRgba({ data: new Uint8Array(4 * 4 * 4 - 1), width: 4, height: 4 })).toThrow(RangeError);
    expect(() => blockhashRgba({ data: new Uint8Array(4 * 4 * 3), width: 4, height: 4 })).toThrow(RangeError);
  });

  it('rejects a zero or negative side with a RangeError', () => {
    expect(() => blockhashRgba({ data: new Uint8Array(0), width: 0, height: 4 })).toThrow(RangeError);
    expect(() => blockhashRgba({ data: new Uint8Array(0), width: 4, height: 0 })).toThrow(RangeError);
    expect(() => blockhashRgba({ data: new Uint8Array(0), width: -1, height: 4 })).toThrow(RangeError);
  });

  it('rejects a non-integer side, or data that is not bytes, with a TypeError', () => {
    expect(() => blockhashRgba({ data: new Uint8Array(16), width: 1.5, height: 2 })).toThrow(TypeError);
    expect(() => blockhashRgba({ data: new Uint8Array(16), width: 2, height: Number.NaN })).toThrow(TypeError);
    expect(() => blockhashRgba({ data: [0, 0, 0, 255] as unknown as Uint8Array, width: 1, height: 1 })).toThrow(
      TypeError,
    );
    expect(() => blockhashRgba(null as unknown as RgbaImage)).toThrow(TypeError);
  });
});

describe('blockhash hash type', () => {
  it('round-trips hex, accepting upper case and surrounding white space', () => {
    const hex = oracle(paint(50, 40, { background: { kind: 'noise', seed: 3, alpha: 'opaque' }, rects: [] }));
    expect(blockhash.format(blockhash.parse(` ${hex.toUpperCase()}\n`))).toBe(hex);
  });

  it('refuses hex of the wrong length and bytes of the wrong length with ERR_HASH_FORMAT', () => {
    expect(() => blockhash.parse('ab'.repeat(31))).toThrow(HashwardenError);
    expect(() => blockhash.format(new Uint8Array(31))).toThrow(HashwardenError);
  });
});

describe('blockhashDihedralHashes', () => {
  it('derives from the block sums exactly the hashes of the turned and mirrored pixels, whatever the size', () => {
    for (const [width, height] of [
      [64, 48],
      [50, 30],
      [17, 33],
    ] as const) {
      const random = mulberry32(width * 1000 + height);
      const data = Uint8Array.from({ length: width * height * 4 }, (_, i) =>
        i % 4 === 3 ? 255 : Math.floor(random() * 256),
      );
      const image = { data, width, height };
      const derived = blockhashDihedralHashes(blockhashSums(image));
      DIHEDRAL_NAMES.forEach((name, i) => {
        expect(blockhash.format(derived[i] as Uint8Array), `${width}×${height} ${name}`).toBe(
          blockhash.format(blockhashRgba(moved(image, name))),
        );
      });
    }
  });
});

describe('blockhashSpread, blockhashDetail and blockhashBoundary (the low-information guards)', () => {
  const image = (fill: (x: number, y: number) => number, width = 48, height = 32) => {
    const data = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        data
          .fill(fill(x, y), (y * width + x) * 4, (y * width + x) * 4 + 3)
          .fill(255, (y * width + x) * 4 + 3, (y * width + x) * 4 + 4);
    return { data, width, height };
  };

  it('is 0 for any one-colour image, whose hashes coincide, and above the minimum for an image with any structure', () => {
    for (const grey of [0, 90, 128, 255]) expect(blockhashSpread(blockhashSums(image(() => grey)))).toBe(0);
    // Dark and mid-grey flats share the all-zero hash: why they must not be matched.
    expect(blockhash.format(blockhashRgba(image(() => 0)))).toBe(blockhash.format(blockhashRgba(image(() => 128))));
    expect(blockhashSpread(blockhashSums(image((x) => (x < 24 ? 100 : 104))))).toBe(2);
    expect(blockhashSpread(blockhashSums(image((x) => (x * 255) / 47)))).toBeGreaterThan(BLOCKHASH_MIN_SPREAD);
    expect(BLOCKHASH_MIN_SPREAD).toBe(1);
  });

  it('finds no detail in ramps and bowls, whose hashes coincide, and plenty in a textured image', () => {
    const ramps = [
      image((x) => (x * 255) / 47),
      image((_x, y) => 40 + y * 5),
      image((x, y) => 20 + x * 2 + y * 3),
      image((x, y) => 200 - 0.2 * ((x - 24) ** 2 + (y - 16) ** 2)),
    ];
    for (const ramp of ramps) expect(blockhashDetail(blockhashSums(ramp))).toBeLessThan(0.5);
    // Any two left-to-right ramps share a hash, whatever their colours: why shadings must not be matched.
    expect(blockhash.format(blockhashRgba(ramps[0] as RgbaImage))).toBe(
      blockhash.format(blockhashRgba(image((x) => 60 + x * 3))),
    );
    const random = mulberry32(5);
    const noise = Array.from({ length: 48 * 32 }, () => Math.floor(random() * 256));
    expect(blockhashDetail(blockhashSums(image((x, y) => noise[y * 48 + x] as number)))).toBeGreaterThan(
      BLOCKHASH_MIN_DETAIL,
    );
    expect(BLOCKHASH_MIN_DETAIL).toBe(4);
  });

  it('measures the boundary between ones and zeros: none for a flat hash, 16 for a half, 480 for a checkerboard', () => {
    const hash = (bit: (r: number, c: number) => boolean) => {
      const out = new Uint8Array(32);
      for (let i = 0; i < 256; i++) if (bit(i >> 4, i & 15)) (out[i >> 3] as number) |= 0x80 >> (i & 7);
      return out;
    };
    expect(blockhashBoundary(hash(() => false))).toBe(0);
    expect(blockhashBoundary(hash((r) => r < 8))).toBe(16);
    expect(blockhashBoundary(hash((_r, c) => c >= 5))).toBe(16);
    expect(blockhashBoundary(hash((r, c) => r >= 4 && r < 12 && c >= 4 && c < 12))).toBe(32);
    expect(blockhashBoundary(hash((r, c) => ((r + c) & 1) === 1))).toBe(480);
    expect(blockhashBoundary(blockhash.parse('ff'.repeat(16) + '00'.repeat(16)))).toBe(16);
    expect(() => blockhashBoundary(new Uint8Array(31))).toThrow(RangeError);
  });

  it('gives every dark-beside-bright layout the same hash, whatever the texture, and a boundary below the minimum', () => {
    // Two unrelated textures, each split into a dark left half and a bright right half: the same
    // blockhash, which is why a plain layout must not be matched.
    const random = mulberry32(8);
    const noise = Array.from({ length: 48 * 32 }, () => Math.floor(random() * 40));
    const first = image((x, y) => (x < 24 ? 20 : 180) + (noise[y * 48 + x] as number));
    const second = image((x, y) => (x < 24 ? 60 : 220) + ((x * 7 + y * 13) % 30));
    expect(blockhash.format(blockhashRgba(first))).toBe(blockhash.format(blockhashRgba(second)));
    expect(blockhashDetail(blockhashSums(first))).toBeGreaterThan(BLOCKHASH_MIN_DETAIL);
    expect(blockhashBoundary(blockhashRgba(first))).toBeLessThan(BLOCKHASH_MIN_BOUNDARY);
    expect(blockhashBoundary(blockhashRgba(image((x, y) => noise[y * 48 + x] as number)))).toBeGreaterThan(
      BLOCKHASH_MIN_BOUNDARY,
    );
    expect(BLOCKHASH_MIN_BOUNDARY).toBe(48);
  });
});
