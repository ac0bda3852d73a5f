/**
 * Question: how long does a fresh process take to answer its first query against a 1M-entry
 * snapshot — import the core, open the snapshot, match one hash — compared in the same run with a
 * bare `node -e 0` and with a process that only reads the same file into a Buffer? (Target of the
 * search issue: within 1.5× of the plain read, which includes the bare start.)
 *
 * Whole processes, timed by hyperfine (Debian package `hyperfine`), page cache warm for all three
 * (hyperfine's warm-up runs read the file first). The machine's load drifts within a minute, so the
 * runs are taken in ROUNDS rounds, each timing the three commands in turn, and pooled: a slow
 * stretch falls on all three rather than on whichever command hyperfine happened to be running. The snapshot: 1M random blockhash entries in one
 * list, ids `entry-N`, written by `writeSnapshot` with the default search tier; the query is a
 * stored hash with 3 bits flipped, so the run checks that the answer is a match.
 * Also: the phases of one process (median of PHASE_RUNS runs of `--phases`) and the file size.
 *
 * Run: npm run bench:cold-start   (builds dist/ first)
 * COUNT (default 1000000), RUNS (runs of each command, default 30), ROUNDS (default 6),
 * PHASE_RUNS (default 15).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatHex } from '../src/algorithms/hex.js';
import type { ListEntry } from '../src/lists/entry.js';
import { writeSnapshot } from '../src/snapshot/write.js';
import { mulberry32 } from '../src/testing/prng.js';
import { environment, ROOT } from './corpus.js';
import { hyperfineRounds } from './hyperfine.js';

const COUNT = Number(process.env.COUNT ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 30);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const PHASE_RUNS = Number(process.env.PHASE_RUNS ?? 15);

const dir = mkdtempSync(join(tmpdir(), 'hashwarden-cold-'));
try {
  const random = mulberry32(7);
  const next = (): number => Math.floor(random() * 2 ** 32);
  const entries: ListEntry[] = [];
  for (let i = 0; i < COUNT; i++) {
    const hash = new Uint8Array(Uint32Array.from({ length: 8 }, next).buffer);
    entries.push({ algorithm: 'blockhash', hash: formatHex(hash), id: `entry-${i}`, list: 'bench' });
  }
  const target = Uint8Array.from(Buffer.from(entries[Math.floor(COUNT / 2)]!.hash, 'hex'));
  for (const bit of [3, 100, 200]) target[bit >> 3]! ^= 0x80 >> (bit & 7);
  const query = formatHex(target);
  const file = join(dir, 'list.snap');
  const written = await writeSnapshot(file, { lists: [{ name: 'bench', version: 1 }], entries });
  entries.length = 0;
  const script = join(ROOT, 'bench', 'cold-start-query.mjs');
  const mb = (statSync(file).size / 2 ** 20).toFixed(1);

  console.log(`# cold start — ${await environment()}`);
  console.log(`snapshot: ${COUNT.toLocaleString('en')} blockhash entries, ${mb} MiB (${written.bytes} bytes)\n`);

  const json = join(dir, 'hyperfine.json');
  const commands = {
    'bare node': 'node -e 0',
    'read the file into a Buffer': `node -e "require('node:fs').readFileSync(process.argv[1])" ${file}`,
    'import + open + first query': `node ${script} ${file} ${query}`,
  };
  const { times, perRound } = hyperfineRounds(Object.values(commands), RUNS, ROUNDS, json);
  const sorted = times.map((t) => [...t].sort((x, y) => x - y));
  const median = (xs: number[]): number => xs[Math.floor(xs.length / 2)]!;
  const [bare, read, ours] = sorted.map(median);
  console.log(`${ROUNDS} rounds of ${perRound} runs of each command, pooled\n`);
  console.log('| process | median (ms) | mean ± σ (ms) | min (ms) |');
  console.log('|---|---:|---:|---:|');
  Object.keys(commands).forEach((name, i) => {
    const t = sorted[i]!;
    const mean = t.reduce((a, b) => a + b, 0) / t.length;
    const sd = Math.sqrt(t.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, t.length - 1));
    console.log(`| ${name} | ${median(t).toFixed(1)} | ${mean.toFixed(1)} ± ${sd.toFixed(1)} | ${t[0]!.toFixed(1)} |`);
  });
  console.log(
    `\nimport + open + first query ÷ read into a Buffer (medians): ${(ours! / read!).toFixed(2)}× (target ≤ 1.5×)`,
  );
  console.log(`beyond the bare start: ours ${(ours! - bare!).toFixed(1)} ms, read ${(read! - bare!).toFixed(1)} ms`);

  const phases: Record<string, number[]> = {};
  for (let r = 0; r < PHASE_RUNS; r++) {
    const out = JSON.parse(execFileSync('node', [script, file, query, '--phases'], { encoding: 'utf8' })) as Record<
      string,
      number
    >;
    for (const [k, v] of Object.entries(out)) {
      phases[k] ??= [];
      phases[k].push(v);
    }
  }
  const middle = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  console.log(
    `\nphases (median of ${PHASE_RUNS} runs, ms): ${Object.entries(phases)
      .map(([k, v]) => `${k} ${middle(v).toFixed(1)}`)
      .join(', ')}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
