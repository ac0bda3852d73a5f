/**
 * Tests of list files: the three formats, bad rows reported by file and physical line, the
 * fail/skip policies, file reading, and formatList → parseList round trips.
 */
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import {
  LIST_FORMATS,
  MAX_LIST_LINE_BYTES,
  MAX_ROW_PROBLEMS,
  type ListFormat,
  type ParseListOptions,
} from './formats.js';
import { detectListFormat } from './detect.js';
import { parseList, readListFile } from './parse.js';
import { formatList, writeListFile } from './write.js';
import { normalizeEntry, type ListEntry } from './entry.js';
import { expectRowError, rejection } from '../testing/row-errors.js';
import { listEntries } from '../testing/list-entries.js';

const MD5_A = '0cc175b9c0f1b6a831c399e269772661';
const MD5_B = '92eb5ffee6ae2fec3ad71c777531578f';
const MD5_C = '4a8a08f09d37b73795649038408b5f33';
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const PDQ = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const parse = (text: string, options: Partial<ParseListOptions> = {}) =>
  parseList(text, { list: 'demo', source: 'in.txt', ...options });

describe('parseList: csv', () => {
  it('reads the known columns, aliases and list overrides, keeping other columns as metadata', () => {
    const text = [
      ' Hash ,Signal_Type,ID,Label,List,source,notes',
      `${MD5_A.toUpperCase()},MD5,42,csam,,vendor-x,`,
      `${MD5_B},md5,,,other, vendor-y ,checked`,
    ].join('\n');
    const { entries, format, rows, skippedCount } = parse(text, { format: 'csv' });
    expect(format).toBe('csv');
    expect(rows).toBe(2);
    expect(skippedCount).toBe(0);
    expect(entries).toEqual([
      { id: '42', list: 'demo', algorithm: 'md5', hash: MD5_A, label: 'csam', metadata: { source: 'vendor-x' } },
      {
        id: `md5:${MD5_B}`,
        list: 'other',
        algorithm: 'md5',
        hash: MD5_B,
        metadata: { source: 'vendor-y', notes: 'checked' },
      },
    ]);
  });

  it('uses the algorithm option when there is no algorithm column, and the row value over it when there is', () => {
    expect(parse(`hash\n${MD5_A}\n`, { format: 'csv', algorithm: 'MD5' }).entries).toEqual([
      { id: `md5:${MD5_A}`, list: 'demo', algorithm: 'md5', hash: MD5_A },
    ]);
    expect(
      parse(`hash,type\n${SHA1},sha1\n${MD5_A},\n`, { format: 'csv', algorithm: 'md5' }).entries.map(
        (e) => e.algorithm,
      ),
    ).toEqual(['sha1', 'md5']);
  });

  it('keeps a second algorithm alias as metadata', () => {
    const [entry] = parse(`hash,algorithm,type\n${MD5_A},md5,photo\n`, { format: 'csv' }).entries;
    expect(entry).toMatchObject({ algorithm: 'md5', metadata: { type: 'photo' } });
  });

  it('strips a BOM and accepts CRLF line ends', () => {
    // A quoted first header is where a kept BOM would break the parse (Excel writes both).
    const { entries } = parse(`\uFEFF"hash","algorithm"\r\n${MD5_A},md5\r\n${MD5_B},md5\r\n`, { format: 'csv' });
    expect(entries.map((e) => e.hash)).toEqual([MD5_A, MD5_B]);
  });

  it('reads a quoted field with an embedded newline and still reports later rows by physical line', () => {
    const text = [
      'hash,algorithm,note',
      `${MD5_A},md5,"two`,
      'lines, with ""quotes"""',
      `${MD5_B},md5,plain`,
      'nothex,md5,x',
    ].join('\r\n');
    const result = parse(text, { format: 'csv', onError: 'skip' });
    expect(result.entries.map((e) => e.metadata)).toEqual([{ note: 'two\r\nlines, with "quotes"' }, { note: 'plain' }]);
    expect(result.skipped.map((p) => p.line)).toEqual([5]);
    expectRowError(result.skipped[0]?.error, 'in.txt', 5);
  });

  it('gives no entries for an empty file, a header alone, or blank rows', () => {
    for (const text of ['', '\uFEFF', 'hash,algorithm\n', 'hash,algorithm\r\n\r\n,\n  ,  \n']) {
      const result = parse(text, { format: 'csv' });
      expect(result).toMatchObject({ entries: [], rows: 0, skippedCount: 0 });
    }
  });

  it('rejects a ragged row as a bad row, naming file and line', () => {
    const error = caught(() => parse(`hash,algorithm\n${MD5_A},md5\n\n${MD5_B},md5,extra\n`, { format: 'csv' }));
    expect(expectRowError(error, 'in.txt', 4).message).toMatch(/Expected 2 fields as in the header but found 3/);
  });

  it('refuses a header without a hash column even when skipping bad rows', () => {
    const error = caught(() => parse(`id,algorithm\n1,md5\n`, { format: 'csv', onError: 'skip' }));
    expect(expectRowError(error, 'in.txt', 1).message).toMatch(/no "hash" column/);
  });

  it('tells the algorithm of each row by its hash length without an algorithm column, asking the option for 64 digits', () => {
    const parsed = parse(`hash,id\n${MD5_A},1\n${SHA1},2\n${PDQ},3\n`, { format: 'csv', onError: 'skip' });
    expect(parsed.entries.map((e) => e.algorithm)).toEqual(['md5', 'sha1']);
    expect(expectRowError(parsed.skipped[0]?.error, 'in.txt', 4).message).toMatch(/give the algorithm option/);
    const told = parse(`hash,id\n${MD5_A},1\n${PDQ},3\n`, { format: 'csv', algorithm: 'pdq' });
    expect(told.entries.map((e) => e.algorithm)).toEqual(['md5', 'pdq']);
  });

  it('refuses a file with CR-only line ends instead of reading it as one long header', () => {
    const error = caught(() => parse(`hash,algorithm\r${MD5_A},md5\r`, { format: 'csv', onError: 'skip' }));
    expect(expectRowError(error, 'in.txt', 1).message).toMatch(/header contains a line break/);
  });

  it('refuses a header naming a column twice, whatever its case', () => {
    const error = caught(() => parse(`hash,algorithm,Hash\n`, { format: 'csv' }));
    expect(expectRowError(error, 'in.txt', 1).message).toMatch(/"hash" twice/);
  });

  it('stops at an unclosed quote, naming the line where the record starts, even when skipping', () => {
    const text = ['hash,algorithm', `${MD5_A},md5`, 'nothex,md5', `"${MD5_B},md5`, `${MD5_C},md5`].join('\n');
    const error = expectRowError(
      caught(() => parse(text, { format: 'csv', onError: 'skip' })),
      'in.txt',
      4,
    );
    expect(error.message).toMatch(/CSV syntax error \(CSV_QUOTE_NOT_CLOSED\)/);
    expect(error.message).toMatch(/the rest of the file was not read \(and 1 more bad row before it\)$/);
  });
});

describe('parseList: ndjson', () => {
  it('reads objects, keeping other fields and a metadata object as metadata', () => {
    const text = [
      JSON.stringify({ hash: MD5_A, signal_type: 'md5', id: 7, label: 'csam', source: 'x', metadata: { batch: 3 } }),
      '',
      JSON.stringify({ hash: SHA1, algorithm: 'SHA1', list: 'other', tags: ['a'] }),
    ].join('\n');
    expect(parse(text, { format: 'ndjson' })).toMatchObject({
      format: 'ndjson',
      rows: 2,
      entries: [
        { id: '7', list: 'demo', algorithm: 'md5', hash: MD5_A, label: 'csam', metadata: { source: 'x', batch: 3 } },
        { id: `sha1:${SHA1}`, list: 'other', algorithm: 'sha1', hash: SHA1, metadata: { tags: ['a'] } },
      ],
    });
  });

  it('strips a BOM and accepts CRLF and blank lines', () => {
    const text = `\uFEFF{"hash":"${MD5_A}","type":"md5"}\r\n\r\n   \r\n{"hash":"${MD5_B}","type":"md5"}\r\n`;
    expect(parse(text, { format: 'ndjson' }).entries.map((e) => e.hash)).toEqual([MD5_A, MD5_B]);
  });

  it.each([
    ['an array', '[1, 2]', /Expected a JSON object but found an array/],
    ['a number', '42', /Expected a JSON object but found a number/],
    ['null', 'null', /Expected a JSON object but found null/],
    ['broken JSON', '{"hash": ', /Invalid JSON/],
    [
      'a non-object metadata field',
      `{"hash":"${MD5_B}","type":"md5","metadata":"x"}`,
      /Expected an object for metadata/,
    ],
  ])('rejects a line holding %s, naming file and line', (_name, line, message) => {
    const text = `{"hash":"${MD5_A}","type":"md5"}\n\n${line}\n`;
    expect(
      expectRowError(
        caught(() => parse(text, { format: 'ndjson' })),
        'in.txt',
        3,
      ).message,
    ).toMatch(message);
  });
});

describe('parseList: text', () => {
  it('reads "<algorithm> <hex>" lines, tolerating extra white space, comments and blank lines', () => {
    const text = [
      '# exported list',
      '',
      `md5 ${MD5_A}`,
      `  SHA1\t\t${SHA1.toUpperCase()}  `,
      '   # indented comment',
      `md5   ${MD5_B}`,
    ].join('\n');
    const { entries, rows } = parse(text, { format: 'text' });
    expect(rows).toBe(3);
    expect(entries).toEqual([
      { id: `md5:${MD5_A}`, list: 'demo', algorithm: 'md5', hash: MD5_A },
      { id: `sha1:${SHA1}`, list: 'demo', algorithm: 'sha1', hash: SHA1 },
      { id: `md5:${MD5_B}`, list: 'demo', algorithm: 'md5', hash: MD5_B },
    ]);
  });

  it('reads bare hex lines with the algorithm option, and refuses them without it', () => {
    expect(parse(`${MD5_A}\r\n${MD5_B}\r\n`, { format: 'text', algorithm: 'md5' }).entries.map((e) => e.hash)).toEqual([
      MD5_A,
      MD5_B,
    ]);
    const error = expectRowError(
      caught(() => parse(`md5 ${MD5_A}\n${MD5_B}\n`, { format: 'text' })),
      'in.txt',
      2,
    );
    expect(error.message).toMatch(/Missing algorithm/);
  });

  it('reads python-threatexchange "<signal type> <hash>" lines, photo_md5 as md5', () => {
    const { entries } = parse(`pdq ${PDQ.toUpperCase()}\nphoto_md5 ${MD5_A}\n  Photo_MD5\t${MD5_B}\n`, {
      format: 'text',
    });
    expect(entries).toEqual([
      { id: `pdq:${PDQ}`, list: 'demo', algorithm: 'pdq', hash: PDQ },
      { id: `md5:${MD5_A}`, list: 'demo', algorithm: 'md5', hash: MD5_A },
      { id: `md5:${MD5_B}`, list: 'demo', algorithm: 'md5', hash: MD5_B },
    ]);
  });

  it('gives no entries for a file of comments and blank lines', () => {
    expect(parse('\uFEFF# nothing yet\r\n\r\n# still nothing\n', { format: 'text' })).toMatchObject({
      entries: [],
      rows: 0,
    });
  });

  it('rejects a line with more than two fields, naming file and line', () => {
    const error = expectRowError(
      caught(() => parse(`md5 ${MD5_A}\nmd5 ${MD5_B} # note\n`, { format: 'text' })),
      'in.txt',
      2,
    );
    expect(error.message).toMatch(/found 4 fields/);
  });
});

describe('parseList and readListFile: lines longer than the streaming reader takes', () => {
  // One huge NDJSON line would go to JSON.parse whole (a string, then its objects, several times its
  // size); the whole-file reader refuses it at the streaming reader's limit instead, naming the line.
  const long = 'x'.repeat(MAX_LIST_LINE_BYTES + 1);
  const inputs: [ListFormat, string, number][] = [
    ['ndjson', `{"algorithm":"md5","hash":"${MD5_A}"}\n{"algorithm":"md5","hash":"${MD5_B}","note":"${long}"}\n`, 2],
    ['text', `md5 ${MD5_A}\n# ${long}\n`, 2],
    ['csv', `hash,algorithm,note\n${MD5_A},md5,ok\n${MD5_B},md5,"${long}"\n`, 3],
  ];
  for (const [format, text, line] of inputs) {
    it(`refuses a ${format} line over MAX_LIST_LINE_BYTES as ERR_LIST_FORMAT naming it, even with onError skip`, () => {
      for (const onError of ['fail', 'skip'] as const) {
        expect(() => parseList(text, { format, list: 'l', source: 'big', onError })).toThrow(
          expect.objectContaining({
            code: 'ERR_LIST_FORMAT',
            message: expect.stringMatching(new RegExp(`^big:${line}: line longer`)),
          }),
        );
      }
    });
  }

  it('reads a line of exactly MAX_LIST_LINE_BYTES', () => {
    const comment = `# ${'x'.repeat(MAX_LIST_LINE_BYTES - 2)}`;
    expect(parseList(`md5 ${MD5_A}\n${comment}\n`, { format: 'text', list: 'l' }).entries).toHaveLength(1);
  });
});

describe('parseList: bad rows', () => {
  // Each case puts the bad row on line 3 after a good row and a blank or header line.
  const cases: [string, ListFormat, string, RegExp][] = [
    ['bad hex (csv)', 'csv', `hash,algorithm\n${MD5_A},md5\n${'z'.repeat(32)},md5\n`, /found "z" at position 1/],
    [
      'wrong length (csv)',
      'csv',
      `hash,algorithm\n${MD5_A},md5\n${MD5_B}00,md5\n`,
      /Expected 32 hex digits for a md5 hash but received 34/,
    ],
    [
      'unknown algorithm (csv)',
      'csv',
      `hash,algorithm\n${MD5_A},md5\n${MD5_B},photodna\n`,
      /Unknown hash algorithm "photodna"/,
    ],
    ['missing hash (csv)', 'csv', `hash,algorithm\n${MD5_A},md5\n,md5\n`, /Missing hash/],
    [
      'duplicate id (csv)',
      'csv',
      `id,hash,algorithm\nx,${MD5_A},md5\nx,${MD5_B},md5\n`,
      /Duplicate id "x" in list "demo", first on line 2/,
    ],
    [
      'bad hex (ndjson)',
      'ndjson',
      `{"hash":"${MD5_A}","type":"md5"}\n\n{"hash":"${'g'.repeat(32)}","type":"md5"}\n`,
      /found "g"/,
    ],
    ['missing hash (ndjson)', 'ndjson', `{"hash":"${MD5_A}","type":"md5"}\n\n{"type":"md5"}\n`, /Missing hash/],
    ['unknown algorithm (text)', 'text', `md5 ${MD5_A}\n# c\nphotodna ${MD5_B}\n`, /Unknown hash algorithm "photodna"/],
    [
      'wrong length (text)',
      'text',
      `md5 ${MD5_A}\n\nsha1 ${MD5_B}\n`,
      /Expected 40 hex digits for a sha1 hash but received 32/,
    ],
    [
      'an id repeating the default id of another row (csv)',
      'csv',
      `hash,algorithm,id\n${MD5_A},md5,\n${MD5_B},md5,md5:${MD5_A}\n`,
      new RegExp(`Duplicate id "md5:${MD5_A}" in list "demo", first on line 2`),
    ],
  ];

  it.each(cases)('rejects %s with ERR_LIST_FORMAT naming file and line', (_name, format, text, message) => {
    const error = expectRowError(
      caught(() => parse(text, { format })),
      'in.txt',
      3,
    );
    expect(error.message).toMatch(message);
    expect(error.message).not.toMatch(/more bad row/);
  });

  it('treats the same id in two lists as two entries', () => {
    const text = `id,list,hash,algorithm\nx,a,${MD5_A},md5\nx,b,${MD5_A},md5\n`;
    expect(parse(text, { format: 'csv' }).entries.map((e) => `${e.list}/${e.id}`)).toEqual(['a/x', 'b/x']);
  });

  it('with skip, returns the good rows and the bad ones with their lines', () => {
    const text = [`md5 ${MD5_A}`, 'md5 nothex', '', `md5 ${MD5_B}`, `photodna ${MD5_C}`, `md5 ${MD5_A}`].join('\n');
    const result = parse(text, { format: 'text', onError: 'skip', dedupe: 'fail' });
    expect(result.entries.map((e) => e.hash)).toEqual([MD5_A, MD5_B]);
    expect(result.rows).toBe(5);
    expect(result.skippedCount).toBe(3);
    expect(result.skipped.map((p) => [p.source, p.line])).toEqual([
      ['in.txt', 2],
      ['in.txt', 5],
      ['in.txt', 6],
    ]);
    expect(result.skipped[1]?.error.code).toBe('ERR_LIST_FORMAT');
    expect(result.skipped[1]?.error.cause).toMatchObject({ code: 'ERR_UNKNOWN_ALGORITHM' });
  });

  it('with fail, reads the whole input and counts the further bad rows in the message', () => {
    const text = [`md5 ${MD5_A}`, 'md5 nothex', `md5 ${MD5_B}`, 'photodna x', 'md5 12', 'a b c'].join('\n');
    const error = expectRowError(
      caught(() => parse(text, { format: 'text' })),
      'in.txt',
      2,
    );
    expect(error.message).toMatch(/ \(and 3 more bad rows\)$/);
    expect(error.cause).toMatchObject({ code: 'ERR_LIST_FORMAT', message: expect.stringMatching(/^in\.txt:2: /) });
  });

  it('keeps at most MAX_ROW_PROBLEMS problems but counts them all', () => {
    const text = `md5 ${MD5_A}\n${'md5 bad\n'.repeat(MAX_ROW_PROBLEMS + 5)}`;
    const result = parse(text, { format: 'text', onError: 'skip' });
    expect(result.entries).toHaveLength(1);
    expect(result.skipped).toHaveLength(MAX_ROW_PROBLEMS);
    expect(result.skippedCount).toBe(MAX_ROW_PROBLEMS + 5);
    expect(result.rows).toBe(MAX_ROW_PROBLEMS + 6);
    expect(result.skipped.at(-1)?.line).toBe(MAX_ROW_PROBLEMS + 1);
  });
});

describe('parseList: op', () => {
  it('reads add rows of an op column, any case, and keeps no op metadata', () => {
    const text = ['hash,algorithm, OP ,source', `${MD5_A},md5,add,x`, `${MD5_B},md5, ADD ,`, `${MD5_C},md5,,y`].join(
      '\n',
    );
    expect(parse(text, { format: 'csv' }).entries).toEqual([
      { id: `md5:${MD5_A}`, list: 'demo', algorithm: 'md5', hash: MD5_A, metadata: { source: 'x' } },
      { id: `md5:${MD5_B}`, list: 'demo', algorithm: 'md5', hash: MD5_B },
      { id: `md5:${MD5_C}`, list: 'demo', algorithm: 'md5', hash: MD5_C, metadata: { source: 'y' } },
    ]);
  });

  it('reads add rows of an op field in ndjson, and keeps no op metadata', () => {
    const text = [
      { hash: MD5_A, type: 'md5', op: 'Add', source: 'x' },
      { hash: MD5_B, type: 'md5', op: null },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n');
    expect(parse(text, { format: 'ndjson' }).entries).toEqual([
      { id: `md5:${MD5_A}`, list: 'demo', algorithm: 'md5', hash: MD5_A, metadata: { source: 'x' } },
      { id: `md5:${MD5_B}`, list: 'demo', algorithm: 'md5', hash: MD5_B },
    ]);
  });

  it('refuses remove and delete rows, which only a delta import can apply', () => {
    const text = ['id,hash,algorithm,op', `a,${MD5_A},md5,add`, `b,${MD5_B},md5,remove`, `c,,,Delete`].join('\n');
    const result = parse(text, { format: 'csv', onError: 'skip' });
    expect(result.entries.map((e) => e.id)).toEqual(['a']);
    expect(result.skipped.map((p) => p.line)).toEqual([3, 4]);
    const error = expectRowError(result.skipped[0]?.error, 'in.txt', 3);
    expect(error.message).toBe('in.txt:3: op remove is only for delta imports (hashwarden import, streamListFile)');
    const ndjson = `{"id":"x","op":"remove"}\n`;
    expect(
      expectRowError(
        caught(() => parse(ndjson, { format: 'ndjson' })),
        'in.txt',
        1,
      ).message,
    ).toMatch(/only for delta imports/);
  });

  it('refuses an op other than add or remove, naming file and line', () => {
    const csv = expectRowError(
      caught(() => parse(`hash,algorithm,op\n${MD5_A},md5,upsert\n`, { format: 'csv' })),
      'in.txt',
      2,
    );
    expect(csv.message).toBe('in.txt:2: Expected add or remove for op but received "upsert"');
    const ndjson = expectRowError(
      caught(() => parse(`{"hash":"${MD5_A}","type":"md5","op":["add"]}\n`, { format: 'ndjson' })),
      'in.txt',
      1,
    );
    expect(ndjson.message).toBe('in.txt:1: Expected add or remove for op but received ["add"]');
  });

  it('reads photo_md5 in the algorithm column of csv and ndjson as md5', () => {
    expect(parse(`hash,signal_type\n${MD5_A},photo_md5\n`, { format: 'csv' }).entries).toEqual([
      { id: `md5:${MD5_A}`, list: 'demo', algorithm: 'md5', hash: MD5_A },
    ]);
    expect(parse(`{"hash":"${MD5_A}","algorithm":"PHOTO_MD5"}\n`, { format: 'ndjson' }).entries).toEqual([
      { id: `md5:${MD5_A}`, list: 'demo', algorithm: 'md5', hash: MD5_A },
    ]);
  });
});

describe('parseList: options', () => {
  it('detects the format from the first line when none is given', () => {
    expect(parse(`hash,algorithm\n${MD5_A},md5\n`, { source: '<input>' }).format).toBe('csv');
    expect(parse(`{"hash":"${MD5_A}","type":"md5"}\n`, { source: '<input>' }).format).toBe('ndjson');
    expect(parse(`md5 ${MD5_A}\n`, { source: '<input>' }).format).toBe('text');
  });

  it('names <input> in messages by default', () => {
    expectRowError(
      caught(() => parseList('md5 x\n', { list: 'demo' })),
      '<input>',
      1,
    );
  });

  it('refuses bad option values with the standard argument errors', () => {
    expect(() => parseList('', { list: 'demo', format: 'xml' as ListFormat })).toThrow(
      new RangeError(
        'Expected one of csv, ndjson, text, checksum, pdq, te, stopncii, ncmec for format but received "xml" of type string',
      ),
    );
    expect(() => parseList('', { list: 'demo', onError: 'ignore' as 'skip' })).toThrow(
      new RangeError('Expected one of fail, skip for onError but received "ignore" of type string'),
    );
    expect(() => parseList('', { list: 'demo', algorithm: 'photodna' })).toThrow(RangeError);
    expect(() => parseList('', { list: '  ' })).toThrow(RangeError);
    expect(() => parseList('', {} as ParseListOptions)).toThrow(TypeError);
    expect(() => parseList(42 as unknown as string, { list: 'demo' })).toThrow(TypeError);
  });
});

describe('detectListFormat', () => {
  it('goes by extension first, case-insensitively', () => {
    expect(detectListFormat('a/b.CSV', `{"x":1}`)).toBe('csv');
    expect(detectListFormat('list.ndjson')).toBe('ndjson');
    expect(detectListFormat('list.jsonl')).toBe('ndjson');
    expect(detectListFormat('list.json-lines')).toBe('ndjson');
    expect(detectListFormat('list.txt', 'hash,algorithm')).toBe('text');
  });

  it('otherwise sniffs the first non-blank line', () => {
    expect(detectListFormat('x.dat', '\uFEFF\n  \n{"hash": "00"}')).toBe('ndjson');
    expect(detectListFormat('x.dat', '\r\nID, Hash ,Type\r\n')).toBe('csv');
    expect(detectListFormat('x.dat', 'hash\n00')).toBe('csv');
    expect(detectListFormat('x.dat', '# hash, md5 list\nmd5 00')).toBe('text');
    expect(detectListFormat('x.dat', 'md5,hashes')).toBe('text');
    expect(detectListFormat('x.dat', `md5 ${MD5_A}`)).toBe('text');
    expect(detectListFormat('x.dat')).toBe('text');
    expect(detectListFormat('x.dat', '')).toBe('text');
  });
});

describe('readListFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hashwarden-formats-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file, detecting the format from its extension and naming the path in messages', async () => {
    const path = join(dir, 'list.csv');
    await writeFile(path, `\uFEFFhash;x\r\n${MD5_A};1\r\n`);
    const error = await rejection(readListFile(path, { list: 'demo', algorithm: 'md5' }));
    // `;` is no CSV delimiter: the whole header is one unknown column.
    expectRowError(error, path, 1);
    await writeFile(path, `\uFEFF"hash",algorithm\r\n${MD5_A},md5\r\nbad,md5\r\n`);
    const result = await readListFile(path, { list: 'demo', onError: 'skip' });
    expect(result.format).toBe('csv');
    expect(result.entries.map((e) => e.hash)).toEqual([MD5_A]);
    expectRowError(result.skipped[0]?.error, path, 3);
  });

  it('rejects a missing file or a directory with ERR_INPUT_READ', async () => {
    for (const path of [join(dir, 'missing.csv'), dir]) {
      const error = await rejection(readListFile(path, { list: 'demo' }));
      expect(error).toBeInstanceOf(HashwardenError);
      expect(error).toMatchObject({ code: 'ERR_INPUT_READ', message: expect.stringContaining(path) });
    }
  });

  it('rejects a file above maxBytes with ERR_LIST_FORMAT', async () => {
    const path = join(dir, 'big.txt');
    await writeFile(path, `md5 ${MD5_A}\n`);
    await expect(readListFile(path, { list: 'demo', maxBytes: 10 })).rejects.toMatchObject({
      code: 'ERR_LIST_FORMAT',
      message: expect.stringMatching(/above the limit of 10/),
    });
    await expect(readListFile(path, { list: 'demo', maxBytes: 0 })).rejects.toThrow(RangeError);
  });

  it('rejects invalid UTF-8 with ERR_LIST_FORMAT naming the line', async () => {
    const path = join(dir, 'latin1.txt');
    await writeFile(path, Buffer.concat([Buffer.from(`md5 ${MD5_A}\n# caf`), Buffer.from([0xe9]), Buffer.from('\n')]));
    expectRowError(await rejection(readListFile(path, { list: 'demo' })), path, 2);
  });

  it('sniffs the format of a file without a known extension', async () => {
    await mkdir(join(dir, 'sub'), { recursive: true });
    const path = join(dir, 'sub', 'export');
    await writeFile(path, `{"hash":"${MD5_A}","algorithm":"md5"}\n`);
    expect(await readListFile(path, { list: 'demo' })).toMatchObject({ format: 'ndjson', entries: [{ hash: MD5_A }] });
  });
});

describe('formatList', () => {
  const entries: ListEntry[] = [
    normalizeEntry({
      id: 'a,1',
      list: 'demo',
      algorithm: 'md5',
      hash: MD5_A,
      label: 'say "hi"',
      metadata: { source: 'x' },
    }),
    normalizeEntry({ list: 'other', algorithm: 'sha1', hash: SHA1, metadata: { note: 'two\nlines', count: 3 } }),
  ];

  it('writes CSV with the fixed columns, one column per metadata key, and RFC 4180 quoting', () => {
    expect(formatList(entries, 'csv')).toBe(
      [
        'id,list,algorithm,hash,label,source,note,count',
        `"a,1",demo,md5,${MD5_A},"say ""hi""",x,,`,
        `sha1:${SHA1},other,sha1,${SHA1},,,"two\nlines",3`,
        '',
      ].join('\n'),
    );
  });

  it('writes NDJSON and text', () => {
    expect(formatList(entries, 'ndjson').split('\n')[1]).toBe(
      JSON.stringify({
        id: `sha1:${SHA1}`,
        list: 'other',
        algorithm: 'sha1',
        hash: SHA1,
        metadata: { note: 'two\nlines', count: 3 },
      }),
    );
    expect(formatList(entries, 'text')).toBe(`md5 ${MD5_A}\nsha1 ${SHA1}\n`);
    expect(formatList([], 'text')).toBe('');
  });

  it('refuses metadata keys that would read back as another column', () => {
    for (const key of ['hash', 'Label', 'op', ' pad']) {
      const entry = normalizeEntry({ list: 'demo', algorithm: 'md5', hash: MD5_A, metadata: { [key]: 'v' } });
      expect(caught(() => formatList([entry], 'csv'))).toMatchObject({ code: 'ERR_LIST_FORMAT' });
    }
  });

  it('validates the entries it writes', () => {
    const bad = { id: 'x', list: 'demo', algorithm: 'md5', hash: 'abc' } as ListEntry;
    expect(caught(() => formatList([bad], 'text'))).toMatchObject({
      code: 'ERR_HASH_FORMAT',
      message: expect.stringMatching(/^Entry 1: /),
    });
    expect(() => formatList(entries, 'xml' as ListFormat)).toThrow(RangeError);
  });
});

describe('CSV cells a spreadsheet would run', () => {
  // Values starting, behind any single quotes, with a formula character; id, list and label are
  // trimmed by normalizeEntry, metadata values only at their end by the CSV reader.
  const formula = fc
    .tuple(fc.constantFrom('', "'", "''"), fc.constantFrom('=', '+', '-', '@', '\t', '\r'), fc.string({ maxLength: 6 }))
    .map(([quotes, first, rest]) => `${quotes}${first}${rest}`);
  const field = formula.filter((s) => s.trim() === s && s !== '');
  const value = fc.oneof(formula, fc.constantFrom("'", "'x", 'plain')).filter((s) => s.trimEnd() === s && s !== '');
  const entry = fc
    .record({
      id: field,
      list: field,
      label: fc.option(field, { nil: undefined }),
      metadata: fc.dictionary(fc.constantFrom('=k', '+k', "'-k", '@k', 'k'), value, { noNullPrototype: true }),
    })
    .map((e) => normalizeEntry({ ...e, algorithm: 'md5', hash: MD5_A }));

  it('go out behind a single quote and come back exactly', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => `${e.list}\u0000${e.id}`, maxLength: 8 }), (entries) => {
        const csv = formatList(entries, 'csv');
        // What a spreadsheet sees: no cell starts with a formula character.
        for (const record of parseCsv(csv, { relax_column_count: true }) as string[][])
          for (const cell of record) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
        expect(parseList(csv, { list: 'unused', format: 'csv' }).entries).toEqual(entries);
      }),
      { numRuns: 50 },
    );
  });

  it('are written with one more leading quote, and read with one less', () => {
    const written = normalizeEntry({
      id: '=HYPERLINK("http://x")',
      list: '@list',
      algorithm: 'md5',
      hash: MD5_A,
      label: "'-5",
      metadata: { '+key': '\tTAB', plain: "'kept" },
    });
    const csv = formatList([written], 'csv');
    expect(csv).toBe(
      `id,list,algorithm,hash,label,'+key,plain\n"'=HYPERLINK(""http://x"")",'@list,md5,${MD5_A},''-5,'\tTAB,'kept\n`,
    );
    expect(parseList(csv, { list: 'x', format: 'csv' }).entries).toEqual([written]);
    // A third-party file's value that really starts with a quote and a formula character loses the quote.
    expect(parseList(`hash,algorithm,note\n${MD5_A},md5,'=x\n`, { list: 'x' }).entries[0]?.metadata).toEqual({
      note: '=x',
    });
  });
});

describe('round trips', () => {
  const entry = listEntries([
    'a,b',
    'say "hi"',
    '"',
    'two\nlines',
    'crlf\r\ninside',
    'ünïcödé',
    '#hash',
    '=1+1',
    "'@x",
  ]);

  it('formatList → parseList gives the same entries in csv and ndjson', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => `${e.list}\u0000${e.id}`, maxLength: 15 }), (entries) => {
        for (const format of ['csv', 'ndjson'] as const) {
          expect(parseList(formatList(entries, format), { list: 'unused', format }).entries).toEqual(entries);
        }
      }),
    );
  });

  it('formatList → parseList gives the same algorithms and hashes in text', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => `${e.algorithm}:${e.hash}`, maxLength: 15 }), (entries) => {
        const expected = entries.map((e) => normalizeEntry({ list: 'alpha', algorithm: e.algorithm, hash: e.hash }));
        expect(parseList(formatList(entries, 'text'), { list: 'alpha', format: 'text' }).entries).toEqual(expected);
      }),
    );
  });

  it('writeListFile writes what formatList gives, file by file, and readListFile reads it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-write-'));
    try {
      const entries = fc.sample(
        fc.uniqueArray(entry, { selector: (e) => `${e.list}\u0000${e.id}`, minLength: 1, maxLength: 40 }),
        { seed: 3, numRuns: 1 },
      )[0] as ListEntry[];
      for (const format of LIST_FORMATS) {
        const path = join(dir, `list.${format}`);
        let passes = 0;
        expect(
          await writeListFile(
            path,
            () => {
              passes++;
              return entries;
            },
            format,
          ),
        ).toBe(entries.length);
        // CSV reads the entries twice (the metadata columns first), the others once.
        expect(passes).toBe(format === 'csv' ? 2 : 1);
        expect(await readFile(path, 'utf8')).toBe(formatList(entries, format));
        // Owner-only: list files hold hashes of abuse material.
        if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);
      }
      expect((await readListFile(join(dir, 'list.csv'), { list: 'unused' })).entries).toEqual(entries);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writeListFile leaves the previous file whole and no temporary file when an entry is bad', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-write-'));
    try {
      const path = join(dir, 'list.ndjson');
      await writeFile(path, 'previous\n');
      const bad = [
        normalizeEntry({ list: 'demo', algorithm: 'md5', hash: MD5_A }),
        { list: 'demo', id: 'x', algorithm: 'md5', hash: 'nope' } as ListEntry,
      ];
      const error = await rejection(writeListFile(path, () => bad, 'ndjson'));
      expect([(error as HashwardenError).code, (error as Error).message.slice(0, 9)]).toEqual([
        'ERR_HASH_FORMAT',
        'Entry 2: ',
      ]);
      expect(await readFile(path, 'utf8')).toBe('previous\n');
      expect(readdirSync(dir)).toEqual(['list.ndjson']);
      await expect(writeListFile(join(dir, 'missing', 'x.csv'), () => [], 'csv')).rejects.toMatchObject({
        code: 'ERR_OUTPUT_WRITE',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('detects each format from what formatList writes', () => {
    const sample = [normalizeEntry({ list: 'demo', algorithm: 'md5', hash: MD5_A })];
    for (const format of LIST_FORMATS)
      expect(parseList(formatList(sample, format), { list: 'demo' }).format).toBe(format);
  });
});
