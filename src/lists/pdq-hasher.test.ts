/**
 * The `pdq` format (issue 21): the PDQ hashers' `hash,quality,filename` lines and
 * pdq-photo-hasher's `--details` lines, read from samples by both readers alike, quality kept as a
 * number.
 */
import { describe, expect, it } from 'vitest';
import { detectListFormat } from './detect.js';
import { parseList } from './parse.js';
import { readBoth } from '../testing/list-samples.js';

const H1 = 'db83366900e8066baf174b76cd70cc9464084ef9db97c2febc682fee7967fa9a';

describe('pdq format', () => {
  it('reads hash,quality,filename lines without --format, the quality a number and the name whole', async () => {
    const entries = await readBoth('pdq-hasher.txt');
    expect(entries.map((e) => [e.algorithm, e.hash, e.metadata])).toEqual([
      ['pdq', H1, { quality: 100, file: 'images/bridge-1-original.jpg' }],
      [
        'pdq',
        '0b74b115d90326d4b4ce6ad42a7f03e5aa76ab365e1f9c131bbe40074ebdc51e',
        { quality: 87, file: 'images/bridge, rotated 90.jpg' },
      ],
      ['pdq', '0'.repeat(64), { quality: 0, file: 'images/flat-white.png' }],
    ]);
  });

  it('reads --details lines, numeric fields as numbers', async () => {
    const entries = await readBoth('pdq-hasher-details.txt');
    expect(entries[0]?.metadata).toEqual({
      norm: 128,
      delta: 0,
      quality: 100,
      dims: '1024x768',
      file: 'images/bridge-1-original.jpg',
    });
    expect(entries[1]?.metadata).toMatchObject({ quality: 49, file: 'images/small, blurred.jpg' });
  });

  it('is detected before CSV: a details line holds the word hash and commas', () => {
    expect(detectListFormat('out', `hash=${H1},norm=128,delta=0,quality=100,filename=hash.jpg`)).toBe('pdq');
    expect(detectListFormat('out', `${H1},100,hash.jpg`)).toBe('pdq');
    expect(detectListFormat('out', 'hash,quality,filename')).toBe('csv');
  });

  it('makes a line of neither layout, or a details line without its hash, a bad row', () => {
    const text = `${H1},100,a.jpg\n${H1};100;b.jpg\nnorm=1,quality=100\nhash=${H1.slice(2)},quality=9\n`;
    const parsed = parseList(text, { list: 'peer', format: 'pdq', onError: 'skip' });
    expect(parsed.entries).toHaveLength(1);
    expect(parsed.skipped.map((p) => [p.line, p.error.code])).toEqual([
      [2, 'ERR_LIST_FORMAT'],
      [3, 'ERR_LIST_FORMAT'],
      [4, 'ERR_LIST_FORMAT'],
    ]);
  });
});
