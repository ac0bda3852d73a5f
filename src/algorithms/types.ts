/**
 * The shape every hash type implements. A hash is held as bytes (`Uint8Array`, most significant
 * bit of the first byte = first bit of the hex string); text is lower-case hex.
 */

/** Perceptual hashes match within a Hamming distance; exact hashes match only when equal. */
export type AlgorithmKind = 'perceptual' | 'exact';

/**
 * A hash type: its size, its text format and its default threshold.
 * Adding a type is one file implementing this interface plus one line in `registry.ts`.
 */
export interface HashAlgorithm<Name extends string = string> {
  /** The name used in lists, options and JSON output (`blockhash`, `md5`, …). */
  readonly name: Name;
  readonly kind: AlgorithmKind;
  /** Hash size in bits (a multiple of 8). */
  readonly bits: number;
  /** Hamming-distance threshold used when neither the call nor the list sets one (0 for exact). */
  readonly defaultThreshold: number;
  /** Largest threshold accepted (the bit count for perceptual hashes, 0 for exact ones). */
  readonly maxThreshold: number;
  /** Parses hex text (case and surrounding white space ignored); throws `ERR_HASH_FORMAT`. */
  parse(text: string): Uint8Array;
  /** Formats bytes as lower-case hex. */
  format(hash: Uint8Array): string;
  /**
   * Why a hash of this type must not be searched, judged from the hash alone (blockhash: a plain
   * layout of a few regions, shared by unrelated images), or undefined when it may be. Absent for
   * types without such a rule; rules that need the pixels (PDQ's quality) are `hashImage`'s.
   */
  refuse?(hash: Uint8Array): string | undefined;
}
