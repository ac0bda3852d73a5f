/**
 * NDJSON keyed by algorithm names (issue 21): `hashwarden hash` output and HMA 2 `{"pdq": …}`
 * bodies, one entry per hash, read from samples by both readers alike.
 */
import { describe, expect, it } from 'vitest';
import { parseList } from './parse.js';
import { readBoth } from '../testing/list-samples.js';

describe('NDJSON keyed by algorithm names', () => {
  it('reads HMA 2 {"pdq": …} bodies as PDQ entries', async () => {
    const entries = await readBoth('hma2-bodies.ndjson');
    expect(entries.map((e) => e.algorithm)).toEqual(['pdq', 'pdq']);
  });

  it('reads hashwarden hash lines as one entry per hash, PDQ quality a number, unusable hashes left out', async () => {
    const entries = await readBoth('hashwarden-hash.ndjson');
    expect(entries.map((e) => [e.algorithm, e.metadata])).toEqual([
      ['blockhash', { file: 'a.jpg' }],
      ['pdq', { file: 'a.jpg', quality: 100 }],
      ['md5', { file: 'a.jpg' }],
      ['md5', { file: 'flat.png' }],
    ]);
    const text = `{"file":"flat.png","pdq":"${'0'.repeat(64)}","pdqQuality":0,"unusable":{"pdq":"PDQ quality 0 is below 50"}}\n`;
    expect(parseList(text, { list: 'l' })).toMatchObject({ entries: [], ignored: 1, rows: 1 });
  });

  it('leaves rows with a hash field or an algorithm field as they were', () => {
    const md5 = '0cc175b9c0f1b6a831c399e269772661';
    const parsed = parseList(`{"algorithm":"md5","hash":"${md5}","pdq":"x"}\n`, { list: 'l' });
    expect(parsed.entries).toEqual([
      { id: `md5:${md5}`, list: 'l', algorithm: 'md5', hash: md5, metadata: { pdq: 'x' } },
    ]);
  });

  it('makes a hash line for a file that could not be hashed a bad row', () => {
    const parsed = parseList('{"file":"gone.jpg","error":{"code":"ERR_INPUT_READ"}}\n', { list: 'l', onError: 'skip' });
    expect(parsed.skipped.map((p) => p.line)).toEqual([1]);
  });
});
