/**
 * Question: at python-threatexchange's default thresholds, does each rendition of a sample clip
 * match its siblings and no other clip, hashed as a deployment hashes? Hashes the 14 clips of
 * ../shared/reference/vpdq, the list side every frame and the upload side one frame a second,
 * both also inside their black bars (`trim`); lists each as one vPDQ entry holding both frame
 * sets, matches each upload against the list by either set (src/testing/vpdq-matrix.ts) and
 * prints the matrix of shares (query% / listed%) as a markdown table for docs/video.md, the
 * sibling pairs that still do not match, and the margin to a cross-clip match; exits 1 when a
 * clip matches another clip or the index and the brute force disagree.
 *
 * Run: npx tsx bench/vpdq-matrix.ts [reference folder, default ../shared/reference/vpdq]
 *        [list secondsPerHash, default 0] [upload secondsPerHash, default 1] [trim: 1 (default) or 0]
 */
import { hasShared } from '../src/testing/shared.js';
import { VPDQ_REFERENCE, vpdqReference } from '../src/testing/vpdq-conformance.js';
import {
  crossClipMargin,
  DEPLOYMENT_SETUP,
  matrixProblems,
  siblingMisses,
  vpdqMatrix,
} from '../src/testing/vpdq-matrix.js';

const given = process.argv[2] || undefined;
const setup = {
  ...DEPLOYMENT_SETUP,
  listSecondsPerHash: Number(process.argv[3] ?? DEPLOYMENT_SETUP.listSecondsPerHash),
  querySecondsPerHash: Number(process.argv[4] ?? DEPLOYMENT_SETUP.querySecondsPerHash),
  trim: (process.argv[5] ?? '1') !== '0',
};
if (given === undefined && !hasShared(...VPDQ_REFERENCE)) process.exit(0);
const started = performance.now();
const matrix = await vpdqMatrix(vpdqReference(given), setup);
const seconds = ((performance.now() - started) / 1000).toFixed(1);

// Columns are the listed clips, numbered as the rows; a cell is query share / listed share, bold when matched.
console.log(
  `| # | upload ↓ / listed → (upload frames, listed frames) | ${matrix.clips.map((_, i) => i + 1).join(' | ')} |`,
);
console.log(`|---|---|${matrix.clips.map(() => '---').join('|')}|`);
matrix.cells.forEach((row, q) => {
  const cells = row.map((c) => {
    const text = `${Math.round(c.queryMatchPercent)}/${Math.round(c.listedMatchPercent)}`;
    return c.matched ? `**${text}**` : text;
  });
  const counts = `${matrix.queryFrames[q]}, ${matrix.listedFrames[q]}`;
  console.log(`| ${q + 1} | ${matrix.clips[q]} (${counts}) | ${cells.join(' | ')} |`);
});
const problems = matrixProblems(matrix);
const misses = siblingMisses(matrix);
const margin = crossClipMargin(matrix);
console.log(
  `\n${matrix.clips.length} clips hashed and matched in ${seconds} s: list secondsPerHash ${setup.listSecondsPerHash}, upload ${setup.querySecondsPerHash}, trim ${setup.trim}`,
);
console.log(`clips with black bars (a trimmed frame set): ${matrix.barred.join(', ') || 'none'}`);
console.log(
  `cross-clip margin: highest upload share ${margin.maxQueryMatchPercent.toFixed(1)}%, nearest frames ${margin.minDistance} bits apart`,
);
console.log(`${problems.length} problems (a clip matching another clip, or index ≠ brute force)`);
for (const p of problems) console.log(`- ${p}`);
console.log(`${misses.length} sibling pairs not matched:`);
for (const m of misses) console.log(`- ${m}`);
if (problems.length > 0) process.exitCode = 1;
