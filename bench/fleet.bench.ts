/**
 * Question (issue 19, items 1, 2, 3 and 5): what do the steps of a fleet's list pipeline cost, as
 * whole processes of the built package? Target at 1M PDQ entries: opening the store (`match FILE
 * --db`) and `export --snapshot` each ≤ 1.5 s and ≤ 300 MB peak RSS; at 10M ≤ 15 s and ≤ 2 GB.
 *
 * A CSV list of N random PDQ entries (ids `e-000001234`, mulberry32, so every run writes the same
 * file) is generated into a temporary directory and imported into a fresh store with the built
 * CLI; then each step runs `--runs` times under `/usr/bin/time -v`: `match IMAGE --db STORE` (open
 * the store, match one image), `export --db STORE --snapshot FILE`, `match IMAGE --snapshot FILE`,
 * the same export signed (`--sign`), the signed snapshot opened with its key trusted (`match
 * --trust`: every section's SHA-256 and the signature checked), and a reload: a process follows
 * the signed snapshot (`Matcher.follow`, the key trusted), a newer signed snapshot is renamed over
 * it, and `reload()` swaps it in; that process reports its follow and reload times. Reported per
 * step: the median wall clock and peak RSS of the runs, with the machine's load average, as a
 * markdown table. Start-up is included (the processes are whole).
 *
 * Run: npm run build && npx tsx bench/fleet.bench.ts --entries 1e6 [--runs 3] [--cli dist/cli/main.js]
 * The generated files are deleted at the end.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { mulberry32 } from '../src/testing/prng.js';
import { environment, revision, ROOT, option } from './corpus.js';
import { scratchDir, timeProcess, type TimedProcess } from './process.js';

function positiveInteger(text: string, name: string): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`--${name}: expected a positive integer like 1e6, got ${text}`);
  return n;
}

const ENTRIES = positiveInteger(option('entries') ?? '1e6', 'entries');
const RUNS = positiveInteger(option('runs') ?? '3', 'runs');
const CLI = resolve(ROOT, option('cli') ?? join('dist', 'cli', 'main.js'));
const ROWS_PER_WRITE = 16_384;
/** Where `timed` keeps `/usr/bin/time`'s reports: the run's scratch folder. */
let timeDir = tmpdir();

/** Writes the list: `id,algorithm,hash` rows of random PDQ hashes. */
async function writeList(path: string): Promise<void> {
  const random = mulberry32(19);
  const out = createWriteStream(path);
  out.write('id,algorithm,hash\n');
  let block: string[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    let hex = '';
    for (let w = 0; w < 8; w++)
      hex += Math.floor(random() * 2 ** 32)
        .toString(16)
        .padStart(8, '0');
    block.push(`e-${String(i).padStart(9, '0')},pdq,${hex}`);
    if (block.length === ROWS_PER_WRITE || i === ENTRIES - 1) {
      if (!out.write(`${block.join('\n')}\n`)) await once(out, 'drain');
      block = [];
    }
  }
  out.end();
  await once(out, 'finish');
}

/**
 * The reload process: follows the snapshot at argv[1] (the key at argv[3] trusted), renames the
 * newer one (argv[2]) over it, reloads, and prints its times in ms as JSON.
 */
const RELOAD_CHILD = `
import { copyFileSync, readFileSync, renameSync } from 'node:fs';
import { Matcher } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)};
const [followed, newer, key] = process.argv.slice(1);
const t0 = performance.now();
const matcher = await Matcher.follow(followed, { intervalMs: 0, trustedKeys: [readFileSync(key, 'utf8')] });
const follow = performance.now() - t0;
const before = matcher.sequence;
copyFileSync(newer, followed + '.part');
renameSync(followed + '.part', followed);
const t1 = performance.now();
const changed = await matcher.reload();
const reload = performance.now() - t1;
await matcher.close();
if (!changed || matcher.sequence <= before) throw new Error('the newer snapshot was not swapped in');
console.log(JSON.stringify({ follow, reload }));
`;

/** Runs the CLI (or, `cli` false, node with `args`) under `/usr/bin/time -v`. */
function timed(args: readonly string[], cli = true): Promise<TimedProcess> {
  return timeProcess([...(cli ? [CLI] : []), ...args], join(timeDir, 'time.txt'));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function main(): Promise<void> {
  const { dir, cleanup } = scratchDir('hashwarden-fleet-');
  timeDir = dir;
  try {
    const list = join(dir, 'list.csv');
    const db = join(dir, 'hashes.db');
    const snapshot = join(dir, 'lists.snap');
    const image = join(dir, 'upload.png');
    await writeList(list);
    const pixels = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 37 + (i >> 7) * 11) & 255));
    await sharp(pixels, { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toFile(image);
    const key = join(dir, 'publisher.key');
    const signed = join(dir, 'signed.snap');
    const newer = join(dir, 'newer.snap');
    const imported = await timed(['import', list, '--db', db, '--list', 'fleet', '--quiet']);
    if (imported.status !== 0) throw new Error(`import exited ${imported.status}`);
    // The import's pages reach the disk now, not during the steps timed next.
    execFileSync('sync');
    if ((await timed(['keygen', '--out', key])).status !== 0) throw new Error('keygen failed');
    const sign = ['--sign', key, '--sequence', '1'];
    const steps: [string, string[]][] = [
      ['`match FILE --db` (open the store, one image)', ['match', image, '--db', db]],
      ['`export --snapshot`', ['export', '--db', db, '--snapshot', snapshot]],
      ['`match FILE --snapshot`', ['match', image, '--snapshot', snapshot]],
      ['`export --snapshot --sign`', ['export', '--db', db, '--snapshot', signed, ...sign]],
      [
        '`match FILE --snapshot --trust` (open, verify)',
        ['match', image, '--snapshot', signed, '--trust', `${key}.pub`],
      ],
    ];
    const rows: string[] = [];
    const row = (name: string, runs: readonly TimedProcess[], extra = ''): void => {
      rows.push(
        `| ${name} | ${median(runs.map((r) => r.wall)).toFixed(2)} s | ${median(runs.map((r) => r.rssKiB / 1024)).toFixed(0)} MB |${extra || ' |'}`,
      );
    };
    for (const [name, args] of steps) {
      const runs: TimedProcess[] = [];
      for (let r = 0; r < RUNS; r++) {
        const run = await timed(args);
        // match exits 1 on a match and 0 on none; anything else is a failure.
        if ((run.status ?? 2) > 1) throw new Error(`${args.join(' ')} exited ${run.status}`);
        runs.push(run);
      }
      row(name, runs);
    }
    // Reload: the snapshot followed is replaced by a newer one (sequence 2), as a publisher's
    // upload replaces the object, then one check swaps it in.
    const exported = await timed(['export', '--db', db, '--snapshot', newer, '--sign', key, '--sequence', '2']);
    if (exported.status !== 0) throw new Error('the newer export failed');
    const followed = join(dir, 'followed.snap');
    const runs: TimedProcess[] = [];
    const inside: { follow: number; reload: number }[] = [];
    for (let r = 0; r < RUNS; r++) {
      copyFileSync(signed, followed);
      const run = await timed(['--input-type=module', '-e', RELOAD_CHILD, followed, newer, `${key}.pub`], false);
      if (run.status !== 0) throw new Error(`the reload process exited ${run.status}: ${run.stdout}${run.stderr}`);
      inside.push(JSON.parse(run.stdout) as { follow: number; reload: number });
      runs.push(run);
    }
    row(
      '`Matcher.follow(signed)`, newer snapshot renamed over it, `reload()` (whole process)',
      runs,
      ` follow ${median(inside.map((i) => i.follow)).toFixed(0)} ms, reload ${median(inside.map((i) => i.reload)).toFixed(0)} ms |`,
    );
    console.log(
      `${await environment()}; revision ${revision()}; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(`${ENTRIES.toLocaleString('en-US')} random PDQ entries, median of ${RUNS} runs, ${CLI}\n`);
    console.log('| step | time | peak RSS | inside the process |\n|---|---:|---:|---|');
    console.log(
      `| \`import\` (CSV, fresh store, one run) | ${imported.wall.toFixed(2)} s | ${(imported.rssKiB / 1024).toFixed(0)} MB | |`,
    );
    for (const row of rows) console.log(row);
  } finally {
    cleanup();
  }
}

await main();
