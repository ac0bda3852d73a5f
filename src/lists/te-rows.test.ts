/**
 * The `te` format (issue 21): pytx 0.x / HMA 1.0 `hash,id,date,tags` rows without a header, read
 * from a sample by both readers alike.
 */
import { describe, expect, it } from 'vitest';
import { detectListFormat } from './detect.js';
import { readBoth, refusals } from '../testing/list-samples.js';

describe('te format', () => {
  it('reads the rows of a .csv file without --format, the TE id as id, disputed a boolean', async () => {
    const entries = await readBoth('hma1-pdq.csv', { algorithm: 'pdq' });
    expect(entries.map((e) => [e.id, e.algorithm, e.metadata])).toEqual([
      [
        '1000000000000001',
        'pdq',
        {
          date: '2020-07-31T18:47:52+0000',
          tags: 'media_priority_pdq_samples disputed media_priority_samples media_type_photo',
          disputed: true,
        },
      ],
      [
        '1000000000000002',
        'pdq',
        { date: '2020-07-31T18:47:52+0000', tags: 'media_priority_samples media_type_photo' },
      ],
      ['1000000000000003', 'pdq', { date: '2020-07-31T18:47:45+0000' }],
    ]);
  });

  it('needs --algorithm for 64 hex digits, as the rows do not name it', async () => {
    for (const error of await refusals('hma1-pdq.csv')) {
      expect(error).toMatchObject({ code: 'ERR_LIST_FORMAT' });
      expect((error as Error).message).toMatch(/hma1-pdq\.csv:1: .*give the algorithm option/);
    }
  });

  it('is sniffed only from a hash, a numeric id and an ISO date', () => {
    const hex = 'ab'.repeat(32);
    expect(detectListFormat('x.csv', `${hex},123,2020-07-31T18:47:52+0000,a b`)).toBe('te');
    expect(detectListFormat('x.csv', `${hex},100,images/a.jpg`)).toBe('csv');
    expect(detectListFormat('x', `${hex},100,images/a.jpg`)).toBe('pdq');
    expect(detectListFormat('x.ndjson', `${hex},123,2020-07-31T18:47:52+0000,a b`)).toBe('ndjson');
  });
});
