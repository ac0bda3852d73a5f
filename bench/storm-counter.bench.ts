/**
 * Question (issue 23, part 3): what does the match-rate alarm's counter (src/matcher/storm.ts)
 * cost per call, and how much memory does it hold at its bound? Plain timing, one loop per row,
 * best of ROUNDS rounds of CALLS calls each (the machine is shared: the best round is the one
 * least disturbed):
 * - `no match`: `observe([])`, what nearly every upload costs (most uploads match nothing);
 * - `one entry, storm`: the same entry matched every call (held storm: each match copied with
 *   `review`), the path of a false-positive storm;
 * - `distinct entries, flood`: a new entry each call at the bound (maxTracked 10,000), each call
 *   evicting the least recently matched: an attacker's flood, the most work a match can cost.
 * Then the heap a full counter holds: 10,000 tracked entries of 36-character ids, measured as the
 * heap's growth after a forced GC (run with --expose-gc for that row).
 *
 * Run: node --expose-gc --import tsx bench/storm-counter.bench.ts   (CALLS, ROUNDS to change; a few seconds)
 */
import { resolveStormOptions, StormCounter } from '../src/matcher/storm.js';
import type { Match } from '../src/matcher/types.js';
import { environment } from './corpus.js';

const CALLS = Number(process.env.CALLS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);

const matchOf = (id: string): Match => ({
  list: 'ncmec',
  entryId: id,
  algorithm: 'pdq',
  distance: 3,
  hash: 'ab'.repeat(32),
});
const ids = Array.from({ length: 100_000 }, (_, i) => `ncmec-${String(i).padStart(30, '0')}`);
const distinct = ids.map((id) => [matchOf(id)]);
const none: Match[] = [];
const one = [matchOf('meme')];
// The events go nowhere: the flood raises none, the storm one per counter.
const options = (hold: boolean) => resolveStormOptions({ hold, maxTracked: 10_000 }, () => undefined)!;

function best(run: (counter: StormCounter) => void, hold: boolean): number {
  let fastest = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const counter = new StormCounter(options(hold));
    const start = process.hrtime.bigint();
    run(counter);
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start) / CALLS);
  }
  return fastest;
}

console.log(`# match-rate alarm counter — ${await environment()}`);
console.log(`${CALLS.toLocaleString('en')} calls a round, best of ${ROUNDS}\n`);
console.log('| row | ns per call |');
console.log('|---|---:|');
const rows: [string, (c: StormCounter) => void, boolean][] = [
  [
    'no match',
    (c) => {
      for (let i = 0; i < CALLS; i++) c.observe(none);
    },
    true,
  ],
  [
    'one entry, storm (held)',
    (c) => {
      for (let i = 0; i < CALLS; i++) c.observe(one);
    },
    true,
  ],
  [
    'distinct entries, flood at the bound',
    (c) => {
      for (let i = 0; i < CALLS; i++) c.observe(distinct[i % distinct.length]!);
    },
    false,
  ],
];
for (const [name, run, hold] of rows) console.log(`| ${name} | ${best(run, hold).toFixed(0)} |`);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) console.log('\n(heap row skipped: run with node --expose-gc)');
else {
  gc();
  const before = process.memoryUsage().heapUsed;
  const counter = new StormCounter(options(false));
  // Fresh id strings, so the heap counts the keys the counter holds.
  for (let i = 0; i < 10_000; i++) counter.observe([matchOf(`other-${String(i).padStart(30, '0')}`)]);
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  console.log(
    `\nheap held by ${counter.tracked.toLocaleString('en')} tracked entries: ${(bytes / 1024 / 1024).toFixed(2)} MiB (${Math.round(bytes / counter.tracked)} bytes an entry)`,
  );
}
