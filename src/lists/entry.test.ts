/**
 * normalEntry, the list readers' fast way to normalise an entry, against normalizeEntry, the way
 * it stands in for: on any input, the same entry or the same error (code and message).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalEntry, normalizeEntry, type ListEntryInput } from './entry.js';

type Outcome = { ok: true; entry: unknown } | { ok: false; type: string; code: unknown; message: string };

function outcome(normalise: (input: ListEntryInput) => unknown, input: ListEntryInput): Outcome {
  try {
    return { ok: true, entry: normalise(input) };
  } catch (error) {
    return {
      ok: false,
      type: (error as Error).constructor.name,
      code: (error as { code?: unknown }).code,
      message: (error as Error).message,
    };
  }
}

const HEX = { md5: 32, sha1: 40, sha256: 64, pdq: 64, blockhash: 64 } as const;
// Names in normal form and not: other case, spaces, object keys every object has, aliases, non-strings.
const ALGORITHM = fc.constantFrom<unknown>(
  'pdq',
  'md5',
  'sha1',
  'sha256',
  'blockhash',
  'PDQ',
  ' md5',
  'md5 ',
  'Sha1',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'photo_md5',
  '',
  7,
  null,
  undefined,
);
// Mostly a hash in normal form of some algorithm's length, so that every name meets one.
const HASH = fc
  .tuple(
    fc.constantFrom(...Object.values(HEX), 16, 63, 0),
    fc.constantFrom('lower', 'lower', 'lower', 'upper', 'spaced', 'bad'),
  )
  .map(([digits, form]) => {
    const hex = '0123456789abcdef'.repeat(8).slice(0, digits);
    return form === 'lower'
      ? hex
      : form === 'upper'
        ? hex.toUpperCase()
        : form === 'spaced'
          ? ` ${hex}\t`
          : `${hex.slice(0, -1)}g`;
  });
// Mostly fields in normal form (or absent), so that most inputs get as far as the name and hash.
const FIELD = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<unknown>('demo', 'a,b', 'ünï', undefined) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(' demo', 'demo\n', '', 'x'.repeat(5000), 3) },
);
const METADATA = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<unknown>(undefined, { source: 'x' }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, {}, [], 'x', Object.create(null) as object) },
);

describe('normalEntry', () => {
  it('gives the entry or the error normalizeEntry gives, for any input', () => {
    fc.assert(
      fc.property(
        ALGORITHM,
        fc.oneof(HASH, fc.constantFrom<unknown>(undefined, 5, new Uint8Array(16))),
        FIELD,
        FIELD,
        FIELD,
        METADATA,
        (algorithm, hash, list, id, label, metadata) => {
          const input = { algorithm, hash, list, id, label, metadata } as unknown as ListEntryInput;
          expect(outcome(normalEntry, input)).toEqual(outcome(normalizeEntry, input));
        },
      ),
      { numRuns: 5000, seed: 20261129 },
    );
  });
});
