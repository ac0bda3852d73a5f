/**
 * Question: at python-threatexchange's default thresholds, does each rendition of a sample clip
 * match its siblings and no other clip? Hashes the 14 clips of ../shared/reference/vpdq with
 * `hashVideo`'s defaults (one frame a second), lists each as one vPDQ entry, matches each against
 * the list (src/testing/vpdq-matrix.ts) and prints the matrix of shares (query% / listed%) as a
 * markdown table for docs/video.md; exits 1 when the rule breaks.
 *
 * Run: npx tsx bench/vpdq-matrix.ts [reference folder, default ../shared/reference/vpdq] [secondsPerHash, default 1]
 */
import { hasShared } from '../src/testing/shared.js';
import { VPDQ_REFERENCE, vpdqReference } from '../src/testing/vpdq-conformance.js';
import { matrixProblems, siblingMisses, vpdqMatrix } from '../src/testing/vpdq-matrix.js';

const given = process.argv[2] || undefined;
const secondsPerHash = Number(process.argv[3] ?? 1);
if (given === undefined && !hasShared(...VPDQ_REFERENCE)) process.exit(0);
const started = performance.now();
const matrix = await vpdqMatrix(vpdqReference(given), secondsPerHash);
const seconds = ((performance.now() - started) / 1000).toFixed(1);

// Columns are the listed clips, numbered as the rows; a cell is query share / listed share, bold when matched.
console.log(`| # | query ↓ / listed → (frames) | ${matrix.clips.map((_, i) => i + 1).join(' | ')} |`);
console.log(`|---|---|${matrix.clips.map(() => '---').join('|')}|`);
matrix.cells.forEach((row, q) => {
  const cells = row.map((c) => {
    const text = `${Math.round(c.queryMatchPercent)}/${Math.round(c.listedMatchPercent)}`;
    return c.matched ? `**${text}**` : text;
  });
  console.log(`| ${q + 1} | ${matrix.clips[q]} (${matrix.frames[q]}) | ${cells.join(' | ')} |`);
});
const problems = matrixProblems(matrix);
const misses = siblingMisses(matrix);
console.log(`\n${matrix.clips.length} clips (secondsPerHash ${secondsPerHash}) hashed and matched in ${seconds} s`);
console.log(`${problems.length} problems (a clip matching another clip, or index ≠ brute force)`);
for (const p of problems) console.log(`- ${p}`);
console.log(`${misses.length} sibling pairs not matched:`);
for (const m of misses) console.log(`- ${m}`);
if (problems.length > 0) process.exitCode = 1;
