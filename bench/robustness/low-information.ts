/**
 * Low-information images for the robustness benchmark: flat colours, gradients, near-blank scans
 * and tiny images, generated here (seeded), plus the flat files among the photos. Such an image
 * carries too little for a perceptual hash to say anything: every flat image hashes alike, a
 * gradient's blocks all fall on one side of their band's median. The quality and
 * low-information guards must keep each of them from matching anything.
 */
import sharp from 'sharp';
import { mulberry32 } from '../../src/testing/prng.js';

/** One generated image: its name, what kind it is, and its PNG bytes. */
export interface LowInformationImage {
  readonly name: string;
  readonly kind: 'flat' | 'gradient' | 'near-blank' | 'tiny';
  readonly bytes: Buffer;
}

const png = (data: Uint8Array, width: number, height: number): Promise<Buffer> =>
  sharp(Buffer.from(data), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();

function raster(
  width: number,
  height: number,
  pixel: (x: number, y: number) => readonly [number, number, number],
): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 3);
  return data;
}

const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));

/** The generated set: 12 flat colours, 12 gradients, 8 near-blank scans, 8 tiny images. */
export async function lowInformationImages(): Promise<LowInformationImage[]> {
  const out: LowInformationImage[] = [];
  const random = mulberry32(0x10f0);
  const flats: [number, number, number][] = [
    [0, 0, 0],
    [255, 255, 255],
    [128, 128, 128],
    [127, 127, 127],
    [200, 30, 40],
    [20, 120, 220],
    [250, 250, 245],
    [5, 5, 10],
    [60, 160, 60],
    [240, 200, 0],
    [90, 90, 100],
    [180, 180, 180],
  ];
  for (const [i, c] of flats.entries())
    out.push({
      name: `flat-${i}`,
      kind: 'flat',
      bytes: await png(
        raster(320, 240, () => c),
        320,
        240,
      ),
    });
  const gradients: [string, (x: number, y: number) => readonly [number, number, number]][] = [
    ['horizontal', (x) => [clamp((x / 319) * 255), clamp((x / 319) * 255), clamp((x / 319) * 255)]],
    ['horizontal-reversed', (x) => [clamp(255 - (x / 319) * 255), 100, 100]],
    ['vertical', (_x, y) => [clamp((y / 239) * 255), clamp((y / 239) * 200), 80]],
    ['vertical-dark', (_x, y) => [clamp((y / 239) * 60), clamp((y / 239) * 60), clamp((y / 239) * 60)]],
    ['diagonal', (x, y) => [clamp(((x + y) / 558) * 255), 50, clamp(255 - ((x + y) / 558) * 255)]],
    ['anti-diagonal', (x, y) => [clamp(((319 - x + y) / 558) * 255), clamp(((319 - x + y) / 558) * 255), 128]],
    [
      'radial',
      (x, y) => {
        const r = Math.hypot(x - 160, y - 120) / 200;
        return [clamp(255 * (1 - r)), clamp(255 * (1 - r)), clamp(255 * (1 - r))];
      },
    ],
    [
      'radial-off-centre',
      (x, y) => {
        const r = Math.hypot(x - 60, y - 50) / 300;
        return [clamp(40 + 200 * r), clamp(80 + 100 * r), 200];
      },
    ],
    ['sky', (_x, y) => [clamp(90 + y * 0.5), clamp(140 + y * 0.4), clamp(230 - y * 0.1)]],
    [
      'vignette',
      (x, y) => {
        const r = Math.hypot((x - 160) / 160, (y - 120) / 120);
        return [clamp(220 - 120 * r * r), clamp(210 - 120 * r * r), clamp(200 - 120 * r * r)];
      },
    ],
    [
      'two-tone-soft',
      (x) => {
        const t = 1 / (1 + Math.exp(-(x - 160) / 20));
        return [clamp(30 + 200 * t), clamp(30 + 200 * t), clamp(30 + 200 * t)];
      },
    ],
    ['gentle', (x, y) => [clamp(120 + x / 40), clamp(120 + y / 40), 120]],
  ];
  for (const [name, pixel] of gradients)
    out.push({ name: `gradient-${name}`, kind: 'gradient', bytes: await png(raster(320, 240, pixel), 320, 240) });
  // Near-blank scans: paper white with sensor noise, a few specks, faint ruled lines, a fold.
  for (let i = 0; i < 8; i++) {
    const seed = mulberry32(100 + i);
    const specks = Array.from({ length: 3 + i }, () => [Math.floor(seed() * 320), Math.floor(seed() * 240)] as const);
    const base = 235 + i * 2;
    out.push({
      name: `near-blank-${i}`,
      kind: 'near-blank',
      bytes: await png(
        raster(320, 240, (x, y) => {
          let v = base + (seed() - 0.5) * 6;
          if (i % 2 === 1 && y % 24 === 0) v -= 25; // ruled lines
          if (i >= 6 && Math.abs(x - 160) < 2) v -= 15; // a fold
          for (const [sx, sy] of specks) if (Math.abs(x - sx) < 2 && Math.abs(y - sy) < 2) v -= 120;
          return [clamp(v), clamp(v), clamp(v - 3)];
        }),
        320,
        240,
      ),
    });
  }
  // Tiny images: too few pixels to hold a picture.
  for (const side of [1, 2, 3, 4, 5, 6, 8, 12]) {
    out.push({
      name: `tiny-${side}x${side}`,
      kind: 'tiny',
      bytes: await png(
        raster(side, side, () => [Math.floor(random() * 256), Math.floor(random() * 256), Math.floor(random() * 256)]),
        side,
        side,
      ),
    });
  }
  return out;
}
