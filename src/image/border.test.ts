import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../testing/prng.js';
import type { RgbaImage } from '../algorithms/blockhash.js';
import { cropRgba, findBorder } from './border.js';

/** A soft, textured 300 × 200 picture (blurred noise): no row or column of it is flat. */
async function picture(width = 300, height = 200): Promise<Sharp> {
  const random = mulberry32(width * 7 + height);
  const noise = Buffer.from(Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256)));
  return sharp(
    await sharp(noise, { raw: { width, height, channels: 3 } })
      .blur(2)
      .png()
      .toBuffer(),
  );
}

async function rgba(image: Sharp): Promise<RgbaImage> {
  const { data, info } = await image.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

describe('findBorder', () => {
  it('finds black letterbox bars through JPEG compression, to within two pixels', async () => {
    const bars = await sharp(
      await (await picture()).extend({ top: 30, bottom: 30, background: '#000' }).jpeg({ quality: 70 }).toBuffer(),
    );
    const box = findBorder(await rgba(bars));
    expect(box).not.toBeNull();
    expect(Math.abs((box?.top ?? 0) - 30)).toBeLessThanOrEqual(2);
    expect(Math.abs((box?.height ?? 0) - 200)).toBeLessThanOrEqual(4);
    expect(box?.left).toBe(0);
    expect(box?.width).toBe(300);
  });

  it('finds white pillarbox bars, and transparent padding', async () => {
    const pillar = findBorder(await rgba((await picture()).extend({ left: 40, right: 25, background: '#fff' })));
    expect(pillar).toEqual({ left: 40, top: 0, width: 300, height: 200 });
    const padded = await sharp(
      await (await picture())
        .ensureAlpha()
        .extend({ top: 10, bottom: 10, left: 10, right: 10, background: { r: 0, g: 0, b: 0, alpha: 0 } })
        .png()
        .toBuffer(),
    );
    expect(findBorder(await rgba(padded))).toEqual({ left: 10, top: 10, width: 300, height: 200 });
  });

  it('finds none in a picture without one, in a one-colour image, or in a frame under 2% of a side', async () => {
    expect(findBorder(await rgba(await picture()))).toBeNull();
    expect(
      findBorder(await rgba(sharp({ create: { width: 50, height: 40, channels: 3, background: '#345' } }))),
    ).toBeNull();
    expect(
      findBorder(await rgba((await picture()).extend({ top: 1, bottom: 1, left: 1, right: 1, background: '#000' }))),
    ).toBeNull();
  });

  it('finds none when less than a quarter of a side would remain', async () => {
    const sliver = (await picture(60, 200)).extend({ left: 150, right: 150, background: '#000' });
    expect(findBorder(await rgba(sliver))).toBeNull();
  });

  it('crops the box out as an image of its own', async () => {
    const image = await rgba(await picture());
    const inner = cropRgba(image, { left: 7, top: 5, width: 20, height: 10 });
    expect([inner.width, inner.height, inner.data.length]).toEqual([20, 10, 800]);
    expect(Array.from(inner.data.subarray(0, 4))).toEqual(
      Array.from(image.data.subarray((5 * 300 + 7) * 4, (5 * 300 + 7) * 4 + 4)),
    );
    expect(Array.from(inner.data.subarray(796))).toEqual(
      Array.from(image.data.subarray((14 * 300 + 26) * 4, (14 * 300 + 26) * 4 + 4)),
    );
  });
});
