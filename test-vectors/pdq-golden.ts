/**
 * Writes pdq-golden.json: PDQ hash, quality and the 8 dihedral hashes (each from the moved pixels) of every committed test
 * vector, as hashwarden's `hashImage` computes them at full resolution (EXIF applied, no ICC).
 * Provenance: this implementation, shown bit-exact with Meta's C++ reference on the reference set
 * and the shared photos (docs/pdq.md) — the file guards against regressions; it is not an
 * independent oracle. Regenerate only when a change to PDQ is intended, and review the diff.
 *
 * Run: npx tsx test-vectors/pdq-golden.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashImage } from '../src/image/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const manifest = JSON.parse(readFileSync(join(HERE, 'manifest.json'), 'utf8')) as { images: { file: string }[] };
const images = [];
for (const { file } of manifest.images) {
  const result = await hashImage(join(HERE, 'images', file), {
    algorithms: ['pdq'],
    resolution: 'full',
    dihedral: true,
  });
  images.push({ file, pdq: result.hashes.pdq, quality: result.quality.pdq, dihedral: result.dihedral?.pdq });
}
const golden = {
  provenance:
    'hashwarden hashImage(file, { algorithms: ["pdq"], resolution: "full", dihedral: true }); bit-exact with the C++ reference on ../shared (docs/pdq.md); written by test-vectors/pdq-golden.ts',
  images,
};
writeFileSync(join(HERE, 'pdq-golden.json'), `${JSON.stringify(golden, null, 1)}\n`);
console.log(`pdq-golden.json: ${images.length} images`);
