/**
 * PNG bytes built by hand (PNG specification, 3rd edition: chunk layout and CRC-32): chunks with
 * their CRC, and a little PNG declaring any size, a decompression bomb's header. Shared by the
 * hostile-file generator and the decoding tests.
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/**
 * CRC-32 (the PNG and zlib polynomial) of `bytes`. Not `zlib.crc32`: Node has it only from 20.15.
 *
 * @example
 * ```ts
 * crc32(Buffer.from('IEND')); // 0xae426082
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A PNG chunk: its length, type, body and CRC.
 *
 * @example
 * ```ts
 * const iend = pngChunk('IEND', Buffer.alloc(0));
 * ```
 */
export function pngChunk(type: string, body: Uint8Array): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), body]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/**
 * A valid little PNG (8-bit grey, 1 KiB of zeros deflated) that declares `width × height`
 * pixels: a decompression bomb's header.
 *
 * @example
 * ```ts
 * const bomb = pngDeclaring(50_000, 50_000); // a few hundred bytes, 2.5 gigapixels declared
 * ```
 */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
