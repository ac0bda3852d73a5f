/**
 * Fuzz tests of option validation (docs/fuzzing.md): the validators of validate.ts against an
 * oracle of what each accepts, then the options of Matcher, HashStore and hashImage fed arbitrary
 * values (null-prototype objects, BigInts, boxed values, sparse arrays, symbols…) and near-valid
 * ones (each field right or wrong in turn, so every check is reached). Only an argument error in
 * the standard message shape (`Expected … for … but received … of type …`), or the
 * HashwardenError a documented input check gives, may come out.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALGORITHM_NAMES } from './algorithms/registry.js';
import { HashwardenError, type ErrorCode } from './errors.js';
import { Matcher } from './matcher/matcher.js';
import { normalizeEntry, type ListEntryInput } from './lists/entry.js';
import { HashStore } from './store/index.js';
import { hashImage } from './image/index.js';
import { resolveImageOptions } from './image/options.js';
import { boolean, integerInRange, nonEmptyString, oneOf, optionsObject, positiveNumber } from './validate.js';
import { anyValue, fuzzParameters, fuzzTestTimeout, isArgumentError } from './testing/fuzz.js';

/** Every value fast-check makes, the awkward ones included, and a few it does not. */
const anything: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 8,
    arbitrary: anyValue,
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      Symbol('s'),
      [Symbol('s')],
      () => 1,
      Object.create(null),
      [Object.create(null)],
      {
        toString: () => {
          throw new Error('no');
        },
      },
      -0,
      Number.NaN,
      Infinity,
      -Infinity,
      2 ** 53,
      1e-300,
      '',
      ' ',
      'x'.repeat(2000),
      new Uint8Array(3),
    ),
  },
  { weight: 2, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.integer({ min: -5, max: 300 }) },
);

/** A value or, one time in `1 + weight`, anything: near-valid options, so later checks are reached. */
function mostly<T>(valid: fc.Arbitrary<T>, weight = 3): fc.Arbitrary<unknown> {
  return fc.oneof({ weight, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: anything });
}

/** `fn`'s outcome: 'ok', a HashwardenError's code, 'argument' for a standard argument error, or what else came out. */
async function outcome(fn: () => unknown): Promise<'ok' | 'argument' | ErrorCode | `untyped: ${string}`> {
  try {
    await fn();
    return 'ok';
  } catch (error) {
    if (error instanceof HashwardenError) return error.code;
    if (isArgumentError(error)) return 'argument';
    return `untyped: ${error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error)}`;
  }
}

/** Asserts `fn` throws exactly `kind` with the message `Expected <expected> for <name> but received <shown> of type <typeof value>`. */
function expectRefusal(
  fn: () => unknown,
  kind: typeof TypeError | typeof RangeError,
  expected: string,
  name: string,
  value: unknown,
): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(kind);
  // A TypeError is no RangeError and back: the class must be the one the rule says.
  expect((thrown as Error).constructor).toBe(kind);
  const message = (thrown as Error).message;
  const head = `Expected ${expected} for ${name} but received `;
  const tail = ` of type ${typeof value}`;
  expect(message.startsWith(head) && message.endsWith(tail), message).toBe(true);
  expect(message.length - head.length - tail.length).toBeLessThanOrEqual(60);
}

describe('validators fuzz', () => {
  it(
    'accept exactly what their rule says, return it unchanged, and refuse the rest as TypeError or RangeError in the standard shape',
    () => {
      const value = fc.oneof(
        anything,
        fc.integer({ min: -3, max: 70 }),
        fc.constantFrom(true, false, 'csv', 'text', 'CSV', 'a', 'a'.repeat(9)),
      );
      fc.assert(
        fc.property(
          value,
          fc.integer({ min: -3, max: 10 }),
          fc.integer({ min: 0, max: 70 }),
          fc.integer({ min: 0, max: 8 }),
          (v, min, span, maxLength) => {
            const max = min + span;
            // integerInRange
            const integer = typeof v === 'number' && Number.isInteger(v);
            const integerExpected = `integer between ${min} and ${max}`;
            if (integer && (v as number) >= min && (v as number) <= max)
              expect(integerInRange(v, min, max, 'n')).toBe(v);
            else
              expectRefusal(
                () => integerInRange(v, min, max, 'n'),
                integer ? RangeError : TypeError,
                integerExpected,
                'n',
                v,
              );
            // positiveNumber
            const number = typeof v === 'number' && !Number.isNaN(v);
            if (number && (v as number) > 0 && (v as number) <= max) expect(positiveNumber(v, max, 'p')).toBe(v);
            else
              expectRefusal(
                () => positiveNumber(v, max, 'p'),
                number ? RangeError : TypeError,
                `positive number up to ${max}`,
                'p',
                v,
              );
            // boolean
            if (typeof v === 'boolean') expect(boolean(v, 'b')).toBe(v);
            else expectRefusal(() => boolean(v, 'b'), TypeError, 'boolean', 'b', v);
            // nonEmptyString
            const string = typeof v === 'string';
            if (string && (v as string).length > 0 && (v as string).length <= maxLength)
              expect(nonEmptyString(v, 's', maxLength)).toBe(v);
            else
              expectRefusal(
                () => nonEmptyString(v, 's', maxLength),
                string ? RangeError : TypeError,
                `non-empty string of at most ${maxLength} characters`,
                's',
                v,
              );
            // oneOf
            if (v === 'csv' || v === 'text') expect(oneOf(v, ['csv', 'text'], 'format')).toBe(v);
            else
              expectRefusal(
                () => oneOf(v, ['csv', 'text'], 'format'),
                string ? RangeError : TypeError,
                'one of csv, text',
                'format',
                v,
              );
            // optionsObject
            if (v === undefined) expect(optionsObject(v, 'options')).toEqual({});
            else if (v !== null && typeof v === 'object' && !Array.isArray(v))
              expect(optionsObject(v, 'options')).toBe(v);
            else expectRefusal(() => optionsObject(v as object, 'options'), TypeError, 'object', 'options', v);
          },
        ),
        fuzzParameters(1000),
      );
    },
    fuzzTestTimeout(),
  );
});

const MD5 = '0cc175b9c0f1b6a831c399e269772661';
const ENTRIES: ListEntryInput[] = [
  { list: 'ncmec', algorithm: 'md5', hash: MD5 },
  { id: 'b1', list: 'internal', algorithm: 'blockhash', hash: 'f0'.repeat(32), label: 'review' },
];
const algorithmName = fc.constantFrom(...ALGORITHM_NAMES, 'PDQ', 'photodna');
const thresholds = mostly(fc.dictionary(algorithmName, mostly(fc.integer({ min: -1, max: 70 })), { maxKeys: 3 }));
const listNames = fc.constantFrom('ncmec', 'internal', ' ', '', 'other');

describe('Matcher options fuzz', () => {
  it(
    'fromEntries and matchHash take valid options and refuse the rest with typed errors only',
    async () => {
      const list = mostly(
        fc.record(
          {
            name: mostly(listNames),
            version: mostly(fc.integer({ min: -1, max: 5 })),
            thresholds,
            label: mostly(fc.constantFrom('block', '', 'x'.repeat(1025))),
          },
          { requiredKeys: ['name'] },
        ),
      );
      const search = mostly(
        fc.record(
          {
            tier: mostly(fc.constantFrom('auto', 'linear', 'mih', 'exact')),
            substringBits: mostly(fc.integer({ min: 6, max: 26 })),
          },
          { requiredKeys: [] },
        ),
      );
      const options = mostly(
        fc.record(
          {
            thresholds,
            image: mostly(fc.record({ resolution: mostly(fc.constantFrom('fast', 'full')) }, { requiredKeys: [] })),
            search,
            lists: mostly(fc.array(list, { maxLength: 3 })),
          },
          { requiredKeys: [] },
        ),
        5,
      );
      const query = mostly(
        fc.record({
          algorithm: mostly(algorithmName),
          hash: mostly(fc.constantFrom(MD5, 'f0'.repeat(32), 'zz', new Uint8Array(16), new Uint8Array(32))),
        }),
      );
      // One number for every perceptual algorithm, or per algorithm as the matcher's thresholds.
      const matchOptions = mostly(
        fc.record({ threshold: mostly(fc.oneof(fc.integer({ min: -1, max: 300 }), thresholds)) }, { requiredKeys: [] }),
      );
      await fc.assert(
        fc.asyncProperty(options, query, matchOptions, async (o, q, m) => {
          let matcher: Matcher | undefined;
          const made = await outcome(() => (matcher = Matcher.fromEntries(ENTRIES, o as never)));
          // Options are checked before entries: a thresholds key that is no algorithm is ERR_UNKNOWN_ALGORITHM.
          expect(['ok', 'argument', 'ERR_UNKNOWN_ALGORITHM']).toContain(made);
          matcher ??= Matcher.fromEntries(ENTRIES);
          expect(['ok', 'argument', 'ERR_UNKNOWN_ALGORITHM', 'ERR_HASH_FORMAT']).toContain(
            await outcome(() => matcher?.matchHash(q as never, m as never)),
          );
          // A batch reports a bad query in its result; only a bad batch or option throws (a
          // per-algorithm threshold naming no algorithm: ERR_UNKNOWN_ALGORITHM, as in the options).
          const batch = await outcome(() => {
            for (const r of matcher?.matchHashes([q as never, ENTRIES[0] as never], m as never) ?? []) {
              if (!r.ok)
                expect(r.error instanceof HashwardenError || isArgumentError(r.error), String(r.error)).toBe(true);
            }
          });
          expect(['ok', 'argument', 'ERR_UNKNOWN_ALGORITHM']).toContain(batch);
        }),
        fuzzParameters(400),
      );
    },
    fuzzTestTimeout(),
  );
});

let dir: string;
let image: Uint8Array;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-options-fuzz-'));
  image = new Uint8Array(await readFile(new URL('../test-vectors/images/alpha-shapes-160x160.webp', import.meta.url)));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('HashStore options fuzz', () => {
  it(
    'open, importEntries, setListPolicy and entries refuse bad options with typed errors only',
    async () => {
      // Valid more often than not: a store must open and a list exist for the later checks to run.
      const openOptions = mostly(
        fc.record({ readonly: mostly(fc.boolean(), 8), create: mostly(fc.boolean(), 8) }, { requiredKeys: [] }),
        8,
      );
      const importOptions = mostly(
        fc.record(
          {
            source: mostly(fc.constantFrom('a.csv', ''), 8),
            replace: mostly(fc.array(mostly(listNames, 8), { maxLength: 2 }), 8),
            allowEmpty: mostly(fc.boolean(), 8),
          },
          { requiredKeys: [] },
        ),
        8,
      );
      const change = mostly(
        fc.record(
          {
            thresholds: mostly(
              fc.dictionary(algorithmName, mostly(fc.oneof(fc.integer({ min: -1, max: 70 }), fc.constant(null)), 8), {
                maxKeys: 2,
              }),
              6,
            ),
            label: mostly(fc.constantFrom('block', null, ''), 6),
            enabled: mostly(fc.boolean(), 6),
          },
          { requiredKeys: [] },
        ),
        6,
      );
      const filter = mostly(
        fc.record({ list: mostly(listNames), algorithm: mostly(algorithmName) }, { requiredKeys: [] }),
      );
      let stores = 0;
      await fc.assert(
        fc.asyncProperty(
          openOptions,
          importOptions,
          mostly(fc.constantFrom('ncmec', 'internal', ' ncmec ', 'other'), 6),
          change,
          filter,
          async (o, i, name, c, f) => {
            const path = join(dir, `store-${++stores}.db`);
            // A missing store with create: false, or read-only, is ERR_STORE.
            expect(['ok', 'argument', 'ERR_STORE']).toContain(
              await outcome(() => HashStore.open(path, o as never).close()),
            );
            // The other calls on a store holding both lists, so that a policy change can find its list.
            const store = HashStore.open(join(dir, `store-${stores}-filled.db`));
            store.importEntries(ENTRIES.map(normalizeEntry));
            try {
              // An entry of a list a replace does not name is a bad row: ERR_LIST_FORMAT.
              expect(['ok', 'argument', 'ERR_STORE', 'ERR_LIST_FORMAT']).toContain(
                await outcome(() => store.importEntries(ENTRIES.map(normalizeEntry), i as never)),
              );
              // An unknown list (or a read-only store) is ERR_STORE; a thresholds key no algorithm, ERR_UNKNOWN_ALGORITHM.
              expect(['ok', 'argument', 'ERR_STORE', 'ERR_UNKNOWN_ALGORITHM']).toContain(
                await outcome(() => store.setListPolicy(name as string, c as never)),
              );
              expect(['ok', 'argument']).toContain(await outcome(() => [...store.entries(f as never)]));
              expect(['ok', 'argument']).toContain(await outcome(() => store.count(f as never)));
            } finally {
              store.close();
            }
          },
        ),
        fuzzParameters(60),
      );
    },
    fuzzTestTimeout(),
  );
});

describe('hashImage options fuzz', () => {
  const imageOptions = mostly(
    fc.record(
      {
        algorithms: mostly(fc.array(mostly(algorithmName, 6), { maxLength: 3 })),
        resolution: mostly(fc.constantFrom('fast', 'full', 'half')),
        dihedral: mostly(fc.boolean()),
        trim: mostly(fc.boolean()),
        maxBytes: mostly(fc.integer({ min: 0, max: 2 ** 31 })),
        maxPixels: mostly(fc.integer({ min: 0, max: 0x3fff * 0x3fff + 1 })),
        timeoutSeconds: mostly(fc.integer({ min: 0, max: 3601 })),
        failOn: mostly(fc.constantFrom('none', 'truncated', 'error', 'warning', 'fatal')),
        formats: mostly(fc.array(mostly(fc.constantFrom('jpeg', 'png', 'webp', 'gif', 'svg'), 6), { maxLength: 3 })),
      },
      { requiredKeys: [] },
    ),
    5,
  );

  // Found by this file: the algorithms and formats arrays were checked with `map`, which skips the
  // holes of a sparse array, so a hole reached the resolved options as `undefined`
  // (ERR_UNKNOWN_ALGORITHM in algorithms, accepted silently in formats).
  it('refuses a hole in the algorithms array as an argument error', async () => {
    expect(await outcome(() => resolveImageOptions({ algorithms: new Array(1) }))).toBe('argument');
  });

  it('refuses a hole in the formats array as an argument error', async () => {
    expect(await outcome(() => resolveImageOptions({ formats: new Array(1) }))).toBe('argument');
  });

  it(
    'resolveImageOptions gives a frozen, checked object or an argument error',
    () => {
      fc.assert(
        fc.property(imageOptions, (o) => {
          let resolved: ReturnType<typeof resolveImageOptions>;
          try {
            resolved = resolveImageOptions(o as never);
          } catch (error) {
            expect(isArgumentError(error), String(error)).toBe(true);
            return;
          }
          expect(Object.isFrozen(resolved)).toBe(true);
          expect(resolved.algorithms.length).toBeGreaterThan(0);
          for (const a of resolved.algorithms) expect(ALGORITHM_NAMES).toContain(a);
          for (const f of resolved.formats) expect(typeof f).toBe('string');
          expect(resolveImageOptions(resolved)).toBe(resolved);
        }),
        fuzzParameters(1000),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'hashImage hashes or refuses with a typed error, whatever the options',
    async () => {
      // Decodes a small image (160 × 160 WebP) each run: few runs, of options valid more often than
      // not, with limits about the image's size, so that the decode is reached.
      const nearValid = fc.record(
        {
          algorithms: mostly(fc.uniqueArray(fc.constantFrom(...ALGORITHM_NAMES), { minLength: 1, maxLength: 3 }), 12),
          resolution: mostly(fc.constantFrom('fast', 'full'), 12),
          dihedral: mostly(fc.boolean(), 12),
          trim: mostly(fc.boolean(), 12),
          maxBytes: mostly(fc.integer({ min: 1, max: 4000 }), 12),
          maxPixels: mostly(fc.integer({ min: 20_000, max: 30_000 }), 12),
          failOn: mostly(fc.constantFrom('none', 'truncated', 'error', 'warning'), 12),
          formats: mostly(fc.constantFrom(['webp'], ['png', 'jpeg']), 12),
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(fc.oneof(imageOptions, nearValid), async (o) => {
          // ERR_IMAGE_TOO_LARGE: a byte or pixel limit below the image's; ERR_UNSUPPORTED_FORMAT: WebP not among the formats.
          expect(['ok', 'argument', 'ERR_IMAGE_TOO_LARGE', 'ERR_UNSUPPORTED_FORMAT']).toContain(
            await outcome(() => hashImage(image, o as never)),
          );
        }),
        fuzzParameters(40),
      );
    },
    fuzzTestTimeout(),
  );
});
