/**
 * Question: what does a serverless function pay before it decides its first upload — Node's start,
 * importing hashwarden and hashwarden/image (sharp and libvips), opening a 1M-entry snapshot, and
 * the first matchImage — and how large is the package it must ship? Results in docs/serverless.md.
 *
 * Cold start: whole processes timed by hyperfine (Debian package `hyperfine`), page cache warm: a
 * bare `node -e 0`, then bench/serverless-cold-start-run.mjs stopped after each stage (core, image,
 * open, first), so that the difference between two stages' medians is what the later one adds. The
 * machine's load drifts within a minute, so the runs are taken in ROUNDS rounds, each timing every
 * command in turn, and pooled (as bench/cold-start.ts does); CPU time (user + system, every
 * thread) is reported beside wall time, as it moves less with other load. Then the phases inside
 * one process (median of PHASE_RUNS runs each of `--phases=whole` and `--phases=split`,
 * alternating): the first matchImage whole, and split into decode + hashes and search, each with a
 * second, warm call beside it, the CPU time of each phase, the resident set after the open and the
 * peak.
 *
 * The snapshot: COUNT PDQ hashes in one list (uniform random, plus the test image's own PDQ hash
 * with 3 bits flipped, so the first matchImage must match), written by `writeSnapshot` with the
 * default search tier. The image: IMAGE (default test-vectors/images/landscape-1600x1200.jpg, a
 * 1600 × 1200 JPEG).
 *
 * Install size (with --install-size; needs the npm registry and builds better-sqlite3 from source
 * when no prebuilt binary can be fetched, a minute or two): `npm pack` of this repository into a
 * temporary directory, `npm install --omit=dev` of that tarball into a new project there, the size
 * of what was installed by package, then the same tree pruned to what a function that only opens
 * snapshots loads (hashwarden and sharp's dependency tree), checked by matching an image with it,
 * and the zip of that tree (Lambda's limits are on the zip and on the unzipped size).
 *
 * Run: npm run build && npx tsx bench/serverless-cold-start.ts [--install-size]
 * COUNT (default 1000000), RUNS (per command, default 40), ROUNDS (default 8), PHASE_RUNS
 * (default 15), IMAGE.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatHex } from '../src/algorithms/hex.js';
import { hashImage } from '../src/image/index.js';
import type { ListEntry } from '../src/lists/entry.js';
import { writeSnapshot } from '../src/snapshot/write.js';
import { mulberry32 } from '../src/testing/prng.js';
import { environment, revision, ROOT } from './corpus.js';
import { hyperfineRounds } from './hyperfine.js';

const COUNT = Number(process.env.COUNT ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 40);
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const PHASE_RUNS = Number(process.env.PHASE_RUNS ?? 15);
const IMAGE = process.env.IMAGE ?? join(ROOT, 'test-vectors', 'images', 'landscape-1600x1200.jpg');
const INSTALL_SIZE = process.argv.includes('--install-size');

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
const run = (cmd: string, args: string[], cwd?: string): string =>
  execFileSync(cmd, args, { encoding: 'utf8', cwd, maxBuffer: 64 * 2 ** 20 });

if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run npm run build first');
const dir = mkdtempSync(join(tmpdir(), 'hashwarden-serverless-'));
try {
  console.log(`# serverless cold start — ${await environment()}`);
  const sharpVersion = (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', 'sharp', 'package.json'), 'utf8')) as { version: string }
  ).version;
  console.log(`sharp ${sharpVersion}; git ${revision()}`);

  // The snapshot: random PDQ hashes, and one near the test image's.
  const own = (await hashImage(IMAGE, { algorithms: ['pdq'] })).hashes.pdq!;
  const near = Uint8Array.from(Buffer.from(own, 'hex'));
  for (const bit of [5, 100, 201]) near[bit >> 3]! ^= 0x80 >> (bit & 7);
  const random = mulberry32(11);
  const next = (): number => Math.floor(random() * 2 ** 32);
  const entries: ListEntry[] = [];
  const at = Math.floor(COUNT / 3);
  for (let i = 0; i < COUNT; i++) {
    const hash = i === at ? formatHex(near) : formatHex(new Uint8Array(Uint32Array.from({ length: 8 }, next).buffer));
    entries.push({ algorithm: 'pdq', hash, id: `entry-${i}`, list: 'bench' });
  }
  const snapshot = join(dir, 'list.snap');
  await writeSnapshot(snapshot, { lists: [{ name: 'bench', version: 1 }], entries });
  entries.length = 0;
  console.log(
    `snapshot: ${COUNT.toLocaleString('en')} PDQ entries, ${mib(statSync(snapshot).size)} MiB; image: ${IMAGE.replace(`${ROOT}/`, '')} (${statSync(IMAGE).size} bytes)\n`,
  );

  // Whole processes, each stage a prefix of the next.
  const script = join(ROOT, 'bench', 'serverless-cold-start-run.mjs');
  const commands: [string, string][] = [
    ['bare node (`node -e 0`)', 'node -e 0'],
    ['+ import hashwarden', `node ${script} ${snapshot} ${IMAGE} core`],
    ['+ import hashwarden/image (sharp)', `node ${script} ${snapshot} ${IMAGE} image`],
    ['+ open the snapshot', `node ${script} ${snapshot} ${IMAGE} open`],
    ['+ first matchImage', `node ${script} ${snapshot} ${IMAGE} first`],
  ];
  const json = join(dir, 'hyperfine.json');
  // hyperfine gives CPU time (user + system, all threads) as a mean per command and round: less
  // moved than wall time by other processes waiting for the same cores.
  const { times, cpu, perRound } = hyperfineRounds(
    commands.map(([, c]) => c),
    RUNS,
    ROUNDS,
    json,
  );
  const medians = times.map(median);
  const bare = medians[0]!;
  console.log(`${ROUNDS} rounds of ${perRound} runs of each command, interleaved, pooled (hyperfine -N)\n`);
  const cpus = cpu.map(median);
  console.log(
    "| process | median (ms) | × bare node | added by the stage (ms, difference of medians) | min (ms) | p90 (ms) | CPU time (ms, median of the rounds' means) | added CPU (ms) |",
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  commands.forEach(([name], i) => {
    const t = [...times[i]!].sort((a, b) => a - b);
    const added = i === 0 ? '—' : (medians[i]! - medians[i - 1]!).toFixed(1);
    const addedCpu = i === 0 ? '—' : (cpus[i]! - cpus[i - 1]!).toFixed(1);
    console.log(
      `| ${name} | ${medians[i]!.toFixed(1)} | ${(medians[i]! / bare).toFixed(2)} | ${added} | ${t[0]!.toFixed(1)} | ${t[Math.floor(t.length * 0.9)]!.toFixed(1)} | ${cpus[i]!.toFixed(1)} | ${addedCpu} |`,
    );
  });
  console.log(`\ncold start to the first decision beyond a bare node: ${(medians[4]! - bare).toFixed(1)} ms`);

  // Phases inside one process.
  const phases: Record<string, Record<string, number[]>> = { whole: {}, split: {} };
  for (let r = 0; r < PHASE_RUNS; r++) {
    for (const mode of r % 2 === 0 ? ['whole', 'split'] : ['split', 'whole']) {
      const out = JSON.parse(run('node', [script, snapshot, IMAGE, 'first', `--phases=${mode}`])) as Record<
        string,
        number
      >;
      const into = phases[mode]!;
      for (const [k, v] of Object.entries(out)) {
        into[k] ??= [];
        into[k].push(v);
      }
    }
  }
  console.log(
    `\nphases inside one process (median of ${PHASE_RUNS} runs of each mode, ms; openRssMiB: resident set after the open, rssMiB: peak):`,
  );
  for (const [mode, values] of Object.entries(phases)) {
    console.log(
      `- ${mode}: ${Object.entries(values)
        .map(([k, v]) => `${k} ${median(v).toFixed(1)}`)
        .join(', ')}`,
    );
  }

  // The snapshot ships with the function (a layer, the package) or is fetched at init: how it zips.
  try {
    const zipped = join(dir, 'snapshot.zip');
    execFileSync('zip', ['-qj', '-9', zipped, snapshot]);
    console.log(`\nzip -9 of the snapshot: ${mib(statSync(zipped).size)} MiB`);
    rmSync(zipped);
  } catch (error) {
    console.log(`\nzip of the snapshot: not measured (${(error as Error).message.split('\n')[0]})`);
  }

  if (INSTALL_SIZE) installSize(join(dir, 'install'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Bytes under a path: apparent size (du -sb) and disk use (du -sk × 1024). */
function du(path: string): { bytes: number; disk: number } {
  return {
    bytes: Number(run('du', ['-sb', path]).split('\t')[0]),
    disk: Number(run('du', ['-sk', path]).split('\t')[0]) * 1024,
  };
}

function installSize(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const packed = (
    JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)) as {
      filename: string;
      size: number;
      unpackedSize: number;
      entryCount: number;
      files: { path: string; size: number }[];
    }[]
  )[0]!;
  const byTop = new Map<string, number>();
  for (const f of packed.files) {
    const top = f.path.includes('/') ? `${f.path.split('/')[0]!}/` : f.path;
    byTop.set(top, (byTop.get(top) ?? 0) + f.size);
  }
  const maps = packed.files.filter((f) => f.path.endsWith('.map')).reduce((n, f) => n + f.size, 0);
  console.log(
    `\n## install size\n\nnpm pack: ${packed.filename}, ${mib(packed.size)} MiB packed, ${mib(packed.unpackedSize)} MiB unpacked, ${packed.entryCount} files; unpacked by top folder: ${[...byTop].map(([k, v]) => `${k} ${mib(v)} MiB`).join(', ')}; source maps ${mib(maps)} MiB`,
  );

  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const started = performance.now();
  run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error', join(dir, packed.filename)], app);
  console.log(`npm install --omit=dev of the tarball: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const modules = join(app, 'node_modules');
  const total = du(modules);
  const packages = run('npm', ['ls', '--omit=dev', '--all', '--parseable'], app)
    .trim()
    .split('\n')
    .filter((p) => p.includes('node_modules'));
  const rows = packages
    .map((p) => ({ name: p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length), ...du(p) }))
    .sort((a, b) => b.bytes - a.bytes);
  console.log(
    `installed node_modules: ${rows.length} packages, ${mib(total.bytes)} MiB (${mib(total.disk)} MiB on disk)\n`,
  );
  console.log('| package | MiB | MiB on disk |');
  console.log('|---|---:|---:|');
  for (const r of rows.filter((r) => r.bytes >= 256 * 1024))
    console.log(`| ${r.name} | ${mib(r.bytes)} | ${mib(r.disk)} |`);
  const small = rows.filter((r) => r.bytes < 256 * 1024);
  console.log(
    `| ${small.length} others | ${mib(small.reduce((n, r) => n + r.bytes, 0))} | ${mib(small.reduce((n, r) => n + r.disk, 0))} |`,
  );
  const sqliteBuild = join(modules, 'better-sqlite3', 'build');
  if (existsSync(sqliteBuild)) {
    const addon = join(sqliteBuild, 'Release', 'better_sqlite3.node');
    console.log(
      `\nbetter-sqlite3/build: ${mib(du(sqliteBuild).bytes)} MiB, of which the addon better_sqlite3.node ${existsSync(addon) ? mib(statSync(addon).size) : '?'} MiB (the rest: objects of a build from source)`,
    );
  }

  // What a function that opens only snapshots loads: hashwarden and sharp's tree.
  const keep = new Set(['hashwarden']);
  const tree = JSON.parse(run('npm', ['ls', '--omit=dev', '--all', '--json'], app)) as {
    dependencies?: Record<string, Node>;
  };
  type Node = { dependencies?: Record<string, Node> };
  const walk = (name: string, node: Node | undefined): void => {
    keep.add(name);
    for (const [child, sub] of Object.entries(node?.dependencies ?? {})) walk(child, sub);
  };
  walk('sharp', tree.dependencies?.hashwarden?.dependencies?.sharp ?? tree.dependencies?.sharp);
  for (const r of rows) if (!keep.has(r.name)) rmSync(join(modules, r.name), { recursive: true, force: true });
  rmSync(join(modules, '.bin'), { recursive: true, force: true });
  const check = join(app, 'check.mjs');
  writeFileSync(
    check,
    `import { Matcher } from 'hashwarden';\nimport { hashImage } from 'hashwarden/image';\nimport { writeSnapshot } from 'hashwarden';\n` +
      `const h = (await hashImage(process.argv[2], { algorithms: ['pdq'] })).hashes.pdq;\n` +
      `await writeSnapshot('check.snap', { lists: [{ name: 'l', version: 1 }], entries: [{ id: 'a', list: 'l', algorithm: 'pdq', hash: h }] });\n` +
      `const r = await (await Matcher.openSnapshot('check.snap')).matchImage(process.argv[2]);\nif (!r.matched) process.exit(3);\nconsole.log('ok');\n`,
  );
  const ok = run('node', [check, IMAGE], app).trim();
  const lean = du(modules);
  const leanMaps = Number(
    run('sh', [
      '-c',
      `find ${join(modules, 'hashwarden')} -name '*.map' -printf '%s\\n' | awk '{s+=$1} END {print s+0}'`,
    ]).trim(),
  );
  const kept = [...keep].filter((name) => existsSync(join(modules, name))).sort();
  console.log(
    `\nsnapshot-only tree (${kept.join(', ')}): ${mib(lean.bytes)} MiB (${mib(lean.disk)} MiB on disk); matching with it: ${ok}; of which hashwarden's source maps ${mib(leanMaps)} MiB`,
  );
  rmSync(join(app, 'check.snap'), { force: true });
  try {
    const zip = join(dir, 'function.zip');
    execFileSync('zip', ['-qr', '-9', zip, 'node_modules'], { cwd: app });
    console.log(`zip -9 of that node_modules: ${mib(statSync(zip).size)} MiB`);
  } catch (error) {
    console.log(`zip: not measured (${(error as Error).message.split('\n')[0]})`);
  }
}
