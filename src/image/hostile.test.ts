/**
 * The hostile-input corpus (test-vectors/hostile/, written by test-vectors/hostile.ts): every file
 * gets exactly the outcome its manifest names — hashed with the listed algorithms, or refused with
 * a `HashwardenError` of that code — from its path, its bytes and a stream of it alike, each within a time
 * limit; animations are matched on the frame that hides a listed image; and the byte, pixel, frame
 * and time limits hold against the corpus's files.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { blockhash, blockhashRgba } from '../algorithms/blockhash.js';
import { formatHex, hammingDistance } from '../algorithms/hex.js';
import { PDQ_DEFAULT_THRESHOLD, pdq, pdqRgba } from '../algorithms/pdq.js';
import { HashwardenError } from '../errors.js';
import { Matcher } from '../matcher/matcher.js';
import type { HostileEntry } from '../../test-vectors/hostile.js';
import { hashImage, type HashImageOptions, type ImageHashResult } from './index.js';

const HOSTILE = fileURLToPath(new URL('../../test-vectors/hostile/', import.meta.url));
const IMAGES = fileURLToPath(new URL('../../test-vectors/images/', import.meta.url));
const manifest = JSON.parse(readFileSync(join(HOSTILE, 'manifest.json'), 'utf8')) as {
  files: HostileEntry[];
  capabilities: Record<string, unknown>;
};
const path = (entry: HostileEntry | string): string => join(HOSTILE, typeof entry === 'string' ? entry : entry.file);

/** Longest any one file may take: a hang fails its test instead of stalling the run. */
const PER_FILE_MS = 15_000;

/** What a call came to: its result, the code of its HashwardenError, or anything else it threw. */
type Outcome = { readonly result: ImageHashResult } | { readonly code: string } | { readonly untyped: string };

async function outcome(promise: Promise<ImageHashResult>): Promise<Outcome> {
  try {
    return { result: await promise };
  } catch (error) {
    if (error instanceof HashwardenError) return { code: error.code };
    return { untyped: `${(error as Error)?.name}: ${(error as Error)?.message ?? String(error)}` };
  }
}

const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  const got = await outcome(promise as Promise<ImageHashResult>);
  return 'result' in got ? 'hashed' : 'code' in got ? got.code : `untyped ${got.untyped}`;
};

const HEX_DIGITS: Readonly<Record<string, number>> = { blockhash: 64, pdq: 64, md5: 32, sha1: 40, sha256: 64 };

/** Checks a hashed result against the manifest entry's expectation. */
function checkHashed(result: ImageHashResult, e: HostileEntry): void {
  if (!('hash' in e.expect)) throw new Error('not a hash expectation');
  const { algorithms, image, framesHashed } = e.expect;
  expect(Object.keys(result.hashes).sort()).toEqual([...algorithms].sort());
  for (const name of algorithms)
    expect(result.hashes[name as keyof typeof result.hashes], name).toMatch(
      new RegExp(`^[0-9a-f]{${HEX_DIGITS[name]}}$`),
    );
  // Exact hashes are of every byte, a polyglot's trailer included.
  if (algorithms.includes('sha256')) expect(result.hashes.sha256).toBe(e.sha256);
  expect(result.image.bytes).toBe(e.bytes);
  if (image !== undefined) expect(result.image).toMatchObject(image);
  if (framesHashed === undefined) {
    expect(result.frames).toBeUndefined();
    expect(result.image.frameCount).toBeUndefined();
  } else {
    expect(result.frames?.map((f) => f.frame)).toEqual(Array.from({ length: framesHashed }, (_, i) => i));
    // The top level is frame 0's.
    expect(result.frames?.[0]?.hashes).toEqual({ blockhash: result.hashes.blockhash, pdq: result.hashes.pdq });
  }
}

describe('the hostile corpus', () => {
  it('holds exactly the files its manifest lists, each the size and SHA-256 recorded, under 1 MB in all', () => {
    expect(
      readdirSync(HOSTILE)
        .filter((f) => f !== 'manifest.json')
        .sort(),
    ).toEqual(manifest.files.map((e) => e.file).sort());
    for (const e of manifest.files) {
      const bytes = readFileSync(path(e));
      expect(bytes.length, e.file).toBe(e.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), e.file).toBe(e.sha256);
      expect(e.reason.length, `${e.file} says why`).toBeGreaterThan(10);
    }
    expect(manifest.files.reduce((n, e) => n + e.bytes, 0)).toBeLessThan(1_000_000);
    // Both outcomes are exercised, and every refusal code a hostile upload can meet.
    const codes = new Set(manifest.files.map((e) => ('error' in e.expect ? e.expect.error : 'hash')));
    expect([...codes].sort()).toEqual(['ERR_IMAGE_DECODE', 'ERR_IMAGE_TOO_LARGE', 'ERR_UNSUPPORTED_FORMAT', 'hash']);
  });

  for (const e of manifest.files) {
    const expected =
      'error' in e.expect
        ? e.expect.error
        : `hashed${e.expect.framesHashed === undefined ? '' : ` (${e.expect.framesHashed} frames)`}`;
    it(
      `${e.file}: ${expected}`,
      async () => {
        const fromPath = await outcome(hashImage(path(e)));
        if ('error' in e.expect) {
          expect(fromPath).toEqual({ code: e.expect.error });
        } else {
          expect('result' in fromPath ? 'hashed' : fromPath).toBe('hashed');
          checkHashed((fromPath as { result: ImageHashResult }).result, e);
        }
        // Bytes in memory go through the same checks as a file on disk, and so does a stream of it.
        expect(await outcome(hashImage(readFileSync(path(e))))).toEqual(fromPath);
        expect(await outcome(hashImage(createReadStream(path(e), { highWaterMark: 4096 })))).toEqual(fromPath);
      },
      PER_FILE_MS,
    );
  }
});

describe('hostile files decoded at the same time', () => {
  // libvips keeps one error buffer per process: a decode failing beside another could be given
  // the other's message, and with it the wrong code (the HEIC as a decode error, a corrupt JPEG as
  // an unsupported format), 1 call in 10 to 1 in 30 in the load benchmark.
  it('gives each failing file its own code, however many fail at once', async () => {
    const files = [
      'heic-hevc-unsupported.heic',
      'png-corrupt-deflate.png',
      'jpeg-corrupt-scan.jpg',
      'png-cut-mid-idat.png',
      'gif-corrupt-lzw.gif',
    ];
    const entries = files.map((file) => manifest.files.find((e) => e.file === file) as HostileEntry);
    const bytes = entries.map((e) => readFileSync(path(e)));
    const wrong: string[] = [];
    for (let round = 0; round < 60; round++) {
      const codes = await Promise.all(bytes.map((b) => codeOf(hashImage(b))));
      codes.forEach((code, i) => {
        const e = entries[i] as HostileEntry;
        if (!('error' in e.expect) || code !== e.expect.error) wrong.push(`${e.file}: ${code}`);
      });
    }
    expect(wrong).toEqual([]);
  }, 60_000);
});

describe('animated uploads of the corpus', () => {
  /** A matcher whose list holds the blockhash and PDQ of a test vector, as a clearinghouse would. */
  async function listing(image: string, options?: { image?: Omit<HashImageOptions, 'algorithms'> }): Promise<Matcher> {
    const { hashes } = await hashImage(join(IMAGES, image), { algorithms: ['blockhash', 'pdq'] });
    return Matcher.fromEntries(
      [
        { id: 'listed-blockhash', list: 'test', algorithm: 'blockhash', hash: hashes.blockhash as string },
        { id: 'listed-pdq', list: 'test', algorithm: 'pdq', hash: hashes.pdq as string },
      ],
      options,
    );
  }

  const animations = manifest.files.filter((e) => e.listed !== undefined);

  it('has animations hiding a listed frame, in GIF and WebP, found and past the frame limit', () => {
    expect(animations.map((e) => e.file.split('.').at(-1)).sort()).toEqual(['gif', 'gif', 'webp', 'webp']);
    expect(animations.some((e) => e.listed?.foundAtDefaults === false)).toBe(true);
  });

  for (const e of animations) {
    const listed = e.listed as NonNullable<HostileEntry['listed']>;
    if (listed.foundAtDefaults) {
      it(
        `${e.file}: matches the listed image on frame ${listed.frame} only, by blockhash and PDQ, and not on the frames before it`,
        async () => {
          const result = await (await listing(listed.image)).matchImage(path(e));
          expect(result.matched).toBe(true);
          expect(result.matches.map((m) => [m.algorithm, m.frame]).sort()).toEqual([
            ['blockhash', listed.frame],
            ['pdq', listed.frame],
          ]);
          expect(result.frames?.length).toBe(result.image.frameCount);
          // Hashing only the frames before it (the first alone, as a still decode does) misses it.
          const before = await (await listing(listed.image, { image: { maxFrames: listed.frame } })).matchImage(
            path(e),
          );
          expect(before.matched).toBe(false);
          expect(before.frames?.length).toBe(listed.frame);
        },
        PER_FILE_MS,
      );
    } else {
      it(
        `${e.file}: does not reach frame ${listed.frame} at the default frame limit, says so, and matches it there when the limit allows`,
        async () => {
          const result = await (await listing(listed.image)).matchImage(path(e));
          expect(result.matched).toBe(false);
          expect(result.image.frameCount).toBe(listed.frame + 1);
          expect(result.frames?.length).toBe(32);
          const further = await (await listing(listed.image, { image: { maxFrames: listed.frame + 1 } })).matchImage(
            path(e),
          );
          expect(further.matches.map((m) => [m.algorithm, m.frame]).sort()).toEqual([
            ['blockhash', listed.frame],
            ['pdq', listed.frame],
          ]);
        },
        PER_FILE_MS,
      );
    }
  }

  it('matches an animation through matchImages too, naming the frame, beside uploads that fail', async () => {
    const matcher = await listing('mosaic-400x300.jpg');
    const results = await matcher.matchImages(
      [path('animated-listed-frame-2.webp'), path('empty.bin'), path('cmyk.jpg'), path('png-declares-50000x50000.png')],
      { concurrency: 2 },
    );
    expect(
      results.map((r) => (r.ok ? r.value.matches.map((m) => m.frame) : (r.error as HashwardenError).code)),
    ).toEqual([[2, 2], 'ERR_UNSUPPORTED_FORMAT', [], 'ERR_IMAGE_TOO_LARGE']);
  });

  it('hashes each frame of an animated WebP with an EXIF orientation as displayed, frame 0 as a still decode of the file gives it', async () => {
    const file = path('animated-orientation-6.webp');
    const result = await hashImage(file, { algorithms: ['blockhash', 'pdq'] });
    // sharp turns a single-page decode itself: the reference for frame 0.
    const { data, info } = await sharp(file, { autoOrient: true })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const still = { data: new Uint8Array(data), width: info.width, height: info.height };
    expect([info.width, info.height]).toEqual([160, 120]);
    expect(result.hashes).toEqual({ blockhash: formatHex(blockhashRgba(still)), pdq: formatHex(pdqRgba(still).hash) });
  });
});

describe('still images of the corpus', () => {
  const perceptual = async (file: string) => (await hashImage(path(file), { algorithms: ['blockhash', 'pdq'] })).hashes;
  const distance = (
    name: 'blockhash' | 'pdq',
    a: Record<string, string | undefined>,
    b: Record<string, string | undefined>,
  ) => {
    const algorithm = name === 'blockhash' ? blockhash : pdq;
    return hammingDistance(algorithm.parse(a[name] as string), algorithm.parse(b[name] as string));
  };

  it('hashes the eight EXIF orientations of one picture, and its PNG and WebP turned by EXIF, as the upright picture', async () => {
    const upright = await perceptual('exif-orientation-1.jpg');
    const others = [2, 3, 4, 5, 6, 7, 8].map((n) => `exif-orientation-${n}.jpg`);
    for (const file of [...others, 'png-exif-orientation-6.png', 'webp-exif-orientation-6.webp']) {
      const hashes = await perceptual(file);
      // Measured: JPEG re-encodes 0–2 bits apart; an orientation applied wrongly is over 60.
      expect(distance('blockhash', hashes, upright), file).toBeLessThanOrEqual(6);
      expect(distance('pdq', hashes, upright), file).toBeLessThanOrEqual(PDQ_DEFAULT_THRESHOLD);
    }
  });

  it('ignores an orientation tag outside 1–8: the picture is hashed as stored, like the same file tagged 1', async () => {
    expect(await perceptual('exif-orientation-9.jpg')).toEqual(await perceptual('exif-orientation-1.jpg'));
  });

  it('hashes a polyglot as the image in front: the perceptual hashes of the image alone, exact hashes of every byte', async () => {
    for (const [file, end] of [
      ['polyglot-jpeg-zip.jpg', (b: Buffer) => b.indexOf('PK\x03\x04', 0, 'latin1')],
      ['polyglot-png-html.png', (b: Buffer) => b.indexOf('IEND', 0, 'latin1') + 8],
    ] as const) {
      const bytes = readFileSync(path(file));
      const front = bytes.subarray(0, end(bytes));
      expect(front.length, file).toBeLessThan(bytes.length - 20);
      const [whole, alone] = await Promise.all([hashImage(bytes), hashImage(front)]);
      expect([whole.hashes.blockhash, whole.hashes.pdq]).toEqual([alone.hashes.blockhash, alone.hashes.pdq]);
      expect(whole.hashes.md5).not.toBe(alone.hashes.md5);
    }
  });

  it('hashes a PNG carrying a zTXt bomb like the same PNG without it', async () => {
    const plain = readFileSync(path('polyglot-png-html.png'));
    const front = plain.subarray(0, plain.indexOf('IEND', 0, 'latin1') + 8);
    const [bomb, alone] = await Promise.all([hashImage(path('png-ztxt-16mb.png')), hashImage(front)]);
    expect([bomb.hashes.blockhash, bomb.hashes.pdq]).toEqual([alone.hashes.blockhash, alone.hashes.pdq]);
  });

  it('refuses a HEVC-coded HEIF (HEIC) as a format this build cannot decode, not as a damaged file', async () => {
    const error = await hashImage(path('heic-hevc-unsupported.heic')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HashwardenError);
    expect((error as HashwardenError).code).toBe('ERR_UNSUPPORTED_FORMAT');
    // Refused from its brands, before decoding (sharp's prebuilt libvips lists .avif alone as HEIF input).
    expect((error as HashwardenError).message).toMatch(/HEVC-coded \(HEIC\).*no HEVC decoder/);
  });
});

describe('resource limits against the corpus', () => {
  it('refuses every file one byte over maxBytes, from a path before reading it, from bytes and from a stream', async () => {
    for (const e of manifest.files.filter((f) => f.bytes > 1)) {
      expect(await codeOf(hashImage(path(e), { maxBytes: e.bytes - 1 })), e.file).toBe('ERR_IMAGE_TOO_LARGE');
      expect(await codeOf(hashImage(readFileSync(path(e)), { maxBytes: e.bytes - 1 })), e.file).toBe(
        'ERR_IMAGE_TOO_LARGE',
      );
      expect(await codeOf(hashImage(createReadStream(path(e)), { maxBytes: e.bytes - 1 })), e.file).toBe(
        'ERR_IMAGE_TOO_LARGE',
      );
    }
  });

  it(
    'decodes at most maxFrames frames of a frame bomb, and no more than fit in maxPixels together',
    async () => {
      const bomb = path('gif-1000-frames-600x400.gif');
      const frames = async (options: HashImageOptions) => {
        const { frames: hashed, image } = await hashImage(bomb, { algorithms: ['blockhash'], ...options });
        expect(image.frameCount).toBe(1000);
        return hashed?.length;
      };
      expect(await frames({})).toBe(32);
      expect(await frames({ maxFrames: 5 })).toBe(5);
      expect(await frames({ maxFrames: 1 })).toBe(1);
      // 600 × 400 = 240,000 pixels a frame: 4 fit in a million.
      expect(await frames({ maxFrames: 10_000, maxPixels: 1_000_000 })).toBe(4);
      expect(await frames({ maxFrames: 10_000, maxPixels: 240_000 })).toBe(1);
      // Not even one frame fits: refused, as a still image that size would be.
      expect(await codeOf(hashImage(bomb, { maxPixels: 239_999 }))).toBe('ERR_IMAGE_TOO_LARGE');
    },
    PER_FILE_MS,
  );

  it('refuses the pixel bombs at any pixel limit below their size, and only then', async () => {
    // 12,000 × 12,000 = 144,000,000 pixels: refused at the default and at one pixel less.
    const real = path('png-1bit-12000x12000.png');
    expect(await codeOf(hashImage(real, { maxPixels: 143_999_999 }))).toBe('ERR_IMAGE_TOO_LARGE');
    expect(await codeOf(hashImage(path('cmyk.jpg'), { maxPixels: 120 * 90 - 1 }))).toBe('ERR_IMAGE_TOO_LARGE');
    expect(await codeOf(hashImage(path('cmyk.jpg'), { maxPixels: 120 * 90 }))).toBe('hashed');
  });

  it('stops a decode that runs past timeoutSeconds with ERR_IMAGE_TIMEOUT', async () => {
    // The 144-megapixel PNG, let through the pixel limit, takes about 1.8 s to decode here; a
    // machine fast enough to finish it within the second must at least finish it in time.
    const started = performance.now();
    const code = await codeOf(
      hashImage(path('png-1bit-12000x12000.png'), {
        algorithms: ['blockhash'],
        maxPixels: 150_000_000,
        timeoutSeconds: 1,
      }),
    );
    const elapsed = performance.now() - started;
    expect(
      code === 'ERR_IMAGE_TIMEOUT' || (code === 'hashed' && elapsed < 1_500),
      `${code} after ${elapsed.toFixed(0)} ms`,
    ).toBe(true);
    if (code === 'ERR_IMAGE_TIMEOUT') expect(elapsed).toBeLessThan(5_000);
  }, 30_000);
});
