import { describe, expect, it } from 'vitest';
import { integerInRange, nonEmptyString, oneOf, optionsObject, positiveNumber } from './validate.js';

describe('argument validation', () => {
  it('returns a valid integer unchanged', () => {
    expect(integerInRange(10, 0, 64, 'threshold')).toBe(10);
  });

  it('rejects threshold above 64 with a RangeError in the standard shape', () => {
    expect(() => integerInRange(70, 0, 64, 'threshold')).toThrow(RangeError);
    expect(() => integerInRange(70, 0, 64, 'threshold')).toThrow(
      'Expected integer between 0 and 64 for threshold but received 70 of type number',
    );
  });

  it('rejects a non-integer or a string with a TypeError naming the type', () => {
    expect(() => integerInRange(1.5, 0, 64, 'threshold')).toThrow(TypeError);
    expect(() => integerInRange('8', 0, 64, 'threshold')).toThrow('but received "8" of type string');
    expect(() => integerInRange(Number.NaN, 0, 64, 'threshold')).toThrow(TypeError);
  });

  it('checks positive numbers, strings, enumerations and option objects', () => {
    expect(positiveNumber(2.5, 10, 'x')).toBe(2.5);
    expect(() => positiveNumber(0, 10, 'x')).toThrow(RangeError);
    expect(nonEmptyString('a', 'name')).toBe('a');
    expect(() => nonEmptyString('', 'name')).toThrow(RangeError);
    expect(oneOf('csv', ['csv', 'text'], 'format')).toBe('csv');
    expect(() => oneOf('xml', ['csv', 'text'], 'format')).toThrow(
      'Expected one of csv, text for format but received "xml" of type string',
    );
    expect(optionsObject(undefined, 'options')).toEqual({});
    expect(() => optionsObject([] as unknown as object, 'options')).toThrow(TypeError);
  });

  it('describes values String cannot convert, still in the standard shape', () => {
    // Found by the fuzz tests: String() throws for these, so the TypeError said "Cannot convert
    // object to primitive value" instead of naming the argument.
    const unprintable: [unknown, string][] = [
      [Object.create(null), '[object Object] of type object'],
      [[Object.create(null)], '[object Array] of type object'],
      [[Symbol('s')], '[object Array] of type object'],
      [
        {
          toString: () => {
            throw new Error('no');
          },
        },
        '[object Object] of type object',
      ],
    ];
    for (const [value, shown] of unprintable) {
      expect(() => integerInRange(value, 0, 64, 'threshold')).toThrow(
        new TypeError(`Expected integer between 0 and 64 for threshold but received ${shown}`),
      );
    }
  });
});
