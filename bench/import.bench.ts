/**
 * Question (issue 6): how fast does `hashwarden import` put a list into the SQLite store, and does
 * its memory stay flat as the file grows? Targets: ≥ 300,000 rows/s at 1M and 10M rows; peak
 * memory not growing with the file.
 *
 * For each size N a CSV list is generated (header `id,algorithm,hash`; ids `ncmec-000001234`;
 * 60% pdq, 30% md5, 10% sha1, hex from mulberry32 so every run writes the same file) into a
 * temporary directory, and the real CLI is run on it as a separate process under
 * `/usr/bin/time -v`, three times: `fresh` (a new store), `re-import` (the same file again into the
 * now-populated store: every row unchanged, the daily full list), `replace` (the same again with
 * `--replace`). Reported per run: wall clock (time's Elapsed), rows/s = N ÷ wall, CPU (user + sys),
 * peak RSS (time's Maximum resident set size) and the store's size after the run (the database
 * file plus any WAL). Whole processes, so start-up is included: the `1-row` line gives it.
 *
 * The CLI run is the built `dist/cli/main.js` when it is at least as new as every file in src/
 * (`npm run build`), else `node --import tsx src/cli/main.ts`, which starts slower (about 0.3 s)
 * and runs about 10% slower per row (tsx keeps function names with a `__name` call on every
 * closure made per row); `--runner dist|tsx` forces one, `--cli FILE` (relative to the repository
 * root) runs another build.
 * The generated files and stores are deleted at the end (also on Ctrl-C).
 *
 * Run: npm run bench:import                      (1M and 10M rows: about 0.8 GB of list at 10M,
 *      npx tsx bench/import.bench.ts --rows 2e5   a store of about the same size, minutes)
 * Options: --rows 1e6,1e7   sizes (default)
 *          --runs fresh,re-import,replace   which runs (default all three)
 *          --shuffle        ids in a scrambled order instead of ascending (inserts all over the key)
 *          --runner auto|dist|tsx, --cli FILE   which CLI build runs (see above)
 */
import { createWriteStream, existsSync, rmSync, statfsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { once } from 'node:events';
import { mulberry32 } from '../src/testing/prng.js';
import { environment, revision, ROOT, option } from './corpus.js';
import { newest, scratchDir, timeProcess, type TimedProcess } from './process.js';

// ---------------------------------------------------------------------------------------------
// Options

type RunKind = 'fresh' | 're-import' | 'replace';
const RUN_KINDS: readonly RunKind[] = ['fresh', 're-import', 'replace'];

const flag = (name: string): boolean => process.argv.slice(2).includes(`--${name}`);

function sizes(text: string): number[] {
  return text.split(',').map((s) => {
    const n = Number(s.trim().replaceAll('_', ''));
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`--rows: expected positive integers like 1e6, got ${JSON.stringify(s)}`);
    return n;
  });
}

const SIZES = sizes(option('rows') ?? '1e6,1e7');
const RUNS = (option('runs') ?? RUN_KINDS.join(',')).split(',').map((r) => {
  if (!RUN_KINDS.includes(r.trim() as RunKind))
    throw new RangeError(`--runs: expected some of ${RUN_KINDS.join(', ')}, got ${JSON.stringify(r)}`);
  return r.trim() as RunKind;
});
const SHUFFLE = flag('shuffle');
const TARGET = 300_000;

// ---------------------------------------------------------------------------------------------
// Which CLI

function chooseCli(): { argv: string[]; what: string } {
  const cli = option('cli');
  if (cli !== undefined) return { argv: [cli], what: `${cli} (given with --cli)` };
  const runner = option('runner') ?? 'auto';
  const dist = join(ROOT, 'dist', 'cli', 'main.js');
  const tsx = {
    argv: ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')],
    what: 'node --import tsx src/cli/main.ts',
  };
  if (runner === 'tsx') return { ...tsx, what: `${tsx.what} (--runner tsx)` };
  if (runner === 'dist') return { argv: [dist], what: 'dist/cli/main.js (--runner dist)' };
  if (runner !== 'auto') throw new RangeError(`--runner: expected auto, dist or tsx, got ${JSON.stringify(runner)}`);
  if (!existsSync(dist)) return { ...tsx, what: `${tsx.what} (no dist/: run npm run build to time the built CLI)` };
  if (statSync(dist).mtimeMs < newest(join(ROOT, 'src')))
    return { ...tsx, what: `${tsx.what} (dist/ is older than src/: run npm run build to time the built CLI)` };
  return { argv: [dist], what: 'dist/cli/main.js (built)' };
}

// ---------------------------------------------------------------------------------------------
// The list file

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
// pdq 60%, md5 30%, sha1 10%, as a clearinghouse list mixes perceptual and file hashes.
const MIX = [
  { algorithm: 'pdq', words: 8, upTo: 0.6 },
  { algorithm: 'md5', words: 4, upTo: 0.9 },
  { algorithm: 'sha1', words: 5, upTo: 1 },
] as const;
const ROWS_PER_WRITE = 16_384;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Writes `rows` rows through a buffered stream, a block of rows per write; returns the file size. */
async function writeList(path: string, rows: number, log: (s: string) => void): Promise<number> {
  const random = mulberry32(6);
  const word = (): string => {
    const w = Math.floor(random() * 2 ** 32);
    return HEX[w >>> 24]! + HEX[(w >>> 16) & 255]! + HEX[(w >>> 8) & 255]! + HEX[w & 255]!;
  };
  // --shuffle: ids i ↦ (i·step mod rows), a bijection when step and rows are coprime.
  let step = Math.floor(rows * 0.618_034) | 1;
  while (gcd(step, rows) !== 1) step += 2;
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  const failed = once(out, 'error').then(([error]) => {
    throw error;
  });
  failed.catch(() => undefined);
  let block: string[] = ['id,algorithm,hash'];
  const started = performance.now();
  for (let i = 0; i < rows; i++) {
    const n = SHUFFLE ? (i * step) % rows : i; // exact: i·step < 2^53 below 10^8 rows
    const r = random();
    const { algorithm, words } = MIX.find((m) => r < m.upTo) ?? MIX[0];
    let hash = '';
    for (let w = 0; w < words; w++) hash += word();
    block.push(`ncmec-${String(n + 1).padStart(9, '0')},${algorithm},${hash}`);
    if (block.length === ROWS_PER_WRITE || i === rows - 1) {
      block.push('');
      if (!out.write(block.join('\n'))) await Promise.race([once(out, 'drain'), failed]);
      block = [];
    }
    if ((i + 1) % 1_000_000 === 0 && i + 1 < rows) log(`  generated ${((i + 1) / 1e6).toFixed(0)}M rows`);
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  log(`  generated ${rows.toLocaleString('en')} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return statSync(path).size;
}

// ---------------------------------------------------------------------------------------------
// One import under /usr/bin/time -v

/** Runs an import under `/usr/bin/time -v`; a failed one stops the bench. */
async function timed(argv: readonly string[], timeFile: string): Promise<TimedProcess> {
  const run = await timeProcess(argv, timeFile, ROOT);
  if (run.status !== 0) throw new Error(`import failed (exit ${run.status}):\n${run.stdout}${run.stderr}`);
  return { ...run, stdout: run.stdout.trim() };
}

/** The store's bytes on disk: the database plus a WAL left behind, if any. */
function storeBytes(db: string): number {
  return [db, `${db}-wal`].reduce((sum, p) => sum + (existsSync(p) ? statSync(p).size : 0), 0);
}

/** What the import must have said, so a run that did something else is not reported as a result. */
function expected(kind: RunKind, rows: number): RegExp {
  return kind === 'fresh'
    ? new RegExp(`: ${rows} added, 0 updated, 0 unchanged, 0 removed \\(version 1\\)`)
    : new RegExp(
        `: 0 added, 0 updated, ${rows} unchanged, 0 removed \\(version \\d+${kind === 'replace' ? ', replaced' : ''}\\)`,
      );
}

// ---------------------------------------------------------------------------------------------

const cli = chooseCli();
const { dir, cleanup } = scratchDir('hashwarden-import-');
const t0 = performance.now();
const log = (s: string): void => console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${s}`);
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

try {
  // About 76 bytes a row in the file; the store, the WAL of the import's one transaction and
  // SQLite's temporary staging table are each about the file's size again or more.
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  const need = Math.max(...SIZES) * 76 * 5;
  if (free < need)
    throw new Error(
      `${dir}: ${mib(free)} MiB free, about ${mib(need)} MiB needed for ${Math.max(...SIZES).toLocaleString('en')} rows`,
    );

  const header = `# import — ${await environment()}`;
  const command = (file: string, db: string, extra = ''): string =>
    `node ${cli.argv.map((a) => (a.startsWith(ROOT) ? relative(ROOT, a) : a)).join(' ')} import ${file} --db ${db} --list bench --quiet${extra}`;
  const measured = revision();
  log(`CLI: ${cli.what}, src at ${measured}; temporary files in ${dir} (${mib(free)} MiB free)`);

  // Start-up and a one-row import: the fixed cost inside every figure below.
  const tiny = join(dir, 'one.csv');
  await writeList(tiny, 1, () => undefined);
  const startup = await timed(
    [...cli.argv, 'import', tiny, '--db', join(dir, 'one.db'), '--list', 'bench', '--quiet'],
    join(dir, 'time.txt'),
  );

  const lines: string[] = [];
  for (const rows of SIZES) {
    const file = join(dir, `list-${rows}.csv`);
    const db = join(dir, `store-${rows}.db`);
    log(`${rows.toLocaleString('en')} rows: generating ${file}`);
    const bytes = await writeList(file, rows, log);
    for (const kind of RUNS) {
      if (kind === 'fresh') {
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });
      } else if (!existsSync(db)) throw new Error(`--runs ${kind} needs a populated store: run fresh first`);
      log(`${rows.toLocaleString('en')} rows: ${kind} run…`);
      const argv = [
        ...cli.argv,
        'import',
        file,
        '--db',
        db,
        '--list',
        'bench',
        '--quiet',
        ...(kind === 'replace' ? ['--replace'] : []),
      ];
      const r = await timed(argv, join(dir, 'time.txt'));
      if (!expected(kind, rows).test(r.stdout)) throw new Error(`unexpected result of the ${kind} import: ${r.stdout}`);
      const rate = rows / r.wall;
      log(
        `  ${r.wall.toFixed(2)} s, ${Math.round(rate).toLocaleString('en')} rows/s, peak RSS ${mib(r.rssKiB * 1024)} MiB — ${r.stdout}`,
      );
      lines.push(
        `| ${rows.toLocaleString('en')} | ${mib(bytes)} | ${kind} | ${r.wall.toFixed(2)} | ${Math.round(rate).toLocaleString('en')}${rate >= TARGET ? '' : ' ✗'} | ${r.cpu.toFixed(2)} | ${mib(r.rssKiB * 1024)} | ${mib(storeBytes(db))} |`,
      );
    }
    rmSync(file, { force: true });
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });
  }

  console.log(header);
  console.log(
    `CLI: ${cli.what}; src at ${measured}; generated CSV \`id,algorithm,hash\`, 60% pdq / 30% md5 / 10% sha1, ids ${SHUFFLE ? 'in scrambled order (--shuffle)' : 'ascending'}`,
  );
  console.log(
    `command: /usr/bin/time -v ${command('FILE', 'DB')}   (re-import: the same again; replace: the same with --replace)`,
  );
  console.log(
    `1-row import (start-up, store creation): ${startup.wall.toFixed(2)} s wall, peak RSS ${mib(startup.rssKiB * 1024)} MiB\n`,
  );
  console.log('| rows | file MiB | run | wall s | rows/s | CPU s | peak RSS MiB | store MiB |');
  console.log('|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const line of lines) console.log(line);
  console.log(
    `\n✗: below the target of ${TARGET.toLocaleString('en')} rows/s. CPU s: user + system of the import process (all its threads).`,
  );
} finally {
  cleanup();
}
