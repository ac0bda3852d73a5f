/**
 * Peak memory of every case of the hostile-inputs corpus for lists, stores and snapshots
 * (test-vectors/hostile-lists.ts): each case runs in a fresh Node process (the corpus generated
 * into a temporary folder first), and the table gives its outcome, peak resident memory and time.
 * Issue 18's bar: no case over 512 MB, none failing with anything but a `HashwardenError`.
 *
 * ```sh
 * npm run bench:hostile-inputs                 # every case
 * npm run bench:hostile-inputs -- wide-csv     # cases whose name starts with one of these
 * ```
 *
 * Exit status 1 when any case fails untyped, is killed, or peaks over 512 MB; the outcome not being
 * the manifest's is reported (MISMATCH) but is the test's business, not this bench's.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CaseOutcome, meets, runCaseInChild } from '../test-vectors/hostile-lists/run.js';
import { generate } from '../test-vectors/hostile-lists.js';

/** Issue 18's bound on the peak resident memory of any case. */
const LIMIT_MIB = 512;
/**
 * Where a case is stopped: far enough past the limit to say by how much it is over, near enough
 * that a case allocating gigabytes (as several did before issue 18) costs a shared machine little.
 */
const KILL_MIB = 1536;
/** A case that is not refused in this long is stuck. */
const TIMEOUT_MS = 120_000;

const prefixes = process.argv.slice(2);
const dir = await mkdtemp(join(tmpdir(), 'hostile-inputs-bench-'));
let failed = 0;
try {
  const manifest = await generate(dir);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const cases = manifest.cases.filter((c) => prefixes.length === 0 || prefixes.some((p) => c.case.startsWith(p)));
  const shown = (o: CaseOutcome): string =>
    'ok' in o
      ? `ok ${JSON.stringify(o.ok)}`
      : 'code' in o
        ? o.code
        : 'untyped' in o
          ? `UNTYPED ${o.untyped}`
          : o.killed;
  console.log(`${'case'.padEnd(44)} ${'peak MiB'.padStart(8)} ${'ms'.padStart(7)}  outcome`);
  for (const c of cases) {
    const { outcome, peakMiB, ms } = await runCaseInChild(dir, c, { killMiB: KILL_MIB, timeoutMs: TIMEOUT_MS });
    const bad = 'untyped' in outcome || 'killed' in outcome || peakMiB > LIMIT_MIB;
    if (bad) failed++;
    console.log(
      `${c.case.padEnd(44)} ${peakMiB.toFixed(0).padStart(8)} ${ms.toFixed(0).padStart(7)}  ${shown(outcome).slice(0, 120)}` +
        `${meets(outcome, c.expect) ? '' : '  MISMATCH'}${bad ? '  FAIL' : ''}`,
    );
  }
  console.log(
    `${cases.length} cases; ${failed === 0 ? `none untyped or over ${LIMIT_MIB} MiB` : `${failed} untyped, killed or over ${LIMIT_MIB} MiB`}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
process.exit(failed === 0 ? 0 : 1);
