/**
 * Hex text ⇄ bytes for fixed-size hashes, with the validation every list import relies on.
 */
import { HashwardenError } from '../errors.js';
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

/**
 * Parses `text` as exactly `bytes` bytes of hex. Leading/trailing white space and upper case are
 * accepted (lists arrive in every style); anything else throws `ERR_HASH_FORMAT` naming `algorithm`.
 */
export function parseHex(text: string, bytes: number, algorithm: string): Uint8Array {
  if (typeof text !== 'string') {
    throw new HashwardenError('ERR_HASH_FORMAT', `Expected a hex string for a ${algorithm} hash but received ${typeof text}`);
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

/** Lower-case hex of `bytes`. */
export function formatHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX_BYTE[bytes[i] ?? 0];
  return s;
}

const POPCOUNT8 = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT8[i] = (i & 1) + (POPCOUNT8[i >> 1] ?? 0);

/** Number of differing bits between two hashes of the same length. */
export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
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
export function hexAlgorithm<Name extends string>(spec: { readonly name: Name; readonly kind: AlgorithmKind; readonly bits: number; readonly defaultThreshold: number; readonly maxThreshold: number; readonly refuse?: (hash: Uint8Array) => string | undefined }): HashAlgorithm<Name> {
  const bytes = spec.bits / 8;
  return {
    ...spec,
    parse: (text) => parseHex(text, bytes, spec.name),
    format: (hash) => {
      if (hash.length !== bytes) throw new HashwardenError('ERR_HASH_FORMAT', `Expected ${bytes} bytes for a ${spec.name} hash but received ${hash.length}`);
      return formatHex(hash);
    },
  };
}
