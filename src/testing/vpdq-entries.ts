/**
 * Generated vPDQ frames and entries for the list, store and PostgreSQL tests: random PDQ hex,
 * qualities and timestamps (no video, no FFmpeg), as python-threatexchange's signal text would
 * carry them, seeded so a failure repeats.
 */
import fc from 'fast-check';
import type { VpdqFeature } from '../algorithms/vpdq.js';
import { formatVpdqJson } from '../algorithms/vpdq.js';
import { normalizeEntry, type ListEntry } from '../lists/entry.js';
import { mulberry32 } from './prng.js';

/**
 * `count` frames one a second from `seed`: random 256-bit hashes, qualities 0–100 (some under
 * pytx's 50, as real clips have), timestamps as a 1 fps sampler gives them.
 */
export function vpdqFrames(count: number, seed = 1): VpdqFeature[] {
  const random = mulberry32(seed);
  const frames: VpdqFeature[] = [];
  for (let i = 0; i < count; i++) {
    let hash = '';
    for (let w = 0; w < 8; w++)
      hash += Math.floor(random() * 2 ** 32)
        .toString(16)
        .padStart(8, '0');
    frames.push({ hash, quality: Math.floor(random() * 101), seconds: i + Math.floor(random() * 1000) / 1000 });
  }
  return frames;
}

/** A vPDQ entry of list `list` with `count` generated frames; `extra` sets id, label or metadata. */
export function vpdqEntry(
  list: string,
  count: number,
  seed = 1,
  extra: Partial<Pick<ListEntry, 'id' | 'label' | 'metadata'>> = {},
): ListEntry {
  return normalizeEntry({ list, algorithm: 'vpdq', hash: formatVpdqJson(vpdqFrames(count, seed)), ...extra });
}

/** fast-check frames of one video: 0 to `maxFrames` of random hex, quality and timestamp. */
export function vpdqFrameArrays(maxFrames = 4): fc.Arbitrary<VpdqFeature[]> {
  return fc.array(
    fc.record({
      hash: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
      quality: fc.integer({ min: 0, max: 100 }),
      seconds: fc.integer({ min: 0, max: 7_200_000 }).map((ms) => ms / 1000),
    }),
    { maxLength: maxFrames },
  );
}
