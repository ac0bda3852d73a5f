/**
 * When an upload counts as checked: it matched, or every algorithm the call searches that the
 * lists hold had a hash of it looked up. A hash refused (a low-contrast copy's PDQ) leaves its
 * lists unchecked, in the library's `checked` and in the CLI's UNCHECKED line and exit status.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashImage } from '../image/index.js';
import { cli } from '../testing/cli.js';
import { Matcher } from './matcher.js';

const vector = (file: string) => fileURLToPath(new URL(`../../test-vectors/images/${file}`, import.meta.url));

/** The image at `contrast` (0.02: 2%) around mid-grey: a copy whose PDQ quality falls below 50. */
function lowContrast(file: string, contrast: number): Promise<Buffer> {
  return sharp(vector(file))
    .linear(contrast, 128 * (1 - contrast))
    .png()
    .toBuffer();
}

let dir: string;
let mosaic: { pdq: string; md5: string };
let faint: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-checked-'));
  const { hashes } = await hashImage(vector('mosaic-400x300.jpg'), { algorithms: ['pdq', 'md5'] });
  mosaic = { pdq: hashes.pdq as string, md5: hashes.md5 as string };
  faint = await lowContrast('mosaic-400x300.jpg', 0.02);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ImageMatchResult.checked', () => {
  it('is false for a 2% contrast copy against PDQ-only lists: its PDQ hash is refused', async () => {
    const matcher = Matcher.fromEntries([{ id: 'p', list: 'l', algorithm: 'pdq', hash: mosaic.pdq }]);
    const result = await matcher.matchImage(faint);
    expect(result).toMatchObject({ matched: false, searched: 0, checked: false, quality: { pdq: 0 } });
    expect(result.unusable.pdq).toBeDefined();
  });

  it('is false when blockhash was searched but the PDQ lists were not: an image listed by PDQ alone', async () => {
    const { hashes } = await hashImage(vector('checkerboard-240x240.png'), { algorithms: ['blockhash'] });
    const matcher = Matcher.fromEntries([
      { id: 'b', list: 'l', algorithm: 'blockhash', hash: hashes.blockhash as string },
      { id: 'p', list: 'l', algorithm: 'pdq', hash: mosaic.pdq },
    ]);
    // At 20% contrast the mosaic keeps a usable blockhash but its PDQ quality (45) is refused.
    const copy = await matcher.matchImage(await lowContrast('mosaic-400x300.jpg', 0.2));
    expect(copy.unusable.blockhash).toBeUndefined();
    expect(copy.unusable.pdq).toBeDefined();
    expect(copy).toMatchObject({ matched: false, checked: false });
    expect(copy.searched).toBeGreaterThan(0);
    // Left out by the call's own choice, PDQ's lists do not count against it.
    expect(
      await matcher.matchImage(await lowContrast('mosaic-400x300.jpg', 0.2), { algorithms: ['blockhash'] }),
    ).toMatchObject({ matched: false, checked: true });
  });

  it('is true for an unlisted image with usable hashes, and for a match whatever was refused', async () => {
    const matcher = Matcher.fromEntries([
      { id: 'p', list: 'l', algorithm: 'pdq', hash: mosaic.pdq },
      { id: 'm', list: 'l', algorithm: 'md5', hash: mosaic.md5 },
    ]);
    expect(await matcher.matchImage(vector('shapes-1024x768--bright15.jpg'))).toMatchObject({
      matched: false,
      unusable: {},
      checked: true,
    });
    const { hashes } = await hashImage(faint, { algorithms: ['sha256'] });
    const listed = Matcher.fromEntries([
      { id: 'p', list: 'l', algorithm: 'pdq', hash: mosaic.pdq },
      { id: 's', list: 'l', algorithm: 'sha256', hash: hashes.sha256 as string },
    ]);
    expect(await listed.matchImage(faint)).toMatchObject({ matched: true, checked: true });
  });
});

describe('hashwarden match: a hash refused is not checked', () => {
  it('says UNCHECKED and exits 2 for a 2% contrast copy when PDQ and MD5 lists are loaded, and exits 0 for an unlisted image', async () => {
    const list = join(dir, 'mosaic.txt');
    await writeFile(list, `pdq ${mosaic.pdq}\nmd5 ${mosaic.md5}\n`);
    const db = join(dir, 'pdq-md5.db');
    expect((await cli('import', list, '--db', db, '--list', 'l')).status).toBe(0);
    const copy = join(dir, 'mosaic-2pc.png');
    await writeFile(copy, faint);

    // Its MD5 was looked up, its PDQ hash refused: the PDQ list was not searched.
    const text = await cli('match', copy, '--db', db);
    expect(text.out).toMatch(/^UNCHECKED .*mosaic-2pc\.png .*\(pdq not used: /);
    expect(text.status).toBe(2);
    const json = await cli('match', copy, '--db', db, '--json');
    expect(JSON.parse(json.lines[0] as string)).toMatchObject({ matched: false, checked: false });
    expect(json.status).toBe(2);

    const other = await cli('match', vector('shapes-1024x768--bright15.jpg'), '--db', db, '--json');
    expect(JSON.parse(other.lines[0] as string)).toMatchObject({ matched: false, checked: true });
    expect(other.status).toBe(0);
  });
});
