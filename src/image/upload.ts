/**
 * The matcher's one way into image hashing: an upload read once, hashed in one or two passes, and
 * for each pass the hashes to search, as bytes. Internal: `hashwarden/image` does not export it,
 * and the matcher loads it lazily (it loads sharp), so the core entry stays free of native modules.
 */
import { EXACT_DIGESTS } from '../algorithms/digests.js';
import { formatHex } from '../algorithms/hex.js';
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { formatHashed, hashRaw, type HashedBytes, type ImageHashResult } from './hash.js';
import { readInput, type PinnedInput, type ReadLimits } from './input.js';
import { resolveImageOptions, type HashImageOptions, type ResolvedImageOptions } from './options.js';
import { hashPool, type HashPool } from './pool.js';
import { searchedBytes, type SearchedOf } from './queries.js';

/** The exact hashes of an upload's bytes, lower-case hex: what a report to a clearinghouse names a file by. */
export interface ExactHashes {
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
}

/** What a `matchImage` call asks of the image module, its booleans already checked. */
interface UploadRequest {
  /** The matcher's and the call's image options, `dihedral` and `trim` decided. */
  readonly image: Omit<HashImageOptions, 'algorithms'>;
  /** The algorithms to hash; absent: every one `hashImage` computes. */
  readonly algorithms: readonly AlgorithmName[] | undefined;
  /** Hash the exact algorithms first, alone (no decode), so a match there ends the call. */
  readonly first: boolean;
  /** Hashing threads (the matcher's `hashThreads`, checked): 0 hashes on the calling thread. */
  readonly threads: number;
  /** Report the upload's MD5, SHA-1 and SHA-256 (`ImageMatchResult.exactHashes`). Default `false`. */
  readonly exact?: boolean;
}

/** An {@link UploadRequest} resolved once, for every upload of a call. */
export interface UploadPlan {
  /**
   * How an upload is read: every pass's byte limit and timeout (the same), and the exact hashes
   * taken as a stream passes: those of the passes hashed on the calling thread.
   */
  readonly read: ReadLimits;
  /** Every hash in one pass, or with `first` the exact hashes, then the perceptual ones. */
  readonly passes: readonly ResolvedImageOptions[];
  /** The threads that do the pixel maths; absent: the calling thread does. */
  readonly pool: HashPool | undefined;
  /** Each pass's `exactHashes` is given (the upload's MD5, SHA-1 and SHA-256). */
  readonly exact: boolean;
}

/** One hash to search for an upload, as bytes, with the turn, border and frame it is of. */
type UploadQuery = SearchedOf<Uint8Array>;

/** One hashing pass over an upload. */
export interface UploadPass {
  /** The pass's result, hex, its `hashes` holding every pass's so far (the public result's). */
  readonly result: ImageHashResult;
  /** The hashes to search, per algorithm of this pass, in the order the result holds them. */
  readonly queries: ReadonlyMap<AlgorithmName, readonly UploadQuery[]>;
  /** True for the last pass: its result is the one a call without a match returns. */
  readonly last: boolean;
  /**
   * With the plan's `exact`: the upload's MD5, SHA-1 and SHA-256, hex, those a pass hashed (or the
   * read took as a stream passed) not hashed again, the others hashed on first call.
   */
  readonly exactHashes?: () => ExactHashes;
}

/**
 * Validates a call's image options once (TypeError or RangeError) into the passes every upload of
 * the call goes through.
 */
export function planUpload(request: UploadRequest): UploadPlan {
  const all = resolveImageOptions({
    ...request.image,
    ...(request.algorithms === undefined ? {} : { algorithms: request.algorithms }),
  });
  // First match wanted: the exact hashes need no decode, so they go first, on bytes read once.
  const passes = request.first
    ? [all.exact, all.perceptual]
        .filter((names) => names.length > 0)
        .map((names) => resolveImageOptions({ ...request.image, algorithms: names }))
    : [all];
  const pool = hashPool(request.threads);
  // Only a pass that decodes hashes pixels; the first upload's thread loads during its decode.
  if (passes.some((pass) => pass.perceptual.length > 0)) pool?.warm();
  // A pass a thread hashes takes its exact hashes there: taking them while reading too would only
  // move that work onto the calling thread.
  const digests = passes
    .filter((pass) => pool === undefined || pass.perceptual.length === 0)
    .flatMap((pass) => pass.exact);
  // The exact hashes reported but searched by no pass: taken as a stream passes, when one is read.
  if (request.exact === true) digests.push(...EXACT_NAMES.filter((name) => !all.exact.includes(name)));
  const read = Object.freeze({ maxBytes: all.maxBytes, timeoutSeconds: all.timeoutSeconds, digests });
  return Object.freeze({ read, passes: Object.freeze(passes), pool, exact: request.exact === true });
}

/** The exact algorithms an upload's `exactHashes` holds. */
const EXACT_NAMES = ['md5', 'sha1', 'sha256'] as const;

/** The upload's exact hashes: those `hashes` holds already (hex), else taken as it was read, else hashed now. */
function exactHashesOf(
  hashes: ImageHashResult['hashes'],
  digests: Partial<Record<AlgorithmName, Uint8Array>>,
  bytes: Uint8Array,
): ExactHashes {
  const hex = (name: (typeof EXACT_NAMES)[number]): string =>
    hashes[name] ?? formatHex(digests[name] ?? EXACT_DIGESTS[name].digest(bytes));
  return Object.freeze({ md5: hex('md5'), sha1: hex('sha1'), sha256: hex('sha256') });
}

/** The hashes a matcher searches for one pass: an exact hash itself, a perceptual one's by `searchedHashes`' rule. */
function queriesOf(hashed: HashedBytes): Map<AlgorithmName, UploadQuery[]> {
  const out = new Map<AlgorithmName, UploadQuery[]>();
  for (const [name, hash] of Object.entries(hashed.hashes) as [AlgorithmName, Uint8Array][]) {
    out.set(name, getAlgorithm(name).kind === 'exact' ? [{ hash }] : searchedBytes(hashed, name));
  }
  return out;
}

/**
 * Reads `input` once (within `plan.read`) and hashes it pass by pass, yielding each pass's
 * result and the hashes to search; the caller stops early by leaving the loop. Rejects with the
 * `HashwardenError` of `hashImage` when the upload cannot be read or hashed.
 */
export async function* hashUpload(input: PinnedInput, plan: UploadPlan): AsyncGenerator<UploadPass, void, undefined> {
  const { bytes, digests } = await readInput(input, plan.read);
  // Only hashes differ between passes (the exact pass has no quality, no unusable hashes, no
  // frames), and the last pass's image is the decoded one.
  let hashes: ImageHashResult['hashes'] = {};
  for (const [index, pass] of plan.passes.entries()) {
    const hashed = await hashRaw(bytes, pass, plan.pool, digests);
    // Hex once, for the result; the queries keep the bytes hashing made.
    const result = formatHashed(hashed);
    hashes = { ...hashes, ...result.hashes };
    const known = hashes;
    yield {
      result: { ...result, hashes },
      queries: queriesOf(hashed),
      last: index === plan.passes.length - 1,
      ...(plan.exact ? { exactHashes: () => exactHashesOf(known, digests, bytes) } : {}),
    };
  }
}
