/**
 * Question: how far are hashwarden's PDQ hashes and qualities from Meta's C++ reference
 * (pdq-photo-hasher) on the images in ../shared — the reference set (reference/pdq, with its
 * dihedral hashes) and the 149 photos (photos/pdq-reference-cpp.csv)?
 *
 * Pixels are decoded as the reference tool decodes them (src/testing/pdq-reference.ts: stored
 * pixels, 8 bits); the hashing, with the reference's reduction to 512 × 512 above 512 px, is
 * `pdqRgba` (src/algorithms/pdq.ts). Prints the distance distribution, max, mean, quality differences, every
 * image that is not bit-exact and every image that cannot be decoded. Then the same photos through
 * the library's own pipeline, `hashImage` at `fast` and `full` resolution: it applies EXIF
 * orientation (the reference does not) and, at `fast`, decodes JPEGs scaled down. Not a timed
 * benchmark.
 *
 * Run: npx tsx bench/pdq-conformance.ts   (needs ../shared)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hammingDistance } from '../src/algorithms/hex.js';
import { pdq, pdqDihedralHashes, pdqRgba } from '../src/algorithms/pdq.js';
import { hashImage } from '../src/image/index.js';
import { referencePixels } from '../src/testing/pdq-reference.js';
import { SHARED } from '../src/testing/shared.js';

if (!existsSync(SHARED)) {
  console.error(`pdq-conformance: ${SHARED} not found`);
  process.exit(2);
}

/** `hash,quality,file` lines (no header), and optionally 8 dihedral hashes before quality. */
function readCsv(path: string): { hashes: string[]; quality: number; file: string }[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const cells = line.split(',');
      return {
        hashes: cells.slice(0, -2),
        quality: Number(cells[cells.length - 2]),
        file: cells[cells.length - 1] as string,
      };
    });
}

async function run(name: string, dir: string, csv: string, dihedralCsv?: string): Promise<void> {
  const rows = readCsv(csv);
  const dihedral = new Map(
    dihedralCsv === undefined ? [] : readCsv(dihedralCsv).map((r) => [r.file, r.hashes] as const),
  );
  const distances: number[] = [];
  const notes: string[] = [];
  let qualityDiffers = 0;
  let dihedralMax = 0;
  for (const row of rows) {
    let pixels: Awaited<ReturnType<typeof referencePixels>>;
    try {
      pixels = await referencePixels(join(dir, row.file));
    } catch (error) {
      notes.push(`${row.file}: not decoded (${(error as Error).message.split('\n')[0]})`);
      continue;
    }
    const { hash, dct, quality } = pdqRgba(pixels);
    const distance = hammingDistance(hash, pdq.parse(row.hashes[0] as string));
    distances.push(distance);
    if (quality !== row.quality) qualityDiffers++;
    const expected = dihedral.get(row.file);
    const ownDihedral =
      expected === undefined
        ? 0
        : Math.max(...pdqDihedralHashes(dct).map((h, i) => hammingDistance(h, pdq.parse(expected[i] as string))));
    dihedralMax = Math.max(dihedralMax, ownDihedral);
    if (distance > 0 || quality !== row.quality || ownDihedral > 0)
      notes.push(
        `${row.file}: ${distance} bits, quality ${quality} (reference ${row.quality})${expected === undefined ? '' : `, dihedral max ${ownDihedral}`}`,
      );
  }
  const histogram = new Map<number, number>();
  for (const d of distances) histogram.set(d, (histogram.get(d) ?? 0) + 1);
  const mean = distances.reduce((a, b) => a + b, 0) / Math.max(1, distances.length);
  console.log(`## ${name}: ${rows.length} images, ${distances.length} hashed`);
  console.log(
    `distance → images: ${[...histogram]
      .sort((a, b) => a[0] - b[0])
      .map(([d, n]) => `${d}: ${n}`)
      .join(', ')}`,
  );
  console.log(
    `max ${Math.max(0, ...distances)}, mean ${mean.toFixed(2)} bits; quality differs on ${qualityDiffers}${dihedralCsv === undefined ? '' : `; dihedral max ${dihedralMax}`}`,
  );
  for (const note of notes) console.log(`- ${note}`);
  console.log('');
}

await run(
  'reference/pdq',
  join(SHARED, 'reference', 'pdq', 'images'),
  join(SHARED, 'reference', 'pdq', 'reference-cpp.csv'),
  join(SHARED, 'reference', 'pdq', 'reference-cpp-dihedral.csv'),
);
await run('photos', join(SHARED, 'photos'), join(SHARED, 'photos', 'pdq-reference-cpp.csv'));

/** The photos through hashImage: distances to the reference, oriented photos counted apart. */
async function pipeline(resolution: 'fast' | 'full'): Promise<void> {
  const dir = join(SHARED, 'photos');
  const rows = readCsv(join(dir, 'pdq-reference-cpp.csv'));
  const plain: number[] = [];
  const oriented: string[] = [];
  const notes: string[] = [];
  for (const row of rows) {
    let result: Awaited<ReturnType<typeof hashImage>>;
    try {
      result = await hashImage(join(dir, row.file), { algorithms: ['pdq'], resolution });
    } catch (error) {
      notes.push(`${row.file}: ${(error as { code?: string }).code ?? 'error'}`);
      continue;
    }
    const distance = hammingDistance(pdq.parse(result.hashes.pdq as string), pdq.parse(row.hashes[0] as string));
    if (result.image.orientation !== 1)
      oriented.push(`${row.file} (orientation ${result.image.orientation}): ${distance}`);
    else plain.push(distance);
  }
  const over10 = plain.filter((d) => d > 10).length;
  const mean = plain.reduce((a, b) => a + b, 0) / Math.max(1, plain.length);
  console.log(
    `## photos through hashImage, resolution ${resolution}: ${plain.length} without EXIF rotation, ${oriented.length} rotated`,
  );
  console.log(
    `without rotation: max ${Math.max(0, ...plain)}, mean ${mean.toFixed(2)} bits, ${plain.filter((d) => d === 0).length} bit-exact, ${over10} over 10`,
  );
  console.log(`rotated by EXIF (the reference hashes the stored pixels): ${oriented.join('; ')}`);
  for (const note of notes) console.log(`- ${note}`);
  console.log('');
}

await pipeline('full');
await pipeline('fast');
