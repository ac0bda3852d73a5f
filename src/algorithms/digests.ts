/**
 * Exact (cryptographic) hashes of the original file bytes: MD5 (RFC 1321), SHA-1 and SHA-256
 * (FIPS 180-4), computed by Node's `crypto` (OpenSSL). Clearinghouse lists still carry MD5 and
 * SHA-1 because they were built with them; they identify a file, not an image, so they match by
 * equality only and any re-encode defeats them.
 */
import { createHash } from 'node:crypto';
import { hexAlgorithm } from './hex.js';
import type { HashAlgorithm } from './types.js';

/** A digest taken chunk by chunk, as the bytes of a stream pass. */
export interface IncrementalDigest {
  update(chunk: Uint8Array): void;
  digest(): Uint8Array;
}

function exactAlgorithm<Name extends string>(
  name: Name,
  bits: number,
): HashAlgorithm<Name> & { digest(bytes: Uint8Array): Uint8Array; incremental(): IncrementalDigest } {
  const incremental = (): IncrementalDigest => {
    const hash = createHash(name);
    return {
      update: (chunk) => {
        hash.update(chunk);
      },
      digest: () => new Uint8Array(hash.digest()),
    };
  };
  return {
    ...hexAlgorithm({ name, kind: 'exact', bits, defaultThreshold: 0, maxThreshold: 0 }),
    digest: (data) => {
      const one = incremental();
      one.update(data);
      return one.digest();
    },
    incremental,
  };
}

/** MD5 of the file bytes (128 bits). */
export const md5 = exactAlgorithm('md5', 128);
/** SHA-1 of the file bytes (160 bits). */
export const sha1 = exactAlgorithm('sha1', 160);
/** SHA-256 of the file bytes (256 bits). */
export const sha256 = exactAlgorithm('sha256', 256);

/** The exact algorithms by name: what hashes an upload's bytes, whole or as they pass. */
export const EXACT_DIGESTS = { md5, sha1, sha256 } as const;
