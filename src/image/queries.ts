/**
 * What a matcher searches for a hashed upload: the rule `matchImage` applies, kept apart from
 * hashing (no sharp here) so that the core matcher and the robustness benchmark apply the same one.
 */
import { DIHEDRAL_NAMES, type DihedralName } from '../algorithms/dihedral.js';
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { UnusableHashes } from './hash.js';

/** One hash searched for an upload: which turn or flip of it, and whether of what its border frames. */
export interface SearchedHash {
  /** Lower-case hex. */
  readonly hash: string;
  /** With dihedral hashes: the rotation or flip of the upload this hash is of. */
  readonly transform?: DihedralName;
  /** True for the hashes of what lies inside the upload's uniform border. */
  readonly trimmed?: true;
  /** For an animated upload: the frame (0-based) this hash is of. */
  readonly frame?: number;
}

/** The parts of a hashed upload the rule reads, each hash as `H` (hex in a result, or bytes). */
interface HashedOf<H> {
  readonly hashes: { readonly [A in AlgorithmName]?: H };
  readonly unusable: UnusableHashes;
  readonly dihedral?: { readonly [A in AlgorithmName]?: readonly H[] };
  readonly trimmed?: Omit<HashedOf<H>, 'trimmed' | 'frames'>;
  /** An animated upload's frames, each read as a still image is (frame 0's are the top level's). */
  readonly frames?: readonly (Omit<HashedOf<H>, 'frames'> & { readonly frame: number })[];
}

/** The parts of an `ImageHashResult` (or of its `trimmed`) the rule reads. */
export type HashedImage = HashedOf<string>;

/** A {@link SearchedHash} with its hash as `H`. */
export type SearchedOf<H> = Omit<SearchedHash, 'hash'> & { readonly hash: H };

/**
 * The hashes of one perceptual algorithm a matcher searches for a hashed upload: its own hash, or
 * with dihedral hashes its 8 turned and mirrored ones (the own first, so it wins ties), then the
 * same for what lies inside its uniform border. For an animated upload, the same for each frame
 * hashed in turn, from frame 0, each hash naming its frame.
 *
 * Left out: every hash of an image whose pixels a guard refuses (PDQ quality, a flat image, a
 * smooth shading, a tiny image), and each hash the algorithm refuses on its own (`refuse`: a
 * blockhash's plain layout), judged one by one. A photo whose blockhash is a plain layout upright
 * can have turned hashes that are not (its bands run the other way): those are still searched,
 * so that a listed image uploaded sideways is found. `hashImage` reports a refusal judged from the
 * hash in the algorithm's own words (`refuse`'s text), which is how the two kinds are told apart.
 *
 * @example
 * ```ts
 * for (const { hash, transform } of searchedHashes(await hashImage(upload, { dihedral: true }), 'pdq')) …
 * ```
 */
export function searchedHashes(result: HashedImage, name: AlgorithmName): SearchedHash[] {
  const algorithm = getAlgorithm(name);
  return searchedOf(result, name, (hex) => algorithm.parse(hex));
}

/** {@link searchedHashes} of a result whose hashes are still bytes (the matcher's uploads). */
export function searchedBytes(result: HashedOf<Uint8Array>, name: AlgorithmName): SearchedOf<Uint8Array>[] {
  return searchedOf(result, name, (hash) => hash);
}

/** The rule, for hashes of any form: `bytes` gives a hash's bytes for the algorithm's `refuse`. */
function searchedOf<H>(result: HashedOf<H>, name: AlgorithmName, bytes: (hash: H) => Uint8Array): SearchedOf<H>[] {
  const algorithm = getAlgorithm(name);
  const out: SearchedOf<H>[] = [];
  const add = (from: Omit<HashedOf<H>, 'trimmed' | 'frames'>, trimmed: boolean, frame: number | undefined): void => {
    const own = from.hashes[name];
    if (own === undefined) return;
    const refusal = from.unusable[name];
    const refusedAlone = (hash: H): boolean => algorithm.refuse?.(bytes(hash)) !== undefined;
    // A refusal that is not the hash's own is about the pixels: nothing of this image is searched.
    if (refusal !== undefined && refusal !== algorithm.refuse?.(bytes(own))) return;
    const extra = { ...(trimmed ? { trimmed: true as const } : {}), ...(frame === undefined ? {} : { frame }) };
    const variants = from.dihedral?.[name];
    if (variants === undefined) {
      if (refusal === undefined) out.push({ hash: own, ...extra });
      return;
    }
    variants.forEach((hash, i) => {
      if (!refusedAlone(hash)) out.push({ hash, transform: DIHEDRAL_NAMES[i] as DihedralName, ...extra });
    });
  };
  const addImage = (image: Omit<HashedOf<H>, 'frames'>, frame: number | undefined): void => {
    add(image, false, frame);
    if (image.trimmed !== undefined) add(image.trimmed, true, frame);
  };
  // Frame 0 is the top level: an animation's frames replace it rather than repeat it.
  if (result.frames === undefined) addImage(result, undefined);
  else for (const image of result.frames) addImage(image, image.frame);
  return out;
}
