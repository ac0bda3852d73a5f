/**
 * Question: how large must the decoded image be for blockhash? Compares, on the blockhash
 * reference images and the shared photos, the hash from a full decode with the hash from JPEG
 * decodes scaled down to keep 64/128/256 px on the short side (`fast` ships 256), and the hash
 * after ICC conversion to sRGB (which the reference tools do not do). Prints markdown tables:
 * distance to the published reference hashes per reference image, and distance to the full
 * decode over all images, with the time each variant took in the same run.
 *
 * Run: npm run bench:resolution
 */
import { bmvbhash } from 'blockhash-core';
import sharp, { type Sharp } from 'sharp';
import { blockhash, blockhashRgba, formatHex, hammingDistance } from '../src/index.js';
import { hashImage } from '../src/image/index.js';
import {
  blockhashReferenceImages,
  describeCorpus,
  environment,
  sharedPhotos,
  testVectorImages,
  type CorpusImage,
} from './corpus.js';

type Variant = (image: CorpusImage) => Promise<string>;

const INPUT = { ignoreIcc: true, autoOrient: true, failOn: 'warning' } as const;

async function rawHash(pipeline: Sharp): Promise<string> {
  const { data, info } = await pipeline.toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return formatHex(blockhashRgba({ data, width: info.width, height: info.height }));
}

/** The `fast` decode with another minimum side, mirroring src/image/decode.ts. */
function scaledJpeg(minSide: number): Variant {
  return async ({ bytes }) => {
    const meta = await sharp(bytes, INPUT).metadata();
    const width = meta.autoOrient?.width ?? meta.width ?? 0;
    const height = meta.autoOrient?.height ?? meta.height ?? 0;
    let scale = 1;
    if (meta.format === 'jpeg') while (scale < 8 && Math.min(width, height) / (scale * 2) >= minSide) scale *= 2;
    let pipeline = sharp(bytes, INPUT);
    if (scale > 1) pipeline = pipeline.resize(Math.ceil(width / scale), Math.ceil(height / scale), { fit: 'fill' });
    return rawHash(pipeline);
  };
}

const variants: Record<string, Variant> = {
  'full (hashwarden resolution: full)': async ({ bytes }) =>
    (await hashImage(bytes, { algorithms: ['blockhash'], resolution: 'full' })).hashes.blockhash!,
  'fast (hashwarden default, ≥256 px)': async ({ bytes }) =>
    (await hashImage(bytes, { algorithms: ['blockhash'] })).hashes.blockhash!,
  'scaled JPEG ≥128 px': scaledJpeg(128),
  'scaled JPEG ≥64 px': scaledJpeg(64),
  'full, ICC converted to sRGB': ({ bytes }) => rawHash(sharp(bytes, { autoOrient: true, failOn: 'warning' })),
  'naive: blockhash-core on full decode': async ({ bytes }) => {
    const { data, info } = await sharp(bytes, INPUT).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return bmvbhash({ data, width: info.width, height: info.height }, 16);
  },
};

function distance(a: string, b: string): number {
  return hammingDistance(blockhash.parse(a), blockhash.parse(b));
}

function stats(values: readonly number[]): string {
  if (values.length === 0) return 'n/a';
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return `max ${Math.max(...values)}, mean ${mean.toFixed(2)}, >3 bits: ${values.filter((v) => v > 3).length}`;
}

const references = blockhashReferenceImages();
const photos = sharedPhotos();
const vectors = testVectorImages();
console.log(`# blockhash decode resolution — ${await environment()}`);
console.log(describeCorpus({ 'blockhash reference': references, 'shared photos': photos, 'test vectors': vectors }));

const all: CorpusImage[] = [...references, ...photos, ...vectors];
// One untimed pass first, so the first variant does not pay for cold caches and JIT alone.
for (const image of all) await variants['full (hashwarden resolution: full)']!(image).catch(() => null);
const hashes = new Map<string, (string | null)[]>();
const seconds = new Map<string, number>();
for (const [name, variant] of Object.entries(variants)) {
  const out: (string | null)[] = [];
  const start = performance.now();
  for (const image of all) out.push(await variant(image).catch(() => null));
  seconds.set(name, (performance.now() - start) / 1000);
  hashes.set(name, out);
}
const full = hashes.get('full (hashwarden resolution: full)')!;
const failed = all.filter((_, i) => full[i] === null).map((i) => `${i.set}/${i.name}`);
if (failed.length > 0)
  console.log(`\nNot decodable (refused by every variant's failOn: 'warning'): ${failed.join(', ')}`);

if (references.length > 0) {
  console.log('\n## Distance to the published reference hashes (method 2, 256 bits)\n');
  const names = Object.keys(variants);
  console.log(`| image | ${names.join(' | ')} |`);
  console.log(`|---|${names.map(() => '---:').join('|')}|`);
  references.forEach((ref, i) => {
    console.log(
      `| ${ref.name.replace('images/', '')} | ${names
        .map((n) => {
          const h = hashes.get(n)![i];
          return h ? distance(h, ref.expected) : 'error';
        })
        .join(' | ')} |`,
    );
  });
  const summary = names.map((n) =>
    stats(
      references
        .map((_ref, i) => hashes.get(n)![i])
        .flatMap((h, i) => (h ? [distance(h, references[i]!.expected)] : [])),
    ),
  );
  console.log(`| **max / mean** | ${summary.join(' | ')} |`);
}

console.log('\n## Distance to the full decode per image set, and time for all images in one run\n');
const sets = [...new Set(all.map((i) => i.set))];
console.log(
  `| variant | ${sets.map((set) => `${set}: distance to full decode`).join(' | ')} | seconds (${all.length} images) | images/s |`,
);
console.log(`|---|${sets.map(() => '---').join('|')}|---:|---:|`);
for (const [name, out] of hashes) {
  const perSet = sets.map((set) =>
    stats(out.flatMap((h, i) => (h && full[i] && all[i]!.set === set ? [distance(h, full[i]!)] : []))),
  );
  const s = seconds.get(name)!;
  console.log(`| ${name} | ${perSet.join(' | ')} | ${s.toFixed(2)} | ${(all.length / s).toFixed(1)} |`);
}
const outliers = all.flatMap((image, i) => {
  const fast = hashes.get('fast (hashwarden default, ≥256 px)')![i];
  return fast && full[i] && distance(fast, full[i]!) > 3
    ? [`${image.set}/${image.name} (${distance(fast, full[i]!)} bits)`]
    : [];
});
console.log(`\nfast vs full above 3 bits: ${outliers.length === 0 ? 'none' : outliers.join(', ')}`);
