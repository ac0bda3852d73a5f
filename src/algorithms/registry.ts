/**
 * The hash types hashwarden knows. Adding one: a file implementing `HashAlgorithm`, one line here.
 */
import { HashwardenError } from '../errors.js';
import { integerInRange, invalid } from '../validate.js';
import { blockhash } from './blockhash.js';
import { md5, sha1, sha256 } from './digests.js';
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

/** The algorithms by exact (canonical) name: a Map lookup hashes a string read from a file without internalising it, as a property lookup would. */
const BY_NAME: ReadonlyMap<string, HashAlgorithm<AlgorithmName>> = new Map(Object.entries(REGISTRY));

/**
 * The algorithm whose canonical name is exactly `name` (no trimming, no case folding), else
 * `undefined`: for data already in normal form, where `getAlgorithm`'s normalising is wasted.
 *
 * @example
 * ```ts
 * canonicalAlgorithm('pdq')?.bits; // 256
 * canonicalAlgorithm('PDQ');       // undefined
 * ```
 */
export function canonicalAlgorithm(name: string): HashAlgorithm<AlgorithmName> | undefined {
  return BY_NAME.get(name);
}

/** True when `name` is a known algorithm. */
export function isAlgorithmName(name: unknown): name is AlgorithmName {
  return typeof name === 'string' && BY_NAME.has(name);
}

/**
 * A name as a message shows it: JSON, or for what JSON cannot write (a BigInt, a cycle, a throwing
 * `toJSON`) its type, so that a query of any shape gets its ERR_UNKNOWN_ALGORITHM and not a
 * TypeError from the message.
 */
function shown(name: unknown): string {
  try {
    return JSON.stringify(name) ?? String(name);
  } catch {
    return `of type ${typeof name}`;
  }
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
  const algorithm = typeof name === 'string' ? BY_NAME.get(name.trim().toLowerCase()) : undefined;
  if (algorithm === undefined) {
    throw new HashwardenError(
      'ERR_UNKNOWN_ALGORITHM',
      `Unknown hash algorithm ${shown(name)}; known: ${ALGORITHM_NAMES.join(', ')}`,
    );
  }
  return algorithm;
}

/** Per-algorithm thresholds, e.g. `{ blockhash: 8 }`. */
export type Thresholds = Readonly<Partial<Record<AlgorithmName, number>>>;

/**
 * The one threshold rule: an integer from 0 to `algorithm`'s largest threshold (0 for an exact
 * hash), else a TypeError or RangeError naming `name`. Every threshold a caller gives, to a
 * matcher, a call, a list policy, a store or a snapshot, is checked here and nowhere else.
 */
function checkThreshold(algorithm: HashAlgorithm<AlgorithmName>, value: unknown, name: string): number {
  return integerInRange(value, 0, algorithm.maxThreshold, name);
}

/**
 * Per-algorithm thresholds (`{ pdq: 31, blockhash: 8 }`) checked: each key an algorithm
 * (`ERR_UNKNOWN_ALGORITHM` otherwise, any case), each value an integer from 0 to the algorithm's
 * largest threshold (RangeError, naming `name.key`); returns them keyed by canonical name.
 * `undefined` is no thresholds.
 *
 * @example
 * ```ts
 * checkThresholds({ PDQ: 24 }, 'thresholds'); // { pdq: 24 }
 * ```
 */
export function checkThresholds(value: unknown, name: string): Partial<Record<AlgorithmName, number>> {
  const out: Partial<Record<AlgorithmName, number>> = {};
  if (value === undefined) return out;
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    invalid('object of per-algorithm thresholds', name, value);
  for (const [key, threshold] of Object.entries(value)) {
    const algorithm = getAlgorithm(key);
    out[algorithm.name] = checkThreshold(algorithm, threshold, `${name}.${algorithm.name}`);
  }
  return out;
}

const NO_THRESHOLDS: Thresholds = Object.freeze({});

/**
 * A call's `threshold` option checked: one number, which applies to every perceptual algorithm
 * (exact hashes match by equality whatever it says), or per-algorithm thresholds as
 * {@link checkThresholds} takes them. Returns them per algorithm, frozen; `undefined` is none.
 *
 * @example
 * ```ts
 * callThresholds(8, 'threshold');            // { blockhash: 8, pdq: 8 }
 * callThresholds({ pdq: 31 }, 'threshold');  // { pdq: 31 }
 * ```
 */
export function callThresholds(value: unknown, name: string): Thresholds {
  // Most calls set none: every matchHash would otherwise make and freeze an empty object.
  if (value === undefined) return NO_THRESHOLDS;
  if (typeof value !== 'number') {
    if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)))
      invalid('number, or object of per-algorithm thresholds', name, value);
    return Object.freeze(checkThresholds(value, name));
  }
  const out: Partial<Record<AlgorithmName, number>> = {};
  for (const algorithm of BY_NAME.values())
    if (algorithm.kind === 'perceptual') out[algorithm.name] = checkThreshold(algorithm, value, name);
  return Object.freeze(out);
}
