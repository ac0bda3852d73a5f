/**
 * The pictures of docs/thresholds.md, drawn as SVG by Vega-Lite (headless, no browser): the
 * trade-off curve of each algorithm (mild edits matched against unrelated pairs matched, one point
 * per threshold), the share of each edit matched at the defaults, and the distances of unrelated
 * pairs against those of edited copies. Vega is a dependency of bench/ only
 * (`npm --prefix bench ci`); without it the tables are written and the pictures skipped.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALGORITHMS, groupHistogram, type Algorithm, type Report } from './measure.js';

interface Vega {
  View: new (runtime: unknown, options: { renderer: 'none' }) => { toSVG(): Promise<string> };
  parse(spec: unknown): unknown;
}
interface VegaLite {
  compile(spec: unknown): { spec: unknown };
}

const NAMES: Record<Algorithm, string> = { pdq: 'PDQ', blockhash: 'blockhash' };
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Vega and Vega-Lite from bench/node_modules, or null when they are not installed. */
async function load(): Promise<{ vega: Vega; vegaLite: VegaLite } | null> {
  // Named at run time: the library's typecheck does not see bench/'s own dependencies.
  const names = ['vega', 'vega-lite'];
  try {
    const [vega, vegaLite] = (await Promise.all(names.map((name) => import(name)))) as [Vega, VegaLite];
    return { vega, vegaLite };
  } catch {
    return null;
  }
}

/** The specifications, by file name. */
function specs(report: Report): Record<string, unknown> {
  const roc = ALGORITHMS.flatMap((a) => {
    const tp = groupHistogram(report.edits, a, 'mild', 'dihedral');
    const fp = report.pool.unrelated[a].dihedral;
    return Array.from({ length: report.maxThreshold + 1 }, (_, t) => ({
      algorithm: NAMES[a],
      threshold: t,
      tpr: tp.rate(t),
      fpr: fp.rate(t) * 1e6,
      isDefault: t === report.defaults[a],
    }));
  });
  const edits = report.edits.flatMap((e) =>
    ALGORITHMS.map((a) => ({
      edit: e.name,
      group: e.group,
      algorithm: NAMES[a],
      tpr: e.stats[a].dihedral.rate(report.defaults[a]),
    })),
  );
  const distances = ALGORITHMS.flatMap((a) => {
    const unrelated = report.pool.unrelated[a].plain;
    const edited = groupHistogram(report.edits, a, 'mild', 'plain');
    const rows: { algorithm: string; set: string; distance: number; share: number }[] = [];
    for (const [set, h] of [
      ['unrelated', unrelated],
      ['mild edit', edited],
    ] as const) {
      const compared = h.total - h.missing;
      for (let d = 0; d <= 256; d += 1)
        rows.push({
          algorithm: NAMES[a],
          set,
          distance: d,
          share: compared === 0 ? 0 : (h.counts[d] as number) / compared,
        });
    }
    return rows;
  });
  return {
    'thresholds-roc.svg': {
      $schema: SCHEMA,
      title: {
        text: 'Mild edits matched against unrelated pairs matched, thresholds 0–64',
        subtitle:
          'matching as matchImage does by default (turned, mirrored and trimmed copies searched); the larger point is the default',
      },
      data: { values: roc },
      width: 520,
      height: 320,
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: {
              field: 'fpr',
              type: 'quantitative',
              title: 'unrelated pairs matched, per million (symmetric log scale)',
              scale: { type: 'symlog', constant: 1 },
            },
            y: { field: 'tpr', type: 'quantitative', title: 'mild edits matched', axis: { format: '%' } },
            color: { field: 'algorithm', type: 'nominal' },
          },
        },
        {
          transform: [{ filter: 'datum.isDefault' }],
          mark: { type: 'point', size: 160, filled: true },
          encoding: {
            x: { field: 'fpr', type: 'quantitative', scale: { type: 'symlog', constant: 1 } },
            y: { field: 'tpr', type: 'quantitative' },
            color: { field: 'algorithm', type: 'nominal' },
          },
        },
      ],
    },
    'thresholds-edits.svg': {
      $schema: SCHEMA,
      title: {
        text: 'Share of each edit matched at the default thresholds',
        subtitle: `PDQ ${report.defaults.pdq}, blockhash ${report.defaults.blockhash}; matching as matchImage does by default`,
      },
      data: { values: edits },
      width: 420,
      mark: 'bar',
      encoding: {
        y: { field: 'edit', type: 'nominal', sort: null, title: null },
        yOffset: { field: 'algorithm', type: 'nominal' },
        x: { field: 'tpr', type: 'quantitative', title: 'matched', axis: { format: '%' }, scale: { domain: [0, 1] } },
        color: { field: 'algorithm', type: 'nominal' },
      },
    },
    'thresholds-distances.svg': {
      $schema: SCHEMA,
      title: {
        text: 'Distances between unrelated images and between mild edits and their originals',
        subtitle:
          'the hash as it is (no turned, mirrored or trimmed copies); share of each set of pairs at each distance',
      },
      data: { values: distances },
      facet: { row: { field: 'algorithm', type: 'nominal', title: null } },
      spec: {
        width: 520,
        height: 160,
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: {
            field: 'distance',
            type: 'quantitative',
            title: 'Hamming distance (bits of 256)',
            scale: { domain: [0, 256] },
          },
          y: { field: 'share', type: 'quantitative', title: 'share of pairs' },
          color: { field: 'set', type: 'nominal', title: null },
        },
      },
    },
  };
}

/** Draws the pictures into `dir`; returns their file names, or null when Vega is not installed. */
export async function drawPictures(report: Report, dir: string): Promise<string[] | null> {
  const libraries = await load();
  if (libraries === null) return null;
  const { vega, vegaLite } = libraries;
  const written: string[] = [];
  for (const [name, spec] of Object.entries(specs(report))) {
    const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
    await writeFile(join(dir, name), await view.toSVG());
    written.push(name);
  }
  return written;
}
