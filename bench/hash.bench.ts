/**
 * Question: how fast does hashwarden hash images, against the naive pipeline (sharp full-size
 * RGBA decode + blockhash-core) and the decode floor (sharp shrink-on-load to 64×64 greyscale,
 * no hashing), on the same images in one run; and how it scales with 2 images at once.
 * One tinybench iteration hashes the whole set; images/s = set size / median iteration time.
 *
 * Run: npm run bench:hash   (ITERATIONS=5 by default)
 */
import { bmvbhash } from 'blockhash-core';
import sharp from 'sharp';
import { Bench } from 'tinybench';
import { mapSettled } from '../src/concurrency.js';
import { hashImage } from '../src/image/index.js';
import { resolveImageOptions } from '../src/image/options.js';
import { describeCorpus, environment, sharedPhotos, testVectorImages, type CorpusImage } from './corpus.js';

const ITERATIONS = Number(process.env.ITERATIONS ?? 5);
const INPUT = { ignoreIcc: true, autoOrient: true, failOn: 'warning' } as const;
const options = resolveImageOptions({ algorithms: ['blockhash'] });

const pipelines: Record<string, (bytes: Buffer) => Promise<unknown>> = {
  'hashwarden blockhash (fast, default)': (bytes) => hashImage(bytes, options),
  // The naive pipeline with the decode options hashwarden uses, so only the work differs.
  'naive: sharp full RGBA + blockhash-core': async (bytes) => {
    const { data, info } = await sharp(bytes, INPUT).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return bmvbhash({ data, width: info.width, height: info.height }, 16);
  },
  // What a first attempt looks like: sharp's defaults (ICC conversion to sRGB, no EXIF rotation).
  'naive with sharp defaults': async (bytes) => {
    const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return bmvbhash({ data, width: info.width, height: info.height }, 16);
  },
  'decode floor: shrink-on-load 64×64 grey': (bytes) =>
    sharp(bytes, INPUT).resize(64, 64, { fit: 'fill' }).greyscale().raw().toBuffer(),
};

async function runSet(name: string, images: readonly CorpusImage[]): Promise<void> {
  // Keep the images every pipeline accepts, so each row times the same work.
  const usable: CorpusImage[] = [];
  for (const image of images) {
    const ok = await Promise.all(
      Object.values(pipelines).map((p) =>
        p(image.bytes).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (ok.every(Boolean)) usable.push(image);
  }
  const skipped = images.length - usable.length;
  const bench = new Bench({ iterations: ITERATIONS, time: 0, warmupIterations: 1, warmupTime: 0 });
  for (const [label, pipeline] of Object.entries(pipelines)) {
    bench.add(`${label} ×1`, async () => {
      for (const image of usable) await pipeline(image.bytes);
    });
    bench.add(`${label} ×2`, async () => {
      await mapSettled(usable, 2, (image) => pipeline(image.bytes));
    });
  }
  await bench.run();
  const rate = new Map<string, number>();
  for (const task of bench.tasks) {
    if (task.result.state !== 'completed') throw new Error(`${task.name}: ${task.result.state}`);
    rate.set(task.name, usable.length / (task.result.latency.p50 / 1000));
  }
  const ours = rate.get('hashwarden blockhash (fast, default) ×1')!;
  const naive = rate.get('naive: sharp full RGBA + blockhash-core ×1')!;
  const floor = rate.get('decode floor: shrink-on-load 64×64 grey ×1')!;
  console.log(
    `\n## ${name}: ${usable.length} images${skipped > 0 ? ` (${skipped} refused by failOn 'warning', left out)` : ''}\n`,
  );
  console.log('| pipeline | images/s, 1 at a time | images/s, 2 at a time | speed-up ×2 |');
  console.log('|---|---:|---:|---:|');
  for (const label of Object.keys(pipelines)) {
    const one = rate.get(`${label} ×1`)!;
    const two = rate.get(`${label} ×2`)!;
    console.log(`| ${label} | ${one.toFixed(1)} | ${two.toFixed(1)} | ${(two / one).toFixed(2)} |`);
  }
  console.log(
    `\nhashwarden vs naive: ${(ours / naive).toFixed(2)}× faster; decode floor vs hashwarden: ${(floor / ours).toFixed(2)}× (1.00 = at the floor)`,
  );
}

const vectors = testVectorImages();
const photos = sharedPhotos();
console.log(
  `# hashing throughput — ${await environment()} · sharp ${sharp.versions.sharp} · libvips ${sharp.versions.vips}`,
);
console.log(
  `${describeCorpus({ 'test vectors': vectors, 'shared photos': photos })}; ${ITERATIONS} iterations, median`,
);
if (vectors.length > 0) await runSet('test vectors', vectors);
if (photos.length > 0) {
  await runSet('shared photos', photos);
  // The large photos alone: where decoding dominates and shrink-on-load pays most.
  const sizes = await Promise.all(
    photos.map((p) =>
      sharp(p.bytes)
        .metadata()
        .then(
          (m) => (m.width ?? 0) * (m.height ?? 0),
          () => 0,
        ),
    ),
  );
  await runSet(
    'shared photos of 4 MP or more',
    photos.filter((_, i) => (sizes[i] as number) >= 4_000_000),
  );
}
