/**
 * Question (issue 20, point 4): how long does `hashwarden serve` take from its start to ready
 * (`/readyz` 200: lists loaded) on a 1M-entry snapshot? Target: ≤ 1 s.
 *
 * Method: one snapshot written by bench/load-lists.ts (the load bench's list: the test vectors'
 * listed hashes and random entries up to `--entries`, the default search tier), and one of 1,000
 * entries as the baseline (what a start costs without lists to read: Node, the CLI, the server
 * framework). `--runs` alternated pairs: each spawns `node dist/cli/main.js serve --snapshot S`
 * (bench/sidecar.ts: auth on) and polls `/readyz` every 5 ms from the spawn; timed from the
 * spawn to the first line naming the address, and to the first 200. The process is then stopped
 * with SIGTERM and must exit 0. Medians, min and max.
 *
 * Run: npm run build && npx tsx bench/sidecar-start.bench.ts [--entries 1000000] [--runs 10]
 */
import { parseArgs } from 'node:util';
import { environment, revision, testVectorImages } from './corpus.js';
import { writeLoadLists } from './load-lists.js';
import { scratchDir } from './process.js';
import { startSidecar } from './sidecar.js';
import { loadAverage, median } from './stats.js';

const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '10' },
    seed: { type: 'string', default: '20261206' },
  },
  strict: true,
});

const BASELINE_ENTRIES = 1000;

async function main(): Promise<void> {
  const entries = Number(args.entries);
  const runs = Number(args.runs);
  const seed = Number(args.seed);
  console.log(`# sidecar start to ready — ${await environment()}; commit ${revision()}`);
  console.log(`command: npx tsx bench/sidecar-start.bench.ts ${process.argv.slice(2).join(' ')}`.trim());
  console.log(`load average before: ${loadAverage()}`);
  const valid = testVectorImages();
  const { dir, cleanup } = scratchDir('hashwarden-sidecar-start-');
  try {
    const big = await writeLoadLists(dir, valid, entries, seed);
    console.log(big.summary);
    const smallDir = scratchDir('hashwarden-sidecar-start-small-');
    try {
      const small = await writeLoadLists(smallDir.dir, valid, BASELINE_ENTRIES, seed);
      const times: Record<'big' | 'small', { listening: number[]; ready: number[] }> = {
        big: { listening: [], ready: [] },
        small: { listening: [], ready: [] },
      };
      for (let run = 0; run < runs; run++) {
        for (const [which, snapshot] of [
          ['small', small.snapshot],
          ['big', big.snapshot],
        ] as const) {
          const sidecar = await startSidecar(['--snapshot', snapshot]);
          const { status, stderr } = await sidecar.stop();
          if (status !== 0) throw new Error(`serve exited with status ${status} after SIGTERM:\n${stderr}`);
          times[which].listening.push(sidecar.listeningMs);
          times[which].ready.push(sidecar.readyMs);
          console.log(
            `  run ${run + 1} ${which}: listening ${sidecar.listeningMs.toFixed(0)} ms, ready ${sidecar.readyMs.toFixed(0)} ms`,
          );
        }
      }
      const row = (label: string, t: { listening: number[]; ready: number[] }): string =>
        `| ${label} | ${median(t.listening).toFixed(0)} | ${median(t.ready).toFixed(0)} | ${Math.min(...t.ready).toFixed(0)}–${Math.max(...t.ready).toFixed(0)} |`;
      console.log(`\n${runs} alternated runs each; ms from the spawn`);
      console.log('| snapshot | listening (median) | ready (median) | ready (min–max) |');
      console.log('|---|---:|---:|---:|');
      console.log(row(`${entries.toLocaleString('en')} entries`, times.big));
      console.log(row(`${BASELINE_ENTRIES.toLocaleString('en')} entries (baseline)`, times.small));
      console.log(
        `\nlists' share (median ready, ${entries.toLocaleString('en')} − ${BASELINE_ENTRIES.toLocaleString('en')}): ${(median(times.big.ready) - median(times.small.ready)).toFixed(0)} ms`,
      );
      console.log(`load average after: ${loadAverage()}`);
    } finally {
      smallDir.cleanup();
    }
  } finally {
    cleanup();
  }
}

await main();
