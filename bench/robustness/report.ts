/**
 * Turns the robustness benchmark's histograms into docs/thresholds.md (tables users can pick a
 * threshold from) and docs/thresholds.json (the histograms themselves), and into the summary
 * lines the benchmark prints.
 */
import { writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EditGroup } from './edits.js';
import { ALGORITHMS, type Histogram, groupHistogram, type Algorithm, type Report } from './measure.js';
import { drawPictures } from './pictures.js';

const NAMES: Record<Algorithm, string> = { pdq: 'PDQ', blockhash: 'blockhash' };
const GROUPS: readonly EditGroup[] = ['mild', 'crop', 'dihedral', 'hard'];

type Mode = 'plain' | 'dihedral' | 'referencePlain' | 'referenceDihedral';

const pct = (x: number): string => (Number.isNaN(x) ? '–' : `${(100 * x).toFixed(x === 1 || x === 0 ? 0 : 1)}%`);
const count = (x: number): string => x.toLocaleString('en-US');

function thresholds(report: Report, a: Algorithm): number[] {
  const set = new Set<number>([
    0,
    2,
    4,
    6,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    16,
    20,
    24,
    28,
    31,
    32,
    36,
    40,
    48,
    56,
    64,
    report.defaults[a],
  ]);
  return [...set].filter((t) => t <= report.maxThreshold).sort((x, y) => x - y);
}

/** The summary line of one algorithm at its default threshold. */
function summary(report: Report, a: Algorithm): string {
  const t = report.defaults[a];
  const fp = report.pool.unrelated[a].dihedral;
  const fpPlain = report.pool.unrelated[a].plain;
  return `${NAMES[a]} at its default ${t}: mild edits ${pct(groupHistogram(report.edits, a, 'mild', 'dihedral').rate(t))}, flips and quarter turns ${pct(groupHistogram(report.edits, a, 'dihedral', 'dihedral').rate(t))} (on; off: ${pct(groupHistogram(report.edits, a, 'dihedral', 'plain').rate(t))}), crops ${pct(groupHistogram(report.edits, a, 'crop', 'dihedral').rate(t))}; false positives ${count(fp.within(t))} of ${count(fp.total)} unrelated pairs with matching on (${count(fpPlain.within(t))} off); nearest unrelated pair ${fp.min ?? '–'} bits (${fpPlain.min ?? '–'} off)`;
}

/** The targets issue 5 set for the mild group at the defaults. */
const TARGETS: Record<Algorithm, number> = { pdq: 0.99, blockhash: 0.97 };

/** The smallest threshold at which `h` reaches `rate`, or null. */
function reaches(h: Histogram, rate: number, max: number): number | null {
  for (let t = 0; t <= max; t++) if (h.rate(t) >= rate) return t;
  return null;
}

/** Upper 95% bound on a rate of which 0 of `n` were seen (the "rule of three"). */
const zeroBound = (n: number): string => `${((3 / n) * 1e6).toFixed(1)} per million`;

/**
 * Why each default is what it is, in the run's own numbers: the reasons are the constants' (their
 * comments in src/algorithms say the same), the figures are this run's.
 */
function rationale(report: Report): string[] {
  const md: string[] = [];
  const t = report.defaults;
  const mild = (a: Algorithm) => groupHistogram(report.edits, a, 'mild', 'dihedral');
  const turns = (a: Algorithm, mode: 'plain' | 'dihedral') => groupHistogram(report.edits, a, 'dihedral', mode);
  const u = report.pool.unrelated;
  const fpAt = (a: Algorithm, mode: 'plain' | 'trimmed' | 'dihedral', x: number) => count(u[a][mode].within(x));
  const nearest = (a: Algorithm) => u[a].dihedral.min ?? report.maxThreshold + 1;
  const lastClean = (a: Algorithm) => Math.min(nearest(a) - 1, report.maxThreshold);
  // The edited copies of the mild group a higher threshold would add, by edit, most first.
  const gained = (a: Algorithm, from: number, to: number): string => {
    const byEdit = report.edits
      .filter((e) => e.group === 'mild')
      .map((e) => ({
        name: e.name,
        n: Math.round((e.stats[a].dihedral.rate(to) - e.stats[a].dihedral.rate(from)) * e.stats[a].dihedral.total),
      }))
      .filter((e) => e.n > 0)
      .sort((x, y) => y.n - x.n);
    const total = byEdit.reduce((sum, e) => sum + e.n, 0);
    return `${total} of ${count(mild(a).total)} edited copies (${byEdit.map((e) => `${e.name} ${e.n}`).join(', ')})`;
  };
  md.push('## The defaults, and why');
  md.push('');
  md.push(
    `A default threshold is the one a list gets when nobody chose. It must first not block innocent uploads, then catch as much as it can. Zero false pairs in a pool this size bounds the rate only below about ${zeroBound(u.pdq.dihedral.total)} (95% confidence), while a platform comparing a million uploads a day with a million-entry list makes 10¹² comparisons a day: what protects it is the distance between the threshold and the nearest unrelated pairs, so that distance (the margin) counts as much as the zero.`,
  );
  md.push('');
  const p99 = reaches(mild('pdq'), TARGETS.pdq, report.maxThreshold);
  // The measured growth of the unrelated tail: the share of unrelated pairs within 90 bits against within 80.
  const tail =
    u.pdq.dihedral.within(80) > 0 ? (u.pdq.dihedral.within(90) / u.pdq.dihedral.within(80)) ** (1 / 10) : Number.NaN;
  md.push(
    `- **PDQ: ${t.pdq}** (\`PDQ_DEFAULT_THRESHOLD\`), Meta's recommendation for a confident match, which python-threatexchange and the programmes that share PDQ hashes apply. At ${t.pdq}: mild edits ${pct(mild('pdq').rate(t.pdq))}, flips and turns ${pct(turns('pdq', 'dihedral').rate(t.pdq))}; false pairs ${fpAt('pdq', 'dihedral', t.pdq)} of ${count(u.pdq.dihedral.total)}; the nearest unrelated pair is ${nearest('pdq')} bits apart, a margin of ${nearest('pdq') - t.pdq} bits. ${p99 === null ? `The mild group does not reach ${pct(TARGETS.pdq)} at any threshold.` : `The mild group first reaches ${pct(TARGETS.pdq)} at ${p99} (${fpAt('pdq', 'dihedral', p99)} false pairs here) and ${t.pdq} is kept: the gain would be ${gained('pdq', t.pdq, p99)}; in the measured part of the unrelated tail (80 to 90 bits) each added bit let in ${Number.isNaN(tail) ? '–' : `${Math.round((tail - 1) * 100)}%`} more pairs, so if the tail keeps that slope ${p99} would admit about ${Number.isNaN(tail) ? '–' : (tail ** (p99 - t.pdq)).toFixed(1)} times as many false matches as ${t.pdq} at a scale this pool cannot show; and a list matched at ${t.pdq} elsewhere gives the same answers here. A list that wants the recall sets its own threshold (${p99} or more).`}`,
  );
  const b97 = reaches(mild('blockhash'), TARGETS.blockhash, report.maxThreshold);
  md.push(
    `- **blockhash: ${t.blockhash}** (\`BLOCKHASH_DEFAULT_THRESHOLD\`): no unrelated pair matches up to ${lastClean('blockhash')}, turned and trimmed copies searched, and ${t.blockhash} keeps ${nearest('blockhash') - t.blockhash} bits between the threshold and the nearest unrelated pair (${nearest('blockhash')} bits apart). At ${t.blockhash}: mild edits ${pct(mild('blockhash').rate(t.blockhash))}, flips and turns ${pct(turns('blockhash', 'dihedral').rate(t.blockhash))}. ${b97 === null ? `The mild group does not reach ${pct(TARGETS.blockhash)} at any threshold.` : `The mild group first reaches ${pct(TARGETS.blockhash)} at ${b97}, where ${fpAt('blockhash', 'dihedral', b97)} unrelated pairs match (${fpAt('blockhash', 'plain', b97)} with the upload's own hash alone); the gain would be ${gained('blockhash', t.blockhash, b97)}.`} Blockhash's misses are colour edits: it thresholds the mean of R + G + B per block against its band's median, so greyscale (which weighs green about ten times blue, where R + G + B weighs them alike), saturation, brightness and contrast move blocks across the median; PDQ, which works on luma and on frequencies, keeps them. Blockhash is for lists that only have blockhashes; where a list has PDQ, PDQ is the one to trust.`,
  );
  md.push(
    `- **Turned, mirrored and trimmed copies searched by default** (\`matchImage\`'s \`dihedral\` and \`trim\`, on): at the default thresholds, unrelated pairs matched with the upload's own hash only / with trimming / with everything: PDQ ${fpAt('pdq', 'plain', t.pdq)} / ${fpAt('pdq', 'trimmed', t.pdq)} / ${fpAt('pdq', 'dihedral', t.pdq)}, blockhash ${fpAt('blockhash', 'plain', t.blockhash)} / ${fpAt('blockhash', 'trimmed', t.blockhash)} / ${fpAt('blockhash', 'dihedral', t.blockhash)}; two bits above, blockhash ${fpAt('blockhash', 'plain', t.blockhash + 2)} / ${fpAt('blockhash', 'trimmed', t.blockhash + 2)} / ${fpAt('blockhash', 'dihedral', t.blockhash + 2)}. What they buy: flips and turns from ${pct(turns('pdq', 'plain').rate(t.pdq))} to ${pct(turns('pdq', 'dihedral').rate(t.pdq))} (PDQ) and ${pct(turns('blockhash', 'plain').rate(t.blockhash))} to ${pct(turns('blockhash', 'dihedral').rate(t.blockhash))} (blockhash), a 10% letterbox from ${pct(report.edits.find((e) => e.name === 'letterbox-10')?.stats.pdq.plain.rate(t.pdq) ?? Number.NaN)} to ${pct(report.edits.find((e) => e.name === 'letterbox-10')?.stats.pdq.dihedral.rate(t.pdq) ?? Number.NaN)} (PDQ). The nearest unrelated pair moves from ${u.pdq.plain.min ?? '–'} to ${u.pdq.dihedral.min ?? '–'} bits (PDQ) and from ${u.blockhash.plain.min ?? '–'} to ${u.blockhash.dihedral.min ?? '–'} (blockhash): the 16 queries bring unrelated images closer, which the margins above already count.`,
  );
  md.push(
    `- **The guards** refuse what a hash cannot tell apart, and say so (\`unusable\`): PDQ quality below 50; a blockhash whose block means are flat or a smooth shading, or whose bits form a plain layout (fewer than 48 of the 480 pairs of neighbouring blocks differ: a dark part beside a bright one, shared by every image so laid out); any image under 16 pixels a side. Refused in this run, all guards together: PDQ ${report.pool.refused.pdq} and blockhash ${report.pool.refused.blockhash} of ${count(report.pool.tiles)} tiles, ${report.photos - report.listed.pdq} and ${report.photos - report.listed.blockhash} of ${report.photos} photos. Each turned hash is judged on its own, so a photo whose layout is plain upright but not sideways is still found sideways.`,
  );
  md.push('');
  return md;
}

/** Writes `out` (markdown) and its `.json`; returns the summary lines. */
export async function writeReport(report: Report, out: string): Promise<string[]> {
  const pictures = await drawPictures(report, dirname(out));
  const lines = ALGORITHMS.map(
    (a) =>
      `${summary(report, a)}; low-information images matching: ${report.lowInformation.find((l) => l.algorithm === a)?.matches ?? '–'}`,
  );
  const md: string[] = [];
  md.push('# Thresholds: what matches, what does not');
  md.push('');
  md.push(
    `Generated by \`${report.command}\` (bench/robustness/) — ${report.environment}; ${report.photos} photos from \`${report.photoDir}\`, ${report.seconds.toFixed(0)} s. Do not edit by hand: run it again.`,
  );
  md.push('');
  md.push(
    'Every photo is a listed original; each edit of it is an upload. A threshold *t* matches every pair at distance ≤ *t* (of 256 bits). Uploads are hashed by `hashImage` at the library\'s defaults, as `matchImage` hashes them; "on" searches what `matchImage` searches by default: the upload\'s 8 hashes (turned and mirrored) and, when the upload has a uniform border (letterbox, pillarbox, frame, padding), the 8 of what lies inside it; "off" searches the upload\'s own hash only. An upload whose hash is refused (PDQ quality below 50; for blockhash a flat image, a smooth shading or a plain layout; each turned hash judged on its own) or that does not decode counts as a miss. Originals whose own hash is refused are not listed.',
  );
  md.push('');
  md.push(
    `Listed originals: PDQ ${report.listed.pdq}, blockhash ${report.listed.blockhash} of ${report.photos}. Unrelated pairs: the ${count(report.pool.tiles)} non-overlapping tiles of a 4 × 5 grid over each photo (${count(report.pool.hashed)} decoded; refused for low quality or information: PDQ ${report.pool.refused.pdq}, blockhash ${report.pool.refused.blockhash}), every pair of tiles from different photos, leaving out ${count(report.pool.excludedScenePairs)} pairs of photos of the same scene (\`near_duplicate_groups.json\`: one photo stored in 8 orientations, an HDR on/off pair). Pairs of tiles from the same photo are counted apart.`,
  );
  md.push('');
  md.push('## At the defaults');
  md.push('');
  for (const line of lines) md.push(`- ${line}.`);
  md.push('');
  md.push(
    '| algorithm | default | mild | crops | flips & quarter turns (off → on) | hard | false positives, on | pairs | nearest unrelated pair |',
  );
  md.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const a of ALGORITHMS) {
    const t = report.defaults[a];
    const fp = report.pool.unrelated[a].dihedral;
    md.push(
      `| ${NAMES[a]} | ${t} | ${pct(groupHistogram(report.edits, a, 'mild', 'dihedral').rate(t))} | ${pct(groupHistogram(report.edits, a, 'crop', 'dihedral').rate(t))} | ${pct(groupHistogram(report.edits, a, 'dihedral', 'plain').rate(t))} → ${pct(groupHistogram(report.edits, a, 'dihedral', 'dihedral').rate(t))} | ${pct(groupHistogram(report.edits, a, 'hard', 'dihedral').rate(t))} | ${count(fp.within(t))} (${pct(fp.rate(t))}) | ${count(fp.total)} | ${fp.min ?? '–'} |`,
    );
  }
  md.push('');
  if (pictures === null) {
    md.push("Pictures not drawn: install the benchmark's tools with `npm --prefix bench ci` and run again.");
  } else {
    md.push(...pictures.map((name) => `![${name.replace(/^thresholds-|\.svg$/g, '')}](${name})`));
  }
  md.push('');
  md.push(...rationale(report));
  md.push('## Each edit, at the defaults');
  md.push('');
  md.push(
    'True-positive rate: the share of listed originals whose edited copy matches. "Reference list": the originals hashed by the reference tools instead (PDQ: Meta\'s C++ hasher, `pdq-reference-cpp.csv`; blockhash: blockhash-core on a whole decode with sharp\'s defaults), the uploads still hashed by hashwarden, on.',
  );
  md.push('');
  md.push(
    '| edit | group | PDQ, off | PDQ, on | PDQ, reference list | blockhash, off | blockhash, on | blockhash, reference list |',
  );
  md.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const e of report.edits) {
    const cell = (a: Algorithm, mode: Mode) => pct(e.stats[a][mode].rate(report.defaults[a]));
    md.push(
      `| ${e.name}: ${e.description} | ${e.group} | ${cell('pdq', 'plain')} | ${cell('pdq', 'dihedral')} | ${cell('pdq', 'referenceDihedral')} | ${cell('blockhash', 'plain')} | ${cell('blockhash', 'dihedral')} | ${cell('blockhash', 'referenceDihedral')} |`,
    );
  }
  md.push('');
  for (const a of ALGORITHMS) {
    md.push(`## ${NAMES[a]}: choosing a threshold`);
    md.push('');
    md.push(
      'True-positive rate per edit group and false positives among unrelated pairs, on unless said ("trimmed": the upload\'s own hash and that of what its border frames, no turns).',
    );
    md.push('');
    md.push(
      '| threshold | mild | crops | flips & turns, off | flips & turns, on | hard | false pairs, off | false pairs, trimmed | false pairs, on | false-positive rate, on |',
    );
    md.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    const u = report.pool.unrelated[a];
    for (const t of thresholds(report, a)) {
      const mark = t === report.defaults[a] ? ` (default)` : '';
      md.push(
        `| ${t}${mark} | ${GROUPS.map((g) => (g === 'dihedral' ? `${pct(groupHistogram(report.edits, a, g, 'plain').rate(t))} | ${pct(groupHistogram(report.edits, a, g, 'dihedral').rate(t))}` : pct(groupHistogram(report.edits, a, g, 'dihedral').rate(t)))).join(' | ')} | ${count(u.plain.within(t))} | ${count(u.trimmed.within(t))} | ${count(u.dihedral.within(t))} | ${(u.dihedral.rate(t) * 1e6).toFixed(2)} per million |`,
      );
    }
    md.push('');
    const quantile = (h: Histogram, q: number): number => {
      const target = q * (h.total - h.missing);
      let seen = 0;
      for (let d = 0; d < h.counts.length; d++) {
        seen += h.counts[d] as number;
        if (seen >= target) return d;
      }
      return h.counts.length - 1;
    };
    md.push(
      `Distances between unrelated tiles (${count(u.plain.total)} pairs): least ${u.plain.min ?? '–'}, 0.01% below ${quantile(u.plain, 0.0001)}, 1% below ${quantile(u.plain, 0.01)}, median ${quantile(u.plain, 0.5)} bits; searched as \`matchImage\` does, least ${u.dihedral.min ?? '–'}, 0.01% below ${quantile(u.dihedral, 0.0001)}. Tiles of the same photo (${count(u.sameSource.total)} pairs): least ${u.sameSource.min ?? '–'}, median ${quantile(u.sameSource, 0.5)}.`,
    );
    md.push('');
  }
  md.push('## Low-information images');
  md.push('');
  md.push(
    'Flat colours, gradients and shadings, near-blank scans and tiny images, generated by `bench/robustness/low-information.ts` (seeded), and the photos whose own hash is refused. Each is searched as `matchImage` searches an upload, at the default threshold, against every other one and every listed original. The guards: PDQ quality below 50; for blockhash, block means spread below 1 grey level or within 4 of a smooth surface, or bits in a plain layout (under 48 neighbouring blocks differ); any image under 16 pixels a side.',
  );
  md.push('');
  md.push('| algorithm | kind: images (usable hash) | matches at the default |');
  md.push('|---|---|---:|');
  for (const row of report.lowInformation) {
    md.push(
      `| ${NAMES[row.algorithm]} | ${row.kinds.map((k) => `${k.kind}: ${k.images} (${k.usable})`).join('; ')} | ${row.matches}${row.examples.length > 0 ? ` (e.g. ${row.examples.join(', ')})` : ''} |`,
    );
  }
  md.push('');
  await writeFile(out, `${md.join('\n')}\n`);
  await writeFile(out.replace(/\.md$/, '.json'), `${JSON.stringify(report, null, 0)}\n`);
  return lines;
}
