/**
 * The robustness benchmark's small version, on the generated test vectors, at the shipped
 * defaults (matchImage: default thresholds, dihedral and trim on): floors on the true-positive
 * rate of mild edits, a mirrored and a letterboxed copy of every original, zero false positives
 * among the test vectors, and no match for the low-information ones. The full run on the shared
 * photos is `npm run bench:robustness` (docs/thresholds.md).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashImage } from '../src/image/index.js';
import { Matcher } from '../src/matcher/matcher.js';

const DIR = fileURLToPath(new URL('./images/', import.meta.url));
const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('./manifest.json', import.meta.url)), 'utf8')) as {
  images: { file: string; kind: string }[];
};
const originals = manifest.images.filter((i) => i.kind === 'original').map((i) => i.file);
const edits = manifest.images.filter((i) => i.kind === 'edit').map((i) => i.file);
const lowInformation = manifest.images.filter((i) => i.kind === 'low-information').map((i) => i.file);
/** The original an edit was made from: its name before `--`, with the original's extension. */
const originalOf = (file: string): string | undefined =>
  originals.find((o) => o.replace(/\.[a-z]+$/, '') === file.split('--')[0]);
const MILD = ['resize50', 'jpeg60', 'watermark', 'bright15'];

describe('robustness on the test vectors, at the shipped defaults', () => {
  let matcher: Matcher;
  /** Originals with a usable hash, per algorithm: the listed ones. */
  const listed = { pdq: new Set<string>(), blockhash: new Set<string>() };

  beforeAll(async () => {
    const entries = [];
    for (const file of originals) {
      const { hashes, unusable } = await hashImage(readFileSync(DIR + file), { algorithms: ['pdq', 'blockhash'] });
      for (const algorithm of ['pdq', 'blockhash'] as const) {
        if (unusable[algorithm] !== undefined) continue;
        listed[algorithm].add(file);
        entries.push({ list: 'vectors', id: `${algorithm}:${file}`, algorithm, hash: hashes[algorithm] as string });
      }
    }
    matcher = Matcher.fromEntries(entries);
  });

  /** Which listed originals `bytes` matches, per algorithm. */
  async function matched(bytes: Buffer): Promise<Record<'pdq' | 'blockhash', string[]>> {
    const { matches } = await matcher.matchImage(bytes);
    const out = { pdq: [] as string[], blockhash: [] as string[] };
    for (const m of matches) out[m.algorithm as 'pdq' | 'blockhash'].push(m.entryId.slice(m.entryId.indexOf(':') + 1));
    return out;
  }

  it('lists most originals: the guards refuse only the featureless ones', () => {
    // PDQ refuses the smooth gradients, the soft blobs and the tall strip (quality below 50);
    // blockhash the gradient (a smooth shading) and two flat shapes on a plain ground (a plain layout).
    expect(listed.pdq.size).toBeGreaterThanOrEqual(11);
    expect(listed.blockhash.size).toBeGreaterThanOrEqual(13);
  });

  it('matches mild edits of listed originals: PDQ at least 15 of 16, blockhash at least 18 of 20', async () => {
    const hits = { pdq: 0, blockhash: 0 };
    const tried = { pdq: 0, blockhash: 0 };
    for (const file of edits.filter((e) => MILD.some((m) => e.includes(`--${m}.`)))) {
      const source = originalOf(file) as string;
      const found = await matched(readFileSync(DIR + file));
      for (const algorithm of ['pdq', 'blockhash'] as const) {
        if (!listed[algorithm].has(source)) continue;
        tried[algorithm]++;
        if (found[algorithm].includes(source)) hits[algorithm]++;
      }
    }
    expect(tried).toEqual({ pdq: 16, blockhash: 20 });
    expect(hits.pdq).toBeGreaterThanOrEqual(15);
    expect(hits.blockhash).toBeGreaterThanOrEqual(18);
  });

  it('matches a letterboxed and a mirrored copy of every listed original', async () => {
    const misses = { mirrored: { pdq: 0, blockhash: 0 }, letterboxed: { pdq: 0, blockhash: 0 } };
    for (const file of originals) {
      const source = readFileSync(DIR + file);
      const mirrored = await sharp(source).flop().png().toBuffer();
      const { width = 0, height = 0 } = await sharp(source).metadata();
      const letterboxed = await sharp(source)
        .extend({
          top: Math.round(height / 10),
          bottom: Math.round(height / 10),
          left: Math.round(width / 10),
          right: Math.round(width / 10),
          background: '#000',
        })
        .png()
        .toBuffer();
      for (const [name, bytes] of [
        ['mirrored', mirrored],
        ['letterboxed', letterboxed],
      ] as const) {
        const found = await matched(bytes);
        for (const algorithm of ['pdq', 'blockhash'] as const) {
          if (listed[algorithm].has(file) && !found[algorithm].includes(file)) misses[name][algorithm]++;
        }
      }
    }
    // Hashed from the moved pixels (pdqRgbaDihedral), PDQ's mirrored hashes catch even text, a thin
    // banner and a checkerboard, whose hard edges its coefficients alone put beyond 31 bits.
    expect(misses).toEqual({ mirrored: { pdq: 0, blockhash: 0 }, letterboxed: { pdq: 0, blockhash: 0 } });
  });

  it('matches no test vector to an original it was not made from, and no low-information one to anything', async () => {
    for (const file of [...originals, ...edits, ...lowInformation]) {
      const own = originals.includes(file) ? file : originalOf(file);
      const found = await matched(readFileSync(DIR + file));
      for (const algorithm of ['pdq', 'blockhash'] as const) {
        expect(
          found[algorithm].filter((o) => o !== own),
          `${file} by ${algorithm}`,
        ).toEqual([]);
      }
    }
  });
});
