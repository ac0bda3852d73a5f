import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { mayBeAnimated, mayCarryOrientation, sniffImageFormat } from './sniff.js';

/** A small opaque test image in `format`, with an EXIF orientation tag when `orientation` is given. */
async function image(format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff', orientation?: number): Promise<Buffer> {
  let pipeline = sharp({ create: { width: 24, height: 16, channels: 3, background: { r: 200, g: 40, b: 90 } } });
  if (orientation !== undefined) pipeline = pipeline.withMetadata({ orientation });
  return pipeline.toFormat(format).toBuffer();
}

/** `png` with one more chunk of `type` inserted just before IEND (the CRC is not checked here). */
function withChunkBeforeEnd(png: Buffer, type: string, data: Buffer): Buffer {
  const end = png.length - 12;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(data.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([png.subarray(0, end), header, data, Buffer.alloc(4), png.subarray(end)]);
}

describe('sniffImageFormat', () => {
  it('names each allowed format from its signature, and refuses SVG, PDF and the unknown', async () => {
    for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff'] as const)
      expect(sniffImageFormat(await image(format))).toBe(format);
    expect(sniffImageFormat(Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe(
      'svg',
    );
    expect(sniffImageFormat(Buffer.from('%PDF-1.7\n'))).toBe('pdf');
    expect(sniffImageFormat(Buffer.alloc(0))).toBe('unknown');
  });
});

describe('mayCarryOrientation', () => {
  it('is false for JPEG, PNG and WebP files without EXIF, and for GIF', async () => {
    for (const format of ['jpeg', 'png', 'webp', 'gif'] as const)
      expect(mayCarryOrientation(await image(format), format), format).toBe(false);
  });

  it('is true for JPEG, PNG and WebP files with an EXIF orientation', async () => {
    for (const format of ['jpeg', 'png', 'webp'] as const) {
      const bytes = await image(format, 6);
      expect((await sharp(bytes).metadata()).orientation, format).toBe(6);
      expect(mayCarryOrientation(bytes, format), format).toBe(true);
    }
  });

  it('finds an eXIf chunk placed after the image data, and counts text chunks as possible EXIF', async () => {
    const png = await image('png');
    expect(mayCarryOrientation(withChunkBeforeEnd(png, 'eXIf', Buffer.from('MM\0*')), 'png')).toBe(true);
    expect(mayCarryOrientation(withChunkBeforeEnd(png, 'zTXt', Buffer.from('Raw profile type exif\0\0')), 'png')).toBe(
      true,
    );
  });

  it('answers true when unsure: truncated or malformed headers, and TIFF, HEIF or AVIF', async () => {
    const jpeg = await image('jpeg');
    expect(mayCarryOrientation(jpeg.subarray(0, 30), 'jpeg')).toBe(true);
    const broken = Buffer.from(jpeg);
    broken[2] = 0x00; // the first segment no longer starts with a marker
    expect(mayCarryOrientation(broken, 'jpeg')).toBe(true);
    expect(mayCarryOrientation((await image('png')).subarray(0, 40), 'png')).toBe(true);
    expect(mayCarryOrientation((await image('webp')).subarray(0, 20), 'webp')).toBe(true);
    expect(mayCarryOrientation(await image('tiff'), 'tiff')).toBe(true);
    expect(mayCarryOrientation(Buffer.alloc(64), 'heif')).toBe(true);
    expect(mayCarryOrientation(Buffer.alloc(64), 'avif')).toBe(true);
  });
});

describe('mayBeAnimated', () => {
  /** Two frames of different colours, as an animated GIF or WebP. */
  async function animation(format: 'gif' | 'webp'): Promise<Buffer> {
    const frames = await Promise.all(
      ['#c82', '#28c'].map((background) =>
        sharp({ create: { width: 24, height: 16, channels: 3, background } })
          .png()
          .toBuffer(),
      ),
    );
    return sharp(frames, { join: { animated: true } })
      .toFormat(format)
      .toBuffer();
  }

  it('is true for animated GIF and WebP, false for still ones and for formats that do not animate', async () => {
    for (const format of ['gif', 'webp'] as const) {
      expect(mayBeAnimated(await animation(format), format), format).toBe(true);
      expect(mayBeAnimated(await image(format), format), format).toBe(false);
    }
    for (const format of ['jpeg', 'png', 'tiff'] as const)
      expect(mayBeAnimated(await image(format), format), format).toBe(false);
  });

  it('is false for an animated GIF cut before its second image, true for a GIF it cannot walk and for a cut extended WebP header', async () => {
    // 40 bytes: header, colour table and the start of the first image, no second descriptor.
    expect(mayBeAnimated((await animation('gif')).subarray(0, 40), 'gif')).toBe(false);
    const garbled = Buffer.from(await image('gif'));
    garbled[garbled.length - 1] = 0x99; // the trailer replaced by a byte that starts no block
    expect(mayBeAnimated(garbled, 'gif')).toBe(true);
    const webp = await animation('webp');
    expect(webp.toString('latin1', 12, 16)).toBe('VP8X');
    expect(mayBeAnimated(webp.subarray(0, 20), 'webp')).toBe(true);
  });
});
