/**
 * The vPDQ text forms: the reference CLI's lines and python-threatexchange's JSON written and read
 * back unchanged, pytx's exact spelling of timestamps and spacing, its older JSON form read, and
 * hostile text refused with `ERR_HASH_FORMAT` (never another error, never a hang).
 */
import { describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { mulberry32 } from '../testing/prng.js';
import {
  formatVpdqJson,
  formatVpdqLines,
  packVpdq,
  parseVpdqJson,
  parseVpdqLines,
  pythonTimestamp,
  unpackVpdq,
  VPDQ_PACKED_FRAME_BYTES,
} from './vpdq.js';

const A = 'e2f1017837246bacc5dea21b648fbfd62f435c89db299a2497667e216c8d055c';
const B = 'c0f113783f2468acc1de825b448fbfd66f434c89cb699a249776fe216c8d855c';
const FRAMES = [
  { frame: 0, quality: 100, hash: A, seconds: 0 },
  { frame: 30, quality: 49, hash: B, seconds: 1 },
  { frame: 3600, quality: 0, hash: '0'.repeat(64), seconds: 120 },
];

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof HashwardenError) return error.code;
    throw error;
  }
}

describe('the reference CLI lines', () => {
  it('writes frame,quality,hex,seconds with 3 decimals, one frame a line', () => {
    expect(formatVpdqLines(FRAMES)).toBe(`0,100,${A},0.000\n30,49,${B},1.000\n3600,0,${'0'.repeat(64)},120.000\n`);
  });

  it('reads its own output back unchanged, with CRLF, blank lines and no final newline too', () => {
    const text = formatVpdqLines(FRAMES);
    expect(parseVpdqLines(text)).toEqual(FRAMES);
    expect(parseVpdqLines(`${text.replace(/\n/g, '\r\n')}\n\n`)).toEqual(FRAMES);
    expect(parseVpdqLines(text.trimEnd())).toEqual(FRAMES);
    expect(parseVpdqLines('')).toEqual([]);
  });

  it('lower-cases hex it reads and timestamps keep their value', () => {
    expect(parseVpdqLines(`7,51,${A.toUpperCase()},0.233`)).toEqual([
      { frame: 7, quality: 51, hash: A, seconds: 0.233 },
    ]);
  });

  it.each([
    ['three fields', `0,100,${A}`],
    ['five fields', `0,100,${A},0.000,1`],
    ['a short hash', `0,100,${A.slice(1)},0.000`],
    ['a hash with a non-hex digit', `0,100,${A.slice(1)}g,0.000`],
    ['quality 101', `0,101,${A},0.000`],
    ['a negative quality', `0,-1,${A},0.000`],
    ['a negative frame', `-1,100,${A},0.000`],
    ['a fractional frame', `1.5,100,${A},0.000`],
    ['a frame above 2^31 − 1', `2147483648,100,${A},0.000`],
    ['a negative timestamp', `0,100,${A},-0.5`],
    ['NaN as timestamp', `0,100,${A},nan`],
    ['an infinite timestamp', `0,100,${A},1e999`],
    ['a timestamp of 40 digits', `0,100,${A},${'9'.repeat(40)}`],
    ['frames out of order', `5,100,${A},0.1\n4,100,${B},0.2`],
    ['a repeated frame', `5,100,${A},0.1\n5,100,${B},0.2`],
    ['spaces around fields', `0, 100,${A},0.000`],
  ])('refuses %s as ERR_HASH_FORMAT', (_name, text) => {
    expect(codeOf(() => parseVpdqLines(text))).toBe('ERR_HASH_FORMAT');
  });

  it('refuses more lines than maxFrames, and says which line', () => {
    const text = formatVpdqLines(FRAMES);
    expect(parseVpdqLines(text, { maxFrames: 3 })).toHaveLength(3);
    expect(() => parseVpdqLines(text, { maxFrames: 2 })).toThrow(/line 3: more than 2 frames/);
  });

  it('checks what it writes: a frame without its number is a TypeError', () => {
    expect(() => formatVpdqLines([{ quality: 100, hash: A, seconds: 0 }])).toThrow(TypeError);
    expect(() => formatVpdqLines([{ frame: 0, quality: 100.5, hash: A, seconds: 0 }])).toThrow(TypeError);
    expect(() => parseVpdqLines(42 as unknown as string)).toThrow(TypeError);
  });
});

describe("python-threatexchange's JSON", () => {
  it('spells timestamps as Python format(t, ".3") does', () => {
    // Each pair printed by CPython 3.11: format(x, '.3').
    const python: [number, string][] = [
      [0, '0.0'],
      [0.033, '0.033'],
      [0.0333333, '0.0333'],
      [1, '1.0'],
      [5, '5.0'],
      [12.345, '12.3'],
      [18.8, '18.8'],
      [99.94, '99.9'],
      [99.96, '1e+02'],
      [100, '1e+02'],
      [123.4, '1.23e+02'],
      [999.5, '1e+03'],
      [3599.97, '3.6e+03'],
      [0.0001234, '0.000123'],
      [0.00001, '1e-05'],
    ];
    for (const [seconds, text] of python) expect([seconds, pythonTimestamp(seconds)]).toEqual([seconds, text]);
  });

  it('writes the signal string pytx writes: strings "hex,quality,timestamp", json.dumps spacing', () => {
    expect(formatVpdqJson(FRAMES)).toBe(`["${A},100,0.0", "${B},49,1.0", "${'0'.repeat(64)},0,1.2e+02"]`);
    expect(formatVpdqJson([])).toBe('[]');
  });

  it('reads it back: frames without numbers, hashes and qualities unchanged', () => {
    const back = parseVpdqJson(formatVpdqJson(FRAMES));
    expect(back).toEqual(FRAMES.map(({ frame: _frame, ...rest }) => rest));
    expect(parseVpdqJson('')).toEqual([]);
  });

  it('reads the older form keyed by frame number, hashes as 16 words (last word first) or hex', () => {
    // A's words as PDQ's Hash256 holds them: w[15] is the first four hex digits.
    const words = Array.from({ length: 16 }, (_, i) => Number.parseInt(A.slice(60 - 4 * i, 64 - 4 * i), 16));
    const text = JSON.stringify({
      '0': { quality: 100, hash: { w: words }, timestamp: 0.0 },
      '30': { quality: 80, hash: B, timestamp: 1.0 },
    });
    expect(parseVpdqJson(text)).toEqual([
      { frame: 0, quality: 100, hash: A, seconds: 0 },
      { frame: 30, quality: 80, hash: B, seconds: 1 },
    ]);
  });

  it.each([
    ['text that is not JSON', '[1,'],
    ['a number', '42'],
    ['null', 'null'],
    ['an item that is not a string', `[{"hash":"${A}"}]`],
    ['an item of two fields', `["${A},100"]`],
    ['quality 101', `["${A},101,0.0"]`],
    ['a bad hash', `["${A.slice(2)},100,0.0"]`],
    ['a negative timestamp', `["${A},100,-1.0"]`],
    ['an older item without a quality', `{"0": {"hash": "${A}", "timestamp": 0}}`],
    ['an older item with 15 words', `{"0": {"quality": 1, "hash": {"w": [${Array(15).fill(0)}]}, "timestamp": 0}}`],
    [
      'an older item with a word of 17 bits',
      `{"0": {"quality": 1, "hash": {"w": [${Array(15).fill(0)},65536]}, "timestamp": 0}}`,
    ],
    ['an older key that is no frame number', `{"a": {"quality": 1, "hash": "${A}", "timestamp": 0}}`],
    ['an older key __proto__', `{"__proto__": {"quality": 1, "hash": "${A}", "timestamp": 0}}`],
  ])('refuses %s as ERR_HASH_FORMAT', (_name, text) => {
    expect(codeOf(() => parseVpdqJson(text))).toBe('ERR_HASH_FORMAT');
  });

  it('refuses more items than maxFrames', () => {
    expect(codeOf(() => parseVpdqJson(formatVpdqJson(FRAMES), { maxFrames: 2 }))).toBe('ERR_HASH_FORMAT');
  });
});

describe('hostile text', () => {
  it('random edits of valid text parse or fail with ERR_HASH_FORMAT, nothing else', () => {
    const random = mulberry32(24);
    const sources = [formatVpdqLines(FRAMES), formatVpdqJson(FRAMES)];
    const alphabet = '0123456789abcdefABCDEF,.-+eE\n\r []{}"\\:wxyz\u0000\u2028';
    for (let round = 0; round < 2000; round++) {
      const chars = [...(sources[round % 2] as string)];
      for (let edits = 1 + Math.floor(random() * 4); edits > 0; edits--) {
        const at = Math.floor(random() * chars.length);
        const c = alphabet[Math.floor(random() * alphabet.length)] as string;
        const kind = random();
        if (kind < 0.4) chars[at] = c;
        else if (kind < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, c);
      }
      const text = chars.join('');
      for (const parse of [parseVpdqLines, parseVpdqJson]) {
        const code = codeOf(() => parse(text));
        if (code !== undefined) expect(code).toBe('ERR_HASH_FORMAT');
      }
    }
  });
});

describe('the packed form', () => {
  it('packs 41 bytes a frame and unpacks to the same frames, without frame numbers', () => {
    const bytes = packVpdq(FRAMES);
    expect(bytes.length).toBe(FRAMES.length * VPDQ_PACKED_FRAME_BYTES);
    expect(unpackVpdq(bytes)).toEqual(FRAMES.map(({ hash, quality, seconds }) => ({ hash, quality, seconds })));
  });

  it('keeps a timestamp exactly, where the signal text keeps 3 significant digits', () => {
    const [frame] = unpackVpdq(packVpdq([{ hash: 'ab'.repeat(32), quality: 50, seconds: 123.456789 }]));
    expect(frame?.seconds).toBe(123.456789);
  });

  it('refuses bytes from elsewhere that are not whole frames, too many, or out of range with ERR_HASH_FORMAT', () => {
    const bytes = packVpdq(FRAMES);
    expect(codeOf(() => unpackVpdq(bytes.subarray(1)))).toBe('ERR_HASH_FORMAT');
    expect(codeOf(() => unpackVpdq(bytes, FRAMES.length - 1))).toBe('ERR_HASH_FORMAT');
    const quality = bytes.slice();
    quality[32] = 101;
    expect(codeOf(() => unpackVpdq(quality))).toBe('ERR_HASH_FORMAT');
    for (const seconds of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const bad = bytes.slice();
      new DataView(bad.buffer).setFloat64(33, seconds, true);
      expect(codeOf(() => unpackVpdq(bad))).toBe('ERR_HASH_FORMAT');
    }
  });

  it('checks the frames it packs: a quality of 101 is a RangeError', () => {
    expect(() => packVpdq([{ hash: 'ab'.repeat(32), quality: 101, seconds: 0 }])).toThrow(RangeError);
  });
});
