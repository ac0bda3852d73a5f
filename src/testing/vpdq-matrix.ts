/**
 * The vPDQ matching matrix of issue 24: every sample clip of ../shared/reference/vpdq hashed as a
 * list would hash it (`hashVideo`'s defaults: one frame a second, native size), listed as one
 * entry each, and each clip matched against the list at python-threatexchange's defaults. Each
 * rendition of one clip (the clip's name up to its first `-`: chair, pattern, doorknob) must
 * match its siblings and no other clip. Shared by bench/vpdq-matrix.ts (the table in
 * docs/video.md) and src/video/matrix.test.ts.
 */
import { join } from 'node:path';
import { hammingDistance, parseHex } from '../algorithms/hex.js';
import { hashVideo } from '../video/hash.js';
import type { VpdqFeature } from '../algorithms/vpdq.js';
import { matchVpdqBrute, prepareVpdqFrames, VpdqIndex } from '../search/vpdq.js';
import { vpdqClips } from './vpdq-conformance.js';

/** One query clip against one listed clip. */
export interface MatrixCell {
  readonly query: string;
  readonly listed: string;
  /** The two shares, percent, from the brute-force reference (every pair of frames). */
  readonly queryMatchPercent: number;
  readonly listedMatchPercent: number;
  /** Whether the index, at pytx's default thresholds, reported the listed clip. */
  readonly matched: boolean;
  /** Median over the query's frames (quality ≥ 50, unique) of the distance to the nearest listed frame. */
  readonly medianNearest: number;
}

/** The matrix: clips in name order, `cells[q][l]` the query `clips[q]` against the listed `clips[l]`. */
export interface VpdqMatrix {
  readonly clips: readonly string[];
  /** Frames hashed per clip, and of those unique with quality ≥ 50 (what matching counts). */
  readonly frames: readonly number[];
  readonly cells: readonly (readonly MatrixCell[])[];
}

/** The clip a rendition is of: its name up to the first `-` (`chair-22-sd-grey-bar` → `chair`). */
export function clipFamily(clip: string): string {
  return clip.split('-')[0] as string;
}

/** Median over `query`'s prepared frames of the distance to the nearest of `listed`'s (256 when either has none). */
function medianNearest(query: readonly VpdqFeature[], listed: readonly VpdqFeature[]): number {
  const l = prepareVpdqFrames(listed).map((f) => parseHex(f.hash, 32, 'vpdq'));
  const nearest = prepareVpdqFrames(query)
    .map((f) => parseHex(f.hash, 32, 'vpdq'))
    .map((q) => Math.min(256, ...l.map((x) => hammingDistance(q, x))))
    .sort((a, b) => a - b);
  return nearest.length === 0 ? 256 : (nearest[Math.floor((nearest.length - 1) / 2)] as number);
}

/**
 * Hashes every sample clip of the reference folder `root` (every `secondsPerHash`, default 1 as a
 * list would be hashed) and matches each against all.
 */
export async function vpdqMatrix(root: string, secondsPerHash = 1): Promise<VpdqMatrix> {
  const clips = vpdqClips(root);
  const hashed: VpdqFeature[][] = [];
  for (const clip of clips)
    hashed.push([...(await hashVideo(join(root, 'videos', `${clip}.mp4`), { secondsPerHash })).frames]);
  const index = VpdqIndex.fromEntries(clips.map((clip, i) => ({ list: 'samples', id: clip, hash: hashed[i] ?? [] })));
  const cells = clips.map((query, q) => {
    const reported = new Set(index.match(hashed[q] ?? []).map((m) => m.entryId));
    return clips.map((listed, l) => ({
      query,
      listed,
      ...matchVpdqBrute(hashed[q] ?? [], hashed[l] ?? []),
      matched: reported.has(listed),
      medianNearest: medianNearest(hashed[q] ?? [], hashed[l] ?? []),
    }));
  });
  return { clips, frames: hashed.map((f) => f.length), cells };
}

/**
 * What must never happen: a clip matching a different clip (a false positive), or the index's
 * decision disagreeing with the brute-force shares at pytx's defaults (≥ 80% of the query). Empty
 * when the matrix holds.
 */
export function matrixProblems(matrix: VpdqMatrix): string[] {
  const problems: string[] = [];
  for (const cell of matrix.cells.flat()) {
    if (cell.matched && clipFamily(cell.query) !== clipFamily(cell.listed))
      problems.push(`${cell.query} matches ${cell.listed}, another clip (${shares(cell)})`);
    if (cell.matched !== cell.queryMatchPercent >= 80)
      problems.push(`${cell.query} × ${cell.listed}: the index and the brute force disagree`);
  }
  return problems;
}

/** The sibling pairs that do not match (renditions of one clip too far apart), with their shares. */
export function siblingMisses(matrix: VpdqMatrix): string[] {
  return matrix.cells
    .flat()
    .filter((c) => !c.matched && clipFamily(c.query) === clipFamily(c.listed))
    .map((c) => `${c.query} × ${c.listed}: ${shares(c)}, median nearest-frame distance ${c.medianNearest}`);
}

function shares(cell: MatrixCell): string {
  return `${cell.queryMatchPercent.toFixed(1)}% / ${cell.listedMatchPercent.toFixed(1)}%`;
}
