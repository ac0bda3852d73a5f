/**
 * The upload and the lists of the benches about calls (input-copy, burst): a 1000 × 800 PNG of
 * seeded RGB noise (2.4 MB), and 1,000 random PDQ and 1,000 random blockhash entries, the same on
 * every run.
 */
import sharp from 'sharp';
import type { ListEntryInput } from '../src/index.js';
import { mulberry32 } from '../src/testing/prng.js';

/** `bytes` seeded random bytes. */
export function noise(bytes: number, seed: number): Buffer {
  const random = mulberry32(seed);
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** The upload: a 1000 × 800 PNG of seeded RGB noise. */
export function noisePng(): Promise<Buffer> {
  return sharp(noise(1000 * 800 * 3, 7), { raw: { width: 1000, height: 800, channels: 3 } })
    .png()
    .toBuffer();
}

/** 1,000 random PDQ and 1,000 random blockhash entries in one list. */
export function randomEntries(): ListEntryInput[] {
  return Array.from({ length: 2000 }, (_, i) => ({
    id: `e${i}`,
    list: 'bench',
    algorithm: i % 2 === 0 ? 'pdq' : 'blockhash',
    hash: noise(32, 1000 + i).toString('hex'),
  }));
}
