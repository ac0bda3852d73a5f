/**
 * An RGBA image turned or flipped, pixel by pixel, for tests of the dihedral hashes. The eight
 * moves are spelled out here rather than taken from `dihedralSource` (src/algorithms/dihedral.ts),
 * so that the tests check the library against an independent statement of the reference's names:
 * rot90 is a quarter turn counter-clockwise, flipX turns the image upside down, flipY mirrors it
 * left to right.
 */
import type { DihedralName } from '../algorithms/dihedral.js';

/** An RGBA image: 4 bytes per pixel, rows top to bottom. */
export interface Pixels {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** `image` moved by `name`, any size: output pixel (r, c) is input pixel `from(r, c)`. */
export function moved(image: Pixels, name: DihedralName): Pixels {
  const { width: w, height: h } = image;
  const transposed = ['rot90', 'rot270', 'flipMainDiagonal', 'flipAntiDiagonal'].includes(name);
  const ow = transposed ? h : w;
  const oh = transposed ? w : h;
  const from: Record<DihedralName, (r: number, c: number) => [number, number]> = {
    original: (r, c) => [r, c],
    rot90: (r, c) => [c, w - 1 - r],
    rot180: (r, c) => [h - 1 - r, w - 1 - c],
    rot270: (r, c) => [h - 1 - c, r],
    flipX: (r, c) => [h - 1 - r, c],
    flipY: (r, c) => [r, w - 1 - c],
    flipMainDiagonal: (r, c) => [c, r],
    flipAntiDiagonal: (r, c) => [h - 1 - c, w - 1 - r],
  };
  const data = new Uint8Array(ow * oh * 4);
  for (let r = 0; r < oh; r++) {
    for (let c = 0; c < ow; c++) {
      const [sr, sc] = from[name](r, c);
      data.set(image.data.subarray((sr * w + sc) * 4, (sr * w + sc) * 4 + 4), (r * ow + c) * 4);
    }
  }
  return { data, width: ow, height: oh };
}
