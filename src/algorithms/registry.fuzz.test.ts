/**
 * Fuzz tests of hash parsing (docs/fuzzing.md): every algorithm's `parse` and `format`, `parseHex`,
 * `formatHex`, `hammingDistance`, `getAlgorithm` and `checkThresholds`, fed near-valid hex (cases,
 * white space, lengths off by one, look-alike digits) and arbitrary values. Each either succeeds
 * with exactly what an independent oracle says, or throws its typed error: ERR_HASH_FORMAT,
 * ERR_UNKNOWN_ALGORITHM, or an argument error in the standard message shape.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { ALGORITHM_NAMES, checkThresholds, getAlgorithm } from './registry.js';
import { formatHex, hammingDistance, parseHex } from './hex.js';
import { anyValue, fuzzParameters, fuzzTestTimeout, isArgumentError } from '../testing/fuzz.js';

/** Characters that look like hex digits, or that `trim` removes, or neither. */
const LOOKALIKES = [
  '\u0660',
  '\uff10',
  '\uff21',
  'g',
  'G',
  'x',
  '-',
  '+',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u00a0',
  '\u2028',
  '\ufeff',
  '\u0000',
  '\u0130',
  '\u212a',
  '😀',
  '\ud800',
];

/** Hex of about `digits` digits: right, one off, upper or mixed case, padded, with a look-alike in it. */
function nearHex(digits: number): fc.Arbitrary<string> {
  return fc
    .record({
      length: fc.oneof(
        { weight: 4, arbitrary: fc.constant(digits) },
        { weight: 1, arbitrary: fc.integer({ min: Math.max(0, digits - 2), max: digits + 2 }) },
        { weight: 1, arbitrary: fc.nat(200) },
      ),
      hex: fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 200, maxLength: 200 }),
      pad: fc.tuple(
        fc.constantFrom('', ' ', '\t', '\n', '\u00a0', '\ufeff', '\u3000'),
        fc.constantFrom('', ' ', '\r\n', '\u2029'),
      ),
      swap: fc.option(fc.tuple(fc.nat(), fc.constantFrom(...LOOKALIKES)), { nil: undefined }),
    })
    .map(({ length, hex, pad, swap }) => {
      let text = hex.slice(0, length);
      if (swap !== undefined && text.length > 0) {
        const at = swap[0] % text.length;
        text = `${text.slice(0, at)}${swap[1]}${text.slice(at + 1)}`;
      }
      return `${pad[0]}${text}${pad[1]}`;
    });
}

/** The oracle: what `parse` must accept, by a regular expression rather than a digit table. */
function validHex(text: string, digits: number): boolean {
  return new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(text.trim());
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof HashwardenError) return error.code;
    return isArgumentError(error) ? 'argument' : `untyped: ${String(error)}`;
  }
}

describe('hash parsing fuzz', () => {
  it(
    'parses exactly the hex the oracle accepts, for every algorithm, and formats it back in lower case',
    () => {
      const text = fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(32, 40, 64).chain(nearHex) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
      );
      fc.assert(
        fc.property(fc.constantFrom(...ALGORITHM_NAMES), text, (name, input) => {
          const algorithm = getAlgorithm(name);
          const digits = algorithm.bits / 4;
          if (validHex(input, digits)) {
            const bytes = algorithm.parse(input);
            expect(bytes).toBeInstanceOf(Uint8Array);
            expect(bytes.length).toBe(algorithm.bits / 8);
            expect(algorithm.format(bytes)).toBe(input.trim().toLowerCase());
            expect(Buffer.from(bytes).toString('hex')).toBe(input.trim().toLowerCase());
          } else {
            expect(codeOf(() => algorithm.parse(input))).toBe('ERR_HASH_FORMAT');
          }
        }),
        fuzzParameters(1000),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'refuses anyValue that is not a string as ERR_HASH_FORMAT, from parse and parseHex alike',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...ALGORITHM_NAMES),
          anyValue,
          fc.integer({ min: 1, max: 64 }),
          (name, value, bytes) => {
            fc.pre(typeof value !== 'string');
            expect(codeOf(() => getAlgorithm(name).parse(value as string))).toBe('ERR_HASH_FORMAT');
            expect(codeOf(() => parseHex(value as string, bytes, name))).toBe('ERR_HASH_FORMAT');
          },
        ),
        fuzzParameters(300),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'formats bytes of the right length to lower-case hex that parses back, and refuses any other length',
    () => {
      fc.assert(
        fc.property(fc.constantFrom(...ALGORITHM_NAMES), fc.uint8Array({ maxLength: 40 }), (name, bytes) => {
          const algorithm = getAlgorithm(name);
          if (bytes.length === algorithm.bits / 8) {
            const hex = algorithm.format(bytes);
            expect(hex).toBe(Buffer.from(bytes).toString('hex'));
            expect(algorithm.parse(hex.toUpperCase())).toEqual(bytes);
          } else {
            expect(codeOf(() => algorithm.format(bytes))).toBe('ERR_HASH_FORMAT');
          }
          expect(formatHex(bytes)).toBe(Buffer.from(bytes).toString('hex'));
        }),
        fuzzParameters(500),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'counts differing bits as a bit-by-bit count does, and refuses hashes of unequal length with a RangeError',
    () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 40 }),
          fc.uint8Array({ maxLength: 40 }),
          fc.boolean(),
          (a, other, same) => {
            const b = same
              ? Uint8Array.from({ length: a.length }, (_, i) => other[i % Math.max(1, other.length)] ?? 0)
              : other;
            if (a.length !== b.length) {
              expect(() => hammingDistance(a, b)).toThrow(RangeError);
              return;
            }
            let bits = 0;
            for (let i = 0; i < a.length; i++)
              for (let bit = 0; bit < 8; bit++) bits += (((a[i] as number) ^ (b[i] as number)) >> bit) & 1;
            expect(hammingDistance(a, b)).toBe(bits);
            expect(hammingDistance(b, a)).toBe(bits);
          },
        ),
        fuzzParameters(500),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'names an algorithm in any case and padding, and refuses any other value as ERR_UNKNOWN_ALGORITHM',
    () => {
      const name = fc.oneof(
        fc
          .tuple(fc.constantFrom(...ALGORITHM_NAMES), fc.boolean(), fc.constantFrom('', ' ', '\t', '\u00a0'))
          .map(([n, upper, pad]) => `${pad}${upper ? n.toUpperCase() : n}${pad}`),
        fc.constantFrom(
          'photo_md5',
          'sha-1',
          'md 5',
          'blockhash\0',
          '__proto__',
          'constructor',
          'toString',
          'hasOwnProperty',
          'MD5\u0130',
          '\u212a',
        ),
        fc.string({ maxLength: 12 }),
        anyValue,
      );
      fc.assert(
        fc.property(name, (value) => {
          const known =
            typeof value === 'string' && (ALGORITHM_NAMES as readonly string[]).includes(value.trim().toLowerCase());
          let algorithm: ReturnType<typeof getAlgorithm> | undefined;
          try {
            algorithm = getAlgorithm(value as string);
          } catch (error) {
            expect(known).toBe(false);
            expect(error).toBeInstanceOf(HashwardenError);
            expect((error as HashwardenError).code).toBe('ERR_UNKNOWN_ALGORITHM');
            expect((error as Error).message).toMatch(
              /^Unknown hash algorithm .*; known: blockhash, pdq, md5, sha1, sha256$/s,
            );
            return;
          }
          expect(known).toBe(true);
          expect(algorithm.name).toBe((value as string).trim().toLowerCase());
        }),
        fuzzParameters(500),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'checks per-algorithm thresholds: canonical names and in-range integers back, or a typed error',
    () => {
      const threshold = fc.oneof(fc.integer({ min: -2, max: 70 }), anyValue);
      const key = fc.oneof(fc.constantFrom(...ALGORITHM_NAMES, 'PDQ', ' md5', 'photodna'), fc.string({ maxLength: 6 }));
      const thresholds = fc.oneof(
        { weight: 4, arbitrary: fc.dictionary(key, threshold, { maxKeys: 4 }) },
        { weight: 1, arbitrary: anyValue },
      );
      fc.assert(
        fc.property(thresholds, (value) => {
          let out: ReturnType<typeof checkThresholds>;
          try {
            out = checkThresholds(value, 'thresholds');
          } catch (error) {
            if (error instanceof HashwardenError) expect(error.code).toBe('ERR_UNKNOWN_ALGORITHM');
            else expect(isArgumentError(error), String(error)).toBe(true);
            return;
          }
          for (const [name, t] of Object.entries(out)) {
            const algorithm = getAlgorithm(name);
            expect(algorithm.name).toBe(name);
            expect(Number.isInteger(t) && (t as number) >= 0 && (t as number) <= algorithm.maxThreshold).toBe(true);
          }
          // Every key given was an algorithm, so each comes back (keys of one algorithm in two spellings: the last wins).
          if (value !== undefined)
            expect(new Set(Object.keys(value as object).map((k) => getAlgorithm(k).name))).toEqual(
              new Set(Object.keys(out)),
            );
        }),
        fuzzParameters(500),
      );
    },
    fuzzTestTimeout(),
  );
});
