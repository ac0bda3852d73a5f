/**
 * Question: how fast is a linear scan — one `LinearIndex.search` over 100k and 1M random 256-bit
 * hashes, at thresholds 8 and 31, with the WebAssembly kernel and the pure-JS fallback?
 * One tinybench iteration is one search; queries rotate through a fixed set, half random and half
 * a few bits from a stored hash (so most searches find nothing and some find one hash, as in
 * production). Reports median and p99 latency per query.
 *
 * Run: npm run bench:linear   (needs src/search/popcount-wasm.ts: node scripts/build-wasm.mjs)
 * TIME_MS per row, 1500 by default; the whole run takes about 20 s.
 */
import { Bench } from 'tinybench';
import { LinearIndex, type LinearKernel } from '../src/search/linear.js';
import { environment } from './corpus.js';
import { randomBytes } from './stats.js';

const SIZES = [100_000, 1_000_000];
const THRESHOLDS = [8, 31];
const KERNELS: readonly LinearKernel[] = ['wasm', 'js'];
const TIME_MS = Number(process.env.TIME_MS ?? 1500);

function queriesFor(index: LinearIndex): Uint8Array[] {
  const random = randomBytes(32 * 32, 99);
  return Array.from({ length: 64 }, (_, k) => {
    if (k % 2 === 0) return random.slice(16 * k, 16 * k + 32);
    const near = index.hashAt((k * 7919) % index.count);
    near[k % 32]! ^= 0x11; // 2 bits away
    return near;
  });
}

console.log(`# linear scan — ${await environment()}`);
console.log(`random 256-bit hashes; one search per iteration; ≥ ${TIME_MS} ms per row\n`);
console.log('| hashes | threshold | kernel | median (ms) | p99 (ms) | hashes/µs (median) | samples |');
console.log('|---:|---:|---|---:|---:|---:|---:|');

for (const n of SIZES) {
  const a = randomBytes(16 * n, 1);
  const b = randomBytes(16 * n, 2);
  const indexes = KERNELS.map((kernel) => LinearIndex.fromPlanes(a, b, n, { kernel }));
  const queries = queriesFor(indexes[0]!);
  for (const threshold of THRESHOLDS) {
    const bench = new Bench({ time: TIME_MS, iterations: 50, warmupTime: 500, warmupIterations: 100 });
    for (const index of indexes) {
      let q = 0;
      bench.add(index.kernel, () => {
        index.search(queries[q++ & 63]!, threshold);
      });
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
      const { p50, p99, samplesCount } = result.latency;
      console.log(
        `| ${n.toLocaleString('en')} | ${threshold} | ${task.name} | ${p50.toFixed(3)} | ${p99.toFixed(3)} | ${(n / p50 / 1000).toFixed(0)} | ${samplesCount} |`,
      );
    }
  }
}
