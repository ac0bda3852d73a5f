/**
 * Decoding as Meta's PDQ reference tool does (pdq-photo-hasher: CImg, decoding through
 * ImageMagick), for conformance runs against its hashes in ../shared: the stored pixels (no ICC
 * conversion, no EXIF rotation), 8 bits a channel. Its reduction of images above 512 pixels is
 * pixel maths, in `pdqRgba` (src/algorithms/pdq.ts).
 *
 * Used by src/algorithms/pdq.test.ts and bench/pdq-conformance.ts; the library's own decoding
 * (src/image/decode.ts) also applies EXIF orientation.
 */
import sharp from 'sharp';

/** RGBA pixels of `file` as pdq-photo-hasher decodes them. */
export async function referencePixels(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file, { ignoreIcc: true } as Parameters<typeof sharp>[1])
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
