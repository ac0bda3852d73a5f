/**
 * Decoding as Meta's PDQ reference tool does (pdq-photo-hasher: CImg, decoding through
 * ImageMagick), for conformance runs against its hashes in ../shared: the stored pixels (no ICC
 * conversion, no EXIF rotation), 8 bits a channel, and an image wider or taller than 512 pixels
 * first resized to 512 × 512 by CImg's nearest neighbour, which takes source pixel
 * ⌊x · width / 512⌋ — not the centre-aligned sampling of libvips' nearest kernel, which was 2–8
 * bits off on the large reference images, against 0 this way.
 *
 * Used by src/algorithms/pdq.test.ts and bench/pdq-conformance.ts; the library's own decoding
 * (src/image/decode.ts) is a separate decision.
 */
import sharp from 'sharp';

/** The side the reference tool reduces larger images to. */
export const REFERENCE_MAX_SIDE = 512;

/** RGBA pixels of `file` as pdq-photo-hasher would hash them. */
export async function referencePixels(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file, { ignoreIcc: true } as Parameters<typeof sharp>[1]).ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  if (width <= REFERENCE_MAX_SIDE && height <= REFERENCE_MAX_SIDE) return { data, width, height };
  const side = REFERENCE_MAX_SIDE;
  const out = new Uint8Array(side * side * 4);
  for (let y = 0; y < side; y++) {
    const sy = Math.floor((y * height) / side);
    for (let x = 0; x < side; x++) {
      const from = (sy * width + Math.floor((x * width) / side)) * 4;
      out.set(data.subarray(from, from + 4), (y * side + x) * 4);
    }
  }
  return { data: out, width: side, height: side };
}
