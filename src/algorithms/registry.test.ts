import { describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { blockhash } from './blockhash.js';
import { md5, sha1, sha256 } from './digests.js';
import { formatHex, hammingDistance, parseHex } from './hex.js';
import { ALGORITHM_NAMES, getAlgorithm } from './registry.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof HashwardenError ? error.code : `not a HashwardenError: ${String(error)}`;
  }
  return undefined;
}

describe('hash algorithms', () => {
  it('knows blockhash, PDQ and the exact hashes, perceptual first, with sizes and thresholds', () => {
    expect(ALGORITHM_NAMES).toEqual(['blockhash', 'pdq', 'md5', 'sha1', 'sha256']);
    expect([blockhash.bits, getAlgorithm('pdq').bits, md5.bits, sha1.bits, sha256.bits]).toEqual([
      256, 256, 128, 160, 256,
    ]);
    expect(blockhash.defaultThreshold).toBeGreaterThan(0);
    expect(getAlgorithm('PDQ').defaultThreshold).toBe(31);
    expect(md5.defaultThreshold).toBe(0);
  });

  it('looks names up case-insensitively and rejects unknown ones with ERR_UNKNOWN_ALGORITHM', () => {
    expect(getAlgorithm(' MD5 ').name).toBe('md5');
    expect(codeOf(() => getAlgorithm('photodna'))).toBe('ERR_UNKNOWN_ALGORITHM');
    expect(codeOf(() => getAlgorithm('__proto__'))).toBe('ERR_UNKNOWN_ALGORITHM');
  });

  it('refuses a name JSON cannot write (a BigInt, a cycle) with ERR_UNKNOWN_ALGORITHM, not a TypeError from the message', () => {
    // Found by registry.fuzz.test.ts: the message was built with JSON.stringify, which throws for these.
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const name of [1n, { id: 2n }, cycle]) {
      expect(codeOf(() => getAlgorithm(name as unknown as string))).toBe('ERR_UNKNOWN_ALGORITHM');
    }
    expect(() => getAlgorithm(1n as unknown as string)).toThrow(
      'Unknown hash algorithm of type bigint; known: blockhash, pdq, md5, sha1, sha256',
    );
  });

  it('parses hex in any case with surrounding space and formats lower case', () => {
    const hex = 'F81BF99FFB803400E07F8C7D049F058706013E233FE33FE11F600E638EA30DEF';
    expect(blockhash.format(blockhash.parse(`  ${hex}\t`))).toBe(hex.toLowerCase());
  });

  it('rejects wrong length and non-hex characters with ERR_HASH_FORMAT', () => {
    expect(codeOf(() => md5.parse('abc'))).toBe('ERR_HASH_FORMAT');
    expect(codeOf(() => md5.parse('g'.repeat(32)))).toBe('ERR_HASH_FORMAT');
    expect(codeOf(() => md5.parse(`${'0'.repeat(30)} 0`))).toBe('ERR_HASH_FORMAT');
    expect(codeOf(() => blockhash.format(new Uint8Array(16)))).toBe('ERR_HASH_FORMAT');
  });

  it('computes exact digests of bytes as published (RFC 1321 / FIPS 180-4 test strings)', () => {
    const abc = new TextEncoder().encode('abc');
    expect(formatHex(md5.digest(abc))).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(formatHex(sha1.digest(abc))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(formatHex(sha256.digest(abc))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('counts differing bits', () => {
    expect(hammingDistance(parseHex('00ff', 2, 'x'), parseHex('0f0f', 2, 'x'))).toBe(8);
    expect(hammingDistance(new Uint8Array(32), new Uint8Array(32).fill(255))).toBe(256);
    expect(() => hammingDistance(new Uint8Array(2), new Uint8Array(3))).toThrow(RangeError);
  });
});
