/**
 * The writers' formats for other tools (`pytx`, `hex`, `pdq-tools`): what each line holds, and
 * the typed refusal of an entry the format cannot hold (issue 21).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_FORMATS, formatList, writeListFile } from './write.js';
import type { ListEntry } from './entry.js';

const PDQ = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const entry = (algorithm: string, hash: string, extra: Partial<ListEntry> = {}): ListEntry =>
  ({ id: `${algorithm}:${hash}`, list: 'l', algorithm, hash, ...extra }) as ListEntry;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-write-formats-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('formatList for other tools', () => {
  it('offers the three list formats and the three for other tools', () => {
    expect(EXPORT_FORMATS).toEqual(['csv', 'ndjson', 'text', 'pytx', 'hex', 'pdq-tools']);
    expect(() => formatList([], 'xml' as 'csv')).toThrow(RangeError);
  });

  it('writes pytx signal types, a repeated hash once, and refuses a hash pytx has no type for', () => {
    expect(formatList([entry('md5', MD5), entry('pdq', PDQ), entry('pdq', PDQ, { id: 'other' })], 'pytx')).toBe(
      `video_md5 ${MD5}\npdq ${PDQ}\n`,
    );
    expect(() => formatList([entry('pdq', PDQ), entry('sha256', SHA256)], 'pytx')).toThrow(
      expect.objectContaining({
        code: 'ERR_LIST_FORMAT',
        message: expect.stringMatching(/^Entry 2: pytx cannot hold/),
      }),
    );
  });

  it('writes bare hex of one algorithm and refuses a second', () => {
    expect(formatList([entry('sha256', SHA256)], 'hex')).toBe(`${SHA256}\n`);
    expect(() => formatList([entry('md5', MD5), entry('pdq', PDQ)], 'hex')).toThrow(
      expect.objectContaining({ code: 'ERR_LIST_FORMAT' }),
    );
  });

  it('writes hash,quality,id for PDQ with the quality only when it is an integer 0-100, and refuses other algorithms', () => {
    const lines = [87, '040', 101, 'high', 1.5, undefined].map((quality) =>
      formatList(
        [entry('pdq', PDQ, { id: 'a', ...(quality === undefined ? {} : { metadata: { quality } }) })],
        'pdq-tools',
      ),
    );
    expect(lines).toEqual([
      `${PDQ},87,a\n`,
      `${PDQ},40,a\n`,
      `${PDQ},,a\n`,
      `${PDQ},,a\n`,
      `${PDQ},,a\n`,
      `${PDQ},,a\n`,
    ]);
    expect(() => formatList([entry('md5', MD5)], 'pdq-tools')).toThrow(
      expect.objectContaining({ code: 'ERR_LIST_FORMAT' }),
    );
  });

  it('writes the same file with writeListFile as the string formatList gives', async () => {
    const entries = [entry('md5', MD5), entry('pdq', PDQ, { metadata: { quality: 90 } })];
    for (const format of ['pytx', 'pdq-tools'] as const) {
      const path = join(dir, `out.${format}`);
      const wanted = format === 'pdq-tools' ? entries.slice(1) : entries;
      expect(await writeListFile(path, () => wanted, format)).toBe(wanted.length);
      expect(readFileSync(path, 'utf8')).toBe(formatList(wanted, format));
    }
  });
});
