/**
 * The hash types hashwarden knows. Adding one: a file implementing `HashAlgorithm`, one line here.
 */
import { HashwardenError } from '../errors.js';
import { blockhash } from './blockhash.js';
import { md5, sha1, sha256 } from './exact.js';
import { pdq } from './pdq.js';
import type { HashAlgorithm } from './types.js';

const REGISTRY = {
  blockhash,
  pdq,
  md5,
  sha1,
  sha256,
} as const satisfies Record<string, HashAlgorithm>;

/** A known algorithm name: `blockhash`, `pdq`, `md5`, `sha1`, `sha256`. */
export type AlgorithmName = keyof typeof REGISTRY;

/** Every known algorithm name, perceptual first. */
export const ALGORITHM_NAMES: readonly AlgorithmName[] = Object.freeze(Object.keys(REGISTRY) as AlgorithmName[]);

/** True when `name` is a known algorithm. */
export function isAlgorithmName(name: unknown): name is AlgorithmName {
  return typeof name === 'string' && Object.hasOwn(REGISTRY, name);
}

/**
 * The algorithm called `name` (case-insensitive, so `MD5` and `PDQ` columns work); throws
 * `ERR_UNKNOWN_ALGORITHM` listing the known names otherwise.
 *
 * @example
 * ```ts
 * getAlgorithm('blockhash').defaultThreshold; // 10
 * ```
 */
export function getAlgorithm(name: string): HashAlgorithm<AlgorithmName> {
  const key = typeof name === 'string' ? name.trim().toLowerCase() : name;
  if (!isAlgorithmName(key)) {
    throw new HashwardenError(
      'ERR_UNKNOWN_ALGORITHM',
      `Unknown hash algorithm ${JSON.stringify(name)}; known: ${ALGORITHM_NAMES.join(', ')}`,
    );
  }
  return REGISTRY[key];
}
