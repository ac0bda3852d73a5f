/**
 * Uniform borders: the letterbox and pillarbox bars, frames and padding that an upload can add
 * around an image. A border moves every block of a blockhash and every frequency of a PDQ hash
 * (a black border defeats both: docs/thresholds.md), so `hashImage` with
 * `trim` also hashes what lies inside one. Pixel maths on RGBA only.
 *
 * A border is a run of whole rows (or columns) from an edge inwards whose every pixel is within
 * {@link BORDER_TOLERANCE} of that edge's colour in each of R, G, B and alpha, followed by up to
 * 8 rows (a JPEG block) whose mean colour still is: where a bar meets a bright picture, JPEG
 * rings, and single pixels of the bar's last rows stray further.
 */
import type { RgbaImage } from '../algorithms/blockhash.js';

/**
 * Largest difference, per channel, between a border pixel and the border's colour: 24 of 255.
 * JPEG compression leaves bars a few levels off their colour, and rings up to about 20 levels
 * where they meet the picture; a picture's own edge rarely stays that flat across a whole row.
 */
const BORDER_TOLERANCE = 24;

/**
 * Least border worth trimming, as a share of the side it is on: 2%. Thinner ones change a hash
 * by little, and one-pixel frames are common in ordinary images.
 */
const BORDER_MIN_SHARE = 0.02;

/**
 * Least share of each side that must remain inside the border: 25%. Below it the "content" is a
 * sliver (a flat image with a mark), not a picture in a frame.
 */
const BORDER_MIN_CONTENT = 0.25;

/** Rows (or columns) beyond the strict border that may still count by their mean: a JPEG block. */
const RINGING = 8;

/** The part of an image inside its border, in pixels. */
export interface Box {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

function near(data: Uint8Array | Uint8ClampedArray, p: number, colour: number): boolean {
  const t = BORDER_TOLERANCE;
  return (
    Math.abs((data[p] as number) - (data[colour] as number)) <= t &&
    Math.abs((data[p + 1] as number) - (data[colour + 1] as number)) <= t &&
    Math.abs((data[p + 2] as number) - (data[colour + 2] as number)) <= t &&
    Math.abs((data[p + 3] as number) - (data[colour + 3] as number)) <= t
  );
}

/**
 * The box inside the image's uniform border, or null when it has none worth trimming (no side's
 * border reaches {@link BORDER_MIN_SHARE}, or less than {@link BORDER_MIN_CONTENT} of a side
 * would remain).
 *
 * @example
 * ```ts
 * findBorder({ data, width: 800, height: 600 }); // { left: 0, top: 60, width: 800, height: 480 }
 * ```
 */
export function findBorder(image: RgbaImage): Box | null {
  const { data, width, height } = image;
  if (data.length !== width * height * 4)
    throw new RangeError(`Expected ${width * height * 4} bytes of RGBA for data but received ${data.length}`);
  // A line of `count` pixels from byte `start`, `step` bytes apart: every pixel near the colour
  // (strict), or only their mean (for the few rows where JPEG rings).
  const line = (start: number, step: number, count: number, colour: number, strict: boolean): boolean => {
    if (strict) {
      for (let i = 0, p = start; i < count; i++, p += step) if (!near(data, p, colour)) return false;
      return true;
    }
    for (let k = 0; k < 4; k++) {
      let sum = 0;
      for (let i = 0, p = start + k; i < count; i++, p += step) sum += data[p] as number;
      if (Math.abs(sum / count - (data[colour + k] as number)) > BORDER_TOLERANCE) return false;
    }
    return true;
  };
  // How many of at most `limit` lines from an edge inwards are border: strictly, then (when there
  // is any) up to RINGING more by their mean.
  const depth = (limit: number, uniform: (i: number, strict: boolean) => boolean): number => {
    let n = 0;
    while (n < limit && uniform(n, true)) n++;
    for (let k = 0; n > 0 && k < RINGING && n < limit && uniform(n, false); k++) n++;
    return n;
  };
  const row = (y: number, colour: number, strict: boolean): boolean => line(y * width * 4, 4, width, colour, strict);
  // Each side's colour: the middle pixel of its outermost row or column.
  const top = depth(height, (i, strict) => row(i, (width >> 1) * 4, strict));
  if (top === height) return null; // one colour throughout
  const bottom =
    height - depth(height - top, (i, strict) => row(height - 1 - i, ((height - 1) * width + (width >> 1)) * 4, strict));
  const column = (x: number, colour: number, strict: boolean): boolean =>
    line((top * width + x) * 4, width * 4, bottom - top, colour, strict);
  const middle = ((top + bottom) >> 1) * width;
  const left = depth(width, (i, strict) => column(i, middle * 4, strict));
  const right = width - depth(width - left, (i, strict) => column(width - 1 - i, (middle + width - 1) * 4, strict));
  const box = { left, top, width: right - left, height: bottom - top };
  const minX = Math.max(1, Math.ceil(width * BORDER_MIN_SHARE));
  const minY = Math.max(1, Math.ceil(height * BORDER_MIN_SHARE));
  const trimmed = top >= minY || height - bottom >= minY || left >= minX || width - right >= minX;
  if (!trimmed || box.width < width * BORDER_MIN_CONTENT || box.height < height * BORDER_MIN_CONTENT) return null;
  return box;
}

/**
 * The pixels of `box` as an image of their own.
 *
 * @example
 * ```ts
 * const inside = cropRgba(image, findBorder(image) ?? { left: 0, top: 0, width: image.width, height: image.height });
 * ```
 */
export function cropRgba(image: RgbaImage, box: Box): RgbaImage {
  const { data, width } = image;
  const out = new Uint8Array(box.width * box.height * 4);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * width + box.left) * 4;
    out.set(data.subarray(from, from + box.width * 4), y * box.width * 4);
  }
  return { data: out, width: box.width, height: box.height };
}
