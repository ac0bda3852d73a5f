import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockhash } from '../algorithms/blockhash.js';
import { hammingDistance } from '../algorithms/hex.js';
import { DIHEDRAL_NAMES, PDQ_DEFAULT_THRESHOLD, pdq, pdqDihedralHashes, pdqRgba } from '../algorithms/pdq.js';
import { HashwardenError } from '../errors.js';
import { pngDeclaring } from '../testing/png.js';
import { referencePixels } from '../testing/pdq-reference.js';
import { hasShared, sharedPath, sharedTitle } from '../testing/shared.js';
import { hashImage } from './index.js';
import { resolveImageOptions } from './options.js';

/** A smooth, asymmetric test picture: soft blobs on a gradient, so blockhash bits are informative. */
function picture(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const v = y / height;
      const blob =
        Math.exp(-((u - 0.3) ** 2 + (v - 0.25) ** 2) * 30) + 0.6 * Math.exp(-((u - 0.75) ** 2 + (v - 0.7) ** 2) * 12);
      const i = (y * width + x) * 3;
      data[i] = Math.min(255, 40 + 180 * blob + 30 * u);
      data[i + 1] = Math.min(255, 60 + 120 * blob * v + 50 * v);
      data[i + 2] = Math.min(255, 90 + 100 * (1 - blob) * u);
    }
  }
  return data;
}

function raw(width: number, height: number) {
  return sharp(picture(width, height), { raw: { width, height, channels: 3 } });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof HashwardenError ? error.code : `not a HashwardenError: ${String(error)}`;
  }
}

let dir: string;
let jpeg: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-image-'));
  jpeg = await raw(320, 240).jpeg({ quality: 92 }).toBuffer();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hashImage', () => {
  it('hashes bytes and a file path alike, with every algorithm by default', async () => {
    const path = join(dir, 'a.jpg');
    await writeFile(path, jpeg);
    const fromBytes = await hashImage(jpeg);
    const fromFile = await hashImage(path);
    expect(fromFile).toEqual(fromBytes);
    expect(Object.keys(fromBytes.hashes)).toEqual(['blockhash', 'pdq', 'md5', 'sha1', 'sha256']);
    expect(fromBytes.hashes.blockhash).toMatch(/^[0-9a-f]{64}$/);
    expect(fromBytes.hashes.pdq).toMatch(/^[0-9a-f]{64}$/);
    expect(fromBytes.quality.pdq).toBeGreaterThanOrEqual(0);
    expect(fromBytes.image).toMatchObject({
      format: 'jpeg',
      width: 320,
      height: 240,
      orientation: 1,
      bytes: jpeg.length,
    });
  });

  it('decodes a JPEG whole for PDQ even at fast resolution, so PDQ is the same as at full', async () => {
    const big = await sharp(
      Buffer.from(Array.from({ length: 1600 * 1200 * 3 }, (_, i) => ((i * 2654435761) >>> 23) & 0xff)),
      { raw: { width: 1600, height: 1200, channels: 3 } },
    )
      .blur(3)
      .jpeg()
      .toBuffer();
    const fast = await hashImage(big, { algorithms: ['pdq', 'blockhash'], resolution: 'fast' });
    const full = await hashImage(big, { algorithms: ['pdq', 'blockhash'], resolution: 'full' });
    expect(fast.hashes).toEqual(full.hashes);
    expect(fast.quality).toEqual(full.quality);
  });

  it('refuses the hashes of a tiny image and the blockhash of a smooth shading or a plain layout, saying why', async () => {
    const tiny = await sharp(Buffer.from([10, 200, 30, 250, 20, 90, 0, 0, 255, 128, 128, 128]), {
      raw: { width: 2, height: 2, channels: 3 },
    })
      .png()
      .toBuffer();
    expect((await hashImage(tiny, { algorithms: ['pdq', 'blockhash'] })).unusable).toEqual({
      pdq: 'pdq of a 2 × 2 image, under 16 pixels a side',
      blockhash: 'blockhash of a 2 × 2 image, under 16 pixels a side',
    });
    const ramp = await sharp(
      Buffer.from(Array.from({ length: 300 * 200 * 3 }, (_, i) => Math.floor(((i / 3) % 300) * 0.85))),
      { raw: { width: 300, height: 200, channels: 3 } },
    )
      .png()
      .toBuffer();
    expect((await hashImage(ramp, { algorithms: ['blockhash'] })).unusable.blockhash).toMatch(
      /^blockhash of a smooth shading \(block means within 0\.\d\d grey levels of a smooth surface, below 4\)$/,
    );
    const split = await sharp(
      Buffer.from(Array.from({ length: 300 * 200 * 3 }, (_, i) => ((i / 3) % 300 < 150 ? 30 : 200) + ((i * 7) % 23))),
      { raw: { width: 300, height: 200, channels: 3 } },
    )
      .png()
      .toBuffer();
    expect((await hashImage(split, { algorithms: ['blockhash'] })).unusable.blockhash).toBe(
      'blockhash of a plain layout (16 neighbouring blocks differ, below 48)',
    );
  });

  it('derives the hashes of the image turned and mirrored from the one decode (dihedral)', async () => {
    // A textured test vector (PDQ quality 100), its decoded pixels turned and mirrored losslessly.
    const png = await sharp(fileURLToPath(new URL('../../test-vectors/images/mosaic-400x300.jpg', import.meta.url)))
      .png()
      .toBuffer();
    const result = await hashImage(png, { algorithms: ['blockhash', 'pdq'], dihedral: true });
    expect(result.dihedral?.blockhash).toHaveLength(8);
    expect(result.dihedral?.pdq).toHaveLength(8);
    expect(result.dihedral?.blockhash?.[0]).toBe(result.hashes.blockhash);
    expect(result.dihedral?.pdq?.[0]).toBe(result.hashes.pdq);
    // sharp's rotate(90) turns clockwise: the reference's rot270. Mirroring left-right is flipY.
    const turned = await hashImage(await sharp(png).rotate(90).png().toBuffer(), { algorithms: ['blockhash', 'pdq'] });
    const mirrored = await hashImage(await sharp(png).flop().png().toBuffer(), { algorithms: ['blockhash', 'pdq'] });
    expect(turned.hashes.blockhash).toBe(result.dihedral?.blockhash?.[3]);
    expect(mirrored.hashes.blockhash).toBe(result.dihedral?.blockhash?.[5]);
    // PDQ's box filter centres even windows half a pixel off, so a turned raster is a few bits off.
    expect(
      hammingDistance(pdq.parse(turned.hashes.pdq as string), pdq.parse(result.dihedral?.pdq?.[3] as string)),
    ).toBeLessThanOrEqual(10);
    expect(
      hammingDistance(pdq.parse(mirrored.hashes.pdq as string), pdq.parse(result.dihedral?.pdq?.[5] as string)),
    ).toBeLessThanOrEqual(10);
    expect((await hashImage(png, { algorithms: ['blockhash'] })).dihedral).toBeUndefined();
  });

  it('computes only the requested algorithms, exact ones from the original bytes', async () => {
    const { hashes } = await hashImage(jpeg, { algorithms: ['md5'] });
    expect(hashes).toEqual({ md5: (await hashImage(jpeg)).hashes.md5 });
  });

  it('keeps a fast decode of a large JPEG within 3 bits of the full decode', async () => {
    const big = await raw(2400, 1600).jpeg({ quality: 90 }).toBuffer();
    const fast = await hashImage(big, { algorithms: ['blockhash'] });
    const full = await hashImage(big, { algorithms: ['blockhash'], resolution: 'full' });
    expect(
      hammingDistance(blockhash.parse(fast.hashes.blockhash!), blockhash.parse(full.hashes.blockhash!)),
    ).toBeLessThanOrEqual(3);
  });

  it('applies EXIF orientation: a sideways-stored photo tagged 6 hashes like the upright one', async () => {
    const upright = await raw(300, 200).jpeg({ quality: 100 }).toBuffer();
    // Orientation 6 = "rotate 90° clockwise to display": store the picture turned 90° the other way.
    const sideways = await sharp(await raw(300, 200).rotate(270).jpeg({ quality: 100 }).toBuffer())
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 100 })
      .toBuffer();
    const a = await hashImage(upright, { algorithms: ['blockhash'] });
    const b = await hashImage(sideways, { algorithms: ['blockhash'] });
    expect(b.image).toMatchObject({ orientation: 6, width: 300, height: 200 });
    expect(
      hammingDistance(blockhash.parse(a.hashes.blockhash!), blockhash.parse(b.hashes.blockhash!)),
    ).toBeLessThanOrEqual(4);
    // Control: the stored pixels themselves, unrotated, hash far away.
    const stored = await hashImage(await raw(300, 200).rotate(270).png().toBuffer(), { algorithms: ['blockhash'] });
    expect(
      hammingDistance(blockhash.parse(a.hashes.blockhash!), blockhash.parse(stored.hashes.blockhash!)),
    ).toBeGreaterThan(40);
  });

  it('decodes colour modes to the same kind of raster: greyscale, grey+alpha, palette, 16-bit, CMYK, WebP, GIF, TIFF', async () => {
    const base = () => raw(96, 64);
    const inputs = [
      await base().greyscale().png().toBuffer(),
      await base().greyscale().ensureAlpha(0.5).png().toBuffer(),
      await base().png({ palette: true }).toBuffer(),
      await base().toColourspace('rgb16').png().toBuffer(),
      await base().toColourspace('cmyk').jpeg().toBuffer(),
      await base().webp().toBuffer(),
      await base().gif().toBuffer(),
      await base().tiff().toBuffer(),
    ];
    for (const input of inputs) {
      const { hashes, image } = await hashImage(input, { algorithms: ['blockhash'] });
      expect(hashes.blockhash).toMatch(/^[0-9a-f]{64}$/);
      expect([image.width, image.height]).toEqual([96, 64]);
    }
  });
});

describe('hashImage on hostile input', () => {
  it('refuses SVG, even one that references a local file, without decoding it', async () => {
    const svg = Buffer.from(
      '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="file:///etc/passwd"/></svg>',
    );
    expect(await codeOf(hashImage(svg))).toBe('ERR_UNSUPPORTED_FORMAT');
  });

  it('refuses PDF, empty input and random bytes as ERR_UNSUPPORTED_FORMAT', async () => {
    expect(await codeOf(hashImage(Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n')))).toBe(
      'ERR_UNSUPPORTED_FORMAT',
    );
    expect(await codeOf(hashImage(Buffer.alloc(0)))).toBe('ERR_UNSUPPORTED_FORMAT');
    expect(await codeOf(hashImage(Buffer.from('not an image at all, just text')))).toBe('ERR_UNSUPPORTED_FORMAT');
  });

  it('refuses a truncated JPEG and a JPEG with a corrupt body as ERR_IMAGE_DECODE', async () => {
    expect(await codeOf(hashImage(jpeg.subarray(0, Math.floor(jpeg.length / 2))))).toBe('ERR_IMAGE_DECODE');
    expect(await codeOf(hashImage(jpeg.subarray(0, 40)))).toBe('ERR_IMAGE_DECODE');
    const corrupt = Buffer.from(jpeg);
    for (let i = 600; i < corrupt.length - 2; i += 97) corrupt[i] = 0xff;
    expect(await codeOf(hashImage(corrupt))).toBe('ERR_IMAGE_DECODE');
  });

  it('refuses a tiny PNG declaring 50,000 × 50,000 pixels as ERR_IMAGE_TOO_LARGE', async () => {
    const bomb = pngDeclaring(50_000, 50_000);
    expect(bomb.length).toBeLessThan(2000);
    expect(await codeOf(hashImage(bomb))).toBe('ERR_IMAGE_TOO_LARGE');
  });

  it('enforces the byte and pixel limits given as options', async () => {
    expect(await codeOf(hashImage(jpeg, { maxBytes: 100 }))).toBe('ERR_IMAGE_TOO_LARGE');
    expect(await codeOf(hashImage(jpeg, { maxPixels: 1000 }))).toBe('ERR_IMAGE_TOO_LARGE');
    const path = join(dir, 'big.jpg');
    await writeFile(path, jpeg);
    expect(await codeOf(hashImage(path, { maxBytes: 100 }))).toBe('ERR_IMAGE_TOO_LARGE');
  });

  it('enforces the pixel limit, and reports the size, whether or not the header is read before decoding', async () => {
    // No EXIF: with PDQ (a whole decode) the header is not read first and the decoder enforces the
    // limit; blockhash alone at fast reads it first to choose a scaled JPEG decode.
    const png = await sharp({ create: { width: 120, height: 90, channels: 3, background: '#345' } })
      .png()
      .toBuffer();
    for (const input of [jpeg, png]) {
      for (const algorithms of [['pdq'], ['blockhash']] as const) {
        expect(await codeOf(hashImage(input, { algorithms: [...algorithms], maxPixels: 1000 })), algorithms[0]).toBe(
          'ERR_IMAGE_TOO_LARGE',
        );
        const { image } = await hashImage(input, { algorithms: [...algorithms] });
        expect(image).toMatchObject({
          orientation: 1,
          width: input === png ? 120 : 320,
          height: input === png ? 90 : 240,
        });
      }
    }
  });

  it('refuses formats outside the allowlist given as an option', async () => {
    expect(await codeOf(hashImage(jpeg, { formats: ['png'] }))).toBe('ERR_UNSUPPORTED_FORMAT');
  });

  it('reports a missing file and a directory as ERR_INPUT_READ', async () => {
    expect(await codeOf(hashImage(join(dir, 'missing.jpg')))).toBe('ERR_INPUT_READ');
    expect(await codeOf(hashImage(dir))).toBe('ERR_INPUT_READ');
  });

  it('rejects bad options with TypeError/RangeError in the standard message shape', () => {
    expect(() => resolveImageOptions({ resolution: 'huge' as 'fast' })).toThrow(
      'Expected one of fast, full for resolution but received "huge" of type string',
    );
    expect(() => resolveImageOptions({ maxBytes: 0 })).toThrow(RangeError);
    expect(() => resolveImageOptions({ algorithms: ['photodna' as 'md5'] })).toThrow(RangeError);
    expect(() => resolveImageOptions({ algorithms: [] })).toThrow(TypeError);
  });

  it('rejects a frame limit outside 1–10,000 in the standard message shape', () => {
    expect(() => resolveImageOptions({ maxFrames: 0 })).toThrow(
      new RangeError('Expected integer between 1 and 10000 for maxFrames but received 0 of type number'),
    );
    expect(() => resolveImageOptions({ maxFrames: 10_001 })).toThrow(RangeError);
    expect(() => resolveImageOptions({ maxFrames: '8' as unknown as number })).toThrow(TypeError);
    expect(resolveImageOptions({}).maxFrames).toBe(32);
  });

  it('returns already-resolved options unchanged', () => {
    const resolved = resolveImageOptions({ algorithms: ['blockhash'] });
    expect(resolveImageOptions(resolved)).toBe(resolved);
  });
});

// ---------------------------------------------------------------------------------------------
// EXIF orientation, on ../shared.

const haveShared =
  hasShared('photos', 'exif-samples') && hasShared('reference', 'pdq', 'images', 'reg-test-input', 'exif-rotn');

/** The dihedral transform an EXIF orientation tag applies to the stored pixels, in PDQ's names. */
const ORIENTATION_AS_DIHEDRAL = [
  '',
  'original',
  'flipY',
  'rot180',
  'flipX',
  'flipMainDiagonal',
  'rot270',
  'flipAntiDiagonal',
  'rot90',
] as const;

describe.skipIf(!haveShared)(sharedTitle('hashImage applies EXIF orientation', haveShared), () => {
  const exifRotn = ['1', '3', '6', '8'].map((n) =>
    sharedPath('reference', 'pdq', 'images', 'reg-test-input', 'exif-rotn', `exif-rotn-${n}.jpg`),
  );
  const landscape = [1, 2, 3, 4, 5, 6, 7, 8].map((n) =>
    sharedPath('photos', 'exif-samples', `orientation__landscape_${n}.jpg`),
  );
  const portrait = [1, 2, 3, 4, 5, 6, 7, 8].map((n) =>
    sharedPath('photos', 'exif-samples', `orientation__portrait_${n}.jpg`),
  );

  it("hashes the image as displayed: the PDQ hash is the matching rotation or flip of the stored pixels' hash", async () => {
    for (const file of [...exifRotn, ...landscape, ...portrait]) {
      const stored = pdqRgba(await referencePixels(file));
      const variants = pdqDihedralHashes(stored.dct);
      const result = await hashImage(file, { algorithms: ['pdq'] });
      const distances = variants.map((v) => hammingDistance(pdq.parse(result.hashes.pdq as string), v));
      const expected = DIHEDRAL_NAMES.indexOf(
        ORIENTATION_AS_DIHEDRAL[result.image.orientation] as (typeof DIHEDRAL_NAMES)[number],
      );
      // Measured 0–24 bits to the expected variant (the reference's 512-pixel reduction and the
      // re-encoded JPEGs do not commute exactly with a rotation), ≥ 96 to every other.
      expect(distances[expected], file).toBeLessThanOrEqual(PDQ_DEFAULT_THRESHOLD);
      expect(Math.min(...distances.filter((_, i) => i !== expected)), file).toBeGreaterThan(64);
    }
  }, 60_000);

  it('gives the 8 orientations of one photo the same blockhash and PDQ within the default thresholds', async () => {
    for (const set of [landscape, portrait]) {
      const results = await Promise.all(set.map((file) => hashImage(file, { algorithms: ['blockhash', 'pdq'] })));
      expect(results.map((r) => r.image.orientation)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const [first] = results;
      for (const r of results) {
        expect(
          hammingDistance(
            blockhash.parse(r.hashes.blockhash as string),
            blockhash.parse(first?.hashes.blockhash as string),
          ),
        ).toBeLessThanOrEqual(2);
        expect(
          hammingDistance(pdq.parse(r.hashes.pdq as string), pdq.parse(first?.hashes.pdq as string)),
        ).toBeLessThanOrEqual(PDQ_DEFAULT_THRESHOLD);
      }
    }
  }, 60_000);
});
