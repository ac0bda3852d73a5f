/**
 * Question: how much faster than the linear scan is multi-index hashing (src/search/mih.ts), with
 * its cost guard, on random lists and on clustered lists shaped like real ones — and what does the
 * index cost to build and to hold? Also: where should the guard sit (the calibration table)?
 *
 * Data (deterministic, so runs compare):
 * - random: uniform 256-bit hashes;
 * - clustered: 5% near-blank hashes (0–16 bits from all zeros), the rest near-duplicate clusters:
 *   1% of N seed images with ~100 copies each, 0–8 bits from their seed.
 * Queries rotate through 64 per list: random: half uniform, half 0–10 bits from a stored hash.
 * clustered: half uniform, 3/8 near a stored hash, 1/8 near-blank (0–10 bits from zeros: the
 * queries the guard exists for).
 *
 * One tinybench iteration is one search: median and p99 latency per query for MIH (default
 * options: `defaultSubstringBits(N)`, guard N/32) and for `LinearIndex.search` (wasm kernel) in
 * the same run. MIH is measured at every size, also where the default tier is the scan (below
 * ~180k entries no split fits the 80-byte budget); the build table says which tier a matcher gets. Build time is one `MihIndex.build`; memory is the tables' offsets + ids bytes per entry,
 * beyond the 32 bytes of the hash itself.
 *
 * The calibration table times every query of both lists at each threshold with the guard off
 * (MIH whenever the radius allows) against the scan, grouped by the work the guard counts
 * (probes + candidates, as a fraction of N): the fraction where MIH stops beating the scan is
 * where the guard belongs.
 *
 * Run: npx tsx bench/search.bench.ts
 * SIZES (default 100000,1000000; 10000000 needs ~2 GB), THRESHOLDS (8,16,24,31), TIME_MS per
 * row (1500), CALIBRATE=0 to skip the calibration table, PER_QUERY=0 to skip the slowest-query
 * column (each query timed alone, median of 7 runs of MIH and of the scan, alternating; about
 * 2 minutes at 10M).
 * The default run takes about 75 s; with 10M about 6 minutes.
 */
import { Bench } from 'tinybench';
import { LinearIndex } from '../src/search/linear.js';
import { MihIndex } from '../src/search/mih.js';
import { chooseSearchTier } from '../src/search/tier.js';
import { environment } from './corpus.js';

const numbers = (text: string): number[] => text.split(',').map((s) => Number(s.trim()));
const SIZES = numbers(process.env.SIZES ?? '100000,1000000');
const THRESHOLDS = numbers(process.env.THRESHOLDS ?? '8,16,24,31');
const TIME_MS = Number(process.env.TIME_MS ?? 1500);
const CALIBRATE = process.env.CALIBRATE !== '0';
const PER_QUERY = process.env.PER_QUERY !== '0';
const QUERIES = 64;
const KINDS = ['random', 'clustered'] as const;
type Kind = (typeof KINDS)[number];

/** xorshift32: the same data on every run. */
function generator(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

function flipBits(hash: Uint8Array, count: number, next: () => number): void {
  for (let k = 0; k < count; k++) {
    const bit = next() & 255;
    hash[bit >> 3]! ^= 0x80 >> (bit & 7);
  }
}

function randomHash(next: () => number): Uint8Array {
  const words = Uint32Array.from({ length: 8 }, next);
  return new Uint8Array(words.buffer);
}

/** Planes of `n` hashes of one kind, for LinearIndex.fromPlanes (no per-hash arrays kept). */
function makeList(kind: Kind, n: number): LinearIndex {
  const next = generator(kind === 'random' ? 1 : 2);
  const a = new Uint8Array(16 * n);
  const b = new Uint8Array(16 * n);
  if (kind === 'random') {
    const wa = new Uint32Array(a.buffer);
    const wb = new Uint32Array(b.buffer);
    for (let i = 0; i < wa.length; i++) {
      wa[i] = next();
      wb[i] = next();
    }
    return LinearIndex.fromPlanes(a, b, n);
  }
  const blanks = Math.floor(n * 0.05);
  const seeds = Array.from({ length: Math.max(1, Math.floor(n / 100)) }, () => randomHash(next));
  for (let i = 0; i < n; i++) {
    const hash = i < blanks ? new Uint8Array(32) : Uint8Array.from(seeds[next() % seeds.length]!);
    flipBits(hash, i < blanks ? next() % 17 : next() % 9, next);
    a.set(hash.subarray(0, 16), 16 * i);
    b.set(hash.subarray(16), 16 * i);
  }
  return LinearIndex.fromPlanes(a, b, n);
}

function makeQueries(kind: Kind, linear: LinearIndex): Uint8Array[] {
  const next = generator(kind === 'random' ? 3 : 4);
  return Array.from({ length: QUERIES }, (_, k) => {
    if (k % 2 === 0) return randomHash(next);
    const blank = kind === 'clustered' && k % 8 === 1;
    const query = blank ? new Uint8Array(32) : linear.hashAt(next() % linear.count);
    flipBits(query, next() % 11, next);
    return query;
  });
}

function medianOf(times: number[]): number {
  const sorted = [...times].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Median of 5 timed calls after one untimed call, in ms. */
function timeOne(fn: () => unknown): number {
  fn();
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return medianOf(times);
}

/**
 * Median time of `a` ÷ median time of `b`, 7 runs each after one untimed run, alternating so that
 * the machine's drift (shared, noisy) falls on both alike.
 */
function ratioOf(a: () => unknown, b: () => unknown): number {
  a();
  b();
  const ta: number[] = [];
  const tb: number[] = [];
  for (let r = 0; r < 7; r++) {
    let start = performance.now();
    a();
    ta.push(performance.now() - start);
    start = performance.now();
    b();
    tb.push(performance.now() - start);
  }
  return medianOf(ta) / medianOf(tb);
}

const f3 = (ms: number): string => ms.toFixed(3);
const results: string[] = [];
const costs: string[] = [];
/** log2(work / N) bin → MIH-without-guard / scan time ratios. */
const calibration = new Map<number, number[]>();

console.log(`# search: MIH vs linear scan — ${await environment()}`);
console.log(
  `sizes ${SIZES.join(', ')}; thresholds ${THRESHOLDS.join(', ')}; ${QUERIES} queries per list; ≥ ${TIME_MS} ms per row\n`,
);

for (const n of SIZES) {
  for (const kind of KINDS) {
    const linear = makeList(kind, n);
    const queries = makeQueries(kind, linear);
    const started = performance.now();
    const mih = MihIndex.build(linear);
    const buildMs = performance.now() - started;
    const { offsets, ids } = mih.tables();
    const bytes = [...offsets, ...ids].reduce((sum, table) => sum + table.byteLength, 0);
    const widths = [...new Set(mih.substringBits)].join('/');
    const auto = chooseSearchTier(n);
    costs.push(
      `| ${n.toLocaleString('en')} | ${kind} | ${mih.m} × ${widths} | ${buildMs.toFixed(0)} | ${(bytes / n).toFixed(1)} | ${auto.tier} |`,
    );

    for (const threshold of THRESHOLDS) {
      const fallback = queries.filter((q) => mih.plan(q, threshold).linear).length / QUERIES;
      const bench = new Bench({ time: TIME_MS, iterations: 2 * QUERIES, warmupTime: 200, warmupIterations: QUERIES });
      let q = 0;
      let r = 0;
      bench.add('mih', () => {
        mih.search(queries[q++ % QUERIES]!, threshold);
      });
      bench.add('linear', () => {
        linear.search(queries[r++ % QUERIES]!, threshold);
      });
      await bench.run();
      const [m, l] = bench.tasks.map((task) => {
        const result = task.result;
        if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
        return result.latency;
      });
      // The target "no query much slower than the scan" is about each query, not the spread of
      // all of them: per query, median MIH time ÷ median scan time, and the worst of those.
      let worst = 0;
      if (PER_QUERY)
        for (const query of queries)
          worst = Math.max(
            worst,
            ratioOf(
              () => mih.search(query, threshold),
              () => linear.search(query, threshold),
            ),
          );
      const row = `| ${n.toLocaleString('en')} | ${kind} | ${threshold} | ${f3(m!.p50)} | ${f3(m!.p99)} | ${f3(l!.p50)} | ${f3(l!.p99)} | ${(l!.p50 / m!.p50).toFixed(1)}× | ${(l!.p99 / m!.p99).toFixed(1)}× | ${PER_QUERY ? `${worst.toFixed(2)}×` : '–'} | ${(fallback * 100).toFixed(0)}% |`;
      results.push(row);
      console.log(row);
    }

    if (CALIBRATE) {
      // The same tables with the guard off: no second build.
      const open = MihIndex.fromTables(linear, mih.substringBits, offsets, ids, { guardFraction: Infinity });
      for (const threshold of THRESHOLDS) {
        for (const query of queries) {
          const plan = open.plan(query, threshold);
          if (plan.linear) continue; // radius beyond the probe limit: no MIH time to compare
          const ratio = timeOne(() => open.search(query, threshold)) / timeOne(() => linear.search(query, threshold));
          const bin = Math.round(Math.log2((plan.probes + plan.candidates) / n));
          const ratios = calibration.get(bin) ?? [];
          ratios.push(ratio);
          calibration.set(bin, ratios);
        }
      }
    }
  }
}

console.log('\n## Query latency (ms): MIH with the guard (default options) vs the linear scan, same run\n');
console.log(
  '| hashes | list | threshold | MIH median | MIH p99 | linear median | linear p99 | speed-up (median) | speed-up (p99) | slowest query: MIH ÷ scan | queries guarded |',
);
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const row of results) console.log(row);

console.log('\n## Build and memory (default width)\n');
console.log(
  '| hashes | list | tables × bits | build (ms) | index bytes per entry (offsets + ids) | tier chosen by default |',
);
console.log('|---:|---|---|---:|---:|---|');
for (const row of costs) console.log(row);

if (CALIBRATE) {
  console.log('\n## Guard calibration: MIH without the guard ÷ linear scan, per query, by the work the guard counts\n');
  console.log('| probes + candidates ≈ | queries | median ratio | p90 ratio |');
  console.log('|---|---:|---:|---:|');
  for (const bin of [...calibration.keys()].sort((x, y) => x - y)) {
    const ratios = [...calibration.get(bin)!].sort((x, y) => x - y);
    console.log(
      `| ${bin <= 0 ? `N / ${2 ** -bin}` : `${2 ** bin} N`} | ${ratios.length} | ${medianOf(ratios).toFixed(2)} | ${ratios[Math.floor(ratios.length * 0.9)]!.toFixed(2)} |`,
    );
  }
}
