/**
 * Hostile-input corpus generator: writes small files an uploader could send on purpose or by
 * accident (empty, random, truncated, corrupt, decompression bombs, refused formats, animations
 * hiding a listed frame, unusual colour modes, every EXIF orientation, AVIF/HEIF, polyglots) into
 * `hostile/`, with `hostile/manifest.json` saying what each is and what hashwarden must do with
 * it: hash it, or refuse it with a given `HashwardenError` code, and why.
 *
 * Everything is made from numbers: pictures are the generated test vectors of `images/` (see
 * README.md) re-encoded by sharp, random bytes come from the seeded mulberry32, and the rest is
 * byte surgery written out below (chunks, segments and boxes built or cut by hand). With the same
 * Node and sharp, two runs write byte-identical files.
 *
 * Run: `npx tsx test-vectors/hostile.ts`. Checked by `src/image/hostile.test.ts`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, gzipSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { crc32, pngChunk, pngDeclaring } from '../src/testing/png.js';
import { mulberry32 } from '../src/testing/prng.js';

const SEED = 20_261_129;
const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, 'hostile');
const IMAGES = join(HERE, 'images');

/** The test vector placed in the animations as the "listed" image (textured: PDQ quality 100). */
const LISTED = 'mosaic-400x300.jpg';
/** The picture of the lossy stills: asymmetric, so a wrong orientation shows in its hash. */
const STILL = 'terrain-333x250.jpg';
/** The picture of the lossless stills (PNG, lossless WebP, GIF): smooth, so they stay small. */
const SMOOTH = 'landscape-1600x1200.jpg';

const ALL = ['blockhash', 'pdq', 'md5', 'sha1', 'sha256'] as const;

/** What must happen to a file: hashed with these algorithms (at hashImage's defaults), or refused. */
export type Expectation =
  | {
      readonly hash: true;
      readonly algorithms: readonly string[];
      /** Fields of `result.image` that must be exactly these. */
      readonly image?: Readonly<Record<string, string | number>>;
      /** Animated files: how many frames `hashImage` hashes at its defaults (`frames.length`). */
      readonly framesHashed?: number;
    }
  | { readonly error: string };

/** One file of the corpus, as the manifest lists it. */
export interface HostileEntry {
  readonly file: string;
  /** What the file is and how it was made. */
  readonly what: string;
  readonly expect: Expectation;
  /** Why this outcome is the one a trust-and-safety service wants. */
  readonly reason: string;
  /**
   * Animations only: the test vector (in `images/`) hidden in it as the listed image, the frame
   * (0-based) it is on, and whether `matchImage` reaches that frame at its defaults (false: it
   * lies past the frame limit, and must not be found unless `maxFrames` is raised).
   */
  readonly listed?: { readonly image: string; readonly frame: number; readonly foundAtDefaults: boolean };
  readonly bytes: number;
  readonly sha256: string;
}

type Draft = Omit<HostileEntry, 'bytes' | 'sha256'> & { readonly data: Uint8Array };

const DECODE: Expectation = { error: 'ERR_IMAGE_DECODE' };

// ---------------------------------------------------------------------------------------------
// Byte helpers

const random = (seed: number, length: number): Buffer => {
  const next = mulberry32(seed);
  return Buffer.from(Array.from({ length }, () => Math.floor(next() * 256)));
};

const u16be = (n: number): Buffer => Buffer.from([(n >>> 8) & 0xff, n & 0xff]);
const u32be = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const u16le = (n: number): Buffer => Buffer.from([n & 0xff, (n >>> 8) & 0xff]);
const u32le = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

interface PngChunk {
  readonly type: string;
  /** Offset of the chunk's length field. */
  readonly at: number;
  readonly length: number;
}

function pngChunks(png: Uint8Array): PngChunk[] {
  const b = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const out: PngChunk[] = [];
  for (let at = 8; at + 8 <= b.length; ) {
    const length = b.readUInt32BE(at);
    out.push({ type: b.toString('latin1', at + 4, at + 8), at, length });
    at += 12 + length;
  }
  return out;
}

function chunkOf(png: Uint8Array, type: string): PngChunk {
  const found = pngChunks(png).find((c) => c.type === type);
  if (found === undefined) throw new Error(`no ${type} chunk`);
  return found;
}

/** The offset of JPEG marker `0xFF code` in the header segments (before the scan). */
function jpegMarker(jpeg: Uint8Array, code: number): number {
  for (let at = 2; at + 4 <= jpeg.length; ) {
    if (jpeg[at] !== 0xff) throw new Error(`no marker at ${at}`);
    const marker = jpeg[at + 1] as number;
    if (marker === code) return at;
    if (marker === 0xda) break;
    at += 2 + (((jpeg[at + 2] as number) << 8) | (jpeg[at + 3] as number));
  }
  throw new Error(`no marker FF${code.toString(16)}`);
}

/** An ISO-BMFF box; a full box when `version` is given. */
function box(type: string, payload: readonly Uint8Array[], version?: number, flags = 0): Buffer {
  const head =
    version === undefined
      ? Buffer.alloc(0)
      : Buffer.from([version, (flags >>> 16) & 0xff, (flags >>> 8) & 0xff, flags & 0xff]);
  const body = Buffer.concat([head, ...payload]);
  return Buffer.concat([u32be(8 + body.length), Buffer.from(type, 'latin1'), body]);
}

/** `bytes` with every occurrence of the 4-character `from` replaced by `to`. */
function replaceFourCC(bytes: Uint8Array, from: string, to: string): Buffer {
  const out = Buffer.from(bytes);
  for (let i = out.indexOf(from, 0, 'latin1'); i >= 0; i = out.indexOf(from, i + 4, 'latin1'))
    out.write(to, i, 'latin1');
  return out;
}

/** Zip a single stored file, by hand: enough of an archive that `unzip -l` lists it. */
function zipArchive(name: string, content: Buffer): Buffer {
  const crc = crc32(content);
  const fileName = Buffer.from(name, 'latin1');
  const local = Buffer.concat([
    u32le(0x04034b50),
    u16le(10),
    u16le(0),
    u16le(0),
    u16le(0),
    u16le(0x21),
    u32le(crc),
    u32le(content.length),
    u32le(content.length),
    u16le(fileName.length),
    u16le(0),
    fileName,
    content,
  ]);
  const central = Buffer.concat([
    u32le(0x02014b50),
    u16le(10),
    u16le(10),
    u16le(0),
    u16le(0),
    u16le(0),
    u16le(0x21),
    u32le(crc),
    u32le(content.length),
    u32le(content.length),
    u16le(fileName.length),
    u16le(0),
    u16le(0),
    u16le(0),
    u16le(0),
    u32le(0),
    u32le(0),
    fileName,
  ]);
  const end = Buffer.concat([
    u32le(0x06054b50),
    u16le(0),
    u16le(0),
    u16le(1),
    u16le(1),
    u32le(central.length),
    u32le(local.length),
    u16le(0),
  ]);
  return Buffer.concat([local, central, end]);
}

// ---------------------------------------------------------------------------------------------
// Pictures: test vectors re-encoded

const vector = (file: string): Sharp => sharp(join(IMAGES, file));
/** The lossy still at a small size: 160 × 120 keeps every file a few kilobytes. */
const still = (width = 160, height = 120): Sharp => vector(STILL).resize(width, height, { fit: 'fill' });
/** The lossless still: 96 × 72 of a smooth picture, under 10 kB as a PNG. */
const smooth = (): Sharp => vector(SMOOTH).resize(96, 72, { fit: 'fill' });

/** Stored pixels that EXIF orientation `n` turns back into `upright` (PNG, lossless). */
async function storedFor(upright: Buffer, n: number): Promise<Buffer> {
  // The inverse of what a viewer does for each tag: 6 shows the stored image turned clockwise,
  // so it is stored turned anticlockwise; 5 and 7 (transpose, transverse) are their own inverse.
  const moves: Record<number, (s: Sharp) => Sharp> = {
    1: (s) => s,
    2: (s) => s.flop(),
    3: (s) => s.rotate(180),
    4: (s) => s.flip(),
    5: (s) => s.flop().rotate(270),
    6: (s) => s.rotate(270),
    7: (s) => s.flop().rotate(90),
    8: (s) => s.rotate(90),
  };
  return (moves[n] as (s: Sharp) => Sharp)(sharp(upright)).png().toBuffer();
}

/** The animation frames: innocuous test vectors, with the listed one at `listedAt`. */
async function animationFrames(
  count: number,
  listedAt: number,
  width: number,
  height: number,
  innocuous: readonly string[],
): Promise<Buffer[]> {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const file = i === listedAt ? LISTED : (innocuous[i % innocuous.length] as string);
    frames.push(await vector(file).resize(width, height, { fit: 'fill' }).png().toBuffer());
  }
  return frames;
}

/** A flat frame of one colour, for animations whose innocuous frames should cost few bytes. */
function flatFrame(width: number, height: number, i: number): Promise<Buffer> {
  return sharp({
    create: { width, height, channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 } },
  })
    .png()
    .toBuffer();
}

/**
 * A GIF of `frames` one-pixel frames on a `width` × `height` screen, built by hand: each frame
 * costs 20 bytes, and a decoder composites each over the screen, so every decoded frame is the
 * whole screen. A frame bomb: 1000 frames of 600 × 400 are 240 million pixels from 20 kB. (Not
 * 640 × 480: libnsgif takes that screen size, and a few other encoder defaults, for a mistake
 * and sizes the image to its frames.)
 */
function gifOfDots(width: number, height: number, frames: number): Buffer {
  const parts: Buffer[] = [
    Buffer.from('GIF89a', 'latin1'),
    u16le(width),
    u16le(height),
    Buffer.from([0x80, 0, 0]),
    Buffer.from([0, 0, 0, 255, 255, 255]),
  ];
  parts.push(Buffer.from([0x21, 0xff, 0x0b]), Buffer.from('NETSCAPE2.0', 'latin1'), Buffer.from([3, 1, 0, 0, 0]));
  for (let i = 0; i < frames; i++) {
    // Graphic control: keep the previous frame (disposal 1), 0.1 s.
    parts.push(Buffer.from([0x21, 0xf9, 4, 0x04, 10, 0, 0, 0]));
    parts.push(Buffer.from([0x2c]), u16le(i % width), u16le((i * 7) % height), u16le(1), u16le(1), Buffer.from([0]));
    // LZW, minimum code size 2 (3-bit codes): clear (4), colour 1, end (5), packed LSB first.
    parts.push(Buffer.from([2, 2, 0x4c, 0x01, 0]));
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

/** The offset of the first image descriptor (0x2C) of a GIF, past its colour table and extensions. */
function gifImageDescriptor(gif: Uint8Array): number {
  const flags = gif[10] as number;
  let at = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);
  while (gif[at] === 0x21) {
    at += 2;
    while ((gif[at] as number) !== 0) at += 1 + (gif[at] as number);
    at++;
  }
  if (gif[at] !== 0x2c) throw new Error('no image descriptor');
  return at;
}

/** A little-endian TIFF of one 8-bit grey strip that declares `width` × `height` pixels. */
function tiffDeclaring(width: number, height: number): Buffer {
  const entries: [number, number, number][] = [
    [256, 4, width], // ImageWidth, LONG
    [257, 4, height], // ImageLength
    [258, 3, 8], // BitsPerSample, SHORT
    [259, 3, 1], // Compression: none
    [262, 3, 1], // PhotometricInterpretation: black is zero
    [273, 4, 0], // StripOffsets, patched below
    [277, 3, 1], // SamplesPerPixel
    [278, 4, height], // RowsPerStrip
    [279, 4, 16], // StripByteCounts
  ];
  const ifdAt = 8;
  const dataAt = ifdAt + 2 + entries.length * 12 + 4;
  const ifd = entries.map(([tag, type, value]) =>
    Buffer.concat([
      u16le(tag),
      u16le(type),
      u32le(1),
      type === 3 ? Buffer.concat([u16le(value), u16le(0)]) : u32le(tag === 273 ? dataAt : value),
    ]),
  );
  return Buffer.concat([
    Buffer.from('II*\0', 'latin1'),
    u32le(ifdAt),
    u16le(entries.length),
    ...ifd,
    u32le(0),
    Buffer.alloc(16, 0x80),
  ]);
}

/**
 * A HEIF file whose one image is HEVC-coded (item type `hvc1`, an `hvcC` configuration), built by
 * hand: the iPhone's format. Its coded data is random: a decoder without HEVC stops at the codec.
 */
function heicContainer(width: number, height: number): Buffer {
  const hvcC = box('hvcC', [
    Buffer.from([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5d, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0]),
  ]);
  const ispe = box('ispe', [u32be(width), u32be(height)], 0);
  const ipma = box('ipma', [u32be(1), u16be(1), Buffer.from([2, 0x81, 0x02])], 0);
  const iinf = box('iinf', [u16be(1), box('infe', [u16be(1), u16be(0), Buffer.from('hvc1\0', 'latin1')], 2)], 0);
  const coded = random(SEED + 7, 64);
  const meta = (mdatAt: number) =>
    box(
      'meta',
      [
        box('hdlr', [u32be(0), Buffer.from('pict', 'latin1'), Buffer.alloc(12), Buffer.from([0])], 0),
        box('pitm', [u16be(1)], 0),
        box(
          'iloc',
          [Buffer.from([0x44, 0x00]), u16be(1), u16be(1), u16be(0), u16be(1), u32be(mdatAt + 8), u32be(coded.length)],
          0,
        ),
        iinf,
        box('iprp', [box('ipco', [hvcC, ispe]), ipma]),
      ],
      0,
    );
  const ftyp = box('ftyp', [Buffer.from('heic', 'latin1'), u32be(0), Buffer.from('mif1heic', 'latin1')]);
  const mdatAt = ftyp.length + meta(0).length;
  return Buffer.concat([ftyp, meta(mdatAt), box('mdat', [coded])]);
}

// ---------------------------------------------------------------------------------------------
// The corpus

async function corpus(): Promise<{ drafts: Draft[]; capabilities: Record<string, boolean | string> }> {
  const drafts: Draft[] = [];
  const add = (
    file: string,
    what: string,
    data: Uint8Array,
    expect: Expectation,
    reason: string,
    extra: Partial<Draft> = {},
  ) => {
    drafts.push({ file, what, data, expect, reason, ...extra });
  };
  const hashed = (image?: Record<string, string | number>, more: { framesHashed?: number } = {}): Expectation => ({
    hash: true,
    algorithms: ALL,
    ...(image === undefined ? {} : { image }),
    ...more,
  });

  const jpeg = await still().jpeg({ quality: 85 }).toBuffer();
  const png = await smooth().png().toBuffer();
  const webp = await still().webp({ quality: 80 }).toBuffer();
  const gif = await smooth().gif().toBuffer();

  // --- Nothing, noise, and noise behind a signature -------------------------------------------
  add(
    'empty.bin',
    'zero bytes',
    Buffer.alloc(0),
    { error: 'ERR_UNSUPPORTED_FORMAT' },
    'Nothing to decode. Refused as not an image: the caller treats it as not checked, and an empty upload is not a picture anyway.',
  );
  add(
    'random-4k.bin',
    '4096 random bytes (mulberry32)',
    random(SEED, 4096),
    { error: 'ERR_UNSUPPORTED_FORMAT' },
    'No known signature: refused before any decoder runs, so no decoder is exposed to arbitrary bytes.',
  );
  add(
    'random-after-jpeg-signature.jpg',
    'JPEG start-of-image and APP0 marker bytes, then 2 kB of random bytes',
    Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), random(SEED + 1, 2048)]),
    DECODE,
    'The signature says JPEG, so the decoder runs; the data is not a JPEG and must fail as a decode error, typed, not a crash.',
  );
  add(
    'random-after-png-signature.png',
    'the 8-byte PNG signature, then 2 kB of random bytes',
    Buffer.concat([png.subarray(0, 8), random(SEED + 2, 2048)]),
    DECODE,
    'A PNG signature with no valid chunk after it: a decode error.',
  );
  add(
    'random-after-gif-header.gif',
    'GIF89a and a logical screen descriptor (160 × 120, no colour table), then 2 kB of random bytes',
    Buffer.concat([
      Buffer.from('GIF89a', 'latin1'),
      u16le(160),
      u16le(120),
      Buffer.from([0, 0, 0]),
      random(SEED + 3, 2048),
    ]),
    DECODE,
    'A GIF header with garbage for blocks: a decode error.',
  );
  add(
    'random-after-webp-header.webp',
    'a RIFF/WEBP header with the right size, then 2 kB of random bytes',
    Buffer.concat([
      Buffer.from('RIFF', 'latin1'),
      u32le(2048 + 4),
      Buffer.from('WEBP', 'latin1'),
      random(SEED + 4, 2048),
    ]),
    DECODE,
    'A WebP container holding no valid chunk: a decode error.',
  );
  add(
    'zip-then-jpeg.bin',
    'a ZIP archive, then a valid JPEG after it',
    Buffer.concat([zipArchive('readme.txt', Buffer.from('hello\n')), jpeg]),
    { error: 'ERR_UNSUPPORTED_FORMAT' },
    'What a file is, is decided by its first bytes, as a browser does: a picture buried after other data is not displayed as an image, so it is refused rather than searched for.',
  );

  // --- Truncated files -----------------------------------------------------------------------
  const sos = jpegMarker(jpeg, 0xda);
  const jpegCuts: [string, number, string][] = [
    ['jpeg-cut-at-3.jpg', 3, 'the first 3 bytes (SOI and one byte of the next marker)'],
    ['jpeg-cut-in-header.jpg', 60, 'the first 60 bytes: cut inside the header segments'],
    ['jpeg-cut-before-scan.jpg', sos, 'every header segment, cut just before the start-of-scan marker'],
    [
      'jpeg-cut-mid-scan.jpg',
      sos + Math.floor((jpeg.length - sos) / 2),
      'cut halfway through the entropy-coded scan data',
    ],
    ['jpeg-cut-no-eoi.jpg', jpeg.length - 2, 'whole but for the end-of-image marker (last 2 bytes)'],
  ];
  for (const [file, at, what] of jpegCuts)
    add(
      file,
      `a 160 × 120 baseline JPEG (${jpeg.length} bytes), ${what}`,
      jpeg.subarray(0, at),
      DECODE,
      'Truncated: a viewer may still show part of it, but the missing rows change the hash; refused (failOn warning) so the caller blocks or reviews it instead of trusting a partial hash.',
    );
  const idat = chunkOf(png, 'IDAT');
  const pngCuts: [string, number, string][] = [
    ['png-cut-signature.png', 8, 'the 8-byte signature only'],
    ['png-cut-in-ihdr.png', 20, 'cut inside the IHDR chunk'],
    ['png-cut-after-ihdr.png', 33, 'signature and IHDR, no image data'],
    ['png-cut-mid-idat.png', idat.at + 8 + Math.floor(idat.length / 2), 'cut halfway through the IDAT data'],
    ['png-cut-no-iend.png', png.length - 12, 'whole but for the IEND chunk'],
  ];
  for (const [file, at, what] of pngCuts) {
    if (file === 'png-cut-no-iend.png') {
      add(
        file,
        `a 96 × 72 PNG (${png.length} bytes), ${what}`,
        png.subarray(0, at),
        hashed({ format: 'png', width: 96, height: 72 }),
        "Every row of pixels is present and checked (the IDAT CRCs and the zlib stream end); only the end marker is missing. The hash is the whole picture's, so nothing is gained by refusing it, and libpng does not complain.",
      );
    } else {
      add(
        file,
        `a 96 × 72 PNG (${png.length} bytes), ${what}`,
        png.subarray(0, at),
        DECODE,
        'Truncated PNG: refused as a decode error (failOn warning), never hashed from partial rows.',
      );
    }
  }
  const webpCuts: [string, number, string][] = [
    ['webp-cut-riff-header.webp', 12, 'the 12-byte RIFF/WEBP header only'],
    ['webp-cut-in-chunk-header.webp', 16, 'cut inside the first chunk header'],
    ['webp-cut-mid-data.webp', Math.floor(webp.length / 2), 'cut halfway through the coded data'],
    ['webp-cut-last-bytes.webp', webp.length - 8, 'missing its last 8 bytes'],
  ];
  for (const [file, at, what] of webpCuts)
    add(
      file,
      `a 160 × 120 lossy WebP (${webp.length} bytes), ${what}`,
      webp.subarray(0, at),
      DECODE,
      'Truncated WebP: a decode error.',
    );
  const gifCuts: [string, number, string][] = [
    ['gif-cut-after-screen.gif', 13, 'header and logical screen descriptor only'],
    ['gif-cut-in-colour-table.gif', 13 + 100, 'cut inside the global colour table'],
    ['gif-cut-mid-image-data.gif', Math.floor(gif.length / 2), 'cut halfway through the LZW image data'],
  ];
  for (const [file, at, what] of gifCuts)
    add(
      file,
      `a 96 × 72 GIF (${gif.length} bytes), ${what}`,
      gif.subarray(0, at),
      DECODE,
      'Truncated GIF: a decode error.',
    );

  // --- Valid headers, corrupt data -------------------------------------------------------------
  const corruptScan = Buffer.from(jpeg);
  for (let i = sos + 40; i < corruptScan.length - 2; i += 97) corruptScan[i] = 0xff;
  add(
    'jpeg-corrupt-scan.jpg',
    'a 160 × 120 JPEG with every 97th byte of its scan data set to 0xFF (invalid markers inside the scan)',
    corruptScan,
    DECODE,
    'Headers valid, entropy-coded data corrupt: libjpeg warns and the decode is refused (failOn warning), typed.',
  );
  const badCrc = Buffer.from(png);
  badCrc[idat.at + 8 + 10] = (badCrc[idat.at + 8 + 10] as number) ^ 0x55;
  add(
    'png-corrupt-idat-crc.png',
    'a 96 × 72 PNG with one byte of IDAT changed and the CRC left as it was',
    badCrc,
    DECODE,
    'A critical chunk whose CRC does not match: libpng refuses it.',
  );
  const badDeflate = Buffer.concat([
    png.subarray(0, idat.at),
    pngChunk('IDAT', random(SEED + 5, idat.length)),
    png.subarray(idat.at + 12 + idat.length),
  ]);
  add(
    'png-corrupt-deflate.png',
    'a 96 × 72 PNG whose IDAT holds random bytes with a correct CRC',
    badDeflate,
    DECODE,
    'A valid container whose compressed data is not a zlib stream: a decode error.',
  );
  const lossless = await smooth().webp({ lossless: true }).toBuffer();
  const badVp8l = Buffer.from(lossless);
  for (let i = 40; i < badVp8l.length; i += 13) badVp8l[i] = (badVp8l[i] as number) ^ 0xa5;
  add(
    'webp-corrupt-lossless-data.webp',
    `a 96 × 72 lossless WebP (${lossless.length} bytes) with every 13th byte of its coded data flipped`,
    badVp8l,
    DECODE,
    'A valid header, corrupt lossless bitstream: libwebp detects it; a decode error.',
  );
  const descriptor = gifImageDescriptor(gif);
  const badLzw = Buffer.from(gif);
  // Data bytes only, sub-block lengths kept: all-ones codes the LZW dictionary does not hold yet.
  for (let at = descriptor + 11, n = 0; (badLzw[at] as number) !== 0; at += 1 + (badLzw[at] as number)) {
    for (let i = 1; i <= (badLzw[at] as number); i++) if (++n > 1500 && n % 7 === 0) badLzw[at + i] = 0xff;
  }
  add(
    'gif-corrupt-lzw.gif',
    'a 96 × 72 GIF with every 7th byte of its LZW data after the first 1500 set to 0xFF, sub-block lengths intact',
    badLzw,
    DECODE,
    'Codes the LZW dictionary does not hold: libnsgif reports invalid frame data, a decode error. (GIF has no checksum: a change that still makes valid codes decodes, as it does in a browser, and the hash is of what is shown.)',
  );

  // --- Decompression bombs ---------------------------------------------------------------------
  const pngBomb = pngDeclaring(50_000, 50_000);
  add(
    'png-declares-50000x50000.png',
    'a PNG of a few hundred bytes whose IHDR declares 50,000 × 50,000 8-bit grey pixels (2.5 gigapixels)',
    pngBomb,
    { error: 'ERR_IMAGE_TOO_LARGE' },
    'Refused from the header (maxPixels, default 100 million) before any pixel memory is allocated: 2.5 gigapixels would need 10 GB as RGBA.',
  );
  const huge = await sharp({ create: { width: 12_000, height: 12_000, channels: 3, background: '#fff' } })
    .png({ palette: true, colours: 2, compressionLevel: 9 })
    .toBuffer();
  add(
    'png-1bit-12000x12000.png',
    `a real 12,000 × 12,000 one-bit PNG of white, ${huge.length} bytes (144 megapixels: 576 MB as RGBA)`,
    huge,
    { error: 'ERR_IMAGE_TOO_LARGE' },
    "A genuine, highly compressible image above the pixel limit: refused from its header by the decoder's own limit, before decompression.",
  );
  const sof = jpegMarker(jpeg, 0xc0);
  const jpegBomb = Buffer.from(jpeg);
  jpegBomb.writeUInt16BE(65_500, sof + 5);
  jpegBomb.writeUInt16BE(65_500, sof + 7);
  add(
    'jpeg-declares-65500x65500.jpg',
    'the 160 × 120 JPEG with its SOF0 frame header changed to declare 65,500 × 65,500 pixels',
    jpegBomb,
    { error: 'ERR_IMAGE_TOO_LARGE' },
    '4.3 gigapixels declared: refused from the header.',
  );
  const gifBomb = Buffer.from(gif);
  gifBomb.writeUInt16LE(65_535, descriptor + 5);
  gifBomb.writeUInt16LE(65_535, descriptor + 7);
  add(
    'gif-frame-declares-65535x65535.gif',
    'the 96 × 72 GIF with its image descriptor changed to declare a 65,535 × 65,535 frame',
    gifBomb,
    { error: 'ERR_IMAGE_TOO_LARGE' },
    'The screen grows to hold the frame: 4.3 gigapixels, refused from the header.',
  );
  const bigScreen = Buffer.from(gif);
  bigScreen.writeUInt16LE(65_535, 6);
  bigScreen.writeUInt16LE(65_535, 8);
  add(
    'gif-screen-65535x65535.gif',
    'the 96 × 72 GIF with its logical screen changed to 65,535 × 65,535',
    bigScreen,
    hashed({ format: 'gif', width: 96, height: 72 }),
    "libnsgif (like browsers) takes a logical screen far larger than the frame for a broken encoder and uses the frame's size: nothing large is allocated, and the picture is hashed as it is shown.",
  );
  if (lossless.toString('latin1', 12, 16) !== 'VP8L') throw new Error('expected a simple lossless WebP');
  const webpBomb = Buffer.from(lossless);
  // VP8L header after the 0x2f signature: 14 bits width − 1, 14 bits height − 1, alpha, version.
  const bits = webpBomb.readUInt32LE(21);
  webpBomb.writeUInt32LE(((bits & ~0x0fffffff) | 16_382 | (16_382 << 14)) >>> 0, 21);
  add(
    'webp-declares-16383x16383.webp',
    'the lossless WebP with its VP8L header changed to declare 16,383 × 16,383 pixels (the largest libwebp accepts)',
    webpBomb,
    { error: 'ERR_IMAGE_TOO_LARGE' },
    '268 megapixels declared: refused from the header.',
  );
  add(
    'tiff-declares-100000x100000.tif',
    'a hand-made TIFF of 16 bytes of pixel data whose IFD declares 100,000 × 100,000 grey pixels',
    tiffDeclaring(100_000, 100_000),
    { error: 'ERR_IMAGE_TOO_LARGE' },
    '10 gigapixels declared: refused from the header.',
  );
  const textBomb = deflateSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
  const ztxt = pngChunk('zTXt', Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), textBomb]));
  const withZtxt = Buffer.concat([png.subarray(0, idat.at), ztxt, png.subarray(idat.at)]);
  add(
    'png-ztxt-16mb.png',
    `the 96 × 72 PNG with a zTXt text chunk of ${textBomb.length} bytes that inflates to 16 MiB of zeros`,
    withZtxt,
    hashed({ format: 'png', width: 96, height: 72 }),
    "The pixels are whole and the bomb is in metadata, which is not hashed: the picture is hashed like the same PNG without the chunk. Memory stays bounded: measured, this 16 MiB text is inflated (about 45 MB more, 0.2 s), while 256 MiB and 1 GiB ones (from 0.27 and 1 MB) are dropped by libpng's chunk limit without being inflated.",
  );
  const dots = gifOfDots(600, 400, 1000);
  add(
    'gif-1000-frames-600x400.gif',
    `a hand-made GIF of 1000 frames, each a single pixel drawn on a 600 × 400 screen (${dots.length} bytes; 240 million pixels if every frame were decoded)`,
    dots,
    hashed({ format: 'gif', width: 600, height: 400, frameCount: 1000 }, { framesHashed: 32 }),
    'A frame bomb: only the first maxFrames (default 32) frames are decoded, 7.7 megapixels, and the pixel limit caps the frames decoded together too. Its nearly flat frames give unusable perceptual hashes, reported as such; the result says 32 of 1000 frames were hashed.',
  );

  // --- Formats refused by default --------------------------------------------------------------
  const svg = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="160" height="120" viewBox="0 0 160 120">
  <image href="file:///etc/passwd" x="0" y="0" width="80" height="120"/>
  <image xlink:href="../images/${LISTED}" x="80" y="0" width="80" height="120"/>
</svg>
`;
  add(
    'svg-external-href.svg',
    `an SVG whose <image> elements reference local files (file:///etc/passwd and ../images/${LISTED})`,
    Buffer.from(svg),
    { error: 'ERR_UNSUPPORTED_FORMAT' },
    'An SVG can make its renderer read other files (and fetch URLs): it is refused by its signature before librsvg could see it. Uploads that need vector art should be rasterised elsewhere, in a sandbox.',
  );
  const xxe = `\ufeff<!-- drawing -->\n<!DOCTYPE svg [ <!ENTITY secret SYSTEM "file:///etc/hostname"> ]>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text y="10">&secret;</text></svg>\n`;
  add(
    'svg-bom-doctype-entity.svg',
    'an SVG behind a byte-order mark, a comment and a DOCTYPE declaring an external entity (file:///etc/hostname)',
    Buffer.from(xxe),
    { error: 'ERR_UNSUPPORTED_FORMAT' },
    'The SVG sniffer looks past the BOM, comments and DOCTYPE: refused, and no XML parser resolves the entity.',
  );
  add(
    'svgz-gzipped.svgz',
    'the SVG with external references, gzip-compressed (.svgz)',
    gzipSync(Buffer.from(svg), { level: 9 }),
    { error: 'ERR_UNSUPPORTED_FORMAT' },
    'Compressed SVG has no image signature: refused as an unknown format, never decompressed.',
  );
  const pdf = `%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 160 120] /Contents 4 0 R >> endobj
4 0 obj << /Length 35 >> stream
0.2 0.4 0.6 rg 10 10 140 100 re f
endstream endobj
trailer << /Root 1 0 R >>
%%EOF
`;
  add(
    'pdf-one-page.pdf',
    'a one-page PDF drawing a rectangle',
    Buffer.from(pdf),
    { error: 'ERR_UNSUPPORTED_FORMAT' },
    'PDF is a document format with scripts and external references, not an image upload: refused by signature, no PDF renderer runs.',
  );

  // --- Animations hiding a listed frame --------------------------------------------------------
  const innocuous = ['landscape-1600x1200.jpg', 'shapes-200x150.png', 'blobs-640x480.jpg', 'text-640x480.png'];
  const four = await animationFrames(4, 2, 160, 120, innocuous);
  add(
    'animated-listed-frame-2.gif',
    `an animated GIF of 4 frames of 160 × 120 (test vectors ${innocuous.slice(0, 2).join(', ')}, then ${LISTED}, then ${innocuous[3]}), the listed image at frame 2`,
    await sharp(four, { join: { animated: true } })
      .gif({ delay: 100 })
      .toBuffer(),
    hashed({ format: 'gif', width: 160, height: 120, frameCount: 4 }, { framesHashed: 4 }),
    'A listed image must be found on any frame, not only on the first one that a thumbnail shows: every frame up to maxFrames is hashed and the match names frame 2.',
    { listed: { image: LISTED, frame: 2, foundAtDefaults: true } },
  );
  add(
    'animated-listed-frame-2.webp',
    'the same 4 frames as an animated lossy WebP',
    await sharp(four, { join: { animated: true } })
      .webp({ quality: 80, delay: 100 })
      .toBuffer(),
    hashed({ format: 'webp', width: 160, height: 120, frameCount: 4 }, { framesHashed: 4 }),
    'As the GIF: the listed frame 2 is matched and named.',
    { listed: { image: LISTED, frame: 2, foundAtDefaults: true } },
  );
  const long = [
    ...(await Promise.all(Array.from({ length: 40 }, (_, i) => flatFrame(160, 120, i)))),
    ...(await animationFrames(1, 0, 160, 120, innocuous)),
  ];
  add(
    'animated-listed-frame-40.gif',
    'an animated GIF of 41 frames of 160 × 120: 40 flat colours, then the listed image at frame 40',
    await sharp(long, { join: { animated: true } })
      .gif({ delay: 40 })
      .toBuffer(),
    hashed({ format: 'gif', width: 160, height: 120, frameCount: 41 }, { framesHashed: 32 }),
    'The limit of the frame limit: with the default maxFrames of 32 the listed frame 40 is not reached, and the result says so (frameCount 41, 32 frames hashed) so the caller can treat the upload as checked in part; with maxFrames 41 it is matched at frame 40.',
    { listed: { image: LISTED, frame: 40, foundAtDefaults: false } },
  );
  const turned = await Promise.all((await animationFrames(2, 1, 160, 120, innocuous)).map((f) => storedFor(f, 6)));
  add(
    'animated-orientation-6.webp',
    'a 2-frame animated lossy WebP stored turned anticlockwise, with EXIF orientation 6 (display turned clockwise), the listed image at frame 1',
    await sharp(turned, { join: { animated: true } })
      .webp({ quality: 85, delay: 100 })
      .withMetadata({ orientation: 6 })
      .toBuffer(),
    hashed({ format: 'webp', width: 160, height: 120, orientation: 6, frameCount: 2 }, { framesHashed: 2 }),
    'sharp cannot turn a multi-page image ("Rotate is not supported for multi-page images"); each frame is turned on its own, so the frames hash as displayed, like a still image with the same tag, and the listed frame matches upright.',
    { listed: { image: LISTED, frame: 1, foundAtDefaults: true } },
  );

  // --- Colour modes and encodings ----------------------------------------------------------------
  add(
    'cmyk.jpg',
    'a 120 × 90 CMYK JPEG (4 components)',
    await still(120, 90).toColourspace('cmyk').jpeg({ quality: 85 }).toBuffer(),
    hashed({ format: 'jpeg', width: 120, height: 90 }),
    'Print workflows and some phones save CMYK: converted to sRGB and hashed.',
  );
  add(
    'png-16bit-rgb.png',
    'a 96 × 72 PNG of 16 bits per channel',
    await smooth().toColourspace('rgb16').png().toBuffer(),
    hashed({ format: 'png', width: 96, height: 72 }),
    'Reduced to 8 bits and hashed.',
  );
  add(
    'png-palette-16-colours.png',
    'a 96 × 72 palette PNG of 16 colours (4 bits a pixel)',
    await smooth().png({ palette: true, colours: 16 }).toBuffer(),
    hashed({ format: 'png', width: 96, height: 72 }),
    'Palette images are ordinary uploads: expanded and hashed.',
  );
  add(
    'png-grey-alpha.png',
    'a 96 × 72 two-channel PNG: 8-bit grey and alpha',
    await smooth().toColourspace('b-w').ensureAlpha(0.5).png().toBuffer(),
    hashed({ format: 'png', width: 96, height: 72 }),
    'Grey and alpha expanded to RGBA and hashed.',
  );
  add(
    'png-16bit-grey-alpha.png',
    'a 96 × 72 two-channel PNG: 16-bit grey and alpha',
    await smooth().toColourspace('grey16').ensureAlpha(0.5).png().toBuffer(),
    hashed({ format: 'png', width: 96, height: 72 }),
    'As 8-bit grey and alpha.',
  );
  add(
    'jpeg-progressive.jpg',
    'a 160 × 120 progressive JPEG',
    await still().jpeg({ quality: 85, progressive: true }).toBuffer(),
    hashed({ format: 'jpeg', width: 160, height: 120 }),
    'Progressive JPEG is common on the web: hashed.',
  );
  add(
    'webp-lossless-alpha.webp',
    'a 96 × 72 lossless WebP with a semi-transparent alpha channel',
    await smooth().ensureAlpha(0.6).webp({ lossless: true }).toBuffer(),
    hashed({ format: 'webp', width: 96, height: 72 }),
    'An ordinary upload with transparency: hashed with its alpha as the reference rule reads it (a transparent pixel counts as white).',
  );

  // --- EXIF orientation --------------------------------------------------------------------------
  const upright = await still(120, 80).png().toBuffer();
  for (let n = 1; n <= 8; n++) {
    const stored = await storedFor(upright, n);
    add(
      `exif-orientation-${n}.jpg`,
      `a JPEG whose stored pixels EXIF orientation ${n} turns into the same upright 120 × 80 picture`,
      await sharp(stored).jpeg({ quality: 90 }).withMetadata({ orientation: n }).toBuffer(),
      hashed({ format: 'jpeg', width: 120, height: 80, orientation: n }),
      'The orientation is applied before hashing, so all eight hash like the upright picture (a viewer shows them alike).',
    );
  }
  add(
    'png-exif-orientation-6.png',
    'a 64-colour palette PNG with an eXIf chunk of orientation 6, stored turned anticlockwise',
    await sharp(await storedFor(upright, 6))
      .png({ palette: true, colours: 64 })
      .withMetadata({ orientation: 6 })
      .toBuffer(),
    hashed({ format: 'png', width: 120, height: 80, orientation: 6 }),
    'PNG carries EXIF too: applied.',
  );
  add(
    'webp-exif-orientation-6.webp',
    'a lossy WebP with an EXIF chunk of orientation 6, stored turned anticlockwise',
    await sharp(await storedFor(upright, 6))
      .webp({ quality: 90 })
      .withMetadata({ orientation: 6 })
      .toBuffer(),
    hashed({ format: 'webp', width: 120, height: 80, orientation: 6 }),
    'WebP carries EXIF too: applied.',
  );
  const orientation9 = await sharp(upright).jpeg({ quality: 90 }).withMetadata({ orientation: 8 }).toBuffer();
  // libexif writes little-endian TIFF: tag 0x0112, type SHORT (3), count 1, then the value.
  const tag = orientation9.indexOf(Buffer.from([0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x00]));
  if (tag < 0) throw new Error('orientation tag not found');
  orientation9.writeUInt16LE(9, tag + 8);
  add(
    'exif-orientation-9.jpg',
    'an upright 120 × 80 JPEG whose EXIF orientation tag holds 9, a value the standard does not define',
    orientation9,
    hashed({ format: 'jpeg', width: 120, height: 80, orientation: 1 }),
    'An undefined orientation is ignored (as viewers do) and reported as 1, none applied: the picture is hashed as stored.',
  );

  // --- AVIF and HEIF -----------------------------------------------------------------------------
  const capabilities: Record<string, boolean | string> = {};
  let avif: Buffer | undefined;
  try {
    avif = await still().avif({ quality: 60, effort: 2 }).toBuffer();
    capabilities.avifEncode = true;
  } catch (error) {
    capabilities.avifEncode = `unavailable: ${(error as Error).message}`;
  }
  try {
    await still().heif({ compression: 'hevc' }).toBuffer();
    capabilities.hevcEncode = true;
  } catch (error) {
    capabilities.hevcEncode = `unavailable: ${(error as Error).message}`;
  }
  if (avif !== undefined) {
    add(
      'avif.avif',
      'a 160 × 120 AVIF (AV1 in HEIF, brand avif)',
      avif,
      hashed({ format: 'avif', width: 160, height: 120 }),
      'AVIF is decoded by libheif with AV1 (aom): hashed.',
    );
    add(
      'heif-av1-brand-mif1.heif',
      'the AVIF with its brands changed from avif to mif1: a generic HEIF file holding an AV1 image',
      replaceFourCC(avif, 'avif', 'mif1'),
      hashed({ format: 'heif', width: 160, height: 120 }),
      'A HEIF by its brands, AV1-coded inside: libheif decodes it, hashed.',
    );
  }
  add(
    'heic-hevc-unsupported.heic',
    'a hand-made HEIF (brand heic) whose image is an HEVC item (hvc1) of 160 × 120, coded data random',
    heicContainer(160, 120),
    { error: 'ERR_UNSUPPORTED_FORMAT' },
    'The iPhone format. sharp\'s prebuilt libvips has no HEVC decoder (patents), so such an upload cannot be decoded here whatever its data: it is refused as an unsupported format, not mistaken for a corrupt file, so that a service can tell "convert HEIC before checking" from "damaged upload". With a libvips built with libde265 it would decode.',
  );

  // --- Polyglots ---------------------------------------------------------------------------------
  add(
    'polyglot-jpeg-zip.jpg',
    'the 160 × 120 JPEG with a ZIP archive appended after its end-of-image marker (a valid JPEG and a valid ZIP)',
    Buffer.concat([jpeg, zipArchive('payload.txt', Buffer.from('not an image\n'))]),
    hashed({ format: 'jpeg', width: 160, height: 120 }),
    "Viewers show the JPEG, so it is hashed as one: its perceptual hashes are those of the clean JPEG, while its exact hashes cover every byte, trailer included (so the clean file's MD5 on a list does not match: the perceptual hashes do).",
  );
  add(
    'polyglot-png-html.png',
    'the 96 × 72 PNG with an HTML document and script appended after IEND',
    Buffer.concat([png, Buffer.from('<html><script>alert(document.domain)</script></html>\n')]),
    hashed({ format: 'png', width: 96, height: 72 }),
    "Data after IEND is ignored by decoders and viewers: hashed as the PNG. Serving it as HTML is the caller's problem (content type), not the hash's.",
  );

  return { drafts, capabilities };
}

async function main(): Promise<void> {
  const { drafts, capabilities } = await corpus();
  await mkdir(OUT, { recursive: true });
  for (const name of await readdir(OUT)) await rm(join(OUT, name));
  const files: HostileEntry[] = [];
  for (const { data, ...entry } of drafts) {
    await writeFile(join(OUT, entry.file), data);
    files.push({ ...entry, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  }
  const manifest = {
    generator: 'test-vectors/hostile.ts',
    seed: SEED,
    note:
      `Written by sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}) and the byte surgery of the generator. ` +
      'Each expectation is of hashImage at its defaults (every algorithm, maxBytes 50 MiB, maxPixels 100,000,000, maxFrames 32, timeout 20 s, failOn warning); ' +
      '`listed` names the test vector an animation hides and the frame at which matchImage finds it.',
    capabilities,
    files,
  };
  await writeFile(join(OUT, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const total = files.reduce((n, f) => n + f.bytes, 0);
  for (const f of files)
    console.log(
      `${f.file.padEnd(36)} ${String(f.bytes).padStart(7)} B  ${'error' in f.expect ? f.expect.error : `hash${f.expect.framesHashed === undefined ? '' : ` (${f.expect.framesHashed} frames)`}`}`,
    );
  console.log(`${files.length} files, ${total} bytes; capabilities ${JSON.stringify(capabilities)}`);
}

await main();
