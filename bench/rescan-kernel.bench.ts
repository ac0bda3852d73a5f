/**
 * Question: how many queries a second does the rescan's batch kernel (`searchBatch`,
 * src/search/batch.ts) answer against 10k and 1M new PDQ entries at t = 31, and what does that
 * make 10 million recorded uploads × 8 (or 16) searched hashes?
 *
 * Entries are random 256-bit hashes (the worst case for multi-index candidate counts). Two query
 * mixes: `random` (uniform: every query far from every entry) and `realistic` (99% random, 1%
 * within 0–31 bits of an entry, so some queries hit). Each row runs the same queries three times
 * and reports the best, as queries per second of wall time, after one warm-up batch. `--workers 2`
 * also runs two worker threads at once, each with its own index and half the queries, and reports
 * their combined rate. The extrapolation is queries ÷ rate; it is printed as such, not measured.
 *
 * Run: node scripts/build-wasm.mjs && npx tsx bench/rescan-kernel.bench.ts [--sizes 10000,1000000]
 *   [--queries 10000:400000,1000000:131072] [--widths 12,16] [--workers 2]
 * The default run takes a few minutes on a 2-core machine.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { BatchHits, BatchIndex, defaultBatchSubstringBits, searchBatch } from '../src/search/batch.js';
import { environment, option } from './corpus.js';
import { loadAverage, randomBytes } from './stats.js';

const THRESHOLD = 31;
const UPLOADS = 10_000_000;

/** `count` queries: random, or with one in 100 a copy of an entry with 0–31 bits flipped. */
function makeQueries(entries: Uint8Array, count: number, mix: string, seed: number): Uint8Array {
  const queries = randomBytes(32 * count, seed);
  if (mix !== 'realistic') return queries;
  const n = entries.length / 32;
  const pick = randomBytes(4 * count, seed + 1);
  for (let q = 0; q < count; q += 100) {
    const e = ((pick[4 * q] as number) | ((pick[4 * q + 1] as number) << 8) | ((pick[4 * q + 2] as number) << 16)) % n;
    queries.set(entries.subarray(32 * e, 32 * e + 32), 32 * q);
    const flips = (pick[4 * q + 3] as number) % 32;
    for (let f = 0; f < flips; f++) {
      const bit = (q * 7 + f * 37) % 256;
      queries[32 * q + (bit >> 3)] = (queries[32 * q + (bit >> 3)] as number) ^ (0x80 >> (bit & 7));
    }
  }
  return queries;
}

interface Row {
  readonly seconds: number;
  readonly hits: number;
}

/** Best of three wall-clock runs of searchBatch over `queries`, after a warm-up batch. */
function measure(index: BatchIndex, queries: Uint8Array): Row {
  const hits = new BatchHits();
  searchBatch(index, queries.subarray(0, Math.min(queries.length, 32 * 4096)), THRESHOLD, hits);
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    searchBatch(index, queries, THRESHOLD, hits);
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  return { seconds: best, hits: hits.length };
}

interface Job {
  readonly size: number;
  readonly queries: number;
  readonly mix: string;
  readonly width: number;
  readonly seed: number;
}

function buildIndex(job: Job): { index: BatchIndex; entries: Uint8Array; buildSeconds: number } {
  const entries = randomBytes(32 * job.size, 1);
  const start = performance.now();
  const index = BatchIndex.fromHashes(entries, { substringBits: job.width });
  return { index, entries, buildSeconds: (performance.now() - start) / 1000 };
}

if (!isMainThread) {
  const job = workerData as Job;
  const { index, entries } = buildIndex(job);
  const queries = makeQueries(entries, job.queries, job.mix, job.seed);
  parentPort?.postMessage('ready');
  parentPort?.once('message', () => {
    const row = measure(index, queries);
    parentPort?.postMessage(row);
  });
} else {
  await main();
}

/** Two workers, each with its own index and `queries` queries, started together: combined q/s. */
async function twoWorkers(job: Job): Promise<number> {
  const workers = [0, 1].map(
    (k) =>
      // tsx registered inside the worker, as src/image/pool.ts does under tsx.
      new Worker(
        `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(import.meta.url)}); })`,
        { eval: true, workerData: { ...job, seed: job.seed + k } },
      ),
  );
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const rows = await Promise.all(
    workers.map(
      (w) =>
        new Promise<Row>((resolve) => {
          w.once('message', resolve);
          w.postMessage('go');
        }),
    ),
  );
  await Promise.all(workers.map((w) => w.terminate()));
  // Both ran at once; the slower one bounds the pair.
  return (2 * job.queries) / Math.max(...rows.map((r) => r.seconds));
}

function formatRate(rate: number): string {
  return `${Math.round(rate).toLocaleString('en-US')} q/s`;
}

function extrapolate(rate: number): string {
  const at = (perUpload: number) => (UPLOADS * perUpload) / rate;
  const show = (s: number) => (s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);
  return `10M uploads × 8: ${show(at(8))}, × 16: ${show(at(16))}`;
}

async function main(): Promise<void> {
  const sizes = (option('sizes') ?? '10000,1000000').split(',').map(Number);
  const queryCounts = new Map(
    (option('queries') ?? '10000:400000,1000000:131072').split(',').map((pair) => pair.split(':').map(Number)) as [
      number,
      number,
    ][],
  );
  const widths = option('widths')?.split(',').map(Number);
  const workers = Number(option('workers') ?? 1);
  console.log('# rescan kernel: searchBatch queries per second, PDQ (256-bit), t = 31');
  console.log(`${await environment()}`);
  console.log(`load average at start ${loadAverage()}`);
  console.log(`command npx tsx bench/rescan-kernel.bench.ts ${process.argv.slice(2).join(' ')}`);
  console.log('measured: q/s (best of 3, wall clock); extrapolated: the 10M-upload times (queries ÷ q/s)');
  for (const size of sizes) {
    const count = queryCounts.get(size) ?? 40_000;
    for (const width of widths ?? [defaultBatchSubstringBits(size)]) {
      const job: Job = { size, queries: count, mix: 'random', width, seed: 99 };
      const { index, entries, buildSeconds } = buildIndex(job);
      console.log(
        `\n## ${size.toLocaleString('en-US')} entries, ${index.substringBits.length} tables of ` +
          `${[...new Set(index.substringBits)].join('/')} bits, built in ${buildSeconds.toFixed(2)} s; ` +
          `${count.toLocaleString('en-US')} queries a run`,
      );
      for (const mix of ['random', 'realistic']) {
        const queries = makeQueries(entries, count, mix, 99);
        const row = measure(index, queries);
        const rate = count / row.seconds;
        console.log(
          `${mix.padEnd(9)} 1 thread: ${formatRate(rate)} (${((1e6 * row.seconds) / count).toFixed(2)} µs/q, ` +
            `${row.hits} hits) → ${extrapolate(rate)}`,
        );
      }
      if (workers >= 2) {
        const rate = await twoWorkers({ ...job, mix: 'realistic' });
        console.log(`realistic 2 workers: ${formatRate(rate)} combined → ${extrapolate(rate)}`);
      }
      console.log(`load average now ${loadAverage()}`);
    }
  }
}
