/**
 * The long fuzz run (docs/fuzzing.md): the same `*.fuzz.test.ts` properties CI runs, with a much
 * larger budget and, by default, a fresh random seed, printed first and last so that a failure
 * can be replayed. Runs vitest on the fuzz files with the budget in FUZZ_SEED / FUZZ_SCALE /
 * FUZZ_RUNS / FUZZ_PATH (read by src/testing/fuzz.ts) and no per-test timeout.
 *
 * ```sh
 * npx tsx scripts/fuzz-long.ts                      # random seed, 50 × CI's runs
 * npx tsx scripts/fuzz-long.ts --scale 200 --seed 1234
 * npx tsx scripts/fuzz-long.ts --seed 1234 --path "35:2:2" -- src/snapshot/snapshot.fuzz.test.ts -t forged   # replay one failure
 * npx tsx scripts/fuzz-long.ts --corpus             # only the hostile-inputs corpus (lists, stores, snapshots)
 * ```
 *
 * Every run includes `test-vectors/hostile-inputs.fuzz.test.ts`, which damages the small files of
 * the hostile-inputs corpus (test-vectors/hostile-lists.ts: byte flips, truncations, insertions,
 * splices) and opens each as its case does: `--corpus` runs it alone.
 *
 * Anything after `--` goes to vitest (files to run, `-t` to pick a test). Exit status: vitest's.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { fuzzBudget, type FuzzBudget } from '../src/testing/fuzz.js';

const DEFAULT_SCALE = 50;

const { values, positionals } = parseArgs({
  options: {
    seed: { type: 'string' },
    scale: { type: 'string' },
    runs: { type: 'string' },
    path: { type: 'string' },
    corpus: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
});

if (values.help) {
  console.log(
    'Usage: tsx scripts/fuzz-long.ts [--seed N] [--scale N | --runs N] [--path P] [--corpus] [-- vitest arguments]',
  );
  process.exit(0);
}

// The budget as the fuzz files read it, checked by the same code (src/testing/fuzz.ts).
const env: Record<string, string> = {
  FUZZ_SEED: values.seed ?? String(randomInt(0, 2 ** 31 - 1)),
  ...(values.runs === undefined ? { FUZZ_SCALE: values.scale ?? String(DEFAULT_SCALE) } : { FUZZ_RUNS: values.runs }),
  ...(values.path === undefined ? {} : { FUZZ_PATH: values.path }),
};
let budget: FuzzBudget;
try {
  budget = fuzzBudget(env);
} catch (error) {
  console.error(`fuzz: ${(error as Error).message} (--seed, --scale, --runs set FUZZ_SEED, FUZZ_SCALE, FUZZ_RUNS)`);
  process.exit(2);
}
const { seed, runs, scale } = budget;
const replay = Object.entries(env)
  .map(([name, value]) => `${name}=${name === 'FUZZ_PATH' ? JSON.stringify(value) : value}`)
  .join(' ');
// The hostile-inputs corpus's fuzz file: what --corpus runs alone.
const CORPUS_FUZZ = 'test-vectors/hostile-inputs.fuzz.test.ts';
// Without files named, every fuzz file (vitest takes arguments as filters on the file path).
const vitestArgs = [...(values.corpus ? [CORPUS_FUZZ] : []), ...positionals];
if (vitestArgs.length === 0) vitestArgs.push('.fuzz.test.ts');

console.log(`fuzz: seed ${seed}, ${runs === undefined ? `${scale} × the CI runs` : `${runs} runs`} of each property`);
console.log(`fuzz: to replay: ${replay} npx vitest run --testTimeout=0 ${vitestArgs.join(' ')}`);
const started = Date.now();
const result = spawnSync('npx', ['vitest', 'run', '--testTimeout=0', ...vitestArgs], {
  stdio: 'inherit',
  env: { ...process.env, ...env },
});
const seconds = ((Date.now() - started) / 1000).toFixed(0);
if (result.error !== undefined) {
  console.error(`fuzz: could not run vitest: ${result.error.message}`);
  process.exit(2);
}
const status = result.status ?? 1;
console.log(`fuzz: ${status === 0 ? 'passed' : 'FAILED'} in ${seconds} s with seed ${seed}`);
if (status !== 0) {
  console.log('fuzz: fast-check printed { seed, path } with each failure: replay one with');
  console.log(`fuzz:   npx tsx scripts/fuzz-long.ts --seed ${seed} --path "<path>" -- <file> -t "<test name>"`);
}
process.exit(status);
