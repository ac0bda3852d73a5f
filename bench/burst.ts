/**
 * Question (issue 18, finding 12): what do N simultaneous `matchImage` calls cost, with the
 * matcher's bound on uploads in hand at its defaults (`concurrency` 4, `maxQueued` 64) and without
 * it? Each configuration runs in a fresh Node process: it builds a matcher (1,000 random PDQ and
 * 1,000 random blockhash entries), makes a 1000 × 800 PNG of seeded RGB noise (2.4 MB; the finding's
 * was 1.3 MB), starts N calls on that one Buffer in the same tick, awaits them all, and reports the
 * outcomes, the wall time and its peak resident memory (`process.resourceUsage().maxRSS`).
 *
 * Configurations, the same run's baselines for each other:
 * - `defaults`: the matcher as it comes; calls past 4 + 64 are refused with `ERR_BUSY`;
 * - `queue all`: `maxQueued: Infinity`: every call waits its turn, holding its copy;
 * - `unbounded`: `concurrency` 1024 and `maxQueued: Infinity`, every call decoded at once: what a
 *   matcher did before the bound.
 *
 * Run: npx tsx bench/burst.ts [N]   (N = 1000 by default; a few minutes, most of it `unbounded`)
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isHashwardenError, Matcher, type MatcherOptions } from '../src/index.js';
import { environment } from './corpus.js';
import { noisePng, randomEntries } from './noise-upload.js';

const CONFIGS: Readonly<Record<string, MatcherOptions>> = {
  defaults: {},
  'queue all': { maxQueued: Number.POSITIVE_INFINITY },
  unbounded: { concurrency: 1024, maxQueued: Number.POSITIVE_INFINITY },
};

async function child(name: string, calls: number): Promise<void> {
  const options = CONFIGS[name] as MatcherOptions;
  const png = await noisePng();
  const entries = randomEntries();
  const matcher = Matcher.fromEntries(entries, options);
  await matcher.matchImage(png); // sharp and the kernels loaded before the burst
  const before = process.resourceUsage().maxRSS;
  const started = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: calls }, () => matcher.matchImage(png)));
  const ms = performance.now() - started;
  const count = (code: string): number =>
    outcomes.filter((o) => o.status === 'rejected' && isHashwardenError(o.reason, code as never)).length;
  const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
  const busy = count('ERR_BUSY');
  const other = calls - ok - busy;
  console.log(
    JSON.stringify({
      name,
      ok,
      busy,
      other,
      ms,
      peakMiB: process.resourceUsage().maxRSS / 1024,
      beforeMiB: before / 1024,
    }),
  );
}

const [flag, name, n] = process.argv.slice(2);
if (flag === '--child') {
  await child(name as string, Number(n));
} else {
  const calls = Number(flag ?? 1000);
  console.log(`# ${calls} simultaneous matchImage calls on one 2.4 MB PNG — ${await environment()}\n`);
  console.log('| matcher | answered | ERR_BUSY | other errors | wall s | peak RSS MiB | RSS before the burst MiB |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const config of Object.keys(CONFIGS)) {
    const out = execFileSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), '--child', config, String(calls)],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(out.trim().split('\n').pop() as string);
    console.log(
      `| ${config} | ${r.ok} | ${r.busy} | ${r.other} | ${(r.ms / 1000).toFixed(1)} | ${Math.round(r.peakMiB)} | ${Math.round(r.beforeMiB)} |`,
    );
  }
}
