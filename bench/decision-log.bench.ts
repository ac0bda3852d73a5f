/**
 * Question (issue 23, part 4): what does writing a decision log cost a matcher under the load
 * bench's load? Target: at most 3% of the `matchImage` throughput.
 *
 * Method. The load bench's list and uploads (bench/load-lists.ts: the test vectors and, when
 * present, the shared photos; the snapshot filled with random entries up to `--entries`), opened
 * twice from the one snapshot: a matcher without a log and one with a `DecisionLog` in a
 * temporary directory (default options: a write per record, a sync a second, 64 MiB files). Then
 * `--rounds` rounds of `--calls` calls by `--concurrency` workers, plain and logged alternating
 * ABBA (bench/abba.ts: medians, overhead, paired blocks). Also reported: the records written and
 * their mean size, the load average before and after, and the commit.
 * Then the cost of one record alone: `--appends` `logResult` calls of a real result (the first
 * listed upload's) into a fresh log, timed together (µs a record: JSON, SHA-256, one write), to
 * set beside the time a call takes, since on a busy machine the rounds' noise exceeds 3%.
 *
 * Run: npx tsx bench/decision-log.bench.ts [--calls 1000] [--rounds 8] [--entries 1000000] [--concurrency 64]
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DecisionLog, Matcher } from '../src/index.js';
import { environment, revision, sharedPhotos, testVectorImages } from './corpus.js';
import { writeLoadLists } from './load-lists.js';
import { scratchDir } from './process.js';
import { abba } from './abba.js';
import { loadAverage, median } from './stats.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '8' },
    entries: { type: 'string', default: '1000000' },
    concurrency: { type: 'string', default: '64' },
    seed: { type: 'string', default: '20261129' },
    appends: { type: 'string', default: '20000' },
  },
  strict: true,
});
const seed = Number(args.seed);

async function main(): Promise<void> {
  console.log(`${await environment()} · commit ${revision()}`);
  console.log(`load average before: ${loadAverage()}`);
  const { dir, cleanup } = scratchDir('hashwarden-decision-log-bench-');
  try {
    const images = [...testVectorImages(), ...sharedPhotos()];
    const lists = await writeLoadLists(dir, images, Number(args.entries), seed);
    console.log(lists.summary);
    const logDir = join(dir, 'decisions');
    const log = await DecisionLog.open(logDir);
    const options = { maxQueued: Number.POSITIVE_INFINITY };
    const plain = await Matcher.open(lists.snapshot, options);
    const logged = await Matcher.open(lists.snapshot, { ...options, decisionLog: log });
    const uploads = images.map((image) => image.bytes);
    const rates = await abba({ a: ['plain', plain], b: ['logged', logged] }, uploads, {
      calls: Number(args.calls),
      rounds: Number(args.rounds),
      concurrency: Number(args.concurrency),
      seed,
    });
    await log.close();
    const bytes = readdirSync(logDir).reduce((sum, f) => sum + statSync(join(logDir, f)).size, 0);
    const p = median(rates.a);
    console.log(
      `records ${log.head.seq} (${(bytes / log.head.seq).toFixed(0)} bytes each on average), ${readdirSync(logDir).length} file(s)`,
    );
    const result = await plain.matchImage(uploads[0] as Buffer, { contentId: 'sample' });
    const alone = await DecisionLog.open(join(dir, 'alone'));
    const appends = Number(args.appends);
    const start = performance.now();
    for (let i = 0; i < appends; i++) alone.logResult(result, { contentId: `upload-${i}`, threshold: () => 31 });
    const perRecord = ((performance.now() - start) * 1000) / appends;
    await alone.close();
    console.log(
      `one record alone: ${perRecord.toFixed(1)} µs (${appends} appends); a call at the plain median holds the matcher ${((1 / p) * 1e6).toFixed(0)} µs of wall time: ${((perRecord / (1e6 / p)) * 100).toFixed(3)}%`,
    );
    console.log(`load average after: ${loadAverage()}`);
  } finally {
    cleanup();
  }
}

await main();
