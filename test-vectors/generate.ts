/**
 * Test-vector generator: paints benign synthetic images from a seeded PRNG, encodes them with
 * sharp, makes edited copies of some, and writes `manifest.json` with each file's exact hashes
 * and the blockhash that the reference implementation (blockhash-core) computes for it.
 *
 * Everything is made here, from numbers: no third-party images, no system fonts (text uses the
 * 5×7 bitmap font below), no Math.random. Only integer hashing, + − × ÷ and sqrt are used on
 * pixels (all exactly specified by IEEE 754), so the same Node and sharp produce the same bytes.
 *
 * Run: `npx tsx test-vectors/generate.ts`. See test-vectors/README.md.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bmvbhash } from 'blockhash-core';
import sharp, { type Sharp } from 'sharp';
import { mulberry32 } from '../src/testing/prng.js';

const SEED = 20_240_611;
const HERE = dirname(fileURLToPath(import.meta.url));
const IMAGES = join(HERE, 'images');

// ---------------------------------------------------------------------------------------------
// Randomness: mulberry32 for sequences, an integer hash for noise lattices (position-addressed,
// so a noise field does not depend on the order in which pixels are visited).

/** Per-image seed from the master seed and the file name: adding an image leaves the others alone. */
function seedFor(name: string): number {
  let h = 0x811c9dc5 ^ SEED;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(min = 0, max = 1): number {
    return min + (max - min) * this.next();
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

function lattice(seed: number, ix: number, iy: number): number {
  let h = (Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ seed) | 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

/** Value noise in [0, 1): random values on an integer lattice, smoothly interpolated. */
function valueNoise(seed: number, x: number, y: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const sx = smooth(x - ix);
  const sy = smooth(y - iy);
  const a = lattice(seed, ix, iy);
  const b = lattice(seed, ix + 1, iy);
  const c = lattice(seed, ix, iy + 1);
  const d = lattice(seed, ix + 1, iy + 1);
  const top = a + (b - a) * sx;
  const bottom = c + (d - c) * sx;
  return top + (bottom - top) * sy;
}

/** Fractal sum of value noise: large soft shapes plus finer detail, like natural images. */
function fbm(seed: number, x: number, y: number, cell: number, octaves: number): number {
  let sum = 0;
  let amplitude = 1;
  let norm = 0;
  let scale = 1 / cell;
  for (let o = 0; o < octaves; o++) {
    sum += amplitude * valueNoise((seed + Math.imul(o, 0x9e3779b9)) | 0, x * scale, y * scale);
    norm += amplitude;
    amplitude /= 2;
    scale *= 2;
  }
  return sum / norm;
}

// ---------------------------------------------------------------------------------------------
// Colour and canvas.

type Rgb = readonly [number, number, number];

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** Piecewise-linear palette over [0, 1]. */
function palette(stops: readonly (readonly [number, Rgb])[], t: number): Rgb {
  const first = stops[0]!;
  if (t <= first[0]) return first[1];
  for (let i = 1; i < stops.length; i++) {
    const [p1, c1] = stops[i]!;
    const [p0, c0] = stops[i - 1]!;
    if (t <= p1) return mix(c0, c1, (t - p0) / (p1 - p0));
  }
  return stops[stops.length - 1]![1];
}

const COLOURS: readonly Rgb[] = [
  [220, 50, 47],
  [38, 139, 210],
  [133, 153, 0],
  [181, 137, 0],
  [211, 54, 130],
  [42, 161, 152],
  [108, 113, 196],
  [203, 75, 22],
  [30, 30, 30],
  [245, 245, 240],
];

/** RGBA float canvas; painting composites "source over", alpha included. */
class Canvas {
  readonly data: Float64Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [0, 0, 0],
    alpha = 1,
  ) {
    this.data = new Float64Array(width * height * 4);
    for (let i = 0; i < this.data.length; i += 4) {
      this.data[i] = background[0];
      this.data[i + 1] = background[1];
      this.data[i + 2] = background[2];
      this.data[i + 3] = alpha;
    }
  }

  /** Composites `colour` with opacity `alpha` (0..1) over pixel (x, y). */
  blend(x: number, y: number, colour: Rgb, alpha: number): void {
    if (alpha <= 0 || x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    const d = this.data;
    const below = d[i + 3]! * (1 - alpha);
    const out = alpha + below;
    for (let c = 0; c < 3; c++) d[i + c] = (colour[c]! * alpha + d[i + c]! * below) / out;
    d[i + 3] = out;
  }

  /** Paints every pixel from a function of its position. */
  paint(fn: (x: number, y: number) => Rgb, alphaFn?: (x: number, y: number) => number): void {
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        const c = fn(x, y);
        const i = (y * this.width + x) * 4;
        this.data[i] = c[0];
        this.data[i + 1] = c[1];
        this.data[i + 2] = c[2];
        if (alphaFn) this.data[i + 3] = alphaFn(x, y);
      }
    }
  }

  /**
   * Fills a shape given by an inside test over a bounding box, 4×4 supersampled: antialiased
   * edges look like camera images to a JPEG encoder and do not alias when resized.
   */
  shape(
    inside: (x: number, y: number) => boolean,
    box: readonly [number, number, number, number],
    colour: Rgb,
    opacity = 1,
  ): void {
    const x0 = Math.max(0, Math.floor(box[0]));
    const y0 = Math.max(0, Math.floor(box[1]));
    const x1 = Math.min(this.width, Math.ceil(box[2]));
    const y1 = Math.min(this.height, Math.ceil(box[3]));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        let hits = 0;
        for (let sy = 0; sy < 4; sy++)
          for (let sx = 0; sx < 4; sx++) if (inside(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4)) hits++;
        this.blend(x, y, colour, (opacity * hits) / 16);
      }
    }
  }

  circle(cx: number, cy: number, r: number, colour: Rgb, opacity = 1): void {
    this.shape(
      (x, y) => (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r,
      [cx - r, cy - r, cx + r, cy + r],
      colour,
      opacity,
    );
  }

  rect(x0: number, y0: number, x1: number, y1: number, colour: Rgb, opacity = 1): void {
    this.shape((x, y) => x >= x0 && x < x1 && y >= y0 && y < y1, [x0, y0, x1, y1], colour, opacity);
  }

  triangle(
    a: readonly [number, number],
    b: readonly [number, number],
    c: readonly [number, number],
    colour: Rgb,
    opacity = 1,
  ): void {
    const edge = (p: readonly [number, number], q: readonly [number, number], x: number, y: number) =>
      (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0]);
    const inside = (x: number, y: number) => {
      const e1 = edge(a, b, x, y);
      const e2 = edge(b, c, x, y);
      const e3 = edge(c, a, x, y);
      return (e1 >= 0 && e2 >= 0 && e3 >= 0) || (e1 <= 0 && e2 <= 0 && e3 <= 0);
    };
    const xs = [a[0], b[0], c[0]];
    const ys = [a[1], b[1], c[1]];
    this.shape(inside, [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], colour, opacity);
  }

  /** Pixels as 8-bit RGB (alpha dropped: the canvas is opaque) or RGBA. */
  toRaw(channels: 3 | 4): Buffer {
    const out = Buffer.alloc(this.width * this.height * channels);
    for (let p = 0, o = 0; p < this.data.length; p += 4, o += channels) {
      for (let c = 0; c < channels; c++) {
        const v = c === 3 ? this.data[p + 3]! * 255 : this.data[p + c]!;
        out[o + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// A 5×7 bitmap font (A–Z, 0–9, a little punctuation), drawn for this script.

const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  D: ['###..', '#..#.', '#...#', '#...#', '#...#', '#..#.', '###..'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  G: ['.###.', '#...#', '#....', '#.###', '#...#', '#...#', '.####'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  I: ['.###.', '..#..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  J: ['..###', '...#.', '...#.', '...#.', '...#.', '#..#.', '.##..'],
  K: ['#...#', '#..#.', '#.#..', '##...', '#.#..', '#..#.', '#...#'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  M: ['#...#', '##.##', '#.#.#', '#.#.#', '#...#', '#...#', '#...#'],
  N: ['#...#', '#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  P: ['####.', '#...#', '#...#', '####.', '#....', '#....', '#....'],
  Q: ['.###.', '#...#', '#...#', '#...#', '#.#.#', '#..#.', '.##.#'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  U: ['#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  V: ['#...#', '#...#', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
  W: ['#...#', '#...#', '#...#', '#.#.#', '#.#.#', '#.#.#', '.#.#.'],
  X: ['#...#', '#...#', '.#.#.', '..#..', '.#.#.', '#...#', '#...#'],
  Y: ['#...#', '#...#', '.#.#.', '..#..', '..#..', '..#..', '..#..'],
  Z: ['#####', '....#', '...#.', '..#..', '.#...', '#....', '#####'],
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['#####', '...#.', '..#..', '...#.', '....#', '#...#', '.###.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
  '-': ['.....', '.....', '.....', '#####', '.....', '.....', '.....'],
  '.': ['.....', '.....', '.....', '.....', '.....', '.##..', '.##..'],
  ':': ['.....', '.##..', '.##..', '.....', '.##..', '.##..', '.....'],
  '/': ['....#', '....#', '...#.', '..#..', '.#...', '#....', '#....'],
};

/** Width in pixels of `text` at `scale` (6 columns per glyph: 5 + 1 spacing). */
function textWidth(text: string, scale: number): number {
  return (text.length * 6 - 1) * scale;
}

function drawText(canvas: Canvas, text: string, x: number, y: number, scale: number, colour: Rgb, opacity = 1): void {
  let at = x;
  for (const ch of text.toUpperCase()) {
    const glyph = GLYPHS[ch];
    if (!glyph) throw new Error(`No glyph for ${JSON.stringify(ch)}`);
    glyph.forEach((row, gy) => {
      for (let gx = 0; gx < 5; gx++) {
        if (row[gx] !== '#') continue;
        for (let py = 0; py < scale; py++) {
          for (let px = 0; px < scale; px++) canvas.blend(at + gx * scale + px, y + gy * scale + py, colour, opacity);
        }
      }
    });
    at += 6 * scale;
  }
}

// ---------------------------------------------------------------------------------------------
// Scenes. Each returns a canvas and a description of how it was made.

interface Scene {
  readonly canvas: Canvas;
  readonly description: string;
}

function randomShapes(canvas: Canvas, rng: Rng, count: number, opacity = 1): void {
  const { width: w, height: h } = canvas;
  const size = Math.min(w, h);
  for (let k = 0; k < count; k++) {
    const colour = rng.pick(COLOURS);
    const kind = rng.pick(['circle', 'rect', 'triangle'] as const);
    const cx = rng.float(0, w);
    const cy = rng.float(0, h);
    const s = rng.float(0.08, 0.3) * size;
    if (kind === 'circle') canvas.circle(cx, cy, s, colour, opacity);
    else if (kind === 'rect')
      canvas.rect(cx - s, cy - s * rng.float(0.4, 1), cx + s * rng.float(0.4, 1.5), cy + s, colour, opacity);
    else
      canvas.triangle(
        [cx, cy - s],
        [cx - s * rng.float(0.6, 1.2), cy + s],
        [cx + s * rng.float(0.6, 1.2), cy + s * rng.float(0.3, 1)],
        colour,
        opacity,
      );
  }
}

function gradientScene(w: number, h: number, rng: Rng): Scene {
  const from = rng.pick(COLOURS);
  const to = rng.pick(COLOURS.filter((c) => c !== from));
  const canvas = new Canvas(w, h);
  const cx = w / 2;
  const cy = h / 2;
  const rMax = Math.sqrt(cx * cx + cy * cy);
  canvas.paint((x, y) => {
    const diagonal = (x / (w - 1) + y / (h - 1)) / 2;
    const r = Math.sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) / rMax;
    const c = mix(from, to, diagonal);
    const vignette = 1 - 0.35 * r * r;
    return [c[0] * vignette, c[1] * vignette, c[2] * vignette];
  });
  return {
    canvas,
    description: `Diagonal linear gradient rgb(${from.join(',')}) → rgb(${to.join(',')}) with a quadratic radial vignette (35 % at the corners)`,
  };
}

function shapesScene(w: number, h: number, rng: Rng, count: number, textured: boolean): Scene {
  const seed = rng.int(0, 0x7fffffff);
  const background: Rgb = [236, 232, 220];
  const canvas = new Canvas(w, h, background);
  if (textured) {
    canvas.paint((x, y) => {
      const n = fbm(seed, x, y, Math.max(w, h) / 4, 4);
      return mix([200, 210, 225], [245, 238, 220], n);
    });
  }
  randomShapes(canvas, rng, count);
  return {
    canvas,
    description: `${count} antialiased filled circles, rectangles and triangles in random palette colours on ${textured ? 'a soft value-noise background (4 octaves)' : `flat rgb(${background.join(',')})`}`,
  };
}

const TERRAIN: readonly (readonly [number, Rgb])[] = [
  [0, [20, 40, 110]],
  [0.38, [40, 90, 170]],
  [0.45, [220, 205, 150]],
  [0.5, [90, 150, 60]],
  [0.65, [40, 100, 40]],
  [0.78, [120, 110, 95]],
  [0.9, [240, 240, 245]],
  [1, [255, 255, 255]],
];

function terrainScene(w: number, h: number, rng: Rng, octaves: number): Scene {
  const seed = rng.int(0, 0x7fffffff);
  const cell = Math.max(w, h) / 3;
  const canvas = new Canvas(w, h);
  canvas.paint((x, y) => {
    const n = fbm(seed, x, y, cell, octaves);
    // Stretch the fbm (which clusters around 0.5) so every band of the palette appears.
    return palette(TERRAIN, Math.max(0, Math.min(1, (n - 0.5) * 2.2 + 0.5)));
  });
  return {
    canvas,
    description: `Value-noise "map": fbm (${octaves} octaves, base cell ${cell.toFixed(1)} px) through a water/sand/grass/rock/snow palette`,
  };
}

function blobsScene(w: number, h: number, rng: Rng, count: number): Scene {
  const seed = rng.int(0, 0x7fffffff);
  const sky: Rgb = rng.pick([
    [90, 140, 200],
    [200, 170, 120],
    [70, 90, 80],
  ] as const);
  const canvas = new Canvas(w, h);
  canvas.paint((x, y) => {
    const n = fbm(seed, x, y, Math.max(w, h) / 5, 6);
    return mix(mix(sky, [240, 240, 235], y / h), [30, 30, 40], n * 0.5);
  });
  for (let k = 0; k < count; k++) {
    const colour = rng.pick(COLOURS);
    const cx = rng.float(0, w);
    const cy = rng.float(0, h);
    const r = rng.float(0.05, 0.25) * Math.min(w, h);
    // Soft blob: opacity falls off smoothly from the centre (a polynomial, not exp).
    const x0 = Math.max(0, Math.floor(cx - r));
    const x1 = Math.min(w, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(h, Math.ceil(cy + r));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const d2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (r * r);
        if (d2 < 1) canvas.blend(x, y, colour, 0.85 * (1 - d2) * (1 - d2));
      }
    }
  }
  return {
    canvas,
    description: `${count} soft colour blobs (opacity 0.85·(1−d²)²) over a vertical sky gradient darkened by fbm value noise (6 octaves)`,
  };
}

function landscapeScene(w: number, h: number, rng: Rng): Scene {
  const seed = rng.int(0, 0x7fffffff);
  const canvas = new Canvas(w, h);
  const horizon = h * 0.45;
  canvas.paint((x, y) => {
    if (y < horizon) {
      const t = y / horizon;
      const cloud = fbm(seed ^ 0x5555, x, y * 2, w / 4, 6);
      const c = mix([60, 110, 190], [190, 215, 235], t);
      return mix(c, [250, 250, 250], Math.max(0, cloud - 0.55) * 2);
    }
    const t = (y - horizon) / (h - horizon);
    const n = fbm(seed, x, y, w / 6, 7);
    return mix(mix([70, 120, 50], [120, 100, 60], t), [30, 50, 20], n * 0.6);
  });
  canvas.circle(w * 0.72, h * 0.2, h * 0.07, [255, 235, 170]);
  const ridges: readonly [Rgb, number, number][] = [
    [[120, 130, 160], 0.3, 0.18],
    [[80, 95, 110], 0.38, 0.12],
    [[50, 70, 60], 0.45, 0.08],
  ];
  ridges.forEach(([colour, base, amplitude], layer) => {
    for (let x = 0; x < w; x++) {
      const top = h * (base - amplitude * fbm(seed + layer * 7919, x, layer * 1000, w / 3, 4));
      for (let y = Math.max(0, Math.floor(top)); y < horizon + h * 0.05 * layer; y++)
        canvas.blend(x, y, colour, Math.min(1, y + 1 - top));
    }
  });
  return {
    canvas,
    description:
      'Synthetic landscape: sky gradient with fbm clouds (6 octaves), sun disc, 3 fbm mountain ridges (4 octaves), fbm-textured ground (7 octaves)',
  };
}

function textScene(w: number, h: number, rng: Rng): Scene {
  const canvas = new Canvas(w, h, [248, 246, 238]);
  const accent = rng.pick(COLOURS.slice(0, 8));
  canvas.rect(0, 0, w, Math.round(h * 0.14), accent);
  const lines = [
    'HASHWARDEN TEST VECTOR',
    'THE QUICK BROWN FOX',
    'JUMPS OVER THE LAZY DOG',
    '0123456789 - ABC/XYZ',
    'SYNTHETIC TEXT: NOT A PHOTO.',
  ];
  drawText(
    canvas,
    lines[0]!,
    Math.round(w * 0.04),
    Math.round(h * 0.035),
    Math.max(1, Math.floor(w / 220)),
    [255, 255, 255],
  );
  let y = Math.round(h * 0.2);
  lines.slice(1).forEach((line, i) => {
    const scale = Math.max(1, Math.floor((w * 0.9) / textWidth(line, 1)) - (i % 2));
    drawText(canvas, line, Math.round(w * 0.04), y, scale, i % 2 === 0 ? [25, 25, 30] : accent);
    y += scale * 7 + Math.round(h * 0.05);
  });
  return {
    canvas,
    description: `Bitmap-font text (5×7 glyphs scaled up) on off-white paper with an rgb(${accent.join(',')}) header bar; lines: ${lines.map((l) => JSON.stringify(l)).join(', ')}`,
  };
}

function checkerboardScene(w: number, h: number, square: number): Scene {
  const a: Rgb = [30, 30, 30];
  const b: Rgb = [225, 225, 225];
  const canvas = new Canvas(w, h);
  canvas.paint((x, y) => ((Math.floor(x / square) + Math.floor(y / square)) % 2 === 0 ? a : b));
  return { canvas, description: `Checkerboard of ${square}-px squares, rgb(${a.join(',')}) and rgb(${b.join(',')})` };
}

function tallScene(w: number, h: number, rng: Rng): Scene {
  const canvas = new Canvas(w, h);
  const stops = [rng.pick(COLOURS), rng.pick(COLOURS), rng.pick(COLOURS)] as const;
  canvas.paint((_x, y) =>
    y < h / 2 ? mix(stops[0], stops[1], y / (h / 2)) : mix(stops[1], stops[2], (y - h / 2) / (h / 2)),
  );
  for (let k = 0; k < 6; k++)
    canvas.circle(rng.float(0.2, 0.8) * w, ((k + 0.5) / 6) * h, rng.float(0.15, 0.35) * w, rng.pick(COLOURS));
  drawText(canvas, 'TALL', Math.round((w - textWidth('TALL', 4)) / 2), Math.round(h * 0.45), 4, [255, 255, 255]);
  return {
    canvas,
    description:
      'Three-stop vertical gradient, 6 circles stacked down the image, the word TALL in the bitmap font (scale 4)',
  };
}

function bannerScene(w: number, h: number, rng: Rng): Scene {
  const canvas = new Canvas(w, h);
  const left = rng.pick(COLOURS.slice(0, 8));
  const right = rng.pick(COLOURS.slice(0, 8).filter((c) => c !== left));
  canvas.paint((x) => mix(left, right, x / (w - 1)));
  const text = 'HASHWARDEN SAMPLE BANNER';
  const scale = Math.floor((w * 0.9) / textWidth(text, 1));
  drawText(
    canvas,
    text,
    Math.round((w - textWidth(text, scale)) / 2),
    Math.round((h - 7 * scale) / 2),
    scale,
    [255, 255, 255],
  );
  return {
    canvas,
    description: `Horizontal gradient rgb(${left.join(',')}) → rgb(${right.join(',')}) with ${JSON.stringify(text)} in the bitmap font (scale ${scale})`,
  };
}

function alphaShapesScene(w: number, h: number, rng: Rng): Scene {
  const canvas = new Canvas(w, h, [0, 0, 0], 0);
  randomShapes(canvas, rng, 7);
  return {
    canvas,
    description: '7 opaque antialiased shapes on a fully transparent background (alpha 0 everywhere else)',
  };
}

function semiTransparentScene(w: number, h: number, rng: Rng): Scene {
  const seed = rng.int(0, 0x7fffffff);
  const canvas = new Canvas(w, h);
  const cx = w / 2;
  const cy = h / 2;
  canvas.paint(
    (x, y) => palette(TERRAIN, fbm(seed, x, y, w / 3, 4)),
    // Alpha falls from 1 in the centre to 0 at the corners: every level from opaque to clear.
    (x, y) => Math.max(0, 1 - ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (cx * cx + cy * cy)),
  );
  randomShapes(canvas, rng, 4, 0.5);
  return {
    canvas,
    description:
      'fbm terrain colours with alpha falling radially from 255 (centre) to 0 (corners), plus 4 shapes at 50 % opacity',
  };
}

function mosaicScene(w: number, h: number, rng: Rng): Scene {
  const { canvas } = terrainScene(w, h, rng, 5);
  randomShapes(canvas, rng, 5, 0.8);
  canvas.rect(0, h - 30, w, h, [20, 20, 20], 0.6);
  drawText(canvas, 'MOSAIC 400X300', 8, h - 24, 2, [255, 255, 255]);
  return {
    canvas,
    description: 'fbm terrain (5 octaves) with 5 shapes at 80 % opacity and a caption bar with bitmap-font text',
  };
}

// ---------------------------------------------------------------------------------------------
// Encoding, hashing, the manifest.

type Format = 'png' | 'jpeg' | 'webp';
type Encoding = 'png' | 'jpeg90' | 'jpeg60' | 'webp' | 'webp-lossless';

const EXTENSIONS: Readonly<Record<Format, string>> = { png: 'png', jpeg: 'jpg', webp: 'webp' };
const FORMAT_OF: Readonly<Record<Encoding, Format>> = {
  png: 'png',
  jpeg90: 'jpeg',
  jpeg60: 'jpeg',
  webp: 'webp',
  'webp-lossless': 'webp',
};
const ENCODING_TEXT: Readonly<Record<Encoding, string>> = {
  png: 'PNG (compression level 9)',
  jpeg90: 'JPEG quality 90, 4:2:0, baseline',
  jpeg60: 'JPEG quality 60, 4:2:0, baseline',
  webp: 'lossy WebP quality 85',
  'webp-lossless': 'lossless WebP',
};

interface Raw {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
}

/** Every encoder option spelled out, so a change of sharp defaults cannot silently change bytes. */
async function encode(raw: Raw, encoding: Encoding): Promise<Buffer> {
  const image = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  switch (encoding) {
    case 'png':
      return image
        .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false, progressive: false })
        .toBuffer();
    case 'jpeg90':
    case 'jpeg60':
      return image
        .jpeg({
          quality: encoding === 'jpeg90' ? 90 : 60,
          chromaSubsampling: '4:2:0',
          progressive: false,
          optimiseCoding: true,
          mozjpeg: false,
          trellisQuantisation: false,
        })
        .toBuffer();
    case 'webp':
      return image
        .webp({ quality: 85, alphaQuality: 100, effort: 4, smartSubsample: false, lossless: false })
        .toBuffer();
    case 'webp-lossless':
      return image.webp({ lossless: true, effort: 4 }).toBuffer();
  }
}

/** The reference blockhash of a file, decoded the way the manifest's note says. */
async function oracleBlockhash(bytes: Buffer): Promise<{ hash: string; width: number; height: number }> {
  const { data, info } = await sharp(bytes, { ignoreIcc: true, autoOrient: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new Error(`expected RGBA from the decoder, got ${info.channels} channels`);
  return {
    hash: bmvbhash({ data, width: info.width, height: info.height }, 16),
    width: info.width,
    height: info.height,
  };
}

interface ManifestImage {
  file: string;
  kind: 'original' | 'edit' | 'low-information';
  description: string;
  width: number;
  height: number;
  format: Format;
  bytes: number;
  sha256: string;
  md5: string;
  editOf?: string;
  edit?: string;
  lowInformation?: true;
  blockhash: string;
}

const manifest: ManifestImage[] = [];
const written = new Map<string, Buffer>();

async function write(
  file: string,
  bytes: Buffer,
  format: Format,
  entry: Pick<ManifestImage, 'kind' | 'description' | 'editOf' | 'edit' | 'lowInformation'>,
): Promise<void> {
  if (written.has(file)) throw new Error(`duplicate file name ${file}`);
  await writeFile(join(IMAGES, file), bytes);
  written.set(file, bytes);
  const { hash, width, height } = await oracleBlockhash(bytes);
  manifest.push({
    file,
    kind: entry.kind,
    description: entry.description,
    width,
    height,
    format,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('hex'),
    ...(entry.editOf === undefined ? {} : { editOf: entry.editOf, edit: entry.edit }),
    ...(entry.lowInformation ? { lowInformation: true as const } : {}),
    blockhash: hash,
  });
}

async function writeScene(
  name: string,
  scene: (rng: Rng) => Scene,
  encoding: Encoding,
  kind: 'original' | 'low-information',
  channels: 3 | 4 = 3,
): Promise<string> {
  const { canvas, description } = scene(new Rng(seedFor(name)));
  const format = FORMAT_OF[encoding];
  const file = `${name}.${EXTENSIONS[format]}`;
  const bytes = await encode(
    { data: canvas.toRaw(channels), width: canvas.width, height: canvas.height, channels },
    encoding,
  );
  await write(file, bytes, format, {
    kind,
    description: `${description}; ${canvas.width}×${canvas.height}, ${channels === 4 ? 'RGBA' : 'RGB'}, ${ENCODING_TEXT[encoding]}`,
    ...(kind === 'low-information' ? { lowInformation: true as const } : {}),
  });
  return file;
}

/** A semi-transparent plate with "SAMPLE" in the bitmap font, as RGBA for sharp's composite. */
function watermark(imageWidth: number): Raw {
  const scale = Math.max(1, Math.round(imageWidth / 160));
  const text = 'SAMPLE';
  const pad = 3 * scale;
  const w = textWidth(text, scale) + 2 * pad;
  const h = 7 * scale + 2 * pad;
  const canvas = new Canvas(w, h, [255, 255, 255], 0.55);
  drawText(canvas, text, pad, pad, scale, [20, 20, 20], 0.9);
  return { data: canvas.toRaw(4), width: w, height: h, channels: 4 };
}

interface Edit {
  readonly id: string;
  readonly text: string;
  /** Always re-encoded like the original, except where the edit is the encoding. */
  readonly encoding?: Encoding;
  apply(image: Sharp, width: number, height: number): Sharp;
}

const EDITS: readonly Edit[] = [
  {
    id: 'resize50',
    text: 'resized to 50 % (sharp resize, lanczos3, dimensions rounded)',
    apply: (image, w, h) => image.resize(Math.round(w / 2), Math.round(h / 2), { fit: 'fill', kernel: 'lanczos3' }),
  },
  { id: 'jpeg60', text: 're-encoded as JPEG quality 60', encoding: 'jpeg60', apply: (image) => image },
  {
    id: 'watermark',
    text: 'watermarked: semi-transparent white plate (alpha 0.55) with "SAMPLE" in the bitmap font (alpha 0.9), composited at the bottom-right corner',
    apply: (image, w) => {
      const mark = watermark(w);
      return image.composite([
        { input: mark.data, raw: { width: mark.width, height: mark.height, channels: 4 }, gravity: 'southeast' },
      ]);
    },
  },
  {
    id: 'crop5',
    text: 'cropped by 5 % on each side (rounded to whole pixels)',
    apply: (image, w, h) => {
      const left = Math.round(w * 0.05);
      const top = Math.round(h * 0.05);
      return image.extract({ left, top, width: w - 2 * left, height: h - 2 * top });
    },
  },
  {
    id: 'bright15',
    text: 'brightness +15 % (sharp modulate brightness 1.15)',
    apply: (image) => image.modulate({ brightness: 1.15 }),
  },
];

async function writeEdits(original: string, encoding: Encoding): Promise<void> {
  const source = written.get(original);
  if (!source) throw new Error(`edit of unknown original ${original}`);
  const entry = manifest.find((m) => m.file === original)!;
  const base = original.replace(/\.[a-z]+$/, '');
  const opaque = (await sharp(source).metadata()).channels === 3;
  for (const edit of EDITS) {
    const { data, info } = await edit
      .apply(sharp(source), entry.width, entry.height)
      .raw()
      .toBuffer({ resolveWithObject: true });
    const hasAlpha = info.channels === 4;
    const enc = edit.encoding ?? encoding;
    const format = FORMAT_OF[enc];
    let raw: Raw = { data, width: info.width, height: info.height, channels: hasAlpha ? 4 : 3 };
    // Compositing adds an alpha channel; an opaque original's copies stay opaque, as uploads would.
    if (hasAlpha && opaque) {
      raw = {
        data: await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } })
          .removeAlpha()
          .raw()
          .toBuffer(),
        width: info.width,
        height: info.height,
        channels: 3,
      };
    }
    const file = `${base}--${edit.id}.${EXTENSIONS[format]}`;
    await write(file, await encode(raw, enc), format, {
      kind: 'edit',
      description: `${original} ${edit.text}; ${ENCODING_TEXT[enc]}`,
      editOf: original,
      edit: edit.text,
    });
  }
}

async function main(): Promise<void> {
  sharp.cache(false);
  await mkdir(IMAGES, { recursive: true });
  for (const name of await readdir(IMAGES)) {
    if (/\.(png|jpg|webp)$/.test(name)) await rm(join(IMAGES, name));
  }

  // Originals.
  await writeScene('gradient-64x64', (r) => gradientScene(64, 64, r), 'png', 'original');
  await writeScene('shapes-200x150', (r) => shapesScene(200, 150, r, 8, false), 'png', 'original');
  await writeScene('terrain-333x250', (r) => terrainScene(333, 250, r, 5), 'jpeg90', 'original');
  await writeScene('text-640x480', (r) => textScene(640, 480, r), 'png', 'original');
  await writeScene('blobs-640x480', (r) => blobsScene(640, 480, r, 12), 'jpeg90', 'original');
  await writeScene('shapes-1024x768', (r) => shapesScene(1024, 768, r, 14, true), 'jpeg90', 'original');
  await writeScene('landscape-1600x1200', (r) => landscapeScene(1600, 1200, r), 'jpeg90', 'original');
  await writeScene('tall-120x900', (r) => tallScene(120, 900, r), 'png', 'original');
  await writeScene('banner-900x120', (r) => bannerScene(900, 120, r), 'webp', 'original');
  await writeScene('checkerboard-240x240', () => checkerboardScene(240, 240, 30), 'png', 'original');
  await writeScene('alpha-shapes-300x200', (r) => alphaShapesScene(300, 200, r), 'png', 'original', 4);
  await writeScene('semi-transparent-250x250', (r) => semiTransparentScene(250, 250, r), 'png', 'original', 4);
  await writeScene('blobs-480x360', (r) => blobsScene(480, 360, r, 9), 'webp', 'original');
  await writeScene('mosaic-400x300', (r) => mosaicScene(400, 300, r), 'jpeg90', 'original');
  await writeScene('alpha-shapes-160x160', (r) => alphaShapesScene(160, 160, r), 'webp-lossless', 'original', 4);

  // Low-information images: near-flat content is where the median tie rule decides bits.
  const flat = (rgb: Rgb, text: string) => (): Scene => {
    const canvas = new Canvas(64, 64, rgb);
    return { canvas, description: `Flat ${text} rgb(${rgb.join(',')})` };
  };
  await writeScene('flat-black-64x64', flat([0, 0, 0], 'black'), 'png', 'low-information');
  await writeScene('flat-white-64x64', flat([255, 255, 255], 'white'), 'png', 'low-information');
  await writeScene('flat-grey-64x64', flat([128, 128, 128], 'mid grey'), 'png', 'low-information');
  await writeScene(
    'gentle-gradient-256x256',
    () => {
      const canvas = new Canvas(256, 256);
      canvas.paint((x) => {
        const v = 120 + (16 * x) / 255;
        return [v, v, v];
      });
      return { canvas, description: 'Very gentle horizontal grey gradient, 120 → 136' };
    },
    'png',
    'low-information',
  );
  await writeScene(
    'pixel-1x1',
    () => ({ canvas: new Canvas(1, 1, [200, 30, 60]), description: 'A single rgb(200,30,60) pixel' }),
    'png',
    'low-information',
  );
  await writeScene(
    'tiny-8x8',
    (r) => {
      const canvas = new Canvas(8, 8);
      canvas.paint(() => [r.int(0, 255), r.int(0, 255), r.int(0, 255)]);
      return { canvas, description: '8×8 pixels of uniformly random colour' };
    },
    'png',
    'low-information',
  );

  // Edited copies, made from the encoded originals as an uploader would make them.
  await writeEdits('blobs-640x480.jpg', 'jpeg90');
  await writeEdits('landscape-1600x1200.jpg', 'jpeg90');
  await writeEdits('shapes-1024x768.jpg', 'jpeg90');
  await writeEdits('text-640x480.png', 'png');
  await writeEdits('terrain-333x250.jpg', 'jpeg90');

  const doc = {
    generator: 'test-vectors/generate.ts',
    seed: SEED,
    note:
      'Every image was generated by this script (no third-party content). bytes/sha256/md5 are of the file as written. ' +
      `blockhash is the reference value: the file decoded at full size by sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}) ` +
      'with sharp(file, { ignoreIcc: true, autoOrient: true }).ensureAlpha().raw(), and hashed by blockhash-core 0.1.0 bmvbhash(pixels, 16) (256 bits, hex). ' +
      'width/height are of that decode.',
    images: manifest,
  };
  await writeFile(join(HERE, 'manifest.json'), `${JSON.stringify(doc, null, 2)}\n`);

  // A summary for whoever regenerates: sizes and how far each edit moved the hash.
  let total = 0;
  for (const m of manifest) {
    total += m.bytes;
    let note = '';
    if (m.editOf) {
      const original = manifest.find((o) => o.file === m.editOf)!;
      let d = 0;
      for (let i = 0; i < 64; i++) {
        let x = parseInt(m.blockhash[i]!, 16) ^ parseInt(original.blockhash[i]!, 16);
        for (; x; x &= x - 1) d++;
      }
      note = `  distance to original ${d}`;
    }
    console.log(
      `${m.file.padEnd(40)} ${String(m.width).padStart(5)}×${String(m.height).padEnd(5)} ${String(m.bytes).padStart(8)} B  ${m.blockhash}${note}`,
    );
  }
  console.log(`${manifest.length} images, ${total} bytes`);
}

await main();
