/**
 * XXH3-64 test-vector generator: builds deterministic inputs with mulberry32 (src/testing/prng.ts),
 * hashes each with the reference command-line tool `xxhsum -H3` (XXH3_64bits, seed 0, default
 * secret) and writes `vectors.json` beside this script. `src/snapshot/xxh3.test.ts` rebuilds the same
 * inputs and checks the JavaScript XXH3 against these values.
 *
 * Input i of length L with seed S = 1000 + L: a fresh `mulberry32(S)`, byte k = floor(rng() × 256),
 * for k = 0 … L − 1. Lengths: every length 0–300 (all short and medium paths, and the long path's
 * first stripes), then around the long path's stripe (64) and block (1024) boundaries, and a few
 * large ones.
 *
 * Needs `xxhsum` on the PATH (xxHash's CLI: Debian/Ubuntu package `xxhash`; the committed vectors
 * were made with xxhsum 0.8.1). Run: `npx tsx test-vectors/xxh3/generate.ts`. See
 * test-vectors/README.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/testing/prng.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUTPUT = join(HERE, 'vectors.json');

const LENGTHS = [
  ...Array.from({ length: 301 }, (_, i) => i),
  511,
  512,
  513,
  1023,
  1024,
  1025,
  1087,
  1088,
  1089,
  2047,
  2048,
  2049,
  4095,
  4096,
  4097,
  10000,
  65543,
  1048589,
];

/** The seed of the input of length `length`. */
function seedFor(length: number): number {
  return 1000 + length;
}

/** The input of length `length` generated from `seed`: byte k = floor(rng() × 256) of a fresh mulberry32(seed). */
function inputFor(length: number, seed: number): Uint8Array {
  const rng = mulberry32(seed);
  const bytes = new Uint8Array(length);
  for (let k = 0; k < length; k++) bytes[k] = Math.floor(rng() * 256);
  return bytes;
}

function xxhsumVersion(): string {
  // xxhsum 0.8.1 prints its banner on stderr.
  const run = spawnSync('xxhsum', ['--version'], { encoding: 'utf8' });
  if (run.error !== undefined) throw new Error(`xxhsum not found or not runnable: ${run.error.message}`);
  const banner = `${run.stdout}${run.stderr}`.split('\n')[0]?.trim() ?? '';
  if (!banner.startsWith('xxhsum'))
    throw new Error(`Unexpected \`xxhsum --version\` output: ${JSON.stringify(banner)}`);
  let pkg = '';
  try {
    // dpkg-query's format field `${Version}`, spelled so that no reader takes it for a template.
    pkg = execFileSync('dpkg-query', ['-W', `-f=${'$'}{Version}`, 'xxhash'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    // Not a Debian system, or xxhsum not from the package: the banner alone.
  }
  return pkg === '' ? banner : `${banner} (Debian package xxhash ${pkg})`;
}

function main(): void {
  const version = xxhsumVersion();
  const dir = mkdtempSync(join(tmpdir(), 'xxh3-vectors-'));
  try {
    const files = LENGTHS.map((length) => {
      const file = join(dir, `len-${length}.bin`);
      writeFileSync(file, inputFor(length, seedFor(length)));
      return file;
    });
    // One run for all files. xxhsum 0.8.1 prints `XXH3 (<file>) = <16 hex digits>` for -H3.
    const output = execFileSync('xxhsum', ['-H3', ...files], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const byFile = new Map<string, string>();
    for (const line of output.split('\n')) {
      if (line.trim() === '') continue;
      const match = /^XXH3 \((.+)\) = ([0-9a-f]{16})$/.exec(line.trim());
      if (match === null) throw new Error(`Unexpected xxhsum output line: ${JSON.stringify(line)}`);
      byFile.set(match[1] as string, match[2] as string);
    }
    const vectors = LENGTHS.map((length, i) => {
      const hash = byFile.get(files[i] as string);
      if (hash === undefined) throw new Error(`xxhsum printed no hash for length ${length}`);
      return { length, seed: seedFor(length), xxh3: hash };
    });
    const doc = {
      algorithm: 'XXH3_64bits, seed 0, default secret',
      provenance:
        `${version}; each input written to its own file and hashed with \`xxhsum -H3 <files>\` ` +
        `(output lines \`XXH3 (<file>) = <hex>\`); generated ${new Date().toISOString().slice(0, 10)} by test-vectors/xxh3/generate.ts`,
      input:
        'Input of length L with seed S: a fresh mulberry32(S) from src/testing/prng.ts; byte k (k = 0 … L − 1) is ' +
        'Math.floor(rng() * 256), the k-th call. S = 1000 + L. The hash is the 64-bit value as 16 lowercase hex digits, most significant first.',
      vectors,
    };
    // One vector a line: valid JSON, short diffs.
    const head = JSON.stringify({ ...doc, vectors: [] }, null, 2).replace(/\[\]\n\}$/, '');
    const body = vectors.map((v) => `    ${JSON.stringify(v)}`).join(',\n');
    writeFileSync(OUTPUT, `${head}[\n${body}\n  ]\n}\n`);
    console.log(`${vectors.length} vectors written to ${OUTPUT} (${version})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
