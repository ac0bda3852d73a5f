/**
 * Hex text ⇄ bytes for fixed-size hashes, with the validation every list import relies on.
 */
import { HashwardenError } from '../errors.js';
import { integerInRange, invalid, nonEmptyString } from '../validate.js';
import type { AlgorithmKind, HashAlgorithm } from './types.js';

const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[65 + i] = 10 + i;
  NIBBLE[97 + i] = 10 + i;
}

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/** The largest hash `parseHex` reads: far above any algorithm's (SHA-256 is 32 bytes). */
const MAX_HASH_BYTES = 1024;

/**
 * Parses `text` as exactly `bytes` bytes of hex. Leading/trailing white space and upper case are
 * accepted (lists arrive in every style); anything else throws `ERR_HASH_FORMAT` naming `algorithm`.
 * `text` is data (a list row), so a non-string is `ERR_HASH_FORMAT` too; `bytes` (an integer from
 * 1 to 1024) and `algorithm` (a non-empty string) are the caller's, and a bad one is a
 * TypeError/RangeError.
 *
 * @example
 * ```ts
 * const hash = parseHex('ff'.repeat(32), 32, 'pdq');
 * ```
 */
export function parseHex(text: string, bytes: number, algorithm: string): Uint8Array {
  integerInRange(bytes, 1, MAX_HASH_BYTES, 'bytes');
  nonEmptyString(algorithm, 'algorithm');
  return hexToBytes(text, bytes, algorithm);
}

/** {@link parseHex} once its size and name are known good (a registered algorithm's, on every row). */
function hexToBytes(text: string, bytes: number, algorithm: string): Uint8Array {
  if (typeof text !== 'string') {
    throw new HashwardenError(
      'ERR_HASH_FORMAT',
      `Expected a hex string for a ${algorithm} hash but received ${typeof text}`,
    );
  }
  const hex = text.trim();
  if (hex.length !== bytes * 2) {
    throw new HashwardenError(
      'ERR_HASH_FORMAT',
      `Expected ${bytes * 2} hex digits for a ${algorithm} hash but received ${hex.length}: ${preview(hex)}`,
    );
  }
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) {
    const hi = NIBBLE[hex.charCodeAt(2 * i)] ?? -1;
    const lo = NIBBLE[hex.charCodeAt(2 * i + 1)] ?? -1;
    if (hi < 0 || lo < 0) {
      const at = hi < 0 ? 2 * i : 2 * i + 1;
      throw new HashwardenError(
        'ERR_HASH_FORMAT',
        `Expected hex digits for a ${algorithm} hash but found ${JSON.stringify(hex[at])} at position ${at + 1}: ${preview(hex)}`,
      );
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Lower-case hex of `bytes` (a Uint8Array, Buffer included; anything else is a TypeError).
 *
 * @example
 * ```ts
 * formatHex(new Uint8Array([0xde, 0xad])); // 'dead'
 * ```
 */
export function formatHex(bytes: Uint8Array): string {
  hashBytes(bytes, 'bytes');
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX_BYTE[bytes[i] ?? 0];
  return s;
}

const POPCOUNT8 = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT8[i] = (i & 1) + (POPCOUNT8[i >> 1] ?? 0);

/** `value` if it is a Uint8Array (a Buffer is one); a TypeError in the standard shape otherwise. */
function hashBytes(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    // A hex string would otherwise read as an array of undefined bytes, every distance 0.
    const hint = typeof value === 'string' ? ' (parse hex text first: parseHex or getAlgorithm(name).parse)' : '';
    invalid(`Uint8Array${hint}`, name, value);
  }
  return value;
}

/**
 * Number of differing bits between two hashes of the same length, both Uint8Arrays (Buffers
 * included). Hex strings are refused with a TypeError rather than parsed: a string does not say
 * which algorithm it is, and the caller who parses it with `getAlgorithm(name).parse` gets its
 * length checked. Other typed arrays are refused too (their elements are not bytes); hashes of
 * unequal length are a RangeError.
 *
 * @example
 * ```ts
 * const pdq = getAlgorithm('pdq');
 * hammingDistance(pdq.parse(a), pdq.parse(b)); // 0 to 256
 * ```
 */
export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  hashBytes(a, 'a');
  hashBytes(b, 'b');
  if (a.length !== b.length) {
    throw new RangeError(`Expected hashes of equal length but received ${a.length} and ${b.length} bytes`);
  }
  let d = 0;
  for (let i = 0; i < a.length; i++) d += POPCOUNT8[(a[i] ?? 0) ^ (b[i] ?? 0)] ?? 0;
  return d;
}

/**
 * A hash type whose text is the hex of its `bits / 8` bytes (every type so far: blockhash, PDQ,
 * MD5, SHA-1, SHA-256), with `parse` and `format` checking that size.
 *
 * @example
 * ```ts
 * const md5 = hexAlgorithm({ name: 'md5', kind: 'exact', bits: 128, defaultThreshold: 0, maxThreshold: 0 });
 * ```
 */
export function hexAlgorithm<Name extends string>(spec: {
  readonly name: Name;
  readonly kind: AlgorithmKind;
  readonly bits: number;
  readonly defaultThreshold: number;
  readonly maxThreshold: number;
  readonly refuse?: (hash: Uint8Array) => string | undefined;
}): HashAlgorithm<Name> {
  const bytes = spec.bits / 8;
  return {
    ...spec,
    parse: (text) => hexToBytes(text, bytes, spec.name),
    format: (hash) => {
      if (hash.length !== bytes)
        throw new HashwardenError(
          'ERR_HASH_FORMAT',
          `Expected ${bytes} bytes for a ${spec.name} hash but received ${hash.length}`,
        );
      return formatHex(hash);
    },
  };
}
