/**
 * The dihedral group of the square: the eight ways to rotate or flip an image (the identity,
 * three quarter turns, four mirrors). Rotating or mirroring is the cheapest edit that defeats a
 * perceptual hash, so the hashes of all eight are derived from one decode (PDQ from its DCT
 * coefficients, blockhash from its block sums) and searched together.
 *
 * Names and order are those of Meta's PDQ reference (its dihedral output and
 * reference-cpp-dihedral.csv): rot90 is a quarter turn counter-clockwise, flipX turns the image
 * upside down, flipY mirrors it left to right.
 */

/** The eight transforms, in the reference's order. */
export const DIHEDRAL_NAMES = Object.freeze([
  'original',
  'rot90',
  'rot180',
  'rot270',
  'flipX',
  'flipY',
  'flipMainDiagonal',
  'flipAntiDiagonal',
] as const);

/** One of {@link DIHEDRAL_NAMES}. */
export type DihedralName = (typeof DIHEDRAL_NAMES)[number];

/**
 * Where cell (row, column) of an `n × n` grid transformed by `name` takes its value from, as
 * [row, column] of the original (row 0 at the top).
 *
 * @example
 * ```ts
 * dihedralSource('rot90', 0, 0, 16); // [0, 15]: the top-left of a counter-clockwise turn was the top-right
 * ```
 */
export function dihedralSource(name: DihedralName, row: number, column: number, n: number): [number, number] {
  const last = n - 1;
  switch (name) {
    case 'original':
      return [row, column];
    case 'rot90':
      return [column, last - row];
    case 'rot180':
      return [last - row, last - column];
    case 'rot270':
      return [last - column, row];
    case 'flipX':
      return [last - row, column];
    case 'flipY':
      return [row, last - column];
    case 'flipMainDiagonal':
      return [column, row];
    case 'flipAntiDiagonal':
      return [last - column, last - row];
  }
}
