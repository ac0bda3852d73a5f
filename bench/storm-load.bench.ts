/**
 * Question (issue 23, part 3): does the match-rate alarm cost anything measurable on the load
 * bench? The counter alone is timed by bench/storm-counter.bench.ts; this asks what a matcher under
 * load loses to it.
 *
 * Method. The load bench's list and uploads (bench/load-lists.ts: the test vectors and, when
 * present, the shared photos; the snapshot filled with random entries up to `--entries`), opened
 * twice from the one snapshot: a matcher with `storm: false` and one with the alarm at its defaults
 * (bench's threshold `--threshold`, default the library's 100 in 10 minutes, holding with `--hold`),
 * storms reported to a callback that counts them. Then `--rounds` rounds of `--calls` calls by
 * `--concurrency` workers, off and on alternating ABBA (bench/abba.ts: medians, overhead, paired
 * blocks). The listed uploads match again and again, so entries do reach storms during the run: the
 * storms raised and the entries tracked at the end are reported with the load average and commit.
 *
 * Run: npx tsx bench/storm-load.bench.ts [--calls 500] [--rounds 40] [--entries 1000000] [--threshold 100] [--hold]
 */
import { parseArgs } from 'node:util';
import { Matcher } from '../src/index.js';
import { abba } from './abba.js';
import { environment, revision, sharedPhotos, testVectorImages } from './corpus.js';
import { writeLoadLists } from './load-lists.js';
import { scratchDir } from './process.js';
import { loadAverage } from './stats.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '40' },
    entries: { type: 'string', default: '1000000' },
    concurrency: { type: 'string', default: '64' },
    threshold: { type: 'string', default: '100' },
    hold: { type: 'boolean', default: false },
    seed: { type: 'string', default: '20261129' },
  },
  strict: true,
});

async function main(): Promise<void> {
  console.log(`${await environment()} · commit ${revision()}`);
  console.log(`load average before: ${loadAverage()}`);
  const { dir, cleanup } = scratchDir('hashwarden-storm-load-bench-');
  try {
    const images = [...testVectorImages(), ...sharedPhotos()];
    const seed = Number(args.seed);
    const lists = await writeLoadLists(dir, images, Number(args.entries), seed);
    console.log(lists.summary);
    const options = { maxQueued: Number.POSITIVE_INFINITY };
    let storms = 0;
    const off = await Matcher.open(lists.snapshot, { ...options, storm: false });
    const on = await Matcher.open(lists.snapshot, {
      ...options,
      storm: { threshold: Number(args.threshold), hold: args.hold },
      onStorm: () => {
        storms++;
      },
    });
    const uploads = images.map((image) => image.bytes);
    await abba({ a: ['off', off], b: ['on', on] }, uploads, {
      calls: Number(args.calls),
      rounds: Number(args.rounds),
      concurrency: Number(args.concurrency),
      seed,
    });
    console.log(`storms raised: ${storms}${args.hold ? ' (held)' : ''}`);
    console.log(`load average after: ${loadAverage()}`);
  } finally {
    cleanup();
  }
}

await main();
