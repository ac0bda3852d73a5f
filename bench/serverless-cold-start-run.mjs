// One serverless cold start, stopped after a given stage, as bench/serverless-cold-start.ts runs
// it under hyperfine (each stage a whole process, so the difference between two stages is what the
// later one adds, process exit included):
//   node bench/serverless-cold-start-run.mjs SNAPSHOT IMAGE STAGE [--phases=whole|split]
// STAGE: core (import hashwarden), image (+ import hashwarden/image, i.e. sharp and libvips),
// open (+ Matcher.openSnapshot), first (+ the first matchImage on IMAGE, which must match).
// The built entries are imported by path (bench/ has a package.json of its own, so the package
// cannot refer to itself by name from here): the same files `hashwarden` and `hashwarden/image`
// resolve to.
// Exits 3 when the first matchImage matched nothing (the snapshot is built so that it must), so
// a broken run cannot pass as fast.
// With --phases it prints JSON: each stage's time in ms (`boot` is Node's own start-up, up to this
// script's first line) and its CPU time (`…Cpu`, every thread), a second, warm, call of the same
// work, the resident set after the open and the peak, in MiB. `whole` times matchImage as one
// phase; `split` times its two halves through the public API: hashImage with the options
// matchImage uses (decode + hashes) and matchHash on each hash it searches.
import { readFile } from 'node:fs/promises';

const boot = performance.now();
const [snapshot, image, stage = 'first'] = process.argv.slice(2);
const phases = process.argv.find((a) => a.startsWith('--phases='))?.slice('--phases='.length);
let lastCpu = process.cpuUsage();
const out = { boot, bootCpu: (lastCpu.user + lastCpu.system) / 1000 };
let last = boot;
const mark = (name) => {
  const now = performance.now();
  out[name] = now - last;
  if (phases !== undefined) {
    // CPU time of the phase, every thread of the process (sharp's included), in ms.
    const cpu = process.cpuUsage(lastCpu);
    out[`${name}Cpu`] = (cpu.user + cpu.system) / 1000;
    lastCpu = process.cpuUsage();
  }
  last = performance.now();
};
const done = () => {
  if (phases !== undefined)
    console.log(JSON.stringify({ ...out, total: performance.now(), rssMiB: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
};

const { Matcher } = await import('../dist/index.js');
mark('core');
if (stage === 'core') done();
const { hashImage, searchedHashes } = await import('../dist/image/index.js');
mark('image');
if (stage === 'image') done();
const matcher = await Matcher.openSnapshot(snapshot);
mark('open');
if (phases !== undefined) out.openRssMiB = process.memoryUsage().rss / 2 ** 20;
if (stage === 'open') done();
const bytes = await readFile(image);
// Reading a small test image is not part of the library's cold start.
last = performance.now();
lastCpu = process.cpuUsage();

/** The work of one matchImage, whole or in its two halves; returns the number of matches. */
async function match(prefix) {
  if (phases !== 'split') {
    const result = await matcher.matchImage(bytes);
    mark(prefix);
    return result.matches.length;
  }
  // What matchImage does by default: every algorithm the lists hold, turned and mirrored, trimmed.
  const hashed = await hashImage(bytes, { algorithms: matcher.algorithms, dihedral: true, trim: true });
  mark(`${prefix}Decode`);
  let found = 0;
  for (const algorithm of matcher.algorithms) {
    for (const query of searchedHashes(hashed, algorithm))
      found += matcher.matchHash({ algorithm, hash: query.hash }).length;
  }
  mark(`${prefix}Search`);
  return found;
}

if ((await match('first')) === 0) {
  console.error('serverless-cold-start-run: the first matchImage matched nothing');
  process.exit(3);
}
if (phases !== undefined) await match('second');
done();
