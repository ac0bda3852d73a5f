/**
 * Question: does `hashVideo` give Meta's vPDQ frame hashes? Hashes every sample clip of
 * ../shared/reference/vpdq every frame (secondsPerHash 0), at native size and at 128 × 128, and
 * compares frame by frame with the published `vpdq-hash-video` output (src/testing/vpdq-conformance.ts:
 * Meta's regtest rule, both qualities ≥ 50 within 31 bits). Prints a markdown table for
 * docs/video.md; exits 1 when a judged frame is beyond 31 bits.
 *
 * Run: npx tsx bench/vpdq-conformance.ts [reference folder, default ../shared/reference/vpdq]
 */
import { execFileSync } from 'node:child_process';
import { hasShared } from '../src/testing/shared.js';
import {
  conformance,
  type ConformanceRow,
  VPDQ_REFERENCE,
  vpdqClips,
  vpdqReference,
} from '../src/testing/vpdq-conformance.js';

// The reference folder: an argument (a checkout without ../shared beside it), else ../shared's.
const given = process.argv[2];
if (given === undefined && !hasShared(...VPDQ_REFERENCE)) process.exit(0);
const root = vpdqReference(given);

const percent = (part: number, whole: number): string => (whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)}%`);

const version = execFileSync(process.env.HASHWARDEN_FFMPEG ?? 'ffmpeg', ['-version'], { encoding: 'utf8' }).split(
  '\n',
)[0];
console.log(`${version}; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}\n`);
console.log(
  '| clip | size | frames (ours/ref) | judged | ≤ 31 bits | ≤ 10 bits (all) | mean (all) | mean (judged) | max (judged) | quality differs |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
let failed = 0;
const totals = { judged: 0, conforming: 0, compared: 0, near: 0 };
for (const clip of vpdqClips(root)) {
  for (const size of [0, 128] as const) {
    const row: ConformanceRow | undefined = await conformance(root, clip, size);
    if (row === undefined) continue;
    failed += row.judged - row.conforming;
    totals.judged += row.judged;
    totals.conforming += row.conforming;
    totals.compared += row.compared;
    totals.near += row.near;
    console.log(
      `| ${row.clip} | ${row.size} | ${row.ours}/${row.reference} | ${row.judged} | ${percent(row.conforming, row.judged)} | ` +
        `${percent(row.near, row.compared)} | ${row.meanDistance.toFixed(2)} | ${row.meanJudged.toFixed(2)} | ${row.maxJudged} | ${row.qualityDiffers} |`,
    );
  }
}
console.log(
  `\nAll: ${totals.conforming}/${totals.judged} judged frames within 31 bits (${percent(totals.conforming, totals.judged)}), ` +
    `${percent(totals.near, totals.compared)} of ${totals.compared} compared within 10 bits.`,
);
process.exit(failed === 0 ? 0 : 1);
