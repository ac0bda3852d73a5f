/**
 * Format detection from magic bytes, before any decoder sees the data. The allowlist is enforced
 * here so that SVG (which can reference other files) and PDF never reach librsvg or poppler, and
 * a renamed file cannot pick its decoder by extension.
 * Signatures: JPEG (ITU T.81), PNG (RFC 2083), GIF87a/89a, RIFF/WEBP, TIFF (II*\0 / MM\0*),
 * ISO-BMFF `ftyp` brands for AVIF/HEIF (ISO/IEC 23008-12).
 */

/** Formats hashwarden decodes. */
export const IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'avif', 'heif', 'tiff'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** What a byte signature says a file is; `svg`, `pdf` and `unknown` are never decoded. */
export type SniffedFormat = ImageFormat | 'svg' | 'pdf' | 'unknown';

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

function sniffBmff(bytes: Uint8Array): SniffedFormat {
  // ftyp box: size(4) 'ftyp' major(4) minor(4) compatible brands(4 each) …
  const size = Math.min(((bytes[0] ?? 0) << 24 | (bytes[1] ?? 0) << 16 | (bytes[2] ?? 0) << 8 | (bytes[3] ?? 0)) >>> 0, bytes.length, 4096);
  const brands = [ascii(bytes, 8, 4)];
  for (let at = 16; at + 4 <= size; at += 4) brands.push(ascii(bytes, at, 4));
  if (brands.some((b) => AVIF_BRANDS.has(b))) return 'avif';
  if (brands.some((b) => HEIF_BRANDS.has(b))) return 'heif';
  return 'unknown';
}

/**
 * The format the first bytes announce.
 *
 * @example
 * ```ts
 * sniffImageFormat(await readFile('photo.jpg')); // 'jpeg'
 * ```
 */
export function sniffImageFormat(bytes: Uint8Array): SniffedFormat {
  const b = (i: number) => bytes[i] ?? -1;
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (b(0) === 0x89 && ascii(bytes, 1, 3) === 'PNG' && b(4) === 0x0d && b(5) === 0x0a) return 'png';
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  if ((b(0) === 0x49 && b(1) === 0x49 && b(2) === 0x2a && b(3) === 0) || (b(0) === 0x4d && b(1) === 0x4d && b(2) === 0 && b(3) === 0x2a)) return 'tiff';
  if (ascii(bytes, 4, 4) === 'ftyp') return sniffBmff(bytes);
  if (ascii(bytes, 0, 5) === '%PDF-') return 'pdf';
  // SVG is text: look for an <svg element near the start, after optional BOM, XML prolog and comments.
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 4096)).toString('utf8').toLowerCase();
  if (/^\ufeff?\s*</.test(head) && head.includes('<svg')) return 'svg';
  return 'unknown';
}
