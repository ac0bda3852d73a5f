/**
 * Question: what does PDQ cost on top of decoding? images/s for PDQ alone, blockhash alone and
 * both from one decode (`hashImage`), against the decode floor — sharp decoding to the size PDQ
 * works from, here the whole image (PDQ's reference samples the full decode, so `hashImage` decodes
 * JPEGs whole when PDQ is wanted), with the options hashwarden decodes with and no hashing — on the
 * same images in one run. Target of issue 4: both hashes ≤ 1.3× the floor's time.
 * One tinybench iteration hashes the whole set; images/s = set size / median iteration time.
 *
 * Run: npx tsx bench/pdq.bench.ts   (ITERATIONS=5 by default)
 */
import sharp from 'sharp';
import { Bench } from 'tinybench';
import { hashImage, resolveImageOptions } from '../src/image/index.js';
import { describeCorpus, environment, sharedPhotos, testVectorImages, type CorpusImage } from './corpus.js';

const ITERATIONS = Number(process.env.ITERATIONS ?? 5);
const INPUT = { ignoreIcc: true, autoOrient: true, failOn: 'warning' } as const;
const FLOOR = 'decode floor: whole image to RGBA';
const BOTH = 'PDQ + blockhash, one decode';

const pipelines: Record<string, (bytes: Buffer) => Promise<unknown>> = {
  [FLOOR]: (bytes) => sharp(bytes, INPUT).toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer(),
  'PDQ alone': (bytes) => hashImage(bytes, resolveImageOptions({ algorithms: ['pdq'] })),
  'blockhash alone (fast: scaled JPEG decode)': (bytes) => hashImage(bytes, resolveImageOptions({ algorithms: ['blockhash'] })),
  [BOTH]: (bytes) => hashImage(bytes, resolveImageOptions({ algorithms: ['pdq', 'blockhash'] })),
  'PDQ + blockhash + 8 dihedral each': (bytes) => hashImage(bytes, resolveImageOptions({ algorithms: ['pdq', 'blockhash'], dihedral: true })),
};

async function runSet(name: string, images: readonly CorpusImage[]): Promise<void> {
  const usable: CorpusImage[] = [];
  for (const image of images) {
    const ok = await Promise.all(Object.values(pipelines).map((p) => p(image.bytes).then(() => true, () => false)));
    if (ok.every(Boolean)) usable.push(image);
  }
  const bench = new Bench({ iterations: ITERATIONS, time: 0, warmupIterations: 1, warmupTime: 0 });
  for (const [label, pipeline] of Object.entries(pipelines)) {
    bench.add(label, async () => {
      for (const image of usable) await pipeline(image.bytes);
    });
  }
  await bench.run();
  const rate = new Map<string, number>();
  for (const task of bench.tasks) {
    if (task.result.state !== 'completed') throw new Error(`${task.name}: ${task.result.state}`);
    rate.set(task.name, usable.length / (task.result.latency.p50 / 1000));
  }
  const floor = rate.get(FLOOR) as number;
  console.log(`\n## ${name}: ${usable.length} images${images.length > usable.length ? ` (${images.length - usable.length} refused by failOn 'warning', left out)` : ''}\n`);
  console.log('| pipeline | images/s | time ÷ decode floor |');
  console.log('|---|---:|---:|');
  for (const label of Object.keys(pipelines)) {
    const r = rate.get(label) as number;
    console.log(`| ${label} | ${r.toFixed(1)} | ${(floor / r).toFixed(2)} |`);
  }
  console.log(`\nPDQ + blockhash ÷ decode floor: ${(floor / (rate.get(BOTH) as number)).toFixed(2)}× (target ≤ 1.3×)`);
}

const vectors = testVectorImages();
const photos = sharedPhotos();
console.log(`# PDQ hashing cost — ${await environment()} · sharp ${sharp.versions.sharp} · libvips ${sharp.versions.vips}`);
console.log(`${describeCorpus({ 'test vectors': vectors, 'shared photos': photos })}; ${ITERATIONS} iterations, median`);
if (vectors.length > 0) await runSet('test vectors', vectors);
if (photos.length > 0) await runSet('shared photos', photos);
