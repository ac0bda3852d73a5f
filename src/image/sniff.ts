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

/**
 * Formats whose frames `hashImage` hashes one by one: the animations an upload form accepts.
 * TIFF pages and HEIF image collections are documents and bursts, not animations: their first
 * (or primary) image is hashed, as before.
 */
export const ANIMATED_FORMATS: ReadonlySet<ImageFormat> = new Set(['gif', 'webp']);

/** What a byte signature says a file is; `svg`, `pdf` and `unknown` are never decoded. */
export type SniffedFormat = ImageFormat | 'svg' | 'pdf' | 'unknown';

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);
const AVIF_BRANDS = new Set(['avif', 'avis']);
/** Brands of HEIF files whose images are HEVC-coded (ISO/IEC 23008-12 annex B): the iPhone's HEIC. */
const HEVC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

/** The major and compatible brands of an ISO-BMFF `ftyp` box at the start of `bytes`. */
function brandsOf(bytes: Uint8Array): string[] {
  // ftyp box: size(4) 'ftyp' major(4) minor(4) compatible brands(4 each) …
  const size = Math.min(
    (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0,
    bytes.length,
    4096,
  );
  const brands = [ascii(bytes, 8, 4)];
  for (let at = 16; at + 4 <= size; at += 4) brands.push(ascii(bytes, at, 4));
  return brands;
}

/**
 * True for a HEIF file (not AVIF) whose brands say its images are HEVC-coded, as the iPhone's
 * HEIC photos are: decoding them needs an HEVC decoder, which sharp's prebuilt libvips lacks.
 *
 * @example
 * ```ts
 * if (sniffImageFormat(bytes) === 'heif' && isHevcHeif(bytes)) convertFirst();
 * ```
 */
export function isHevcHeif(bytes: Uint8Array): boolean {
  if (ascii(bytes, 4, 4) !== 'ftyp') return false;
  const brands = brandsOf(bytes);
  return !brands.some((b) => AVIF_BRANDS.has(b)) && brands.some((b) => HEVC_BRANDS.has(b));
}

function sniffBmff(bytes: Uint8Array): SniffedFormat {
  const brands = brandsOf(bytes);
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
  if (
    (b(0) === 0x49 && b(1) === 0x49 && b(2) === 0x2a && b(3) === 0) ||
    (b(0) === 0x4d && b(1) === 0x4d && b(2) === 0 && b(3) === 0x2a)
  )
    return 'tiff';
  if (ascii(bytes, 4, 4) === 'ftyp') return sniffBmff(bytes);
  if (ascii(bytes, 0, 5) === '%PDF-') return 'pdf';
  // SVG is text: look for an <svg element near the start, after optional BOM, XML prolog and comments.
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 4096)).toString('utf8').toLowerCase();
  if (/^\ufeff?\s*</.test(head) && head.includes('<svg')) return 'svg';
  return 'unknown';
}

function u16be(bytes: Uint8Array, at: number): number {
  return ((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0);
}

function u32(bytes: Uint8Array, at: number, littleEndian: boolean): number {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, littleEndian);
}

/** Whether the JPEG's header segments (before the scan) include an EXIF APP1; true when unsure. */
function jpegMayHaveExif(bytes: Uint8Array): boolean {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return true;
    const marker = bytes[at + 1] as number;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return false; // start of scan, end of image
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const length = u16be(bytes, at + 2);
    if (length < 2 || at + 2 + length > bytes.length) return true;
    if (marker === 0xe1 && ascii(bytes, at + 4, 6) === 'Exif\0\0') return true;
    at += 2 + length;
  }
  return true;
}

/** Whether the PNG has an eXIf chunk, or a text chunk that might carry EXIF; true when unsure. */
function pngMayHaveExif(bytes: Uint8Array): boolean {
  let at = 8;
  while (at + 8 <= bytes.length) {
    const length = u32(bytes, at, false);
    const type = ascii(bytes, at + 4, 4);
    if (type === 'eXIf' || type === 'tEXt' || type === 'zTXt' || type === 'iTXt') return true;
    if (type === 'IEND') return false;
    if (length > bytes.length - at - 12) return true;
    at += 12 + length;
  }
  return true;
}

/** Whether the WebP has an EXIF chunk; true when unsure. */
function webpMayHaveExif(bytes: Uint8Array): boolean {
  let at = 12;
  while (at + 8 <= bytes.length) {
    const size = u32(bytes, at + 4, true);
    if (ascii(bytes, at, 4) === 'EXIF') return true;
    if (size > bytes.length - at - 8) return true;
    at += 8 + size + (size & 1);
  }
  return at !== bytes.length;
}

/**
 * Whether a file of an allowed format may carry an EXIF orientation, from its container structure
 * alone (chunk and segment headers, no decoding): false only when it certainly carries none, so
 * the decoder's orientation is then 1 and the header need not be read separately. JPEG, PNG and
 * WebP are walked; GIF has no EXIF; TIFF, HEIF and AVIF are always answered true.
 *
 * @example
 * ```ts
 * mayCarryOrientation(await readFile('screenshot.png'), 'png'); // false: no eXIf chunk
 * ```
 */
export function mayCarryOrientation(bytes: Uint8Array, format: ImageFormat): boolean {
  switch (format) {
    case 'jpeg':
      return jpegMayHaveExif(bytes);
    case 'png':
      return pngMayHaveExif(bytes);
    case 'webp':
      return webpMayHaveExif(bytes);
    case 'gif':
      return false;
    default:
      return true;
  }
}

/** Bytes of a GIF colour table whose packed field is `flags` (0 when the table is absent). */
function gifColourTable(flags: number): number {
  return flags & 0x80 ? 3 << ((flags & 7) + 1) : 0;
}

/**
 * Whether the GIF holds a second image descriptor, walking blocks and sub-blocks without
 * decompressing anything; true when unsure (a byte that starts no known block).
 */
function gifMayBeAnimated(bytes: Uint8Array): boolean {
  // Header (6) and logical screen descriptor (7), then the global colour table.
  let at = 13 + gifColourTable(bytes[10] ?? 0);
  let images = 0;
  while (at < bytes.length) {
    const block = bytes[at] as number;
    if (block === 0x3b) return false; // trailer
    if (block === 0x21) {
      at += 2; // introducer and label, then sub-blocks
    } else if (block === 0x2c) {
      if (++images > 1) return true;
      // Descriptor (10), its local colour table, the LZW minimum code size (1), then sub-blocks.
      at += 10 + gifColourTable(bytes[at + 9] ?? 0) + 1;
    } else {
      return true;
    }
    while (at < bytes.length) {
      const size = bytes[at] as number;
      at += 1 + size;
      if (size === 0) break;
    }
  }
  // Data ended: no second image can follow, whatever the decoder makes of the first.
  return false;
}

/**
 * Whether a file may hold more than one frame to hash (an animated GIF or WebP; see
 * {@link ANIMATED_FORMATS}), from its container structure alone: false only when it certainly
 * holds one, so a still image is decoded without reading its header first, as before. GIF
 * blocks are walked; a WebP animates only in the extended format with its animation flag set.
 *
 * @example
 * ```ts
 * mayBeAnimated(await readFile('reaction.gif'), 'gif'); // true: a second image descriptor
 * ```
 */
export function mayBeAnimated(bytes: Uint8Array, format: ImageFormat): boolean {
  switch (format) {
    case 'gif':
      return gifMayBeAnimated(bytes);
    case 'webp':
      // RIFF header (12), then the first chunk: VP8X with flags in its first payload byte.
      if (ascii(bytes, 12, 4) !== 'VP8X') return false;
      return bytes.length <= 20 || ((bytes[20] as number) & 0x02) !== 0;
    default:
      return false;
  }
}
