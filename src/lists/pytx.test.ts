/**
 * python-threatexchange's lines and names (issue 21): `video_md5`/`video_sha256` (and the old
 * `photo_md5`), `hash --photo-preprocess rotations` and `dataset -P` lines, read from samples by
 * both readers alike in the `text` format.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectListFormat } from './detect.js';
import { parseList, readListFile } from './parse.js';
import { streamListFile } from './stream.js';
import { cli } from '../testing/cli.js';
import { readBoth, SAMPLES } from '../testing/list-samples.js';

const MD5_A = '0cc175b9c0f1b6a831c399e269772661';

describe('pytx lines in the text format', () => {
  it('reads video_md5 and video_sha256 as md5 and sha256, and photo_md5 as md5', async () => {
    const entries = await readBoth('pytx-hash-video.txt');
    expect(entries.map((e) => [e.id, e.algorithm])).toEqual([
      [`md5:${MD5_A}`, 'md5'],
      ['sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d', 'sha256'],
      ['md5:4a8a08f09d37b73795649038408b5f33', 'md5'],
    ]);
  });

  it('reads video_md5 in the signal_type column of CSV and NDJSON too', () => {
    const csv = parseList(`signal_type,hash\nVIDEO_MD5,${MD5_A}\n`, { list: 'l', format: 'csv' });
    const ndjson = parseList(`{"signal_type":"video_md5","hash":"${MD5_A}"}\n`, { list: 'l', format: 'ndjson' });
    expect(csv.entries[0]?.algorithm).toBe('md5');
    expect(ndjson.entries[0]?.algorithm).toBe('md5');
  });

  it('reads --photo-preprocess rotations lines, the rotation kept as metadata', async () => {
    const entries = await readBoth('pytx-hash-rotations.txt');
    expect(entries.map((e) => [e.algorithm, e.metadata?.rotation])).toEqual(
      ['ORIGINAL', 'ROTATE90', 'ROTATE180', 'ROTATE270', 'FLIPX', 'FLIPY', 'FLIPPLUS1', 'FLIPMINUS1'].map((r) => [
        'pdq',
        r,
      ]),
    );
  });

  it('reads dataset -P lines, the collab and the printed metadata kept', async () => {
    const entries = await readBoth('pytx-dataset-P.txt');
    expect(entries.map((e) => [e.algorithm, e.metadata])).toEqual([
      ['pdq', { collab: 'Sample Data', details: 'FetchedSignalMetadata()' }],
      ['md5', { collab: 'Sample Data', details: 'FetchedSignalMetadata()' }],
      ['pdq', { collab: "O'Brien collab", details: 'FetchedSignalMetadata()' }],
      ['pdq', { details: 'FetchedSignalMetadata()' }],
    ]);
  });

  it('still refuses other extra fields: a trailing comment, an unknown first word with a rotation shape', () => {
    const text = `md5 ${MD5_A} # note\nROTATE91 md5 ${MD5_A}\nROTATE90 md5 ${MD5_A} extra\n`;
    const parsed = parseList(text, { list: 'l', format: 'text', onError: 'skip' });
    expect(parsed.skipped.map((p) => p.line)).toEqual([1, 2, 3]);
  });
});

describe('pytx dataset -P --csv', () => {
  it('reads signal_str as the hash, keeps collab, category and tags, and leaves NEGATIVE_CLASS rows out, counted', async () => {
    const entries = await readBoth('pytx-dataset-P.csv');
    expect(entries.map((e) => [e.algorithm, e.metadata])).toEqual([
      ['pdq', { collab: 'Sample Data', category: 'INVESTIGATION_SEED' }],
      ['md5', { collab: 'Sample Data', category: 'POSITIVE_CLASS', tags: 'disputed media_type_video' }],
      ['pdq', { collab: 'Other Collab', category: 'POSITIVE_CLASS', tags: 'tag_a tag_b' }],
    ]);
    const path = join(SAMPLES, 'pytx-dataset-P.csv');
    expect(await readListFile(path, { list: 'te' })).toMatchObject({ rows: 4, ignored: 1, skippedCount: 0 });
    const reader = streamListFile(path, { list: 'te' });
    let step = await reader.next();
    while (step.done !== true) step = await reader.next();
    expect(step.value).toMatchObject({ rows: 4, adds: 3, ignored: 1 });
  });

  it('detects the header without --format, and leaves NEGATIVE_CLASS NDJSON rows out too', () => {
    expect(detectListFormat('dataset', 'collab,signal_type,signal_str,category,tags')).toBe('csv');
    const parsed = parseList(`{"signal_type":"md5","hash":"${MD5_A}","category":"negative_class"}\n`, { list: 'l' });
    expect(parsed).toMatchObject({ entries: [], ignored: 1, rows: 1 });
  });

  it('says how many rows hashwarden import left out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-pytx-'));
    try {
      const run = await cli('import', join(SAMPLES, 'pytx-dataset-P.csv'), '--db', join(dir, 'h.db'), '--list', 'te');
      expect(run.status).toBe(0);
      expect(run.out).toMatch(/3 added/);
      expect(run.out).toMatch(/1 rows left out, never imported/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
