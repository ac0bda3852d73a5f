/**
 * NDJSON keyed by algorithm names (issue 21): `hashwarden hash` output and HMA 2 `{"pdq": …}`
 * bodies, one entry per hash, read from samples by both readers alike.
 */
import { describe, expect, it } from 'vitest';
import { parseList } from './parse.js';
import { formatVpdqJson } from '../algorithms/vpdq.js';
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

  describe('a video line', () => {
    const frames = [
      { hash: 'A'.repeat(64), quality: 100, seconds: 0 },
      { hash: `${'1'.repeat(63)}0`, quality: 12, seconds: 1 },
    ];
    const md5 = '5b3cdb2259a0b8619b41ca12c06258da';
    const sha256 = '31cdde352e179062fc9c216c6ee6fa33e8dd6150671dd1b327f739b5d856663a';
    const line = (vpdq: string, unusable: Record<string, string>) =>
      `${JSON.stringify({ file: 'clip.mp4', md5, sha256, vpdq, vpdqFrames: 2, vpdqUsableFrames: 1, unusable })}\n`;

    it('reads md5, sha256 and the vPDQ signal text as three entries, the signal written again as pytx writes it', () => {
      // Spaced otherwise and upper-case, as another tool may write it: the entry holds the canonical text.
      const signal = JSON.stringify(frames.map((f) => `${f.hash},${f.quality},${f.seconds}.0`));
      const parsed = parseList(line(signal, {}), { list: 'l' });
      expect(parsed.entries.map((e) => [e.algorithm, e.hash, e.metadata])).toEqual([
        ['md5', md5, { file: 'clip.mp4' }],
        ['sha256', sha256, { file: 'clip.mp4' }],
        ['vpdq', formatVpdqJson(frames), { file: 'clip.mp4' }],
      ]);
      expect(parsed.entries[2]?.id).toMatch(/^vpdq:[0-9a-f]{64}$/);
    });

    it('lists a video with bars as both frame sets: each whole frame, then the same inside its bars when it differs', () => {
      const inside = [{ ...(frames[0] as (typeof frames)[number]), hash: 'b'.repeat(64) }, frames[1]];
      const text = `${JSON.stringify({ file: 'clip.mp4', vpdq: formatVpdqJson(frames), vpdqFrames: 2, vpdqUsableFrames: 1, unusable: {}, vpdqTrimmed: formatVpdqJson(inside as typeof frames) })}\n`;
      const [entry] = parseList(text, { list: 'l' }).entries;
      expect(entry?.hash).toBe(formatVpdqJson([frames[0], inside[0], frames[1]] as typeof frames));
      // One frame inside the bars for each whole frame, or the line is not hash's.
      const short = `${JSON.stringify({ file: 'clip.mp4', vpdq: formatVpdqJson(frames), vpdqTrimmed: formatVpdqJson(frames.slice(1)) })}\n`;
      const parsed = parseList(short, { list: 'l', onError: 'skip' });
      expect(parsed.entries).toEqual([]);
      expect(parsed.skipped.map((p) => p.error.code)).toEqual(['ERR_LIST_FORMAT']);
    });

    it('leaves out a vPDQ hash the line calls unusable, counted as ignored', () => {
      const parsed = parseList(line(formatVpdqJson(frames), { vpdq: 'vPDQ: all 2 frames have PDQ quality below 50' }), {
        list: 'l',
      });
      expect(parsed.entries.map((e) => e.algorithm)).toEqual(['md5', 'sha256']);
      expect(parsed.ignored).toBe(1);
    });

    it('makes signal text that does not parse a bad row of the list, naming the item', () => {
      const parsed = parseList(line('["not a frame"]', {}), { list: 'l', onError: 'skip' });
      expect(parsed.entries.map((e) => e.algorithm)).toEqual(['md5', 'sha256']);
      expect(parsed.skipped.map((p) => p.error.code)).toEqual(['ERR_LIST_FORMAT']);
      expect(parsed.skipped[0]?.error.message).toMatch(/^<input>:1: vPDQ item 0: /);
    });
  });
});
