/**
 * Question (issue 18, finding 10): what does copying an upload at call time cost? `matchImage`,
 * `matchImages` and `hashImage` copy a caller's Buffer before their first `await`, so that a
 * service reusing its buffers cannot change what is matched. One tinybench iteration copies one
 * buffer as the matcher does (`new Uint8Array(view)`: a fresh allocation, then the bytes), beside
 * a whole `matchImage` of the same upload, which includes the copy, as the same run's
 * baseline.
 *
 * The upload: a 1000 × 800 PNG of seeded RGB noise (2.4 MB); the matcher: 1,000
 * random PDQ and 1,000 random blockhash entries, defaults otherwise (turns, flips, borders).
 *
 * Run: npx tsx bench/input-copy.bench.ts   (TIME_MS per row, 3000 by default; about 30 s)
 */
import { Bench } from 'tinybench';
import { Matcher } from '../src/index.js';
import { environment } from './corpus.js';
import { noise, noisePng, randomEntries } from './noise-upload.js';

const TIME_MS = Number(process.env.TIME_MS ?? 3000);
const MiB = 1024 * 1024;

const png = await noisePng();
const entries = randomEntries();
const matcher = Matcher.fromEntries(entries);
await matcher.matchImage(png); // loads sharp and the kernels before timing

const large = noise(50 * MiB, 3);
console.log(`# copying an upload at call time — ${await environment()}`);
console.log(`upload: ${png.length.toLocaleString('en')}-byte PNG, 1000 × 800 noise; ≥ ${TIME_MS} ms per row\n`);
console.log('| task | median (ms) | p99 (ms) | samples |');
console.log('|---|---:|---:|---:|');
const bench = new Bench({ time: TIME_MS, iterations: 20, warmupTime: 300, warmupIterations: 5 });
let sink = 0;
bench.add(`copy ${(png.length / MiB).toFixed(1)} MiB`, () => {
  sink += new Uint8Array(png)[0] ?? 0;
});
bench.add('copy 50 MiB (the default maxBytes)', () => {
  sink += new Uint8Array(large)[0] ?? 0;
});
bench.add('matchImage of the same upload (copy included)', async () => {
  sink += (await matcher.matchImage(png)).searched;
});
await bench.run();
for (const task of bench.tasks) {
  const result = task.result;
  if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
  const { p50, p99, samplesCount } = result.latency;
  console.log(`| ${task.name} | ${p50.toFixed(3)} | ${p99.toFixed(3)} | ${samplesCount} |`);
}
if (sink < 0) console.log(sink);
