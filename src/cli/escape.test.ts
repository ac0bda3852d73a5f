/**
 * The CLI's output escaping (issue 18, finding 5): text made printable reversibly, JSON lines that
 * parse back to the exact value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACTIVE_CHARACTER as ACTIVE } from '../testing/cli.js';
import { fuzzParameters } from '../testing/fuzz.js';
import { escapeJson, jsonLine, printable, textLine } from './escape.js';

/** `printable` undone, reading its escapes as a JavaScript string literal would. */
function unescape(text: string): string {
  return text.replace(/\\(?:([\\nrt])|x([0-9a-f]{2})|u([0-9a-f]{4}))/g, (_, named, x, u) =>
    named !== undefined
      ? ({ '\\': '\\', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[named as string]!
      : String.fromCharCode(Number.parseInt((x ?? u) as string, 16)),
  );
}

/** Strings rich in what the escaping is about: controls, bidi, separators, backslashes, halves of pairs. */
const hostileString = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.constantFrom(
        '\\',
        '\\x1b',
        '\x1b[2K\r',
        '\n',
        '\t',
        '\x7f',
        '\x85',
        '\x9b',
        '\u2028',
        '\u2029',
        '\u202e',
        '\u2066',
        '\u061c',
        '\u200f',
        '\ud800',
        '\udfff',
        '😀',
        '日本',
        'é',
      ),
    ),
  )
  .map((parts) => parts.join(''));

describe('printable', () => {
  it('escapes C0 controls, DEL, C1 controls, separators, bidi controls, lone surrogates and the backslash', () => {
    expect(printable('\x1b[2K\rno match  /path')).toBe('\\x1b[2K\\rno match  /path');
    expect(printable('a\nb\tc\\d')).toBe('a\\nb\\tc\\\\d');
    expect(printable('\x00\x07\x7f')).toBe('\\x00\\x07\\x7f');
    expect(printable('\x85\x9b')).toBe('\\u0085\\u009b');
    expect(printable('\u2028\u2029')).toBe('\\u2028\\u2029');
    expect(printable('\u061c\u200e\u200f\u202a\u202e\u2066\u2069')).toBe(
      '\\u061c\\u200e\\u200f\\u202a\\u202e\\u2066\\u2069',
    );
    expect(printable('x\ud800y\udc00')).toBe('x\\ud800y\\udc00');
  });

  it('keeps accents, CJK, emoji and other ordinary text as it is', () => {
    const plain = 'café, 日本語, 😀👍🏽, Ελληνικά, עברית, العربية, "quotes" and spaces';
    expect(printable(plain)).toBe(plain);
  });

  it('leaves nothing a terminal acts on, and reads back to the text it was given', () => {
    fc.assert(
      fc.property(hostileString, (text) => {
        const escaped = printable(text);
        expect(escaped).not.toMatch(ACTIVE);
        expect(unescape(escaped)).toBe(text);
      }),
      fuzzParameters(500),
    );
  });

  it('makes one line of any text', () => {
    expect(textLine('MATCH a\nno match b')).toBe('MATCH a\\nno match b\n');
    fc.assert(
      fc.property(hostileString, (text) => {
        expect(textLine(text).split('\n')).toHaveLength(2);
      }),
      fuzzParameters(200),
    );
  });
});

describe('jsonLine and escapeJson', () => {
  it('writes DEL, C1 controls, separators and bidi controls as \\uXXXX and parses back to the same value', () => {
    const value = { file: 'a\u202eb\x85c\u2028d\x7fe\\\u2066', n: 1, list: ['\x1b[2K\r', 'é日本😀'] };
    const text = jsonLine(value);
    expect(text).toBe(
      '{"file":"a\\u202eb\\u0085c\\u2028d\\u007fe\\\\\\u2066","n":1,"list":["\\u001b[2K\\r","é日本😀"]}\n',
    );
    expect(JSON.parse(text)).toEqual(value);
  });

  it('gives one line holding nothing a terminal acts on, whose value is exactly the one written', () => {
    const record = fc.dictionary(hostileString, fc.oneof(hostileString, fc.integer(), fc.array(hostileString)));
    fc.assert(
      fc.property(record, (value) => {
        const text = jsonLine(value);
        expect(text.endsWith('\n')).toBe(true);
        expect(text.slice(0, -1)).not.toMatch(ACTIVE);
        // The value as JSON carries it (fast-check's dictionaries may have no prototype).
        expect(JSON.parse(text)).toStrictEqual(JSON.parse(JSON.stringify(value)));
      }),
      fuzzParameters(300),
    );
  });

  it('escapes every line of NDJSON text and leaves its line breaks', () => {
    const ndjson = `${JSON.stringify({ id: '\u202e1' })}\n${JSON.stringify({ id: '\x9b2' })}\n`;
    const escaped = escapeJson(ndjson);
    expect(escaped.split('\n')).toHaveLength(3);
    expect(escaped).not.toMatch(/[\u202e\x9b]/);
    expect(
      escaped
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([{ id: '\u202e1' }, { id: '\x9b2' }]);
  });
});
