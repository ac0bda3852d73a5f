import { describe, expect, it } from 'vitest';
import { isHashwardenError } from '../errors.js';
import { formatHex, hammingDistance, parseHex } from './hex.js';

const ones = new Uint8Array(32).fill(0xff);
const zeros = new Uint8Array(32);

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isHashwardenError(error) ? error.code : undefined;
  }
  return 'no error';
}

describe('hammingDistance', () => {
  it('counts the differing bits of two byte arrays, Buffers included', () => {
    expect(hammingDistance(ones, zeros)).toBe(256);
    expect(hammingDistance(Buffer.from(ones), zeros)).toBe(256);
  });

  it('refuses hex strings with a TypeError instead of answering 0', () => {
    const call = hammingDistance as (...args: unknown[]) => number;
    expect(() => call('ff'.repeat(32), '00'.repeat(32))).toThrow(TypeError);
    expect(() => call('ff'.repeat(32), '00'.repeat(32))).toThrow(
      /Expected Uint8Array \(parse hex text first.*for a but received "ffff/,
    );
  });

  it('refuses mixed and non-byte arguments with a TypeError', () => {
    const call = hammingDistance as (...args: unknown[]) => number;
    expect(() => call(ones, '00'.repeat(32))).toThrow(TypeError);
    expect(() => call(new Uint16Array(32), new Uint16Array(32).fill(0xffff))).toThrow(TypeError);
    expect(() => call([255, 0], [0, 0])).toThrow(TypeError);
    expect(() => call(ones, undefined)).toThrow(TypeError);
    expect(() => call()).toThrow(TypeError);
  });

  it('refuses hashes of unequal length with a RangeError', () => {
    expect(() => hammingDistance(ones, new Uint8Array(8))).toThrow(RangeError);
  });
});

describe('parseHex', () => {
  it('parses hex of the given size', () => {
    expect(parseHex(' FF00 ', 2, 'md5')).toEqual(new Uint8Array([255, 0]));
  });

  it('refuses a missing or bad size and name as argument errors, not a NaN message', () => {
    const call = parseHex as (...args: unknown[]) => Uint8Array;
    expect(() => call('ff'.repeat(32))).toThrow(TypeError);
    expect(() => call('ff'.repeat(32))).toThrow(
      'Expected integer between 1 and 1024 for bytes but received undefined of type undefined',
    );
    expect(() => call('ff', 0, 'md5')).toThrow(RangeError);
    expect(() => call('ff', 1.5, 'md5')).toThrow(TypeError);
    expect(() => call('ff', 1)).toThrow(TypeError);
    expect(() => call('ff', 1, '')).toThrow(RangeError);
  });

  it('refuses text of the wrong length, bad digits and non-strings as ERR_HASH_FORMAT', () => {
    expect(codeOf(() => parseHex('ff', 32, 'pdq'))).toBe('ERR_HASH_FORMAT');
    expect(codeOf(() => parseHex('zz', 1, 'pdq'))).toBe('ERR_HASH_FORMAT');
    expect(codeOf(() => parseHex(42 as unknown as string, 1, 'pdq'))).toBe('ERR_HASH_FORMAT');
  });
});

describe('formatHex', () => {
  it('writes lower-case hex', () => {
    expect(formatHex(new Uint8Array([0xde, 0xad]))).toBe('dead');
  });

  it('refuses anything but a Uint8Array with a TypeError', () => {
    const call = formatHex as (...args: unknown[]) => string;
    expect(() => call('dead')).toThrow(TypeError);
    expect(() => call([0xde])).toThrow(TypeError);
    expect(() => call(new Uint16Array(2))).toThrow(TypeError);
    expect(() => call()).toThrow(TypeError);
  });
});
