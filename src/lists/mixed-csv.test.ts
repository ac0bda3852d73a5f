/**
 * `FilePath,Hash` with PDQ and MD5 mixed in one column (issue 21, the PDQ wasm test data): the
 * algorithm told per row by the hash length, `--algorithm pdq` for the 64-digit ones, repeated
 * hashes merged, through both readers and the store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../testing/cli.js';
import { readBoth, refusals, SAMPLES } from '../testing/list-samples.js';

describe('FilePath,Hash with PDQ and MD5 mixed', () => {
  it('reads each row by its hash length with --algorithm pdq, the copies merged', async () => {
    const entries = await readBoth('pdq-md5-mixed.csv', { algorithm: 'pdq' });
    expect(entries.map((e) => [e.algorithm, e.metadata?.FilePath])).toEqual([
      ['pdq', 'images/a.jpg'],
      ['md5', 'images/a.jpg'],
      ['pdq', 'images/b.jpg'],
      ['md5', 'images/b.jpg'],
    ]);
  });

  it('asks for --algorithm for the PDQ rows without it', async () => {
    for (const error of await refusals('pdq-md5-mixed.csv')) {
      expect((error as Error).message).toMatch(/pdq-md5-mixed\.csv:2: .*give the algorithm option/);
    }
  });

  it('imports with hashwarden import --algorithm pdq, the copies merged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-mixed-'));
    try {
      const file = join(SAMPLES, 'pdq-md5-mixed.csv');
      const run = await cli('import', file, '--db', join(dir, 'h.db'), '--list', 'wasm', '--algorithm', 'pdq');
      expect(run.status).toBe(0);
      expect(run.out).toMatch(/4 added/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
