/**
 * Uniform borders: the letterbox and pillarbox bars, frames and padding that an upload can add
 * around an image. A border moves every block of a blockhash and every frequency of a PDQ hash
 * (a 10% black border defeated both on every photo: docs/thresholds.md), so `hashImage` with
 * `trim` also hashes what lies inside one. Pixel maths on RGBA only.
 *
 * A border is a run of whole rows (or columns) from an edge inwards whose every pixel is within
 * {@link BORDER_TOLERANCE} of that edge's colour in each of R, G, B and alpha.
 */
import type { RgbaImage } from '../algorithms/blockhash.js';

/**
 * Largest difference, per channel, between a border pixel and the border's colour: 24 of 255.
 * JPEG compression leaves bars a few levels off their colour, and rings up to about 20 levels
 * where they meet the picture; a picture's own edge rarely stays that flat across a whole row.
 */
export const BORDER_TOLERANCE = 24;

/**
 * Least border worth trimming, as a share of the side it is on: 2%. Thinner ones change a hash
 * by little, and one-pixel frames are common in ordinary images.
 */
export const BORDER_MIN_SHARE = 0.02;

/**
 * Least share of each side that must remain inside the border: 25%. Below it the "content" is a
 * sliver (a flat image with a mark), not a picture in a frame.
 */
export const BORDER_MIN_CONTENT = 0.25;

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
  if (data.length !== width * height * 4) throw new RangeError(`Expected ${width * height * 4} bytes of RGBA for data but received ${data.length}`);
  // Each side's colour: the middle pixel of its outermost row or column.
  const rowUniform = (y: number, colour: number, x0: number, x1: number): boolean => {
    for (let x = x0; x < x1; x++) if (!near(data, (y * width + x) * 4, colour)) return false;
    return true;
  };
  const columnUniform = (x: number, colour: number, y0: number, y1: number): boolean => {
    for (let y = y0; y < y1; y++) if (!near(data, (y * width + x) * 4, colour)) return false;
    return true;
  };
  let top = 0;
  const topColour = (width >> 1) * 4;
  while (top < height && rowUniform(top, topColour, 0, width)) top++;
  if (top === height) return null; // one colour throughout
  let bottom = height;
  const bottomColour = ((height - 1) * width + (width >> 1)) * 4;
  while (bottom > top && rowUniform(bottom - 1, bottomColour, 0, width)) bottom--;
  let left = 0;
  const leftColour = ((((top + bottom) >> 1) * width) + 0) * 4;
  while (left < width && columnUniform(left, leftColour, top, bottom)) left++;
  let right = width;
  const rightColour = ((((top + bottom) >> 1) * width) + width - 1) * 4;
  while (right > left && columnUniform(right - 1, rightColour, top, bottom)) right--;
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
