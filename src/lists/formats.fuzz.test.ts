/**
 * Fuzz tests of parseList (docs/fuzzing.md): valid CSV, NDJSON and text lists with bytes flipped,
 * cut, deleted, repeated and inserted (quotes, commas, line ends, BOM, NUL, invalid UTF-8, lines
 * past 64 KiB), random bytes and random text, under random options. Whatever arrives, parseList
 * returns normalised entries with consistent counts, or throws ERR_LIST_FORMAT naming a line of
 * the input; the two bad-row policies agree with each other; bad options are argument errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { LIST_FORMATS, MAX_ROW_PROBLEMS, type ParsedList, type ParseListOptions } from './formats.js';
import { parseList } from './parse.js';
import { expectListError, expectNormalEntry, fuzzedListFile, lineCount, readerOptions } from '../testing/list-fuzz.js';
import { anyValue, fuzzParameters, fuzzTestTimeout, isArgumentError } from '../testing/fuzz.js';

const SOURCE = 'fuzz.list';
// Lossy, as a caller holding text would have it: invalid UTF-8 becomes U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

type Outcome = { readonly ok: true; readonly parsed: ParsedList } | { readonly ok: false; readonly error: unknown };

function attempt(text: string, options: ParseListOptions): Outcome {
  try {
    return { ok: true, parsed: parseList(text, options) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Asserts what parseList returned is well formed for `options`, on a text of `lines` lines. */
function expectParsed(parsed: ParsedList, options: ParseListOptions, lines: number): void {
  expect(LIST_FORMATS).toContain(parsed.format);
  if (options.format !== undefined) expect(parsed.format).toBe(options.format);
  const keys = new Set<string>();
  for (const entry of parsed.entries) {
    expectNormalEntry(entry);
    const key = `${entry.list}\0${entry.id}`;
    expect(keys.has(key), `duplicate ${key}`).toBe(false);
    keys.add(key);
  }
  expect(parsed.rows).toBe(parsed.entries.length + parsed.merged + parsed.ignored + parsed.skippedCount);
  expect(parsed.skipped.length).toBe(Math.min(parsed.skippedCount, MAX_ROW_PROBLEMS));
  if (options.onError !== 'skip') expect(parsed.skippedCount).toBe(0);
  let previous = 0;
  for (const problem of parsed.skipped) {
    expect(problem.source).toBe(SOURCE);
    // One problem per row, in file order: rows start on distinct, increasing lines.
    expect(problem.line).toBeGreaterThan(previous);
    expect(expectListError(problem.error, SOURCE, lines)).toBe(problem.line);
    previous = problem.line;
  }
}

/** What the `fail` policy must throw, given what `skip` returned: the first bad row, and how many more. */
function failMessage(parsed: ParsedList): string | undefined {
  const first = parsed.skipped[0];
  if (first === undefined) return undefined;
  const more = parsed.skippedCount - 1;
  return `${first.error.message}${more > 0 ? ` (and ${more} more bad row${more === 1 ? '' : 's'})` : ''}`;
}

describe('parseList fuzz', () => {
  it(
    'returns normalised entries or throws ERR_LIST_FORMAT naming a line, and fail agrees with skip',
    () => {
      fc.assert(
        fc.property(fuzzedListFile(), readerOptions(), (file, o) => {
          const text = decoder.decode(file.bytes);
          const lines = lineCount(new TextEncoder().encode(text));
          const base = {
            list: 'fuzz',
            source: SOURCE,
            ...(o.format === undefined ? {} : { format: o.format }),
            ...(o.algorithm === undefined ? {} : { algorithm: o.algorithm }),
          };
          const skip = attempt(text, { ...base, onError: 'skip' });
          const fail = attempt(text, { ...base, onError: 'fail' });
          if (skip.ok) {
            expectParsed(skip.parsed, { ...base, onError: 'skip' }, lines);
            const expected = failMessage(skip.parsed);
            if (expected === undefined) {
              // No bad row: both policies give the same list.
              expect(fail).toEqual(skip);
            } else {
              expect(fail.ok).toBe(false);
              if (!fail.ok) {
                expectListError(fail.error, SOURCE, lines);
                expect((fail.error as Error).message).toBe(expected);
              }
            }
          } else {
            // A structural problem (a CSV quote error, a bad header) stops either policy, at the same place.
            expectListError(skip.error, SOURCE, lines);
            expect(fail.ok).toBe(false);
            if (!fail.ok) expect((fail.error as Error).message).toBe((skip.error as Error).message);
          }
        }),
        fuzzParameters(250),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'reads any string, lone surrogates and controls included, to entries or ERR_LIST_FORMAT',
    () => {
      const text = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.string({
          unit: fc.constantFrom(
            '\n',
            '\r',
            ',',
            '"',
            ' ',
            'a',
            '0',
            '{',
            '}',
            ':',
            '#',
            '\uFEFF',
            '\uD800',
            'md5',
            'hash',
            'op',
          ),
          maxLength: 80,
        }),
      );
      fc.assert(
        fc.property(text, readerOptions(), (input, o) => {
          const options: ParseListOptions = {
            list: 'fuzz',
            source: SOURCE,
            onError: o.onError,
            ...(o.format === undefined ? {} : { format: o.format }),
            ...(o.algorithm === undefined ? {} : { algorithm: o.algorithm }),
          };
          const outcome = attempt(input, options);
          const lines = input.split('\n').length;
          if (outcome.ok) expectParsed(outcome.parsed, options, lines);
          else expectListError(outcome.error, SOURCE, lines);
        }),
        fuzzParameters(250),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'refuses bad arguments with TypeError or RangeError in the standard message shape, never anything else',
    () => {
      // Mostly near-valid options, so each field's own check is reached, not just the first.
      const field = (valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
        fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: anyValue });
      const options = fc.oneof(
        { weight: 1, arbitrary: fc.anything({ withNullPrototype: true, withBigInt: true }) },
        {
          weight: 5,
          arbitrary: fc.record(
            {
              list: field(fc.constantFrom('fuzz', ' ', '', 'x'.repeat(1025))),
              format: field(fc.constantFrom('csv', 'ndjson', 'text', 'xml', 'CSV')),
              algorithm: field(fc.constantFrom('md5', ' PDQ ', 'photodna', '')),
              source: field(fc.constantFrom('a.csv', '', 'x'.repeat(5000))),
              onError: field(fc.constantFrom('fail', 'skip', 'ignore')),
            },
            { requiredKeys: [] },
          ),
        },
      );
      const text = fc.oneof(
        fc.constant('md5 0cc175b9c0f1b6a831c399e269772661\n'),
        fc.anything({ withBigInt: true, withNullPrototype: true }),
      );
      fc.assert(
        fc.property(text, options, (input, opts) => {
          try {
            const parsed = parseList(input as string, opts as ParseListOptions);
            // Accepted: the text was text and the options valid.
            expect(typeof input).toBe('string');
            expect(parsed.rows).toBe(parsed.entries.length + parsed.merged + parsed.ignored + parsed.skippedCount);
          } catch (error) {
            if (error instanceof HashwardenError) {
              // Valid options, and the text was read: only its rows can be wrong.
              expect(error.code).toBe('ERR_LIST_FORMAT');
              return;
            }
            expect(isArgumentError(error), String(error)).toBe(true);
          }
        }),
        fuzzParameters(300),
      );
    },
    fuzzTestTimeout(),
  );
});
