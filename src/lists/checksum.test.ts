/**
 * The `checksum` format (issue 21): the lines `md5sum`, `sha1sum`, `sha256sum`, BSD `md5`/`shasum
 * --tag`, OpenSSL and blockhash's tools write, read from samples in test-vectors/list-formats by
 * both readers alike.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../testing/cli.js';
import type { ListEntry } from './entry.js';
import { detectListFormat } from './detect.js';
import { parseList } from './parse.js';
import { readBoth, refusals, SAMPLES } from '../testing/list-samples.js';

const MD5_A = '0cc175b9c0f1b6a831c399e269772661';

const summary = (entries: readonly ListEntry[]) => entries.map((e) => [e.algorithm, e.hash, e.metadata?.file]);

describe('checksum format', () => {
  it('reads md5sum lines, detected without --format, the algorithm told by the length and the file kept', async () => {
    expect(summary(await readBoth('MD5SUMS'))).toEqual([
      ['md5', MD5_A, 'images/a.jpg'],
      ['md5', '92eb5ffee6ae2fec3ad71c777531578f', 'images/b.jpg'],
      ['md5', '4a8a08f09d37b73795649038408b5f33', 'images/c.jpg'],
      ['md5', '8277e0910d750195b448797616e091ad', 'images/back\\slash.jpg'],
    ]);
  });

  it('reads sha1sum binary-mode lines', async () => {
    expect(summary(await readBoth('SHA1SUMS'))[0]).toEqual([
      'sha1',
      '86f7e437faa5a7fce15d1ddcb9eaeaea377667b8',
      'a.png',
    ]);
  });

  it('needs --algorithm for 64 hex digits (sha256, pdq or blockhash), and reads them with it', async () => {
    for (const error of await refusals('SHA256SUMS')) {
      expect(error).toMatchObject({ code: 'ERR_LIST_FORMAT' });
      expect((error as Error).message).toMatch(
        /SHA256SUMS:1: .*may be blockhash, pdq, sha256: give the algorithm option/,
      );
    }
    const entries = await readBoth('SHA256SUMS', { algorithm: 'sha256' });
    expect(summary(entries)[1]).toEqual([
      'sha256',
      '3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d',
      'release/b with space.bin',
    ]);
  });

  it('reads BSD and OpenSSL tagged lines, the algorithm from the tag', async () => {
    expect(summary(await readBoth('CHECKSUMS-bsd'))).toEqual([
      ['md5', MD5_A, 'a.jpg'],
      ['sha1', 'e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98', 'b.jpg'],
      ['sha256', '2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6', 'c (copy).jpg'],
      ['sha256', '18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4', 'd.jpg'],
    ]);
  });

  it('reads `<file> <hash>` lines (blockhash test data) with --format checksum --algorithm blockhash', async () => {
    const entries = await readBoth('blockhash-exact-hashes.txt', { format: 'checksum', algorithm: 'blockhash' });
    expect(summary(entries)[0]).toEqual([
      'blockhash',
      '8f3c5a6e91d2b07e44a1c9e03f7d2b58e6a90c13d47b2f85a1e6c39d0b74f2a6',
      '00000001.jpg',
    ]);
    expect(entries).toHaveLength(3);
  });

  it('detects checksum lines only where they cannot be text lines', () => {
    expect(detectListFormat('SUMS', `${MD5_A}  a.jpg`)).toBe('checksum');
    expect(detectListFormat('SUMS', `SHA256 (a.jpg) = ${'0'.repeat(64)}`)).toBe('checksum');
    expect(detectListFormat('SUMS', `md5 ${MD5_A}`)).toBe('text');
    expect(detectListFormat('SUMS', `a.jpg ${MD5_A}`)).toBe('text');
    // 31 digits are no algorithm's hash: not sniffed.
    expect(detectListFormat('SUMS', `${MD5_A.slice(1)}  a.jpg`)).toBe('text');
  });

  it('names the format to give when a text file holds checksum lines, not the hash as an algorithm', async () => {
    for (const algorithm of [undefined, 'md5']) {
      const options = {
        list: 'peer',
        format: 'text' as const,
        source: 'sums.txt',
        ...(algorithm ? { algorithm } : {}),
      };
      for (const line of [`${MD5_A}  a.jpg`, `${MD5_A}  a file.jpg`]) {
        const error = (() => {
          try {
            parseList(`${line}\n`, options);
          } catch (caught) {
            return caught as Error & { code?: string };
          }
          return undefined;
        })();
        expect(error?.code).toBe('ERR_LIST_FORMAT');
        expect(error?.message).toMatch(/^sums\.txt:1: .*--format checksum/);
        expect(error?.message).not.toMatch(/Unknown hash algorithm/);
      }
    }
  });

  it('makes a line of no checksum layout a bad row, naming its line', () => {
    const parsed = parseList(`${MD5_A}  a.jpg\nnot a checksum\n`, {
      list: 'peer',
      format: 'checksum',
      onError: 'skip',
    });
    expect(parsed.entries).toHaveLength(1);
    expect(parsed.skipped.map((p) => p.line)).toEqual([2]);
  });
});

describe('hashwarden import of checksum files', () => {
  it('imports MD5SUMS with no flags and SHA256SUMS with --algorithm, naming the flag without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-checksum-'));
    try {
      const db = join(dir, 'h.db');
      const md5 = await cli('import', join(SAMPLES, 'MD5SUMS'), '--db', db, '--list', 'peer');
      expect(md5.status).toBe(0);
      expect(md5.out).toMatch(/4 added/);
      const bare = await cli('import', join(SAMPLES, 'SHA256SUMS'), '--db', db, '--list', 'peer');
      expect(bare.status).toBe(2);
      expect(bare.err).toMatch(/SHA256SUMS:1: .*--algorithm/);
      const sha = await cli(
        'import',
        join(SAMPLES, 'SHA256SUMS'),
        '--db',
        db,
        '--list',
        'peer',
        '--algorithm',
        'sha256',
      );
      expect(sha.out).toMatch(/3 added/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
